//! Early crisis signals, computed as if live at every step: only mentions
//! published at or before a step are seen there (no look-ahead).
//!
//! Kinds (see `SIGNALS.md` in the repository for the full method):
//!
//! - `tension`: a topic × place series whose negative stories rise above
//!   what is usual for it at this hour and weekday. The count `x` is taken
//!   over a short (6 h) and a long (24 h) window: distinct negative stories
//!   (a reprint cluster counts once, at its first negative appearance), at
//!   most two per author or source (one angry author cannot make a crisis),
//!   none from accounts caught in coordinated activity. The expected count
//!   `μ` is the series' exponentially weighted hourly rate (half-life
//!   `baseline`), learned only from hours that have left the long window and
//!   normalized by the district's hour-of-day × weekday rhythm, times the
//!   rhythm of the window's hours. New series borrow a pooled rate (the topic
//!   across all places × the place across all topics ÷ the district) until
//!   about a week of their own history outweighs it. The score is
//!   SigniTrend's `z = (x − max(β, μ)) / (σ + β)` with `σ² = μ + κμ²`, and
//!   beside it the tail `p = P(X ≥ x)` of a negative binomial with that
//!   variance (the bias keeps `z` low for the few stories that are already
//!   rare in a quiet series). A window fires when `z ≥ open_score` or
//!   `p ≤ max_p`, `x ≥ min` (per window), `x ≥ ratio·μ`, at
//!   least `min_voices` voices spoke and negative mentions are at least
//!   `min_negative_share` of the series' mentions in the window.
//! - `emerging`: a word or word pair (of mentions that fit no configured
//!   topic) whose negative stories in a day burst above its own usual rate.
//!   Terms of one issue ("новый тариф", "тариф", "тариф вывоз") share their
//!   evidence and make one episode.
//! - `coordinated`: one text posted by at least `coordinated_min` voices
//!   within 6 hours, most of them accounts first seen in the last 48 hours.
//!   Reported (not an alarm); those accounts stop counting towards tension.
//!
//! Every signal has a life: `params.phase` is `opened`, `escalated` (its
//! severity rose) or `resolved` (its score stayed below `close_score` for
//! `quiet`). While an episode is open, the series' baseline does not learn
//! from it, so a long episode stays one episode.
//!
//! Incremental: mentions are walked once in time order, step by step
//! (`rules.step`, 15 minutes by default; baselines are kept per hour); each
//! series keeps the mentions of its long window in a queue and its baseline
//! as two running sums, so evaluating a step costs the series that have
//! something in their window, not the history.

use std::collections::{HashMap, HashSet, VecDeque};

use polars::prelude::PlHashMap;

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use glas_core::config::SignalRules;
use glas_core::{Severity, Signal};

use crate::events::{Event, Events, NO_PLACE};

/// Over-dispersion κ of the count's variance: real complaints come in
/// clumps, so `σ² = μ + κμ²` rather than Poisson's `μ`.
pub const KAPPA: f64 = 0.2;
/// Weight, in hours, of the pooled prior in a series' rate.
const PRIOR_HOURS: f64 = 168.0;
/// Stories one voice can add to a window's count.
const PER_VOICE: usize = 2;
/// Window over which coordinated posting is looked for, and what makes an
/// account fresh.
const COORD_WINDOW: i64 = 6 * 3600;
const FRESH: i64 = 48 * 3600;
/// Share of fresh accounts among the posters of a text that makes it coordinated.
const FRESH_SHARE: f64 = 0.6;
/// Window of emerging terms.
const TERM_WINDOW: i64 = 24 * 3600;
/// Evidence ids kept per signal.
const EVIDENCE: usize = 20;

const H: i64 = 3600;

/// Signals at every `rules.step` of `(from, to]`; see [`detect_stepped`].
pub fn detect(
    events: &Events,
    rules: &SignalRules,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Vec<Signal> {
    detect_stepped(events, rules, from, to, tz, rules.step)
}

/// A step as the detector takes it, in seconds: whole hours from an hour
/// up; below, the longest whole minutes not above it that divide an hour
/// (so every hour's end is a step).
pub fn step_seconds(step: Duration) -> i64 {
    match step.num_seconds() {
        s if s >= H => s / H * H,
        s => (1..=s.max(60) / 60).rev().map(|m| m * 60).find(|d| H % d == 0).unwrap_or(60),
    }
}

/// What made a window fire: `(z, window, its minimum, its span, μ)`.
type Firing = (f64, Window, u32, Duration, f64);

/// The end of the hour bin a moment falls in: bins are `(end − 1h, end]`.
fn bin_end(at: i64) -> i64 {
    (at + H - 1).div_euclid(H) * H
}

/// An exponentially weighted rate per hour: `s` counts, `w` hours of
/// exposure, both decayed to hour `at`.
#[derive(Debug, Clone, Copy, Default)]
struct Ew {
    s: f64,
    w: f64,
    at: i64,
}

impl Ew {
    fn advance(&mut self, to: i64, lambda: f64) {
        if self.at == 0 {
            self.at = to;
            return;
        }
        let hours = (to - self.at) / H;
        if hours > 0 {
            let d = lambda.powi(hours.min(100_000) as i32);
            self.s *= d;
            self.w = self.w * d + (1.0 - d) / (1.0 - lambda);
            self.at = to;
        }
    }
    fn add(&mut self, at: i64, v: f64, lambda: f64) {
        self.advance(at, lambda);
        self.s += v;
    }
    /// (counts, exposure) as they would be at `to`, without changing state.
    fn at(&self, to: i64, lambda: f64) -> (f64, f64) {
        let mut c = *self;
        c.advance(to, lambda);
        (c.s, c.w)
    }
}

/// The district's hour-of-day × weekday rhythm, from every mention seen.
struct Rhythm {
    hod: [f64; 24],
    dow: [f64; 7],
    first: i64,
    last: i64,
}

impl Rhythm {
    fn add(&mut self, e: &Event) {
        self.hod[(e.how % 24) as usize] += 1.0;
        self.dow[(e.how / 24) as usize] += 1.0;
        if self.first == 0 {
            self.first = e.at;
        }
        self.last = e.at;
    }
    /// Factor of an hour of the week (1 = average), flat for the first week.
    fn factor(&self, how: u8) -> f64 {
        if self.last - self.first < 7 * 24 * H {
            return 1.0;
        }
        let mh = self.hod.iter().sum::<f64>() / 24.0;
        let md = self.dow.iter().sum::<f64>() / 7.0;
        let f = (self.hod[(how % 24) as usize] / mh.max(1e-9)) * (self.dow[(how / 24) as usize] / md.max(1e-9));
        f.clamp(0.25, 4.0)
    }
}

/// A mention in a series' queue.
#[derive(Clone, Copy)]
struct Item {
    /// When it was published: it leaves a window of span `w` at `at + w`.
    at: i64,
    ev: u32,
    /// A negative story that counts (first of its cluster, not coordinated).
    counted: bool,
}

#[derive(Default)]
struct Episode {
    open: bool,
    severity: Option<Severity>,
    last_hot: i64,
    /// Open but silent: most of its stories are the evidence of another
    /// series' episode (one post about water and the administration is one
    /// wave, not two alarms).
    joined: bool,
    /// The stories it shared with announced episodes (event order): they
    /// stay shared when those episodes resolve first.
    shared: Vec<u32>,
}

struct Series {
    topic: u16,
    place: u16,
    /// The long window's mentions; `items[short_from..]` are the short window's.
    items: VecDeque<Item>,
    short_from: usize,
    short: Running,
    long: Running,
    counted: usize,
    ew: Ew,
    episode: Episode,
}

/// Counts of one window of a series.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    x: usize,
    voices: usize,
    negatives: usize,
    total: usize,
}

