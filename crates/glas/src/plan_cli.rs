//! `glas plan`: the media plan — imported from the press office's CSV or
//! XLSX, listed, and held against what the own channels published.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{Duration, NaiveDate, Utc};
use clap::Subcommand;

use crate::ops::Ctx;

#[derive(Debug, Subcommand)]
pub enum PlanCmd {
    /// Import a plan (.csv or .xlsx): its rows replace those planned on the
    /// days it covers. A file with any bad row imports nothing.
    Import { file: PathBuf },
    /// The plan of a week (default: this week).
    List {
        #[arg(long)]
        week: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The plan of a week against the own channels: published, late,
    /// missing, upcoming, and what was published without a plan.
    Fact {
        #[arg(long)]
        week: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// How the media carried the own channels' publications of a week:
    /// reprints, links and quotes, by whom and how soon.
    Pickup {
        #[arg(long)]
        week: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// How the own publications of a week were received (engagement at 24
    /// and 72 hours, residents' comments, questions left unanswered), the
    /// official pages' health and the image index.
    Voice {
        #[arg(long)]
        week: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn week_days(ctx: &Ctx, week: Option<&str>) -> anyhow::Result<(NaiveDate, NaiveDate, String)> {
    let w = match week {
        Some(w) => glas_report::IsoWeek::parse(w)
            .ok_or_else(|| crate::usage(format!("{w:?} is not a week such as 2026-W48")))?,
        None => glas_report::IsoWeek::of(Utc::now().with_timezone(&ctx.tz()).date_naive()),
    };
    let monday = w.monday().expect("a parsed week has a Monday");
    Ok((monday, monday + Duration::days(6), w.to_string()))
}

pub fn run(ctx: &Ctx, cmd: &PlanCmd) -> anyhow::Result<ExitCode> {
    let plan = glas_app::voice::open(ctx)?;
    match cmd {
        PlanCmd::Import { file } => {
            let rows = glas_app::voice::read_plan_file(ctx, file).map_err(|e| crate::usage(format!("{e:#}")))?;
            let who = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "?".into()));
            let (replaced, imported) = plan.import(&rows, &who, Utc::now()).map_err(|e| crate::usage(e.to_string()))?;
            let first = rows.iter().map(|r| r.from).min().unwrap_or_default();
            let last = rows.iter().map(|r| r.to).max().unwrap_or_default();
            println!(
                "Медиаплан: {imported} строк с {} по {} загружено (заменено прежних: {replaced}).",
                first.format("%d.%m.%Y"),
                last.format("%d.%m.%Y")
            );
        }
        PlanCmd::List { week, json } => {
            let (from, to, label) = week_days(ctx, week.as_deref())?;
            let rows = plan.rows(from, to)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("На {label} в медиаплане ничего нет.");
            } else {
                for r in rows {
                    println!(
                        "№{:<4} {}–{}  {:<24} {}{}",
                        r.id,
                        r.from.format("%d.%m"),
                        r.to.format("%d.%m"),
                        if r.channel.is_empty() { "любой канал" } else { &r.channel },
                        r.subject,
                        if r.responsible.is_empty() { String::new() } else { format!(" (отв. {})", r.responsible) }
                    );
                }
            }
        }
        PlanCmd::Pickup { week, json } => {
            let (from, to, label) = week_days(ctx, week.as_deref())?;
            let store = ctx.open_store_reader()?;
            let p = glas_app::voice::pickups(ctx, &store.records()?, from, to);
            if *json {
                println!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                print_pickups(&p, &label);
            }
        }
        PlanCmd::Voice { week, json } => {
            let (from, _, label) = week_days(ctx, week.as_deref())?;
            let store = ctx.open_store_reader()?;
            let v = glas_app::voice::week(ctx, &ctx.analyzer(), &store.records()?, from)?;
            if *json {
                let out = serde_json::json!({
                    "received": v.received,
                    "pages": v.pages,
                    "image": v.image,
                    "movers": v.movers,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_voice(&v, &label);
            }
        }
        PlanCmd::Fact { week, json } => {
            let (from, to, label) = week_days(ctx, week.as_deref())?;
            let store = ctx.open_store_reader()?;
            let today = Utc::now().with_timezone(&ctx.tz()).date_naive();
            let pf = glas_app::voice::plan_fact(ctx, &store.records()?, from, to, today)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&pf)?);
            } else {
                print_fact(&pf, &label);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_fact(pf: &glas_voice::PlanFact, label: &str) {
    use glas_voice::State;
    println!(
        "Медиаплан {label}: запланировано {}, вышло {}, с опозданием {}, не вышло {}, ожидается {}; вне плана {}",
        pf.outcomes.len(),
        pf.count(State::Published),
        pf.count(State::Late),
        pf.count(State::Missing),
        pf.count(State::Upcoming),
        pf.unplanned.len()
    );
    for o in &pf.outcomes {
        let publication =
            o.publication.as_ref().map_or(String::new(), |p| format!(" → {} {}", p.day.format("%d.%m"), p.url));
        let late = if o.late_days > 0 { format!(" ({} дн.)", o.late_days) } else { String::new() };
        println!("  {} {:<20} {}{late}{publication}", o.row.from.format("%d.%m"), o.state.label_ru(), o.row.subject);
    }
    for p in &pf.unplanned {
        let title: String = p.text.chars().take(70).collect();
        println!("  {} вне плана: {title} ({})", p.day.format("%d.%m"), p.source_name);
    }
}

pub fn print_voice(v: &glas_report::OwnVoice, label: &str) {
    let n = |x: Option<i64>| x.map_or("—".to_string(), |x| x.to_string());
    println!("Отклик на официальные публикации {label}: {}", v.received.len());
    for r in &v.received {
        let f = &r.figures;
        let c = &r.reaction;
        println!(
            "  {} {} ({}): просмотры 24 ч {} / 72 ч {} / сейчас {}; комментариев жителей {} ({}), вопросов {}, без ответа {}",
            r.published_at.format("%d.%m %H:%M"),
            r.text.chars().take(50).collect::<String>(),
            r.source_name,
            n(f.day.as_ref().and_then(|e| e.views)),
            n(f.three_days.as_ref().and_then(|e| e.views)),
            n(f.latest.as_ref().and_then(|e| e.views)),
            c.comments,
            c.mood_ru(),
            c.questions,
            c.unanswered.len()
        );
        for q in &c.unanswered {
            println!("      без ответа: {}", q.text);
        }
    }
    for p in &v.pages {
        println!(
            "  страница «{}»: публикаций {} (по плану {}), самый долгий перерыв {:.1} дн., подписчиков {}, ответили на вопросы {}",
            p.name,
            p.posts,
            p.planned,
            p.longest_gap_days,
            n(p.audience),
            p.answered_ru()
        );
    }
    if let Some(w) = v.image.last() {
        println!(
            "Имидж-индекс {label}: {:+.1} ({} упоминаний: позитивных {}, негативных {})",
            w.index, w.mentions, w.positive, w.negative
        );
        for m in &v.movers {
            println!("  {:+.2} {} {}", m.value, m.source_name, m.text.chars().take(70).collect::<String>());
        }
    }
}

pub fn print_pickups(p: &[glas_voice::Pickup], label: &str) {
    let carried = p.iter().filter(|x| !x.carried.is_empty()).count();
    println!("Подхват СМИ {label}: {carried} из {} публикаций официальных каналов", p.len());
    for x in p.iter().filter(|x| !x.carried.is_empty()) {
        let title: String = x.text.chars().take(60).collect();
        let outlets: Vec<String> = x
            .carried
            .iter()
            .map(|c| format!("{} ({}, через {:.1} ч)", c.source_name, c.how.label_ru(), c.delay_hours))
            .collect();
        println!("  {} {title}: {}", x.published_at.format("%d.%m"), outlets.join("; "));
    }
}
