//! The report's data tables as an Excel workbook (rust_xlsxwriter): one sheet
//! per table, numbers as numbers, so analysts can sort, filter and chart.

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use crate::model::{MentionRow, Model, SignalRow, Table, TallyRow, change};

/// Sheet names, in order.
pub const SHEETS: [&str; 9] =
    ["Главное", "По дням", "Темы", "Населённые пункты", "Сигналы", "Негативные", "Позитивные", "Поиски", "Источники"];

/// The sheet the incidents' week adds when the pipeline has incidents
/// (numbers with their units as text; `glas incidents kpi --out` gives them
/// as numbers).
pub const INCIDENTS_SHEET: &str = "Инциденты";

/// The sheet the week's media plan adds when it has planned items.
pub const MEDIA_PLAN_SHEET: &str = "Медиаплан";
/// The sheet of the own channels' reception, the pages and the image index.
pub const OWN_VOICE_SHEET: &str = "Отклик и имидж";
/// The sheet of the outlook: the week ahead, the week against its forecast.
pub const OUTLOOK_SHEET: &str = "Прогноз";

pub fn render(m: &Model) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let head = Format::new().set_bold().set_background_color(0xF3F3F3);
    let percent = Format::new().set_num_format("0%");

    let ws = sheet(&mut wb, SHEETS[0])?;
    ws.write_string_with_format(0, 0, &m.title, &Format::new().set_bold())?;
    ws.write_string(1, 0, &m.subtitle)?;
    for (i, f) in m.findings.iter().enumerate() {
        ws.write_string(3 + i as u32, 0, &f.text)?;
    }
    let row = 4 + m.findings.len() as u32;
    header(ws, row, &["Показатель", "За неделю", "Неделей ранее", "Изменение"], &head)?;
    for (i, (name, now, before)) in [
        ("Публикаций", m.total.total, m.previous_total.total),
        ("Негативных", m.total.negative, m.previous_total.negative),
        ("Позитивных", m.total.positive, m.previous_total.positive),
    ]
    .into_iter()
    .enumerate()
    {
        let r = row + 1 + i as u32;
        ws.write_string(r, 0, name)?;
        ws.write_number(r, 1, now as f64)?;
        ws.write_number(r, 2, before as f64)?;
        ws.write_string(r, 3, change(now, before))?;
    }
    ws.set_column_width(0, 60)?;

    let ws = sheet(&mut wb, SHEETS[1])?;
    header(ws, 0, &["День", "Дата", "Всего", "Негативных", "Нейтральных", "Позитивных", "Доля негатива"], &head)?;
    for (i, d) in m.days.iter().enumerate() {
        let r = 1 + i as u32;
        ws.write_string(r, 0, &d.label)?;
        ws.write_string(r, 1, d.day.format("%Y-%m-%d").to_string())?;
        ws.write_number(r, 2, d.tally.total as f64)?;
        ws.write_number(r, 3, d.tally.negative as f64)?;
        ws.write_number(r, 4, d.tally.neutral() as f64)?;
        ws.write_number(r, 5, d.tally.positive as f64)?;
        ws.write_number_with_format(r, 6, d.tally.negative_share(), &percent)?;
    }
    finish(ws);

    tally_sheet(&mut wb, SHEETS[2], "Тема", &m.topics, &head, &percent)?;
    tally_sheet(&mut wb, SHEETS[3], "Населённый пункт", &m.places, &head, &percent)?;

    let ws = sheet(&mut wb, SHEETS[4])?;
    let all: Vec<&SignalRow> = m.signals.iter().collect();
    header(ws, 0, &["Когда", "Уровень", "Вид", "Тема", "Где", "Что выросло", "Статус"], &head)?;
    for (i, s) in all.iter().enumerate() {
        let r = 1 + i as u32;
        for (c, v) in
            [&s.when, s.severity.russian(), &s.kind, &s.topic, &s.place, &s.what, &s.status].into_iter().enumerate()
        {
            ws.write_string(r, c as u16, v)?;
        }
    }
    finish(ws);

    mention_sheet(&mut wb, SHEETS[5], &m.top_negative, &head)?;
    mention_sheet(&mut wb, SHEETS[6], &m.top_positive, &head)?;

    let ws = sheet(&mut wb, SHEETS[7])?;
    header(ws, 0, &["Поиск", "Запрос", "За неделю", "Неделей ранее", "Изменение"], &head)?;
    for (i, s) in m.saved_searches.iter().enumerate() {
        let r = 1 + i as u32;
        ws.write_string(r, 0, &s.name)?;
        ws.write_string(r, 1, &s.query)?;
        ws.write_number(r, 2, s.this_week as f64)?;
        ws.write_number(r, 3, s.previous_week as f64)?;
        ws.write_string(r, 4, change(s.this_week, s.previous_week))?;
    }
    finish(ws);

    let ws = sheet(&mut wb, SHEETS[8])?;
    header(ws, 0, &["Источник", "Состояние", "Подробности"], &head)?;
    for (i, s) in m.sources.iter().enumerate() {
        let r = 1 + i as u32;
        ws.write_string(r, 0, &s.name)?;
        ws.write_string(r, 1, &s.status)?;
        ws.write_string(r, 2, &s.detail)?;
    }
    finish(ws);

    if let (Some(summary), Some(t)) = (m.media_plan_summary(), m.media_plan_table()) {
        let ws = sheet(&mut wb, MEDIA_PLAN_SHEET)?;
        ws.write_string(0, 0, summary)?;
        let tables: Vec<Table> = std::iter::once(t).chain(m.pickup_table()).collect();
        stacked(ws, 2, &tables, &head)?;
    }
    for (name, blocks) in [(OWN_VOICE_SHEET, m.own_voice_blocks()), (OUTLOOK_SHEET, m.outlook_blocks())] {
        if blocks.is_empty() {
            continue;
        }
        let ws = sheet(&mut wb, name)?;
        let mut row = 0u32;
        for b in &blocks {
            match b {
                crate::model::Block::Para(p) => {
                    ws.write_string(row, 0, p)?;
                    row += 2;
                }
                crate::model::Block::Table(t, _) => {
                    stacked(ws, row, std::slice::from_ref(t), &head)?;
                    row += t.rows.len() as u32 + 2;
                }
            }
        }
    }
    if m.incidents.is_some() {
        let ws = sheet(&mut wb, INCIDENTS_SHEET)?;
        let mut row = 0;
        if let Some(summary) = m.incidents_summary() {
            ws.write_string(0, 0, summary)?;
            row = 2;
        }
        let tables: Vec<Table> = [false, true].into_iter().filter_map(|by_topic| m.incidents_table(by_topic)).collect();
        stacked(ws, row, &tables, &head)?;
    }
    wb.save_to_buffer()
}

