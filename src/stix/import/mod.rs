//! STIX 2.1 objects to tracewire record submissions.
//!
//! Each object of an envelope either becomes a record submission (the same
//! JSON a `/v1/records` client sends, with method `import`), is understood
//! without being stored (markings, extension definitions, the identities
//! that author other objects, containers, `based-on` links between an
//! indicator and its own observable), or is refused with a reason. Nothing
//! is dropped without a word: the caller reports every object in the TAXII
//! status.
//!
//! Producers understood: tracewire itself; OpenCTI (`cryptocurrency-wallet`
//! observables with `value`, indicators `[cryptocurrency-wallet:value = …]`,
//! its TLP marking ids, `based-on`); other producers' `address` property
//! and `:address` patterns; MISP through misp-stix (see [`misp`]).
mod context;
mod fields;
mod misp;

pub(crate) use context::tlp_named;
use context::{string_list, Context};
pub use fields::wallet_pattern;
use fields::{base, guess_chain, resolve_chain};

use super::{record_id_of, EXTENSION_ID};

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

/// A field of a submission that names another record.
#[derive(Debug, Clone, PartialEq)]
pub enum Ref {
    /// The record behind a STIX id: an object of this envelope, one imported
    /// earlier by the same organization, or a tracewire object.
    Stix(String),
    /// The record another submission of this plan becomes.
    Submission(usize),
}

/// A record to submit, from one or more STIX objects.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The `/v1/records` item (fields naming other records, such as a
    /// relationship's `from`/`to`, are filled in by [`resolve_refs`] once
    /// those records are known).
    pub item: Value,
    /// Fields to fill with another record: (field, which record).
    pub refs: Vec<(&'static str, Ref)>,
    /// The STIX id this submission is remembered by (the object that
    /// carries its provenance: an indicator rather than its observable),
    /// and that object's version (`modified`, else `created`).
    pub key: String,
    pub version: String,
    /// Other STIX ids that name the same record (the observable of an
    /// indicator, a second MISP attribute with the same address).
    pub aliases: Vec<String>,
    /// Submissions stored only because this one is (the addresses of a
    /// MISP btc-wallet and their membership).
    pub also: Vec<usize>,
}

/// The mapping of a whole envelope.
#[derive(Debug, Default)]
pub struct Plan {
    pub submissions: Vec<Submission>,
    /// One per object of the envelope, in order: (STIX id, version, outcome).
    pub outcomes: Vec<(String, Option<String>, Outcome)>,
}

impl Plan {
    /// The submissions some stored object needs, with what they bring along.
    pub fn wanted(&self) -> BTreeSet<usize> {
        let mut wanted = BTreeSet::new();
        let mut pending: Vec<usize> = self
            .outcomes
            .iter()
            .filter_map(|(_, _, outcome)| match outcome {
                Outcome::Record(index) => Some(*index),
                _ => None,
            })
            .collect();
        while let Some(index) = pending.pop() {
            if wanted.insert(index) {
                pending.extend(self.submissions[index].also.iter().copied());
            }
        }
        wanted
    }
}

/// Maps every object; `organization` is the importer, the only recipient of
/// AMBER, AMBER+STRICT and RED (and unmarked) imports until it shares them.
/// Sightings are mapped only for importers that may report them, other
/// records only for importers that may write indicators.
pub fn plan(objects: &[Value], importer: &Importer<'_>) -> Plan {
    let context = Context::of(objects);
    let mut mapper = Mapper {
        context: &context,
        organization: importer.organization,
        plan: Plan::default(),
        addresses: HashMap::new(),
        by_object: HashMap::new(),
    };
    for object in objects {
        let id = text(object, "id").unwrap_or_default().to_owned();
        let version = version_of(object);
        let outcome = match mapper.map_object(object) {
            Outcome::Record(index) if !importer.may_write(&mapper.plan.submissions[index].item) => {
                Outcome::Refused(format!(
                    "storing this needs the {} scope",
                    importer.scope_for(&mapper.plan.submissions[index].item)
                ))
            }
            outcome => outcome,
        };
        let outcome = match (outcome, mapper.by_object.get(&id).copied()) {
            // Another version of an object already in the envelope: one
            // record, with the content of the newest version.
            (Outcome::Record(index), Some(earlier)) if earlier != index => {
                mapper.keep_newest(earlier, index);
                Outcome::Record(earlier)
            }
            (outcome, _) => outcome,
        };
        if let Outcome::Record(index) = outcome {
            mapper.by_object.insert(id.clone(), index);
        }
        mapper.plan.outcomes.push((id, version, outcome));
    }
    mapper.resolve_based_on(objects);
    mapper.plan
}

