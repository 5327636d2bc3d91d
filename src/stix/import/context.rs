//! What the objects of an envelope say about each other: which marking
//! definitions are TLP levels (whoever defined them), which identities
//! author or sight other objects, and what containers hand down.
use super::text;
use crate::domain::Tlp;
use crate::stix::{tlp_of_marking, TLP2_EXTENSION_ID};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// What the objects of an envelope say about each other: the TLP of each
/// marking definition, and the markings and author a container (MISP's
/// `grouping` or `report`) hands down to the objects it lists.
#[derive(Debug, Default)]
pub(super) struct Context<'a> {
    pub(super) markings: HashMap<&'a str, Tlp>,
    /// Objects named as authors (`created_by_ref`) or sighters.
    pub(super) authors: BTreeSet<&'a str>,
    /// Identity names, for the author's external reference.
    pub(super) names: HashMap<&'a str, &'a str>,
    /// Per object: the markings and author of the containers listing it.
    inherited: HashMap<&'a str, (Vec<&'a str>, Option<&'a str>)>,
}

impl<'a> Context<'a> {
    pub(super) fn of(objects: &'a [Value]) -> Context<'a> {
        let mut context = Context::default();
        for object in objects {
            let id = text(object, "id").unwrap_or_default();
            if let Some(author) = text(object, "created_by_ref") {
                context.authors.insert(author);
            }
            for sighter in object
                .get("where_sighted_refs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                context.authors.insert(sighter);
            }
            match text(object, "type").unwrap_or_default() {
                "marking-definition" => {
                    if let Some(tlp) = tlp_of_marking(id).or_else(|| tlp_of_definition(object)) {
                        context.markings.insert(id, tlp);
                    }
                }
                "identity" => {
                    if let Some(name) = text(object, "name") {
                        context.names.insert(id, name);
                    }
                }
                "grouping" | "report" => {
                    let markings = string_list(object, "object_marking_refs");
                    let author = text(object, "created_by_ref");
                    for member in string_list(object, "object_refs") {
                        let entry = context.inherited.entry(member).or_default();
                        entry.0.extend(markings.iter().copied());
                        if entry.1.is_none() {
                            entry.1 = author;
                        }
                    }
                }
                _ => {}
            }
        }
        context
    }

    /// The TLP of an object: the strictest of its own TLP markings, else of
    /// the containers listing it; RED when there is none.
    pub(super) fn tlp(&self, object: &Value) -> Tlp {
        let id = text(object, "id").unwrap_or_default();
        let level = |ids: &mut dyn Iterator<Item = &str>| {
            ids.filter_map(|m| self.markings.get(m).copied().or_else(|| tlp_of_marking(m)))
                .max()
        };
        level(&mut string_list(object, "object_marking_refs").into_iter())
            .or_else(|| {
                self.inherited
                    .get(id)
                    .and_then(|(markings, _)| level(&mut markings.iter().copied()))
            })
            .unwrap_or(Tlp::Red)
    }

    /// The author of an object: its own `created_by_ref`, else its container's.
    pub(super) fn author<'s>(&'s self, object: &'s Value) -> Option<&'s str> {
        let id = text(object, "id").unwrap_or_default();
        text(object, "created_by_ref")
            .or_else(|| self.inherited.get(id).and_then(|(_, author)| *author))
    }
}

/// The TLP a marking definition object states, whoever made it: STIX 2.1's
/// `definition_type: tlp`, FIRST's TLP 2.0 extension, or OpenCTI's
/// `x_opencti_definition` (its AMBER+STRICT is a statement marking).
fn tlp_of_definition(object: &Value) -> Option<Tlp> {
    let stated = object
        .get("definition")
        .filter(|_| text(object, "definition_type").is_some_and(|t| t.eq_ignore_ascii_case("tlp")))
        .and_then(|d| d.get("tlp").or_else(|| d.get("TLP")))
        .and_then(Value::as_str)
        .or_else(|| {
            object
                .get("extensions")
                .and_then(|e| e.get(TLP2_EXTENSION_ID))
                .and_then(|e| e.get("tlp_2_0"))
                .and_then(Value::as_str)
        })
        .or_else(|| {
            text(object, "x_opencti_definition")
                .filter(|_| text(object, "x_opencti_definition_type") == Some("TLP"))
        })
        .or_else(|| text(object, "name").filter(|n| n.to_ascii_uppercase().starts_with("TLP:")))?;
    tlp_named(stated)
}

/// A TLP level by name (`amber+strict`, `TLP:AMBER+STRICT`, TLP 1.0's `white`).
pub(crate) fn tlp_named(name: &str) -> Option<Tlp> {
    let name = name.trim().to_ascii_lowercase();
    let name = name.strip_prefix("tlp:").unwrap_or(&name).trim();
    match name {
        "white" => Some(Tlp::Clear),
        other => other.parse().ok(),
    }
}

pub(super) fn string_list<'a>(object: &'a Value, field: &str) -> Vec<&'a str> {
    object
        .get(field)
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}
