//! STIX 2.1 objects to tracewire record submissions.
//!
//! Each object of an envelope either becomes a record submission (the same
//! JSON a `/v1/records` client sends, with method `import`), is understood
//! without being stored (markings, extension definitions, the identities
//! that author other objects), or is refused with a reason. Nothing is
//! dropped without a word: the caller reports every object in the TAXII
//! status.
use super::{record_id_of, tlp_of_marking, EXTENSION_ID};
use crate::domain::chains::lookup_forms;
use crate::domain::{Category, Tlp};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

/// What became of one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Stored as (or merged into) the submission with this index in [`Plan::submissions`].
    Record(usize),
    /// Understood, nothing to store.
    Understood(String),
    /// Not mapped.
    Refused(String),
}

/// A record to submit, from one or more STIX objects.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The `/v1/records` item (fields naming other records, such as a
    /// relationship's `from`/`to`, are filled in by [`resolve_refs`] once
    /// those records are known).
    pub item: Value,
    /// Fields to fill with the record behind a STIX id: (field, STIX id).
    pub refs: Vec<(&'static str, String)>,
}

/// The mapping of a whole envelope.
#[derive(Debug, Default)]
pub struct Plan {
    pub submissions: Vec<Submission>,
    /// One per object of the envelope, in order: (STIX id, version, outcome).
    pub outcomes: Vec<(String, Option<String>, Outcome)>,
}

/// Maps every object; `organization` is the importer, the only recipient of
/// AMBER, AMBER+STRICT and RED (and unmarked) imports until it shares them.
/// Sightings are mapped only for importers that may report them, other
/// records only for importers that may write indicators.
pub fn plan(objects: &[Value], importer: &Importer<'_>) -> Plan {
    let authors: BTreeSet<&str> = objects
        .iter()
        .filter_map(|o| o.get("created_by_ref").and_then(Value::as_str))
        .collect();
    let mut plan = Plan::default();
    // Address submissions by (chain, address), so an indicator and its observable make one record.
    let mut addresses: HashMap<(String, String), usize> = HashMap::new();
    for object in objects {
        let id = text(object, "id").unwrap_or_default().to_owned();
        let version = text(object, "modified")
            .or_else(|| text(object, "created"))
            .map(str::to_owned);
        let outcome = match map_object(object, &authors, importer, &mut plan, &mut addresses) {
            Outcome::Record(index) if !importer.may_write(&plan.submissions[index].item) => {
                Outcome::Refused(format!(
                    "storing this needs the {} scope",
                    importer.scope_for(&plan.submissions[index].item)
                ))
            }
            outcome => outcome,
        };
        plan.outcomes.push((id, version, outcome));
    }
    plan
}

fn text<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get(field).and_then(Value::as_str)
}

/// Who imports, and what they may write.
pub struct Importer<'a> {
    /// The importing organization: the only recipient of AMBER,
    /// AMBER+STRICT, RED and unmarked imports until it shares them.
    pub organization: &'a str,
    pub may_write_indicators: bool,
    pub may_report_sightings: bool,
}

impl Importer<'_> {
    fn scope_for(&self, item: &Value) -> &'static str {
        if item["kind"] == "sighting" {
            "sightings:write"
        } else {
            "indicators:write"
        }
    }

    fn may_write(&self, item: &Value) -> bool {
        if item["kind"] == "sighting" {
            self.may_report_sightings
        } else {
            self.may_write_indicators
        }
    }
}

