//! The administration's own VK community followed over time through the
//! `glas` binary, against the VK API stand-in on 127.0.0.1: each crawl
//! captures its recent posts' figures again (the engagement time series),
//! collects comments that came under posts already stored, counts the
//! community's members; the residents' comments are counted, their
//! unanswered questions listed, and none of them is taken for an official
//! publication.

use std::path::Path;
use std::process::Command;

use glas::fixture_server::{FixtureServer, VK_TEST_TOKEN};

use crate::support::*;

fn post(id: i64, date: i64, text: &str, views: i64, likes: i64, comments: usize) -> serde_json::Value {
    serde_json::json!({
        "id": id, "owner_id": -300, "from_id": -300, "date": date, "text": text,
        "views": {"count": views}, "likes": {"count": likes}, "reposts": {"count": 1},
        "comments": {"count": comments}
    })
}

fn comment(id: i64, from: i64, date: i64, text: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "from_id": from, "date": date, "text": text})
}

fn write(path: &Path, v: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec(v).unwrap()).unwrap();
}

/// A channel's web preview page (`t.me/s/NAME` markup) with one post.
fn telegram_page(path: &Path, published: chrono::DateTime<chrono::Utc>, views: &str, subscribers: &str) {
    let page = format!(
        r#"<html><body><div class="tgme_channel_info"><div class="tgme_channel_info_counter"><span class="counter_value">{subscribers}</span> <span class="counter_type">subscribers</span></div></div>
<div class="tgme_widget_message" data-post="adm_levokumsky/77"><div class="tgme_widget_message_text">Итоги приёма граждан: поступило 14 обращений, по девяти уже даны ответы.</div>
<span class="tgme_widget_message_views">{views}</span><a class="tgme_widget_message_date"><time datetime="{}"></time></a></div></body></html>"#,
        published.to_rfc3339()
    );
    std::fs::write(path, page).unwrap();
}

