//! Records to STIX 2.1 objects.
//!
//! | record | STIX |
//! |---|---|
//! | address | `indicator` (pattern `[cryptocurrency-wallet:value = '…']`), the `cryptocurrency-wallet` observable, and a `based-on` relationship from the indicator to the observable |
//! | wallet | `infrastructure` |
//! | entity | `identity`, `threat-actor` or `infrastructure`, by entity type |
//! | relationship | `relationship` (member-of, attributed-to, related-to) |
//! | sighting | `sighting` of the seen record's object; of an address: of an `indicator` for it (with the observable) |
//! | source organization (named) | `identity`, as `created_by_ref` |
use super::{
    naive_timestamp, object_id, organization_identity_id, timestamp, tlp_marking_id,
    wallet_observable_id, EXTENSION_ID, SPEC_VERSION,
};
use crate::domain::{Category, RecordKind};
use crate::records::RecordContent;
use chrono::NaiveDateTime;
use serde_json::{json, Map, Value};

/// A named source organization, as its identity object shows it.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub name: String,
    pub created: NaiveDateTime,
}

/// One revision of a record, as the reader may see it, with what its objects need.
pub struct Revision<'a> {
    /// The revision's content, already redacted for the reader.
    pub content: &'a RecordContent,
    /// When the record's first revision was stored.
    pub created: NaiveDateTime,
    /// When this revision was stored.
    pub modified: NaiveDateTime,
    /// The source organization, when the reader may see it.
    pub source: Option<&'a Source>,
    /// For relationships: the STIX ids of both ends, when the reader may see both.
    pub ends: Option<(String, String)>,
    /// For sightings of a record: the STIX id of the record seen, when the reader may see it.
    pub seen: Option<String>,
}

/// The STIX type an entity maps to, by its entity type.
pub fn entity_stix_type(entity_type: &str) -> &'static str {
    const IDENTITY: [&str; 12] = [
        "exchange",
        "company",
        "organization",
        "organisation",
        "individual",
        "person",
        "bank",
        "government",
        "ngo",
        "law_enforcement",
        "business",
        "vasp",
    ];
    const INFRASTRUCTURE: [&str; 10] = [
        "market",
        "mixer",
        "service",
        "infrastructure",
        "gambling",
        "casino",
        "platform",
        "pool",
        "bridge",
        "wallet",
    ];
    let t = entity_type.to_ascii_lowercase();
    if INFRASTRUCTURE.iter().any(|k| t.contains(k)) {
        "infrastructure"
    } else if IDENTITY.iter().any(|k| t.contains(k)) {
        "identity"
    } else {
        "threat-actor"
    }
}

/// The STIX id a record is referred to by (an address by its indicator).
pub fn primary_id(content: &RecordContent) -> String {
    let stix_type = match content.kind {
        RecordKind::Address => "indicator",
        RecordKind::Wallet => "infrastructure",
        RecordKind::Entity => entity_stix_type(content.entity_type.as_deref().unwrap_or("")),
        RecordKind::Relationship => "relationship",
        RecordKind::Sighting => "sighting",
    };
    object_id(stix_type, &content.id)
}

/// The identity object of a named source organization.
pub fn source_identity(source: &Source) -> Value {
    let created = naive_timestamp(&source.created);
    json!({
        "type": "identity",
        "spec_version": SPEC_VERSION,
        "id": organization_identity_id(&source.id),
        "created": created,
        "modified": created,
        "name": source.name,
        "identity_class": "organization",
        "created_by_ref": super::HUB_IDENTITY_ID
    })
}

