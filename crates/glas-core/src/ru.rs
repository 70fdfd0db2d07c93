//! Russian wording for what officials read: plural agreement, dates, months,
//! and the HTML escaping every page and email made of it needs.

use chrono::{Datelike, NaiveDate};

/// Text made safe to put inside HTML elements and attribute values.
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Picks the form agreeing with `n`: `plural(5, "публикация", "публикации", "публикаций")`.
pub fn plural<'a>(n: u64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    let (m10, m100) = (n % 10, n % 100);
    if m10 == 1 && m100 != 11 {
        one
    } else if (2..=4).contains(&m10) && !(12..=14).contains(&m100) {
        few
    } else {
        many
    }
}

/// "23 негативных публикации": count with agreeing adjective and noun.
pub fn negative_mentions(n: u64) -> String {
    let adj = plural(n, "негативная", "негативных", "негативных");
    format!("{n} {adj} {}", plural(n, "публикация", "публикации", "публикаций"))
}

/// A usual count as officials read it: "1,5"; "меньше 0,1" for a trace;
/// "0" for none.
pub fn usual_count(v: f64) -> String {
    if v <= 0.0 {
        "0".to_string()
    } else if v < 0.05 {
        "меньше 0,1".to_string()
    } else {
        format!("{v:.1}").replace('.', ",")
    }
}

/// How rare a count is, from the chance `p` of at least that many in one
/// window of `window_hours`: "примерно раз в 9 лет" (about once in `1/p`
/// windows; windows overlap as they slide, so it is an order of
/// magnitude). `None` when it is not rare (once a week or more often).
pub fn rarity(p: f64, window_hours: f64) -> Option<String> {
    if p.is_nan() || p <= 0.0 || window_hours <= 0.0 {
        return None;
    }
    let hours = window_hours / p;
    let round = |v: f64| v.round().max(1.0) as u64;
    let (n, unit) = if hours >= 100.0 * 8760.0 {
        return Some("реже раза в сто лет".to_string());
    } else if hours >= 2.0 * 8760.0 {
        let n = round(hours / 8760.0);
        (n, plural(n, "год", "года", "лет"))
    } else if hours >= 2.0 * 730.0 {
        let n = round(hours / 730.0);
        (n, plural(n, "месяц", "месяца", "месяцев"))
    } else if hours >= 2.0 * 168.0 {
        let n = round(hours / 168.0);
        (n, plural(n, "неделю", "недели", "недель"))
    } else {
        return None;
    };
    Some(format!("примерно раз в {n} {unit}"))
}

/// "3 публикации".
pub fn mentions(n: u64) -> String {
    format!("{n} {}", plural(n, "публикация", "публикации", "публикаций"))
}

/// A search's count: "около …" when it is an estimate.
pub fn found(n: u64, estimated: bool) -> String {
    if estimated { format!("около {}", mentions(n)) } else { mentions(n) }
}

const MONTHS_GENITIVE: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

/// "20 ноября 2026".
pub fn date_long(d: NaiveDate) -> String {
    format!("{} {} {}", d.day(), MONTHS_GENITIVE[d.month0() as usize], d.year())
}

/// "20 ноября".
pub fn date_short(d: NaiveDate) -> String {
    format!("{} {}", d.day(), MONTHS_GENITIVE[d.month0() as usize])
}

const WEEKDAYS_SHORT: [&str; 7] = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"];

/// "пн", "вт", ...
pub fn weekday_short(d: NaiveDate) -> &'static str {
    WEEKDAYS_SHORT[d.weekday().num_days_from_monday() as usize]
}

/// "6 ч", "2 сут": a window as a short Russian phrase.
pub fn window(w: &str) -> String {
    let (num, unit) = w.split_at(w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len()));
    match unit {
        "h" => format!("{num} ч"),
        "d" => format!("{num} сут"),
        "m" => format!("{num} мин"),
        _ => w.to_string(),
    }
}

/// "негатив", "нейтрально", "позитив" for a sentiment code.
pub fn sentiment_label(code: &str) -> &str {
    match code {
        "negative" => "негатив",
        "positive" => "позитив",
        "neutral" => "нейтрально",
        other => other,
    }
}

/// "жалоба", "вопрос", ... for a mention type code.
pub fn type_label(code: &str) -> &str {
    match code {
        "complaint" => "жалоба",
        "question" => "вопрос",
        "gratitude" => "благодарность",
        "news" => "новость",
        "other" => "другое",
        other => other,
    }
}

/// "и ещё 3 публикации": the rest of a reprint cluster.
pub fn and_more(n: u64) -> String {
    format!("и ещё {}", mentions(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rarity_in_words_officials_read() {
        // Three stories in 6 h at p = 7e-5: once in about 14,000 windows of 6 h.
        assert_eq!(rarity(7e-5, 6.0).as_deref(), Some("примерно раз в 10 лет"));
        assert_eq!(rarity(1e-4, 24.0).as_deref(), Some("примерно раз в 27 лет"));
        assert_eq!(rarity(2e-3, 6.0).as_deref(), Some("примерно раз в 4 месяца"));
        assert_eq!(rarity(1e-2, 6.0).as_deref(), Some("примерно раз в 4 недели"));
        assert_eq!(rarity(1e-9, 6.0).as_deref(), Some("реже раза в сто лет"));
        assert_eq!(rarity(0.05, 6.0), None, "once a week or more often is not rare");
        assert_eq!(rarity(0.0, 6.0), None);
        assert_eq!(
            (usual_count(0.04), usual_count(1.25), usual_count(0.0)),
            ("меньше 0,1".into(), "1,2".into(), "0".into())
        );
    }

    #[test]
    fn plural_agreement() {
        assert_eq!(negative_mentions(23), "23 негативных публикации");
        assert_eq!(negative_mentions(1), "1 негативная публикация");
        assert_eq!(negative_mentions(11), "11 негативных публикаций");
        assert_eq!(mentions(5), "5 публикаций");
        assert_eq!(mentions(104), "104 публикации");
        assert_eq!(date_long(NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()), "20 ноября 2026");
        assert_eq!(window("6h"), "6 ч");
        assert_eq!(and_more(3), "и ещё 3 публикации");
    }
}
