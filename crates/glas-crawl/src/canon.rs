//! Canonical URLs, so the same article reached by different links is one
//! mention: lowercase scheme and host, no `www.`, no default port, no
//! fragment, no tracking parameters (utm_*, fbclid, yclid, ...), remaining
//! parameters sorted, no trailing slash (except the root).

const TRACKING: &[&str] =
    &["fbclid", "gclid", "yclid", "ysclid", "_openstat", "from", "ref", "ref_src", "mc_cid", "mc_eid", "igshid", "si"];

/// The canonical form of `url`, or `url` unchanged when it does not parse.
pub fn canonical(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url.trim()) else { return url.trim().to_string() };
    u.set_fragment(None);
    if let Some(host) = u.host_str().map(str::to_ascii_lowercase) {
        let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
        let _ = u.set_host(Some(&host));
    }
    let mut params: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !k.starts_with("utm_") && !TRACKING.contains(&k.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();
    if params.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(params);
    }
    let path = u.path().to_string();
    if path.len() > 1 && path.ends_with('/') {
        u.set_path(path.trim_end_matches('/'));
    }
    u.to_string()
}

/// The host of a URL without `www.`, lowercase.
pub fn host(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let h = u.host_str()?.to_ascii_lowercase();
    Some(h.strip_prefix("www.").unwrap_or(&h).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn drops_what_does_not_identify_the_page() {
        assert_eq!(
            canonical("HTTPS://WWW.Example.org:443/news/1/?utm_source=tg&b=2&a=1&fbclid=x#comments"),
            "https://example.org/news/1?a=1&b=2"
        );
        assert_eq!(canonical("http://example.org/"), "http://example.org/");
        assert_eq!(canonical("http://example.org:8080/a/"), "http://example.org:8080/a");
        assert_eq!(canonical("не url"), "не url");
    }

    proptest! {
        #[test]
        fn canonical_is_idempotent(path in "[a-z0-9/]{0,20}", q in "[a-z]{1,5}", v in "[a-z0-9]{0,5}", frag in "[a-z]{0,5}") {
            let url = format!("https://www.example.org/{path}?{q}={v}&utm_medium=x#{frag}");
            let once = canonical(&url);
            prop_assert_eq!(canonical(&once), once.clone());
            prop_assert!(!once.contains("utm_") && !once.contains('#') && !once.contains("www."));
        }
    }
}
