//! The analyst query language, parsed into a tree the index compiles.
//!
//! ```text
//! вода AND (Величаевское OR Кочубей) -учения      boolean, grouping, exclusion
//! "нет воды"  "нет воды"~3  водоснаб*             phrase, proximity, prefix
//! title:ремонт  author:Иванов  source:tg-levokumka  url:https://t.me/levokumka*
//! sentiment:negative topic:water place:Величаевское type:complaint lang:ru
//! date:[2026-11-01 TO 2026-11-07]  date:2026-11-05  date:>=2026-11-01
//! ```
//!
//! Words next to each other must all match (AND is the default); `OR` binds
//! looser than `AND`; `NOT`, `-` exclude. Operators also read in Russian
//! (`И`, `ИЛИ`, `НЕ`), and so do field names (`тема:`, `место:`, ...) and the
//! values of sentiment, type and topic (`тональность:негатив`, `тип:жалоба`,
//! `тема:Водоснабжение`). A syntax error names the position (1-based, in
//! characters) and the fix, in Russian and English.

use crate::config::builtin_topics;
use chrono::NaiveDate;

/// Where a text item is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextScope {
    /// Title and text.
    Default,
    Title,
    Text,
    Author,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextItem {
    Word(String),
    /// Words in this order; `slop` extra positions allowed between them.
    Phrase {
        words: String,
        slop: u32,
    },
    /// Words starting with this (as typed, before stemming).
    Prefix(String),
}

/// Exact-value filters over what enrichment produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKey {
    Sentiment,
    Topic,
    /// A settlement; matched in any case form ("Величаевском").
    Place,
    Type,
    Lang,
    Source,
    Cluster,
    Id,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Text {
        scope: TextScope,
        item: TextItem,
        pos: usize,
    },
    Filter {
        key: FilterKey,
        value: String,
    },
    /// Days in the district's time zone, both ends inclusive.
    Date {
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    },
    Url {
        value: String,
        prefix: bool,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// Matches every mention (an empty query, or `*`).
    All,
}

impl Node {
    /// Whether the query searches by author (`author:`), which only roles
    /// with the right to personal data may do.
    pub fn names_author(&self) -> bool {
        match self {
            Node::Text { scope, .. } => *scope == TextScope::Author,
            Node::And(v) | Node::Or(v) => v.iter().any(Node::names_author),
            Node::Not(n) => n.names_author(),
            _ => false,
        }
    }
}

/// A query that cannot be read: where, why, and what to do, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueryError {
    /// 1-based character position of the problem.
    pub position: usize,
    pub message_ru: String,
    pub message_en: String,
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "позиция {}: {} / position {}: {}", self.position, self.message_ru, self.position, self.message_en)
    }
}

impl std::error::Error for QueryError {}

impl QueryError {
    fn at(pos: usize, ru: impl Into<String>, en: impl Into<String>) -> QueryError {
        QueryError { position: pos + 1, message_ru: ru.into(), message_en: en.into() }
    }

    /// The query with a caret under the position, for a terminal.
    pub fn pointer(&self, query: &str) -> String {
        format!("  {query}\n  {}^", " ".repeat(self.position.saturating_sub(1)))
    }
}

/// Longest query accepted (characters); longer ones are refused before parsing.
pub const MAX_QUERY_CHARS: usize = 2000;
/// Deepest nesting of parentheses accepted.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    /// A phrase in quotes; `slop` from `~N`, `prefix` from a trailing `*`.
    Phrase {
        text: String,
        slop: Option<u32>,
    },
    /// A bare word, with a leading `-` or `+` split off.
    Word {
        text: String,
        neg: bool,
        must: bool,
    },
    /// `field:` immediately followed by `(`, `"` or `[`.
    Field(String),
    /// `[a TO b]`.
    Range {
        from: String,
        to: String,
    },
}

struct Lexed {
    tok: Tok,
    pos: usize,
}