fn map_object(
    object: &Value,
    authors: &BTreeSet<&str>,
    importer: &Importer<'_>,
    plan: &mut Plan,
    addresses: &mut HashMap<(String, String), usize>,
) -> Outcome {
    let organization = importer.organization;
    let stix_type = text(object, "type").unwrap_or_default();
    let id = text(object, "id").unwrap_or_default();
    let ours = object.get("extensions").and_then(|e| e.get(EXTENSION_ID));
    let our = |field: &str| ours.and_then(|e| e.get(field)).and_then(Value::as_str);
    match stix_type {
        "marking-definition" => match tlp_of_marking(id) {
            Some(tlp) => Outcome::Understood(format!(
                "TLP:{} marking: applied as the TLP of the records that reference it",
                tlp.as_str().to_ascii_uppercase()
            )),
            None => Outcome::Refused(
                "only TLP marking definitions are understood; other markings are not kept".into(),
            ),
        },
        "extension-definition" => {
            Outcome::Understood("extension definition: nothing to store".into())
        }
        "identity" if authors.contains(id) => Outcome::Understood(
            "author identity: imported records name your organization as their source, with \
             this object's id as source reference"
                .into(),
        ),
        "indicator" => {
            let pattern = text(object, "pattern").unwrap_or_default();
            match wallet_pattern(pattern) {
                Some(value) => address(object, &value, our("chain"), organization, plan, addresses),
                None => Outcome::Refused(
                    "only indicators with the pattern [cryptocurrency-wallet:value = '…'] can be mapped"
                        .into(),
                ),
            }
        }
        "cryptocurrency-wallet" => match text(object, "value") {
            Some(value) => address(object, value, our("chain"), organization, plan, addresses),
            None => Outcome::Refused("a cryptocurrency-wallet needs a value".into()),
        },
        "infrastructure" if our("kind") == Some("wallet") => {
            let mut item = base(object, organization);
            item["kind"] = json!("wallet");
            item["name"] = json!(text(object, "name").unwrap_or_default());
            item["chain"] = json!(our("chain").unwrap_or_default());
            submit(plan, item, Vec::new())
        }
        "identity" | "threat-actor" | "infrastructure" | "intrusion-set" => {
            let mut item = base(object, organization);
            let entity_type = our("entity_type")
                .map(str::to_owned)
                .or_else(|| {
                    let vocabulary = match stix_type {
                        "identity" => "identity_class",
                        "threat-actor" => "threat_actor_types",
                        "infrastructure" => "infrastructure_types",
                        _ => "",
                    };
                    match object.get(vocabulary) {
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(Value::Array(list)) => {
                            list.first().and_then(Value::as_str).map(str::to_owned)
                        }
                        _ => None,
                    }
                })
                .unwrap_or_else(|| stix_type.replace('-', "_"));
            item["kind"] = json!("entity");
            item["name"] = json!(text(object, "name").unwrap_or_default());
            item["entity_type"] = json!(entity_type);
            let aliases = object
                .get("aliases")
                .or_else(|| ours.and_then(|e| e.get("aliases")))
                .cloned()
                .unwrap_or(json!([]));
            item["aliases"] = aliases;
            submit(plan, item, Vec::new())
        }
        "relationship" => {
            let relation = match text(object, "relationship_type") {
                Some("member-of") => "member_of",
                Some("attributed-to") => "attributed_to",
                Some("related-to") => "related_to",
                other => {
                    return Outcome::Refused(format!(
                        "relationship type {:?} is not one of member-of, attributed-to, related-to",
                        other.unwrap_or_default()
                    ))
                }
            };
            let (Some(from), Some(to)) = (text(object, "source_ref"), text(object, "target_ref"))
            else {
                return Outcome::Refused("a relationship needs source_ref and target_ref".into());
            };
            let mut item = base(object, organization);
            item["kind"] = json!("relationship");
            item["relation"] = json!(relation);
            submit(
                plan,
                item,
                vec![("from", from.to_owned()), ("to", to.to_owned())],
            )
        }
        "sighting" => {
            let Some(of) = text(object, "sighting_of_ref") else {
                return Outcome::Refused("a sighting needs sighting_of_ref".into());
            };
            let seen_at = ["last_seen", "first_seen", "created"]
                .iter()
                .find_map(|field| text(object, field).and_then(super::parse_timestamp));
            let mut item = base(object, organization);
            item["kind"] = json!("sighting");
            item["seen_at"] = json!(seen_at.unwrap_or_else(chrono::Utc::now));
            let count = object.get("count").and_then(Value::as_i64).unwrap_or(1);
            item["count"] = json!(count.max(1));
            item["context"] = json!(our("context").unwrap_or("other"));
            submit(plan, item, vec![("sighting_of", of.to_owned())])
        }
        "" => Outcome::Refused("an object needs a type".into()),
        other => Outcome::Refused(format!("tracewire cannot map STIX type {other:?}")),
    }
}

