//! The weekly report in its three formats, on fixed data (the demo fixtures,
//! week 2026-W48): golden figures in the HTML; the PDF rendered to PNG with
//! poppler's pdftoppm and its pages looked at, its text extracted with
//! pdftotext; the XLSX opened with calamine.

use std::process::Command;

use calamine::{Data, DataType, Reader, Xlsx};
use glas::fixture_server::FixtureServer;
use glas::ops::{self, Ctx};

use crate::support::*;

/// Runs a poppler tool; its absence is an error that says how to get it.
pub(crate) fn poppler(tool: &str, args: &[&str]) -> std::process::Output {
    let o = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {tool} ({e}): install poppler-utils (Debian: apt-get install poppler-utils)")
    });
    assert!(o.status.success(), "{tool}: {}", String::from_utf8_lossy(&o.stderr));
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weekly_report_as_html_pdf_and_xlsx_on_fixed_data() {
    let server = FixtureServer::start(&fixtures()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let ctx = Ctx::new(glas::demo_pipeline(Some(&server.base_url())).unwrap(), Some(tmp.path()));
    let mut store = ctx.open_store().unwrap();
    let mut enricher = ops::Enricher::new(&ctx, &store).unwrap();
    ops::crawl_once(&ctx, &mut store, &mut enricher).await.unwrap();
    drop(store);

    let data = tmp.path().to_str().unwrap().to_string();
    tokio::task::spawn_blocking(move || {
        let o = glas(&["--data", &data, "report", "weekly", "--week", "2026-W48"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let dir = std::path::Path::new(&data).join("reports");
        for ext in ["html", "pdf", "xlsx"] {
            assert!(stdout(&o).contains(&format!("weekly-2026-W48.{ext}")), "{}", stdout(&o));
        }

        // HTML: golden figures of the demo week, charts inline, nothing external.
        let html = std::fs::read_to_string(dir.join("weekly-2026-W48.html")).unwrap();
        for want in [
            "За неделю — 97 публикаций (+162% к прошлой неделе), из них негативных 48 (49%).",
            "Больше всего негатива — тема «водоснабжение»: 38 негативных публикаций",
            "Сигналов о росте напряжённости: 3. Главный: ВЫСОКИЙ — водоснабжение, Величаевское",
            "<svg",
            "Работа источников",
            "Самые позитивные публикации",
            // Crawled only, no service round: the section says so.
            "Обратная связь: инциденты</h2>\n<p>Инцидентов за неделю не было.",
        ] {
            assert!(html.contains(want), "HTML lacks {want:?}");
        }
        assert!(!html.contains("src=\"http") && !html.contains("<link"), "external resources");

        // PDF: pages rendered by poppler, each with content; the first with
        // the day chart's red bars; the text is real, extractable Russian.
        let pdf = dir.join("weekly-2026-W48.pdf");
        let prefix = tmp.path().join("page");
        poppler("pdftoppm", &["-r", "40", "-png", pdf.to_str().unwrap(), prefix.to_str().unwrap()]);
        let mut pages: Vec<std::path::PathBuf> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "png"))
            .collect();
        pages.sort();
        assert!((3..=8).contains(&pages.len()), "{} pages", pages.len());
        for (i, p) in pages.iter().enumerate() {
            let (share, _, _) = ink(p);
            let page = (i + 1).to_string();
            let text = || {
                let args = ["-layout", "-f", page.as_str(), "-l", page.as_str(), pdf.to_str().unwrap(), "-"];
                String::from_utf8_lossy(&poppler("pdftotext", &args).stdout).into_owned()
            };
            // The last page may hold only the end of a table.
            let least = if i + 1 == pages.len() { 0.003 } else { 0.01 };
            assert!(share > least, "{} is nearly blank ({share:.3}):\n{}", p.display(), text());
        }
        let (_, red, _) = ink(&pages[0]);
        assert!(red > 200, "no chart on page 1 ({red} red pixels)");
        let text = String::from_utf8(poppler("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"]).stdout).unwrap();
        for want in ["Главное", "97 публикаций", "Величаевское", "Сигналы недели", "стр. 1 из"]
        {
            assert!(text.contains(want), "PDF text lacks {want:?}:\n{text}");
        }
        let info = String::from_utf8(poppler("pdfinfo", &[pdf.to_str().unwrap()]).stdout).unwrap();
        assert!(info.contains("A4") || info.contains("595.28 x 841.89"), "{info}");

        // XLSX: the sheets, and the same figures as numbers.
        let mut wb: Xlsx<_> = calamine::open_workbook(dir.join("weekly-2026-W48.xlsx")).unwrap();
        // The demo pipeline has own channels (their reception, the image)
        // and incidents (their sheet last); every report has the outlook.
        let mut sheets = glas_report::xlsx::SHEETS.map(String::from).to_vec();
        sheets.push(glas_report::xlsx::OWN_VOICE_SHEET.to_string());
        sheets.push(glas_report::xlsx::OUTLOOK_SHEET.to_string());
        sheets.push(glas_report::xlsx::INCIDENTS_SHEET.to_string());
        assert_eq!(wb.sheet_names(), sheets);
        let row = |wb: &mut Xlsx<_>, sheet: &str, first: &str| -> Vec<Data> {
            let range = wb.worksheet_range(sheet).unwrap();
            range
                .rows()
                .find(|r| r.first().is_some_and(|c| *c == first))
                .unwrap_or_else(|| panic!("no row {first:?} in {sheet}"))
                .to_vec()
        };
        assert_eq!(row(&mut wb, "Главное", "Публикаций")[1], Data::Float(97.0));
        assert_eq!(row(&mut wb, "Главное", "Негативных")[1], Data::Float(48.0));
        assert_eq!(row(&mut wb, "Темы", "водоснабжение")[2], Data::Float(38.0));
        let days = wb.worksheet_range("По дням").unwrap();
        assert_eq!(days.height(), 8, "header and seven days");
        let total: f64 = days.rows().skip(1).map(|r| r[2].as_f64().unwrap()).sum();
        assert_eq!(total, 97.0);
        let signals = wb.worksheet_range("Сигналы").unwrap();
        assert!(signals.rows().skip(1).any(|r| r[4] == "Величаевское" && r[6] == "завершён"));

        // A week that does not exist is a usage error.
        let bad = glas(&["--data", &data, "report", "weekly", "--week", "2026-W60"]);
        assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
        drop(server);
    })
    .await
    .unwrap();
}
