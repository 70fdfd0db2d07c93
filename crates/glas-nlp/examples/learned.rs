//! Development loop for the complaint and topic model without building the
//! whole CLI: trains on `../shared/data` (or the folder given), writes the
//! model to the path given second (default: a temporary file, so the shipped
//! model is not touched), and prints its public figures.
//!
//! `cargo run --release -p glas-nlp --example learned -- ../shared/data /tmp/model.bin`
//! (`glas train enrichment` is the command that writes the shipped model.)
//!
//! Also, from the repository's root (it reads `fixtures/labelled/`):
//! - `GLAS_BASELINE=1`: measure the shipped analyzer as it is, no training;
//! - `GLAS_MISSES=roads:healthcare`: list the test appeals of one code that
//!   were given another, with the rule or model behind every topic;
//! - `GLAS_TONE=1`: the tone towards entities on RuSentNE (`glas_nlp::stance`);
//! - `GLAS_GENRES=1`: how many calm news sentences the sentiment model calls
//!   negative when read as posts and as media.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let datasets = PathBuf::from(args.next().unwrap_or_else(|| "../shared/data".into()));
    let out = PathBuf::from(
        args.next().unwrap_or_else(|| std::env::temp_dir().join("glas-learned.bin").display().to_string()),
    );
    if std::env::var_os("GLAS_TONE").is_some() {
        // The tone towards entities (glas_nlp::stance) on RuSentNE.
        let r = glas_nlp::stance::evaluate(&glas_nlp::Analyzer::builtin(), &datasets)?;
        for (w, s) in &r.selection {
            println!("selection {w}: {} rows, accuracy {:.3}, macro-F1 {:.3}", s.rows, s.accuracy, s.macro_f1);
        }
        let v = &r.validation;
        let whole = &r.validation_sentence;
        println!(
            "validation ±{} words: {} rows, accuracy {:.3}, macro-F1 {:.3}, F1 neg/neu/pos {:.3}/{:.3}/{:.3}",
            glas_nlp::stance::WINDOW,
            v.rows,
            v.accuracy,
            v.macro_f1,
            v.f1[0],
            v.f1[1],
            v.f1[2]
        );
        println!("validation whole sentence: accuracy {:.3}, macro-F1 {:.3}", whole.accuracy, whole.macro_f1);
        return Ok(());
    }
    if std::env::var_os("GLAS_BASELINE").is_some() {
        // The shipped analyzer as it is, for a before/after comparison.
        report(&glas_nlp::Analyzer::builtin(), &datasets)?;
        return Ok(());
    }
    let codes: Vec<&str> = glas_core::config::builtin_topics().iter().map(|t| t.code.as_str()).collect();
    let started = std::time::Instant::now();
    let trained = glas_nlp::learned::train::train(&datasets, &codes)?;
    let bytes = trained.model.to_bytes();
    std::fs::write(&out, &bytes)?;
    println!(
        "trained on {} texts in {:.1} s: {} features, {} bytes → {}",
        trained.examples,
        started.elapsed().as_secs_f64(),
        trained.model.len(),
        bytes.len(),
        out.display()
    );
    let t: Vec<String> = trained.thresholds.iter().map(|(c, t)| format!("{c} {t:.2}")).collect();
    println!("thresholds: {}; veto {} for {}", t.join(", "), trained.veto, trained.vetoing.join(" "));
    let mut analyzer = glas_nlp::Analyzer::builtin();
    analyzer.set_learned_model(glas_nlp::linear::Ovr::from_bytes(&bytes)?);
    report(&analyzer, &datasets)
}

fn report(analyzer: &glas_nlp::Analyzer, datasets: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    // GLAS_MISSES=gold:given lists test appeals of one gold code given another, with the rule.
    if let Ok(pair) = std::env::var("GLAS_MISSES") {
        let (gold, given) = pair.split_once(':').unwrap_or((&pair, ""));
        for a in glas_nlp::learned::train::appeals(datasets)?.into_iter().filter(|a| a.test && a.topic == gold) {
            let m = glas_core::Mention::from_line(
                &serde_json::json!({"id": "x", "text": a.text, "published_at": "2026-01-01T00:00:00Z"}).to_string(),
                1,
            )?;
            let (e, why) = analyzer.enrich_explained(&m, "import");
            if e.topics.iter().any(|t| t == given) {
                let rules: Vec<String> =
                    why.topics.iter().map(|t| format!("{}={}[{}]", t.code, t.rule, t.text)).collect();
                println!("{} || {}", rules.join("; "), a.text.chars().take(160).collect::<String>());
            }
        }
        return Ok(());
    }
    if std::env::var_os("GLAS_GENRES").is_some() {
        // How often calm news sentences are called negative in each genre.
        let calm: Vec<_> =
            glas_nlp::sentiment::train::news(&datasets.join("sentiment/rusentne2023/validation_data_labeled.csv"))?
                .into_iter()
                .filter(|l| l.label != glas_core::Sentiment::Negative)
                .collect();
        let tok = analyzer.tokenizer();
        for g in [glas_nlp::Genre::Social, glas_nlp::Genre::Media] {
            let neg = calm
                .iter()
                .filter(|l| {
                    analyzer.sentiment().predict(&l.text, &tok.tokens(&l.text), g).label
                        == glas_core::Sentiment::Negative
                })
                .count();
            println!("{g:?}: {neg} of {} calm news sentences negative", calm.len());
        }
    }
    // The hand-labelled set (written for glas): what must not regress.
    let items = glas_nlp::labelled::read(std::path::Path::new("fixtures/labelled/municipal.tsv"))?;
    let l = glas_nlp::labelled::evaluate(analyzer, &items);
    let class = |name: &str| l.mention_type.classes.iter().find(|c| c.class == name).map_or(0.0, |c| c.recall);
    let topic = |name: &str| l.topics.iter().find(|c| c.label == name).map_or((0.0, 0.0), |c| (c.precision, c.recall));
    println!(
        "labelled: topics micro P {:.3} R {:.3}; type macro-F1 {:.3} (question R {:.3}, complaint R {:.3}); safety {:?} improvement {:?} housing {:?}",
        l.topics_micro.precision,
        l.topics_micro.recall,
        l.mention_type.macro_f1,
        class("question"),
        class("complaint"),
        topic("safety"),
        topic("improvement"),
        topic("housing")
    );
    let r = glas_nlp::public::evaluate(analyzer, datasets)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "appeals": r.appeals, "no_topic": r.no_topic,
            "communal_macro_recall": r.communal_macro_recall, "communal_min_precision": r.communal_min_precision,
            "news_calm": r.news_calm, "tweets_calm": r.tweets_calm,
        }))?
    );
    for s in &r.topics {
        let row = r.confusion.get(&s.label).map_or(String::new(), |v| {
            v.iter().take(4).map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ")
        });
        println!("  {:<15} P {:.3}  R {:.3}  (n={:>3})  given: {row}", s.label, s.precision, s.recall, s.support);
    }
    Ok(())
}
