//! `glas demo`: the main job on the embedded default pipeline.
//!
//! Serves the repository's `fixtures/` on loopback, crawls the demo pipeline's
//! sources (three news feeds, the administration's VK community through the
//! fixture server's VK stand-in, three residents' Telegram channels, a month of the
//! Levokumsky district with a water outage in Величаевское), indexes, analyses,
//! delivers alerts (to the outbox: the demo has no SMTP server), writes the
//! weekly report and prints where everything is. Deterministic: the data dir is
//! reset first and "now" is the hour after the newest mention.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use chrono::{Duration, DurationRound, Utc};

pub(crate) use glas_app::paths::user_path;

use crate::fixture_server::FixtureServer;
use crate::ops::{self, Ctx};

/// What the demo leaves behind, removed before each run.
const DEMO_OUTPUTS: &[&str] = &[
    "log",
    "index",
    "checkpoints.json",
    "analytics",
    "reports",
    "outbox",
    "alerts",
    "searches",
    "workspace.sqlite",
    "workspace.sqlite-wal",
    "workspace.sqlite-shm",
    "audit.jsonl",
];

pub async fn run(data: Option<&Path>, fixtures: Option<&Path>) -> anyhow::Result<ExitCode> {
    let fixtures = match fixtures {
        Some(f) => f.to_path_buf(),
        None => crate::repo_dir().join("fixtures"),
    };
    if !fixtures.join("demo").is_dir() {
        bail!(
            "cannot find the demo fixtures in '{}' (run from the repository, or pass --fixtures DIR)",
            fixtures.display()
        );
    }
    let server = FixtureServer::start(&fixtures).await.context("cannot start the fixture server on 127.0.0.1")?;
    let ctx = Ctx::new(crate::demo_pipeline(Some(&server.base_url()))?, data);
    reset(&ctx.data_dir)?;
    let started = std::time::Instant::now();

    println!("glas demo — {}", ctx.pipeline.district.name);
    println!("fixtures served at {} from {}\n", server.base_url(), display(&fixtures));

    let mut store = ctx.open_store()?;
    let mut enricher = ops::Enricher::new(&ctx, &store)?;
    println!("1. crawl: one round over {} sources", ctx.pipeline.sources.len());
    let baseline = store.indexed_seq()?;
    let summaries = ops::crawl_once(&ctx, &mut store, &mut enricher).await?;
    crate::print_crawl_summary(&summaries);
    crate::print_digests(&ops::deliver_digests(&ctx, &store, baseline).await?);
    drop(server);

    let records = store.records()?;
    let Some(newest) = records.iter().map(|r| r.mention.published_at.with_timezone(&Utc)).max() else {
        bail!("the crawl produced no mentions; see the errors above");
    };
    let at = newest.duration_trunc(Duration::hours(1)).unwrap_or(newest) + Duration::hours(1);
    let oldest = records.iter().map(|r| r.mention.published_at.with_timezone(&Utc)).min().unwrap_or(newest);

    println!("\n2. index: {} mentions searchable ({} in the log)", store.index().num_docs(), store.len()?);

    println!(
        "\n3. analyse: daily aggregates and signals, as of {}",
        at.with_timezone(&ctx.tz()).format("%Y-%m-%d %H:%M %Z")
    );
    let analysis = ops::analyze(&ctx, &store, at, at - oldest)?;
    if let Some(d) = &analysis.daily {
        println!(
            "   daily aggregates over {} days → {}",
            d.days,
            d.by_source.parent().unwrap_or(Path::new("")).display()
        );
    }
    if let Some(t) = &analysis.trends {
        println!(
            "   trends: {} hourly and {} daily rows per topic × place × source kind; tension index → {}",
            t.hourly_rows,
            t.daily_rows,
            display(&t.tension.with_extension("csv"))
        );
    }
    for s in &analysis.signals {
        let phase = s.phase().unwrap_or("");
        if phase == "resolved" {
            println!(
                "   signal {} resolved: {}, {} — calm since, episode closed",
                s.detected_at.format("%d.%m %H:%M"),
                s.topic.as_deref().unwrap_or("—"),
                s.place.as_deref().unwrap_or("весь округ")
            );
            continue;
        }
        println!(
            "   signal {} {}: {} — score {:.1}, {} stories in {} vs usual {:.2}; evidence {}",
            s.detected_at.format("%d.%m %H:%M"),
            s.severity.as_str(),
            glas_alert::subject(s),
            s.score,
            s.count,
            s.window,
            s.baseline,
            s.evidence.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    if analysis.signals.is_empty() {
        println!("   no signals");
    }

    // Delivered as `glas run` would have, round after round as the signals
    // came: each round sees only the signals detected so far.
    println!("\n4. alerts, as they would have gone out live");
    let mut moments: Vec<_> = analysis.signals.iter().map(|s| s.detected_at).collect();
    moments.sort();
    moments.dedup();
    let mut live: Option<glas_alert::Report> = None;
    for t in moments {
        let so_far: Vec<glas_core::Signal> = analysis.signals.iter().filter(|s| s.detected_at <= t).cloned().collect();
        if let Some(r) = ops::deliver_alerts(&ctx, &so_far, &analysis.evidence).await? {
            let all = live.get_or_insert_with(Default::default);
            all.sent.extend(r.sent);
            all.failed.extend(r.failed);
        }
    }
    if live.is_none() && ctx.pipeline.alerts.is_some() {
        live = Some(Default::default());
    }
    crate::print_alert_report(live.as_ref(), &ctx.source_names());

    println!("\n5. incidents: episodes routed to the services, answers found in the administration's own posts");
    demo_incidents(&ctx, &analysis, &records, at).await?;

    let week = glas_report::IsoWeek::of(newest.with_timezone(&ctx.tz()).date_naive());
    let plan_file = fixtures.join("demo/media-plan.csv");
    println!(
        "\n6. own voice {week}: the media plan ({}) against the own channels, pickup by the media, residents' reaction, image",
        display(&plan_file)
    );
    let rows = glas_app::voice::read_plan_file(&ctx, &plan_file)?;
    glas_app::voice::open(&ctx)?.import(&rows, "demo", Utc::now())?;
    let monday = week.monday().context("invalid week")?;
    let today = Utc::now().with_timezone(&ctx.tz()).date_naive();
    let pf = glas_app::voice::plan_fact(&ctx, &records, monday, monday + Duration::days(6), today)?;
    crate::plan_cli::print_fact(&pf, &week.to_string());
    let carried = glas_app::voice::pickups(&ctx, &records, monday, monday + Duration::days(6));
    crate::plan_cli::print_pickups(&carried, &week.to_string());
    let voice = glas_app::voice::week(&ctx, &ctx.analyzer(), &records, monday)?;
    crate::plan_cli::print_voice(&voice, &week.to_string());
    let report = ops::weekly_report(&ctx, &store, &records, week, &glas_report::Dashboard::default_weekly())?;
    println!("\n7. weekly report {week}: {} (also .pdf for printing, .xlsx with its tables)", display(&report.html));

    println!("\n8. example searches");
    for q in ["водоснабжения", "\"нет воды\" Величаевском", "ямы OR дорога", "спасибо"]
    {
        let res = store.search(&glas_store::SearchRequest {
            query: q.into(),
            limit: 2,
            sort: glas_store::Sort::Date,
            tz: ctx.tz(),
            ..Default::default()
        })?;
        println!("\n$ glas search '{q}' --sort date --limit 2");
        crate::print_hits(&res, false);
    }

    let data = display(&ctx.data_dir);
    println!("\nwhere to look:");
    println!("  report    {}", display(&report.html));
    println!("            {}", display(&report.pdf));
    println!("            {}", display(&report.xlsx));
    println!("  alerts    {}", display(&ctx.data_dir.join("outbox")));
    println!("  signals   {}", display(&analysis.signals_path));
    println!("  analytics {}", display(&ctx.data_dir.join("analytics")));
    println!("  store     {data}/log (Parquet by day), {data}/index (tantivy)");
    // The workspace's demo login: an administrator, so every screen opens,
    // whose regional search covers every district it is served with.
    let accounts = glas_web::accounts::Accounts::open(&ctx.data_dir)?;
    accounts.add_user(DEMO_LOGIN, glas_web::accounts::Role::Admin, DEMO_PASSWORD)?;
    accounts.set_districts(DEMO_LOGIN, &glas_web::accounts::Districts::All)?;
    println!("\ntry: cargo run --release -- search 'вода Величаевском' --data {data}");
    println!(
        "workspace: cargo run --release -- serve --data {data}\n  then open http://127.0.0.1:8080 and log in as {DEMO_LOGIN} / {DEMO_PASSWORD}"
    );
    println!("demo finished in {:.1}s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// The month's incidents as `glas run` would have kept them: at each moment a
/// signal came, its episodes become incidents, the mentions published since
/// the last moment are offered (complaints join, own posts answer), and the
/// deadlines are checked; the emails go to the outbox at the end.
async fn demo_incidents(
    ctx: &Ctx,
    analysis: &ops::Analysis,
    records: &[glas_core::Record],
    at: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(inc) = glas_app::incidents::open(ctx)? else {
        println!("   the pipeline has no [[routing]]: incidents are off");
        return Ok(());
    };
    // The service's rounds: every signal's moment, and every hour from the
    // first signal on (a round of `glas run` follows each crawl).
    let mut moments: Vec<chrono::DateTime<Utc>> =
        analysis.signals.iter().map(|s| s.detected_at.with_timezone(&Utc)).collect();
    if let Some(first) = moments.iter().min().copied() {
        let mut t = first;
        while t < at {
            moments.push(t);
            t += chrono::Duration::hours(1);
        }
    }
    moments.push(at);
    moments.sort();
    moments.dedup();
    let mut sorted: Vec<&glas_core::Record> = records.iter().collect();
    sorted.sort_by_key(|r| r.mention.published_at);
    let mut out = glas_app::incidents::RoundOutcome::default();
    let mut offered = 0;
    for t in moments {
        let so_far: Vec<glas_core::Signal> =
            analysis.signals.iter().filter(|s| s.detected_at.with_timezone(&Utc) <= t).cloned().collect();
        for ep in glas_app::incidents::episodes(ctx, &so_far, &analysis.evidence) {
            let (id, new) = inc.from_episode(&ep, t)?;
            if new {
                out.round.created.push(id);
            }
        }
        let upto = sorted[offered..].iter().take_while(|r| r.mention.published_at.with_timezone(&Utc) <= t).count();
        let batch: Vec<glas_core::Record> = sorted[offered..offered + upto].iter().map(|r| (*r).clone()).collect();
        offered += upto;
        glas_app::incidents::offer(ctx, &inc, &batch, records, t, &mut out.round)?;
        let ticked = inc.tick(t)?;
        out.round.reminders += ticked.reminders;
        out.round.escalations += ticked.escalations;
    }
    glas_app::incidents::deliver(ctx, &inc, &mut out).await?;
    let tz = ctx.tz();
    let when = |t: chrono::DateTime<Utc>| t.with_timezone(&tz).format("%d.%m %H:%M").to_string();
    let all = inc.list(&glas_incidents::Filter::default(), at)?;
    for i in all.iter().rev() {
        println!(
            "   №{} {} — {}, {} {}, status «{}»; first complaint {}",
            i.id,
            i.title,
            i.service,
            i.mentions,
            glas_core::ru::plural(u64::from(i.mentions), "публикация", "публикации", "публикаций"),
            i.status.label_ru(),
            when(i.first_complaint_at)
        );
        if let (Some(url), Some(t)) = (&i.public_answer_url, i.public_answer_at) {
            let h = (t - i.first_complaint_at).num_minutes() as f64 / 60.0;
            let in_time = if t <= i.reaction_due { "in time" } else { "late" };
            println!(
                "      answered publicly {} ({url}): reaction time {h:.1} h from the first complaint, {in_time} (due {})",
                when(t),
                when(i.reaction_due)
            );
        }
        if let Some(o) = i.overdue(at) {
            let due = match o {
                glas_incidents::Overdue::Reaction => i.reaction_due,
                glas_incidents::Overdue::Resolution => i.resolution_due,
            };
            println!("      overdue at {}: {} (due {}), escalated to the head", when(at), o.label_ru(), when(due));
        }
    }
    if all.is_empty() {
        println!("   no incidents");
    }
    println!(
        "   {} mentions joined open incidents; {} reminders, {} escalations; {} emails to the outbox",
        out.round.joined,
        out.round.reminders,
        out.round.escalations,
        out.sent.len()
    );
    for (subject, why) in &out.failed {
        println!("   email failed: {subject}: {why}");
    }
    Ok(())
}

pub(crate) fn display(p: &Path) -> String {
    user_path(p).display().to_string()
}

/// The demo workspace's login (an administrator of the demo data only).
pub const DEMO_LOGIN: &str = "demo";
pub const DEMO_PASSWORD: &str = "demo-glas";

fn reset(dir: &Path) -> anyhow::Result<()> {
    for name in DEMO_OUTPUTS {
        let p = dir.join(name);
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else if p.exists() {
            std::fs::remove_file(&p)
        } else {
            Ok(())
        };
        r.with_context(|| format!("cannot clear the previous demo output '{}'", p.display()))?;
    }
    Ok(())
}