fn lex(q: &str) -> Result<Vec<Lexed>, QueryError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let is_break = |c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"' | '«' | '»' | '“' | '”' | '[');
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        match c {
            '(' => {
                out.push(Lexed { tok: Tok::LParen, pos: i });
                i += 1;
            }
            ')' => {
                out.push(Lexed { tok: Tok::RParen, pos: i });
                i += 1;
            }
            '"' | '«' | '“' => {
                let close = match c {
                    '«' => '»',
                    '“' => '”',
                    _ => '"',
                };
                let Some(len) = chars[i + 1..].iter().position(|&d| d == close || (close != '"' && d == '"')) else {
                    return Err(QueryError::at(
                        start,
                        format!("кавычка не закрыта — добавьте {close} в конце фразы"),
                        format!("unterminated quote — add a closing {close} after the phrase"),
                    ));
                };
                let text: String = chars[i + 1..i + 1 + len].iter().collect();
                i += len + 2;
                let mut slop = None;
                if chars.get(i) == Some(&'~') {
                    let digits: String = chars[i + 1..].iter().take_while(|d| d.is_ascii_digit()).collect();
                    if digits.is_empty() {
                        return Err(QueryError::at(
                            i,
                            "после ~ нужно число слов, например \"нет воды\"~3",
                            "~ needs a number of words, e.g. \"нет воды\"~3",
                        ));
                    }
                    let n: u32 = digits.parse().unwrap_or(u32::MAX);
                    if n > 50 {
                        return Err(QueryError::at(
                            i,
                            "расстояние ~ не больше 50 слов",
                            "~ distance is at most 50 words",
                        ));
                    }
                    slop = Some(n);
                    i += 1 + digits.len();
                }
                out.push(Lexed { tok: Tok::Phrase { text, slop }, pos: start });
            }
            '[' => {
                let Some(len) = chars[i + 1..].iter().position(|&d| d == ']') else {
                    return Err(QueryError::at(
                        start,
                        "диапазон не закрыт — добавьте ], например date:[2026-11-01 TO 2026-11-07]",
                        "unclosed range — add ], e.g. date:[2026-11-01 TO 2026-11-07]",
                    ));
                };
                let inner: String = chars[i + 1..i + 1 + len].iter().collect();
                let parts: Vec<&str> = inner.split_whitespace().collect();
                let (from, to) = match parts.as_slice() {
                    [a, sep, b] if matches!(*sep, "TO" | "to" | "ДО" | "до" | "..") => {
                        (a.to_string(), b.to_string())
                    }
                    [one] if one.contains("..") => {
                        let (a, b) = one.split_once("..").unwrap();
                        (a.to_string(), b.to_string())
                    }
                    _ => {
                        return Err(QueryError::at(
                            start,
                            "диапазон пишется так: [2026-11-01 TO 2026-11-07] (* — без границы)",
                            "write a range as [2026-11-01 TO 2026-11-07] (* for an open end)",
                        ));
                    }
                };
                out.push(Lexed { tok: Tok::Range { from, to }, pos: start });
                i += len + 2;
            }
            // A closing quote with no opening one ends nothing: skipped like
            // a space (it must not stop the lexer where it stands).
            '»' | '”' => i += 1,
            _ => {
                while i < chars.len() && !is_break(chars[i]) {
                    i += 1;
                }
                let mut word: String = chars[start..i].iter().collect();
                // `field:` glued to a group, a phrase or a range.
                if word.ends_with(':') && word.len() > 1 && i < chars.len() && !chars[i].is_whitespace() {
                    word.pop();
                    out.push(Lexed { tok: Tok::Field(word), pos: start });
                    continue;
                }
                // A field glued to a quoted value with a prefix, e.g. title:"...": handled above.
                let (neg, must, text) = match word.chars().next() {
                    Some('-') if word.chars().count() > 1 => (true, false, word[1..].to_string()),
                    Some('+') if word.chars().count() > 1 => (false, true, word[1..].to_string()),
                    _ => (false, false, word),
                };
                out.push(Lexed { tok: Tok::Word { text, neg, must }, pos: start });
            }
        }
    }
    Ok(out)
}

/// A field of the query language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Text(TextScope),
    Filter(FilterKey),
    Date,
    Url,
}