/// Whether version `a` is later than `b` (timestamps compared as times).
pub fn is_later(a: &str, b: &str) -> bool {
    match (super::parse_timestamp(a), super::parse_timestamp(b)) {
        (Some(a), Some(b)) => a > b,
        _ => a > b,
    }
}

/// An object's version: its `modified`, else its `created`.
fn version_of(object: &Value) -> Option<String> {
    text(object, "modified")
        .or_else(|| text(object, "created"))
        .map(str::to_owned)
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

/// The state of one envelope's mapping.
struct Mapper<'c, 'o> {
    context: &'c Context<'o>,
    organization: &'c str,
    plan: Plan,
    /// Address submissions by (chain, address), so an indicator and its
    /// observable (or two MISP attributes) make one record.
    addresses: HashMap<(String, String), usize>,
    /// The submission each mapped object became.
    by_object: HashMap<String, usize>,
}

impl Mapper<'_, '_> {
    fn map_object(&mut self, object: &Value) -> Outcome {
        let stix_type = text(object, "type").unwrap_or_default();
        let id = text(object, "id").unwrap_or_default();
        let ours = object.get("extensions").and_then(|e| e.get(EXTENSION_ID));
        let our = |field: &str| ours.and_then(|e| e.get(field)).and_then(Value::as_str);
        match stix_type {
            "marking-definition" => match self.context.markings.get(id) {
                Some(tlp) => Outcome::Understood(format!(
                    "TLP:{} marking: applied as the TLP of the records that reference it",
                    tlp.as_str().to_ascii_uppercase()
                )),
                None => Outcome::Refused(
                    "only TLP marking definitions are understood; other markings are not kept"
                        .into(),
                ),
            },
            "extension-definition" => {
                Outcome::Understood("extension definition: nothing to store".into())
            }
            "grouping" | "report" => {
                let listed = string_list(object, "object_refs").len();
                Outcome::Understood(format!(
                    "{stix_type}: its markings and author apply to the {listed} objects it lists \
                     that carry none of their own"
                ))
            }
            "identity" if self.context.authors.contains(id) => Outcome::Understood(
                "author identity: imported records name your organization as their source, \
                 with this identity as an external reference"
                    .into(),
            ),
            "indicator" => {
                let pattern = text(object, "pattern").unwrap_or_default();
                match wallet_pattern(pattern) {
                    Some(value) => self.address(object, &value, our("chain")),
                    None => Outcome::Refused(
                        "only indicators with the pattern [cryptocurrency-wallet:value = '…'] \
                         (or :address) can be mapped"
                            .into(),
                    ),
                }
            }
            "cryptocurrency-wallet" => {
                match text(object, "value").or_else(|| text(object, "address")) {
                    Some(value) => self.address(object, value, our("chain")),
                    None => Outcome::Refused(
                        "a cryptocurrency-wallet needs a value (or address)".into(),
                    ),
                }
            }
            "x-misp-attribute" => misp::attribute(self, object),
            "x-misp-object" => misp::object(self, object),
            "infrastructure" if our("kind") == Some("wallet") => {
                let mut item = self.base(object);
                item["kind"] = json!("wallet");
                item["name"] = json!(text(object, "name").unwrap_or_default());
                item["chain"] = json!(our("chain").unwrap_or_default());
                self.submit(object, item, Vec::new())
            }
            "identity" | "threat-actor" | "infrastructure" | "intrusion-set" => {
                let mut item = self.base(object);
                let entity_type = our("entity_type")
                    .or_else(|| text(object, "x_misp_type_of_organization"))
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
                let aliases = match object
                    .get("aliases")
                    .or_else(|| ours.and_then(|e| e.get("aliases")))
                    .or_else(|| object.get("x_misp_alias"))
                {
                    Some(Value::String(one)) => json!([one]),
                    Some(list @ Value::Array(_)) => list.clone(),
                    _ => json!([]),
                };
                item["aliases"] = aliases;
                self.submit(object, item, Vec::new())
            }
            "relationship" => self.relationship(object),
            "sighting" => {
                let Some(of) = text(object, "sighting_of_ref") else {
                    return Outcome::Refused("a sighting needs sighting_of_ref".into());
                };
                let seen_at = ["last_seen", "first_seen", "created"]
                    .iter()
                    .find_map(|field| text(object, field).and_then(super::parse_timestamp));
                let mut item = self.base(object);
                item["kind"] = json!("sighting");
                item["seen_at"] = json!(seen_at.unwrap_or_else(chrono::Utc::now));
                let count = object.get("count").and_then(Value::as_i64).unwrap_or(1);
                item["count"] = json!(count.max(1));
                item["context"] = json!(our("context").unwrap_or("other"));
                self.submit(
                    object,
                    item,
                    vec![("sighting_of", Ref::Stix(of.to_owned()))],
                )
            }
            "" => Outcome::Refused("an object needs a type".into()),
            other => Outcome::Refused(format!("tracewire cannot map STIX type {other:?}")),
        }
    }

    fn relationship(&mut self, object: &Value) -> Outcome {
        let relation = match text(object, "relationship_type") {
            Some("member-of") => "member_of",
            Some("attributed-to") => "attributed_to",
            Some("related-to") => "related_to",
            // Decided once every object is mapped (see resolve_based_on).
            Some("based-on") => {
                return Outcome::Refused(
                    "based-on is understood only from an indicator to its own observable".into(),
                )
            }
            other => {
                return Outcome::Refused(format!(
                    "relationship type {:?} is not one of member-of, attributed-to, related-to \
                     (or based-on from an indicator to its observable)",
                    other.unwrap_or_default()
                ))
            }
        };
        let (Some(from), Some(to)) = (text(object, "source_ref"), text(object, "target_ref"))
        else {
            return Outcome::Refused("a relationship needs source_ref and target_ref".into());
        };
        let mut item = self.base(object);
        item["kind"] = json!("relationship");
        item["relation"] = json!(relation);
        self.submit(
            object,
            item,
            vec![
                ("from", Ref::Stix(from.to_owned())),
                ("to", Ref::Stix(to.to_owned())),
            ],
        )
    }

    /// `based-on` from an indicator to an observable of the same address
    /// (OpenCTI links every indicator to its observable so) says they are
    /// one record: understood, nothing more to store.
    fn resolve_based_on(&mut self, objects: &[Value]) {
        for (position, object) in objects.iter().enumerate() {
            if text(object, "type") != Some("relationship")
                || text(object, "relationship_type") != Some("based-on")
            {
                continue;
            }
            let end =
                |field: &str| text(object, field).and_then(|id| self.by_object.get(id).copied());
            if let (Some(from), Some(to)) = (end("source_ref"), end("target_ref")) {
                if from == to {
                    self.plan.outcomes[position].2 = Outcome::Understood(
                        "based-on: the indicator and its observable are one address record".into(),
                    );
                }
            }
        }
    }

    /// Two versions of one object: `earlier` (the submission kept) takes
    /// the content of `later` when `later` is the newer version.
    fn keep_newest(&mut self, earlier: usize, later: usize) {
        let newer = self.plan.submissions[later].clone();
        let kept = &mut self.plan.submissions[earlier];
        if is_later(&newer.version, &kept.version) {
            kept.item = newer.item;
            kept.refs = newer.refs;
            kept.version = newer.version;
            kept.also = newer.also;
        }
    }

    /// A new submission for `object`.
    fn submit(&mut self, object: &Value, item: Value, refs: Vec<(&'static str, Ref)>) -> Outcome {
        let key = text(object, "id").unwrap_or_default().to_owned();
        let version = version_of(object).unwrap_or_default();
        Outcome::Record(self.push(item, refs, key, version))
    }

    fn push(
        &mut self,
        item: Value,
        refs: Vec<(&'static str, Ref)>,
        key: String,
        version: String,
    ) -> usize {
        self.plan.submissions.push(Submission {
            item,
            refs,
            key,
            version,
            aliases: Vec::new(),
            also: Vec::new(),
        });
        self.plan.submissions.len() - 1
    }

    /// The address record of `value` (on `chain`, else the chain it must be
    /// on), merged with an earlier object of the envelope for the same address.
    fn address(&mut self, object: &Value, value: &str, chain: Option<&str>) -> Outcome {
        match self.address_submission(object, value, chain, None) {
            Ok(index) => Outcome::Record(index),
            Err(message) => Outcome::Refused(message),
        }
    }

    /// [`Self::address`], remembered by `key` (default: the object's id).
    fn address_submission(
        &mut self,
        object: &Value,
        value: &str,
        chain: Option<&str>,
        key: Option<String>,
    ) -> Result<usize, String> {
        let chain = match chain {
            Some(chain) => resolve_chain(chain, value)?,
            None => guess_chain(value)?,
        };
        let id = key.unwrap_or_else(|| text(object, "id").unwrap_or_default().to_owned());
        let version = version_of(object).unwrap_or_default();
        let mut item = self.base(object);
        item["kind"] = json!("address");
        item["chain"] = json!(chain);
        item["address"] = json!(value);
        let merge_key = (chain, value.to_owned());
        if let Some(&index) = self.addresses.get(&merge_key) {
            let submission = &mut self.plan.submissions[index];
            // The indicator carries the provenance; an observable adds
            // nothing; of two versions of one object, the newest counts.
            if submission.key == id {
                if is_later(&version, &submission.version) {
                    submission.item = item;
                    submission.version = version;
                }
            } else if text(object, "type") == Some("indicator") {
                submission.item = item;
                let earlier = std::mem::replace(&mut submission.key, id);
                submission.version = version;
                submission.aliases.push(earlier);
            } else if !submission.aliases.contains(&id) {
                submission.aliases.push(id);
            }
            return Ok(index);
        }
        let index = self.push(item, Vec::new(), id, version);
        self.addresses.insert(merge_key, index);
        Ok(index)
    }

    /// The sharing, provenance and descriptive fields every submission has.
    fn base(&self, object: &Value) -> Value {
        let tlp = self.context.tlp(object);
        let mut item = base(object, tlp, self.organization);
        if let Some(author) = self.context.author(object) {
            let name = self.context.names.get(author).copied().unwrap_or(author);
            if let Some(references) = item["external_references"].as_array_mut() {
                references.push(json!({ "source_name": name, "external_id": author }));
            }
        }
        item
    }
}

/// Fills in the fields of a submission that name other records (a
/// relationship's ends, what a sighting saw): other submissions and the
/// objects of the same envelope by the record they were stored as, objects
/// imported earlier by the record `earlier` names, other objects by the
/// record behind a tracewire STIX id. An error when an object is none of these.
pub fn resolve_refs(
    submission: &Submission,
    stored: &HashMap<usize, String>,
    by_stix: &HashMap<String, String>,
) -> Result<Value, String> {
    let mut item = submission.item.clone();
    for (field, reference) in &submission.refs {
        let record = match reference {
            Ref::Submission(index) => stored
                .get(index)
                .cloned()
                .ok_or_else(|| "a record it names was not stored".to_owned())?,
            Ref::Stix(stix_id) => by_stix
                .get(stix_id)
                .cloned()
                .or_else(|| record_id_of(stix_id))
                .ok_or_else(|| {
                    format!(
                        "{stix_id} is neither in this envelope, nor imported before, nor a                          tracewire object"
                    )
                })?,
        };
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
        assert_eq!(
            wallet_pattern("[cryptocurrency-wallet:address = 'abc']").as_deref(),
            Some("abc")
        );
        assert_eq!(wallet_pattern("[ipv4-addr:value = '1.2.3.4']"), None);
        assert_eq!(
            wallet_pattern("[cryptocurrency-wallet:value = 'a' OR ipv4-addr:value = 'b']"),
            None
        );
    }

    fn importer() -> Importer<'static> {
        Importer {
            organization: "acme",
            may_write_indicators: true,
            may_report_sightings: true,
        }
    }

    #[test]
    fn misp_stix_objects_become_addresses_wallets_and_memberships() {
        let amber = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
        let objects = vec![
            json!({"type": "grouping", "id": "grouping--1", "object_refs": ["x-misp-attribute--2", "x-misp-object--3", "x-misp-object--4"],
                   "object_marking_refs": [amber], "created_by_ref": "identity--9"}),
            json!({"type": "identity", "id": "identity--9", "name": "Forensics Ltd"}),
            json!({"type": "x-misp-attribute", "id": "x-misp-attribute--2", "modified": "2026-01-01T00:00:00Z",
                   "x_misp_type": "xmr", "x_misp_value": "49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa4tZM6RZiFrHmMzgSrhHEqpDYKBe5B2ufNsL"}),
            json!({"type": "x-misp-object", "id": "x-misp-object--3", "x_misp_name": "coin-address",
                   "x_misp_attributes": [{"object_relation": "address-crypto", "value": "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre"},
                                         {"object_relation": "symbol", "value": "USDT"}]}),
            json!({"type": "x-misp-object", "id": "x-misp-object--4", "x_misp_name": "btc-wallet", "x_misp_comment": "Cluster",
                   "x_misp_attributes": [{"object_relation": "wallet-address", "value": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"}]}),
            json!({"type": "x-misp-attribute", "id": "x-misp-attribute--5", "x_misp_type": "ip-src", "x_misp_value": "192.0.2.1"}),
            json!({"type": "x-misp-object", "id": "x-misp-object--6", "x_misp_name": "file"}),
        ];
        let plan = plan(&objects, &importer());
        let outcome = |i: usize| plan.outcomes[i].2.clone();
        assert!(matches!(outcome(0), Outcome::Understood(_)));
        assert!(matches!(outcome(1), Outcome::Understood(_)), "the author");
        let Outcome::Record(xmr) = outcome(2) else {
            panic!("{:?}", outcome(2))
        };
        assert_eq!(plan.submissions[xmr].item["chain"], "xmr");
        assert_eq!(
            plan.submissions[xmr].item["tlp"], "amber",
            "from the grouping"
        );
        assert_eq!(plan.submissions[xmr].version, "2026-01-01T00:00:00Z");
        assert_eq!(
            plan.submissions[xmr].item["external_references"][0]["source_name"],
            "Forensics Ltd"
        );
        let Outcome::Record(tron) = outcome(3) else {
            panic!()
        };
        assert_eq!(plan.submissions[tron].item["chain"], "trx", "USDT on Tron");
        let Outcome::Record(wallet) = outcome(4) else {
            panic!()
        };
        let wallet = &plan.submissions[wallet];
        assert_eq!(wallet.item["kind"], "wallet");
        assert_eq!(wallet.item["name"], "Cluster");
        let [address, member] = wallet.also[..] else {
            panic!("{:?}", wallet.also)
        };
        assert_eq!(plan.submissions[address].item["chain"], "btc");
        assert_eq!(plan.submissions[member].item["relation"], "member_of");
        assert_eq!(
            plan.submissions[member].refs[0],
            ("from", Ref::Submission(address))
        );
        assert!(plan.wanted().contains(&member));
        for refused in [5, 6] {
            assert!(
                matches!(outcome(refused), Outcome::Refused(_)),
                "{:?}",
                outcome(refused)
            );
        }
    }

    #[test]
    fn opencti_markings_and_based_on_are_understood() {
        let objects = vec![
            json!({"type": "marking-definition", "id": "marking-definition--00000000-0000-4000-8000-00000000aaaa",
                   "definition_type": "statement", "definition": {"statement": "custom"},
                   "x_opencti_definition_type": "TLP", "x_opencti_definition": "TLP:AMBER+STRICT"}),
            json!({"type": "indicator", "id": "indicator--1",
                   "pattern": "[cryptocurrency-wallet:address = '0x00000000000000000000000000000000dead0001']",
                   "object_marking_refs": ["marking-definition--00000000-0000-4000-8000-00000000aaaa"]}),
            json!({"type": "cryptocurrency-wallet", "id": "cryptocurrency-wallet--2",
                   "address": "0x00000000000000000000000000000000dead0001",
                   "object_marking_refs": ["marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"]}),
            json!({"type": "relationship", "id": "relationship--3", "relationship_type": "based-on",
                   "source_ref": "indicator--1", "target_ref": "cryptocurrency-wallet--2"}),
        ];
        let plan = plan(&objects, &importer());
        assert!(matches!(plan.outcomes[0].2, Outcome::Understood(_)));
        assert_eq!(plan.outcomes[1].2, Outcome::Record(0));
        assert_eq!(plan.outcomes[2].2, Outcome::Record(0));
        assert!(matches!(plan.outcomes[3].2, Outcome::Understood(_)));
        assert_eq!(plan.submissions.len(), 1);
        assert_eq!(plan.submissions[0].item["tlp"], "amber+strict");
        assert_eq!(plan.submissions[0].key, "indicator--1");
        assert_eq!(plan.submissions[0].aliases, ["cryptocurrency-wallet--2"]);
    }

    #[test]
    fn two_versions_of_one_object_are_one_record_with_the_newest() {
        let version = |modified: &str, name: &str| {
            json!({"type": "threat-actor", "id": "threat-actor--1", "name": name,
                   "modified": modified, "created": "2026-01-01T00:00:00Z"})
        };
        let objects = vec![
            version("2026-03-01T00:00:00Z", "newest"),
            version("2026-02-01T00:00:00Z", "older"),
        ];
        let plan = plan(&objects, &importer());
        assert_eq!(plan.outcomes[0].2, Outcome::Record(0));
        assert_eq!(plan.outcomes[1].2, Outcome::Record(0));
        assert_eq!(plan.wanted().into_iter().collect::<Vec<_>>(), [0]);
        assert_eq!(plan.submissions[0].item["name"], "newest");
        assert_eq!(plan.submissions[0].version, "2026-03-01T00:00:00Z");
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
