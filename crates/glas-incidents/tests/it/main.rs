//! The incident store on a real SQLite file, with time passed in: routing,
//! deadlines across weekends and holidays, reminders and escalations once,
//! statuses and their rules, joining and repeats, public answers, merge and
//! split, the append-only history, and KPIs rebuilt from the history alone.

use chrono::{DateTime, NaiveDate, Utc};
use glas_core::{Pipeline, Severity};
use glas_incidents::{
    Actor, Change, EpisodeInput, Evidence, Filter, IncidentError, Incidents, Joined, Overdue, Status, kpi,
};

const PIPELINE: &str = r#"
[district]
name = "Тестовый округ"
timezone = "Europe/Moscow"

[storage]
data_dir = "data"

[alerts]
from = "glas@test.example"
to = ["press@test.example"]

[incidents]
head = ["head@test.example"]
reaction = "8h"
resolution = "2d"
remind_before = "2h"

[[incidents.deadlines]]
topics = ["water"]
severities = ["high"]
reaction = "3h"

[[routing]]
service = "Водоканал"
topics = ["water"]
to = ["water@test.example"]

[[routing]]
service = "Администрация"
to = ["adm@test.example"]

[[places]]
name = "Величаевское"

[[places]]
name = "Левокумское"
"#;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn open(dir: &std::path::Path) -> Incidents {
    let p = Pipeline::parse(PIPELINE, std::path::Path::new("test.toml"), dir).unwrap();
    Incidents::open(dir, &p).unwrap()
}

fn ev(id: &str, at: &str) -> Evidence {
    Evidence {
        id: id.into(),
        published_at: t(at),
        url: format!("https://t.me/x/{id}"),
        source: "Величаевское онлайн".into(),
        snippet: format!("нет воды ({id})"),
    }
}

fn episode(key: &str, severity: Severity, ids: &[(&str, &str)]) -> EpisodeInput {
    EpisodeInput {
        key: key.into(),
        topic: Some("water".into()),
        place: Some("Величаевское".into()),
        severity,
        evidence: ids.iter().map(|(i, a)| ev(i, a)).collect(),
    }
}

fn analyst() -> Actor {
    Actor { name: "анна".into(), service: None }
}

#[test]
fn an_episode_becomes_one_routed_incident_with_deadlines_on_the_working_calendar() {
    let dir = tempfile::tempdir().unwrap();
    let inc = open(dir.path());
    // Friday 27 November 2026, 17:00 Moscow time.
    let now = t("2026-11-27T17:00:00+03:00");
    let ep = episode(
        "tension|water|Величаевское@1",
        Severity::Low,
        &[("a", "2026-11-27T16:10:00+03:00"), ("b", "2026-11-27T16:40:00+03:00")],
    );
    let (id, new) = inc.from_episode(&ep, now).unwrap();
    assert!(new);
    let i = inc.get(id).unwrap().unwrap();
    assert_eq!((i.service.as_str(), i.status, i.mentions), ("Водоканал", Status::Assigned, 2));
    assert_eq!(i.title, "Водоснабжение — Величаевское");
    assert_eq!(i.first_complaint_at, t("2026-11-27T16:10:00+03:00"));
    // 8 working hours: one on Friday, seven on Monday.
    assert_eq!(i.reaction_due, t("2026-11-30T16:00:00+03:00"));
    // Two working days (18 h): Friday 1 h, Monday 9 h, Tuesday 8 h.
    assert_eq!(i.resolution_due, t("2026-12-01T17:00:00+03:00"));
    let mail = inc.pending_mail().unwrap();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].to, ["water@test.example"]);
    assert!(mail[0].subject.contains("инцидент №1") && mail[0].subject.contains("Величаевское"), "{}", mail[0].subject);
    assert!(mail[0].text.contains("нет воды (b)") && mail[0].text.contains("Срок первой реакции: 30.11.2026 16:00"));

    // The same episode escalating: the same incident, graver, with the
    // high-severity water deadline (3 h from creation) now the earlier one.
    let later = t("2026-11-27T17:30:00+03:00");
    let ep2 = episode("tension|water|Величаевское@1", Severity::High, &[("c", "2026-11-27T17:20:00+03:00")]);
    assert_eq!(inc.from_episode(&ep2, later).unwrap(), (id, false));
    let i = inc.get(id).unwrap().unwrap();
    assert_eq!((i.severity, i.mentions), (Severity::High, 3));
    assert_eq!(i.reaction_due, t("2026-11-30T11:00:00+03:00"));
    // Another episode of the same problem within the join window joins it.
    let ep3 = episode("emerging|water|Величаевское@2", Severity::Medium, &[("d", "2026-11-28T10:00:00+03:00")]);
    assert_eq!(inc.from_episode(&ep3, t("2026-11-28T10:15:00+03:00")).unwrap(), (id, false));
    assert_eq!(inc.list(&Filter::default(), later).unwrap().len(), 1);
    // Other topics go to the default service.
    let mut other = episode("tension|roads|Левокумское@3", Severity::Low, &[("e", "2026-11-28T09:00:00+03:00")]);
    other.topic = Some("roads".into());
    other.place = Some("Левокумское".into());
    let (road, _) = inc.from_episode(&other, t("2026-11-28T09:30:00+03:00")).unwrap();
    assert_eq!(inc.get(road).unwrap().unwrap().service, "Администрация");
    assert_eq!(inc.list(&Filter { service: Some("Водоканал".into()), ..Default::default() }, later).unwrap().len(), 1);
}

