//! A MISP event to the STIX 2.1 objects misp-stix makes of it (for the
//! parts tracewire reads): the event is a `grouping` whose TLP tags and
//! creator organization apply to what it lists; each attribute an
//! `x-misp-attribute`; each object an `x-misp-object` (organization,
//! identity, person and legal-entity objects an `identity`, as misp-stix
//! maps them); each object reference a `relationship`; each sighting a
//! `sighting`. Ids are misp-stix's: `<type>--<MISP uuid>`, so the same
//! event imported from disk and through misp-stix is the same objects.
use crate::domain::Tlp;
use crate::stix::import::tlp_named;
use crate::stix::{tlp_marking, tlp_marking_id, SPEC_VERSION};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};

/// Why a file is not a MISP event.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not a MISP event: {0}")]
    NotAnEvent(String),
}

/// The events of a MISP JSON document: `{"Event": …}`, a bare event,
/// a list of either, or a REST search answer `{"response": [...]}`.
pub fn events_of(document: &Value) -> Result<Vec<&Value>, EventError> {
    fn one(value: &Value) -> Option<&Value> {
        match value.get("Event") {
            Some(event) if event.is_object() => Some(event),
            _ if value.get("info").is_some() || value.get("Attribute").is_some() => Some(value),
            _ => None,
        }
    }
    let list = document
        .get("response")
        .and_then(Value::as_array)
        .or_else(|| document.as_array());
    match list {
        Some(items) => items
            .iter()
            .map(|item| {
                one(item).ok_or_else(|| EventError::NotAnEvent("a list item has no Event".into()))
            })
            .collect(),
        None => one(document)
            .map(|e| vec![e])
            .ok_or_else(|| EventError::NotAnEvent("no Event, info or Attribute".into())),
    }
}

fn text<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field).and_then(Value::as_str)
}

fn list<'a>(value: &'a Value, field: &str) -> &'a [Value] {
    value
        .get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A MISP timestamp (seconds since the epoch, as a string or a number) in STIX form.
