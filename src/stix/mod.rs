//! STIX 2.1: the mapping between tracewire records and STIX objects, both
//! ways. Pure functions, no storage and no sharing decisions: callers hand
//! in only what the reader may see (see `crate::taxii`).
//!
//! Identifiers are deterministic. A record's id is a UUIDv7; the STIX id of
//! the object a record maps to is `<type>--<the same UUID with its version
//! nibble set to 4>`, so every revision of a record maps to the same id (its
//! `modified` changes per revision), and the record id can be recovered
//! from a STIX id ([`record_id_of`]). Objects that are not records
//! (observables, organization identities) get UUIDv5 ids.
pub mod export;
pub mod import;

use crate::domain::Tlp;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Value};

pub const SPEC_VERSION: &str = "2.1";
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// The extension tracewire publishes: the `cryptocurrency-wallet` observable
/// (a new SCO, OpenCTI-compatible `value`) and tracewire's own properties on
/// the objects it serves (chain, canonical form, record id and revision, …).
pub const EXTENSION_ID: &str = "extension-definition--3c1e7a52-9b4d-4f6e-8a10-5d2c9e7b4f31";
/// tracewire itself, the creator of the extension definition.
pub const HUB_IDENTITY_ID: &str = "identity--8f1d2c3b-4a5e-4f60-9b7c-1e2d3f4a5b6c";
/// When tracewire's fixed objects (its identity, the extension) were made.
pub const FIXED_CREATED: &str = "2026-11-24T00:00:00.000Z";
/// FIRST TLP 2.0 marking definitions, as published by OASIS
/// (cti-stix-common-objects, extension-definition-specifications/tlp-2.0).
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";
const TLP2_CREATED: &str = "2022-10-01T00:00:00.000Z";
/// STIX 2.1's predefined TLP 1.0 markings (which MISP and OpenCTI use),
/// and OpenCTI's own TLP:AMBER+STRICT (a statement marking with a fixed
/// id), read on import only.
const OTHER_MARKINGS: [(&str, Tlp); 5] = [
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        Tlp::Clear,
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        Tlp::Green,
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        Tlp::Amber,
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        Tlp::Red,
    ),
    (
        "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37",
        Tlp::AmberStrict,
    ),
];

/// The namespace STIX 2.1 prescribes for deterministic SCO ids.
const SCO_NAMESPACE: uuid::Uuid = uuid::uuid!("00abedb4-aa42-466c-9c01-fed23315a9b7");
/// tracewire's namespace for the ids of organization identities.
const TRACEWIRE_NAMESPACE: uuid::Uuid = uuid::uuid!("6f3b1d0e-2c4a-4e8f-9d7b-a1c2e3f4b5d6");

/// The official marking-definition id of a TLP 2.0 level.
pub fn tlp_marking_id(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

/// The TLP level a marking-definition id stands for (TLP 2.0, TLP 1.0, OpenCTI's).
pub fn tlp_of_marking(id: &str) -> Option<Tlp> {
    Tlp::ALL
        .into_iter()
        .find(|t| tlp_marking_id(*t) == id)
        .or_else(|| {
            OTHER_MARKINGS
                .iter()
                .find(|(m, _)| *m == id)
                .map(|(_, t)| *t)
        })
}

/// The TLP 2.0 marking-definition object of a level, as OASIS publishes it.
pub fn tlp_marking(tlp: Tlp) -> Value {
    json!({
        "type": "marking-definition",
        "spec_version": SPEC_VERSION,
        "id": tlp_marking_id(tlp),
        "created": TLP2_CREATED,
        "name": format!("TLP:{}", tlp.as_str().to_ascii_uppercase()),
        "extensions": {
            TLP2_EXTENSION_ID: { "extension_type": "property-extension", "tlp_2_0": tlp.as_str() }
        }
    })
}

/// tracewire's identity and extension definition: what every collection
/// starts with. The TLP 2.0 markings are served beside the objects that
/// use them ([`tlp_markings_of`]), and by id.
pub fn fixed_objects() -> Vec<Value> {
    vec![
        json!({
            "type": "identity",
            "spec_version": SPEC_VERSION,
            "id": HUB_IDENTITY_ID,
            "created": FIXED_CREATED,
            "modified": FIXED_CREATED,
            "name": "tracewire",
            "description": "The tracewire intelligence-sharing hub software.",
            "identity_class": "system"
        }),
        json!({
            "type": "extension-definition",
            "spec_version": SPEC_VERSION,
            "id": EXTENSION_ID,
            "created_by_ref": HUB_IDENTITY_ID,
            "created": FIXED_CREATED,
            "modified": FIXED_CREATED,
            "name": "tracewire cryptocurrency intelligence",
            "description": "The cryptocurrency-wallet observable (value: the address; chain: the \
        tracewire chain id; canonical: chain:address in tracewire's canonical form; the id is derived \
        from value and chain) and tracewire's properties on the objects it serves: record_id, revision, \
        kind, method, categories, chain, entity_type, relation.",
            // STIX allows the normative definition as plain text.
            "schema": "new-sco cryptocurrency-wallet: value (string, required: the address as \
        tracewire stores it), chain (string: tracewire chain id), canonical (string: chain:address); id = \
        UUIDv5 in the STIX SCO namespace of {\"chain\",\"value\"}. property-extension on indicator, \
        infrastructure, identity, threat-actor, relationship, sighting: record_id (string), revision \
        (integer), kind, method, chain, entity_type, relation, context, source_reference, observed_at, \
        aliases.",
            "version": "1.0.0",
            "extension_types": ["new-sco", "property-extension"]
        }),
    ]
}

/// The TLP levels whose marking definitions `object` references.
pub fn tlp_markings_of(object: &Value) -> Vec<Tlp> {
    object
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|id| Tlp::ALL.into_iter().find(|t| tlp_marking_id(*t) == id))
        .collect()
}

