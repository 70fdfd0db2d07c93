//! robots.txt (RFC 9309): the group for our product token or `*`, allow and
//! disallow rules with `*` and `$`, the longest match deciding (allow on a tie),
//! and `Crawl-delay`.

/// Rules for one host as they apply to glas.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Robots {
    /// (allow, pattern)
    rules: Vec<(bool, String)>,
    /// Seconds between requests the site asks for.
    pub crawl_delay: Option<f64>,
    /// Nothing may be fetched: robots.txt was unreachable, for this reason.
    unreachable: Option<String>,
}

impl Robots {
    pub fn allow_all() -> Robots {
        Robots::default()
    }

    /// What RFC 9309 asks when robots.txt cannot be reached: fetch nothing.
    pub fn unreachable(reason: String) -> Robots {
        Robots { unreachable: Some(reason), ..Robots::default() }
    }

    /// Why nothing may be fetched, when robots.txt was unreachable.
    pub fn unreachable_reason(&self) -> Option<&str> {
        self.unreachable.as_deref()
    }

    /// Parses robots.txt for the product token `agent` (lowercase, e.g. "glas").
    pub fn parse(text: &str, agent: &str) -> Robots {
        struct Group {
            agents: Vec<String>,
            rules: Vec<(bool, String)>,
            delay: Option<f64>,
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for raw in text.lines() {
            let line = raw.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else { continue };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push(Group { agents: Vec::new(), rules: Vec::new(), delay: None });
                        in_agents = true;
                    }
                    groups.last_mut().unwrap().agents.push(value.to_ascii_lowercase());
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut()
                        && !value.is_empty()
                    {
                        g.rules.push((key == "allow", value.to_string()));
                    }
                }
                "crawl-delay" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        g.delay = value.parse().ok();
                    }
                }
                _ => {}
            }
        }
        let mine: Vec<&Group> =
            groups.iter().filter(|g| g.agents.iter().any(|a| a != "*" && agent.contains(a.as_str()))).collect();
        let chosen: Vec<&Group> =
            if mine.is_empty() { groups.iter().filter(|g| g.agents.iter().any(|a| a == "*")).collect() } else { mine };
        Robots {
            rules: chosen.iter().flat_map(|g| g.rules.iter().cloned()).collect(),
            crawl_delay: chosen.iter().find_map(|g| g.delay),
            unreachable: None,
        }
    }

    /// Whether `path` (with its query) may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        if self.unreachable.is_some() {
            return false;
        }
        if path == "/robots.txt" {
            return true;
        }
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, path) {
                let len = pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, *allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// Pattern match with `*` (any run) and a trailing `$` (end of path).
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !path.starts_with(part) {
                return false;
            }
            pos = part.len();
            continue;
        }
        if i == parts.len() - 1 && anchored {
            return path.len() >= pos + part.len() && path.ends_with(part);
        }
        match path[pos..].find(part) {
            Some(at) => pos += at + part.len(),
            None => return false,
        }
    }
    !anchored || pos == path.len() || parts.len() > 1 && parts.last() == Some(&"")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXT: &str = "User-agent: *\nDisallow: /private/\nAllow: /private/open\nDisallow: /*.pdf$\nCrawl-delay: 2\n\nUser-agent: BadBot\nDisallow: /\n";

    #[test]
    fn longest_match_wins() {
        let r = Robots::parse(TXT, "glas");
        assert!(r.allows("/news/1"));
        assert!(!r.allows("/private/x"));
        assert!(r.allows("/private/open/x"));
        assert!(!r.allows("/files/a.pdf"));
        assert!(r.allows("/files/a.pdf?x=1"));
        assert_eq!(r.crawl_delay, Some(2.0));
        assert!(!Robots::parse(TXT, "badbot/1.0").allows("/news"));
    }

    #[test]
    fn our_own_group_beats_the_wildcard() {
        let r = Robots::parse("User-agent: *\nDisallow: /\n\nUser-agent: glas\nAllow: /\n", "glas");
        assert!(r.allows("/anything"));
        assert!(Robots::parse("", "glas").allows("/x"));
        assert!(!Robots::unreachable("timed out".into()).allows("/x"));
    }
}