/// A window's counts kept as mentions enter and leave it, so a step reads
/// them without walking the window.
#[derive(Default)]
struct Running {
    total: usize,
    negatives: usize,
    /// Counted stories, at most [`PER_VOICE`] per voice.
    x: usize,
    negative_voices: usize,
    /// Per voice: counted stories, negative mentions.
    voices: PlHashMap<u32, (u32, u32)>,
}

impl Running {
    fn enter(&mut self, voice: u32, negative: bool, counted: bool) {
        self.total += 1;
        if !(negative || counted) {
            return;
        }
        let v = self.voices.entry(voice).or_default();
        if counted {
            v.0 += 1;
            if v.0 as usize <= PER_VOICE {
                self.x += 1;
            }
        }
        if negative {
            if v.1 == 0 {
                self.negative_voices += 1;
            }
            v.1 += 1;
            self.negatives += 1;
        }
    }

    fn leave(&mut self, voice: u32, negative: bool, counted: bool) {
        self.total -= 1;
        if !(negative || counted) {
            return;
        }
        let Some(v) = self.voices.get_mut(&voice) else { return };
        if counted {
            if v.0 as usize <= PER_VOICE {
                self.x -= 1;
            }
            v.0 -= 1;
        }
        if negative {
            v.1 -= 1;
            if v.1 == 0 {
                self.negative_voices -= 1;
            }
            self.negatives -= 1;
        }
        if *v == (0, 0) {
            self.voices.remove(&voice);
        }
    }

    fn window(&self) -> Window {
        Window { x: self.x, voices: self.negative_voices, negatives: self.negatives, total: self.total }
    }
}

struct Walk<'a> {
    ev: &'a Events,
    rules: &'a SignalRules,
    tz: chrono_tz::Tz,
    lambda: f64,
    rhythm: Rhythm,
    /// Rhythm factor of each hour bin, by bin end.
    factors: PlHashMap<i64, f64>,
    series: Vec<Series>,
    index: PlHashMap<(u16, u16), usize>,
    /// Pools: per topic, per place, the district; fed as stories leave the long window.
    pool_topic: PlHashMap<u16, Ew>,
    pool_place: PlHashMap<u16, Ew>,
    pool_all: Ew,
    pool_queue: VecDeque<Item>,
    counted_cluster: Vec<bool>,
    termed_cluster: Vec<bool>,
    first_seen: Vec<i64>,
    flagged_voice: Vec<bool>,
    flagged_cluster: Vec<bool>,
    cluster_recent: PlHashMap<u32, Vec<u32>>,
    coord_pending: Vec<u32>,
    /// State of each interned term, and the terms that have any.
    terms: Vec<Term>,
    live_terms: Vec<u32>,
    /// Terms given a story since the last evaluation, each once: a term's
    /// `touched` equals `touch_stamp` while it is listed.
    touched: Vec<u32>,
    touch_stamp: u32,
    emerging: Vec<EmergingEpisode>,
    out: Vec<Signal>,
}

#[derive(Default)]
struct Term {
    items: VecDeque<Item>,
    /// Negative stories among `items`.
    negatives: usize,
    ew: Ew,
    /// In `live_terms`.
    live: bool,
    /// Stamp of the evaluation it was last listed for (see `Walk::touched`).
    touched: u32,
}

struct EmergingEpisode {
    /// Interned term id (see [`crate::events::Terms`]).
    term: u32,
    stories: HashSet<u32>,
    last_hot: i64,
    severity: Severity,
    resolved: bool,
}

/// Signals at every `step` of `(from, to]`, as if live at each step.
/// A step shorter than an hour is taken as the nearest whole minutes that
/// divide an hour (15 min, 10 min...); a longer one as whole hours.
pub fn detect_stepped(
    events: &Events,
    rules: &SignalRules,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: chrono_tz::Tz,
    step: Duration,
) -> Vec<Signal> {
    // Moments the walk stops at: every step, and every hour end (baselines
    // and rhythm are kept per hour).
    let step = step_seconds(step);
    let tick = step.min(H);
    let half_life_h = (rules.baseline.num_seconds() as f64 / H as f64).max(1.0);
    let mut w = Walk {
        ev: events,
        rules,
        tz,
        lambda: 0.5f64.powf(1.0 / half_life_h),
        rhythm: Rhythm { hod: [0.0; 24], dow: [0.0; 7], first: 0, last: 0 },
        factors: PlHashMap::default(),
        series: Vec::new(),
        index: PlHashMap::default(),
        pool_topic: PlHashMap::default(),
        pool_place: PlHashMap::default(),
        pool_all: Ew::default(),
        pool_queue: VecDeque::new(),
        counted_cluster: vec![false; events.clusters as usize],
        termed_cluster: vec![false; events.clusters as usize],
        first_seen: vec![i64::MIN; events.voices as usize],
        flagged_voice: vec![false; events.voices as usize],
        flagged_cluster: vec![false; events.clusters as usize],
        cluster_recent: PlHashMap::default(),
        coord_pending: Vec::new(),
        terms: std::iter::repeat_with(Term::default).take(events.term_table.len()).collect(),
        live_terms: Vec::new(),
        touched: Vec::new(),
        touch_stamp: 1,
        emerging: Vec::new(),
        out: Vec::new(),
    };
    let Some(first) = events.events.first() else { return Vec::new() };
    let (from, to) = (from.timestamp(), to.timestamp());
    let start = from.div_euclid(step) * step + step;
    let warm_until = bin_end(first.at) + rules.warmup.num_seconds();
    let up = |at: i64, unit: i64| (at + unit - 1).div_euclid(unit) * unit;
    let mut next = 0usize;
    let mut t = up(first.at, tick).min(start);
    while t <= to {
        while next < events.events.len() && events.events[next].at <= t {
            w.ingest(next as u32);
            next += 1;
        }
        w.leave(t);
        if t >= start && (t - start) % step == 0 && t >= warm_until {
            w.evaluate(t);
        } else if t < warm_until || t < start {
            // Nothing is reported before the warm-up ends or before `from`;
            // between coarser steps, what happened waits for the next one.
            w.touched.clear();
            w.touch_stamp += 1;
            w.coord_pending.clear();
        }
        // Jump over idle hours: nothing is in any window and nothing is open.
        let idle = w.pool_queue.is_empty()
            && w.series.iter().all(|s| s.items.is_empty() && !s.episode.open)
            && w.emerging.iter().all(|e| e.resolved);
        t += tick;
        if idle && let Some(e) = events.events.get(next) {
            let jump = up(e.at, tick);
            if jump > t {
                t = if jump >= start { start + (jump - start).div_euclid(step) * step } else { jump }.max(t);
            }
        }
    }
    let mut out = w.out;
    out.sort_by(|a, b| {
        a.detected_at
            .cmp(&b.detected_at)
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.topic.cmp(&b.topic))
            .then_with(|| a.place.cmp(&b.place))
    });
    out
}