#[test]
fn reminders_and_escalations_come_once_across_a_holiday() {
    let dir = tempfile::tempdir().unwrap();
    let inc = open(dir.path());
    // Tuesday 3 November 2026, 15:00; Wednesday 4 November is a holiday.
    let created = t("2026-11-03T15:00:00+03:00");
    let (id, _) =
        inc.from_episode(&episode("k1", Severity::Low, &[("a", "2026-11-03T14:00:00+03:00")]), created).unwrap();
    let i = inc.get(id).unwrap().unwrap();
    assert_eq!(i.reaction_due, t("2026-11-05T14:00:00+03:00"));
    for m in inc.pending_mail().unwrap() {
        inc.mark_sent(&m.key, created).unwrap();
    }
    // On the holiday five working hours remain: no reminder yet.
    let r = inc.tick(t("2026-11-04T12:00:00+03:00")).unwrap();
    assert_eq!((r.reminders, r.escalations), (0, 0));
    // Thursday 12:00, two working hours before the deadline: one reminder,
    // however many rounds run.
    assert_eq!(inc.tick(t("2026-11-05T12:00:00+03:00")).unwrap().reminders, 1);
    assert_eq!(inc.tick(t("2026-11-05T12:30:00+03:00")).unwrap().reminders, 0);
    let mail = inc.pending_mail().unwrap();
    assert_eq!(mail.len(), 1);
    assert!(mail[0].subject.starts_with("Напоминание"), "{}", mail[0].subject);
    assert_eq!(mail[0].to, ["water@test.example"]);
    // Past the deadline: escalated to the head (and the service), once.
    let late = t("2026-11-05T14:05:00+03:00");
    assert_eq!(inc.tick(late).unwrap().escalations, 1);
    assert_eq!(inc.tick(t("2026-11-05T15:00:00+03:00")).unwrap().escalations, 0);
    let i = inc.get(id).unwrap().unwrap();
    assert_eq!(i.overdue(late), Some(Overdue::Reaction));
    assert_eq!(inc.list(&Filter { overdue: true, ..Default::default() }, late).unwrap().len(), 1);
    let escalation = inc.pending_mail().unwrap().into_iter().find(|m| m.kind == "overdue_reaction").unwrap();
    assert_eq!(escalation.to, ["water@test.example", "head@test.example"]);
    assert!(escalation.subject.starts_with("ПРОСРОЧЕН"));
    // Once the service reacts, the incident is no longer overdue for it.
    inc.change(id, &analyst(), &Change::Status { to: Status::InWork, comment: None, reason: None, until: None }, late)
        .unwrap();
    assert_eq!(inc.get(id).unwrap().unwrap().overdue(late), None);
    // Every email is queued once, whatever the number of rounds.
    let kinds: Vec<String> = inc.mail_log().unwrap().into_iter().map(|(_, k, _, _)| k).collect();
    assert_eq!(kinds, ["assigned", "reminder_reaction", "overdue_reaction"]);
}