const FIELDS: &[(&str, Field)] = &[
    ("title", Field::Text(TextScope::Title)),
    ("заголовок", Field::Text(TextScope::Title)),
    ("text", Field::Text(TextScope::Text)),
    ("текст", Field::Text(TextScope::Text)),
    ("author", Field::Text(TextScope::Author)),
    ("автор", Field::Text(TextScope::Author)),
    ("source", Field::Filter(FilterKey::Source)),
    ("источник", Field::Filter(FilterKey::Source)),
    ("url", Field::Url),
    ("ссылка", Field::Url),
    ("sentiment", Field::Filter(FilterKey::Sentiment)),
    ("тональность", Field::Filter(FilterKey::Sentiment)),
    ("тон", Field::Filter(FilterKey::Sentiment)),
    ("topic", Field::Filter(FilterKey::Topic)),
    ("тема", Field::Filter(FilterKey::Topic)),
    ("place", Field::Filter(FilterKey::Place)),
    ("место", Field::Filter(FilterKey::Place)),
    ("type", Field::Filter(FilterKey::Type)),
    ("тип", Field::Filter(FilterKey::Type)),
    ("lang", Field::Filter(FilterKey::Lang)),
    ("язык", Field::Filter(FilterKey::Lang)),
    ("cluster", Field::Filter(FilterKey::Cluster)),
    ("id", Field::Filter(FilterKey::Id)),
    ("date", Field::Date),
    ("дата", Field::Date),
];

fn field_named(name: &str) -> Option<Field> {
    let lower = name.to_lowercase();
    FIELDS.iter().find(|(n, _)| *n == lower).map(|(_, f)| *f)
}

/// The closest known field name, for "did you mean".
fn suggest_field(name: &str) -> &'static str {
    let lower = name.to_lowercase();
    FIELDS.iter().map(|(n, _)| (edit_distance(&lower, n), *n)).min().map_or("text", |(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

const SENTIMENTS: &[(&str, &str)] = &[
    ("negative", "negative"),
    ("neg", "negative"),
    ("негатив", "negative"),
    ("негативная", "negative"),
    ("негативный", "negative"),
    ("отрицательная", "negative"),
    ("neutral", "neutral"),
    ("нейтральная", "neutral"),
    ("нейтральный", "neutral"),
    ("нейтрально", "neutral"),
    ("positive", "positive"),
    ("pos", "positive"),
    ("позитив", "positive"),
    ("позитивная", "positive"),
    ("позитивный", "positive"),
    ("положительная", "positive"),
];

const TYPES: &[(&str, &str)] = &[
    ("complaint", "complaint"),
    ("жалоба", "complaint"),
    ("жалобы", "complaint"),
    ("question", "question"),
    ("вопрос", "question"),
    ("вопросы", "question"),
    ("gratitude", "gratitude"),
    ("благодарность", "gratitude"),
    ("благодарности", "gratitude"),
    ("news", "news"),
    ("новость", "news"),
    ("новости", "news"),
    ("other", "other"),
    ("другое", "other"),
];

fn normalize_filter(key: FilterKey, raw: &str, pos: usize) -> Result<String, QueryError> {
    let lower = raw.to_lowercase().replace('ё', "е");
    let pick = |table: &[(&str, &str)], what_ru: &str, what_en: &str| {
        table.iter().find(|(k, _)| *k == lower).map(|(_, v)| v.to_string()).ok_or_else(|| {
            let mut allowed: Vec<&str> = table.iter().map(|(_, v)| *v).collect();
            allowed.dedup();
            QueryError::at(
                pos,
                format!("неизвестное значение {what_ru} «{raw}»: допустимо {}", allowed.join(", ")),
                format!("unknown {what_en} {raw:?}: use one of {}", allowed.join(", ")),
            )
        })
    };
    match key {
        FilterKey::Sentiment => pick(SENTIMENTS, "тональности", "sentiment"),
        FilterKey::Type => pick(TYPES, "типа", "type"),
        FilterKey::Topic => {
            let topics = builtin_topics();
            if let Some(t) = topics.iter().find(|t| t.code == lower || t.name.to_lowercase().replace('ё', "е") == lower)
            {
                return Ok(t.code.clone());
            }
            // Codes a pipeline adds are lowercase ASCII identifiers.
            if lower.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                return Ok(lower);
            }
            let codes: Vec<&str> = topics.iter().map(|t| t.code.as_str()).collect();
            Err(QueryError::at(
                pos,
                format!("неизвестная тема «{raw}»: укажите код ({}) или название темы", codes.join(", ")),
                format!("unknown topic {raw:?}: use a code ({}) or a topic name", codes.join(", ")),
            ))
        }
        FilterKey::Lang | FilterKey::Cluster => Ok(lower),
        // Source ids and mention ids are matched as written.
        FilterKey::Source | FilterKey::Place | FilterKey::Id => Ok(raw.to_string()),
    }
}

/// A date bound: `2026-11-05`, `05.11.2026`, or `*`.
fn parse_day(s: &str, pos: usize) -> Result<Option<NaiveDate>, QueryError> {
    if s == "*" {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(s, "%d.%m.%Y")).map(Some).map_err(
        |_| {
            QueryError::at(
                pos,
                format!("«{s}» — не дата: пишите ГГГГ-ММ-ДД, например 2026-11-05"),
                format!("{s:?} is not a date: write YYYY-MM-DD, e.g. 2026-11-05"),
            )
        },
    )
}

/// `date:` followed by a single value: a day, `>=day`, `<day`, `a..b`.
fn parse_date_value(v: &str, pos: usize) -> Result<Node, QueryError> {
    let day = |s: &str| parse_day(s, pos);
    let (from, to) = if let Some(rest) = v.strip_prefix(">=") {
        (day(rest)?, None)
    } else if let Some(rest) = v.strip_prefix('>') {
        (day(rest)?.and_then(|d| d.succ_opt()), None)
    } else if let Some(rest) = v.strip_prefix("<=") {
        (None, day(rest)?)
    } else if let Some(rest) = v.strip_prefix('<') {
        (None, day(rest)?.and_then(|d| d.pred_opt()))
    } else if let Some((a, b)) = v.split_once("..") {
        (day(a)?, day(b)?)
    } else {
        let d = day(v)?;
        (d, d)
    };
    date_range(from, to, pos)
}

/// A date range, refused when it ends before it starts.
fn date_range(from: Option<NaiveDate>, to: Option<NaiveDate>, pos: usize) -> Result<Node, QueryError> {
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        return Err(QueryError::at(
            pos,
            format!("начало диапазона {a} позже конца {b} — поменяйте их местами"),
            format!("range start {a} is after its end {b} — swap them"),
        ));
    }
    Ok(Node::Date { from, to })
}

