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
pub fn train_sentiment(datasets: &Path, out: &Path) -> anyhow::Result<(Vec<Evaluation>, usize)> {
    let corpora = Corpora::load(datasets).context("cannot load the sentiment data sets")?;
    let analyzer = Analyzer::builtin();
    let (social, media) = train::municipal_train();
    let examples = train::examples(
        analyzer.sentiment(),
        analyzer.tokenizer(),
        &[
            (&corpora.tweets_train, Genre::Social, 1.0),
            (&corpora.news_train, Genre::Media, 1.0),
            // The hand-written municipal posts weigh as much as a whole corpus:
            // they are the genre glas reads most.
            (&social, Genre::Social, 1.0),
            (&media, Genre::Media, 1.0),
        ],
    );
    let model = train::fit(&examples, &train::Params::default());
    let bytes = model.to_bytes();
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write '{}'", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write '{}'", out.display()))?;
    // Measure what was written, quantization included.
    let mut measured = Analyzer::builtin();
    measured.set_sentiment_model(glas_nlp::sentiment::Model::from_bytes(&bytes)?);
    Ok((measure(&measured, &corpora), examples.len()))
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
