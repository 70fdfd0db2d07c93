//! Municipal topics by stem rules: the built-in default taxonomy with the
//! contract's codes. Multi-label. Rules match whole stems (never prefixes, so
//! "газ" does not fire on "газета") and two-word phrases.

use crate::text::{Token, Tokenizer};

/// (code, trigger words and phrases). Codes and Russian names: `glas_core::config::DEFAULT_TOPICS`.
pub const DEFAULT_TAXONOMY: &[(&str, &[&str])] = &[
    ("water", &["вода", "воды", "водоснабжение", "водопровод", "водоканал", "водопроводный", "напор", "кран", "колонка", "скважина", "водовод", "питьевая", "прорвало трубу", "порыв трубы"]),
    ("heating", &["отопление", "отопительный", "батарея", "батареи", "котельная", "теплоснабжение", "теплосеть", "теплотрасса"]),
    ("electricity", &["электричество", "электроснабжение", "электроэнергия", "свет", "света", "обесточены", "подстанция", "электросети", "напряжение", "россети"]),
    ("gas", &["газ", "газа", "газоснабжение", "газопровод", "газовый", "газовики", "газификация"]),
    ("roads", &["дорога", "дороги", "дорожный", "яма", "ямы", "ямочный", "асфальт", "тротуар", "мост", "обочина", "грейдер", "щебень"]),
    ("waste", &["мусор", "мусора", "отходы", "свалка", "контейнер", "контейнерная", "мусоровоз", "тко", "регоператор"]),
    ("housing", &["жкх", "подъезд", "крыша", "капремонт", "управляющая", "многоквартирный", "аварийное жилье", "жилье", "квартира"]),
    ("improvement", &["благоустройство", "парк", "сквер", "фонарь", "фонари", "освещение", "детская площадка", "клумба", "озеленение", "покос", "бродячие собаки"]),
    ("transport", &["автобус", "маршрут", "маршрутка", "транспорт", "рейс", "остановка", "расписание автобусов"]),
    ("healthcare", &["больница", "поликлиника", "врач", "врачи", "терапевт", "педиатр", "фельдшер", "фап", "скорая", "медицинский", "лекарства", "аптека", "прием", "запись к врачу"]),
    ("education", &["школа", "школы", "школьный", "детский сад", "садик", "учитель", "учителя", "ученики", "образование", "егэ"]),
    ("safety", &["полиция", "участковый", "кража", "преступление", "драка", "безопасность", "мошенники", "мошенничество"]),
    ("prices", &["цена", "цены", "тариф", "тарифы", "подорожание", "подорожали", "стоимость", "дорого"]),
    ("agriculture", &["урожай", "посевная", "уборочная", "фермер", "фермеры", "скот", "поголовье", "полив", "сельхоз", "зерно", "виноградник", "пашня", "агрохолдинг"]),
    ("ecology", &["экология", "экологический", "выбросы", "загрязнение", "запах", "вонь", "отравление", "сброс"]),
    ("social_support", &["пенсия", "пенсионеры", "пособие", "льготы", "соцзащита", "выплата", "выплаты", "многодетные", "субсидия", "участники сво", "мобилизованные"]),
    ("governance", &["администрация", "глава округа", "глава", "депутат", "депутаты", "чиновники", "отписка", "бюджет", "дума", "прокуратура", "приемная"]),
    ("emergency", &["авария", "пожар", "паводок", "наводнение", "чс", "эвакуация", "ураган", "подтопление", "режим чс", "коммунальная авария"]),
];

pub struct Topics {
    /// (code, stem sequences).
    rules: Vec<(&'static str, Vec<Vec<String>>)>,
}

impl Topics {
    pub fn builtin(tok: &Tokenizer) -> Topics {
        let rules = DEFAULT_TAXONOMY
            .iter()
            .map(|(code, words)| (*code, words.iter().map(|w| tok.stems(w)).filter(|s| !s.is_empty()).collect()))
            .collect();
        Topics { rules }
    }

    /// Codes whose rules match, in taxonomy order.
    pub fn classify(&self, tokens: &[Token]) -> Vec<String> {
        self.rules
            .iter()
            .filter(|(_, patterns)| patterns.iter().any(|p| contains_seq(tokens, p)))
            .map(|(code, _)| code.to_string())
            .collect()
    }
}

pub(crate) fn contains_seq(tokens: &[Token], seq: &[String]) -> bool {
    !seq.is_empty()
        && tokens.windows(seq.len()).any(|w| w.iter().zip(seq).all(|(t, s)| &t.stem == s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(text: &str) -> Vec<String> {
        let tok = Tokenizer::default();
        Topics::builtin(&tok).classify(&tok.tokens(text))
    }

    #[test]
    fn residents_phrasing() {
        assert_eq!(topics("Прорвало трубу, напор слабый"), ["water"]);
        assert_eq!(topics("Мусор не вывозят неделю"), ["waste"]);
        assert_eq!(topics("Ямы на Гагарина"), ["roads"]);
        assert_eq!(topics("Фонари не горят"), ["improvement"]);
        assert_eq!(topics("В поликлинике нет терапевта"), ["healthcare"]);
        assert!(topics("Свежая газета вышла").is_empty());
    }
}