fn submit(plan: &mut Plan, item: Value, refs: Vec<(&'static str, String)>) -> Outcome {
    plan.submissions.push(Submission { item, refs });
    Outcome::Record(plan.submissions.len() - 1)
}

fn address(
    object: &Value,
    value: &str,
    chain: Option<&str>,
    organization: &str,
    plan: &mut Plan,
    addresses: &mut HashMap<(String, String), usize>,
) -> Outcome {
    let chain = match chain {
        Some(chain) => chain.to_owned(),
        None => match guess_chain(value) {
            Ok(chain) => chain,
            Err(message) => return Outcome::Refused(message),
        },
    };
    let key = (chain.clone(), value.to_owned());
    if let Some(&index) = addresses.get(&key) {
        // The indicator carries the provenance; an observable adds nothing.
        if text(object, "type") == Some("indicator") {
            let mut item = base(object, organization);
            item["kind"] = json!("address");
            item["chain"] = json!(chain);
            item["address"] = json!(value);
            plan.submissions[index].item = item;
        }
        return Outcome::Record(index);
    }
    let mut item = base(object, organization);
    item["kind"] = json!("address");
    item["chain"] = json!(chain);
    item["address"] = json!(value);
    let outcome = submit(plan, item, Vec::new());
    if let Outcome::Record(index) = outcome {
        addresses.insert(key, index);
    }
    outcome
}

/// The chain of an address given without one: the only chain it is valid
/// on, else Bitcoin for legacy addresses that Bitcoin Cash shares, else
/// Ethereum for EVM addresses.
fn guess_chain(value: &str) -> Result<String, String> {
    let forms = lookup_forms(None, value).map_err(|e| format!("address {value:?}: {e}"))?;
    let chains: Vec<&str> = forms.iter().map(|f| f.chain().id()).collect();
    for preferred in ["btc", "eth"] {
        if chains.contains(&preferred) {
            return Ok(preferred.into());
        }
    }
    match chains.as_slice() {
        [only] => Ok((*only).into()),
        _ => Err(format!(
            "address {value:?} is valid on several chains ({}); name the chain in the tracewire extension",
            chains.join(", ")
        )),
    }
}

/// The address in a `[cryptocurrency-wallet:value = '…']` pattern.
pub fn wallet_pattern(pattern: &str) -> Option<String> {
    let inner = pattern.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
    let rest = inner
        .strip_prefix("cryptocurrency-wallet:value")?
        .trim_start();
    let rest = rest.strip_prefix('=')?.trim();
    let quoted = rest.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut value = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?),
            '\'' => return None,
            c => value.push(c),
        }
    }
    Some(value)
}