/// Tables one under the other from `row`, a blank row between, their cells
/// as text; the columns fitted.
fn stacked(ws: &mut Worksheet, mut row: u32, tables: &[Table], head: &Format) -> Result<(), XlsxError> {
    for t in tables {
        let names: Vec<&str> = t.header.iter().map(String::as_str).collect();
        header(ws, row, &names, head)?;
        for (i, cells) in t.rows.iter().enumerate() {
            for (c, cell) in cells.iter().enumerate() {
                ws.write_string(row + 1 + i as u32, c as u16, &cell.text)?;
            }
        }
        row += t.rows.len() as u32 + 2;
    }
    ws.set_autofit_max_width(400).autofit();
    Ok(())
}

fn sheet<'a>(wb: &'a mut Workbook, name: &str) -> Result<&'a mut Worksheet, XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name(name)?;
    Ok(ws)
}

fn header(ws: &mut Worksheet, row: u32, names: &[&str], format: &Format) -> Result<(), XlsxError> {
    for (c, n) in names.iter().enumerate() {
        ws.write_string_with_format(row, c as u16, *n, format)?;
    }
    Ok(())
}

/// Header row frozen, columns fitted (long texts capped).
fn finish(ws: &mut Worksheet) {
    let _ = ws.set_freeze_panes(1, 0);
    ws.set_autofit_max_width(600).autofit();
}