fn unmatched_paren(pos: usize) -> QueryError {
    QueryError::at(
        pos,
        "лишняя закрывающая скобка — уберите ) или добавьте ( перед группой",
        "unmatched ) — remove it or add ( before the group",
    )
}

struct Parser {
    toks: Vec<Lexed>,
    at: usize,
    len: usize,
    depth: usize,
}

fn is_op(t: &Tok, names: &[&str]) -> bool {
    matches!(t, Tok::Word { text, neg: false, must: false } if names.contains(&text.as_str()))
}

const OR: &[&str] = &["OR", "ИЛИ", "|", "||"];
const AND: &[&str] = &["AND", "И", "&", "&&"];
const NOT: &[&str] = &["NOT", "НЕ", "!"];

impl Parser {
    fn peek(&self) -> Option<&Lexed> {
        self.toks.get(self.at)
    }

    fn end_pos(&self) -> usize {
        self.len
    }

    fn or(&mut self, field: Option<Field>) -> Result<Node, QueryError> {
        let mut parts = vec![self.and(field)?];
        while let Some(l) = self.peek() {
            if !is_op(&l.tok, OR) {
                break;
            }
            let pos = l.pos;
            self.at += 1;
            if self.at_group_end() {
                return Err(QueryError::at(
                    pos,
                    "после OR нужно слово — допишите его или уберите OR",
                    "OR needs a word after it — add one or remove OR",
                ));
            }
            parts.push(self.and(field)?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap() } else { Node::Or(parts) })
    }

    fn at_group_end(&self) -> bool {
        matches!(self.peek(), None | Some(Lexed { tok: Tok::RParen, .. }))
    }