#[test]
fn status_changes_follow_the_rules_and_stay_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let inc = open(dir.path());
    let now = t("2026-12-01T10:00:00+03:00");
    let (id, _) =
        inc.from_episode(&episode("k", Severity::Medium, &[("a", "2026-12-01T09:00:00+03:00")]), now).unwrap();
    let status = |to, reason: Option<&str>, until: Option<NaiveDate>| Change::Status {
        to,
        comment: Some("  принято  ".into()),
        reason: reason.map(str::to_string),
        until,
    };
    // Postponed needs a reason and a later date; rejected needs a reason.
    let e = inc.change(id, &analyst(), &status(Status::Postponed, None, None), now).unwrap_err();
    assert!(matches!(e, IncidentError::Invalid(ref m) if m.contains("причину")), "{e}");
    let e = inc.change(id, &analyst(), &status(Status::Postponed, Some("нет средств"), None), now).unwrap_err();
    assert!(e.to_string().contains("дату"), "{e}");
    let past = NaiveDate::from_ymd_opt(2026, 11, 1);
    let e = inc.change(id, &analyst(), &status(Status::Postponed, Some("нет средств"), past), now).unwrap_err();
    assert!(e.to_string().contains("позже"), "{e}");
    let e = inc.change(id, &analyst(), &status(Status::Rejected, Some(" "), None), now).unwrap_err();
    assert!(e.to_string().contains("причину отклонения"), "{e}");
    // A service changes only its own incidents, and only their status.
    let other = Actor { name: "дорожники".into(), service: Some("Администрация".into()) };
    let e = inc.change(id, &other, &status(Status::InWork, None, None), now).unwrap_err();
    assert!(matches!(e, IncidentError::Forbidden(_)), "{e}");
    let water = Actor { name: "водоканал".into(), service: Some("Водоканал".into()) };
    let e =
        inc.change(id, &water, &Change::Assign { service: "Администрация".into(), comment: None }, now).unwrap_err();
    assert!(e.to_string().contains("аналитик"), "{e}");
    let i = inc.change(id, &water, &status(Status::InWork, None, None), now).unwrap();
    assert_eq!((i.status, i.reacted_at), (Status::InWork, Some(now)));
    // A status cannot go back to "assigned" from work.
    let e = inc.change(id, &water, &status(Status::Assigned, None, None), now).unwrap_err();
    assert!(e.to_string().contains("нельзя"), "{e}");
    let until = NaiveDate::from_ymd_opt(2027, 4, 1);
    let i = inc.change(id, &water, &status(Status::Postponed, Some("нет средств в этом году"), until), now).unwrap();
    assert_eq!(
        (i.status, i.postponed_until, i.reason.as_deref()),
        (Status::Postponed, until, Some("нет средств в этом году"))
    );
    // While postponed nothing is overdue; on its date it comes back in work.
    assert_eq!(i.overdue(t("2027-03-01T10:00:00+03:00")), None);
    let back = inc.tick(t("2027-04-01T08:00:00+03:00")).unwrap();
    assert_eq!(back.returned, [id]);
    let i = inc.get(id).unwrap().unwrap();
    assert_eq!((i.status, i.postponed_until), (Status::InWork, None));
    assert!(i.resolution_due > t("2027-04-01T08:00:00+03:00"));
    let i = inc.change(id, &water, &status(Status::Resolved, None, None), t("2027-04-02T10:00:00+03:00")).unwrap();
    assert_eq!(i.resolved_at, Some(t("2027-04-02T10:00:00+03:00")));
    inc.change(id, &analyst(), &Change::Comment { text: "проверено выездом".into() }, t("2027-04-02T11:00:00+03:00"))
        .unwrap();
    let e = inc.change(id, &analyst(), &Change::Comment { text: "   ".into() }, now).unwrap_err();
    assert!(e.to_string().contains("пуст"));

    let h = inc.history(Some(id)).unwrap();
    let actions: Vec<&str> = h.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["created", "assigned", "status", "status", "returned", "status", "comment"]);
    assert_eq!(h[2].who, "водоканал");
    assert_eq!(h[2].comment.as_deref(), Some("принято"));
    assert_eq!(h[3].data["reason"], "нет средств в этом году");
    assert_eq!(h[3].data["until"], "2027-04-01");
    assert_eq!(h[6].comment.as_deref(), Some("проверено выездом"));
    assert!(
        inc.change(99, &analyst(), &Change::Comment { text: "x".into() }, now)
            .is_err_and(|e| matches!(e, IncidentError::NotFound(99)))
    );
}

