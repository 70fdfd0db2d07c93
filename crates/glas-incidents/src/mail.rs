//! The emails incidents cause, in Russian: to the service when an incident
//! is assigned, reopened or back from postponement, or a deadline nears; to
//! the head's office (and the service) when a deadline has passed.

use chrono::{DateTime, Utc};
use glas_core::ru::escape_html as esc;

use crate::Evidence;
use crate::db::{Incident, Incidents, Overdue, stamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MailKind {
    Assigned,
    Reopened,
    Returned,
    Reminder(Overdue),
    Overdue(Overdue),
}

pub(crate) struct Draft {
    pub key: String,
    pub kind: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// How many of an incident's mentions an email quotes.
const QUOTED: usize = 5;

pub(crate) fn compose(
    inc: &Incidents,
    i: &Incident,
    kind: MailKind,
    evidence: &[Evidence],
    now: DateTime<Utc>,
) -> Draft {
    let tz = inc.calendar().tz();
    let when = |t: DateTime<Utc>| t.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string();
    let service_to: Vec<String> =
        inc.settings().routing.iter().find(|r| r.service == i.service).map(|r| r.to.clone()).unwrap_or_default();
    let (code, lead, due) = match kind {
        MailKind::Assigned => ("assigned".to_string(), format!("Инцидент передан службе «{}».", i.service), None),
        MailKind::Reopened => (
            "reopened".to_string(),
            format!("Жители снова жалуются после решения: инцидент возобновлён (повтор №{}).", i.repeats),
            None,
        ),
        MailKind::Returned => {
            ("returned".to_string(), "Срок переноса истёк: инцидент снова в работе.".to_string(), None)
        }
        MailKind::Reminder(d) => (
            format!("reminder_{}", d.as_str()),
            format!("Приближается срок: {}.", deadline_name(d)),
            Some(due_of(i, d)),
        ),
        MailKind::Overdue(d) => (
            format!("overdue_{}", d.as_str()),
            format!("Срок нарушен: {}. Инцидент передан на контроль главе.", overdue_name(d)),
            Some(due_of(i, d)),
        ),
    };
    let mut to = service_to;
    if matches!(kind, MailKind::Overdue(_)) {
        for h in &inc.settings().head {
            if !to.contains(h) {
                to.push(h.clone());
            }
        }
    }
    // Reminders and escalations happen once per deadline; the rest once
    // per change that caused them.
    let key = match (kind, due) {
        (_, Some(d)) => format!("{}|{code}|{}", i.id, stamp(d)),
        (MailKind::Assigned, _) => format!("{}|{code}|{}|{}", i.id, i.service, stamp(now)),
        _ => format!("{}|{code}|{}", i.id, stamp(now)),
    };
    let which = |d: Overdue| match d {
        Overdue::Reaction => "реакция",
        Overdue::Resolution => "решение",
    };
    let prefix = match kind {
        MailKind::Overdue(d) => format!("ПРОСРОЧЕН ({}): ", which(d)),
        MailKind::Reminder(d) => format!("Напоминание ({}): ", which(d)),
        MailKind::Reopened => "Повторная жалоба: ".to_string(),
        MailKind::Returned => "Снова в работе: ".to_string(),
        MailKind::Assigned => String::new(),
    };
    let subject = format!("{prefix}инцидент №{} — {} ({})", i.id, i.title, i.severity.russian().to_lowercase());

    let mut facts: Vec<(String, String)> = vec![
        ("Служба".into(), i.service.clone()),
        ("Статус".into(), i.status.label_ru().into()),
        ("Первая жалоба".into(), when(i.first_complaint_at)),
        ("Публикаций".into(), i.mentions.to_string()),
        ("Срок первой реакции".into(), when(i.reaction_due)),
        ("Срок решения".into(), when(i.resolution_due)),
    ];
    if let Some(d) = due {
        facts.push(("Срок".into(), when(d)));
    }
    let link = inc.link(i.id);

    let mut text = format!("{}\n{lead}\n\n", inc.title(i.topic.as_deref(), i.place.as_deref()));
    for (k, v) in &facts {
        text.push_str(&format!("{k}: {v}\n"));
    }
    text.push_str("\nЧто пишут жители:\n");
    for e in evidence.iter().rev().take(QUOTED) {
        text.push_str(&format!("— {} ({}, {})\n  {}\n", e.snippet, e.source, when(e.published_at), e.url));
    }
    if evidence.len() > QUOTED {
        text.push_str(&format!("…и ещё {}\n", evidence.len() - QUOTED));
    }
    if let Some(l) = &link {
        text.push_str(&format!("\nКарточка инцидента: {l}\n"));
    }
    text.push_str(&format!("\n— glas, {}\n", inc.district()));

    let mut html = format!("<h2 style=\"margin:0 0 8px\">{}</h2><p><b>{}</b></p><table>", esc(&i.title), esc(&lead));
    for (k, v) in &facts {
        html.push_str(&format!(
            "<tr><td style=\"color:#555;padding-right:12px\">{}</td><td>{}</td></tr>",
            esc(k),
            esc(v)
        ));
    }
    html.push_str("</table><h3>Что пишут жители</h3><ul>");
    for e in evidence.iter().rev().take(QUOTED) {
        html.push_str(&format!(
            "<li>{} <span style=\"color:#555\">({}, {})</span> <a href=\"{}\">ссылка</a></li>",
            esc(&e.snippet),
            esc(&e.source),
            esc(&when(e.published_at)),
            esc(&e.url)
        ));
    }
    html.push_str("</ul>");
    if let Some(l) = &link {
        html.push_str(&format!("<p><a href=\"{}\">Открыть карточку инцидента</a></p>", esc(l)));
    }
    let html = format!(
        "<!DOCTYPE html><html lang=\"ru\"><head><meta charset=\"utf-8\"></head>\
<body style=\"font-family:Arial,sans-serif;max-width:640px\">{html}</body></html>"
    );
    Draft { key, kind: code, to, subject, text, html }
}

fn due_of(i: &Incident, d: Overdue) -> DateTime<Utc> {
    match d {
        Overdue::Reaction => i.reaction_due,
        Overdue::Resolution => i.resolution_due,
    }
}

fn deadline_name(d: Overdue) -> &'static str {
    match d {
        Overdue::Reaction => "первая реакция службы",
        Overdue::Resolution => "решение проблемы",
    }
}

fn overdue_name(d: Overdue) -> &'static str {
    match d {
        Overdue::Reaction => "служба не отреагировала вовремя",
        Overdue::Resolution => "проблема не решена вовремя",
    }
}
