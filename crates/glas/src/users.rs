//! `glas user` and `glas token`: the workspace's accounts and API tokens,
//! managed on the server (the first administrator has no other way in).
//! Every change is written to the audit log as done by `cli:USER`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use glas_web::accounts::{AccountError, Accounts, Districts, Role};

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create an account. The password is asked for twice, or read from
    /// standard input with --password-stdin (one line).
    Add {
        name: String,
        /// viewer (the head: overview, episodes, reports), analyst (plus
        /// search, export, saved searches), admin (plus accounts, audit log),
        /// service (only its own incidents; needs --service).
        #[arg(long, value_parser = ["viewer", "analyst", "admin", "service"])]
        role: String,
        /// The service of a `service` account, as `[[routing]]` names it.
        #[arg(long)]
        service: Option<String>,
        /// The region's other districts its regional search covers (a
        /// workspace started with `glas serve --district`): their pipeline
        /// files' names separated by commas, `all`, or `none` (the default:
        /// this district only).
        #[arg(long, default_value = "none")]
        districts: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set the other districts an account's regional search covers
    /// (`all`, `none`, or names separated by commas); its sessions end.
    Districts { name: String, districts: String },
    /// List the accounts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account and end its sessions (it stays in the audit log).
    Disable { name: String },
    /// Set a new password and end the account's sessions.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create an API token; it is printed once and cannot be shown again.
    Create {
        name: String,
        #[arg(long, default_value = "analyst", value_parser = ["viewer", "analyst", "admin"])]
        role: String,
        /// As for `glas user add`: the other districts its regional search covers.
        #[arg(long, default_value = "none")]
        districts: String,
    },
    /// List the tokens (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: calls that send it are refused from now on.
    Revoke { name: String },
}

fn operator() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "?".into()))
}

/// Records a command run on the server that touched residents' personal
/// data (an export, an erasure) in the workspace's audit log, as `cli:USER`.
pub(crate) fn audit(data_dir: &Path, event: &str, detail: serde_json::Value) -> anyhow::Result<()> {
    open(data_dir)?.record(&operator(), event, detail, None);
    Ok(())
}

fn open(data_dir: &Path) -> anyhow::Result<Accounts> {
    Accounts::open(data_dir).with_context(|| format!("cannot open the accounts of '{}'", data_dir.display()))
}

/// Reads a password without showing it, or one line of standard input.
fn read_password(from_stdin: bool, confirm: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("no terminal to ask for the password: pass it on standard input with --password-stdin");
    }
    let first = prompt_hidden("Пароль: ")?;
    if confirm {
        let again = prompt_hidden("Пароль ещё раз: ")?;
        if first != again {
            anyhow::bail!("the two passwords differ; nothing was changed");
        }
    }
    Ok(first)
}

