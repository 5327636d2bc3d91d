//! Form fields shared by the pages that write records (sightings, submit):
//! the sharing part of a record (TLP, audience, attribution), and the
//! choices offered for closed vocabularies. A form becomes the same JSON
//! body the API takes, and is validated by the same code
//! (`records::create_batch_of`); nothing here decides what is valid.
use crate::domain::{Category, Method, SightingContext};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// An option of a `<select>`.
pub struct Choice {
    pub value: &'static str,
    pub text: String,
    pub selected: bool,
}

fn choices(values: impl Iterator<Item = &'static str>, selected: &str) -> Vec<Choice> {
    values
        .map(|value| Choice {
            value,
            text: value.replace('_', " "),
            selected: value == selected,
        })
        .collect()
}

pub fn tlp_choices(selected: &str) -> Vec<Choice> {
    let mut list = choices(
        ["clear", "green", "amber", "amber+strict", "red"].into_iter(),
        selected,
    );
    for c in &mut list {
        c.text = format!("TLP:{}", c.value.to_uppercase());
    }
    list
}

pub fn context_choices(selected: &str) -> Vec<Choice> {
    choices(SightingContext::ALL.iter().map(|c| c.as_str()), selected)
}

pub fn category_choices(selected: &[String]) -> Vec<Choice> {
    Category::ALL
        .iter()
        .map(|c| Choice {
            value: c.as_str(),
            text: c.as_str().replace('_', " "),
            selected: selected.iter().any(|s| s == c.as_str()),
        })
        .collect()
}

pub fn method_choices(selected: &str) -> Vec<Choice> {
    choices(Method::ALL.iter().map(|m| m.as_str()), selected)
}

/// The sharing fields of a form, as typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SharingForm {
    #[serde(default)]
    pub tlp: String,
    /// `on` when ticked.
    #[serde(default)]
    pub all_partners: Option<String>,
    /// Organization ids, separated by commas or spaces.
    #[serde(default)]
    pub organizations: String,
    /// Community ids, separated by commas or spaces.
    #[serde(default)]
    pub communities: String,
    /// `named` or `anonymous`.
    #[serde(default)]
    pub attribution: String,
}

fn ids(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl SharingForm {
    /// Adds `tlp`, `audience` and `attribution` to a record body.
    pub fn apply(&self, body: &mut Map<String, Value>) {
        body.insert("tlp".into(), json!(self.tlp.trim()));
        body.insert(
            "audience".into(),
            json!({
                "all_partners": self.all_partners.is_some(),
                "organizations": ids(&self.organizations),
                "communities": ids(&self.communities),
            }),
        );
        let attribution = match self.attribution.trim() {
            "" => "named",
            other => other,
        };
        body.insert("attribution".into(), json!(attribution));
    }
}

/// An `<input type="datetime-local">` value (`2026-12-01T14:30`, taken as
/// UTC) or an RFC 3339 time, as the API's JSON takes it.
pub fn instant(text: &str) -> Option<Value> {
    let text = text.trim();
    match text.len() {
        0 => None,
        16 => Some(json!(format!("{text}:00Z"))),
        19 => Some(json!(format!("{text}Z"))),
        _ => Some(json!(text)),
    }
}

/// The form's text, if not blank.
pub fn text(value: &str) -> Option<Value> {
    let value = value.trim();
    (!value.is_empty()).then(|| json!(value))
}