/// The objects of one revision: the source's identity (when named), then
/// the record's own objects. Relationships whose ends the reader cannot
/// both see map to nothing.
pub fn objects(revision: &Revision<'_>) -> Vec<Value> {
    let content = revision.content;
    let mut objects = Vec::new();
    if content.kind == RecordKind::Relationship && revision.ends.is_none() {
        return objects;
    }
    let sighted_record = content.sighting.as_ref().and_then(|s| s.of.as_ref());
    if content.kind == RecordKind::Sighting && sighted_record.is_some() && revision.seen.is_none() {
        return objects;
    }
    if let Some(source) = revision.source {
        objects.push(source_identity(source));
    }
    let mut main = common(revision);
    match content.kind {
        RecordKind::Address => {
            objects.push(address_indicator(revision, &mut main));
        }
        RecordKind::Sighting => {
            let Some(details) = &content.sighting else {
                return objects;
            };
            let seen = match &revision.seen {
                Some(seen) => seen.clone(),
                None => {
                    // A sighting of an address: of an indicator for that address.
                    let mut indicator = common(revision);
                    let id = object_id("indicator", &content.id);
                    indicator.insert("type".into(), json!("indicator"));
                    indicator.insert("id".into(), json!(id));
                    objects.push(address_indicator(revision, &mut indicator));
                    objects.push(Value::Object(indicator));
                    id
                }
            };
            let seen_at = timestamp(&details.seen_at);
            main.insert("sighting_of_ref".into(), json!(seen));
            main.insert("first_seen".into(), json!(seen_at));
            main.insert("last_seen".into(), json!(seen_at));
            main.insert("count".into(), json!(details.count.min(999_999_999)));
            if let (Some(_), Some(org)) = (revision.source, &content.provenance.source_organization)
            {
                main.insert(
                    "where_sighted_refs".into(),
                    json!([organization_identity_id(org)]),
                );
            }
            if let Some(extension) = main
                .get_mut("extensions")
                .and_then(|e| e.get_mut(EXTENSION_ID))
            {
                extension["context"] = json!(details.context.as_str());
            }
        }
        RecordKind::Wallet => {
            main.insert("name".into(), json!(content.name));
        }
        RecordKind::Entity => {
            main.insert("name".into(), json!(content.name));
            let entity_type = content.entity_type.clone().unwrap_or_default();
            match entity_stix_type(&entity_type) {
                "identity" => {
                    let class = if ["person", "individual"]
                        .iter()
                        .any(|k| entity_type.contains(k))
                    {
                        "individual"
                    } else {
                        "organization"
                    };
                    main.insert("identity_class".into(), json!(class));
                }
                "threat-actor" => {
                    main.insert("threat_actor_types".into(), json!(["criminal"]));
                    if !content.aliases.is_empty() {
                        main.insert("aliases".into(), json!(content.aliases));
                    }
                }
                _ => {
                    if !content.aliases.is_empty() {
                        main.insert("aliases".into(), json!(content.aliases));
                    }
                }
            }
        }
        RecordKind::Relationship => {
            if let Some((from, to)) = &revision.ends {
                let relation = content.relation.map(|r| r.as_str()).unwrap_or("related_to");
                main.insert(
                    "relationship_type".into(),
                    json!(relation.replace('_', "-")),
                );
                main.insert("source_ref".into(), json!(from));
                main.insert("target_ref".into(), json!(to));
            }
        }
    }
    if content.kind == RecordKind::Address {
        let link = based_on(&content.id, &main, &objects[objects.len() - 1]);
        objects.push(Value::Object(main));
        objects.push(link);
        return objects;
    }
    objects.push(Value::Object(main));
    objects
}

/// The `based-on` relationship from an address's indicator to its
/// observable (as OpenCTI links them): same times, markings and author as
/// the indicator; its id has the record's UUID, as the indicator's does, so
/// it is found by id like the record's other objects.
fn based_on(record_id: &str, indicator: &Map<String, Value>, observable: &Value) -> Value {
    let indicator_id = indicator["id"].as_str().unwrap_or_default();
    let mut link = json!({
        "type": "relationship",
        "spec_version": SPEC_VERSION,
        "id": object_id("relationship", record_id),
        "created": indicator["created"],
        "modified": indicator["modified"],
        "relationship_type": "based-on",
        "source_ref": indicator_id,
        "target_ref": observable["id"],
        "object_marking_refs": indicator["object_marking_refs"],
    });
    if let Some(author) = indicator.get("created_by_ref") {
        link["created_by_ref"] = author.clone();
    }
    if let Some(revoked) = indicator.get("revoked") {
        link["revoked"] = revoked.clone();
    }
    link
}