/// Asks on the terminal with echo off (restored also on error).
fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a terminal fd.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is standard input, checked to be a terminal by the caller.
    let have_tty = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if have_tty {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: the same fd and a termios derived from its own settings.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if have_tty {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
    eprintln!();
    read.context("cannot read the password")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// A stored scope (`none`, `all`, ids) as the listing shows it.
fn districts_ru(arg: &str) -> String {
    match arg {
        "none" => "только свой".into(),
        "all" => "все".into(),
        ids => ids.to_string(),
    }
}

fn role(s: &str) -> Role {
    Role::parse(s).expect("clap checked the role")
}

fn refused(e: AccountError) -> anyhow::Error {
    match e {
        AccountError::Invalid(_)
        | AccountError::Exists(_)
        | AccountError::NoSuchUser(_)
        | AccountError::TokenExists(_) => crate::usage(e.to_string()),
        other => anyhow::Error::new(other),
    }
}

/// The services of the pipeline's `[[routing]]`.
fn services(pipeline: &glas_core::Pipeline) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in pipeline.incidents.iter().flat_map(|i| &i.routing) {
        if !out.contains(&r.service) {
            out.push(r.service.clone());
        }
    }
    out
}

pub fn user(ctx: &crate::ops::Ctx, cmd: &UserCmd) -> anyhow::Result<ExitCode> {
    let accounts = open(&ctx.data_dir)?;
    match cmd {
        UserCmd::Add { name, role: r, service, districts, password_stdin } => {
            glas_web::accounts::check_name(name).map_err(refused)?;
            let districts = Districts::parse(districts).map_err(refused)?;
            if role(r) < Role::Analyst && districts != Districts::Home {
                return Err(crate::usage(format!(
                    "only analysts and administrators search: --districts is not for a {r} account"
                )));
            }
            let service = match (role(r), service) {
                (Role::Service, None) => {
                    return Err(crate::usage("a service account needs --service NAME (a service of [[routing]])"));
                }
                (Role::Service, Some(s)) => {
                    let known = services(&ctx.pipeline);
                    if !known.contains(s) {
                        return Err(crate::usage(format!(
                            "no service {s:?} in the pipeline's [[routing]] (services: {})",
                            if known.is_empty() { "none".to_string() } else { known.join(", ") }
                        )));
                    }
                    Some(s.as_str())
                }
                (_, Some(_)) => return Err(crate::usage("--service is for accounts of the service role")),
                (_, None) => None,
            };
            let password = read_password(*password_stdin, true)?;
            match service {
                Some(s) => accounts.add_service_user(name, s, &password),
                None => accounts.add_user_covering(name, role(r), &password, &districts),
            }
            .map_err(refused)?;
            accounts.record(
                &operator(),
                "user_added",
                serde_json::json!({"name": name, "role": r, "service": service, "districts": districts.as_arg()}),
                None,
            );
            match service {
                Some(s) => println!("Учётная запись «{name}» (служба «{s}») создана."),
                None => println!("Учётная запись «{name}» ({}) создана.", role(r).label_ru()),
            }
        }
        UserCmd::List { json } => {
            let users = accounts.users()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else if users.is_empty() {
                println!("Учётных записей нет. Первая: glas user add ИМЯ --role admin");
            } else {
                for u in users {
                    let r = Role::parse(&u.role).map_or(u.role.as_str(), |r| r.label_ru());
                    let state = if u.disabled { "отключена" } else { "действует" };
                    let last = u.last_login.as_deref().unwrap_or("не входил(а)");
                    let r = match &u.service {
                        Some(s) => format!("{r} «{s}»"),
                        None => r.to_string(),
                    };
                    println!(
                        "{:<24} {:<14} {:<10} округа: {:<16} последний вход: {last}",
                        u.name,
                        r,
                        state,
                        districts_ru(&u.districts)
                    );
                }
            }
        }
        UserCmd::Districts { name, districts } => {
            let districts = Districts::parse(districts).map_err(refused)?;
            let user = accounts.users()?.into_iter().find(|u| &u.name == name);
            match user {
                None => return Err(refused(AccountError::NoSuchUser(name.clone()))),
                Some(u) if Role::parse(&u.role).is_some_and(|r| r < Role::Analyst) && districts != Districts::Home => {
                    return Err(crate::usage(
                        "only analysts and administrators search: a service or viewer account covers no districts",
                    ));
                }
                Some(_) => {}
            }
            accounts.set_districts(name, &districts).map_err(refused)?;
            accounts.record(
                &operator(),
                "user_districts_changed",
                serde_json::json!({"name": name, "districts": districts.as_arg()}),
                None,
            );
            println!("Поиск по региону для «{name}»: {}. Её сеансы завершены.", districts_ru(&districts.as_arg()));
        }
        UserCmd::Disable { name } => {
            accounts.disable(name).map_err(refused)?;
            accounts.record(&operator(), "user_disabled", serde_json::json!({"name": name}), None);
            println!("Учётная запись «{name}» отключена, её сеансы завершены.");
        }
        UserCmd::Passwd { name, password_stdin } => {
            if !accounts.users()?.iter().any(|u| &u.name == name) {
                return Err(refused(AccountError::NoSuchUser(name.clone())));
            }
            let password = read_password(*password_stdin, true)?;
            accounts.set_password(name, &password).map_err(refused)?;
            accounts.record(&operator(), "password_changed", serde_json::json!({"name": name}), None);
            println!("Пароль «{name}» сменён, её сеансы завершены.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn token(data_dir: &Path, cmd: &TokenCmd) -> anyhow::Result<ExitCode> {
    let accounts = open(data_dir)?;
    match cmd {
        TokenCmd::Create { name, role: r, districts } => {
            let districts = Districts::parse(districts).map_err(refused)?;
            let secret = accounts.create_token_covering(name, role(r), &districts).map_err(refused)?;
            accounts.record(
                &operator(),
                "token_created",
                serde_json::json!({"name": name, "role": r, "districts": districts.as_arg()}),
                None,
            );
            eprintln!("Токен «{name}» ({}) создан. Он показан один раз: сохраните его.", role(r).label_ru());
            println!("{secret}");
        }
        TokenCmd::List { json } => {
            let tokens = accounts.tokens()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                for t in tokens {
                    let r = Role::parse(&t.role).map_or(t.role.as_str(), |r| r.label_ru());
                    println!(
                        "{:<24} {:<14} {} {} округа: {}",
                        t.name,
                        r,
                        t.created,
                        if t.revoked { "отозван" } else { "действует" },
                        districts_ru(&t.districts)
                    );
                }
            }
        }
        TokenCmd::Revoke { name } => {
            if !accounts.revoke_token(name)? {
                return Err(crate::usage(format!("no token named {name:?}")));
            }
            accounts.record(&operator(), "token_revoked", serde_json::json!({"name": name}), None);
            println!("Токен «{name}» отозван.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
