//! `glas incidents`: the incidents on the server's command line — the list
//! (`--status`, `--service`, `--overdue`, `--json`), one incident with its
//! mentions and history, a change made as `cli:USER`, and the KPI table of a
//! week or a month (text, JSON or XLSX like the regional ratings).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use clap::Subcommand;
use glas_incidents::{Actor, Change, Filter, IncidentError, Incidents, Status, kpi};

use crate::ops::Ctx;

#[derive(Debug, Subcommand)]
pub enum IncidentCmd {
    /// One incident: its facts, mentions and history.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Change an incident's status (as the account `cli:USER`).
    Set {
        id: i64,
        /// new, assigned, in_work, answered, resolved, postponed, rejected.
        #[arg(long)]
        status: String,
        #[arg(long)]
        comment: Option<String>,
        /// Why it is postponed or rejected (required for those).
        #[arg(long)]
        reason: Option<String>,
        /// When to come back to a postponed incident (YYYY-MM-DD).
        #[arg(long)]
        until: Option<NaiveDate>,
    },
    /// Key figures per service and topic, from the history alone: a week
    /// (2026-W48) or a month (2026-11); `--out FILE.xlsx` writes the table.
    Kpi {
        /// An ISO week, 2026-W48.
        #[arg(long, conflicts_with = "month")]
        week: Option<String>,
        /// A month, 2026-11.
        #[arg(long)]
        month: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "FILE.xlsx")]
        out: Option<PathBuf>,
    },
}

fn open(ctx: &Ctx) -> anyhow::Result<Incidents> {
    glas_app::incidents::open(ctx)?.ok_or_else(|| {
        crate::usage("the pipeline has no [incidents] or [[routing]]: incidents are off (see README, «Incidents»)")
    })
}

fn refused(e: IncidentError) -> anyhow::Error {
    match e {
        IncidentError::Invalid(_) | IncidentError::NotFound(_) | IncidentError::Forbidden(_) => {
            crate::usage(e.to_string())
        }
        other => anyhow::Error::new(other),
    }
}

