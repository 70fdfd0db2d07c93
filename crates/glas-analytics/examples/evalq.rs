//! Tuning harness for the signal detector: `cargo run --release -p glas-analytics --example evalq -- 50`
//! scores the defaults on seeds 1..=50; environment variables override thresholds
//! (MIN, LMIN, EMIN, Z, MAXP, STEP in minutes, RATIO, BIAS, SHARE, W, LW). `glas eval signals` is the user-facing command.

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let mut rules = glas_core::config::SignalRules::default();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    if let Some(v) = env("MIN") {
        rules.min_negative = v as u32;
    }
    if let Some(v) = env("LMIN") {
        rules.long_min_negative = v as u32;
    }
    if let Some(v) = env("EMIN") {
        rules.emerging_min = v as u32;
    }
    if let Some(v) = env("Z") {
        rules.open_score = v;
    }
    if let Some(v) = env("RATIO") {
        rules.ratio = v;
    }
    if let Some(v) = env("BIAS") {
        rules.bias = v;
    }
    if let Some(v) = env("SHARE") {
        rules.min_negative_share = v;
    }
    if let Some(v) = env("MAXP") {
        rules.max_p = v;
    }
    if let Some(v) = env("STEP") {
        rules.step = chrono::Duration::minutes(v as i64);
    }
    if let Some(v) = env("LW") {
        rules.long_window = chrono::Duration::hours(v as i64);
    }
    if let Some(v) = env("W") {
        rules.window = chrono::Duration::hours(v as i64);
    }
    let from = env("FROM").map_or(1, |v| v as u64);
    let ev = glas_analytics::evaluate::evaluate(&(from..from + n).collect::<Vec<_>>(), &rules);
    for (name, s) in [("glas", &ev.glas), ("ref", &ev.reference)] {
        let mut shapes: Vec<_> = s.by_shape.iter().collect();
        shapes.sort();
        let med = |sh: &str| {
            glas_analytics::evaluate::percentile(
                &s.leads.iter().filter(|l| l.0 == sh).map(|l| l.1).collect::<Vec<_>>(),
                0.5,
            )
        };
        println!(
            "{name}: recall {:.3} fa/wk {:.2} med {:.1} | {}",
            s.recall(),
            s.false_alarms_per_week(),
            s.median_lead().unwrap_or(-1.0),
            shapes
                .iter()
                .map(|(k, v)| format!("{k} {}/{} {:.1}h", v.0, v.1, med(k).unwrap_or(-1.0)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut under: std::collections::BTreeMap<&str, (usize, usize, usize)> = Default::default();
        for (sh, l) in &s.leads {
            let e = under.entry(sh.as_str()).or_default();
            e.0 += usize::from(*l <= 1.0);
            e.1 += usize::from(*l <= 2.0);
            e.2 += usize::from(*l <= 3.0);
        }
        println!("   within 1h/2h/3h: {under:?}");
        println!("   distractors {:?} coord {}/{}", s.distractor_alarms, s.coordinated_reported, s.coordinated_total);
    }
}
