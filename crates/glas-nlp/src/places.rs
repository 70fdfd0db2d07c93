//! Settlements of the district gazetteer, matched in any case form by stems,
//! with context rules for names that are also ordinary words.
//!
//! - A name counts when it is written capitalized ("утренняя заря" is not
//!   Заря), or right after a settlement marker ("с.", "пос.", "х.", "село").
//! - A name followed by "район", "округ", "проспект", "улица" ... names a
//!   district or a street, not the settlement ("Левокумский округ",
//!   "Ленинский проспект"); so does one preceded by "улица", "ул.".
//! - Ambiguous names (`ambiguous = true`: Заря, Степной, Первомайский,
//!   Кочубей, Ленинский) also need context: a marker, a preposition before the
//!   capitalized name ("в Заре", "из Кочубея"), or a street in the same text.
//! - A marker of another kind rules a place out ("п. Правокумский" is not
//!   the село Правокумское); when two places share a form, the marker's kind
//!   decides, else the unambiguous one wins.

use glas_core::config::Place;

use crate::text::{Token, Tokenizer, name_occurrences as occurrences};

/// Marker words (folded) and the settlement kind they announce.
const MARKERS: &[(&str, &str)] = &[
    ("с", "село"),
    ("село", "село"),
    ("селе", "село"),
    ("села", "село"),
    ("селу", "село"),
    ("селом", "село"),
    ("п", "посёлок"),
    ("пос", "посёлок"),
    ("поселок", "посёлок"),
    ("поселка", "посёлок"),
    ("поселке", "посёлок"),
    ("поселку", "посёлок"),
    ("поселком", "посёлок"),
    ("х", "хутор"),
    ("хут", "хутор"),
    ("хутор", "хутор"),
    ("хутора", "хутор"),
    ("хуторе", "хутор"),
    ("хутору", "хутор"),
    ("хутором", "хутор"),
    ("ст", "станица"),
    ("станица", "станица"),
    ("станице", "станица"),
    ("станицы", "станица"),
    ("аул", "аул"),
    ("ауле", "аул"),
];
/// Prepositions that, before a capitalized name, make it a place.
const PREPOSITIONS: &[&str] = &["в", "во", "из", "по", "до", "под", "около", "возле", "из-под", "между"];
/// Words after a name that make it a district, a street or an institution's name.
const NOT_AFTER: &[&str] =
    &["район", "районн", "округ", "муниципальн", "проспект", "улиц", "переулок", "переулк", "площад", "бульвар"];
/// Words before a name that make it a street.
const NOT_BEFORE: &[&str] = &["ул", "улиц", "пер", "переулок", "переулк", "пр", "проспект", "бульвар"];
/// Words that mean the text names a street, which places an ambiguous name.
const STREET: &[&str] = &["ул", "улиц", "переулок", "переулк", "пер"];

struct Entry {
    place: Place,
    forms: Vec<Vec<String>>,
}

pub struct Gazetteer {
    entries: Vec<Entry>,
}

struct Candidate {
    entry: usize,
    start: usize,
    len: usize,
    marker: Option<&'static str>,
}

impl Gazetteer {
    pub fn new(places: &[Place], tok: &Tokenizer) -> Gazetteer {
        let entries = places
            .iter()
            .map(|p| {
                let forms = std::iter::once(&p.name)
                    .chain(&p.aliases)
                    .map(|n| tok.stems(n))
                    .filter(|s| !s.is_empty())
                    .collect();
                Entry { place: p.clone(), forms }
            })
            .collect();
        Gazetteer { entries }
    }