pub fn run(
    ctx: &Ctx,
    cmd: Option<&IncidentCmd>,
    status: Option<&str>,
    service: Option<&str>,
    overdue: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let inc = open(ctx)?;
    let tz = ctx.tz();
    let when = |t: DateTime<Utc>| t.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string();
    let now = Utc::now();
    match cmd {
        None => {
            let status = match status {
                None => None,
                Some(s) => Some(Status::parse(s).ok_or_else(|| {
                    crate::usage(format!(
                        "unknown status {s:?} (new, assigned, in_work, answered, resolved, postponed, rejected)"
                    ))
                })?),
            };
            let filter = Filter { status, service: service.map(str::to_string), overdue, open: false };
            let list = inc.list(&filter, now).map_err(refused)?;
            if json {
                let items: Vec<serde_json::Value> = list
                    .iter()
                    .map(|i| {
                        let mut v = serde_json::to_value(i).unwrap_or_default();
                        v["overdue"] = serde_json::json!(i.overdue(now).map(|o| o.as_str()));
                        v
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else if list.is_empty() {
                println!("Инцидентов нет.");
            } else {
                for i in &list {
                    let late = i.overdue(now).map_or(String::new(), |o| format!("  ПРОСРОЧЕН: {}", o.label_ru()));
                    let public = if i.answered_publicly() { "  ответ опубликован" } else { "" };
                    println!(
                        "№{:<4} {:<40} {:<28} {:<10} с {}  публикаций: {}{public}{late}",
                        i.id,
                        i.title,
                        i.service,
                        i.status.label_ru(),
                        when(i.first_complaint_at),
                        i.mentions
                    );
                }
            }
        }
        Some(IncidentCmd::Show { id, json }) => {
            let i = inc.get(*id).map_err(refused)?.ok_or_else(|| refused(IncidentError::NotFound(*id)))?;
            let mentions = inc.mentions(*id).map_err(refused)?;
            let history = inc.history(Some(*id)).map_err(refused)?;
            if *json {
                let mut v = serde_json::to_value(&i)?;
                v["overdue"] = serde_json::json!(i.overdue(now).map(|o| o.as_str()));
                v["evidence"] = serde_json::to_value(&mentions)?;
                v["history"] = serde_json::to_value(&history)?;
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("Инцидент №{} — {}", i.id, i.title);
                println!(
                    "служба: {}; статус: {}; серьёзность: {}",
                    i.service,
                    i.status.label_ru(),
                    i.severity.as_str()
                );
                println!("первая жалоба: {}; последняя: {}", when(i.first_complaint_at), when(i.last_complaint_at));
                println!("срок реакции: {}; срок решения: {}", when(i.reaction_due), when(i.resolution_due));
                if let Some(o) = i.overdue(now) {
                    println!("ПРОСРОЧЕН: {}", o.label_ru());
                }
                if let (Some(u), Some(t)) = (&i.public_answer_url, i.public_answer_at) {
                    println!("публичный ответ: {} {u}", when(t));
                }
                println!("\nпубликации ({}):", mentions.len());
                for m in &mentions {
                    println!("  {} {} — {}", when(m.published_at), m.source, m.snippet);
                }
                println!("\nистория:");
                for h in &history {
                    let comment = h.comment.as_deref().map_or(String::new(), |c| format!(" — {c}"));
                    println!("  {} {:<12} {:<14} {}{comment}", when(h.at), h.who, h.action, h.status.label_ru());
                }
            }
        }
        Some(IncidentCmd::Set { id, status, comment, reason, until }) => {
            let to = Status::parse(status).ok_or_else(|| crate::usage(format!("unknown status {status:?}")))?;
            let who = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "?".into()));
            let change = Change::Status { to, comment: comment.clone(), reason: reason.clone(), until: *until };
            let i = inc.change(*id, &Actor { name: who, service: None }, &change, now).map_err(refused)?;
            println!("Инцидент №{} — {}: статус «{}».", i.id, i.title, i.status.label_ru());
        }
        Some(IncidentCmd::Kpi { week, month, json, out }) => {
            let (from, to, label) = period(week.as_deref(), month.as_deref(), tz, now)?;
            let history = inc.history(None).map_err(refused)?;
            let report = kpi::report(&history, from, to);
            if let Some(path) = out {
                let bytes = glas_report::xlsx::incident_kpis(&report, &label, &|c| inc.topic_name(c).to_string())
                    .context("cannot make the KPI table")?;
                glas_app::ops::write_atomic(path, &bytes)?;
                println!("KPI {label}: {}", crate::demo::display(path));
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else if out.is_none() {
                print_kpis(&report, &label, &|c| inc.topic_name(c).to_string());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `[from, to)` of a week or a month in the district's time (default: the
/// current month).
fn period(
    week: Option<&str>,
    month: Option<&str>,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>, String)> {
    let start = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")).earliest().map_or_else(
            || Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")),
            |t| t.with_timezone(&Utc),
        )
    };
    if let Some(w) = week {
        let wk = glas_report::IsoWeek::parse(w)
            .ok_or_else(|| crate::usage(format!("{w:?} is not a week such as 2026-W48")))?;
        let monday = wk.monday().expect("a parsed week has a Monday");
        return Ok((start(monday), start(monday + chrono::Duration::days(7)), wk.to_string()));
    }
    let first = match month {
        Some(m) => NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
            .map_err(|_| crate::usage(format!("{m:?} is not a month such as 2026-11")))?,
        None => {
            let today = now.with_timezone(&tz).date_naive();
            NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("a valid month")
        }
    };
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .expect("a valid month");
    Ok((start(first), start(next), first.format("%Y-%m").to_string()))
}

fn print_kpis(r: &kpi::Report, label: &str, topic: &dyn Fn(&str) -> String) {
    println!("Инциденты за {label}");
    let row = |k: &kpi::Kpi, name: &str| {
        let share = k.on_time_share().map_or("—".to_string(), |s| format!("{:.0} %", s * 100.0));
        let h = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.1} ч"));
        println!(
            "  {name:<30} новых {:>3}  решено {:>3}  открыто {:>3}  просрочено {:>3}  в срок {share:>5}  реакция {:>7}  решение {:>7}  повторов {:>2}  эскалаций {:>2}",
            k.new,
            k.resolved,
            k.open,
            k.overdue,
            h(k.median_reaction_hours),
            h(k.median_resolution_hours),
            k.repeats,
            k.escalations
        );
    };
    row(&r.total, "всего");
    println!("по службам:");
    for k in &r.by_service {
        row(k, &k.group);
    }
    println!("по темам:");
    for k in &r.by_topic {
        row(k, &topic(&k.group));
    }
}
