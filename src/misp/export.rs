//! The records a reader may see as one MISP event (MISP's JSON format, as
//! pymisp loads it and MISP imports it). The records come already rendered
//! for the reader by `crate::records::Disclosure`; nothing here decides
//! what a reader sees.
//!
//! | record | MISP |
//! |---|---|
//! | address on btc, xmr, dash | attribute of type `btc`, `xmr`, `dash` (category Financial fraud) |
//! | address on another chain | `coin-address` object: `address-crypto` and `symbol` (the chain id in capitals: `ETH`, `TRX`, `LTC`, …) |
//! | address that is the source of a relationship | `coin-address` object (`address` for btc, `address-xmr` for xmr, else `address-crypto`; and `symbol`), so it can hold the reference |
//! | wallet | `infrastructure` object (`name`, `description`) |
//! | entity | `organization` object (`name`, `type-of-organization`: the entity type, `alias`, `description`) |
//! | relationship (both ends in the export) | object reference `member-of`, `attributed-to`, `related-to` on the source's object |
//! | sighting (of a record in the export) | a MISP sighting (type 0) on its attribute, by the sighting's organization when it is named |
//! | TLP | tag `tlp:clear` … `tlp:red` on each attribute (and each attribute of an object) |
//! | categories, named source | tags `tracewire:category="…"`, `tracewire:source="…"` |
//!
//! Every MISP uuid is the record's id (attributes inside objects: a UUIDv5
//! of it), so exporting again gives the same uuids. Anonymous records carry
//! no source tag and anonymous sightings no organization.
use super::attribute_type;
use crate::domain::RecordKind;
use crate::records::{RecordContent, RecordView};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// tracewire's namespace for the uuids of attributes inside objects and of
/// the organizations MISP shows.
const MISP_NAMESPACE: uuid::Uuid = uuid::uuid!("4b8e2d6a-1c3f-4a5e-9b7d-2e4f6a8c0d1e");

/// The MISP object templates used, as pymisp ships them: (uuid, version, meta-category).
const COIN_ADDRESS: (&str, &str, &str) = ("d0e6997e-78da-4815-a6a1-cfc1c1cb8a46", "7", "financial");
const INFRASTRUCTURE: (&str, &str, &str) = ("39d64bd7-1264-4b2e-bdd1-31d1c4b38e6c", "1", "misc");
const ORGANIZATION: (&str, &str, &str) = ("f750e12b-127a-432c-b022-b3f9153c4e2a", "9", "misc");

/// Who the event is for, and when it was made.
pub struct ExportFor<'a> {
    /// The reading organization (the event's uuid is derived from it, so
    /// each export for it updates the same MISP event).
    pub reader: &'a str,
    pub at: DateTime<Utc>,
}

fn epoch(at: &DateTime<Utc>) -> String {
    at.timestamp().to_string()
}

/// A MISP organisation for a tracewire organization id.
fn organisation(id: &str) -> Value {
    json!({
        "name": id,
        "uuid": uuid::Uuid::new_v5(&MISP_NAMESPACE, format!("organization:{id}").as_bytes()).to_string(),
    })
}

/// The tags of a record: its TLP, categories and (when named) its source.
fn tags(content: &RecordContent) -> Vec<Value> {
    let mut tags = vec![json!({ "name": format!("tlp:{}", content.tlp.as_str()) })];
    for category in &content.categories {
        tags.push(json!({ "name": format!("tracewire:category=\"{}\"", category.as_str()) }));
    }
    if let Some(source) = &content.provenance.source_organization {
        tags.push(json!({ "name": format!("tracewire:source=\"{source}\"") }));
    }
    tags
}

fn inner_uuid(record: &str, relation: &str) -> String {
    uuid::Uuid::new_v5(&MISP_NAMESPACE, format!("{record}/{relation}").as_bytes()).to_string()
}

/// One attribute of an object.
fn inner(
    record: &RecordView,
    relation: &str,
    misp_type: &str,
    value: &str,
    category: &str,
) -> Value {
    json!({
        "uuid": inner_uuid(&record.content.id, relation),
        "object_relation": relation,
        "type": misp_type,
        "category": category,
        "value": value,
        "to_ids": misp_type != "text" && !record.content.revoked,
        "disable_correlation": false,
        "timestamp": epoch(&record.updated_at),
        "Tag": tags(&record.content),
    })
}

