//! The outlook: daily counts of complaint-or-negative stories forecast for
//! the days ahead, per key (topic × settlement, topic × district, the
//! district), with an 80 % interval, and the methods they are compared with.
//!
//! The chosen method ([`Method::Pooled`]) models counts as counts:
//!
//! - **weekly profile**: each key's share of stories by day type (Monday …
//!   Sunday; a public holiday reads as a Sunday, a working weekend day as a
//!   midweek day), over its last twelve weeks, shrunk towards its parent's
//!   profile (a settlement's towards its topic district-wide, a topic's towards
//!   the district's) by [`PROFILE_PRIOR`] stories' worth, so a sparse series
//!   borrows the shape it cannot show;
//! - **level**: the deseasonalized counts averaged with weights halving every
//!   [`HALF_LIFE`] days, shrunk towards the sixteen weeks' mean; in a
//!   `regime` (the heating season for `heating`) the level is taken from the
//!   days of the same regime when there are enough of them;
//! - **level changes**: when the last three days are far above the level (a
//!   Poisson tail below 0.5 %: an incident), the forecast starts from them
//!   and decays back to the level by [`JUMP_DECAY`] a day;
//! - **counts**: the forecast is the median of a negative binomial with that
//!   mean (the point that minimises absolute error, what MASE scores), its
//!   dispersion estimated from the key's last eight weeks and shrunk towards
//!   the parent's; the interval is its 10th and 90th percentiles.
//!
//! Compared in `glas eval forecast` with the weekly seasonal naive, a 28-day
//! moving average and additive Holt-Winters (level and weekly season).
//! Everything sees only days before the origin.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

/// Days over which the weekly profile is read.
pub const PROFILE_DAYS: usize = 84;
/// Days the level and the long mean look back.
pub const LEVEL_DAYS: usize = 112;
/// Half-life of the level's weights, in days.
pub const HALF_LIFE: f64 = 14.0;
/// Stories' worth of the parent's profile added to a key's own.
pub const PROFILE_PRIOR: f64 = 20.0;
/// Days' worth of the long mean added to the recent level.
pub const LEVEL_PRIOR: f64 = 4.0;
/// How fast a jump's excess decays, per day ahead.
pub const JUMP_DECAY: f64 = 0.6;
/// The percentiles the 80 % interval is read at. Counts are discrete: a
/// day's count lands on the bounds often, so the nominal 10th and 90th
/// percentiles cover more than 80 %; these were chosen on the generated
/// districts of seeds 1–4 to cover about 80 % (BENCHMARKS.md).
pub const INTERVAL: (f64, f64) = (0.14, 0.86);

/// One daily series: consecutive days from `start`.
#[derive(Debug, Clone)]
pub struct Series {
    pub key: String,
    pub start: NaiveDate,
    pub counts: Vec<f64>,
    /// The series this one pools towards (an index into the same slice).
    pub parent: Option<usize>,
    /// Days in a regime of their own (the heating season), if any.
    pub regime: Option<Season>,
}

pub use glas_core::config::Season;

impl Series {
    pub fn new(key: impl Into<String>, start: NaiveDate, counts: Vec<f64>) -> Series {
        Series { key: key.into(), start, counts, parent: None, regime: None }
    }

    /// The count on `d` (zero outside the series).
    pub fn at(&self, d: NaiveDate) -> f64 {
        let i = (d - self.start).num_days();
        if i < 0 { 0.0 } else { self.counts.get(i as usize).copied().unwrap_or(0.0) }
    }

    pub fn end(&self) -> NaiveDate {
        self.start + Duration::days(self.counts.len() as i64)
    }
}

/// One forecast day of one key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub key: String,
    pub date: NaiveDate,
    /// The point forecast (the median for [`Method::Pooled`]).
    pub forecast: f64,
    /// The expected count (the mean), for sums over days.
    pub mean: f64,
    pub lo80: f64,
    pub hi80: f64,
    /// The negative binomial's dispersion k (variance mean + k·mean²; 0 for
    /// Poisson), for intervals of sums over days.
    #[serde(skip)]
    pub dispersion: f64,
}

/// The 80 % interval of the sum of `points` (days of one key): a negative
/// binomial with the days' summed mean and variance.
pub fn sum_interval(points: &[&Point]) -> (f64, f64, f64) {
    let mean: f64 = points.iter().map(|p| p.mean).sum();
    let var: f64 = points.iter().map(|p| p.mean + p.dispersion * p.mean * p.mean).sum();
    let k = if mean > 0.0 { ((var - mean) / (mean * mean)).max(0.0) } else { 0.0 };
    let (_, lo, hi) = nb_quantiles(mean, k);
    (mean, lo, hi)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The same weekday a week before.
    SeasonalNaive,
    /// The mean of the last 28 days.
    MovingAverage,
    /// Additive Holt-Winters: level and weekly season, α 0.1, γ 0.1.
    HoltWinters,
    /// The pooled count model (see the module).
    Pooled,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::SeasonalNaive, Method::MovingAverage, Method::HoltWinters, Method::Pooled];

    pub fn name(self) -> &'static str {
        match self {
            Method::SeasonalNaive => "seasonal naive (same weekday a week before)",
            Method::MovingAverage => "moving average (28 days)",
            Method::HoltWinters => "Holt-Winters (level + weekly season)",
            Method::Pooled => "glas: pooled weekly profile × level, negative binomial",
        }
    }
}

