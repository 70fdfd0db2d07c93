//! Publication dates as Russian news sites write them: ISO 8601 and RFC 2822,
//! "20 ноября 2026, 14:05", "20.11.2026 14:05", "сегодня в 09:30",
//! "вчера в 09:30", "20 ноября в 14:05" (this year).

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone};

const MONTHS: [&str; 12] =
    ["январ", "феврал", "март", "апрел", "ма", "июн", "июл", "август", "сентябр", "октябр", "ноябр", "декабр"];

/// Parses `text` as a date-time in time zone `tz`, relative words against `now`.
pub fn parse(text: &str, tz: chrono_tz::Tz, now: DateTime<chrono::Utc>) -> Option<DateTime<FixedOffset>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d);
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(t) {
        return Some(d);
    }
    // "2026-11-20T14:05" or "2026-11-20 14:05" without an offset: local time.
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return local(tz, n.date(), n.time());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return local(tz, d, NaiveTime::MIN);
    }
    let lower = t.to_lowercase().replace(['\u{a0}', ','], " ");
    let words: Vec<&str> =
        lower.split_whitespace().filter(|w| *w != "в" && *w != "г." && *w != "года" && *w != "г").collect();
    let time = words.iter().find_map(|w| NaiveTime::parse_from_str(w, "%H:%M").ok()).unwrap_or(NaiveTime::MIN);
    let today = now.with_timezone(&tz).date_naive();
    if words.first() == Some(&"сегодня") {
        return local(tz, today, time);
    }
    if words.first() == Some(&"вчера") {
        return local(tz, today - Duration::days(1), time);
    }
    // "20.11.2026" possibly followed by a time.
    if let Some(d) = words.first().and_then(|w| NaiveDate::parse_from_str(w, "%d.%m.%Y").ok()) {
        return local(tz, d, time);
    }
    // "20 ноября 2026" / "20 ноября".
    if words.len() >= 2 {
        let day: u32 = words[0].parse().ok()?;
        let month = MONTHS
            .iter()
            .position(|m| words[1].starts_with(m) && (*m != "ма" || words[1] == "мая" || words[1] == "май"))?
            as u32
            + 1;
        let year = words.get(2).and_then(|y| y.parse::<i32>().ok()).unwrap_or(today.year());
        let date = NaiveDate::from_ymd_opt(year, month, day)?;
        return local(tz, date, time);
    }
    None
}

fn local(tz: chrono_tz::Tz, d: NaiveDate, t: NaiveTime) -> Option<DateTime<FixedOffset>> {
    tz.from_local_datetime(&d.and_time(t)).earliest().map(|dt| dt.fixed_offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<String> {
        let now = "2026-11-28T12:00:00Z".parse().unwrap();
        parse(s, chrono_tz::Europe::Moscow, now).map(|d| d.to_rfc3339())
    }

    #[test]
    fn russian_forms() {
        assert_eq!(p("20 ноября 2026, 14:05").as_deref(), Some("2026-11-20T14:05:00+03:00"));
        assert_eq!(p("20 ноября в 14:05").as_deref(), Some("2026-11-20T14:05:00+03:00"));
        assert_eq!(p("1 мая 2026 г.").as_deref(), Some("2026-05-01T00:00:00+03:00"));
        assert_eq!(p("вчера в 09:30").as_deref(), Some("2026-11-27T09:30:00+03:00"));
        assert_eq!(p("Сегодня, 08:15").as_deref(), Some("2026-11-28T08:15:00+03:00"));
        assert_eq!(p("20.11.2026 14:05").as_deref(), Some("2026-11-20T14:05:00+03:00"));
        assert_eq!(p("2026-11-20T14:05:00+03:00").as_deref(), Some("2026-11-20T14:05:00+03:00"));
        assert_eq!(p("2026-11-20 14:05").as_deref(), Some("2026-11-20T14:05:00+03:00"));
        assert_eq!(p("Fri, 20 Nov 2026 11:05:00 GMT").as_deref(), Some("2026-11-20T11:05:00+00:00"));
        assert_eq!(p("когда-нибудь"), None);
        assert_eq!(p("35 ноября 2026"), None);
    }
}