/// `<type>--<uuid>` for a record id (a UUIDv7): the same bits with version 4.
pub fn object_id(stix_type: &str, record_id: &str) -> String {
    match uuid::Uuid::parse_str(record_id) {
        Ok(uuid) => {
            let mut bytes = *uuid.as_bytes();
            bytes[6] = (bytes[6] & 0x0f) | 0x40;
            format!("{stix_type}--{}", uuid::Uuid::from_bytes(bytes))
        }
        // Not a UUID (never stored): still deterministic.
        Err(_) => format!(
            "{stix_type}--{}",
            uuid::Uuid::new_v5(&TRACEWIRE_NAMESPACE, record_id.as_bytes())
        ),
    }
}

/// The record id behind a STIX id made by [`object_id`], if it is one.
pub fn record_id_of(stix_id: &str) -> Option<String> {
    let (_, uuid) = stix_id.split_once("--")?;
    let uuid = uuid::Uuid::parse_str(uuid).ok()?;
    let mut bytes = *uuid.as_bytes();
    if bytes[6] >> 4 != 4 {
        return None;
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x70;
    Some(uuid::Uuid::from_bytes(bytes).to_string())
}

/// The identity of a partner organization.
pub fn organization_identity_id(organization: &str) -> String {
    let name = format!("organization:{organization}");
    format!(
        "identity--{}",
        uuid::Uuid::new_v5(&TRACEWIRE_NAMESPACE, name.as_bytes())
    )
}

/// The deterministic id of a `cryptocurrency-wallet` observable.
pub fn wallet_observable_id(chain: &str, value: &str) -> String {
    let contributing = json!({ "chain": chain, "value": value }).to_string();
    format!(
        "cryptocurrency-wallet--{}",
        uuid::Uuid::new_v5(&SCO_NAMESPACE, contributing.as_bytes())
    )
}

/// A STIX timestamp (UTC, microseconds).
pub fn timestamp(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A STIX timestamp of a stored (UTC) time.
pub fn naive_timestamp(at: &NaiveDateTime) -> String {
    timestamp(&at.and_utc())
}

/// Parses a STIX/TAXII timestamp (RFC 3339).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_round_trip_through_stix_ids() {
        let record = uuid::Uuid::now_v7().to_string();
        let stix = object_id("indicator", &record);
        assert!(stix.starts_with("indicator--"));
        assert_eq!(&stix[11 + 14..11 + 15], "4", "{stix}");
        assert_eq!(record_id_of(&stix).as_deref(), Some(record.as_str()));
        assert_eq!(object_id("indicator", &record), stix, "deterministic");
    }

    #[test]
    fn markings_round_trip() {
        for tlp in Tlp::ALL {
            assert_eq!(tlp_of_marking(tlp_marking_id(tlp)), Some(tlp));
        }
        assert_eq!(
            tlp_of_marking("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
            Some(Tlp::Clear)
        );
        assert_eq!(tlp_marking(Tlp::AmberStrict)["name"], "TLP:AMBER+STRICT");
    }
}
