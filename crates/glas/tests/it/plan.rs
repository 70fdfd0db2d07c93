//! The media plan: a press office's XLSX with a published, a late and a
//! missing item imported through the CLI (a bad file imports nothing), held
//! against the demo month's own channel, in the weekly report's HTML, PDF
//! (read back with pdftotext) and XLSX, and on the workspace's page.

use std::path::Path;

use axum::http::StatusCode;
use glas_web::accounts::Role;

use crate::support::*;
use crate::workspace::{log_in, send};

/// An XLSX as a press office keeps it: a title row, then the header, dates
/// as Excel dates.
fn plan_xlsx(path: &Path, rows: &[(&str, &str, &str, &str)]) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "Медиаплан администрации на неделю").unwrap();
    for (c, h) in ["Дата", "Канал", "Тема", "Материал", "Ответственный"].iter().enumerate()
    {
        ws.write_string(1, c as u16, *h).unwrap();
    }
    let date = rust_xlsxwriter::Format::new().set_num_format("dd.mm.yyyy");
    for (i, (day, channel, topic, subject)) in rows.iter().enumerate() {
        let r = 2 + i as u32;
        match chrono::NaiveDate::parse_from_str(day, "%d.%m.%Y") {
            Ok(d) => {
                let x = rust_xlsxwriter::ExcelDateTime::from_ymd(
                    chrono::Datelike::year(&d) as u16,
                    chrono::Datelike::month(&d) as u8,
                    chrono::Datelike::day(&d) as u8,
                )
                .unwrap();
                ws.write_datetime_with_format(r, 0, &x, &date).unwrap();
            }
            Err(_) => {
                ws.write_string(r, 0, *day).unwrap();
            }
        }
        ws.write_string(r, 1, *channel).unwrap();
        ws.write_string(r, 2, *topic).unwrap();
        ws.write_string(r, 3, *subject).unwrap();
        ws.write_string(r, 4, "Пресс-служба").unwrap();
    }
    wb.save(path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_plan_from_excel_against_the_own_channel_in_the_cli_the_report_and_the_workspace() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("demo");
    let out = glas(&["demo", "--data", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Медиаплан 2026-W48: запланировано 5, вышло 2, с опозданием 1, не вышло 2"), "{text}");
    let d = data.to_str().unwrap();

    // A file with a bad row imports nothing, and says which row.
    let bad = tmp.path().join("bad.xlsx");
    plan_xlsx(
        &bad,
        &[
            ("23.11.2026", "adm-levokumsky", "водоснабжение", "Аварийные работы в Величаевском"),
            ("в среду", "adm-levokumsky", "", "Итоги уборочной"),
            ("24.11.2026", "vk-чужой", "", "Памятка"),
        ],
    );
    let o = glas(&["--data", d, "plan", "import", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("строка 4: «в среду» — не дата"), "{}", stderr(&o));
    let listed = glas(&["--data", d, "plan", "list", "--week", "2026-W48", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 5, "the demo's plan is untouched");

    // The press office's week: published, late (a day), missing.
    let good = tmp.path().join("plan.xlsx");
    plan_xlsx(
        &good,
        &[
            ("23.11.2026", "adm-levokumsky", "водоснабжение", "Аварийно-восстановительные работы в Величаевском"),
            ("24.11.2026", "Администрация округа — новости", "", "Итоги уборочной в округе"),
            ("25.11.2026", "adm-levokumsky", "", "Отчёт о подготовке котельных к зиме"),
        ],
    );
    let o = glas(&["--data", d, "plan", "import", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("3 строк с 23.11.2026 по 25.11.2026 загружено (заменено прежних: 4)"),
        "{}",
        stdout(&o)
    );
    // The press release of the repair, reprinted by two outlets.
    let o = glas(&["--data", d, "plan", "pickup", "--week", "2026-W48", "--json"]);
    let carried: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let release = carried.as_array().unwrap().iter().find(|p| p["url"].as_str().unwrap().ends_with("/n127")).unwrap();
    let outlets: Vec<&str> =
        release["carried"].as_array().unwrap().iter().map(|c| c["source_name"].as_str().unwrap()).collect();
    assert_eq!(outlets, ["Вестник Левокумья", "Ставрополье. Восток"], "{release}");
    assert_eq!(release["carried"][0]["how"], "reprint");
    assert_eq!(release["carried"][0]["delay_hours"], 1.2);
    let o = glas(&["--data", d, "plan", "fact", "--week", "2026-W48", "--json"]);
    let fact: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let states: Vec<&str> = fact["outcomes"].as_array().unwrap().iter().map(|o| o["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["published", "late", "missing", "missing"], "{fact}");
    assert!(fact["outcomes"][0]["publication"]["url"].as_str().unwrap().ends_with("/n127"));
    assert_eq!(fact["outcomes"][1]["late_days"], 1);
    assert!(!fact["unplanned"].as_array().unwrap().is_empty());

    // The weekly report made now says the same in its three formats.
    let o = glas(&["--data", d, "report", "weekly", "--week", "2026-W48"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(data.join("reports/weekly-2026-W48.html")).unwrap();
    assert!(html.contains("Медиаплан: план и факт"), "the section");
    assert!(html.contains("вышло в срок — 1, с опозданием — 1, не вышло — 2"), "the summary");
    assert!(html.contains("Отчёт о подготовке котельных к зиме"), "the missing item");
    assert!(html.contains("СМИ подхватили 1 из"), "the pickup");
    let pdf = data.join("reports/weekly-2026-W48.pdf");
    let pdf_text =
        String::from_utf8(crate::report::poppler("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"]).stdout)
            .unwrap();
    for want in ["Медиаплан: план и факт", "не вышло", "опозданием", "котельных"]
    {
        assert!(pdf_text.contains(want), "PDF lacks {want:?}:\n{pdf_text}");
    }
    {
        use calamine::Reader;
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(data.join("reports/weekly-2026-W48.xlsx")).unwrap();
        assert!(wb.sheet_names().contains(&glas_report::xlsx::MEDIA_PLAN_SHEET.to_string()));
        let sheet = wb.worksheet_range(glas_report::xlsx::MEDIA_PLAN_SHEET).unwrap();
        let cells: Vec<String> = sheet.rows().flat_map(|r| r.iter().map(|c| c.to_string())).collect();
        assert!(cells.iter().any(|c| c == "не вышло") && cells.iter().any(|c| c.contains("котельных")), "{cells:?}");
        // The own voice: residents' comments under the VK announcements,
        // the question nobody answered, the image index.
        let sheet = wb.worksheet_range(glas_report::xlsx::OWN_VOICE_SHEET).unwrap();
        let cells: Vec<String> = sheet.rows().flat_map(|r| r.iter().map(|c| c.to_string())).collect();
        for want in
            ["Сколько примерно по времени ремонт? Детей купать нечем.", "Администрация округа ВКонтакте", "5400"]
        {
            assert!(cells.iter().any(|c| c == want), "XLSX lacks {want:?}: {cells:?}");
        }
        assert!(cells.iter().any(|c| c.starts_with("Имидж-индекс администрации за неделю")), "{cells:?}");
        // The outlook: the week ahead, and the week's forecast against fact.
        let sheet = wb.worksheet_range(glas_report::xlsx::OUTLOOK_SHEET).unwrap();
        let cells: Vec<String> = sheet.rows().flat_map(|r| r.iter().map(|c| c.to_string())).collect();
        assert!(cells.iter().any(|c| c.starts_with("Ожидается негативных историй по округу")), "{cells:?}");
        assert!(cells.iter().any(|c| c == "водоснабжение, Величаевское"), "{cells:?}");
    }
    assert!(html.contains("Официальные каналы: отклик жителей и имидж"), "the own voice section");
    assert!(html.contains("Комментариев жителей под ними: 12"), "{html}");
    assert!(html.contains("Детей купать нечем"), "an unanswered question");
    for want in
        ["отклик жителей", "Официальные страницы", "купать нечем", "Имидж-индекс", "Прогноз на следующую неделю"]
    {
        assert!(pdf_text.contains(want), "PDF lacks {want:?}:\n{pdf_text}");
    }

    // The workspace's page: the head reads it; an analyst adds a row, with
    // a mistake refused first.
    let pipeline = glas::demo_pipeline(Some("http://127.0.0.1:9")).unwrap();
    let ctx = glas::ops::Ctx::new(pipeline, Some(&data));
    let state =
        glas::ops::workspace(ctx, glas_web::overview::Overview::builtin(), std::time::Duration::from_secs(10)).unwrap();
    state.accounts.add_user("глава", Role::Viewer, "пароль главы").unwrap();
    state.accounts.add_user("анна", Role::Analyst, "пароль анны").unwrap();
    let state = std::sync::Arc::new(state);
    let app = crate::search::App { router: glas_web::router(state.clone()), token: String::new(), state };
    let (head, _) = log_in(&app, "глава", "пароль главы", "/").await;
    let page = send(&app, "GET", "/plan?week=2026-W48", &head, None).await;
    assert_eq!(page.status, StatusCode::OK);
    for want in [
        "Медиаплан 2026-W48",
        "вышло с опозданием (1 дн.)",
        "не вышло",
        "Вышло вне плана",
        "news/2026/11/23/n127",
        "Подхват СМИ",
        "Вестник Левокумья</a> (перепечатка, через 1.2 ч)",
        "Отклик жителей и имидж",
        "Детей купать нечем",
        "Имидж-индекс администрации за неделю",
    ] {
        assert!(page.body.contains(want), "{want}: {}", page.body);
    }
    assert!(!page.body.contains("Добавить в план"), "a viewer does not edit");
    let csrf = page.csrf();
    let r =
        send(&app, "POST", "/plan", &head, Some(&[("csrf", &csrf), ("from", "2026-11-27"), ("subject", "x")])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (analyst, _) = log_in(&app, "анна", "пароль анны", "/").await;
    let csrf = send(&app, "GET", "/plan?week=2026-W48", &analyst, None).await.csrf();
    let r =
        send(&app, "POST", "/plan", &analyst, Some(&[("csrf", &csrf), ("from", "27.11"), ("subject", "Итоги недели")]))
            .await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("не дата"), "{}", r.body);
    let r = send(
        &app,
        "POST",
        "/plan",
        &analyst,
        Some(&[
            ("csrf", &csrf),
            ("from", "2026-11-27"),
            ("channel", "adm-levokumsky"),
            ("subject", "Итоги недели"),
            ("responsible", "Пресс-служба"),
        ]),
    )
    .await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/plan?week=2026-W48"), "{}", r.body);
    let page = send(&app, "GET", "/plan?week=2026-W48", &analyst, None).await;
    assert!(page.body.contains("Итоги недели") && page.body.contains("Запланировано 5"), "{}", page.body);
    assert_eq!(send(&app, "GET", "/plan?week=48", &analyst, None).await.status, StatusCode::BAD_REQUEST);
}

/// The day before planned items, one email lists them, over real SMTP, and
/// only once however many rounds run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_day_before_the_plan_reminds_the_press_office_once() {
    let sink = SmtpSink::start(0);
    let tmp = tempfile::tempdir().unwrap();
    let mut pipeline = demo_with_smtp("http://127.0.0.1:9", sink.port, &["press@levokumsky.example"]);
    pipeline.media_plan.remind_to = vec!["press@levokumsky.example".into()];
    let ctx = glas::ops::Ctx::new(pipeline, Some(tmp.path()));
    let plan = glas_app::voice::open(&ctx).unwrap();
    let row = |day: &str, subject: &str| glas_voice::PlanRow {
        id: 0,
        from: day.parse().unwrap(),
        to: day.parse().unwrap(),
        channel: "adm-levokumsky".into(),
        topic: String::new(),
        subject: subject.into(),
        responsible: "Иванова".into(),
    };
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T16:00:00+03:00").unwrap().with_timezone(&chrono::Utc);
    for r in [row("2026-11-27", "Итоги недели"), row("2026-11-27", "Анонс ярмарки"), row("2026-11-30", "Позже")]
    {
        plan.add(&r, "test", now).unwrap();
    }
    assert_eq!(glas_app::voice::remind(&ctx, now).await.unwrap(), 2);
    assert_eq!(glas_app::voice::remind(&ctx, now + chrono::Duration::hours(1)).await.unwrap(), 0, "once");
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(subject(&messages[0]), "Медиаплан на 27.11.2026: 2 публикации");
    let body = decoded(&messages[0]);
    assert!(body.contains("Итоги недели (adm-levokumsky) — отв. Иванова") && body.contains("Анонс ярмарки"), "{body}");
    assert!(!body.contains("Позже"));
}