fn object(
    record: &RecordView,
    template: (&str, &str, &str),
    name: &str,
    attributes: Vec<Value>,
) -> Value {
    json!({
        "uuid": record.content.id,
        "name": name,
        "meta-category": template.2,
        "template_uuid": template.0,
        "template_version": template.1,
        "description": "",
        "comment": record.content.description,
        "distribution": "5",
        "timestamp": epoch(&record.updated_at),
        "Attribute": attributes,
        "ObjectReference": [],
    })
}

/// The records as one MISP event (`{"Event": …}`).
pub fn event(records: &[RecordView], export: &ExportFor<'_>) -> Value {
    let by_id: HashMap<&str, &RecordView> =
        records.iter().map(|r| (r.content.id.as_str(), r)).collect();
    let linked = |id: &Option<String>| id.as_deref().is_some_and(|id| by_id.contains_key(id));
    // Relationships with both ends here, and the records that must be objects to hold them.
    let relationships: Vec<&RecordView> = records
        .iter()
        .filter(|r| r.content.kind == RecordKind::Relationship && !r.content.revoked)
        .filter(|r| linked(&r.content.from) && linked(&r.content.to))
        .collect();
    let sources: HashSet<&str> = relationships
        .iter()
        .filter_map(|r| r.content.from.as_deref())
        .collect();

    let mut attributes: Vec<Value> = Vec::new();
    let mut objects: Vec<Value> = Vec::new();
    // Where a record's attribute (for sightings) and object (for references) are.
    let mut attribute_of: HashMap<String, (bool, usize, usize)> = HashMap::new();
    let mut object_of: HashMap<String, usize> = HashMap::new();
    let mut uuid_of: HashMap<String, String> = HashMap::new();
    for record in records {
        let content = &record.content;
        let id = content.id.clone();
        match content.kind {
            RecordKind::Address => {
                let chain = content.chain.as_deref().unwrap_or_default();
                let value = content.address.as_deref().unwrap_or_default();
                match attribute_type(chain).filter(|_| !sources.contains(id.as_str())) {
                    Some(misp_type) => {
                        attributes.push(json!({
                            "uuid": id,
                            "type": misp_type,
                            "category": "Financial fraud",
                            "value": value,
                            "to_ids": !content.revoked,
                            "comment": content.description,
                            "distribution": "5",
                            "timestamp": epoch(&record.updated_at),
                            "Tag": tags(content),
                            "Sighting": [],
                        }));
                        attribute_of.insert(id.clone(), (false, attributes.len() - 1, 0));
                        uuid_of.insert(id.clone(), id.clone());
                    }
                    None => {
                        let address = match chain {
                            "btc" => inner(record, "address", "btc", value, "Financial fraud"),
                            "xmr" => inner(record, "address-xmr", "xmr", value, "Financial fraud"),
                            _ => inner(record, "address-crypto", "text", value, "Financial fraud"),
                        };
                        let symbol = inner(
                            record,
                            "symbol",
                            "text",
                            &chain.to_ascii_uppercase(),
                            "Other",
                        );
                        objects.push(object(
                            record,
                            COIN_ADDRESS,
                            "coin-address",
                            vec![address, symbol],
                        ));
                        object_of.insert(id.clone(), objects.len() - 1);
                        attribute_of.insert(id.clone(), (true, objects.len() - 1, 0));
                        uuid_of.insert(id.clone(), id.clone());
                    }
                }
            }
            RecordKind::Wallet => {
                let name = content.name.as_deref().unwrap_or_default();
                let chain = content.chain.as_deref().unwrap_or_default();
                let description = format!("tracewire wallet (a cluster of addresses) on {chain}");
                let attributes = vec![
                    inner(record, "name", "text", name, "Other"),
                    inner(record, "description", "text", &description, "Other"),
                ];
                objects.push(object(record, INFRASTRUCTURE, "infrastructure", attributes));
                object_of.insert(id.clone(), objects.len() - 1);
                attribute_of.insert(id.clone(), (true, objects.len() - 1, 0));
                uuid_of.insert(id.clone(), id.clone());
            }
            RecordKind::Entity => {
                let name = content.name.as_deref().unwrap_or_default();
                let mut attributes = vec![inner(record, "name", "text", name, "Other")];
                if let Some(entity_type) = &content.entity_type {
                    attributes.push(inner(
                        record,
                        "type-of-organization",
                        "text",
                        entity_type,
                        "Other",
                    ));
                }
                for (n, alias) in content.aliases.iter().enumerate() {
                    attributes.push(inner(record, &format!("alias#{n}"), "text", alias, "Other"));
                    if let Some(last) = attributes.last_mut() {
                        last["object_relation"] = json!("alias");
                    }
                }
                if !content.description.is_empty() {
                    attributes.push(inner(
                        record,
                        "description",
                        "text",
                        &content.description,
                        "Other",
                    ));
                }
                objects.push(object(record, ORGANIZATION, "organization", attributes));
                object_of.insert(id.clone(), objects.len() - 1);
                attribute_of.insert(id.clone(), (true, objects.len() - 1, 0));
                uuid_of.insert(id.clone(), id.clone());
            }
            RecordKind::Relationship | RecordKind::Sighting => {}
        }
    }
    for relationship in &relationships {
        let content = &relationship.content;
        let (Some(from), Some(to)) = (content.from.as_deref(), content.to.as_deref()) else {
            continue;
        };
        let (Some(&holder), Some(target)) = (object_of.get(from), uuid_of.get(to)) else {
            continue;
        };
        let relation = content.relation.map(|r| r.as_str()).unwrap_or("related_to");
        if let Some(references) = objects[holder]["ObjectReference"].as_array_mut() {
            references.push(json!({
                "uuid": content.id,
                "object_uuid": from,
                "referenced_uuid": target,
                "relationship_type": relation.replace('_', "-"),
                "comment": content.description,
                "timestamp": epoch(&relationship.updated_at),
            }));
        }
    }
    for record in records
        .iter()
        .filter(|r| r.content.kind == RecordKind::Sighting)
    {
        let content = &record.content;
        let Some(details) = &content.sighting else {
            continue;
        };
        // The record seen: by id, else the address it names.
        let seen = details.of.clone().or_else(|| {
            let (chain, address) = (content.chain.as_deref()?, content.address.as_deref()?);
            records
                .iter()
                .find(|r| {
                    r.content.kind == RecordKind::Address
                        && r.content.chain.as_deref() == Some(chain)
                        && r.content.address.as_deref() == Some(address)
                })
                .map(|r| r.content.id.clone())
        });
        let Some(&(in_object, index, inner_index)) =
            seen.as_ref().and_then(|s| attribute_of.get(s))
        else {
            continue;
        };
        let mut sighting = json!({
            "uuid": content.id,
            "type": "0",
            "date_sighting": epoch(&details.seen_at),
            "source": format!("{} ({} times)", details.context.as_str(), details.count),
        });
        if let Some(sighter) = &content.provenance.source_organization {
            sighting["Organisation"] = organisation(sighter);
        }
        let target = if in_object {
            &mut objects[index]["Attribute"][inner_index]
        } else {
            &mut attributes[index]
        };
        match target.get_mut("Sighting").and_then(Value::as_array_mut) {
            Some(list) => list.push(sighting),
            None => target["Sighting"] = json!([sighting]),
        }
    }
    let hub = crate::stix::HUB_IDENTITY_ID
        .split_once("--")
        .map(|(_, uuid)| uuid)
        .unwrap_or_default();
    let event_uuid = uuid::Uuid::new_v5(
        &MISP_NAMESPACE,
        format!("export:{}", export.reader).as_bytes(),
    );
    json!({ "Event": {
        "uuid": event_uuid.to_string(),
        "info": format!("tracewire: intelligence visible to {}", export.reader),
        "date": export.at.format("%Y-%m-%d").to_string(),
        "timestamp": epoch(&export.at),
        "published": false,
        "analysis": "2",
        "threat_level_id": "4",
        "distribution": "0",
        "Orgc": { "name": "tracewire", "uuid": hub },
        "Tag": [],
        "Attribute": attributes,
        "Object": objects,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Attribution, Category, Method, Relation, SightingContext, Tlp};
    use crate::records::{AudienceView, ProvenanceView, SightingDetails};

    fn record(kind: RecordKind, source: Option<&str>) -> RecordView {
        let now = chrono::Utc::now();
        RecordView {
            content: RecordContent {
                id: uuid::Uuid::now_v7().to_string(),
                kind,
                chain: None,
                address: None,
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
                tlp: Tlp::Amber,
                audience: AudienceView::default(),
                attribution: if source.is_some() {
                    Attribution::Named
                } else {
                    Attribution::Anonymous
                },
                provenance: ProvenanceView {
                    source_organization: source.map(str::to_owned),
                    submitted_by: None,
                    received_at: now,
                    observed_at: None,
                    method: Method::Investigation,
                    source_reference: None,
                    derived_from: Vec::new(),
                },
                revision: 1,
                revoked: false,
            },
            content_hash: String::new(),
            created_at: now,
            updated_at: now,
        }
    }

    fn address(chain: &str, value: &str, source: Option<&str>) -> RecordView {
        let mut view = record(RecordKind::Address, source);
        view.content.chain = Some(chain.into());
        view.content.address = Some(value.into());
        view
    }

    #[test]
    fn records_become_misp_attributes_objects_references_and_sightings() {
        let btc = address("btc", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", None);
        let eth = address(
            "eth",
            "0x00000000000000000000000000000000dead0001",
            Some("acme"),
        );
        let mut wallet = record(RecordKind::Wallet, Some("acme"));
        wallet.content.chain = Some("eth".into());
        wallet.content.name = Some("cluster".into());
        let mut member = record(RecordKind::Relationship, Some("acme"));
        member.content.relation = Some(Relation::MemberOf);
        member.content.from = Some(eth.content.id.clone());
        member.content.to = Some(wallet.content.id.clone());
        let mut dangling = record(RecordKind::Relationship, Some("acme"));
        dangling.content.relation = Some(Relation::AttributedTo);
        dangling.content.from = Some(wallet.content.id.clone());
        let mut sighting = record(RecordKind::Sighting, Some("ngo"));
        sighting.content.sighting = Some(SightingDetails {
            of: Some(btc.content.id.clone()),
            seen_at: chrono::Utc::now(),
            count: 3,
            context: SightingContext::Deposit,
        });
        let records = [
            btc.clone(),
            eth.clone(),
            wallet.clone(),
            member.clone(),
            dangling,
            sighting.clone(),
        ];
        let made = event(
            &records,
            &ExportFor {
                reader: "ngo",
                at: chrono::Utc::now(),
            },
        );
        let event = &made["Event"];
        let attributes = event["Attribute"].as_array().unwrap();
        assert_eq!(attributes.len(), 1);
        assert_eq!(attributes[0]["type"], "btc");
        assert_eq!(attributes[0]["uuid"], btc.content.id.as_str());
        let tags: Vec<&str> = attributes[0]["Tag"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            tags,
            ["tlp:amber", "tracewire:category=\"ransomware\""],
            "anonymous: no source"
        );
        let seen = &attributes[0]["Sighting"][0];
        assert_eq!(seen["uuid"], sighting.content.id.as_str());
        assert_eq!(seen["Organisation"]["name"], "ngo");
        let objects = event["Object"].as_array().unwrap();
        let names: Vec<&str> = objects
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["coin-address", "infrastructure"]);
        assert_eq!(
            objects[0]["Attribute"][0]["object_relation"],
            "address-crypto"
        );
        assert_eq!(objects[0]["Attribute"][1]["value"], "ETH");
        assert!(objects[0]["Attribute"][0]["Tag"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "tracewire:source=\"acme\""));
        let references = objects[0]["ObjectReference"].as_array().unwrap();
        assert_eq!(references.len(), 1);
        assert_eq!(references[0]["relationship_type"], "member-of");
        assert_eq!(references[0]["referenced_uuid"], wallet.content.id.as_str());
        assert_eq!(
            objects[1]["ObjectReference"],
            json!([]),
            "an end not exported"
        );
        assert_eq!(event["Tag"], json!([]));
    }
}