/// Makes `main` the indicator of an address (the record's, or the one a
/// sighting names) and returns the address's observable.
fn address_indicator(revision: &Revision<'_>, main: &mut Map<String, Value>) -> Value {
    let content = revision.content;
    let chain = content.chain.clone().unwrap_or_default();
    let value = content.address.clone().unwrap_or_default();
    let observable = json!({
        "type": "cryptocurrency-wallet",
        "spec_version": SPEC_VERSION,
        "id": wallet_observable_id(&chain, &value),
        "value": value,
        "object_marking_refs": [tlp_marking_id(content.tlp)],
        "extensions": { EXTENSION_ID: {
            "extension_type": "new-sco",
            "chain": chain,
            "canonical": format!("{chain}:{value}"),
        }}
    });
    let valid_from = content
        .valid_from
        .map(|t| timestamp(&t))
        .unwrap_or_else(|| naive_timestamp(&revision.created));
    main.insert("name".into(), json!(format!("{chain} address {value}")));
    main.insert(
        "pattern".into(),
        json!(format!(
            "[cryptocurrency-wallet:value = '{}']",
            value.replace('\\', "\\\\").replace('\'', "\\'")
        )),
    );
    main.insert("pattern_type".into(), json!("stix"));
    main.insert("pattern_version".into(), json!("2.1"));
    main.insert("valid_from".into(), json!(valid_from));
    if let Some(until) = content.valid_until {
        if timestamp(&until) > valid_from {
            main.insert("valid_until".into(), json!(timestamp(&until)));
        }
    }
    let harmless = [Category::Exchange, Category::Gambling, Category::Other];
    if content.categories.iter().any(|c| !harmless.contains(c)) {
        main.insert("indicator_types".into(), json!(["malicious-activity"]));
    }
    observable
}

