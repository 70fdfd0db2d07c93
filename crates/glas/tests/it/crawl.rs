//! Crawling over real HTTP on 127.0.0.1: the demo's feeds and Telegram pages,
//! the real saved Telegram pages, and broken twins that must fail alone.

use std::path::Path;

use glas::fixture_server::FixtureServer;
use glas::ops::{self, Ctx};
use glas_core::Pipeline;

use crate::support::*;

fn pipeline(base: &str, data: &Path, extra: &str) -> Pipeline {
    let text = format!(
        r#"
[storage]
data_dir = "{data}"

[[sources]]
id = "vestnik"
type = "rss"
url = "{base}/demo/feeds/vestnik-levokumya.xml"
allow_private = true

[[sources]]
id = "atom"
type = "rss"
url = "{base}/demo/feeds/stavropolye-vostok.atom"
allow_private = true

[[sources]]
id = "tg-real"
type = "telegram"
url = "{base}/telegram_preview/full.html"
allow_private = true

[[sources]]
id = "tg-velichaevka"
type = "telegram"
url = "{base}/demo/telegram/velichaevka_online.html"
allow_private = true
{extra}
"#,
        data = data.display()
    );
    Pipeline::parse(&text, Path::new("test.toml"), Path::new("/")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawl_twice_over_loopback_imports_each_post_once() {
    let server = FixtureServer::start(&fixtures()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let broken = format!(
        r#"
[[sources]]
id = "truncated"
type = "rss"
url = "{base}/broken/truncated.xml"
allow_private = true

[[sources]]
id = "html-not-feed"
type = "rss"
url = "{base}/broken/not-a-feed.xml"
allow_private = true

[[sources]]
id = "missing"
type = "rss"
url = "{base}/broken/no-such-file.xml"
allow_private = true

[[sources]]
id = "private-refused"
type = "rss"
url = "{base}/demo/feeds/vestnik-levokumya.xml"
"#,
        base = server.base_url()
    );
    let ctx = Ctx::new(pipeline(&server.base_url(), tmp.path(), &broken), None);
    let analyzer = ctx.analyzer();
    let mut store = ctx.open_store().unwrap();

    let first = ops::crawl_once(&ctx, &mut store, &analyzer).await.unwrap();
    let by = |id: &str| first.iter().find(|s| s.source == id).unwrap().clone();
    for id in ["vestnik", "atom", "tg-real", "tg-velichaevka"] {
        let s = by(id);
        assert_eq!(s.status, "ok", "{s:?}");
        assert!(s.parsed > 5, "{s:?}");
        assert_eq!(s.new, s.parsed, "{s:?}");
    }
    // The real saved page: 12 posts, text posts kept with their views.
    assert!(by("tg-real").parsed >= 10, "{:?}", by("tg-real"));
    let real = store
        .search(&glas_store::SearchRequest { query: "Петербурге".into(), limit: 5, ..Default::default() })
        .unwrap();
    assert!(real.hits.iter().any(|h| h.id.starts_with("tg:topwar_official/")), "{real:?}");

    let reason = |id: &str| by(id).error.unwrap_or_else(|| panic!("{id} should fail"));
    assert!(reason("truncated").contains("not a valid RSS/Atom/JSON feed"), "{}", reason("truncated"));
    assert!(reason("html-not-feed").contains("not a valid RSS/Atom/JSON feed"), "{}", reason("html-not-feed"));
    assert!(reason("missing").contains("404"), "{}", reason("missing"));
    assert!(
        reason("private-refused").contains("refusing to fetch private address 127.0.0.1"),
        "{}",
        reason("private-refused")
    );

    let total = store.len();
    let second = ops::crawl_once(&ctx, &mut store, &analyzer).await.unwrap();
    assert_eq!(second.iter().map(|s| s.new).sum::<usize>(), 0, "{second:?}");
    assert_eq!(store.len(), total);
    // Static files carry Last-Modified: the second round is answered with 304.
    assert!(second.iter().filter(|s| s.status == "not modified").count() >= 4, "{second:?}");

    // Checkpoints record failures per source.
    let cps = store.checkpoints().unwrap();
    assert_eq!(cps.get("missing").consecutive_failures, 2);
    assert!(cps.get("vestnik").last_success.is_some());
}

#[test]
fn crawl_once_cli_prints_a_per_source_summary() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(FixtureServer::start(&fixtures())).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let toml = tmp.path().join("p.toml");
    std::fs::write(
        &toml,
        format!(
            "[storage]\ndata_dir = \"data\"\n\n[[sources]]\nid = \"adm\"\ntype = \"rss\"\nurl = \"{}/demo/feeds/adm-levokumsky.xml\"\nallow_private = true\n\n[[sources]]\nid = \"bad\"\ntype = \"rss\"\nurl = \"{}/broken/truncated.xml\"\nallow_private = true\n",
            server.base_url(),
            server.base_url()
        ),
    )
    .unwrap();
    let out = glas(&["crawl", "--once", "--pipeline", toml.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "a failed source gives exit code 3\n{text}{}", stderr(&out));
    assert!(text.lines().any(|l| l.starts_with("adm ") && l.contains(" ok ")), "{text}");
    assert!(text.contains("error: parse"), "{text}");
    assert!(tmp.path().join("data/log").is_dir(), "data_dir resolves against the pipeline's folder");
    drop(server);
}