/// Which days are days off: public holidays (on weekdays) and which weekend
/// days are working ones. The default knows only weekends.
pub trait DayKinds: Sync {
    /// `Some(true)`: a day off on a weekday; `Some(false)`: a working
    /// Saturday or Sunday; `None`: as its weekday says.
    fn exception(&self, d: NaiveDate) -> Option<bool>;
}

/// Only weekends.
pub struct Weekends;

impl DayKinds for Weekends {
    fn exception(&self, _: NaiveDate) -> Option<bool> {
        None
    }
}

/// The day type of `d`: 0..=6 Monday..Sunday, holidays as Sundays, working
/// weekend days as Wednesdays.
fn day_type(d: NaiveDate, kinds: &dyn DayKinds) -> usize {
    match kinds.exception(d) {
        Some(true) => 6,
        Some(false) => 2,
        None => d.weekday().num_days_from_monday() as usize,
    }
}

/// Forecasts `horizon` days from `origin` (the first day forecast; only days
/// before it are seen) for every series.
pub fn forecast(
    series: &[Series],
    origin: NaiveDate,
    horizon: usize,
    method: Method,
    kinds: &dyn DayKinds,
) -> Vec<Point> {
    let profiles = if method == Method::Pooled { pooled_profiles(series, origin, kinds) } else { Vec::new() };
    let dispersions = if method == Method::Pooled { dispersions(series, &profiles, origin, kinds) } else { Vec::new() };
    let mut out = Vec::with_capacity(series.len() * horizon);
    for (i, s) in series.iter().enumerate() {
        match method {
            Method::Pooled => pooled(s, &profiles[i], dispersions[i], origin, horizon, kinds, &mut out),
            _ => baseline(s, method, origin, horizon, &mut out),
        }
    }
    out
}

/// The seen days of `s` before `origin`, newest last: (date, count), at most `n`.
fn seen(s: &Series, origin: NaiveDate, n: usize) -> impl Iterator<Item = (NaiveDate, f64)> + '_ {
    let end = ((origin - s.start).num_days().max(0) as usize).min(s.counts.len());
    let from = end.saturating_sub(n);
    (from..end).map(move |i| (s.start + Duration::days(i as i64), s.counts[i]))
}

fn baseline(s: &Series, method: Method, origin: NaiveDate, horizon: usize, out: &mut Vec<Point>) {
    let hist: Vec<(NaiveDate, f64)> = seen(s, origin, LEVEL_DAYS).collect();
    let mean28 = {
        let tail = &hist[hist.len().saturating_sub(28)..];
        tail.iter().map(|x| x.1).sum::<f64>() / tail.len().max(1) as f64
    };
    let (level, season) = holt_winters(&hist);
    for h in 0..horizon {
        let date = origin + Duration::days(h as i64);
        let f = match method {
            Method::SeasonalNaive => {
                let back = 7 * (h / 7 + 1) as i64;
                s.at(date - Duration::days(back))
            }
            Method::MovingAverage => mean28,
            _ => (level + season[date.weekday().num_days_from_monday() as usize]).max(0.0),
        };
        let (lo, hi) = poisson_interval(f);
        out.push(Point { key: s.key.clone(), date, forecast: f, mean: f, lo80: lo, hi80: hi, dispersion: 0.0 });
    }
}

/// Additive Holt-Winters over `hist` (α 0.1, γ 0.1): the final level and
/// weekday seasonals.
fn holt_winters(hist: &[(NaiveDate, f64)]) -> (f64, [f64; 7]) {
    let mut season = [0.0; 7];
    if hist.is_empty() {
        return (0.0, season);
    }
    let first = &hist[..hist.len().min(14)];
    let mut level = first.iter().map(|x| x.1).sum::<f64>() / first.len() as f64;
    let mut n = [0usize; 7];
    for (d, y) in first {
        let w = d.weekday().num_days_from_monday() as usize;
        season[w] += y - level;
        n[w] += 1;
    }
    for w in 0..7 {
        season[w] /= n[w].max(1) as f64;
    }
    let (alpha, gamma) = (0.1, 0.1);
    for (d, y) in hist {
        let w = d.weekday().num_days_from_monday() as usize;
        let prev = level;
        level = alpha * (y - season[w]) + (1.0 - alpha) * level;
        season[w] = gamma * (y - prev) + (1.0 - gamma) * season[w];
    }
    (level, season)
}

