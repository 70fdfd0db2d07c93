//! Saved-search digests: one email per saved search with the mentions that
//! matched since its last digest, newest first, reprints folded.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use glas_core::config::{Alerts, topic_name};
use glas_core::ru::{self, escape_html as esc};
use lettre::Message;
use lettre::message::MultiPart;

use crate::{AlertError, html_email};

/// Mentions listed in one digest at most; the rest are counted.
pub const MAX_ITEMS: usize = 30;

/// One mention as a digest lists it.
#[derive(Debug, Clone)]
pub struct Item {
    /// District time, "23.11 08:15".
    pub when: String,
    pub source: String,
    pub title: Option<String>,
    pub snippet: String,
    pub url: Option<String>,
    pub sentiment: String,
    pub topics: Vec<String>,
    pub places: Vec<String>,
    /// Other publications of the same reprint cluster in this digest.
    pub more: u64,
}

pub struct Digest<'a> {
    pub district: &'a str,
    pub name: &'a str,
    pub query: &'a str,
    /// New matching mentions, reprints counted one by one.
    pub total: usize,
    pub items: &'a [Item],
    /// Source id → the name readers know it by.
    pub source_names: &'a BTreeMap<String, String>,
}

/// "Поиск «Вода»: 5 новых публикаций".
pub fn subject(d: &Digest) -> String {
    let adj = ru::plural(d.total as u64, "новая", "новых", "новых");
    let noun = ru::plural(d.total as u64, "публикация", "публикации", "публикаций");
    format!("Поиск «{}»: {} {adj} {noun}", d.name, d.total)
}

/// The digest email to `to`, plain text and HTML.
pub fn compose(config: &Alerts, to: &[String], d: &Digest) -> Result<Message, AlertError> {
    let (text, html) = bodies(d);
    crate::message_builder(config, subject(d), to)?
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| AlertError::Build(e.to_string()))
}

fn bodies(d: &Digest) -> (String, String) {
    let title = subject(d);
    let search = format!("glas search '{}'", d.query);
    let mut text = format!("{title}\n{}\n\n", d.district);
    let mut items = String::new();
    for (i, it) in d.items.iter().enumerate() {
        let src = d.source_names.get(&it.source).map_or(it.source.as_str(), String::as_str);
        let mut tags = vec![ru::sentiment_label(&it.sentiment).to_string()];
        tags.extend(it.topics.iter().map(|t| topic_name(t).to_string()));
        tags.extend(it.places.iter().cloned());
        let heading = it.title.as_deref().map(|t| format!("{t}. ")).unwrap_or_default();
        let more = if it.more > 0 { format!(" ({})", ru::and_more(it.more)) } else { String::new() };
        let _ = writeln!(text, "{}. [{}, {src}] {heading}{}{more}", i + 1, it.when, it.snippet.replace('\n', " "));
        let _ = writeln!(text, "   {}", tags.join(" · "));
        if let Some(u) = &it.url {
            let _ = writeln!(text, "   {u}");
        }
        let link = it.url.as_deref().map(|u| format!(" <a href=\"{}\">открыть</a>", esc(u))).unwrap_or_default();
        let _ = write!(
            items,
            "<li style=\"margin-bottom:8px\"><span style=\"color:#666\">{}, {}</span>{link}<br>{}{}{}<br><span style=\"color:#666;font-size:13px\">{}</span></li>",
            esc(&it.when),
            esc(src),
            it.title.as_deref().map(|t| format!("<b>{}</b>. ", esc(t))).unwrap_or_default(),
            esc(&it.snippet),
            esc(&more),
            esc(&tags.join(" · ")),
        );
    }
    let listed: usize = d.items.iter().map(|i| 1 + i.more as usize).sum();
    let rest = d.total.saturating_sub(listed);
    let rest_line = if rest > 0 {
        format!("…и ещё {} — все найдёт команда ниже.", ru::mentions(rest as u64))
    } else {
        String::new()
    };
    if !rest_line.is_empty() {
        let _ = writeln!(text, "\n{rest_line}");
    }
    let note = "Дайджест приходит после каждого обхода источников и содержит только публикации, которых не было в прошлых дайджестах.";
    let _ = writeln!(text, "\nЗапрос: {}\nВсе публикации: {search}\n\n{note}", d.query);
    let html = html_email(&format!(
        "<h2>{}</h2><p style=\"color:#666\">{}</p><ol>{items}</ol><p>{}</p>\
<p style=\"font-size:13px\">Запрос: <code>{}</code><br>Все публикации: <code>{}</code></p>\
<p style=\"color:#666;font-size:13px\">{note}</p>",
        esc(&title),
        esc(d.district),
        esc(&rest_line),
        esc(d.query),
        esc(&search),
    ));
    (text, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_agrees_with_the_count() {
        let names = BTreeMap::new();
        let d =
            |total| Digest {
                district: "Округ", name: "Вода", query: "вода", total, items: &[], source_names: &names
            };
        assert_eq!(subject(&d(1)), "Поиск «Вода»: 1 новая публикация");
        assert_eq!(subject(&d(3)), "Поиск «Вода»: 3 новых публикации");
        assert_eq!(subject(&d(25)), "Поиск «Вода»: 25 новых публикаций");
    }
}