    fn and(&mut self, field: Option<Field>) -> Result<Node, QueryError> {
        let mut parts = Vec::new();
        while let Some(l) = self.peek() {
            if matches!(l.tok, Tok::RParen) || is_op(&l.tok, OR) {
                break;
            }
            if is_op(&l.tok, AND) {
                let pos = l.pos;
                if parts.is_empty() {
                    return Err(QueryError::at(
                        pos,
                        "AND в начале — перед ним нужно слово",
                        "AND at the start — put a word before it",
                    ));
                }
                self.at += 1;
                if self.at_group_end() || self.peek().is_some_and(|l| is_op(&l.tok, OR) || is_op(&l.tok, AND)) {
                    return Err(QueryError::at(
                        pos,
                        "после AND нужно слово — допишите его или уберите AND",
                        "AND needs a word after it — add one or remove AND",
                    ));
                }
                continue;
            }
            parts.push(self.unary(field)?);
        }
        if parts.is_empty() {
            let pos = self.peek().map_or(self.end_pos(), |l| l.pos);
            return Err(QueryError::at(
                pos,
                "здесь нужно слово или фраза (OR в начале или пустые скобки?)",
                "a word or phrase is needed here (OR at the start, or empty parentheses?)",
            ));
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap() } else { Node::And(parts) })
    }

    fn unary(&mut self, field: Option<Field>) -> Result<Node, QueryError> {
        let l = self.peek().expect("caller checked");
        if is_op(&l.tok, NOT) {
            let pos = l.pos;
            self.at += 1;
            if self.at_group_end() {
                return Err(QueryError::at(
                    pos,
                    "после NOT нужно слово, которое исключить",
                    "NOT needs the word to exclude after it",
                ));
            }
            return Ok(Node::Not(Box::new(self.unary(field)?)));
        }
        self.atom(field)
    }

    fn atom(&mut self, field: Option<Field>) -> Result<Node, QueryError> {
        let Lexed { tok, pos } = self.toks[self.at].clone_lexed();
        self.at += 1;
        match tok {
            Tok::LParen => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(QueryError::at(pos, "слишком много вложенных скобок", "too many nested parentheses"));
                }
                let inner = self.or(field)?;
                self.depth -= 1;
                match self.peek() {
                    Some(Lexed { tok: Tok::RParen, .. }) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => Err(QueryError::at(
                        pos,
                        "скобка не закрыта — добавьте ) в конце группы",
                        "unclosed parenthesis — add ) at the end of the group",
                    )),
                }
            }
            Tok::RParen => Err(unmatched_paren(pos)),
            Tok::Phrase { text, slop } => self.value_phrase(field, text, slop, pos),
            Tok::Range { from, to } => match field {
                Some(Field::Date) => date_range(parse_day(&from, pos)?, parse_day(&to, pos)?, pos),
                _ => Err(QueryError::at(
                    pos,
                    "диапазон [..] бывает только у даты: date:[2026-11-01 TO 2026-11-07]",
                    "a [..] range only goes with date: date:[2026-11-01 TO 2026-11-07]",
                )),
            },
            Tok::Field(name) => {
                let f = self.field(&name, pos)?;
                if self.at_group_end() {
                    return Err(QueryError::at(pos, "после поля нужно значение", "the field needs a value"));
                }
                self.atom(Some(f))
            }
            Tok::Word { text, neg, must } => {
                let node = self.word(field, &text, pos + usize::from(neg || must))?;
                Ok(if neg { Node::Not(Box::new(node)) } else { node })
            }
        }
    }

    fn field(&self, name: &str, pos: usize) -> Result<Field, QueryError> {
        field_named(name).ok_or_else(|| {
            let s = suggest_field(name);
            QueryError::at(
                pos,
                format!("неизвестное поле «{name}:» — может быть, {s}:? Чтобы искать двоеточие как текст, возьмите слово в кавычки"),
                format!("unknown field \"{name}:\" — did you mean {s}:? Quote the word to search it as text"),
            )
        })
    }

    fn word(&mut self, field: Option<Field>, text: &str, pos: usize) -> Result<Node, QueryError> {
        if text == "*" && field.is_none() {
            return Ok(Node::All);
        }
        // `field:value`, unless it is a link typed as is.
        // `10:00` is a time, not a field: field names are letters only.
        if let Some((name, value)) = text.split_once(':')
            && !name.is_empty()
            && name.chars().all(|c| c.is_alphabetic() || c == '_')
            && field.is_none()
        {
            if value.starts_with("//") {
                return Ok(Node::Url { value: text.trim_end_matches('*').to_string(), prefix: text.ends_with('*') });
            }
            let f = self.field(name, pos)?;
            if value.is_empty() {
                return Err(QueryError::at(
                    pos + name.chars().count() + 1,
                    format!("после «{name}:» нужно значение, без пробела"),
                    format!("\"{name}:\" needs a value right after the colon"),
                ));
            }
            return self.word(Some(f), value, pos + name.chars().count() + 1);
        }
        match field {
            None => Ok(Node::Text { scope: TextScope::Default, item: text_item(text), pos }),
            Some(Field::Text(scope)) => Ok(Node::Text { scope, item: text_item(text), pos }),
            Some(Field::Filter(key)) => Ok(Node::Filter { key, value: normalize_filter(key, text, pos)? }),
            Some(Field::Date) => parse_date_value(text, pos),
            Some(Field::Url) => {
                Ok(Node::Url { value: text.trim_end_matches('*').to_string(), prefix: text.ends_with('*') })
            }
        }
    }

    fn value_phrase(
        &self,
        field: Option<Field>,
        text: String,
        slop: Option<u32>,
        pos: usize,
    ) -> Result<Node, QueryError> {
        let scope = match field {
            None => TextScope::Default,
            Some(Field::Text(s)) => s,
            Some(Field::Filter(key)) => return Ok(Node::Filter { key, value: normalize_filter(key, &text, pos)? }),
            Some(Field::Url) => return Ok(Node::Url { value: text, prefix: false }),
            Some(Field::Date) => return parse_date_value(text.trim(), pos),
        };
        if text.trim().is_empty() {
            return Err(QueryError::at(pos, "пустая фраза в кавычках", "empty phrase in quotes"));
        }
        Ok(Node::Text { scope, item: TextItem::Phrase { words: text, slop: slop.unwrap_or(0) }, pos })
    }
}