/// Each series' profile factors by day type (mean 1 over the week), pooled
/// towards its parent's. Parents are computed first (they come before their
/// children or are resolved recursively).
fn pooled_profiles(series: &[Series], origin: NaiveDate, kinds: &dyn DayKinds) -> Vec<[f64; 7]> {
    let mut done: Vec<Option<[f64; 7]>> = vec![None; series.len()];
    fn get(
        i: usize,
        series: &[Series],
        origin: NaiveDate,
        kinds: &dyn DayKinds,
        done: &mut Vec<Option<[f64; 7]>>,
        depth: usize,
    ) -> [f64; 7] {
        if let Some(p) = done[i] {
            return p;
        }
        let parent = match series[i].parent.filter(|&p| p != i && depth < 8) {
            Some(p) => get(p, series, origin, kinds, done, depth + 1),
            None => [1.0; 7],
        };
        let mut sum = [0.0; 7];
        let mut days = [0usize; 7];
        for (d, y) in seen(&series[i], origin, PROFILE_DAYS) {
            let t = day_type(d, kinds);
            sum[t] += y;
            days[t] += 1;
        }
        let total: f64 = sum.iter().sum();
        let n: usize = days.iter().sum();
        let mean = total / n.max(1) as f64;
        let mut f = [1.0; 7];
        for t in 0..7 {
            // Pseudo-stories: PROFILE_PRIOR spread by the parent's shape.
            let prior = PROFILE_PRIOR * parent[t] / 7.0;
            let expected = days[t] as f64 * mean;
            f[t] = if days[t] == 0 { parent[t] } else { (sum[t] + prior) / (expected + PROFILE_PRIOR / 7.0) };
        }
        let norm = f.iter().sum::<f64>() / 7.0;
        if norm > 0.0 {
            for x in &mut f {
                *x /= norm;
            }
        }
        done[i] = Some(f);
        f
    }
    (0..series.len()).map(|i| get(i, series, origin, kinds, &mut done, 0)).collect()
}

/// The level of `s` at `origin` from the days `use_day` admits: a weighted
/// recent mean of deseasonalized counts shrunk towards the long mean.
fn level(
    s: &Series,
    profile: &[f64; 7],
    origin: NaiveDate,
    kinds: &dyn DayKinds,
    use_day: &dyn Fn(NaiveDate) -> bool,
) -> (f64, usize) {
    let (mut wsum, mut wx, mut sum, mut n) = (0.0, 0.0, 0.0, 0usize);
    for (d, y) in seen(s, origin, LEVEL_DAYS) {
        if !use_day(d) {
            continue;
        }
        let x = y / profile[day_type(d, kinds)].max(0.05);
        let age = (origin - d).num_days() as f64 - 1.0;
        let w = 0.5f64.powf(age / HALF_LIFE);
        wsum += w;
        wx += w * x;
        sum += x;
        n += 1;
    }
    if n == 0 {
        return (0.0, 0);
    }
    let long = sum / n as f64;
    ((wx + LEVEL_PRIOR * long) / (wsum + LEVEL_PRIOR), n)
}