fn tally_sheet(
    wb: &mut Workbook,
    name: &str,
    first: &str,
    rows: &[TallyRow],
    head: &Format,
    percent: &Format,
) -> Result<(), XlsxError> {
    let ws = sheet(wb, name)?;
    header(
        ws,
        0,
        &[
            first,
            "Публикаций",
            "Негативных",
            "Доля негатива",
            "Публикаций неделей ранее",
            "Негативных неделей ранее",
            "Негатив к прошлой неделе",
        ],
        head,
    )?;
    for (i, t) in rows.iter().enumerate() {
        let r = 1 + i as u32;
        ws.write_string(r, 0, &t.label)?;
        ws.write_number(r, 1, t.this.total as f64)?;
        ws.write_number(r, 2, t.this.negative as f64)?;
        ws.write_number_with_format(r, 3, t.this.negative_share(), percent)?;
        ws.write_number(r, 4, t.previous.total as f64)?;
        ws.write_number(r, 5, t.previous.negative as f64)?;
        ws.write_string(r, 6, t.change())?;
    }
    finish(ws);
    Ok(())
}

fn mention_sheet(wb: &mut Workbook, name: &str, rows: &[MentionRow], head: &Format) -> Result<(), XlsxError> {
    let ws = sheet(wb, name)?;
    header(ws, 0, &["Когда", "Источник", "Оценка тональности", "Текст", "Ссылка"], head)?;
    for (i, m) in rows.iter().enumerate() {
        let r = 1 + i as u32;
        ws.write_string(r, 0, &m.when)?;
        ws.write_string(r, 1, &m.source)?;
        ws.write_number(r, 2, (m.score * 100.0).round() / 100.0)?;
        ws.write_string(r, 3, &m.text)?;
        if let Some(u) = &m.url {
            ws.write_string(r, 4, u)?;
        }
    }
    finish(ws);
    ws.set_column_width(3, 80)?;
    Ok(())
}

/// The incidents' key figures of a period as a workbook, one row per service
/// (then per topic), as the regions rate municipalities: new and resolved,
/// open and overdue at the end, share of first reactions in time, median
/// reaction and resolution hours from the first complaint, escalations and
/// repeat complaints. `topic` names a topic code.
pub fn incident_kpis(
    r: &glas_incidents::kpi::Report,
    period: &str,
    topic: &dyn Fn(&str) -> String,
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let head = Format::new().set_bold().set_background_color(0xF3F3F3);
    let percent = Format::new().set_num_format("0%");
    let hours = Format::new().set_num_format("0.0");
    let columns = [
        "",
        "Новых",
        "Решено",
        "Открыто на конец",
        "Просрочено на конец",
        "Реакций",
        "Реакций в срок",
        "Доля в срок",
        "Медиана реакции, ч",
        "Медиана решения, ч",
        "Эскалаций",
        "Повторных жалоб",
        "Публичных ответов",
    ];
    for (name, first, rows) in [("По службам", "Служба", &r.by_service), ("По темам", "Тема", &r.by_topic)]
    {
        let ws = sheet(&mut wb, name)?;
        let mut cols = columns;
        cols[0] = first;
        ws.write_string_with_format(0, 0, format!("Инциденты за {period}"), &Format::new().set_bold())?;
        header(ws, 1, &cols, &head)?;
        let all = std::iter::once(&r.total).chain(rows.iter());
        for (i, k) in all.enumerate() {
            let row = 2 + i as u32;
            let label = if i == 0 {
                "Всего".to_string()
            } else if first == "Тема" {
                topic(&k.group)
            } else {
                k.group.clone()
            };
            ws.write_string(row, 0, label)?;
            for (c, v) in [k.new, k.resolved, k.open, k.overdue, k.reactions, k.on_time].into_iter().enumerate() {
                ws.write_number(row, 1 + c as u16, f64::from(v))?;
            }
            if let Some(s) = k.on_time_share() {
                ws.write_number_with_format(row, 7, s, &percent)?;
            }
            if let Some(h) = k.median_reaction_hours {
                ws.write_number_with_format(row, 8, h, &hours)?;
            }
            if let Some(h) = k.median_resolution_hours {
                ws.write_number_with_format(row, 9, h, &hours)?;
            }
            ws.write_number(row, 10, f64::from(k.escalations))?;
            ws.write_number(row, 11, f64::from(k.repeats))?;
            ws.write_number(row, 12, f64::from(k.answered_publicly))?;
        }
        let _ = ws.set_freeze_panes(2, 1);
        ws.set_autofit_max_width(400).autofit();
    }
    wb.save_to_buffer()
}