/// The properties every record's main object has.
fn common(revision: &Revision<'_>) -> Map<String, Value> {
    let content = revision.content;
    let stix_id = primary_id(content);
    let stix_type = stix_id.split("--").next().unwrap_or_default().to_owned();
    let mut object = Map::new();
    object.insert("type".into(), json!(stix_type));
    object.insert("spec_version".into(), json!(SPEC_VERSION));
    object.insert("id".into(), json!(stix_id));
    object.insert("created".into(), json!(naive_timestamp(&revision.created)));
    object.insert(
        "modified".into(),
        json!(naive_timestamp(&revision.modified)),
    );
    if revision.source.is_some() {
        if let Some(org) = &content.provenance.source_organization {
            object.insert(
                "created_by_ref".into(),
                json!(organization_identity_id(org)),
            );
        }
    }
    if !content.description.is_empty() {
        object.insert("description".into(), json!(content.description));
    }
    object.insert("confidence".into(), json!(content.confidence));
    if content.revoked {
        object.insert("revoked".into(), json!(true));
    }
    if !content.categories.is_empty() {
        let labels: Vec<&str> = content.categories.iter().map(|c| c.as_str()).collect();
        object.insert("labels".into(), json!(labels));
    }
    let references: Vec<Value> = content
        .external_references
        .iter()
        .map(|r| {
            let mut reference = json!({ "source_name": r.source_name });
            if let Some(url) = &r.url {
                reference["url"] = json!(url);
            }
            if let Some(id) = &r.external_id {
                reference["external_id"] = json!(id);
            }
            if r.url.is_none() && r.external_id.is_none() {
                // STIX wants one of url, external_id or description.
                reference["description"] = json!(r.source_name);
            }
            reference
        })
        .collect();
    if !references.is_empty() {
        object.insert("external_references".into(), json!(references));
    }
    object.insert(
        "object_marking_refs".into(),
        json!([tlp_marking_id(content.tlp)]),
    );
    let mut extension = json!({
        "extension_type": "property-extension",
        "record_id": content.id,
        "revision": content.revision,
        "kind": content.kind.as_str(),
        "method": content.provenance.method.as_str(),
    });
    let optional = [
        ("chain", content.chain.clone()),
        ("entity_type", content.entity_type.clone()),
        ("relation", content.relation.map(|r| r.as_str().to_owned())),
        (
            "source_reference",
            content.provenance.source_reference.clone(),
        ),
        (
            "observed_at",
            content.provenance.observed_at.map(|t| timestamp(&t)),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            extension[name] = json!(value);
        }
    }
    if !content.aliases.is_empty() {
        extension["aliases"] = json!(content.aliases);
    }
    object.insert("extensions".into(), json!({ EXTENSION_ID: extension }));
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Attribution, Method, Tlp};
    use crate::records::{AudienceView, ProvenanceView};

    fn address(attribution: Attribution, source: Option<&str>) -> RecordContent {
        RecordContent {
            id: uuid::Uuid::now_v7().to_string(),
            kind: RecordKind::Address,
            chain: Some("btc".into()),
            address: Some("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa".into()),
            name: None,
            entity_type: None,
            aliases: Vec::new(),
            relation: None,
            from: None,
            to: None,
            sighting: None,
            categories: vec![Category::Ransomware],
            confidence: 70,
            valid_from: None,
            valid_until: None,
            description: String::new(),
            external_references: Vec::new(),
            tlp: Tlp::Red,
            audience: AudienceView::default(),
            attribution,
            provenance: ProvenanceView {
                source_organization: source.map(str::to_owned),
                submitted_by: None,
                received_at: chrono::Utc::now(),
                observed_at: None,
                method: Method::Investigation,
                source_reference: None,
                derived_from: Vec::new(),
            },
            revision: 2,
            revoked: true,
        }
    }

    #[test]
    fn an_address_is_an_indicator_and_an_observable() {
        let content = address(Attribution::Named, Some("acme"));
        let source = Source {
            id: "acme".into(),
            name: "Acme".into(),
            created: chrono::Utc::now().naive_utc(),
        };
        let now = chrono::Utc::now().naive_utc();
        let objects = objects(&Revision {
            content: &content,
            created: now,
            modified: now,
            source: Some(&source),
            ends: None,
            seen: None,
        });
        let types: Vec<&str> = objects
            .iter()
            .map(|o| o["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "identity",
                "cryptocurrency-wallet",
                "indicator",
                "relationship"
            ]
        );
        assert_eq!(objects[3]["relationship_type"], "based-on");
        assert_eq!(objects[3]["source_ref"], objects[2]["id"]);
        assert_eq!(objects[3]["target_ref"], objects[1]["id"]);
        let indicator = &objects[2];
        assert_eq!(indicator["id"], object_id("indicator", &content.id));
        assert_eq!(
            indicator["created_by_ref"],
            organization_identity_id("acme")
        );
        assert_eq!(indicator["revoked"], true);
        assert_eq!(
            indicator["object_marking_refs"][0],
            tlp_marking_id(Tlp::Red)
        );
        assert_eq!(
            indicator["pattern"],
            "[cryptocurrency-wallet:value = '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa']"
        );
        assert_eq!(objects[1]["value"], "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa");
    }

    #[test]
    fn anonymous_records_and_unlinked_relationships_name_nobody() {
        let content = address(Attribution::Anonymous, None);
        let now = chrono::Utc::now().naive_utc();
        let revision = |content| Revision {
            content,
            created: now,
            modified: now,
            source: None,
            ends: None,
            seen: None,
        };
        let served = objects(&revision(&content));
        assert!(served.iter().all(|o| o.get("created_by_ref").is_none()));
        assert!(served.iter().all(|o| o["type"] != "identity"));
        let mut relationship = address(Attribution::Named, Some("acme"));
        relationship.kind = RecordKind::Relationship;
        assert!(
            objects(&revision(&relationship)).is_empty(),
            "ends not visible"
        );
    }

    #[test]
    fn entity_types_choose_the_stix_type() {
        assert_eq!(entity_stix_type("exchange"), "identity");
        assert_eq!(entity_stix_type("darknet_market"), "infrastructure");
        assert_eq!(entity_stix_type("mixer"), "infrastructure");
        assert_eq!(entity_stix_type("trafficking_network"), "threat-actor");
        assert_eq!(entity_stix_type("ransomware_group"), "threat-actor");
    }
}
