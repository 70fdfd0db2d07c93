//! Plain text out of the HTML fragments feeds and pages carry.

use scraper::{ElementRef, Html, Node};

/// Visible text of an HTML fragment: tags dropped, `<br>` and block ends as
/// line breaks, whitespace collapsed within lines.
pub fn html_to_text(html: &str) -> String {
    if !html.contains('<') && !html.contains('&') {
        return normalize(html);
    }
    let frag = Html::parse_fragment(html);
    let mut out = String::new();
    collect(frag.root_element(), &mut out);
    normalize(&out)
}

pub(crate) fn element_text(el: ElementRef<'_>) -> String {
    let mut out = String::new();
    collect(el, &mut out);
    normalize(&out)
}

fn collect(el: ElementRef<'_>, out: &mut String) {
    for child in el.children() {
        match child.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => {
                let name = e.name();
                if matches!(name, "script" | "style" | "noscript") {
                    continue;
                }
                if name == "br" {
                    out.push('\n');
                    continue;
                }
                if let Some(child_el) = ElementRef::wrap(child) {
                    collect(child_el, out);
                }
                if matches!(name, "p" | "div" | "li" | "h1" | "h2" | "h3" | "h4" | "blockquote" | "tr") {
                    out.push('\n');
                }
            }
            _ => {}
        }
    }
}

fn normalize(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_keeps_lines() {
        assert_eq!(
            html_to_text("<p>Нет  воды</p><p>в <b>Заре</b><br>с утра</p><script>x()</script>"),
            "Нет воды\nв Заре\nс утра"
        );
        assert_eq!(html_to_text("a &amp; b"), "a & b");
        assert_eq!(html_to_text("  plain\n\n text "), "plain\ntext");
    }
}
