//! The district's working calendar: working hours on working days, with the
//! Russian production calendar's holidays and transferred days
//! (`data/calendar-ru.toml`, shipped; a pipeline may give its own file).
//! Deadlines are working time: "8h" is eight working hours, "10d" ten working
//! days (each as long as the working day).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

const SHIPPED: &str = include_str!("../data/calendar-ru.toml");

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("cannot read the calendar '{path}': {source}")]
    Io { path: String, source: std::io::Error },
    #[error("calendar '{path}': {reason}")]
    Format { path: String, reason: String },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    years: BTreeMap<String, Year>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Year {
    #[serde(default)]
    off: Vec<NaiveDate>,
    #[serde(default)]
    on: Vec<NaiveDate>,
}

/// Working days and hours in the district's time zone.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: Tz,
    start: NaiveTime,
    end: NaiveTime,
    /// Years the file covers; others get the statutory holidays alone.
    years: BTreeSet<i32>,
    off: BTreeSet<NaiveDate>,
    on: BTreeSet<NaiveDate>,
}

impl Calendar {
    /// The shipped Russian calendar.
    pub fn russian(tz: Tz, hours: (NaiveTime, NaiveTime)) -> Calendar {
        Calendar::parse(SHIPPED, "calendar-ru.toml", tz, hours).expect("the shipped calendar is well-formed")
    }

    /// A calendar file of the same format as the shipped one.
    pub fn load(path: &Path, tz: Tz, hours: (NaiveTime, NaiveTime)) -> Result<Calendar, CalendarError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CalendarError::Io { path: name.clone(), source })?;
        Calendar::parse(&text, &name, tz, hours)
    }

    fn parse(text: &str, name: &str, tz: Tz, hours: (NaiveTime, NaiveTime)) -> Result<Calendar, CalendarError> {
        let bad = |reason: String| CalendarError::Format { path: name.to_string(), reason };
        let file: File = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        let mut cal = Calendar {
            tz,
            start: hours.0,
            end: hours.1,
            years: BTreeSet::new(),
            off: BTreeSet::new(),
            on: BTreeSet::new(),
        };
        for (year, days) in file.years {
            let y: i32 = year.parse().map_err(|_| bad(format!("{year:?} is not a year")))?;
            for d in days.off.iter().chain(&days.on) {
                if d.year() != y {
                    return Err(bad(format!("{d} is listed under {y}")));
                }
            }
            if let Some(d) = days.off.iter().find(|d| weekend(**d)) {
                return Err(bad(format!("{d} is a weekend day: `off` lists weekdays that are not worked")));
            }
            if let Some(d) = days.on.iter().find(|d| !weekend(**d)) {
                return Err(bad(format!("{d} is a weekday: `on` lists weekend days that are worked")));
            }
            cal.years.insert(y);
            cal.off.extend(days.off);
            cal.on.extend(days.on);
        }
        Ok(cal)
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Whether the calendar knows the decree of this year (else it applies
    /// the statutory holidays alone).
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains(&year)
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.covers(d.year()) {
            return self.on.contains(&d) || (!weekend(d) && !self.off.contains(&d));
        }
        !weekend(d) && !statutory_day_off(d)
    }

    /// The length of a working day.
    pub fn day_length(&self) -> Duration {
        self.end - self.start
    }

    /// Working time a configured deadline stands for: whole days are working
    /// days, anything else working hours and minutes.
    pub fn working(&self, d: Duration) -> Duration {
        if d.num_seconds() > 0 && d.num_seconds() % 86_400 == 0 { self.day_length() * (d.num_days() as i32) } else { d }
    }

    /// The moment `work` of working time after `from`.
    pub fn add(&self, from: DateTime<Utc>, work: Duration) -> DateTime<Utc> {
        let mut left = work.max(Duration::zero());
        let local = from.with_timezone(&self.tz);
        let mut day = local.date_naive();
        let mut at = local.time();
        // Ten years of days off cannot happen: the bound only stops a broken
        // calendar from looping.
        for _ in 0..3660 {
            if self.is_working_day(day) && at < self.end {
                let begin = at.max(self.start);
                let window = self.end - begin;
                if left <= window {
                    return self.moment(day, begin + left);
                }
                left -= window;
            }
            day = day.succ_opt().expect("a date in range");
            at = NaiveTime::MIN;
        }
        from + work
    }

    /// Working time between two moments (zero when `to` is not after `from`).
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let (a, b) = (from.with_timezone(&self.tz), to.with_timezone(&self.tz));
        let mut total = Duration::zero();
        let mut day = a.date_naive();
        while day <= b.date_naive() {
            if self.is_working_day(day) {
                let lo = if day == a.date_naive() { a.time().max(self.start) } else { self.start };
                let hi = if day == b.date_naive() { b.time().min(self.end) } else { self.end };
                if hi > lo {
                    total += hi - lo;
                }
            }
            day = day.succ_opt().expect("a date in range");
        }
        total
    }

    fn moment(&self, day: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
        let naive = day.and_time(t);
        match self.tz.from_local_datetime(&naive) {
            chrono::LocalResult::Single(x) | chrono::LocalResult::Ambiguous(x, _) => x.with_timezone(&Utc),
            chrono::LocalResult::None => self.tz.from_utc_datetime(&naive).with_timezone(&Utc),
        }
    }
}