#[test]
fn complaints_join_open_incidents_and_reopen_resolved_ones_as_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let inc = open(dir.path());
    let now = t("2026-12-01T10:00:00+03:00");
    let (id, _) = inc.from_episode(&episode("k", Severity::Low, &[("a", "2026-12-01T09:00:00+03:00")]), now).unwrap();
    let place = Some("Величаевское");
    assert_eq!(inc.complaint(&ev("b", "2026-12-03T09:00:00+03:00"), "water", place, now).unwrap(), Joined::Joined(id));
    assert_eq!(inc.complaint(&ev("b", "2026-12-03T09:00:00+03:00"), "water", place, now).unwrap(), Joined::Known);
    assert_eq!(inc.complaint(&ev("x", "2026-12-03T09:00:00+03:00"), "roads", place, now).unwrap(), Joined::None);
    assert_eq!(
        inc.complaint(&ev("y", "2026-12-03T09:00:00+03:00"), "water", Some("Левокумское"), now).unwrap(),
        Joined::None
    );
    // More than the join window after the last complaint: not this incident.
    assert_eq!(inc.complaint(&ev("z", "2026-12-11T09:00:00+03:00"), "water", place, now).unwrap(), Joined::None);
    let resolved_at = t("2026-12-04T12:00:00+03:00");
    inc.change(
        id,
        &analyst(),
        &Change::Status { to: Status::Resolved, comment: None, reason: None, until: None },
        resolved_at,
    )
    .unwrap();
    // Ten days after the resolution: a repeat that reopens it.
    let again = t("2026-12-14T09:00:00+03:00");
    assert_eq!(
        inc.complaint(&ev("c", "2026-12-14T08:30:00+03:00"), "water", place, again).unwrap(),
        Joined::Reopened(id)
    );
    let i = inc.get(id).unwrap().unwrap();
    assert_eq!((i.status, i.repeats, i.resolved_at, i.reacted_at), (Status::Assigned, 1, None, None));
    assert_eq!(i.reaction_due, t("2026-12-14T17:00:00+03:00"));
    assert!(
        inc.pending_mail().unwrap().iter().any(|m| m.kind == "reopened" && m.subject.starts_with("Повторная жалоба"))
    );
    inc.change(
        id,
        &analyst(),
        &Change::Status { to: Status::Resolved, comment: None, reason: None, until: None },
        again,
    )
    .unwrap();
    // The episode escalating after the resolution adds nothing to the closed
    // incident: its posts come back through the complaints' path.
    let before = inc.get(id).unwrap().unwrap().mentions;
    let late_ep = episode("k", Severity::High, &[("late", "2026-12-14T10:00:00+03:00")]);
    assert_eq!(inc.from_episode(&late_ep, again).unwrap(), (id, false));
    assert_eq!(inc.get(id).unwrap().unwrap().mentions, before);
    // Beyond the repeat window (30 days): a new problem, not a repeat.
    assert_eq!(inc.complaint(&ev("d", "2027-01-20T08:30:00+03:00"), "water", place, again).unwrap(), Joined::None);
}