fn timestamp(value: Option<&Value>) -> Option<String> {
    let seconds = match value? {
        Value::String(s) => s.parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    let at: DateTime<Utc> = DateTime::from_timestamp(seconds, 0)?;
    Some(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// The TLP levels named by a MISP `Tag` list, and the other tag names.
fn tags(value: &Value) -> (Vec<Tlp>, Vec<String>) {
    let mut levels = Vec::new();
    let mut others = Vec::new();
    for tag in list(value, "Tag") {
        let Some(name) = text(tag, "name") else {
            continue;
        };
        match name
            .to_ascii_lowercase()
            .starts_with("tlp:")
            .then(|| tlp_named(name))
            .flatten()
        {
            Some(level) => levels.push(level),
            None => others.push(name.to_owned()),
        }
    }
    (levels, others)
}

/// The STIX objects of one event.
pub fn to_stix(event: &Value) -> Vec<Value> {
    let mut objects = Vec::new();
    let mut used: BTreeSet<Tlp> = BTreeSet::new();
    let event_uuid = text(event, "uuid").unwrap_or_default();
    let event_time =
        timestamp(event.get("timestamp")).unwrap_or_else(|| crate::stix::timestamp(&Utc::now()));
    let author = event.get("Orgc").and_then(|orgc| {
        let uuid = text(orgc, "uuid")?;
        objects.push(json!({
            "type": "identity",
            "spec_version": SPEC_VERSION,
            "id": format!("identity--{uuid}"),
            "created": event_time,
            "modified": event_time,
            "name": text(orgc, "name").unwrap_or(uuid),
            "identity_class": "organization"
        }));
        Some(format!("identity--{uuid}"))
    });
    // Which STIX id each MISP uuid (attribute, object, attribute inside an object) has.
    let mut ids: HashMap<&str, String> = HashMap::new();
    for attribute in list(event, "Attribute") {
        if let Some(uuid) = text(attribute, "uuid") {
            ids.insert(uuid, format!("x-misp-attribute--{uuid}"));
        }
    }
    for object in list(event, "Object") {
        let Some(uuid) = text(object, "uuid") else {
            continue;
        };
        let id = format!("{}--{uuid}", object_type(object));
        for inner in list(object, "Attribute") {
            if let Some(inner_uuid) = text(inner, "uuid") {
                ids.insert(inner_uuid, id.clone());
            }
        }
        ids.insert(uuid, id);
    }
    let mut listed = Vec::new();
    let mut common = |object: &mut Map<String, Value>, created: Option<&Value>, levels: &[Tlp]| {
        let at = timestamp(created).unwrap_or_else(|| event_time.clone());
        object.insert("spec_version".into(), json!(SPEC_VERSION));
        object.insert("created".into(), json!(at));
        object.insert("modified".into(), json!(at));
        if let Some(author) = &author {
            object.insert("created_by_ref".into(), json!(author));
        }
        if !levels.is_empty() {
            let markings: Vec<&str> = levels.iter().map(|t| tlp_marking_id(*t)).collect();
            used.extend(levels.iter().copied());
            object.insert("object_marking_refs".into(), json!(markings));
        }
    };
    for attribute in list(event, "Attribute") {
        let Some(uuid) = text(attribute, "uuid") else {
            continue;
        };
        let (levels, others) = tags(attribute);
        let misp_type = text(attribute, "type").unwrap_or_default();
        let mut labels = vec![format!("misp:type=\"{misp_type}\"")];
        labels.extend(others);
        let mut object = Map::new();
        object.insert("type".into(), json!("x-misp-attribute"));
        object.insert("id".into(), json!(ids[uuid]));
        common(&mut object, attribute.get("timestamp"), &levels);
        object.insert("labels".into(), json!(labels));
        object.insert("x_misp_type".into(), json!(misp_type));
        object.insert(
            "x_misp_value".into(),
            json!(text(attribute, "value").unwrap_or_default()),
        );
        for (field, name) in [
            ("category", "x_misp_category"),
            ("comment", "x_misp_comment"),
        ] {
            if let Some(value) = text(attribute, field).filter(|v| !v.is_empty()) {
                object.insert(name.into(), json!(value));
            }
        }
        listed.push(ids[uuid].clone());
        objects.push(Value::Object(object));
        for sighting in list(attribute, "Sighting") {
            if let Some(made) = sighting_object(sighting, &ids[uuid], &mut objects) {
                listed.push(made);
            }
        }
    }
    for misp_object in list(event, "Object") {
        let Some(uuid) = text(misp_object, "uuid") else {
            continue;
        };
        let id = ids[uuid].clone();
        let mut levels = Vec::new();
        for inner in list(misp_object, "Attribute") {
            levels.extend(tags(inner).0);
        }
        levels.sort();
        levels.dedup();
        let name = text(misp_object, "name").unwrap_or_default();
        let mut object = Map::new();
        object.insert("id".into(), json!(id));
        common(&mut object, misp_object.get("timestamp"), &levels);
        if id.starts_with("identity--") {
            object.insert("type".into(), json!("identity"));
            let value = |relation: &str| {
                list(misp_object, "Attribute")
                    .iter()
                    .find(|a| text(a, "object_relation") == Some(relation))
                    .and_then(|a| text(a, "value"))
            };
            object.insert("name".into(), json!(value("name").unwrap_or(name)));
            let class = if matches!(name, "person") {
                "individual"
            } else {
                "organization"
            };
            object.insert("identity_class".into(), json!(class));
            if let Some(description) = value("description") {
                object.insert("description".into(), json!(description));
            }
            if let Some(kind) = value("type-of-organization") {
                object.insert("x_misp_type_of_organization".into(), json!(kind));
            }
            let aliases: Vec<&str> = list(misp_object, "Attribute")
                .iter()
                .filter(|a| text(a, "object_relation") == Some("alias"))
                .filter_map(|a| text(a, "value"))
                .collect();
            if !aliases.is_empty() {
                object.insert("x_misp_alias".into(), json!(aliases));
            }
        } else {
            object.insert("type".into(), json!("x-misp-object"));
            object.insert("x_misp_name".into(), json!(name));
            let attributes: Vec<Value> = list(misp_object, "Attribute")
                .iter()
                .map(|a| {
                    json!({
                        "type": text(a, "type").unwrap_or_default(),
                        "object_relation": text(a, "object_relation").unwrap_or_default(),
                        "value": text(a, "value").unwrap_or_default(),
                        "uuid": text(a, "uuid").unwrap_or_default(),
                    })
                })
                .collect();
            object.insert("x_misp_attributes".into(), json!(attributes));
        }
        if let Some(comment) = text(misp_object, "comment").filter(|c| !c.is_empty()) {
            object.insert("x_misp_comment".into(), json!(comment));
        }
        listed.push(id.clone());
        objects.push(Value::Object(object));
        for inner in list(misp_object, "Attribute") {
            for sighting in list(inner, "Sighting") {
                if let Some(made) = sighting_object(sighting, &id, &mut objects) {
                    listed.push(made);
                }
            }
        }
        for reference in list(misp_object, "ObjectReference") {
            let (Some(target), Some(relation)) = (
                text(reference, "referenced_uuid").and_then(|u| ids.get(u)),
                text(reference, "relationship_type"),
            ) else {
                continue;
            };
            let reference_uuid = text(reference, "uuid")
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    let name = format!("{id} - {relation} - {target}");
                    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).to_string()
                });
            let at = timestamp(reference.get("timestamp")).unwrap_or_else(|| event_time.clone());
            let relationship_id = format!("relationship--{reference_uuid}");
            let mut relationship = json!({
                "type": "relationship",
                "spec_version": SPEC_VERSION,
                "id": relationship_id,
                "created": at,
                "modified": at,
                "relationship_type": relation,
                "source_ref": id,
                "target_ref": target,
            });
            if !levels.is_empty() {
                relationship["object_marking_refs"] = json!(levels
                    .iter()
                    .map(|t| tlp_marking_id(*t))
                    .collect::<Vec<_>>());
            }
            listed.push(relationship_id);
            objects.push(relationship);
        }
    }
    let (event_levels, _) = tags(event);
    used.extend(event_levels.iter().copied());
    let mut grouping = json!({
        "type": "grouping",
        "spec_version": SPEC_VERSION,
        "id": format!("grouping--{event_uuid}"),
        "created": event_time,
        "modified": event_time,
        "name": text(event, "info").unwrap_or_default(),
        "context": "suspicious-activity",
        "object_refs": listed,
    });
    if let Some(author) = &author {
        grouping["created_by_ref"] = json!(author);
    }
    if !event_levels.is_empty() {
        grouping["object_marking_refs"] = json!(event_levels
            .iter()
            .map(|t| tlp_marking_id(*t))
            .collect::<Vec<_>>());
    }
    objects.insert(usize::from(author.is_some()), grouping);
    objects.extend(used.into_iter().map(tlp_marking));
    objects
}