/// The sharing, provenance and descriptive fields every submission has.
fn base(object: &Value, organization: &str) -> Value {
    let markings: Vec<Tlp> = object
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .filter_map(tlp_of_marking)
                .collect()
        })
        .unwrap_or_default();
    // The strictest marking wins; unmarked objects are kept as RED.
    let tlp = markings.into_iter().max().unwrap_or(Tlp::Red);
    let audience = match tlp {
        Tlp::Clear | Tlp::Green => json!({ "all_partners": true }),
        _ => json!({ "organizations": [organization] }),
    };
    let confidence = object
        .get("confidence")
        .and_then(Value::as_i64)
        .filter(|c| (0..=100).contains(c))
        .unwrap_or(50);
    let categories: Vec<String> = object
        .get("labels")
        .and_then(Value::as_array)
        .map(|labels| {
            labels
                .iter()
                .filter_map(Value::as_str)
                .filter(|l| l.parse::<Category>().is_ok())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let references: Vec<Value> = object
        .get("external_references")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|r| {
                    let source = r.get("source_name")?.as_str()?.trim();
                    if source.is_empty() {
                        return None;
                    }
                    let mut reference = json!({ "source_name": source });
                    if let Some(url) = r.get("url").and_then(Value::as_str) {
                        if url::Url::parse(url).is_ok() {
                            reference["url"] = json!(url);
                        }
                    }
                    if let Some(id) = r.get("external_id").and_then(Value::as_str) {
                        reference["external_id"] = json!(id);
                    }
                    Some(reference)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut item = json!({
        "tlp": tlp.as_str(),
        "audience": audience,
        "method": "import",
        "confidence": confidence,
        "categories": categories,
        "external_references": references,
        "description": text(object, "description").unwrap_or_default(),
        "source_reference": text(object, "id").unwrap_or_default(),
    });
    let valid_from = text(object, "valid_from").and_then(super::parse_timestamp);
    let valid_until = text(object, "valid_until").and_then(super::parse_timestamp);
    if let Some(from) = valid_from {
        item["valid_from"] = json!(from);
    }
    if let Some(until) = valid_until.filter(|u| valid_from.is_none_or(|f| f <= *u)) {
        item["valid_until"] = json!(until);
    }
    item
}

/// Fills in the fields of a submission that name other records (a
/// relationship's ends, what a sighting saw): objects of the same envelope
/// by the record they were stored as, other objects by the record behind a
/// tracewire STIX id. An error when an object is neither.
pub fn resolve_refs(
    submission: &Submission,
    stored: &HashMap<String, String>,
) -> Result<Value, String> {
    let mut item = submission.item.clone();
    for (field, stix_id) in &submission.refs {
        let record = stored
            .get(stix_id)
            .cloned()
            .or_else(|| record_id_of(stix_id))
            .ok_or_else(|| {
                format!("{stix_id} is neither in this envelope nor a tracewire object")
            })?;
        item[*field] = json!(record);
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wallet_patterns_are_read_exactly() {
        assert_eq!(
            wallet_pattern("[cryptocurrency-wallet:value = '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa']")
                .as_deref(),
            Some("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
        );
        assert_eq!(
            wallet_pattern("[cryptocurrency-wallet:value='a\\'b']").as_deref(),
            Some("a'b")
        );
        assert_eq!(wallet_pattern("[ipv4-addr:value = '1.2.3.4']"), None);
        assert_eq!(
            wallet_pattern("[cryptocurrency-wallet:value = 'a' OR ipv4-addr:value = 'b']"),
            None
        );
    }

    #[test]
    fn unmapped_objects_are_reported_not_dropped() {
        let objects = vec![
            json!({"type": "malware", "id": "malware--1", "name": "x"}),
            json!({"type": "indicator", "id": "indicator--2", "pattern": "[cryptocurrency-wallet:value = '0x00000000000000000000000000000000dead0001']",
                   "object_marking_refs": ["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]}),
            json!({"type": "cryptocurrency-wallet", "id": "cryptocurrency-wallet--3", "value": "0x00000000000000000000000000000000dead0001"}),
        ];
        let importer = Importer {
            organization: "acme",
            may_write_indicators: true,
            may_report_sightings: false,
        };
        let plan = plan(&objects, &importer);
        assert_eq!(plan.outcomes.len(), 3);
        assert!(matches!(plan.outcomes[0].2, Outcome::Refused(_)));
        assert_eq!(plan.outcomes[1].2, Outcome::Record(0));
        assert_eq!(plan.outcomes[2].2, Outcome::Record(0), "merged");
        assert_eq!(plan.submissions.len(), 1);
        let item = &plan.submissions[0].item;
        assert_eq!(item["tlp"], "red");
        assert_eq!(item["audience"]["organizations"], json!(["acme"]));
        assert_eq!(item["chain"], "eth");
        assert_eq!(item["method"], "import");
    }
}
