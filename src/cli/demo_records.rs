//! The demo's records: the OFAC SDN lists published by the hub as TLP:CLEAR
//! sanctions indicators, and a small case shared between the partners at
//! AMBER and RED, so the sharing rules can be seen working.
use crate::auth::Caller;
use crate::domain::{OrganizationId, Scopes};
use crate::records::{self, RecordError};
use crate::storage::records::{self as store, RecordFilter};
use crate::storage::DbConnection;
use anyhow::Context;
use serde_json::{json, Value};

/// The OFAC SDN digital-currency address lists (2024-09-27; see
/// demo-data/ofac-sdn-addresses/SOURCE.md), built into the binary so the demo
/// works from any directory.
const OFAC_LISTS: [(&str, &str); 17] = [
    (
        "ARB",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_ARB.txt"),
    ),
    (
        "BCH",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_BCH.txt"),
    ),
    (
        "BSC",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_BSC.txt"),
    ),
    (
        "BSV",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_BSV.txt"),
    ),
    (
        "BTG",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_BTG.txt"),
    ),
    (
        "DASH",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_DASH.txt"),
    ),
    (
        "ETC",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_ETC.txt"),
    ),
    (
        "ETH",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_ETH.txt"),
    ),
    (
        "LTC",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_LTC.txt"),
    ),
    (
        "TRX",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_TRX.txt"),
    ),
    (
        "USDC",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_USDC.txt"),
    ),
    (
        "USDT",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_USDT.txt"),
    ),
    (
        "XBT",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_XBT.txt"),
    ),
    (
        "XMR",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_XMR.txt"),
    ),
    (
        "XRP",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_XRP.txt"),
    ),
    (
        "XVG",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_XVG.txt"),
    ),
    (
        "ZEC",
        include_str!("../../demo-data/ofac-sdn-addresses/sanctioned_addresses_ZEC.txt"),
    ),
];

/// Ids of the demo records the printed curl lines use.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoRecords {
    /// Acme's RED address, shared with Safe Harbor only.
    pub red_for_safe_harbor: String,
    /// Acme's AMBER+STRICT address, shared with Northwind only.
    pub amber_strict_for_northwind: String,
    /// How many OFAC lines the hub published (and how many were not addresses).
    pub ofac_published: usize,
    pub ofac_rejected: usize,
}

const RED_ADDRESS: &str = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
pub(crate) const AMBER_STRICT_ADDRESS: &str = "0x52908400098527886e0f7030069857d2e4169ee7";

/// Acts as `org`'s demo API client, in process.
fn caller(org: &str, client: &str) -> anyhow::Result<Caller> {
    Ok(Caller {
        organization: OrganizationId::parse(org)?,
        client_id: client.into(),
        scopes: Scopes::parse("indicators:read indicators:write sightings:write")?,
        issuer: "tracewire-demo-setup".into(),
        certificate_fingerprint: String::new(),
        token_expires_at: chrono::Utc::now(),
    })
}

/// Creates `items`, leaving out the ones the server refuses (as `tracewire
/// import` does); returns the created ids in order and the refused count.
fn create_valid(
    conn: &mut DbConnection,
    caller: &Caller,
    mut items: Vec<Value>,
) -> anyhow::Result<(Vec<String>, usize)> {
    let mut refused = 0;
    loop {
        match records::create_batch(conn, caller, items.clone(), None) {
            Ok(created) => {
                let ids = created.records.into_iter().map(|r| r.content.id).collect();
                return Ok((ids, refused));
            }
            Err(RecordError::Validation(errors)) => {
                let bad: std::collections::BTreeSet<usize> =
                    errors.iter().filter_map(|e| e.index).collect();
                if bad.is_empty() {
                    anyhow::bail!("demo records refused: {errors:?}");
                }
                refused += bad.len();
                items = items
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !bad.contains(i))
                    .map(|(_, item)| item)
                    .collect();
            }
            Err(other) => return Err(other.into()),
        }
    }
}

/// The id of `org`'s own record of `address` on `chain`, if there is one.
fn own_address(
    conn: &mut DbConnection,
    org: &str,
    chain: &str,
    address: &str,
) -> anyhow::Result<Option<String>> {
    let reader = records::reader_for(conn, &OrganizationId::parse(org)?)?;
    let chain = crate::domain::chains::Chain::parse(chain).context("demo chain")?;
    let filter = RecordFilter {
        source: Some(org.into()),
        link_keys: Some(crate::domain::chains::ChainAddress::parse(chain, address)?.link_keys()),
        ..RecordFilter::default()
    };
    Ok(store::list(conn, &reader, &filter, 1)?
        .into_iter()
        .next()
        .map(|r| r.id))
}

fn hub_record_count(conn: &mut DbConnection, hub: &str) -> anyhow::Result<i64> {
    let reader = records::reader_for(conn, &OrganizationId::parse(hub)?)?;
    let filter = RecordFilter {
        source: Some(hub.into()),
        ..RecordFilter::default()
    };
    Ok(store::count(conn, &reader, &filter)?)
}