#[test]
fn an_own_post_on_the_same_topic_and_place_is_the_public_answer() {
    let dir = tempfile::tempdir().unwrap();
    let inc = open(dir.path());
    let now = t("2026-11-23T07:30:00+03:00");
    let (id, _) = inc.from_episode(&episode("k", Severity::High, &[("a", "2026-11-23T07:04:00+03:00")]), now).unwrap();
    let post = |place: &str, at: &str| {
        let mut e = ev("adm", at);
        e.url = "https://adm.example/news/1".into();
        (e, vec!["water".to_string()], vec![place.to_string()])
    };
    let (e, topics, places) = post("Левокумское", "2026-11-23T11:40:00+03:00");
    assert!(inc.public_post(&e, &topics, &places, now).unwrap().is_empty(), "another settlement");
    let (e, topics, places) = post("Величаевское", "2026-11-23T06:00:00+03:00");
    assert!(inc.public_post(&e, &topics, &places, now).unwrap().is_empty(), "before the first complaint");
    let (e, topics, places) = post("Величаевское", "2026-11-23T11:40:00+03:00");
    assert_eq!(inc.public_post(&e, &topics, &places, now).unwrap(), [id]);
    let i = inc.get(id).unwrap().unwrap();
    assert_eq!(i.status, Status::Answered);
    assert_eq!(i.public_answer_url.as_deref(), Some("https://adm.example/news/1"));
    assert_eq!(i.reacted_at, Some(t("2026-11-23T11:40:00+03:00")));
    assert!(i.reacted_at.unwrap() <= i.reaction_due, "3 working hours from 07:30 is 12:00");
    // A reply under one of its posts answers too, once, and only after the
    // first complaint; under a post no incident holds, nothing.
    let (other, _) = inc
        .from_episode(
            &EpisodeInput {
                key: "k2".into(),
                topic: Some("water".into()),
                place: Some("Левокумское".into()),
                severity: Severity::Low,
                evidence: vec![ev("p", "2026-11-23T08:00:00+03:00")],
            },
            now,
        )
        .unwrap();
    let reply = |at: &str| {
        let mut e = ev("p_c9", at);
        e.url = "https://vk.com/wall-1_1?reply=9".into();
        e
    };
    assert_eq!(inc.public_reply("p", &reply("2026-11-23T07:00:00+03:00"), now).unwrap(), None, "before the complaint");
    assert_eq!(inc.public_reply("nobody", &reply("2026-11-23T09:00:00+03:00"), now).unwrap(), None);
    assert_eq!(inc.public_reply("p", &reply("2026-11-23T09:00:00+03:00"), now).unwrap(), Some(other));
    assert_eq!(inc.public_reply("p", &reply("2026-11-23T09:30:00+03:00"), now).unwrap(), None, "answered already");
    assert_eq!(inc.get(other).unwrap().unwrap().reacted_at, Some(t("2026-11-23T09:00:00+03:00")));
    // Answered once: a second post does not replace the first answer.
    let (e, topics, places) = post("Величаевское", "2026-11-24T09:00:00+03:00");
    assert!(inc.public_post(&e, &topics, &places, now).unwrap().is_empty());
}