fn weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// A day off by the Labour Code alone (art. 112): the holidays, and the
/// weekday after a holiday that falls on a weekend (not for the January
/// ones, which the yearly decree moves instead).
fn statutory_day_off(d: NaiveDate) -> bool {
    let holiday = |d: NaiveDate| {
        matches!((d.month(), d.day()), (1, 1..=6) | (1, 8) | (2, 23) | (3, 8) | (5, 1) | (5, 9) | (6, 12) | (11, 4))
    };
    if holiday(d) {
        return true;
    }
    // Monday after a holiday on Saturday or Sunday; Tuesday after a
    // Sunday holiday when Monday is one too (not in this list).
    if d.weekday() == Weekday::Mon {
        for back in 1..=2 {
            let h = d - Duration::days(back);
            if holiday(h) && h.month() != 1 {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> Calendar {
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        Calendar::russian(chrono_tz::Europe::Moscow, (t(9), t(18)))
    }

    fn msk(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn working_days(c: &Calendar, year: i32) -> usize {
        let mut d = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        let mut n = 0;
        while d.year() == year {
            n += usize::from(c.is_working_day(d));
            d = d.succ_opt().unwrap();
        }
        n
    }

    #[test]
    fn the_shipped_years_have_their_official_number_of_working_days() {
        let c = cal();
        assert_eq!(working_days(&c, 2025), 247);
        assert_eq!(working_days(&c, 2026), 247);
        assert!(c.is_working_day(NaiveDate::from_ymd_opt(2025, 11, 1).unwrap()), "a working Saturday");
        assert!(!c.is_working_day(NaiveDate::from_ymd_opt(2026, 1, 9).unwrap()), "a transferred day off");
    }

    #[test]
    fn other_years_get_the_statutory_holidays() {
        let c = cal();
        assert!(!c.covers(2027));
        // 2027: 1 January is a Friday; 23 February a Tuesday; 8 March a
        // Monday; 9 May a Sunday, so Monday 10 May is off.
        assert!(!c.is_working_day(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()));
        assert!(!c.is_working_day(NaiveDate::from_ymd_opt(2027, 2, 23).unwrap()));
        assert!(!c.is_working_day(NaiveDate::from_ymd_opt(2027, 5, 10).unwrap()));
        assert!(c.is_working_day(NaiveDate::from_ymd_opt(2027, 5, 11).unwrap()));
    }

    #[test]
    fn working_hours_skip_nights_weekends_and_holidays() {
        let c = cal();
        // Friday 17:00 + 8 working hours: one hour on Friday, seven on Monday.
        assert_eq!(c.add(msk("2026-11-27T17:00:00+03:00"), Duration::hours(8)), msk("2026-11-30T16:00:00+03:00"));
        // Saturday night: the clock starts on Monday at 09:00.
        assert_eq!(c.add(msk("2026-11-28T23:00:00+03:00"), Duration::hours(2)), msk("2026-11-30T11:00:00+03:00"));
        // Tuesday 3 November 2026 at 15:00 + 8 h: Wednesday 4 November is a
        // holiday, so the deadline is Thursday at 14:00.
        assert_eq!(c.add(msk("2026-11-03T15:00:00+03:00"), Duration::hours(8)), msk("2026-11-05T14:00:00+03:00"));
        // Ten working days from Monday 10:00 is Monday 10:00 two weeks on.
        let ten = c.working(Duration::days(10));
        assert_eq!(ten, Duration::hours(90));
        assert_eq!(c.add(msk("2026-11-16T10:00:00+03:00"), ten), msk("2026-11-30T10:00:00+03:00"));
        // The New Year holidays of 2026 stretch to 11 January.
        assert_eq!(c.add(msk("2025-12-30T17:00:00+03:00"), Duration::hours(2)), msk("2026-01-12T10:00:00+03:00"));
    }

    #[test]
    fn time_between_counts_working_time_only() {
        let c = cal();
        assert_eq!(c.between(msk("2026-11-27T17:00:00+03:00"), msk("2026-11-30T16:00:00+03:00")), Duration::hours(8));
        assert_eq!(c.between(msk("2026-11-28T10:00:00+03:00"), msk("2026-11-29T20:00:00+03:00")), Duration::zero());
        assert_eq!(c.between(msk("2026-11-30T10:00:00+03:00"), msk("2026-11-30T09:00:00+03:00")), Duration::zero());
    }

    #[test]
    fn a_calendar_file_is_checked() {
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        let hours = (t(9), t(18));
        let tz = chrono_tz::Europe::Moscow;
        let e = Calendar::parse("[years.2027]\noff = [\"2027-01-02\"]\n", "x", tz, hours).unwrap_err();
        assert!(e.to_string().contains("weekend"), "{e}");
        let e = Calendar::parse("[years.2027]\noff = [\"2026-01-05\"]\n", "x", tz, hours).unwrap_err();
        assert!(e.to_string().contains("listed under 2027"), "{e}");
        let e = Calendar::parse("[years.2027]\nholidays = []\n", "x", tz, hours).unwrap_err();
        assert!(e.to_string().contains("holidays"), "{e}");
        let c = Calendar::parse("[years.2027]\noff = [\"2027-01-04\"]\n", "x", tz, hours).unwrap();
        assert!(c.covers(2027) && !c.is_working_day(NaiveDate::from_ymd_opt(2027, 1, 4).unwrap()));
    }
}
