//! The outlook's speed: 10,000 daily series of 365 days forecast seven days
//! ahead (the goal: under 10 s on 2 cores), with each baseline
//! beside the chosen method, release build:
//!
//!     cargo bench -p glas-analytics --bench forecast
//!
//! The series are generated districts (`forecast::generate`), 79 series each
//! (the district, six topics, six topics × twelve settlements), pooled as
//! `glas forecast` pools them.

use std::hint::black_box;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use glas_analytics::forecast::{self, Method, Series, Weekends};

fn main() {
    let start = NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
    let mut series: Vec<Series> = Vec::new();
    let built = Instant::now();
    let mut seed = 1;
    while series.len() < 10_000 {
        let offset = series.len();
        let mut d = forecast::generate::district(seed, start, 365, 12, 1.0, &Weekends);
        for s in &mut d {
            s.parent = s.parent.map(|p| p + offset);
            s.key = format!("{seed}/{}", s.key);
        }
        series.extend(d);
        seed += 1;
    }
    series.truncate(10_000);
    let values: usize = series.iter().map(|s| s.counts.len()).sum();
    println!(
        "{} series × 365 days ({values} values), generated in {:.2} s",
        series.len(),
        built.elapsed().as_secs_f64()
    );
    let origin = start + Duration::days(365);
    for method in Method::ALL {
        let mut best = f64::MAX;
        let mut points = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let p = forecast::forecast(black_box(&series), origin, 7, method, &Weekends);
            best = best.min(t.elapsed().as_secs_f64());
            points = p.len();
        }
        println!("{:<58} {points} points in {best:.3} s (best of 3)", method.name());
    }
}