#[test]
fn analysts_merge_and_split_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let inc = open(dir.path());
    let now = t("2026-12-01T10:00:00+03:00");
    let (a, _) = inc
        .from_episode(
            &episode("k1", Severity::Low, &[("a1", "2026-12-01T09:00:00+03:00"), ("a2", "2026-12-01T09:10:00+03:00")]),
            now,
        )
        .unwrap();
    let manual = inc
        .create(&analyst(), Some("water"), None, Severity::Medium, &[ev("m1", "2026-11-30T20:00:00+03:00")], now)
        .unwrap();
    assert_ne!(a, manual);
    let e = inc
        .create(&analyst(), Some("water"), None, Severity::Low, &[ev("a1", "2026-12-01T09:00:00+03:00")], now)
        .unwrap_err();
    assert!(e.to_string().contains("уже в инциденте"), "{e}");
    let e = inc
        .create(
            &Actor { name: "в".into(), service: Some("Водоканал".into()) },
            None,
            None,
            Severity::Low,
            &[ev("q", "2026-12-01T09:00:00+03:00")],
            now,
        )
        .unwrap_err();
    assert!(e.to_string().contains("аналитик"), "{e}");
    let e = inc
        .create(&analyst(), Some("nonsense"), None, Severity::Low, &[ev("q", "2026-12-01T09:00:00+03:00")], now)
        .unwrap_err();
    assert!(e.to_string().contains("тема"), "{e}");
    let e = inc
        .create(
            &analyst(),
            Some("water"),
            Some("Атлантида"),
            Severity::Low,
            &[ev("q", "2026-12-01T09:00:00+03:00")],
            now,
        )
        .unwrap_err();
    assert!(e.to_string().contains("нет в справочнике"), "{e}");

    inc.change(manual, &analyst(), &Change::Merge { into: a }, now).unwrap();
    let m = inc.get(manual).unwrap().unwrap();
    assert_eq!((m.merged_into, m.status, m.mentions), (Some(a), Status::Rejected, 0));
    let i = inc.get(a).unwrap().unwrap();
    assert_eq!(i.mentions, 3);
    assert_eq!(i.first_complaint_at, t("2026-11-30T20:00:00+03:00"));
    let e = inc.change(manual, &analyst(), &Change::Comment { text: "x".into() }, now).unwrap_err();
    assert!(e.to_string().contains("объединён"), "{e}");
    assert_eq!(inc.incident_of("m1").unwrap(), Some(a));

    let e = inc
        .change(a, &analyst(), &Change::Split { mentions: vec!["a1".into(), "a2".into(), "m1".into()] }, now)
        .unwrap_err();
    assert!(e.to_string().contains("хотя бы одна"), "{e}");
    let e = inc.change(a, &analyst(), &Change::Split { mentions: vec!["zz".into()] }, now).unwrap_err();
    assert!(e.to_string().contains("нет в инциденте"), "{e}");
    inc.change(a, &analyst(), &Change::Split { mentions: vec!["m1".into()] }, now).unwrap();
    let all = inc.list(&Filter::default(), now).unwrap();
    let new = all.iter().find(|i| i.id != a && i.id != manual).unwrap();
    assert_eq!((new.mentions, new.service.as_str()), (1, "Водоканал"));
    assert_eq!(inc.get(a).unwrap().unwrap().first_complaint_at, t("2026-12-01T09:00:00+03:00"));
}

#[test]
fn the_history_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let inc = open(dir.path());
    inc.from_episode(
        &episode("k", Severity::Low, &[("a", "2026-12-01T09:00:00+03:00")]),
        t("2026-12-01T10:00:00+03:00"),
    )
    .unwrap();
    let raw = rusqlite_like(dir.path());
    assert!(raw.execute("UPDATE incident_history SET who = 'x'", []).unwrap_err().to_string().contains("append-only"));
    assert!(raw.execute("DELETE FROM incident_history", []).unwrap_err().to_string().contains("append-only"));
    assert_eq!(inc.history(None).unwrap().len(), 2);
}

fn rusqlite_like(dir: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("workspace.sqlite")).unwrap()
}

