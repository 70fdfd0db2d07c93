//! Articles out of news pages: title, publication date and main text with the
//! boilerplate (menus, footers, share buttons, "читайте также") removed.
//! Sensible defaults for common CMS layouts; CSS selectors override them.

use chrono::{DateTime, FixedOffset, Utc};
use scraper::{ElementRef, Html, Node, Selector};

use crate::dates;

/// Selectors configured for a source (each optional).
#[derive(Default)]
pub struct Selectors {
    pub links: Option<Selector>,
    pub title: Option<Selector>,
    pub date: Option<Selector>,
    pub text: Option<Selector>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub title: Option<String>,
    pub published: Option<DateTime<FixedOffset>>,
    pub text: String,
    /// `<link rel="canonical">` when the page gives one.
    pub canonical: Option<String>,
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

const BODY_CANDIDATES: &[&str] = &[
    "[itemprop=articleBody]",
    "article .article-text",
    ".article-text",
    ".article__text",
    ".news-text",
    ".entry-content",
    ".post-content",
    ".full-text",
    "article",
];
const BOILERPLATE_TAGS: &[&str] =
    &["nav", "header", "footer", "aside", "form", "script", "style", "noscript", "iframe", "button", "figure"];
const BOILERPLATE_WORDS: &[&str] = &[
    "menu",
    "nav",
    "footer",
    "share",
    "social",
    "related",
    "comment",
    "sidebar",
    "banner",
    "advert",
    "subscribe",
    "breadcrumb",
    "tags",
    "read-also",
    "readalso",
    "promo",
    "date",
    "byline",
    "author",
    "meta",
];
const READ_ALSO: &[&str] =
    &["читайте также", "читать также", "смотрите также", "подписывайтесь", "реклама", "поделиться"];

/// Extracts the article from a page.
pub fn extract(html: &str, s: &Selectors, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Article {
    let doc = Html::parse_document(html);
    let first_text = |selector: &Selector| doc.select(selector).next().map(block_text).filter(|t| !t.is_empty());
    let meta = |selector: &str| {
        doc.select(&sel(selector))
            .next()
            .and_then(|e| e.value().attr("content"))
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
    };

    let title = s
        .title
        .as_ref()
        .and_then(first_text)
        .or_else(|| meta("meta[property='og:title']"))
        .or_else(|| first_text(&sel("h1")))
        .or_else(|| first_text(&sel("title")));

    let date_of = |e: ElementRef| {
        let v = e.value();
        let raw = v.attr("datetime").or(v.attr("content")).map(str::to_string).unwrap_or_else(|| block_text(e));
        dates::parse(&raw, tz, now)
    };
    let published = s
        .date
        .as_ref()
        .and_then(|d| doc.select(d).find_map(date_of))
        .or_else(|| meta("meta[property='article:published_time']").and_then(|m| dates::parse(&m, tz, now)))
        .or_else(|| meta("meta[itemprop='datePublished']").and_then(|m| dates::parse(&m, tz, now)))
        .or_else(|| doc.select(&sel("[itemprop=datePublished], time[datetime], time")).find_map(date_of))
        .or_else(|| doc.select(&sel("[class*=date], [class*=time]")).find_map(date_of));

    let body = s
        .text
        .as_ref()
        .and_then(|t| doc.select(t).next())
        .or_else(|| BODY_CANDIDATES.iter().find_map(|c| doc.select(&sel(c)).find(|e| paragraph_chars(*e) > 0)))
        .or_else(|| densest_block(&doc));
    let text = body.map(clean_text).unwrap_or_default();
    let canonical =
        doc.select(&sel("link[rel=canonical]")).next().and_then(|e| e.value().attr("href")).map(str::to_string);
    Article { title, published, text, canonical }
}

/// Links to articles on a listing page, absolute, in page order, without repeats.
/// With a selector, the links it picks; otherwise links whose text reads like
/// a headline and whose path looks like an article.
pub fn article_links(html: &str, base: &url::Url, s: &Selectors) -> Vec<String> {
    let doc = Html::parse_document(html);
    let anchors: Vec<ElementRef> = match &s.links {
        Some(l) => doc
            .select(l)
            .flat_map(|e| if e.value().name() == "a" { vec![e] } else { e.select(&sel("a[href]")).collect() })
            .collect(),
        None => doc.select(&sel("a[href]")).filter(|a| looks_like_headline(*a)).collect(),
    };
    let mut out: Vec<String> = Vec::new();
    for a in anchors {
        let Some(href) = a.value().attr("href") else { continue };
        let Ok(u) = base.join(href) else { continue };
        if !matches!(u.scheme(), "http" | "https") {
            continue;
        }
        if s.links.is_none() && !looks_like_article_path(u.path()) {
            continue;
        }
        let mut u = u;
        u.set_fragment(None);
        let u = u.to_string();
        if !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

fn looks_like_headline(a: ElementRef) -> bool {
    let inside_boilerplate = a.ancestors().filter_map(ElementRef::wrap).any(is_boilerplate);
    !inside_boilerplate && block_text(a).chars().count() >= 15
}

fn looks_like_article_path(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    let skip =
        ["/tag", "/tags", "/category", "/rubric", "/author", "/search", "/page/", "/login", "/about", "/contacts"];
    p.len() > 1
        && !skip.iter().any(|s| p.starts_with(s) || p.contains(&format!("{s}/")))
        && (p.matches('/').count() >= 2 || p.chars().any(|c| c.is_ascii_digit()) || p.ends_with(".html"))
}

fn is_boilerplate(e: ElementRef) -> bool {
    let v = e.value();
    if BOILERPLATE_TAGS.contains(&v.name()) {
        return true;
    }
    let marks = format!("{} {}", v.attr("class").unwrap_or(""), v.attr("id").unwrap_or("")).to_ascii_lowercase();
    !marks.trim().is_empty()
        && BOILERPLATE_WORDS.iter().any(|w| {
            marks
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                .any(|m| m == *w || m.starts_with(&format!("{w}-")) || m.ends_with(&format!("-{w}")))
        })
}

fn paragraph_chars(e: ElementRef) -> usize {
    e.select(&sel("p")).map(|p| block_text(p).chars().count()).sum::<usize>()
        + if e.select(&sel("p")).next().is_none() { block_text(e).chars().count() } else { 0 }
}

/// The element whose own `<p>` children hold the most text.
fn densest_block(doc: &Html) -> Option<ElementRef<'_>> {
    let p = sel("p");
    doc.select(&sel("div, section, main, td"))
        .filter(|e| !e.ancestors().filter_map(ElementRef::wrap).any(is_boilerplate) && !is_boilerplate(*e))
        .map(|e| {
            let own: usize = e
                .children()
                .filter_map(ElementRef::wrap)
                .filter(|c| p.matches(c))
                .map(|c| block_text(c).chars().count())
                .sum();
            (own, e)
        })
        .filter(|(n, _)| *n > 0)
        .max_by_key(|(n, _)| *n)
        .map(|(_, e)| e)
}

/// Text of an element with boilerplate subtrees and "read also" blocks left out.
fn clean_text(root: ElementRef) -> String {
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current = String::new();
    walk(root, &mut current, &mut paragraphs);
    paragraphs.push(std::mem::take(&mut current));
    let lines: Vec<String> = paragraphs
        .iter()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect();
    let mut out = Vec::new();
    for l in lines {
        let lower = l.to_lowercase();
        if READ_ALSO.iter().any(|m| lower.starts_with(m)) {
            continue;
        }
        out.push(l);
    }
    out.join("\n")
}

fn walk(el: ElementRef, current: &mut String, out: &mut Vec<String>) {
    for child in el.children() {
        match child.value() {
            Node::Text(t) => current.push_str(t),
            Node::Element(e) => {
                let Some(c) = ElementRef::wrap(child) else { continue };
                if is_boilerplate(c) {
                    continue;
                }
                let block = matches!(
                    e.name(),
                    "p" | "div" | "li" | "h1" | "h2" | "h3" | "h4" | "blockquote" | "tr" | "section" | "ul" | "ol"
                );
                if e.name() == "br" {
                    current.push(' ');
                    continue;
                }
                if block {
                    out.push(std::mem::take(current));
                }
                walk(c, current, out);
                if block {
                    out.push(std::mem::take(current));
                }
            }
            _ => {}
        }
    }
}

fn block_text(e: ElementRef) -> String {
    e.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<html><head><title>Сайт | Новость</title>
<meta property="og:title" content="В Заре отремонтировали водопровод">
<meta property="article:published_time" content="2026-11-20T14:05:00+03:00">
<link rel="canonical" href="https://news.example/2026/11/20/voda"></head>
<body><header><nav><a href="/">Главная</a><a href="/about">О нас</a></nav></header>
<div class="content"><article><h1>В Заре отремонтировали водопровод</h1>
<div class="share">Поделиться: ВК, ОК</div>
<p>Бригада водоканала заменила двести метров трубы на улице Гагарина.</p>
<p>Подача воды восстановлена, сообщили в администрации.</p>
<p>Читайте также: как подготовить дом к зиме</p></article>
<aside class="related"><a href="/2026/11/19/drugoe">Другая новость про дороги округа</a></aside></div>
<footer>© Редакция, 2026</footer></body></html>"#;

    #[test]
    fn extracts_title_date_and_clean_text() {
        let a = extract(PAGE, &Selectors::default(), chrono_tz::Europe::Moscow, Utc::now());
        assert_eq!(a.title.as_deref(), Some("В Заре отремонтировали водопровод"));
        assert_eq!(a.published.unwrap().to_rfc3339(), "2026-11-20T14:05:00+03:00");
        assert!(a.text.contains("заменила двести метров трубы"), "{}", a.text);
        assert!(a.text.contains("Подача воды восстановлена"));
        for junk in ["Поделиться", "Читайте также", "Редакция", "Главная", "Другая новость"]
        {
            assert!(!a.text.contains(junk), "{junk} in {}", a.text);
        }
        assert_eq!(a.canonical.as_deref(), Some("https://news.example/2026/11/20/voda"));
    }

    #[test]
    fn russian_date_in_text_and_densest_block() {
        let page = "<html><body><div class='menu'><a href='/x'>Меню сайта и разделы</a></div><div><span class='news-date'>20 ноября 2026, 14:05</span><p>Первый абзац новости о ремонте дороги.</p><p>Второй абзац с подробностями ремонта.</p></div></body></html>";
        let a = extract(page, &Selectors::default(), chrono_tz::Europe::Moscow, Utc::now());
        assert_eq!(a.published.unwrap().to_rfc3339(), "2026-11-20T14:05:00+03:00");
        assert!(a.text.starts_with("Первый абзац"), "{}", a.text);
        assert!(!a.text.contains("Меню"));
    }

    #[test]
    fn listing_links_by_heuristics_and_selector() {
        let html = r#"<nav><a href="/news/2026/11/20/menu-link">Пункт меню с длинным названием</a></nav>
<div class="list"><h2><a href="/news/2026/11/20/voda">В Заре отремонтировали водопровод</a></h2>
<h2><a href="news/2026/11/21/doroga#top">Дорогу на Турксад отремонтируют весной</a></h2>
<a href="/tag/voda">Все новости с тегом вода</a><a href="/news/2026/11/20/voda">В Заре отремонтировали водопровод</a></div>"#;
        let base = url::Url::parse("https://news.example/").unwrap();
        let links = article_links(html, &base, &Selectors::default());
        assert_eq!(links, ["https://news.example/news/2026/11/20/voda", "https://news.example/news/2026/11/21/doroga"]);
        let s = Selectors { links: Some(Selector::parse(".list h2:first-child a").unwrap()), ..Default::default() };
        assert_eq!(article_links(html, &base, &s), ["https://news.example/news/2026/11/20/voda"]);
    }
}