/// The dispersion (1/r of the negative binomial; 0 for Poisson) of each
/// series over its last eight weeks, shrunk towards its parent's.
fn dispersions(series: &[Series], profiles: &[[f64; 7]], origin: NaiveDate, kinds: &dyn DayKinds) -> Vec<f64> {
    let own: Vec<(f64, f64)> = series
        .iter()
        .zip(profiles)
        .map(|(s, p)| {
            let (l, _) = level(s, p, origin, kinds, &|_| true);
            let (mut sq, mut mu_sum, mut mu2, mut n) = (0.0, 0.0, 0.0, 0usize);
            for (d, y) in seen(s, origin, 56) {
                let mu = l * p[day_type(d, kinds)];
                sq += (y - mu) * (y - mu);
                mu_sum += mu;
                mu2 += mu * mu;
                n += 1;
            }
            if n == 0 || mu2 <= 0.0 {
                return (0.0, 0.0);
            }
            let excess = sq / n as f64 - mu_sum / n as f64;
            ((excess.max(0.0) / (mu2 / n as f64)).min(5.0), mu_sum)
        })
        .collect();
    series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (k, weight) = own[i];
            let parent = s.parent.map_or(k, |p| own[p].0);
            // The key's own estimate weighs by its stories, the parent's as 30.
            (k * weight + parent * 30.0) / (weight + 30.0)
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn pooled(
    s: &Series,
    profile: &[f64; 7],
    dispersion: f64,
    origin: NaiveDate,
    horizon: usize,
    kinds: &dyn DayKinds,
    out: &mut Vec<Point>,
) {
    let (all, _) = level(s, profile, origin, kinds, &|_| true);
    // Regime levels when the series has a regime and enough days of it.
    let regime_level = |inside: bool| -> Option<f64> {
        let r = s.regime?;
        let (l, n) = level(s, profile, origin, kinds, &|d| r.contains(d) == inside);
        (n >= 14).then_some(l)
    };
    let (inside, outside) = (regime_level(true), regime_level(false));
    // A jump: the last three days far above the level.
    let recent: Vec<(NaiveDate, f64)> = seen(s, origin, 3).collect();
    let recent_sum: f64 = recent.iter().map(|x| x.1).sum();
    let expected: f64 = recent.iter().map(|(d, _)| all * profile[day_type(*d, kinds)]).sum();
    let jump = recent.len() == 3
        && recent_sum >= 4.0
        && poisson_tail(recent_sum, expected.max(0.05)) < 0.005
        && recent_sum > expected;
    let recent_level = if jump {
        recent.iter().map(|(d, y)| y / profile[day_type(*d, kinds)].max(0.05)).sum::<f64>() / 3.0
    } else {
        all
    };
    for h in 0..horizon {
        let date = origin + Duration::days(h as i64);
        let base = match s.regime.map(|r| r.contains(date)) {
            Some(true) => inside.unwrap_or(all),
            Some(false) => outside.unwrap_or(all),
            None => all,
        };
        let l = if jump { base + (recent_level - all) * JUMP_DECAY.powi(h as i32 + 1) } else { base };
        let mu = (l * profile[day_type(date, kinds)]).max(0.0);
        let (median, lo, hi) = nb_quantiles(mu, dispersion);
        out.push(Point { key: s.key.clone(), date, forecast: median, mean: mu, lo80: lo, hi80: hi, dispersion });
    }
}

/// P(X ≥ k) for X ~ Poisson(mu).
fn poisson_tail(k: f64, mu: f64) -> f64 {
    let k = k.round() as u64;
    let mut p = (-mu).exp();
    let mut cdf = 0.0;
    for i in 0..k {
        cdf += p;
        p *= mu / (i + 1) as f64;
    }
    (1.0 - cdf).max(0.0)
}

fn poisson_interval(mu: f64) -> (f64, f64) {
    let (_, lo, hi) = nb_quantiles(mu.max(0.0), 0.0);
    (lo, hi)
}

/// Median and the [`INTERVAL`] percentiles of a negative binomial with mean `mu`
/// and dispersion `k` (variance mu + k·mu²; k = 0 is Poisson).
pub fn nb_quantiles(mu: f64, k: f64) -> (f64, f64, f64) {
    if mu <= 1e-9 {
        return (0.0, 0.0, 0.0);
    }
    // pmf by recurrence: p(0) and p(i+1)/p(i).
    let (mut p, ratio): (f64, Box<dyn Fn(u64) -> f64>) = if k < 1e-6 {
        ((-mu).exp(), Box::new(move |i| mu / (i + 1) as f64))
    } else {
        let r = 1.0 / k;
        let q = mu / (r + mu);
        ((1.0 - q).powf(r), Box::new(move |i| (i as f64 + r) / (i + 1) as f64 * q))
    };
    let mut cdf = 0.0;
    let (mut lo, mut med, mut hi) = (None, None, None);
    let mut i = 0u64;
    while hi.is_none() && i < 100_000 {
        cdf += p;
        if lo.is_none() && cdf >= INTERVAL.0 {
            lo = Some(i as f64);
        }
        if med.is_none() && cdf >= 0.5 {
            med = Some(i as f64);
        }
        if cdf >= INTERVAL.1 {
            hi = Some(i as f64);
        }
        p *= ratio(i);
        i += 1;
    }
    let hi = hi.unwrap_or(i as f64);
    (med.unwrap_or(hi), lo.unwrap_or(0.0), hi)
}

/// Scores of one method in a rolling-origin backtest.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    pub method: Method,
    pub name: &'static str,
    /// Mean over keys of MASE (errors scaled by the key's in-sample mean
    /// absolute weekly seasonal difference).
    pub mase: f64,
    /// `mase` divided by the seasonal naive's.
    pub relative: f64,
    /// Share of actual days within the 80 % interval.
    pub coverage: f64,
    /// MASE by horizon 1..=7.
    pub by_horizon: Vec<f64>,
}