#[test]
fn kpis_are_rebuilt_from_the_history_alone() {
    let dir = tempfile::tempdir().unwrap();
    let inc = open(dir.path());
    let mon = t("2026-11-30T09:00:00+03:00");
    // 1: reacted in time (publicly, 2 h after its first complaint), resolved.
    let (one, _) = inc.from_episode(&episode("k1", Severity::Low, &[("a", "2026-11-30T08:00:00+03:00")]), mon).unwrap();
    let mut post = ev("adm", "2026-11-30T10:00:00+03:00");
    post.url = "https://adm.example/1".into();
    inc.public_post(&post, &["water".into()], &["Величаевское".into()], mon).unwrap();
    inc.change(
        one,
        &analyst(),
        &Change::Status { to: Status::Resolved, comment: None, reason: None, until: None },
        t("2026-12-01T12:00:00+03:00"),
    )
    .unwrap();
    // 2: another place, never answered: overdue and escalated.
    let mut ep = episode("k2", Severity::Low, &[("b", "2026-11-30T09:00:00+03:00")]);
    ep.place = Some("Левокумское".into());
    let (two, _) = inc.from_episode(&ep, mon).unwrap();
    inc.tick(t("2026-12-01T10:00:00+03:00")).unwrap();
    // 3: a road, reacted late (after its 8 working hours).
    let mut ep = episode("k3", Severity::Low, &[("c", "2026-11-30T09:00:00+03:00")]);
    ep.topic = Some("roads".into());
    let (three, _) = inc.from_episode(&ep, mon).unwrap();
    inc.change(
        three,
        &analyst(),
        &Change::Status { to: Status::InWork, comment: None, reason: None, until: None },
        t("2026-12-01T11:00:00+03:00"),
    )
    .unwrap();
    // 1 again: a repeat complaint after its resolution.
    assert_eq!(
        inc.complaint(
            &ev("d", "2026-12-03T09:00:00+03:00"),
            "water",
            Some("Величаевское"),
            t("2026-12-03T09:10:00+03:00")
        )
        .unwrap(),
        Joined::Reopened(one)
    );

    let history = inc.history(None).unwrap();
    let week = kpi::report(&history, t("2026-11-30T00:00:00+03:00"), t("2026-12-07T00:00:00+03:00"));
    let k = &week.total;
    assert_eq!((k.new, k.resolved, k.open, k.repeats, k.answered_publicly), (3, 1, 3, 1, 1));
    assert_eq!((k.reactions, k.on_time), (2, 1), "one public answer in time, one status change late");
    // Reaction from the first complaint: 2 h and 26 h.
    assert_eq!(k.median_reaction_hours, Some(14.0));
    assert_eq!(k.median_resolution_hours, Some(28.0));
    assert_eq!(k.escalations, 1, "the unanswered one escalated at the round on Tuesday: {k:?}");
    let water = week.by_service.iter().find(|k| k.group == "Водоканал").unwrap();
    assert_eq!((water.new, water.resolved), (2, 1));
    let roads = week.by_topic.iter().find(|k| k.group == "roads").unwrap();
    assert_eq!((roads.reactions, roads.on_time), (1, 0));
    // The week before holds nothing.
    let before = kpi::report(&history, t("2026-11-23T00:00:00+03:00"), t("2026-11-30T00:00:00+03:00"));
    assert_eq!(before.total.new, 0);

    // The history alone tells each incident as its row does.
    let end = t("2027-01-01T00:00:00Z");
    let facts = kpi::replay(&history, end);
    for id in [one, two, three] {
        let row = inc.get(id).unwrap().unwrap();
        let f = &facts[&id];
        let c = f.cycles.last().unwrap();
        assert_eq!(f.status, row.status, "incident {id}");
        assert_eq!(f.service, row.service);
        assert_eq!(c.reacted_at, row.reacted_at, "incident {id}");
        assert_eq!(c.resolved_at, row.resolved_at, "incident {id}");
        assert_eq!(c.reaction_due, Some(row.reaction_due), "incident {id}");
        assert_eq!(c.resolution_due, Some(row.resolution_due), "incident {id}");
        assert_eq!(f.repeats.len() as u32, row.repeats);
        assert_eq!(f.overdue_at(end), row.overdue(end).is_some(), "incident {id}");
    }
}

#[test]
fn a_pipeline_without_a_default_route_or_alerts_is_refused() {
    let no_default = PIPELINE.replace("[[routing]]\nservice = \"Администрация\"\nto = [\"adm@test.example\"]\n", "");
    let e = Pipeline::parse(&no_default, std::path::Path::new("p.toml"), std::path::Path::new(".")).unwrap_err();
    assert!(e.to_string().contains("default [[routing]]"), "{e}");
    let bad = PIPELINE
        .replace(
            "topics = [\"water\"]\nto = [\"water@test.example\"]",
            "topics = [\"waterr\"]\nplaces = [\"Нигде\"]\nto = [\"water\"]",
        )
        .replace("reaction = \"8h\"", "reaction = \"eight\"\nhours = \"18:00-09:00\"");
    let e = Pipeline::parse(&bad, std::path::Path::new("p.toml"), std::path::Path::new(".")).unwrap_err().to_string();
    for want in [
        "unknown topic \"waterr\"",
        "unknown settlement \"Нигде\"",
        "\"water\" is not an email",
        "not a duration",
        "working day",
    ] {
        assert!(e.contains(want), "{want}: {e}");
    }
    let no_alerts = PIPELINE.replace("[alerts]\nfrom = \"glas@test.example\"\nto = [\"press@test.example\"]\n", "");
    let e = Pipeline::parse(&no_alerts, std::path::Path::new("p.toml"), std::path::Path::new(".")).unwrap_err();
    assert!(e.to_string().contains("[alerts]"), "{e}");
}