/// The STIX type misp-stix gives a MISP object.
fn object_type(object: &Value) -> &'static str {
    match text(object, "name").unwrap_or_default() {
        "organization" | "identity" | "person" | "legal-entity" => "identity",
        _ => "x-misp-object",
    }
}

/// A MISP sighting (type 0, "seen") of `of`, with the sighting organization's identity.
fn sighting_object(sighting: &Value, of: &str, objects: &mut Vec<Value>) -> Option<String> {
    if text(sighting, "type").unwrap_or("0") != "0" {
        return None;
    }
    let uuid = text(sighting, "uuid")?;
    let at = timestamp(sighting.get("date_sighting"))
        .unwrap_or_else(|| crate::stix::timestamp(&Utc::now()));
    let id = format!("sighting--{uuid}");
    let mut made = json!({
        "type": "sighting",
        "spec_version": SPEC_VERSION,
        "id": id,
        "created": at,
        "modified": at,
        "sighting_of_ref": of,
    });
    if let Some(source) = text(sighting, "source").filter(|s| !s.is_empty()) {
        made["description"] = json!(source);
    }
    if let Some(organisation) = sighting.get("Organisation") {
        if let Some(org_uuid) = text(organisation, "uuid") {
            let identity = format!("identity--{org_uuid}");
            if !objects.iter().any(|o| o["id"] == identity) {
                objects.push(json!({
                    "type": "identity",
                    "spec_version": SPEC_VERSION,
                    "id": identity,
                    "created": at,
                    "modified": at,
                    "name": text(organisation, "name").unwrap_or(org_uuid),
                    "identity_class": "organization"
                }));
            }
            made["where_sighted_refs"] = json!([identity]);
        }
    }
    objects.push(made);
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Value {
        json!({"Event": {
            "uuid": "5e7f3a10-0000-4000-8000-000000000001",
            "info": "case 7",
            "timestamp": "1764590000",
            "Orgc": {"name": "Forensics Ltd", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"},
            "Tag": [{"name": "tlp:amber"}],
            "Attribute": [
                {"uuid": "5e7f3a10-0000-4000-8000-000000000002", "type": "btc",
                 "value": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "timestamp": "1764590001",
                 "Tag": [{"name": "tlp:red"}, {"name": "tracewire:category=\"ransomware\""}]}
            ],
            "Object": [
                {"uuid": "5e7f3a10-0000-4000-8000-000000000003", "name": "coin-address",
                 "Attribute": [
                    {"uuid": "5e7f3a10-0000-4000-8000-000000000004", "type": "text",
                     "object_relation": "address-crypto", "value": "0x52908400098527886E0F7030069857D2E4169EE7"},
                    {"uuid": "5e7f3a10-0000-4000-8000-000000000005", "type": "text",
                     "object_relation": "symbol", "value": "ETH"}],
                 "ObjectReference": [{"uuid": "5e7f3a10-0000-4000-8000-000000000006",
                     "referenced_uuid": "5e7f3a10-0000-4000-8000-000000000002", "relationship_type": "related-to"}]}
            ]
        }})
    }

    #[test]
    fn an_event_becomes_what_misp_stix_makes_of_it() {
        let document = event();
        let events = events_of(&document).unwrap();
        let objects = to_stix(events[0]);
        let find = |id: &str| objects.iter().find(|o| o["id"] == id).unwrap();
        let grouping = find("grouping--5e7f3a10-0000-4000-8000-000000000001");
        assert_eq!(
            grouping["object_marking_refs"],
            json!([tlp_marking_id(Tlp::Amber)])
        );
        assert_eq!(grouping["object_refs"].as_array().unwrap().len(), 3);
        let attribute = find("x-misp-attribute--5e7f3a10-0000-4000-8000-000000000002");
        assert_eq!(attribute["x_misp_type"], "btc");
        assert_eq!(
            attribute["object_marking_refs"],
            json!([tlp_marking_id(Tlp::Red)])
        );
        assert_eq!(attribute["labels"][1], "tracewire:category=\"ransomware\"");
        assert_eq!(attribute["modified"], "2025-12-01T11:53:21.000Z");
        let relationship = find("relationship--5e7f3a10-0000-4000-8000-000000000006");
        assert_eq!(
            relationship["source_ref"],
            "x-misp-object--5e7f3a10-0000-4000-8000-000000000003"
        );
        assert_eq!(
            relationship["target_ref"],
            "x-misp-attribute--5e7f3a10-0000-4000-8000-000000000002"
        );
        assert!(objects.iter().any(|o| o["id"] == tlp_marking_id(Tlp::Red)));
        assert!(events_of(&json!({"nope": 1})).is_err());
    }
}