impl<'a> Walk<'a> {
    fn e(&self, i: u32) -> &'a Event {
        &self.ev.events[i as usize]
    }

    /// The rhythm summed over the window `(t − span, t]`, hour bins cut at
    /// its ends pro rata: the hours' worth of usual activity it holds.
    fn factor_sum(&mut self, t: i64, span: i64) -> f64 {
        let hours = span / H;
        let into = t.rem_euclid(H);
        if into == 0 {
            return (0..hours).map(|h| self.factor_of_bin(t - h * H)).sum();
        }
        let end = bin_end(t);
        let part = into as f64 / H as f64;
        let mut sum = part * self.factor_of_bin(end);
        for h in 1..hours {
            sum += self.factor_of_bin(end - h * H);
        }
        sum + (1.0 - part) * self.factor_of_bin(end - hours * H)
    }

    fn factor_of_bin(&mut self, end: i64) -> f64 {
        if let Some(f) = self.factors.get(&end) {
            return *f;
        }
        let local = self.tz.from_utc_datetime(&DateTime::from_timestamp(end - 1, 0).unwrap_or_default().naive_utc());
        let how = (local.weekday().num_days_from_monday() * 24 + local.hour()) as u8;
        let f = self.rhythm.factor(how);
        if self.factors.len() > 200 {
            self.factors.retain(|k, _| *k > end - 48 * H);
        }
        self.factors.insert(end, f);
        f
    }

    fn ingest(&mut self, i: u32) {
        let e = *self.e(i);
        self.rhythm.add(&e);
        let v = e.voice as usize;
        if self.first_seen[v] == i64::MIN {
            self.first_seen[v] = e.at;
        }
        // Coordinated activity: one text from many fresh accounts.
        let c = e.cluster as usize;
        // Only a text posted often enough in all can ever be coordinated.
        if self.ev.cluster_sizes[c] >= self.rules.coordinated_min {
            self.track_cluster(i, &e);
        }
        let counted = e.negative && !self.counted_cluster[c] && !self.flagged_voice[v] && !self.flagged_cluster[c];
        if e.negative && !self.counted_cluster[c] {
            self.counted_cluster[c] = true;
        }
        let item = Item { at: e.at, ev: i, counted };
        for &(topic, place) in self.ev.series_of(&e) {
            let n = self.series.len();
            let k = *self.index.entry((topic, place)).or_insert(n);
            if k == n {
                self.series.push(Series {
                    topic,
                    place,
                    items: VecDeque::new(),
                    short_from: 0,
                    short: Running::default(),
                    long: Running::default(),
                    counted: 0,
                    ew: Ew::default(),
                    episode: Episode::default(),
                });
            }
            let s = &mut self.series[k];
            s.items.push_back(item);
            s.short.enter(e.voice, e.negative, counted);
            s.long.enter(e.voice, e.negative, counted);
            s.counted += usize::from(counted);
        }
        if counted {
            self.pool_queue.push_back(item);
        }
        // Terms of topic-less mentions: each story once, at its first mention.
        let first_of_story = !self.termed_cluster[c] && !self.flagged_cluster[c] && !self.flagged_voice[v];
        self.termed_cluster[c] = true;
        if first_of_story && e.t1 > e.t0 {
            for &term in self.ev.terms_of(&e) {
                let st = &mut self.terms[term as usize];
                if !st.live {
                    st.live = true;
                    self.live_terms.push(term);
                }
                st.items.push_back(Item { at: e.at, ev: i, counted: e.negative });
                st.negatives += usize::from(e.negative);
                if st.touched != self.touch_stamp {
                    st.touched = self.touch_stamp;
                    self.touched.push(term);
                }
            }
        }
    }

    /// Coordinated activity: one text from many fresh accounts within [`COORD_WINDOW`].
    fn track_cluster(&mut self, i: u32, e: &Event) {
        let c = e.cluster as usize;
        let recent = self.cluster_recent.entry(e.cluster).or_default();
        recent.retain(|&j| self.ev.events[j as usize].at > e.at - COORD_WINDOW);
        recent.push(i);
        if !self.flagged_cluster[c] && recent.len() >= self.rules.coordinated_min as usize {
            let mut voices: Vec<u32> = recent.iter().map(|&j| self.ev.events[j as usize].voice).collect();
            voices.sort_unstable();
            voices.dedup();
            let fresh = voices.iter().filter(|&&v| self.first_seen[v as usize] > e.at - FRESH).count();
            let history = e.at - self.rhythm.first;
            if voices.len() >= self.rules.coordinated_min as usize
                && history >= FRESH
                && fresh as f64 >= FRESH_SHARE * voices.len() as f64
            {
                self.flagged_cluster[c] = true;
                for &v in &voices {
                    self.flagged_voice[v as usize] = true;
                }
                self.coord_pending.push(e.cluster);
            }
        }
    }

    /// Moves what has left the long window into the baselines.
    fn leave(&mut self, t: i64) {
        let long = self.rules.long_window.num_seconds();
        let short = self.rules.window.num_seconds();
        let lambda = self.lambda;
        let ev: &'a Events = self.ev;
        let events = &ev.events;
        for k in 0..self.series.len() {
            let s = &mut self.series[k];
            while let Some(it) = s.items.get(s.short_from).copied() {
                if it.at > t - short {
                    break;
                }
                let e = &events[it.ev as usize];
                s.short.leave(e.voice, e.negative, it.counted);
                s.short_from += 1;
            }
            while let Some(it) = self.series[k].items.front().copied() {
                if it.at > t - long {
                    break;
                }
                let s = &mut self.series[k];
                s.items.pop_front();
                let e = &events[it.ev as usize];
                s.long.leave(e.voice, e.negative, it.counted);
                if s.short_from > 0 {
                    s.short_from -= 1;
                } else {
                    // A short window longer than the long one: leave both.
                    s.short.leave(e.voice, e.negative, it.counted);
                }
                if it.counted {
                    let end = bin_end(it.at);
                    let f = self.factor_of_bin(end);
                    let s = &mut self.series[k];
                    s.counted -= 1;
                    // An open episode does not teach its series what is usual.
                    let v = if s.episode.open { 0.0 } else { 1.0 / f };
                    s.ew.add(end, v, lambda);
                }
            }
        }
        while let Some(it) = self.pool_queue.front().copied() {
            if it.at > t - long {
                break;
            }
            self.pool_queue.pop_front();
            let end = bin_end(it.at);
            let f = self.factor_of_bin(end);
            let e = self.e(it.ev);
            let series = self.ev.series_of(e);
            // Nor does it teach the pools.
            if series.iter().any(|k| self.index.get(k).is_some_and(|&i| self.series[i].episode.open)) {
                continue;
            }
            let mut seen_t: Vec<u16> = Vec::new();
            let mut seen_p: Vec<u16> = Vec::new();
            for &(tp, pl) in series {
                if !seen_t.contains(&tp) {
                    seen_t.push(tp);
                    self.pool_topic.entry(tp).or_default().add(end, 1.0 / f, lambda);
                }
                if !seen_p.contains(&pl) {
                    seen_p.push(pl);
                    self.pool_place.entry(pl).or_default().add(end, 1.0 / f, lambda);
                }
            }
            self.pool_all.add(end, 1.0 / f, lambda);
        }
    }

    fn rate(&self, ew: Option<&Ew>, at: i64) -> f64 {
        match ew {
            Some(ew) => {
                let (s, w) = ew.at(at, self.lambda);
                if w > 0.0 { s / w } else { 0.0 }
            }
            None => 0.0,
        }
    }

    /// The series' usual rate per rhythm-normalized hour, with the pooled prior.
    fn series_rate(&self, s: &Series, at: i64) -> (f64, f64) {
        let all = self.rate(Some(&self.pool_all), at);
        let prior = if all > 0.0 {
            self.rate(self.pool_topic.get(&s.topic), at) * self.rate(self.pool_place.get(&s.place), at) / all
        } else {
            0.0
        };
        let (own_s, own_w) = if s.ew.at == 0 { (0.0, 0.0) } else { s.ew.at(at, self.lambda) };
        ((own_s + PRIOR_HOURS * prior) / (own_w + PRIOR_HOURS), prior)
    }

    /// Series `k` fires at `t`: its episode opens (or its severity rises) and says so.
    fn announce(&mut self, k: usize, t: i64, (z, win, min, label, mu): Firing, prior: f64) {
        let severity = severity(win.x, min as usize);
        let e = &mut self.series[k].episode;
        let phase = if !e.open || e.joined {
            Some("opened")
        } else if e.severity.is_none_or(|s| severity > s) {
            Some("escalated")
        } else {
            None
        };
        (e.open, e.joined, e.last_hot) = (true, false, t);
        let Some(phase) = phase else { return };
        e.severity = Some(severity);
        let mut params = self.params("negative_burst", phase);
        params.insert("expected".into(), round2(mu).into());
        params.insert("tail_p".into(), significant3(tail(win.x, mu)).into());
        params.insert("pooled_rate_per_day".into(), round2(prior * 24.0).into());
        params.insert("distinct_voices".into(), win.voices.into());
        params.insert("negative_mentions".into(), win.negatives.into());
        params.insert("mentions".into(), win.total.into());
        let sig = self.tension_signal(k, t, severity, z, label, win, mu, params);
        self.out.push(sig);
    }

    /// Series `k` does not fire at `t`: an open episode stays hot, or after
    /// `quiet` calm hours resolves (silently when it was never announced).
    fn calm(&mut self, k: usize, t: i64, hot: f64, mu: f64) {
        let rules = self.rules;
        let e = &mut self.series[k].episode;
        if !e.open {
            return;
        }
        if hot >= rules.close_score {
            e.last_hot = t;
            return;
        }
        if t - e.last_hot < rules.quiet.num_seconds() {
            return;
        }
        let (joined, severity) = (e.joined, e.severity.unwrap_or(Severity::Low));
        *e = Episode::default();
        if joined {
            return;
        }
        let win = self.window(k, rules.window.num_seconds());
        let mut params = self.params("negative_burst", "resolved");
        params.insert("calm_for".into(), format!("{}h", rules.quiet.num_hours()).into());
        let sig = self.tension_signal(k, t, severity, hot.max(0.0), rules.window, win, mu, params);
        self.out.push(sig);
    }

    /// The counted stories in series `k`'s window (after `from`), and those
    /// of them that are the evidence of an announced episode of another
    /// series, now or when `k` joined it.
    fn shared_stories(&self, k: usize, from: i64) -> (usize, Vec<u32>) {
        let own = &self.series[k];
        let stories = own.items.iter().filter(|it| it.counted && it.at > from).map(|it| it.ev);
        let announced: Vec<&Series> = self
            .series
            .iter()
            .enumerate()
            .filter(|(j, o)| *j != k && o.episode.open && !o.episode.joined)
            .map(|(_, o)| o)
            .collect();
        let mut n = 0;
        let mut shared = Vec::new();
        for ev in stories {
            n += 1;
            // Queues are in event order: a binary search each.
            if own.episode.shared.binary_search(&ev).is_ok()
                || announced.iter().any(|o| o.items.binary_search_by_key(&ev, |it| it.ev).is_ok())
            {
                shared.push(ev);
            }
        }
        (n, shared)
    }

    fn window(&self, k: usize, span: i64) -> Window {
        let s = &self.series[k];
        if span == self.rules.window.num_seconds() { s.short.window() } else { s.long.window() }
    }

    fn evaluate(&mut self, t: i64) {
        let rules = self.rules;
        let long = rules.long_window.num_seconds();
        let windows = [
            (rules.window.num_seconds(), rules.min_negative, rules.window),
            (long, rules.long_min_negative, rules.long_window),
        ];
        let beta = rules.bias;
        let fsums: Vec<f64> = windows.iter().map(|&(span, _, _)| self.factor_sum(t, span)).collect();
        let mut openings = Vec::new();
        for k in 0..self.series.len() {
            // Only a window at its floor can fire, only an open episode can calm.
            let s = &self.series[k];
            if !s.episode.open && s.short.x < rules.min_negative as usize && s.long.x < rules.long_min_negative as usize
            {
                continue;
            }
            let (rate, prior) = self.series_rate(&self.series[k], t - long);
            let mut best: Option<Firing> = None;
            let mut hot = f64::MIN;
            for (&(span, min, label), fsum) in windows.iter().zip(&fsums) {
                let win = self.window(k, span);
                let mu = rate * fsum;
                let sigma = (mu + KAPPA * mu * mu).sqrt();
                let z = (win.x as f64 - mu.max(beta)) / (sigma + beta);
                hot = hot.max(z);
                // The tail last: it is the one test that costs a loop.
                let fires = win.x >= min as usize
                    && win.x as f64 >= rules.ratio * mu
                    && win.voices >= rules.min_voices as usize
                    && win.negatives as f64 >= rules.min_negative_share * win.total as f64
                    && (z >= rules.open_score || tail(win.x, mu) <= rules.max_p);
                if fires && best.as_ref().is_none_or(|b| z > b.0) {
                    best = Some((z, win, min, label, mu));
                }
            }
            let announced = self.series[k].episode.open && !self.series[k].episode.joined;
            match best {
                // New episodes wait until the announced ones have moved:
                // then the strongest opens first and the ones it explains join it.
                Some(b) if !announced => openings.push((k, b, prior)),
                Some(b) => self.announce(k, t, b, prior),
                None => self.calm(k, t, hot, rate * fsums[0]),
            }
        }
        // Most stories first; on a tie the taxonomy's order (the services
        // before the administration and emergencies), then the score.
        let rank = |k: usize| {
            let topic = self.ev.topics.get(self.series[k].topic as usize).map(String::as_str);
            glas_core::config::builtin_topics()
                .iter()
                .position(|r| Some(r.code.as_str()) == topic)
                .unwrap_or(usize::MAX)
        };
        openings.sort_by(|(ka, a, _), (kb, b, _)| {
            (b.1.x.cmp(&a.1.x)).then(rank(*ka).cmp(&rank(*kb))).then(b.0.total_cmp(&a.0)).then(ka.cmp(kb))
        });
        for (k, b, prior) in openings {
            let (stories, shared) = self.shared_stories(k, t - b.3.num_seconds());
            if shared.len() * 2 >= stories {
                let e = &mut self.series[k].episode;
                (e.open, e.joined, e.last_hot) = (true, true, t);
                e.shared.extend(shared);
                e.shared.sort_unstable();
                e.shared.dedup();
            } else {
                self.announce(k, t, b, prior);
            }
        }
        self.emit_coordinated(t);
        self.evaluate_terms(t);
        if t % (24 * H) == 0 {
            let events = &self.ev.events;
            self.cluster_recent.retain(|_, r| r.last().is_some_and(|&j| events[j as usize].at > t - COORD_WINDOW));
            // Terms quiet for long enough start afresh, as never seen.
            let terms = &mut self.terms;
            self.live_terms.retain(|&id| {
                let st = &mut terms[id as usize];
                let keep = !st.items.is_empty() || st.ew.s > 0.05;
                if !keep {
                    *st = Term::default();
                }
                keep
            });
        }
    }

    fn params(&self, rule: &str, phase: &str) -> serde_json::Map<String, serde_json::Value> {
        let r = self.rules;
        let mut p = serde_json::Map::new();
        p.insert("rule".into(), rule.into());
        p.insert("phase".into(), phase.into());
        p.insert("open_score".into(), r.open_score.into());
        p.insert("max_p".into(), r.max_p.into());
        p.insert("close_score".into(), r.close_score.into());
        p.insert("bias".into(), r.bias.into());
        p.insert("min_negative".into(), r.min_negative.into());
        p.insert("long_min_negative".into(), r.long_min_negative.into());
        p.insert("ratio".into(), r.ratio.into());
        p.insert("baseline_half_life".into(), format!("{}d", r.baseline.num_days()).into());
        p
    }

    #[allow(clippy::too_many_arguments)]
    fn tension_signal(
        &self,
        k: usize,
        t: i64,
        severity: Severity,
        z: f64,
        label: Duration,
        win: Window,
        mu: f64,
        params: serde_json::Map<String, serde_json::Value>,
    ) -> Signal {
        let s = &self.series[k];
        let span = label.num_seconds();
        let mut evidence: Vec<u32> = s
            .items
            .iter()
            .filter(|it| it.at > t - span && self.ev.events[it.ev as usize].negative)
            .map(|it| it.ev)
            .collect();
        self.strongest_first(&mut evidence);
        Signal {
            detected_at: self.at(t),
            kind: "tension".into(),
            topic: self.ev.topics.get(s.topic as usize).cloned(),
            place: self.ev.place_name(s.place).map(str::to_string),
            source: None,
            severity,
            score: round1(z),
            window: format_window(label),
            count: win.x as u64,
            baseline: round2(mu),
            negative_share: round2(win.negatives as f64 / win.total.max(1) as f64),
            evidence: evidence.iter().take(EVIDENCE).map(|&i| self.ev.ids.get(i).to_string()).collect(),
            params,
        }
    }

    fn at(&self, t: i64) -> chrono::DateTime<chrono::FixedOffset> {
        DateTime::from_timestamp(t, 0).unwrap_or_default().with_timezone(&self.tz).fixed_offset()
    }

    fn strongest_first(&self, evidence: &mut [u32]) {
        evidence.sort_by(|&a, &b| {
            let (ea, eb) = (&self.ev.events[a as usize], &self.ev.events[b as usize]);
            eb.reach.total_cmp(&ea.reach).then(ea.at.cmp(&eb.at))
        });
    }

    fn emit_coordinated(&mut self, t: i64) {
        for cluster in std::mem::take(&mut self.coord_pending) {
            let Some(recent) = self.cluster_recent.get(&cluster) else { continue };
            let mut evidence: Vec<u32> = recent.clone();
            let first = self.e(evidence[0]);
            let mut voices: Vec<u32> = evidence.iter().map(|&i| self.ev.events[i as usize].voice).collect();
            voices.sort_unstable();
            voices.dedup();
            let fresh = voices.iter().filter(|&&v| self.first_seen[v as usize] > first.at - FRESH).count();
            let negatives = evidence.iter().filter(|&&i| self.ev.events[i as usize].negative).count();
            let (topic, place) = self.ev.series_of(first).first().copied().unwrap_or((u16::MAX, NO_PLACE));
            self.strongest_first(&mut evidence);
            let mut params = self.params("coordinated_posting", "opened");
            params.insert("alarm".into(), false.into());
            params.insert("distinct_voices".into(), voices.len().into());
            params.insert("fresh_accounts".into(), fresh.into());
            params.insert("coordinated_min".into(), self.rules.coordinated_min.into());
            self.out.push(Signal {
                detected_at: self.at(t),
                kind: "coordinated".into(),
                topic: self.ev.topics.get(topic as usize).cloned(),
                place: self.ev.place_name(place).map(str::to_string),
                source: None,
                severity: Severity::Low,
                score: round1(fresh as f64 / voices.len().max(1) as f64),
                window: "6h".into(),
                count: evidence.len() as u64,
                baseline: 0.0,
                negative_share: round2(negatives as f64 / evidence.len().max(1) as f64),
                evidence: evidence.iter().take(EVIDENCE).map(|&i| self.ev.ids.get(i).to_string()).collect(),
                params,
            });
        }
    }

    fn evaluate_terms(&mut self, t: i64) {
        let rules = self.rules;
        let lambda = self.lambda;
        let beta = rules.bias;
        let touched: Vec<u32> = std::mem::take(&mut self.touched);
        // Hours of the district's history before the window, as the
        // exponentially weighted exposure a term that never appeared in it has.
        let history = {
            let hours = ((t - TERM_WINDOW - self.rhythm.first).max(0) / H).min(100_000) as i32;
            (1.0 - lambda.powi(hours)) / (1.0 - lambda)
        };
        self.touch_stamp += 1;
        // Cheap tests first: most touched terms are common words with few
        // negative stories. Their windows move on here.
        let mut candidates = Vec::new();
        for term in touched {
            let st = &mut self.terms[term as usize];
            while let Some(it) = st.items.front().copied() {
                if it.at > t - TERM_WINDOW {
                    break;
                }
                st.items.pop_front();
                st.negatives -= usize::from(it.counted);
                st.ew.add(bin_end(it.at), 1.0, lambda);
            }
            if st.negatives >= rules.emerging_min as usize {
                candidates.push(term);
            }
        }
        // Word pairs first: they name an issue better than a single word.
        let keys = &self.ev.term_table.keys;
        candidates.sort_by_key(|&id| {
            let key = keys[id as usize];
            (!crate::events::is_pair(key), key)
        });
        for term in candidates {
            let st = &self.terms[term as usize];
            let x = st.negatives;
            // A term never seen before is expected about once a week, or
            // once in the district's history when that is longer.
            let (s, w) = if st.ew.at == 0 { (0.0, history) } else { st.ew.at(t - TERM_WINDOW, lambda) };
            let rate = (s + 1.0) / (w + PRIOR_HOURS);
            let mu = rate * (TERM_WINDOW / H) as f64;
            let sigma = (mu + KAPPA * mu * mu).sqrt();
            let z = (x as f64 - mu.max(beta)) / (sigma + beta);
            let total = st.items.len();
            if (x as f64) < rules.ratio * mu
                || (x as f64) < rules.min_negative_share.max(0.5) * total as f64
                || z < rules.open_score && tail(x, mu) > rules.max_p
            {
                continue;
            }
            let negatives: Vec<u32> = st.items.iter().filter(|it| it.counted).map(|it| it.ev).collect();
            let mut voices: Vec<u32> = negatives.iter().map(|&i| self.ev.events[i as usize].voice).collect();
            voices.sort_unstable();
            voices.dedup();
            if voices.len() < rules.min_voices as usize {
                continue;
            }
            let severity = severity(x, rules.emerging_min as usize);
            let stories: HashSet<u32> = negatives.iter().copied().collect();
            let joined = self.emerging.iter().position(|ep| {
                !ep.resolved && (ep.term == term || stories.intersection(&ep.stories).count() * 2 >= stories.len())
            });
            let phase = match joined {
                Some(i) => {
                    let ep = &mut self.emerging[i];
                    ep.stories.extend(stories);
                    ep.last_hot = t;
                    if severity > ep.severity {
                        ep.severity = severity;
                        Some("escalated")
                    } else {
                        None
                    }
                }
                None => {
                    self.emerging.push(EmergingEpisode { term, stories, last_hot: t, severity, resolved: false });
                    Some("opened")
                }
            };
            let Some(phase) = phase else { continue };
            let term = joined.map_or(term, |i| self.emerging[i].term);
            let sig = self.emerging_signal(t, term, negatives, total, severity, z, mu, phase);
            self.out.push(sig);
        }
        for i in 0..self.emerging.len() {
            let ep = &self.emerging[i];
            if !ep.resolved && t - ep.last_hot >= rules.quiet.num_seconds() {
                let mut stories: Vec<u32> = ep.stories.iter().copied().collect();
                stories.sort_unstable();
                let (term, severity) = (ep.term, ep.severity);
                self.emerging[i].resolved = true;
                let total = stories.len();
                let sig = self.emerging_signal(t, term, stories, total, severity, 0.0, 0.0, "resolved");
                self.out.push(sig);
            }
        }
        self.emerging.retain(|e| !e.resolved || t - e.last_hot < 7 * 24 * H);
    }

    #[allow(clippy::too_many_arguments)]
    fn emerging_signal(
        &self,
        t: i64,
        term: u32,
        mut evidence: Vec<u32>,
        total: usize,
        severity: Severity,
        z: f64,
        mu: f64,
        phase: &str,
    ) -> Signal {
        // The settlement most of the evidence names, if most name one.
        let mut places: HashMap<u16, usize> = HashMap::new();
        for &i in &evidence {
            for &p in self.ev.places_of(&self.ev.events[i as usize]) {
                *places.entry(p).or_default() += 1;
            }
        }
        let place = places
            .into_iter()
            .filter(|&(_, n)| n * 2 > evidence.len())
            .max_by_key(|&(p, n)| (n, std::cmp::Reverse(p)))
            .and_then(|(p, _)| self.ev.place_name(p).map(str::to_string));
        let count = evidence.len();
        self.strongest_first(&mut evidence);
        let mut params = self.params("emerging_term", phase);
        params.insert("term".into(), self.ev.term_table.name(term).into());
        params.insert("emerging_min".into(), self.rules.emerging_min.into());
        params.insert("expected".into(), round2(mu).into());
        if phase != "resolved" {
            params.insert("tail_p".into(), significant3(tail(count, mu)).into());
        }
        Signal {
            detected_at: self.at(t),
            kind: "emerging".into(),
            topic: None,
            place,
            source: None,
            severity,
            score: round1(z),
            window: format_window(Duration::seconds(TERM_WINDOW)),
            count: count as u64,
            baseline: round2(mu),
            negative_share: round2(count as f64 / total.max(1) as f64),
            evidence: evidence.iter().take(EVIDENCE).map(|&i| self.ev.ids.get(i).to_string()).collect(),
            params,
        }
    }
}

