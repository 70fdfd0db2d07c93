//! Reading a media plan from the file a press office keeps: CSV (`;` or `,`,
//! as Excel writes it in Russian or English settings) or XLSX (the first
//! sheet). The header names the columns, in Russian or English, in any order:
//!
//! | column | names accepted | value |
//! |---|---|---|
//! | date | Дата, Дата публикации, date | `01.12.2026`, `2026-12-01`, a range `01.12.2026–03.12.2026`, or an Excel date |
//! | date to (optional) | По, Дата окончания, to | the end of a range given in two columns |
//! | channel | Канал, Площадка, Ресурс, channel | an own source's id or name; empty: any own channel |
//! | topic (optional) | Тема, Рубрика, topic | a topic code or its Russian name |
//! | subject | Материал, Публикация, Что, Содержание, subject | what is to be published |
//! | responsible (optional) | Ответственный, responsible | who answers for it |
//!
//! Empty rows are skipped. Every problem is reported with its row, and a
//! file with any problem yields no rows at all.

use std::path::Path;

use chrono::{Duration, NaiveDate};

use crate::plan::PlanRow;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read '{path}': {reason}")]
    File { path: String, reason: String },
    /// Every problem of the file, one a line, in Russian.
    #[error("{}", .0.join("\n"))]
    Rows(Vec<String>),
}

/// Reads a plan file by its extension (`.csv` or `.xlsx`).
pub fn read_plan(path: &Path) -> Result<Vec<PlanRow>, ReadError> {
    let bytes =
        std::fs::read(path).map_err(|e| ReadError::File { path: path.display().to_string(), reason: e.to_string() })?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    read_plan_bytes(&bytes, &ext).map_err(|e| match e {
        ReadError::File { reason, .. } => ReadError::File { path: path.display().to_string(), reason },
        other => other,
    })
}

/// Reads a plan from the bytes of a `csv` or `xlsx` file.
pub fn read_plan_bytes(bytes: &[u8], ext: &str) -> Result<Vec<PlanRow>, ReadError> {
    let file = |reason: String| ReadError::File { path: String::new(), reason };
    let table: Vec<Vec<String>> = match ext {
        "csv" => csv_rows(bytes).map_err(file)?,
        "xlsx" => xlsx_rows(bytes).map_err(file)?,
        other => return Err(file(format!("a media plan is a .csv or .xlsx file, not .{other}"))),
    };
    rows(&table)
}

fn csv_rows(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| "the CSV is not UTF-8 (save it from Excel as «CSV UTF-8»)".to_string())?;
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.matches(';').count() >= first.matches(',').count() { b';' } else { b',' };
    let mut r =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        out.push(rec.iter().map(|c| c.trim().to_string()).collect());
    }
    Ok(out)
}

fn xlsx_rows(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    use calamine::{Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).map_err(|e| e.to_string())?;
    let Some(first) = wb.sheet_names().first().cloned() else { return Err("the workbook has no sheet".into()) };
    let range = wb.worksheet_range(&first).map_err(|e| e.to_string())?;
    Ok(range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    // Excel keeps dates as days since 1899-12-30.
                    Data::DateTime(d) => excel_day(d.as_f64()).map_or_else(|| d.to_string(), |d| d.to_string()),
                    Data::Float(f) if (20_000.0..80_000.0).contains(f) && f.fract() == 0.0 => f.to_string(),
                    other => other.to_string().trim().to_string(),
                })
                .collect()
        })
        .collect())
}

fn excel_day(serial: f64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_signed(Duration::days(serial.floor() as i64))
}

#[derive(Clone, Copy, PartialEq)]
enum Col {
    Date,
    To,
    Channel,
    Topic,
    Subject,
    Responsible,
}

fn column(name: &str) -> Option<Col> {
    let n = name.trim().to_lowercase().replace('ё', "е");
    let is = |names: &[&str]| names.iter().any(|x| n == *x);
    if is(&["дата", "дата публикации", "дата выхода", "date", "с", "дата начала", "from"])
    {
        Some(Col::Date)
    } else if is(&["по", "дата окончания", "to", "до"]) {
        Some(Col::To)
    } else if is(&["канал", "площадка", "ресурс", "где", "channel"]) {
        Some(Col::Channel)
    } else if is(&["тема", "рубрика", "topic"]) {
        Some(Col::Topic)
    } else if is(&["материал", "публикация", "что", "содержание", "тема публикации", "subject", "заголовок"])
    {
        Some(Col::Subject)
    } else if is(&["ответственный", "ответственные", "responsible", "кто"]) {
        Some(Col::Responsible)
    } else {
        None
    }
}