/// The rolling-origin backtest: every day of the last `weeks` weeks (that
/// leaves `horizon` days observed) is an origin; keys whose mean count over
/// the backtest is below `min_mean` are left out of the averages.
pub fn backtest(
    series: &[Series],
    weeks: usize,
    horizon: usize,
    min_mean: f64,
    kinds: &dyn DayKinds,
) -> (Vec<Score>, usize) {
    let end = series.iter().map(Series::end).max().unwrap_or_default();
    let first_origin = end - Duration::days((weeks * 7) as i64);
    let last_origin = end - Duration::days(horizon as i64);
    // Keys that count, with their MASE scale from before the backtest.
    let scale: Vec<Option<f64>> = series
        .iter()
        .map(|s| {
            let test: Vec<f64> = (0..weeks * 7).map(|i| s.at(first_origin + Duration::days(i as i64))).collect();
            if test.iter().sum::<f64>() / (test.len().max(1) as f64) < min_mean {
                return None;
            }
            let train: Vec<f64> = seen(s, first_origin, usize::MAX).map(|x| x.1).collect();
            let diffs: Vec<f64> = train.windows(8).map(|w| (w[7] - w[0]).abs()).collect();
            let sc = diffs.iter().sum::<f64>() / diffs.len().max(1) as f64;
            (sc > 0.0).then_some(sc)
        })
        .collect();
    let keys = scale.iter().filter(|s| s.is_some()).count();
    let index: HashMap<&str, usize> = series.iter().enumerate().map(|(i, s)| (s.key.as_str(), i)).collect();
    let mut scores = Vec::new();
    for method in Method::ALL {
        let mut err = vec![0.0; series.len()];
        let mut n = vec![0usize; series.len()];
        let mut by_h = vec![(0.0, 0usize); horizon];
        let (mut covered, mut total) = (0usize, 0usize);
        let mut origin = first_origin;
        while origin <= last_origin {
            for p in forecast(series, origin, horizon, method, kinds) {
                let i = index[p.key.as_str()];
                let Some(sc) = scale[i] else { continue };
                let y = series[i].at(p.date);
                let e = (y - p.forecast).abs() / sc;
                err[i] += e;
                n[i] += 1;
                let h = (p.date - origin).num_days() as usize;
                by_h[h].0 += e;
                by_h[h].1 += 1;
                covered += usize::from(y >= p.lo80 && y <= p.hi80);
                total += 1;
            }
            origin += Duration::days(1);
        }
        let per_key: Vec<f64> = (0..series.len()).filter(|&i| n[i] > 0).map(|i| err[i] / n[i] as f64).collect();
        scores.push(Score {
            method,
            name: method.name(),
            mase: per_key.iter().sum::<f64>() / per_key.len().max(1) as f64,
            relative: 0.0,
            coverage: covered as f64 / total.max(1) as f64,
            by_horizon: by_h.iter().map(|(e, n)| e / (*n).max(1) as f64).collect(),
        });
    }
    let naive = scores[0].mase;
    for s in &mut scores {
        s.relative = if naive > 0.0 { s.mase / naive } else { 0.0 };
    }
    (scores, keys)
}

/// A key's topic and settlement: `*` is (None, None), `water` is
/// (Some("water"), None), `water|Заря` is (Some("water"), Some("Заря")).
pub fn key_parts(key: &str) -> (Option<&str>, Option<&str>) {
    match key.split_once('|') {
        _ if key == "*" => (None, None),
        Some((t, p)) => (Some(t), Some(p)),
        None => (Some(key), None),
    }
}

