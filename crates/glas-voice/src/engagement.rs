//! Engagement of the own channels' publications as a time series: every crawl
//! of an own source captures the views, likes, comments and reposts of its
//! recent posts (and the channel's audience), and the figures 24 h and 72 h
//! after publication are read from those captures.

use std::collections::HashMap;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use glas_core::Engagement;
use rusqlite::params;

use crate::{MediaPlan, PlanError};

/// One post's engagement as one crawl saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// The mention id of the post.
    pub id: String,
    pub published_at: DateTime<FixedOffset>,
    pub at: DateTime<Utc>,
    pub engagement: Engagement,
}

/// A post's figures at the marks the report shows.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Figures {
    /// Nearest capture to 24 h after publication, if one is close enough.
    pub day: Option<Engagement>,
    /// Nearest capture to 72 h after publication.
    pub three_days: Option<Engagement>,
    /// The latest capture.
    pub latest: Option<Engagement>,
    /// How many captures there are.
    pub captures: usize,
}

fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

impl MediaPlan {
    /// Stores one crawl's captures of `source` (taken at `at`) and its
    /// audience, in one transaction. A capture already stored is kept.
    pub fn record_engagement(
        &self,
        source: &str,
        at: DateTime<Utc>,
        captures: &[(String, DateTime<FixedOffset>, Engagement)],
        audience: Option<i64>,
    ) -> Result<(), PlanError> {
        let at = at.to_rfc3339();
        self.with(|c| {
            let tx = c.transaction()?;
            for (id, published, e) in captures {
                tx.execute(
                    "INSERT OR IGNORE INTO engagement(mention, source, published_at, at, views, likes, comments, shares) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![id, source, published.to_rfc3339(), at, e.views, e.likes, e.comments, e.shares],
                )?;
            }
            if let Some(n) = audience {
                tx.execute("INSERT OR IGNORE INTO audience(source, at, members) VALUES (?1, ?2, ?3)", params![
                    source, at, n
                ])?;
            }
            tx.commit()
        })
    }

    /// Every capture of the posts `ids`, oldest first per post.
    pub fn captures(&self, ids: &[&str]) -> Result<HashMap<String, Vec<Capture>>, PlanError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT mention, published_at, at, views, likes, comments, shares FROM engagement \
                 WHERE mention = ?1 ORDER BY at",
            )?;
            let mut out: HashMap<String, Vec<Capture>> = HashMap::new();
            for id in ids {
                let rows = st.query_map([id], |r| {
                    let (p, a): (String, String) = (r.get(1)?, r.get(2)?);
                    Ok((
                        p,
                        a,
                        Engagement { views: r.get(3)?, likes: r.get(4)?, comments: r.get(5)?, shares: r.get(6)? },
                    ))
                })?;
                for row in rows {
                    let (p, a, engagement) = row?;
                    let (Some(published_at), Some(at)) = (parse_time(&p), parse_time(&a)) else { continue };
                    out.entry(id.to_string()).or_default().push(Capture {
                        id: id.to_string(),
                        published_at,
                        at: at.with_timezone(&Utc),
                        engagement,
                    });
                }
            }
            Ok(out)
        })
    }

    /// The audience of `source` counted nearest to `when` (the last count
    /// before it, or the first after when there is none): (when, members).
    pub fn audience(&self, source: &str, when: DateTime<Utc>) -> Result<Option<(DateTime<Utc>, i64)>, PlanError> {
        self.with(|c| {
            let when = when.to_rfc3339();
            for sql in [
                "SELECT at, members FROM audience WHERE source = ?1 AND at <= ?2 ORDER BY at DESC LIMIT 1",
                "SELECT at, members FROM audience WHERE source = ?1 AND at > ?2 ORDER BY at LIMIT 1",
            ] {
                let mut st = c.prepare(sql)?;
                let mut rows = st.query(params![source, when])?;
                if let Some(r) = rows.next()? {
                    let (at, members): (String, i64) = (r.get(0)?, r.get(1)?);
                    return Ok(parse_time(&at).map(|t| (t.with_timezone(&Utc), members)));
                }
            }
            Ok(None)
        })
    }
}

/// The capture nearest to `hours` after publication, if it was taken within
/// a quarter of that span of the mark (a crawl every 15 minutes is always
/// close; a service down that day gives no figure rather than a wrong one).
pub fn at_mark(captures: &[Capture], hours: i64) -> Option<Engagement> {
    let first = captures.first()?;
    let mark = first.published_at.with_timezone(&Utc) + Duration::hours(hours);
    let slack = Duration::minutes(hours * 60 / 4);
    captures
        .iter()
        .filter(|c| (c.at - mark).abs() <= slack)
        .min_by_key(|c| (c.at - mark).abs())
        .map(|c| c.engagement.clone())
}

/// A post's figures from its captures (oldest first).
pub fn figures(captures: &[Capture]) -> Figures {
    Figures {
        day: at_mark(captures, 24),
        three_days: at_mark(captures, 72),
        latest: captures.last().map(|c| c.engagement.clone()),
        captures: captures.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(published: &str, hours_after: i64, views: i64) -> Capture {
        let p = DateTime::parse_from_rfc3339(published).unwrap();
        Capture {
            id: "x".into(),
            published_at: p,
            at: p.with_timezone(&Utc) + Duration::hours(hours_after),
            engagement: Engagement { views: Some(views), ..Default::default() },
        }
    }

    #[test]
    fn marks_take_the_nearest_capture_within_a_quarter() {
        let p = "2026-11-23T09:00:00+03:00";
        let caps = vec![cap(p, 1, 100), cap(p, 20, 900), cap(p, 25, 1000), cap(p, 40, 1500)];
        let f = figures(&caps);
        assert_eq!(f.day.unwrap().views, Some(1000));
        // Nothing within 18 h of the 72 h mark.
        assert_eq!(f.three_days, None);
        assert_eq!(f.latest.unwrap().views, Some(1500));
        assert_eq!(f.captures, 4);
        // Only a capture 7 h off the 24 h mark: too far.
        assert_eq!(at_mark(&[cap(p, 31, 5)], 24), None);
        assert_eq!(at_mark(&[], 24), None);
    }

    #[test]
    fn captures_are_stored_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let plan = MediaPlan::open(dir.path()).unwrap();
        let p = DateTime::parse_from_rfc3339("2026-11-23T09:00:00+03:00").unwrap();
        let at = p.with_timezone(&Utc) + Duration::hours(24);
        let e = Engagement { views: Some(10), likes: Some(2), comments: None, shares: Some(1) };
        let caps = vec![("vk:wall-1_5".to_string(), p, e.clone())];
        plan.record_engagement("adm-vk", at, &caps, Some(5400)).unwrap();
        plan.record_engagement("adm-vk", at, &caps, Some(5400)).unwrap();
        let got = plan.captures(&["vk:wall-1_5", "vk:wall-1_6"]).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got["vk:wall-1_5"].len(), 1);
        assert_eq!(got["vk:wall-1_5"][0].engagement, e);
        assert_eq!(figures(&got["vk:wall-1_5"]).day, Some(e));
        assert_eq!(plan.audience("adm-vk", at).unwrap(), Some((at, 5400)));
        assert_eq!(
            plan.audience("adm-vk", at - Duration::hours(1)).unwrap(),
            Some((at, 5400)),
            "the first count after"
        );
        assert_eq!(plan.audience("other", at).unwrap(), None);
    }
}