    /// Canonical names of the settlements a text mentions, in gazetteer order.
    pub fn find(&self, tokens: &[Token]) -> Vec<String> {
        let has_street = tokens.iter().any(|t| STREET.contains(&t.stem.as_str()));
        let mut found: Vec<Candidate> = Vec::new();
        for (k, e) in self.entries.iter().enumerate() {
            for form in &e.forms {
                for start in occurrences(tokens, form) {
                    let len = form.len();
                    let before = start.checked_sub(1).map(|i| &tokens[i]);
                    let after = tokens.get(start + len);
                    let marker = before.and_then(|b| MARKERS.iter().find(|(w, _)| *w == b.word).map(|(_, kind)| *kind));
                    if after.is_some_and(|a| NOT_AFTER.contains(&a.stem.as_str()) && !a.brk)
                        || before.is_some_and(|b| NOT_BEFORE.contains(&b.stem.as_str()))
                    {
                        continue;
                    }
                    if let (Some(m), Some(kind)) = (marker, e.place.kind.as_deref())
                        && !same_kind(m, kind)
                    {
                        continue;
                    }
                    let capitalized = tokens[start].capitalized;
                    let context = marker.is_some()
                        || (capitalized
                            && before.is_some_and(|b| PREPOSITIONS.contains(&b.word.as_str()) && !tokens[start].brk))
                        || (capitalized && has_street);
                    let ok = if e.place.ambiguous { context } else { capitalized || marker.is_some() };
                    if ok {
                        found.push(Candidate { entry: k, start, len, marker });
                    }
                }
            }
        }
        // Two places on the same words: the marker's kind decides, else the
        // unambiguous one.
        let keep: Vec<bool> = found
            .iter()
            .map(|c| {
                !found.iter().any(|o| o.entry != c.entry && o.start == c.start && o.len == c.len && self.better(o, c))
            })
            .collect();
        let mut names: Vec<usize> = found.iter().zip(keep).filter(|(_, k)| *k).map(|(c, _)| c.entry).collect();
        names.sort_unstable();
        names.dedup();
        names.into_iter().map(|k| self.entries[k].place.name.clone()).collect()
    }

    fn better(&self, a: &Candidate, b: &Candidate) -> bool {
        let (pa, pb) = (&self.entries[a.entry].place, &self.entries[b.entry].place);
        let fits = |p: &Place, c: &Candidate| match (c.marker, p.kind.as_deref()) {
            (Some(m), Some(k)) => same_kind(m, k),
            _ => false,
        };
        match (fits(pa, a), fits(pb, b)) {
            (true, false) => true,
            (false, true) => false,
            _ => !pa.ambiguous && pb.ambiguous,
        }
    }
}

fn same_kind(marker: &str, kind: &str) -> bool {
    crate::text::fold(kind) == crate::text::fold(marker)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaz() -> (Gazetteer, Tokenizer) {
        let tok = Tokenizer::default();
        let place = |n: &str, kind: &str, ambiguous: bool| Place {
            name: n.to_string(),
            aliases: vec![],
            kind: Some(kind.to_string()),
            ambiguous,
        };
        let places = vec![
            place("Величаевское", "село", false),
            place("Владимировка", "село", false),
            place("Бургун-Маджары", "село", false),
            place("Заря", "посёлок", true),
            place("Кумская Долина", "посёлок", false),
            place("Правокумское", "село", false),
            place("Правокумский", "посёлок", true),
            place("Левокумское", "село", false),
            place("Ленинский", "посёлок", true),
        ];
        (Gazetteer::new(&places, &tok), tok)
    }

    fn find(text: &str) -> Vec<String> {
        let (g, tok) = gaz();
        g.find(&tok.tokens(text))
    }

    #[test]
    fn case_forms() {
        assert_eq!(find("Нет воды в Величаевском"), ["Величаевское"]);
        assert_eq!(find("автобус из Владимировки"), ["Владимировка"]);
        assert_eq!(find("в Бургун-Маджарах и в Кумской Долине"), ["Бургун-Маджары", "Кумская Долина"]);
        assert_eq!(find("в Заре опять нет света"), ["Заря"]);
        assert_eq!(find("В Величаевском парк зарос"), ["Величаевское"]);
    }

    #[test]
    fn ambiguous_names_need_context() {
        assert!(find("утренняя заря").is_empty());
        assert!(find("Заря нового дня").is_empty(), "capitalized at the start of a sentence is not enough");
        assert_eq!(find("жители пос. Заря"), ["Заря"]);
        assert!(find("Ленинский районный суд Ставрополя").is_empty());
        assert!(find("на Ленинском проспекте в Москве").is_empty());
        assert_eq!(find("ул. Мира, Ленинский"), ["Ленинский"], "a street places the name");
    }

    #[test]
    fn districts_markers_and_shared_forms() {
        assert!(find("Администрация Левокумского округа").is_empty());
        assert_eq!(find("в Левокумском прошёл концерт"), ["Левокумское"]);
        assert_eq!(find("в Правокумском прорвало трубу"), ["Правокумское"]);
        assert_eq!(find("в п. Правокумский привезли воду"), ["Правокумский"]);
        assert!(find("урожайный год в правокумском хозяйстве").is_empty());
    }
}