/// A date as a press office writes it: `01.12.2026`, `1.12.26`,
/// `2026-12-01`, or an Excel serial day.
fn day(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    for f in ["%d.%m.%Y", "%Y-%m-%d", "%d.%m.%y", "%d/%m/%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(d);
        }
    }
    s.parse::<f64>().ok().filter(|v| (20_000.0..80_000.0).contains(v)).and_then(excel_day)
}

/// A date or a range `01.12.2026–03.12.2026` (any dash).
fn days(s: &str) -> Option<(NaiveDate, NaiveDate)> {
    if let Some(d) = day(s) {
        return Some((d, d));
    }
    for sep in ['–', '—', '-'] {
        // A dash between two dates (not inside 2026-12-01).
        let parts: Vec<&str> = s.split(sep).map(str::trim).filter(|p| !p.is_empty()).collect();
        if parts.len() == 2
            && let (Some(a), Some(b)) = (day(parts[0]), day(parts[1]))
        {
            return Some((a, b));
        }
    }
    None
}

fn rows(table: &[Vec<String>]) -> Result<Vec<PlanRow>, ReadError> {
    let Some(header_at) = table.iter().position(|r| r.iter().any(|c| column(c) == Some(Col::Date))) else {
        return Err(ReadError::Rows(vec![
            "не найдена строка заголовка со столбцом «Дата» (и «Материал», «Канал»)".to_string(),
        ]));
    };
    let cols: Vec<Option<Col>> = table[header_at].iter().map(|c| column(c)).collect();
    let at = |c: Col| cols.iter().position(|x| *x == Some(c));
    let mut errors = Vec::new();
    if at(Col::Subject).is_none() {
        errors.push("нет столбца «Материал» (что публикуется)".to_string());
    }
    let mut out = Vec::new();
    for (i, r) in table.iter().enumerate().skip(header_at + 1) {
        let line = i + 1;
        let get = |c: Col| at(c).and_then(|j| r.get(j)).map(|s| s.trim().to_string()).unwrap_or_default();
        if r.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let date = get(Col::Date);
        let Some((from, mut to)) = days(&date) else {
            errors.push(format!("строка {line}: «{date}» — не дата (например, 01.12.2026 или 01.12.2026–03.12.2026)"));
            continue;
        };
        let until = get(Col::To);
        if !until.is_empty() {
            match day(&until) {
                Some(d) => to = d,
                None => {
                    errors.push(format!("строка {line}: «{until}» — не дата окончания"));
                    continue;
                }
            }
        }
        let row = PlanRow {
            id: 0,
            from,
            to,
            channel: get(Col::Channel),
            topic: get(Col::Topic),
            subject: get(Col::Subject),
            responsible: get(Col::Responsible),
        };
        match row.check() {
            Ok(()) => out.push(row),
            Err(e) => errors.push(format!("строка {line}: {e}")),
        }
    }
    if !errors.is_empty() {
        return Err(ReadError::Rows(errors));
    }
    if out.is_empty() {
        return Err(ReadError::Rows(vec!["в плане нет ни одной строки под заголовком".to_string()]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_as_excel_writes_it_in_russian() {
        let csv = "\u{feff}Дата;Канал;Тема;Материал;Ответственный\n\
                   23.11.2026;adm-levokumsky;водоснабжение;Аварийные работы в Величаевском;Иванова\n\
                   ;;;;\n\
                   24.11.2026–26.11.2026;;;Итоги уборочной;Петров\n";
        let rows = read_plan_bytes(csv.as_bytes(), "csv").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].from, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!((rows[0].channel.as_str(), rows[0].topic.as_str()), ("adm-levokumsky", "водоснабжение"));
        assert_eq!(rows[1].to, NaiveDate::from_ymd_opt(2026, 11, 26).unwrap());
    }

    #[test]
    fn every_bad_row_is_reported_and_nothing_is_taken() {
        let csv = "date,channel,subject\n2026-12-01,site,Announcement\nтретьего,site,x\n2026-12-02,site,\n";
        let e = read_plan_bytes(csv.as_bytes(), "csv").unwrap_err().to_string();
        assert!(e.contains("строка 3: «третьего» — не дата"), "{e}");
        assert!(e.contains("строка 4: не указано, что публикуется"), "{e}");
        let e = read_plan_bytes(b"a;b\n1;2\n", "csv").unwrap_err().to_string();
        assert!(e.contains("«Дата»"), "{e}");
        assert!(read_plan_bytes(b"x", "ods").unwrap_err().to_string().contains(".csv or .xlsx"));
    }
}
