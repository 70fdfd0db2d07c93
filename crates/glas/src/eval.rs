//! `glas eval` and `glas train`: accuracy of enrichment and training of the
//! sentiment model.
//!
//! Sentiment is measured across genres on the public data sets of the
//! development machine (`../shared/data` by default; not shipped):
//! RuSentiTweet's 3-class test split (tweets) and RuSentNE-2023's validation
//! sentences whose entity labels all agree (news). The whole enrichment is
//! measured on the hand-labelled `fixtures/labelled/municipal.tsv`, which is
//! in the repository. The figures are what BENCHMARKS.md reports.

use std::path::Path;

use anyhow::Context as _;
use glas_nlp::Analyzer;
use glas_nlp::labelled::ClassReport;
use glas_nlp::sentiment::Genre;
use glas_nlp::sentiment::train::{self, Corpora};

#[derive(Debug, serde::Serialize)]
pub struct Evaluation {
    pub dataset: String,
    #[serde(flatten)]
    pub report: ClassReport,
}

fn measure(analyzer: &Analyzer, corpora: &Corpora) -> Vec<Evaluation> {
    let (tok, c) = (analyzer.tokenizer(), analyzer.sentiment());
    vec![
        Evaluation {
            dataset: "RuSentiTweet test (tweets, 3 classes)".into(),
            report: (&train::evaluate(c, tok, &corpora.tweets_test, Genre::Social)).into(),
        },
        Evaluation {
            dataset: "RuSentNE-2023 validation (news sentences, agreeing labels)".into(),
            report: (&train::evaluate(c, tok, &corpora.news_test, Genre::Media)).into(),
        },
    ]
}

pub fn sentiment(datasets: &Path, analyzer: &Analyzer) -> anyhow::Result<Vec<Evaluation>> {
    let corpora = Corpora::load_tests(datasets).context("cannot load the sentiment data sets")?;
    Ok(measure(analyzer, &corpora))
}

/// Trains the sentiment model from the data sets and writes it to `out`;
/// returns its figures on the test splits.
pub fn train_sentiment(datasets: &Path, out: &Path) -> anyhow::Result<(Vec<Evaluation>, train::Trained)> {
    let corpora = Corpora::load(datasets).context("cannot load the sentiment data sets")?;
    let analyzer = Analyzer::builtin();
    let trained = train::train(analyzer.sentiment(), analyzer.tokenizer(), &corpora);
    let bytes = trained.model.to_bytes();
    write_model(out, &bytes)?;
    // Measure what was written, quantization included.
    let mut measured = Analyzer::builtin();
    measured.set_sentiment_model(glas_nlp::sentiment::Model::from_bytes(&bytes)?);
    Ok((measure(&measured, &corpora), trained))
}

/// Writes a trained model in place of the old one (a temporary file renamed).
fn write_model(out: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write '{}'", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write '{}'", out.display()))
}

/// Trains the complaint and topic model from the data sets and writes it to
/// `out`; returns it with its figures on the public test data.
pub fn train_enrichment(
    datasets: &Path,
    out: &Path,
) -> anyhow::Result<(glas_nlp::learned::train::Trained, glas_nlp::public::PublicReport)> {
    let codes: Vec<&str> = glas_core::config::builtin_topics().iter().map(|t| t.code.as_str()).collect();
    let trained = glas_nlp::learned::train::train(datasets, &codes).context("cannot train the enrichment model")?;
    let bytes = trained.model.to_bytes();
    write_model(out, &bytes)?;
    // Measure what was written, quantization included.
    let mut measured = Analyzer::builtin();
    measured.set_learned_model(glas_nlp::linear::Ovr::from_bytes(&bytes)?);
    let public = glas_nlp::public::evaluate(&measured, datasets)?;
    Ok((trained, public))
}

/// The public figures, as BENCHMARKS.md quotes them.
pub fn print_public(r: &glas_nlp::public::PublicReport) {
    let flags = |name: &str, f: &glas_nlp::public::Flags| {
        println!(
            "{name}: {} texts, flagged complaint or negative {:.1} % (complaint {:.1} %, negative {:.1} %)",
            f.texts,
            100.0 * f.flagged,
            100.0 * f.complaint,
            100.0 * f.negative
        );
    };
    println!("public data glas did not write:");
    flags("appeals (Kursk, test split)", &r.appeals);
    println!("  no topic: {:.1} %", 100.0 * r.no_topic);
    println!(
        "  topics, {}: macro recall {:.3}, lowest precision {:.3}",
        glas_nlp::public::COMMUNAL.join(" "),
        r.communal_macro_recall,
        r.communal_min_precision
    );
    for s in &r.topics {
        let row = r.confusion.get(&s.label).map_or(String::new(), |v| {
            v.iter().take(4).map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ")
        });
        println!(
            "  {:<15} P {:.3}  R {:.3}  F1 {:.3}  (n={:>3})  given: {row}",
            s.label, s.precision, s.recall, s.f1, s.support
        );
    }
    flags("calm news and opinion sentences (RuSentNE validation)", &r.news_calm);
    flags("calm tweets (RuSentiTweet test)", &r.tweets_calm);
}