impl Lexed {
    fn clone_lexed(&self) -> Lexed {
        Lexed { tok: self.tok.clone(), pos: self.pos }
    }
}

fn text_item(word: &str) -> TextItem {
    match word.strip_suffix('*') {
        Some(p) if !p.is_empty() && !p.ends_with('*') => TextItem::Prefix(p.to_string()),
        _ => TextItem::Word(word.to_string()),
    }
}

/// Parses a query. An empty query (or `*`) matches everything.
pub fn parse(query: &str) -> Result<Node, QueryError> {
    let len = query.chars().count();
    if len > MAX_QUERY_CHARS {
        return Err(QueryError::at(
            MAX_QUERY_CHARS,
            format!("запрос длиннее {MAX_QUERY_CHARS} символов — сократите его"),
            format!("the query is longer than {MAX_QUERY_CHARS} characters — shorten it"),
        ));
    }
    let toks = lex(query)?;
    if toks.is_empty() {
        return Ok(Node::All);
    }
    let mut p = Parser { toks, at: 0, len, depth: 0 };
    let node = p.or(None)?;
    if let Some(l) = p.peek() {
        // Only a stray `)` stops the top level early.
        return Err(unmatched_paren(l.pos));
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(w: &str) -> Node {
        Node::Text { scope: TextScope::Default, item: TextItem::Word(w.into()), pos: 0 }
    }

    fn strip(n: Node) -> Node {
        match n {
            Node::Text { scope, item, .. } => Node::Text { scope, item, pos: 0 },
            Node::And(v) => Node::And(v.into_iter().map(strip).collect()),
            Node::Or(v) => Node::Or(v.into_iter().map(strip).collect()),
            Node::Not(b) => Node::Not(Box::new(strip(*b))),
            other => other,
        }
    }

    fn p(q: &str) -> Node {
        strip(parse(q).unwrap_or_else(|e| panic!("{q}: {e}")))
    }

    #[test]
    fn precedence_and_grouping() {
        assert_eq!(p("a b OR c"), Node::Or(vec![Node::And(vec![word("a"), word("b")]), word("c")]));
        assert_eq!(p("a AND (b OR c)"), Node::And(vec![word("a"), Node::Or(vec![word("b"), word("c")])]));
        assert_eq!(p("вода ИЛИ газ"), Node::Or(vec![word("вода"), word("газ")]));
        assert_eq!(
            p("a -b NOT c"),
            Node::And(vec![word("a"), Node::Not(Box::new(word("b"))), Node::Not(Box::new(word("c")))])
        );
        assert_eq!(p(""), Node::All);
        assert_eq!(p("10:00"), word("10:00"));
    }

    /// Found by `scripts/fuzz` (target `query`): a closing quote with no
    /// opening one stopped the lexer in place, and it pushed empty words
    /// until memory ran out (one `»` in the search box took a server down).
    #[test]
    fn a_stray_closing_quote_is_skipped() {
        assert_eq!(p("”"), Node::All);
        assert_eq!(p("»"), Node::All);
        assert_eq!(p("вода »"), word("вода"));
        assert_eq!(p("» вода ”"), word("вода"));
        assert_eq!(p("«нет воды» газ»"), p("\"нет воды\" газ"));
    }

    #[test]
    fn phrases_prefixes_fields() {
        assert_eq!(
            p("\"нет воды\"~3"),
            Node::Text {
                scope: TextScope::Default,
                item: TextItem::Phrase { words: "нет воды".into(), slop: 3 },
                pos: 0
            }
        );
        assert_eq!(
            p("водоснаб*"),
            Node::Text { scope: TextScope::Default, item: TextItem::Prefix("водоснаб".into()), pos: 0 }
        );
        assert_eq!(
            p("title:ремонт"),
            Node::Text { scope: TextScope::Title, item: TextItem::Word("ремонт".into()), pos: 0 }
        );
        assert_eq!(
            p("заголовок:(ремонт OR яма)"),
            Node::Or(vec![
                Node::Text { scope: TextScope::Title, item: TextItem::Word("ремонт".into()), pos: 0 },
                Node::Text { scope: TextScope::Title, item: TextItem::Word("яма".into()), pos: 0 },
            ])
        );
        assert_eq!(p("тональность:негатив"), Node::Filter { key: FilterKey::Sentiment, value: "negative".into() });
        assert_eq!(p("тип:жалоба"), Node::Filter { key: FilterKey::Type, value: "complaint".into() });
        assert_eq!(p("тема:водоснабжение"), Node::Filter { key: FilterKey::Topic, value: "water".into() });
        assert_eq!(
            p("place:\"Новая Николаевка\""),
            Node::Filter { key: FilterKey::Place, value: "Новая Николаевка".into() }
        );
        assert_eq!(
            p("url:https://t.me/levokumka*"),
            Node::Url { value: "https://t.me/levokumka".into(), prefix: true }
        );
    }

    #[test]
    fn dates() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        assert_eq!(p("date:[2026-11-01 TO 2026-11-07]"), Node::Date { from: d("2026-11-01"), to: d("2026-11-07") });
        assert_eq!(p("date:[2026-11-01 TO *]"), Node::Date { from: d("2026-11-01"), to: None });
        assert_eq!(p("date:2026-11-05"), Node::Date { from: d("2026-11-05"), to: d("2026-11-05") });
        assert_eq!(p("дата:>=01.11.2026"), Node::Date { from: d("2026-11-01"), to: None });
        assert_eq!(p("date:<2026-11-05"), Node::Date { from: None, to: d("2026-11-04") });
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = |q: &str| parse(q).unwrap_err();
        assert_eq!(e("вода AND (газ OR свет").position, 10);
        assert!(e("вода AND (газ OR свет").message_en.contains("add )"));
        assert_eq!(e("вода \"нет газа").position, 6);
        assert_eq!(e("вода)").position, 5);
        let f = e("вода titel:ремонт");
        assert_eq!(f.position, 6);
        assert!(f.message_ru.contains("title:"), "{f}");
        assert!(e("sentiment:angry").message_en.contains("negative, neutral, positive"));
        assert!(e("date:[2026-11-07 TO 2026-11-01]").message_en.contains("swap"));
        assert!(e("date:[вчера TO 2026-11-01]").message_ru.contains("не дата"));
        assert!(e("вода OR").message_en.contains("OR needs"));
        assert!(e("AND вода").message_en.contains("AND at the start"));
        assert!(e("\"нет воды\"~x").message_en.contains("number"));
        assert!(e("вода ()").message_en.contains("word or phrase"));
        assert_eq!(e(&"(".repeat(40)).message_en, "too many nested parentheses");
    }
}