fn address(
    chain: &str,
    address: &str,
    tlp: &str,
    audience: Value,
    description: &str,
    confidence: u8,
) -> Value {
    json!({
        "kind": "address", "chain": chain, "address": address,
        "categories": ["human_trafficking"], "confidence": confidence,
        "tlp": tlp, "audience": audience, "description": description,
        "method": "investigation", "source_reference": "DEMO-CASE-0142",
    })
}

/// Loads the demo records unless they are there already (a demo directory is reused).
pub fn seed(conn: &mut DbConnection, hub: &str) -> anyhow::Result<DemoRecords> {
    let existing = hub_record_count(conn, hub)?;
    let (ofac_published, ofac_rejected) = if existing == 0 {
        let defaults = crate::import::ofac_defaults();
        let mut items = Vec::new();
        for (ticker, text) in OFAC_LISTS {
            let file = format!("sanctioned_addresses_{ticker}.txt");
            for line in crate::import::ofac_lines(&file, ticker, text, &defaults) {
                items.extend(line.item.ok());
            }
        }
        let (ids, refused) = create_valid(conn, &caller(hub, "hub-admin")?, items)?;
        (ids.len(), refused)
    } else {
        (existing as usize, 0)
    };

    let acme = "acme-forensics";
    if own_address(conn, acme, "btc", RED_ADDRESS)?.is_none() {
        let analyst = caller(acme, "acme-forensics-analyst")?;
        let community = json!({ "communities": ["anti-trafficking"] });
        let ngo = json!({ "organizations": ["safe-harbor"] });
        let items = vec![
            address(
                "btc",
                RED_ADDRESS,
                "red",
                ngo.clone(),
                "Payment address in escort ads of the Lotus network (demo)",
                90,
            ),
            address(
                "eth",
                AMBER_STRICT_ADDRESS,
                "amber+strict",
                json!({ "organizations": ["northwind-exchange"] }),
                "Cash-out address; please report deposits (demo)",
                75,
            ),
            address(
                "btc",
                "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
                "amber",
                community.clone(),
                "Collection address shared with the working group (demo)",
                70,
            ),
            json!({ "kind": "wallet", "chain": "btc", "name": "Lotus cluster 7 (demo)",
                "categories": ["human_trafficking"], "confidence": 80, "tlp": "green",
                "method": "blockchain_analysis", "description": "Co-spend cluster (demo)" }),
            json!({ "kind": "entity", "name": "Lotus network (demo)", "entity_type": "trafficking_network",
                "aliases": ["Lotus"], "categories": ["human_trafficking"], "confidence": 85,
                "tlp": "red", "audience": ngo, "method": "investigation" }),
        ];
        let (ids, _) = create_valid(conn, &analyst, items)?;
        let relationship = |relation: &str, from: &str, to: &str| {
            json!({ "kind": "relationship", "relation": relation, "from": from, "to": to,
                "confidence": 80, "tlp": "red", "audience": { "organizations": ["safe-harbor"] },
                "method": "blockchain_analysis" })
        };
        create_valid(
            conn,
            &analyst,
            vec![
                relationship("member_of", &ids[0], &ids[3]),
                relationship("attributed_to", &ids[3], &ids[4]),
            ],
        )?;
        // Safe Harbor's own report, shared with the working group without naming itself.
        let mut report = address(
            "btc",
            "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
            "amber",
            community,
            "Address a victim was told to pay (demo)",
            60,
        );
        report["attribution"] = json!("anonymous");
        report["method"] = json!("victim_report");
        create_valid(
            conn,
            &caller("safe-harbor", "safe-harbor-analyst")?,
            vec![report],
        )?;
        // Northwind saw deposits to the address of Acme's AMBER+STRICT
        // record (shared with Northwind): it tells Safe Harbor without
        // naming itself. Safe Harbor may not read Acme's record, so it is
        // not told which record it was; Acme, the record's source, learns
        // only the time and count.
        let strict = own_address(conn, acme, "eth", AMBER_STRICT_ADDRESS)?
            .context("demo AMBER+STRICT record")?;
        create_valid(
            conn,
            &caller("northwind-exchange", "northwind-screening")?,
            vec![json!({
                "kind": "sighting", "sighting_of": strict,
                "seen_at": "2026-11-20T14:05:00Z", "count": 3, "context": "deposit",
                "confidence": 100, "tlp": "red", "audience": { "organizations": ["safe-harbor"] },
                "attribution": "anonymous", "method": "sighting",
                "description": "Three deposits to this address (demo)",
            })],
        )?;
    }
    Ok(DemoRecords {
        red_for_safe_harbor: own_address(conn, acme, "btc", RED_ADDRESS)?
            .context("demo RED record")?,
        amber_strict_for_northwind: own_address(conn, acme, "eth", AMBER_STRICT_ADDRESS)?
            .context("demo AMBER+STRICT record")?,
        ofac_published,
        ofac_rejected,
    })
}