fn severity(x: usize, min: usize) -> Severity {
    if x >= 3 * min {
        Severity::High
    } else if x >= 2 * min {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// `P(X ≥ x)` for a count with mean `mu` and variance `mu + κ·mu²` (a
/// negative binomial of shape `1/κ`): the chance of a window at least this
/// busy in a usual day of the series.
pub fn tail(x: usize, mu: f64) -> f64 {
    if x == 0 {
        return 1.0;
    }
    if mu <= 0.0 {
        return 0.0;
    }
    let r = 1.0 / KAPPA;
    let q = mu / (r + mu);
    // P(0) = (r / (r + mu))^r; P(k) = P(k − 1) · (k − 1 + r) / k · q.
    let next = |p: f64, k: usize| p * (k as f64 - 1.0 + r) / k as f64 * q;
    let mut p = (r * (1.0 - q).ln()).exp();
    let mut below = p;
    for k in 1..x {
        p = next(p, k);
        below += p;
    }
    if below < 0.99 {
        return 1.0 - below;
    }
    // 1 − (head) would lose a small tail to rounding: sum the tail itself,
    // whose terms fall fast where it is small.
    let mut sum = 0.0;
    let mut k = x;
    p = next(p, k);
    while p > sum * 1e-12 && k < x + 100_000 {
        sum += p;
        k += 1;
        p = next(p, k);
    }
    sum
}

/// Three significant digits (a probability as small as 1e-9 stays readable).
fn significant3(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powf(2.0 - v.abs().log10().floor());
    (v * scale).round() / scale
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

pub fn format_window(d: Duration) -> String {
    if d.num_seconds() % 86_400 == 0 {
        format!("{}d", d.num_days())
    } else if d.num_seconds() % 3600 == 0 {
        format!("{}h", d.num_hours())
    } else {
        format!("{}m", d.num_minutes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glas_core::{Enrichment, Mention, Record, Sentiment};

    fn rec(id: usize, at: DateTime<Utc>, negative: bool, author: &str) -> Record {
        Record {
            mention: Mention {
                id: format!("m{id}"),
                source: Some("s".into()),
                url: None,
                published_at: at.fixed_offset(),
                author: Some(author.into()),
                title: None,
                text: String::new(),
                engagement: Default::default(),
                extra: Default::default(),
            },
            enrichment: Enrichment {
                id: format!("m{id}"),
                sentiment: if negative { Sentiment::Negative } else { Sentiment::Neutral },
                topics: vec!["water".into()],
                places: vec!["Заря".into()],
                cluster: format!("c{id}"),
                ..Default::default()
            },
            source_kind: "telegram".into(),
        }
    }

    fn t0() -> DateTime<Utc> {
        "2026-11-20T00:00:00Z".parse().unwrap()
    }

    /// A fortnight of quiet background: a negative post every other day.
    fn background() -> Vec<Record> {
        (0..14).map(|d| rec(1000 + d, t0() - Duration::days(2 * d as i64 + 1), d % 2 == 0, "old")).collect()
    }

    fn run(recs: &[Record], to: DateTime<Utc>) -> Vec<Signal> {
        run_every(recs, to, SignalRules::default().step)
    }

    fn run_every(recs: &[Record], to: DateTime<Utc>, step: Duration) -> Vec<Signal> {
        let ev = Events::from_records(recs, chrono_tz::Europe::Moscow);
        detect_stepped(&ev, &SignalRules::default(), t0(), to, chrono_tz::Europe::Moscow, step)
    }

    fn phases(sigs: &[Signal]) -> Vec<(&str, Severity)> {
        sigs.iter().map(|s| (s.params["phase"].as_str().unwrap(), s.severity)).collect()
    }

    #[test]
    fn a_burst_opens_escalates_and_resolves_one_episode() {
        let mut recs = background();
        for k in 0..40 {
            recs.push(rec(
                k,
                t0() + Duration::hours(8) + Duration::minutes(10 * k as i64),
                true,
                &format!("a{}", k % 7),
            ));
        }
        let sigs = run(&recs, t0() + Duration::days(4));
        assert_eq!(
            phases(&sigs),
            [
                ("opened", Severity::Low),
                ("escalated", Severity::Medium),
                ("escalated", Severity::High),
                ("resolved", Severity::High)
            ],
            "{sigs:#?}"
        );
        let s = &sigs[0];
        assert_eq!((s.kind.as_str(), s.topic.as_deref(), s.place.as_deref()), ("tension", Some("water"), Some("Заря")));
        assert!(s.evidence.iter().all(|e| !e.starts_with("m10")), "background is not evidence: {s:?}");
        assert!(s.count >= 3 && s.baseline < 1.0, "{s:?}");
        // 15-minute steps, no look-ahead: the first step after the third post (08:20).
        assert_eq!(s.detected_at.with_timezone(&Utc), t0() + Duration::minutes(8 * 60 + 30));
        // Hourly steps: the next whole hour.
        let hourly = run_every(&recs, t0() + Duration::days(1), Duration::hours(1));
        assert_eq!(hourly[0].detected_at.with_timezone(&Utc), t0() + Duration::hours(9));
        assert_eq!((hourly[0].count, &hourly[0].params["phase"]), (7, &serde_json::json!("opened")));
    }

    #[test]
    fn the_tail_is_a_negative_binomial_with_the_scores_variance() {
        // Reference values summed independently (log-gamma pmf, shape 1/κ = 5).
        for (x, mu, want) in [
            (3, 0.04, 1.7084072314752115e-05),
            (3, 0.5, 0.019867994179350097),
            (6, 0.3, 5.662872880367842e-06),
            (1, 2.0, 0.81406556791813),
            (10, 3.0, 0.01053379787185807),
        ] {
            let got = tail(x, mu);
            assert!((got - want).abs() <= want * 1e-9, "P(X ≥ {x} | μ = {mu}) = {got}, want {want}");
        }
        assert_eq!(tail(0, 0.3), 1.0);
        assert_eq!(tail(2, 0.0), 0.0);
        assert!(tail(30, 0.01) > 0.0 && tail(30, 0.01) < 1e-60, "a tiny tail is summed, not lost to rounding");
    }

    #[test]
    fn three_stories_fire_in_a_quiet_series_not_in_a_busy_one() {
        let three = |base: usize| -> Vec<Record> {
            (0..3)
                .map(|k| {
                    rec(base + k, t0() + Duration::hours(10) + Duration::minutes(20 * k as i64), true, &format!("v{k}"))
                })
                .collect()
        };
        // Quiet: four weeks of a post an hour, one negative a week.
        let hourly = |negative: &dyn Fn(usize) -> bool| -> Vec<Record> {
            (0..28 * 24)
                .map(|k| rec(5000 + k, t0() - Duration::hours(k as i64 + 1), negative(k), &format!("q{}", k % 40)))
                .collect()
        };
        let mut quiet = hourly(&|k| (k + 84) % 168 == 0);
        quiet.extend(three(0));
        let sigs = run(&quiet, t0() + Duration::days(3));
        assert_eq!(sigs.len(), 2, "{sigs:#?}");
        assert_eq!((sigs[0].count, &sigs[0].params["phase"]), (3, &serde_json::json!("opened")));
        assert!(sigs[0].score < 4.0, "the bias keeps z low, the tail fires: {sigs:?}");
        let p = sigs[0].params["tail_p"].as_f64().unwrap();
        assert!(p > 0.0 && p <= sigs[0].params["max_p"].as_f64().unwrap(), "{:?}", sigs[0].params);
        // Busy: the same posts, one in two negative.
        let mut busy = hourly(&|k| k % 2 == 0);
        busy.extend(three(0));
        assert!(run(&busy, t0() + Duration::days(1)).is_empty());
    }

    #[test]
    fn signals_at_a_step_do_not_depend_on_what_came_after() {
        let mut recs = background();
        for k in 0..30 {
            recs.push(rec(
                k,
                t0() + Duration::hours(5) + Duration::minutes(17 * k as i64),
                true,
                &format!("a{}", k % 5),
            ));
        }
        let full = run(&recs, t0() + Duration::days(2));
        let first = full[0].detected_at.with_timezone(&Utc);
        let seen: Vec<Record> = recs.iter().filter(|r| r.mention.published_at <= first).cloned().collect();
        let cut = run(&seen, first);
        assert_eq!(cut.len(), 1);
        assert_eq!(
            (&cut[0].detected_at, cut[0].count, &cut[0].evidence),
            (&full[0].detected_at, full[0].count, &full[0].evidence)
        );
        // Stepping every 3 hours sees the same episode, at a later step at most.
        let coarse = run_every(&recs, t0() + Duration::days(2), Duration::hours(3));
        assert!(coarse[0].detected_at >= full[0].detected_at);
        assert!(coarse[0].detected_at.with_timezone(&Utc) - first < Duration::hours(3));
    }

    #[test]
    fn posts_about_two_topics_make_one_alarm_and_a_wave_of_its_own_another() {
        let mut recs = background();
        for k in 0..12 {
            let mut r = rec(k, t0() + Duration::hours(8) + Duration::minutes(10 * k as i64), true, &format!("a{k}"));
            r.enrichment.topics =
                if k % 4 == 3 { vec!["water".into()] } else { vec!["water".into(), "governance".into()] };
            recs.push(r);
        }
        let opened = |sigs: &[Signal]| -> Vec<String> {
            sigs.iter()
                .filter(|s| s.kind == "tension" && s.params["phase"] == "opened")
                .map(|s| s.topic.clone().unwrap_or_default())
                .collect()
        };
        let sigs = run(&recs, t0() + Duration::days(2));
        assert_eq!(opened(&sigs), ["water"], "{sigs:#?}");
        assert!(sigs.iter().all(|s| s.topic.as_deref() == Some("water")), "joined episodes end silently too");
        // Later the same day, complaints about the administration alone: their own alarm.
        for k in 0..6 {
            let mut r =
                rec(100 + k, t0() + Duration::hours(16) + Duration::minutes(15 * k as i64), true, &format!("g{k}"));
            r.enrichment.topics = vec!["governance".into()];
            recs.push(r);
        }
        let sigs = run(&recs, t0() + Duration::days(2));
        assert_eq!(opened(&sigs), ["water", "governance"], "{sigs:#?}");
    }

    #[test]
    fn one_author_alone_does_not_fire() {
        let mut recs = background();
        recs.extend((0..12).map(|k| rec(k, t0() + Duration::minutes(10 * k as i64), true, "angry")));
        assert!(run(&recs, t0() + Duration::days(1)).is_empty());
    }

    #[test]
    fn identical_posts_from_fresh_accounts_are_coordinated_not_tension() {
        let mut recs = background();
        for k in 0..15 {
            let mut r = rec(k, t0() + Duration::hours(3) + Duration::minutes(7 * k as i64), true, &format!("new{k}"));
            r.enrichment.cluster = "same-text".into();
            recs.push(r);
        }
        let sigs = run(&recs, t0() + Duration::days(1));
        assert_eq!(sigs.iter().map(|s| s.kind.as_str()).collect::<Vec<_>>(), ["coordinated"], "{sigs:#?}");
        assert_eq!(sigs[0].params["alarm"], false);
        assert!(sigs[0].params["fresh_accounts"].as_u64().unwrap() >= 6);
    }

    #[test]
    fn a_new_term_outside_the_taxonomy_is_an_emerging_issue() {
        let mut recs = background();
        for k in 0..8 {
            let mut r = rec(k, t0() + Duration::hours(2 * k as i64), true, &format!("a{k}"));
            r.enrichment.topics.clear();
            r.mention.text = format!("Опять запах аммиака! {k} раз");
            recs.push(r);
        }
        let sigs = run(&recs, t0() + Duration::days(2));
        let e: Vec<&Signal> = sigs.iter().filter(|s| s.kind == "emerging").collect();
        assert_eq!(e.iter().filter(|s| s.params["phase"] == "opened").count(), 1, "{sigs:#?}");
        assert_eq!(e[0].params["term"], "запах аммиака");
        assert_eq!(e[0].place.as_deref(), Some("Заря"));
        assert!(sigs.iter().all(|s| s.kind != "tension"));
    }
}