/// One crawl as of `at` (the crawler's clock is passed in).
fn crawl(pipeline: &Path, at: chrono::DateTime<chrono::Utc>) {
    let out = Command::new(env!("CARGO_BIN_EXE_glas"))
        .args(["crawl", "--once", "--json", "--at", &at.to_rfc3339(), "--pipeline"])
        .arg(pipeline)
        .env_remove("GLAS_VK_TOKEN")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

fn voice(pipeline: &Path, week: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_glas"))
        .args(["plan", "voice", "--json", "--week", week, "--pipeline"])
        .arg(pipeline)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn an_own_community_is_followed_crawl_after_crawl() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = tmp.path().join("fixtures");
    std::fs::create_dir_all(fixtures.join("vk")).unwrap();
    // Posts of Friday 20 November 2026; the first crawl a day later, so its
    // capture is the 24-hour figure, the second a day after that.
    let published = chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00+03:00").unwrap().to_utc();
    let (first_crawl, second_crawl) =
        (published + chrono::Duration::hours(24), published + chrono::Duration::hours(48));
    let day_ago = published.timestamp();
    let wall = fixtures.join("vk/wall-300.json");
    let comments = fixtures.join("vk/comments-300_41.json");
    let announcement = "Уважаемые жители! Завтра с 9 до 15 часов отключение электроэнергии на улице Мира.";
    write(
        &wall,
        &serde_json::json!({"members_count": 2500, "items": [
            post(42, day_ago + 60, "Глава округа провёл приём граждан.", 800, 12, 0),
            post(41, day_ago, announcement, 1000, 10, 3),
        ]}),
    );
    let mut thread = vec![
        comment(1, 777001, day_ago + 600, "А дом 15 тоже отключат?"),
        comment(2, -300, day_ago + 1200, "Да, весь нечётный порядок улицы."),
        comment(3, 777002, day_ago + 1800, "Опять без света, в прошлый раз обещали, что последний."),
    ];
    write(&comments, &serde_json::json!({"items": thread}));
    let channel = fixtures.join("adm_levokumsky.html");
    telegram_page(&channel, published + chrono::Duration::seconds(90), "1.2K", "3.4K");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(FixtureServer::start(&fixtures)).unwrap();
    let token = tmp.path().join("vk-token");
    std::fs::write(&token, format!("{VK_TEST_TOKEN}\n")).unwrap();
    let pipeline = tmp.path().join("pipeline.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[storage]\ndata_dir = \"data\"\n[crawl]\ndelay = \"0s\"\n\n[[sources]]\nid = \"adm-vk\"\nname = \"Администрация ВКонтакте\"\n\
type = \"vk\"\nurl = \"{0}/vk/method\"\nowner_id = -300\ncomments = true\ntoken_file = \"vk-token\"\nallow_private = true\nown = true\n\n\
[[sources]]\nid = \"adm-tg\"\ntype = \"telegram\"\nurl = \"{0}/adm_levokumsky.html\"\nallow_private = true\nown = true\n\n\
[[watchlist]]\nname = \"Глава округа\"\nkind = \"official\"\nvariants = [\"глава округа\"]\n",
            server.base_url()
        ),
    )
    .unwrap();
    let week = "2026-W47";

    crawl(&pipeline, first_crawl);
    let v = voice(&pipeline, week);
    let received = v["received"].as_array().unwrap();
    assert_eq!(received.len(), 3, "three publications; the comments are not publications: {v}");
    let tg = received.iter().find(|r| r["id"] == "tg:adm_levokumsky/77").unwrap();
    assert_eq!(tg["figures"]["day"]["views"], 1200, "Telegram views from the preview: {tg}");
    let tg_page = v["pages"].as_array().unwrap().iter().find(|p| p["source_id"] == "adm-tg").unwrap();
    assert_eq!(tg_page["audience"], 3400);
    let first = received.iter().find(|r| r["id"] == "vk:wall-300_41").unwrap();
    assert_eq!(first["figures"]["captures"], 1);
    assert_eq!(first["figures"]["day"]["views"], 1000, "captured 24 hours after publication: {first}");
    assert!(first["figures"]["three_days"].is_null());
    let r = &first["reaction"];
    assert_eq!((r["comments"].as_u64(), r["replies"].as_u64(), r["questions"].as_u64()), (Some(2), Some(1), Some(1)));
    assert!(r["unanswered"].as_array().unwrap().is_empty(), "answered by the community: {r}");
    let page = v["pages"].as_array().unwrap().iter().find(|p| p["source_id"] == "adm-vk").unwrap();
    assert_eq!(page["audience"], 2500);
    assert_eq!(page["questions"], 1);
    assert_eq!(page["answered"], 1);

    // A day later by the crawler's clock (and a second later on disk, so the
    // preview's Last-Modified changes): the figures grew, a resident asked a
    // question under the post already stored, and the community grew.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write(
        &wall,
        &serde_json::json!({"members_count": 2600, "items": [
            post(42, day_ago + 60, "Глава округа провёл приём граждан.", 950, 15, 0),
            post(41, day_ago, announcement, 1400, 16, 4),
        ]}),
    );
    telegram_page(&channel, published + chrono::Duration::seconds(90), "1.5K", "3.4K");
    thread.push(comment(4, 777003, day_ago + 3600, "А компенсацию за испорченные продукты кто-нибудь выплатит?"));
    write(&comments, &serde_json::json!({"items": thread}));
    crawl(&pipeline, second_crawl);
    let v = voice(&pipeline, week);
    let first = v["received"].as_array().unwrap().iter().find(|r| r["id"] == "vk:wall-300_41").unwrap().clone();
    assert_eq!(first["figures"]["captures"], 2, "{first}");
    assert_eq!(first["figures"]["latest"]["views"], 1400);
    assert_eq!(first["figures"]["latest"]["likes"], 16);
    let r = &first["reaction"];
    assert_eq!(r["comments"], 3, "the new comment under a stored post was collected: {r}");
    let unanswered: Vec<&str> =
        r["unanswered"].as_array().unwrap().iter().map(|q| q["text"].as_str().unwrap()).collect();
    assert_eq!(unanswered, ["А компенсацию за испорченные продукты кто-нибудь выплатит?"]);
    // The members counted nearest the week's end: the last count before it.
    let page = v["pages"].as_array().unwrap().iter().find(|p| p["source_id"] == "adm-vk").unwrap();
    assert_eq!(page["audience"], 2600);
    assert_eq!(page["answered"], 1);
    assert_eq!(page["questions"], 2);
    let tg = v["received"].as_array().unwrap().iter().find(|r| r["id"] == "tg:adm_levokumsky/77").unwrap();
    assert_eq!((tg["figures"]["captures"].as_u64(), tg["figures"]["latest"]["views"].as_i64()), (Some(2), Some(1500)));
}