/// The store's daily counts of complaint-or-negative stories (distinct
/// reprint clusters) before `until`, from `since`: the district (`*`), each
/// topic (`water`) and each topic × settlement (`water|Величаевское`), in
/// parent-first order. `regime` marks the topics with a season of their own.
pub fn from_events(
    ev: &crate::events::Events,
    tz: chrono_tz::Tz,
    since: NaiveDate,
    until: NaiveDate,
    regime: &dyn Fn(&str) -> Option<Season>,
) -> Vec<Series> {
    use std::collections::{BTreeMap, HashSet};
    let days = (until - since).num_days().max(0) as usize;
    // Keys as (topic, place) indexes while counting: u16::MAX for "all".
    const ALL: u16 = u16::MAX;
    let mut seen: HashSet<(u16, u16, u32, u32)> = HashSet::new();
    let mut counts: HashMap<(u16, u16), Vec<f64>> = HashMap::new();
    let mut bump = |key: (u16, u16), day: usize, cluster: u32| {
        if seen.insert((key.0, key.1, day as u32, cluster)) {
            counts.entry(key).or_insert_with(|| vec![0.0; days])[day] += 1.0;
        }
    };
    // The events are in time order: only the span's are read (a day of
    // slack either side for the time zone).
    let lo = ev.events.partition_point(|e| {
        e.at < (since - Duration::days(1)).and_hms_opt(0, 0, 0).map_or(i64::MIN, |t| t.and_utc().timestamp())
    });
    let hi = ev.events.partition_point(|e| {
        e.at < (until + Duration::days(1)).and_hms_opt(0, 0, 0).map_or(i64::MAX, |t| t.and_utc().timestamp())
    });
    for e in &ev.events[lo..hi.max(lo)] {
        if !e.negative {
            continue;
        }
        let Some(at) = chrono::DateTime::from_timestamp(e.at, 0) else { continue };
        let d = at.with_timezone(&tz).date_naive();
        if d < since || d >= until {
            continue;
        }
        let day = (d - since).num_days() as usize;
        bump((ALL, ALL), day, e.cluster);
        for &(t, p) in ev.series_of(e) {
            bump((t, ALL), day, e.cluster);
            if p != crate::events::NO_PLACE {
                bump((t, p), day, e.cluster);
            }
        }
    }
    let mut counts: BTreeMap<String, Vec<f64>> = counts
        .into_iter()
        .map(|((t, p), c)| {
            let key = match (t, p) {
                (ALL, _) => "*".to_string(),
                (t, ALL) => ev.topics[t as usize].clone(),
                (t, p) => format!("{}|{}", ev.topics[t as usize], ev.place_name(p).unwrap_or("")),
            };
            (key, c)
        })
        .collect();
    counts.entry("*".into()).or_insert_with(|| vec![0.0; days]);
    // Parent-first: the district, the topics, then the settlements.
    let mut keys: Vec<String> = counts.keys().cloned().collect();
    keys.sort_by_key(|k| (k != "*", k.contains('|'), k.clone()));
    let mut out: Vec<Series> = Vec::with_capacity(keys.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    for k in keys {
        let c = counts.remove(&k).unwrap_or_default();
        let topic = k.split('|').next().unwrap_or("").to_string();
        let mut s = Series::new(k.clone(), since, c);
        s.parent = if k == "*" {
            None
        } else if k.contains('|') {
            index.get(&topic).copied().or(Some(0))
        } else {
            Some(0)
        };
        if k != "*" {
            s.regime = regime(&topic);
        }
        index.insert(k, out.len());
        out.push(s);
    }
    out
}

/// Series from `date,key,count` rows: each key from the first day of the
/// file to its last, missing days zero. A key `topic|place` pools towards
/// the key `topic` when the file has it, every other key towards the total
/// (the key `*`, added as the sum of the others when absent).
pub fn from_rows(rows: &[(NaiveDate, String, f64)]) -> Vec<Series> {
    let (Some(first), Some(last)) = (rows.iter().map(|r| r.0).min(), rows.iter().map(|r| r.0).max()) else {
        return Vec::new();
    };
    let days = (last - first).num_days() as usize + 1;
    let mut by_key: std::collections::BTreeMap<&str, Vec<f64>> = std::collections::BTreeMap::new();
    for (d, k, c) in rows {
        by_key.entry(k.as_str()).or_insert_with(|| vec![0.0; days])[(*d - first).num_days() as usize] += c;
    }
    let mut out: Vec<Series> = Vec::new();
    let total = match by_key.get("*") {
        Some(_) => None,
        None => {
            let mut t = vec![0.0; days];
            for c in by_key.values() {
                for (a, b) in t.iter_mut().zip(c) {
                    *a += b;
                }
            }
            Some(t)
        }
    };
    if let Some(t) = total {
        out.push(Series::new("*", first, t));
    }
    for (k, c) in by_key {
        out.push(Series::new(k, first, c));
    }
    let root = out.iter().position(|s| s.key == "*");
    let index: HashMap<String, usize> = out.iter().enumerate().map(|(i, s)| (s.key.clone(), i)).collect();
    for s in &mut out {
        if s.key != "*" {
            s.parent = s.key.rsplit_once('|').and_then(|(up, _)| index.get(up).copied()).or(root);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn seasons_run_over_the_new_year() {
        let h = Season::parse("10-15..04-15").unwrap();
        assert_eq!(h, Season::HEATING);
        assert!(h.contains(day("2026-01-10")) && h.contains(day("2026-10-15")) && !h.contains(day("2026-07-01")));
        assert!(Season::parse("02-30..04-01").is_none());
    }

    #[test]
    fn quantiles_of_counts() {
        assert_eq!(nb_quantiles(0.0, 0.3), (0.0, 0.0, 0.0));
        let (med, lo, hi) = nb_quantiles(10.0, 0.0);
        assert_eq!((med, lo, hi), (10.0, 7.0, 13.0), "Poisson(10) at the 14th and 86th percentiles");
        let (_, lo2, hi2) = nb_quantiles(10.0, 0.5);
        assert!(lo2 < lo && hi2 > hi, "overdispersed is wider: {lo2} {hi2}");
    }

    #[test]
    fn a_weekly_pattern_is_forecast_and_only_the_past_is_seen() {
        // Weekdays 6, weekends 1, for twelve weeks from a Monday.
        let start = day("2026-08-03");
        let counts: Vec<f64> = (0..84).map(|i| if i % 7 >= 5 { 1.0 } else { 6.0 }).collect();
        let mut s = vec![Series::new("water|Заря", start, counts)];
        let origin = start + Duration::days(84);
        let f = forecast(&s, origin, 7, Method::Pooled, &Weekends);
        assert_eq!(f.len(), 7);
        assert!((f[0].mean - 6.0).abs() < 0.5 && (f[5].mean - 1.0).abs() < 0.5, "{f:?}");
        assert!(f[0].lo80 <= 6.0 && f[0].hi80 >= 6.0);
        // Later days do not change a forecast from an earlier origin.
        s[0].counts.extend([50.0; 14]);
        assert_eq!(forecast(&s, origin, 7, Method::Pooled, &Weekends), f);
        // The burst itself is a jump the next forecast starts from.
        let later = forecast(&s, origin + Duration::days(3), 2, Method::Pooled, &Weekends);
        assert!(later[0].mean > 20.0, "{later:?}");
        assert!(later[1].mean < later[0].mean, "decays back");
    }

    #[test]
    fn a_sparse_series_borrows_its_parents_week() {
        let start = day("2026-08-03");
        let parent: Vec<f64> = (0..84).map(|i| if i % 7 == 0 { 30.0 } else { 5.0 }).collect();
        let child: Vec<f64> = (0..84).map(|i| if i == 14 || i == 42 { 1.0 } else { 0.0 }).collect();
        let mut s = vec![Series::new("water", start, parent), Series::new("water|Заря", start, child)];
        s[1].parent = Some(0);
        let f = forecast(&s, start + Duration::days(84), 7, Method::Pooled, &Weekends);
        let child: Vec<&Point> = f.iter().filter(|p| p.key == "water|Заря").collect();
        assert!(child[0].mean > 2.0 * child[1].mean, "Mondays heavier, as the parent's: {child:?}");
    }

    #[test]
    fn keys_name_their_topic_and_settlement() {
        assert_eq!(key_parts("*"), (None, None));
        assert_eq!(key_parts("water"), (Some("water"), None));
        assert_eq!(key_parts("water|Заря"), (Some("water"), Some("Заря")));
    }

    #[test]
    fn rows_become_series_with_a_total() {
        let rows = vec![
            (day("2026-01-01"), "a".to_string(), 2.0),
            (day("2026-01-03"), "b".to_string(), 1.0),
            (day("2026-01-03"), "a".to_string(), 1.0),
        ];
        let s = from_rows(&rows);
        assert_eq!(s.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(), ["*", "a", "b"]);
        assert_eq!(s[0].counts, [2.0, 0.0, 2.0]);
        assert_eq!(s[1].counts, [2.0, 0.0, 1.0]);
        assert_eq!(s[2].parent, Some(0));
        let nested =
            from_rows(&[(day("2026-01-01"), "water".into(), 2.0), (day("2026-01-01"), "water|Заря".into(), 1.0)]);
        assert_eq!(nested[2].key, "water|Заря");
        assert_eq!(nested[2].parent, Some(1), "a settlement pools towards its topic");
    }
}

/// Generated multi-month districts for the backtest: complaint counts per
/// topic × settlement, topic and district, with what real ones have and the
/// method is not told: weekly shapes that differ by topic, Russian holidays
/// quieter (as `kinds` says), seasons (heating from mid-October with a burst
/// in its first weeks, roads in the spring thaw, water in the summer heat,
/// waste after the New Year holidays), incidents (bursts that decay over
/// days), slow drifts, and negative-binomial noise of varying dispersion.
pub mod generate {
    use super::*;
    use crate::scenario::Rng;

    /// A topic's season: its multiplier on a date.
    type Shape = fn(NaiveDate) -> f64;

    fn heating(d: NaiveDate) -> f64 {
        let doy = d.ordinal() as i64;
        // 15 October = day 288; the first three weeks of the season burst.
        if (288..=309).contains(&doy) {
            4.0
        } else if doy >= 288 || doy <= 105 {
            1.8
        } else {
            0.25
        }
    }
    fn roads(d: NaiveDate) -> f64 {
        if matches!(d.month(), 3 | 4) { 2.2 } else { 1.0 }
    }
    fn water(d: NaiveDate) -> f64 {
        if matches!(d.month(), 6..=8) { 2.0 } else { 1.0 }
    }
    fn waste(d: NaiveDate) -> f64 {
        if d.month() == 1 && d.day() <= 14 { 2.5 } else { 1.0 }
    }
    fn flat(_: NaiveDate) -> f64 {
        1.0
    }

    const TOPICS: [(&str, f64, Shape); 6] = [
        ("heating", 2.0, heating),
        ("roads", 3.0, roads),
        ("water", 2.5, water),
        ("waste", 2.0, waste),
        ("housing", 3.5, flat),
        ("improvement", 2.5, flat),
    ];

    /// One district of `places` settlements over `days` days from `start`:
    /// series in parent-first order (the district, each topic, each topic ×
    /// settlement), `scale` times the base rates.
    /// A district's series as `date,key,count` rows (zero days left out), the
    /// form `glas forecast --series` reads.
    pub fn to_csv(series: &[Series]) -> String {
        let mut out = String::from("date,key,count\n");
        for s in series {
            for (i, c) in s.counts.iter().enumerate() {
                if *c > 0.0 {
                    out.push_str(&format!("{},{},{c}\n", s.start + Duration::days(i as i64), s.key));
                }
            }
        }
        out
    }

    pub fn district(
        seed: u64,
        start: NaiveDate,
        days: usize,
        places: usize,
        scale: f64,
        kinds: &dyn DayKinds,
    ) -> Vec<Series> {
        let mut rng = Rng::new(seed);
        let sizes: Vec<f64> = (0..places).map(|i| (1.0 / (i + 1) as f64).powf(0.8) * (0.6 + 0.8 * rng.f())).collect();
        let size_sum: f64 = sizes.iter().sum();
        let mut out = vec![Series::new("*", start, vec![0.0; days])];
        for (t, (topic, base, season)) in TOPICS.iter().enumerate() {
            // The topic's weekly shape: quieter weekends, a random tilt.
            let mut week = [1.0; 7];
            for (w, x) in week.iter_mut().enumerate() {
                *x = if w >= 5 { 0.45 + 0.3 * rng.f() } else { 0.85 + 0.4 * rng.f() };
            }
            let holiday = 0.5 + 0.3 * rng.f();
            let topic_index = out.len();
            out.push(Series::new(*topic, start, vec![0.0; days]));
            out[topic_index].parent = Some(0);
            if *topic == "heating" {
                out[topic_index].regime = Some(super::Season::HEATING);
            }
            for (p, size) in sizes.iter().enumerate() {
                let rate0 = base * scale * size / size_sum * places as f64 / 4.0;
                let dispersion = 0.05 + 0.5 * rng.f();
                let drift_period = 60.0 + 120.0 * rng.f();
                let drift_phase = rng.f() * std::f64::consts::TAU;
                // Incidents: about one every 50 days on a busy key.
                let mut excess = 0.0;
                let mut counts = Vec::with_capacity(days);
                for i in 0..days {
                    let d = start + Duration::days(i as i64);
                    if rng.f() < (rate0 / 60.0).min(0.03) {
                        excess += rate0 * (2.0 + 6.0 * rng.f()) + 2.0;
                    }
                    let day = match kinds.exception(d) {
                        Some(true) => week[6] * holiday,
                        Some(false) => week[2],
                        None => week[d.weekday().num_days_from_monday() as usize],
                    };
                    let drift = 1.0 + 0.25 * ((i as f64) * std::f64::consts::TAU / drift_period + drift_phase).sin();
                    let mu = rate0 * season(d) * day * drift + excess * day;
                    excess *= 0.55 + 0.25 * rng.f();
                    counts.push(nb_draw(&mut rng, mu, dispersion));
                }
                let mut s = Series::new(format!("{topic}|p{p:02}"), start, counts);
                s.parent = Some(topic_index);
                if *topic == "heating" {
                    s.regime = Some(super::Season::HEATING);
                }
                for (a, b) in out[topic_index].counts.iter_mut().zip(&s.counts) {
                    *a += b;
                }
                out.push(s);
            }
            let topic_counts = out[topic_index].counts.clone();
            for (a, b) in out[0].counts.iter_mut().zip(&topic_counts) {
                *a += b;
            }
            let _ = t;
        }
        out
    }

    /// A negative binomial draw (Poisson with a gamma-distributed rate).
    fn nb_draw(rng: &mut Rng, mu: f64, k: f64) -> f64 {
        if mu <= 0.0 {
            return 0.0;
        }
        let shape = 1.0 / k;
        let g = gamma(rng, shape) / shape;
        rng.poisson(mu * g) as f64
    }

    /// Gamma(shape, 1) by Marsaglia and Tsang.
    fn gamma(rng: &mut Rng, shape: f64) -> f64 {
        if shape < 1.0 {
            return gamma(rng, shape + 1.0) * rng.f().max(1e-12).powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let z = (-2.0 * rng.f().max(1e-12).ln()).sqrt() * (2.0 * std::f64::consts::PI * rng.f()).cos();
            let v = (1.0 + c * z).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = rng.f();
            if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
}

/// Writes `points` as `key,date,forecast,lo80,hi80` to `csv` and, when
/// given, to `parquet`, each replaced whole (a reader never sees half).
pub fn write(
    points: &[Point],
    csv: &std::path::Path,
    parquet: Option<&std::path::Path>,
) -> Result<(), crate::AnalyticsError> {
    use polars::prelude::*;
    let mut df = DataFrame::new(
        points.len(),
        vec![
            Column::new("key".into(), points.iter().map(|p| p.key.as_str()).collect::<Vec<_>>()),
            Column::new("date".into(), points.iter().map(|p| p.date.to_string()).collect::<Vec<_>>()),
            Column::new("forecast".into(), points.iter().map(|p| p.forecast).collect::<Vec<_>>()),
            Column::new("lo80".into(), points.iter().map(|p| p.lo80).collect::<Vec<_>>()),
            Column::new("hi80".into(), points.iter().map(|p| p.hi80).collect::<Vec<_>>()),
        ],
    )?;
    if let Some(dir) = csv.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| crate::AnalyticsError::io("create folder", dir, e))?;
    }
    crate::trends::replace(csv, |f| CsvWriter::new(f).finish(&mut df))?;
    if let Some(pq) = parquet {
        crate::trends::replace(pq, |f| ParquetWriter::new(f).finish(&mut df).map(|_| ()))?;
    }
    Ok(())
}
