//! The report's layout as data: `dashboards/weekly.toml`.

use serde::Deserialize;

/// The built-in definition (the repository's `dashboards/weekly.toml`).
pub const DEFAULT_WEEKLY: &str = include_str!("../../../dashboards/weekly.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Main,
    Days,
    Topics,
    Places,
    Signals,
    Emerging,
    TopNegative,
    TopPositive,
    SavedSearches,
    Sources,
    Incidents,
    MediaPlan,
    OwnVoice,
    Outlook,
}

impl Section {
    /// The section's heading, the same in every format.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Main => "Главное",
            Section::Days => "Публикации и тональность по дням",
            Section::Topics => "Напряжённость по темам",
            Section::Places => "Напряжённость по населённым пунктам",
            Section::Signals => "Сигналы недели",
            Section::Emerging => "Новые темы",
            Section::TopNegative => "Самые негативные публикации",
            Section::TopPositive => "Самые позитивные публикации",
            Section::SavedSearches => "Сохранённые поиски",
            Section::Sources => "Работа источников",
            Section::Incidents => "Обратная связь: инциденты",
            Section::MediaPlan => "Медиаплан: план и факт",
            Section::OwnVoice => "Официальные каналы: отклик жителей и имидж",
            Section::Outlook => "Прогноз на следующую неделю",
        }
    }

    /// What the section says when it has nothing to show.
    pub fn when_empty(self) -> &'static str {
        match self {
            Section::Main | Section::Days | Section::Topics | Section::Places => "Нет публикаций.",
            Section::Signals => "Сигналов не было.",
            Section::Emerging => "Новых тем, о которых заговорили сразу многие, не появилось.",
            Section::TopNegative => "Негативных публикаций нет.",
            Section::TopPositive => "Позитивных публикаций нет.",
            Section::SavedSearches => {
                "Сохранённых поисков нет. Их задают в файле конфигурации ([[searches]]) или через API."
            }
            Section::Sources => "Источники не заданы.",
            Section::Incidents => "Инцидентов за неделю не было.",
            Section::MediaPlan => "На неделю в медиаплане ничего нет.",
            Section::OwnVoice => "Официальные каналы за неделю ничего не опубликовали.",
            Section::Outlook => "Данных для прогноза пока мало.",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// Heading of the report, before the district name.
    pub title: String,
    pub sections: Vec<Section>,
    /// Length of the list of most negative mentions.
    #[serde(default = "default_top")]
    pub top_negative: usize,
    /// Characters of each mention shown.
    #[serde(default = "default_excerpt")]
    pub excerpt_chars: usize,
}

fn default_top() -> usize {
    10
}

fn default_excerpt() -> usize {
    280
}

#[derive(Debug, thiserror::Error)]
#[error("invalid dashboard {name}: {reason}")]
pub struct DashboardError {
    pub name: String,
    pub reason: String,
}

impl Dashboard {
    /// Parses a dashboard definition; `name` appears in errors.
    pub fn parse(text: &str, name: &str) -> Result<Dashboard, DashboardError> {
        toml::from_str(text)
            .map_err(|e| DashboardError { name: name.to_string(), reason: e.to_string().trim().to_string() })
    }

    pub fn default_weekly() -> Dashboard {
        Dashboard::parse(DEFAULT_WEEKLY, "dashboards/weekly.toml").expect("the built-in dashboard is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_and_errors_name_the_problem() {
        let d = Dashboard::default_weekly();
        assert_eq!(d.sections.first(), Some(&Section::Main));
        let e = Dashboard::parse("title = \"x\"\nsections = [\"mian\"]\n", "x.toml").unwrap_err();
        assert!(e.to_string().contains("mian") && e.to_string().contains("top_negative"), "{e}");
    }
}