pub fn print(results: &[Evaluation]) {
    for r in results {
        println!(
            "{}: {} items, macro-F1 {:.3}, accuracy {:.3}",
            r.dataset, r.report.items, r.report.macro_f1, r.report.accuracy
        );
        for c in &r.report.classes {
            println!("  {:<9} P {:.3}  R {:.3}  F1 {:.3}  (n={})", c.class, c.precision, c.recall, c.f1, c.support);
        }
    }
}

/// The signal evaluation as a table: glas beside the reference detector.
pub fn print_signals(ev: &glas_analytics::evaluate::Evaluation) {
    use glas_analytics::evaluate::{Score, percentile};
    let seeds = match (ev.seeds.first(), ev.seeds.last()) {
        (Some(a), Some(b)) if ev.seeds.len() as u64 == b - a + 1 => format!("{a}-{b}"),
        _ => ev.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
    };
    println!(
        "signal evaluation: {} scenarios (seeds {seeds}), {} mentions, {:.0} district-weeks scored; glas detector {:.2}s",
        ev.seeds.len(),
        ev.mentions,
        ev.glas.weeks,
        ev.detect_time.as_secs_f64()
    );
    let hours = |v: Option<f64>| match v {
        Some(h) if h.is_infinite() => "never".to_string(),
        Some(h) => format!("{h:.1} h"),
        None => "—".to_string(),
    };
    let row = |name: &str, s: &Score| {
        println!(
            "  {name:<22} recall {:.3} ({}/{})  false alarms/week {:.2}  lead median {} (of all incidents, a missed one as never: {})  p90 {}",
            s.recall(),
            s.detected,
            s.incidents,
            s.false_alarms_per_week(),
            hours(s.median_lead()),
            hours(s.median_lead_all()),
            hours(s.p90_lead())
        );
    };
    row("glas", &ev.glas);
    row("reference (mean+3σ)", &ev.reference);
    let mut shapes: Vec<&String> = ev.glas.by_shape.keys().collect();
    shapes.sort();
    println!("  by shape (detected/total, median lead):");
    for shape in shapes {
        let cell = |s: &Score| {
            let (d, n) = s.by_shape.get(shape).copied().unwrap_or_default();
            let leads: Vec<f64> = s.leads.iter().filter(|l| &l.0 == shape).map(|l| l.1).collect();
            format!("{d}/{n} {}", hours(percentile(&leads, 0.5)))
        };
        println!("    {shape:<12} glas {:<14} reference {}", cell(&ev.glas), cell(&ev.reference));
    }
    let alarms = |s: &Score| {
        let mut v: Vec<String> = s.distractor_alarms.iter().map(|(k, n)| format!("{k} {n}")).collect();
        v.sort();
        if v.is_empty() { "none".into() } else { v.join(", ") }
    };
    println!("  false alarms from distractors: glas {}; reference {}", alarms(&ev.glas), alarms(&ev.reference));
    println!(
        "  coordinated posting reported as such: glas {}/{}, reference {}/{}",
        ev.glas.coordinated_reported,
        ev.glas.coordinated_total,
        ev.reference.coordinated_reported,
        ev.reference.coordinated_total
    );
}

pub fn signals_json(ev: &glas_analytics::evaluate::Evaluation) -> String {
    let score = |s: &glas_analytics::evaluate::Score| {
        serde_json::json!({
            "recall": s.recall(),
            "detected": s.detected,
            "incidents": s.incidents,
            "false_alarms": s.false_alarms,
            "false_alarms_per_week": s.false_alarms_per_week(),
            "median_lead_hours": s.median_lead(),
            "median_lead_hours_all_incidents": s.median_lead_all().filter(|h| h.is_finite()),
            "p90_lead_hours": s.p90_lead(),
            "by_shape": s.by_shape,
            "distractor_alarms": s.distractor_alarms,
            "coordinated_reported": s.coordinated_reported,
            "coordinated_total": s.coordinated_total,
        })
    };
    serde_json::to_string_pretty(&serde_json::json!({
        "seeds": ev.seeds,
        "mentions": ev.mentions,
        "weeks": ev.glas.weeks,
        "glas": score(&ev.glas),
        "reference": score(&ev.reference),
    }))
    .expect("serializable")
}
