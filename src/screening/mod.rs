//! Screening: is this address known, and what may the caller see about it?
//!
//! Exchanges screen every deposit and withdrawal address, one at a time or
//! 10,000 per call. Each address is parsed into its lookup forms (see
//! [`crate::domain::chains::lookup_forms`]) and matched by link key, so the
//! same address typed another way (case, prefix, EVM chain, TRON/EVM, BCH
//! legacy/cashaddr) still matches. Only records the caller may read count
//! toward any field of the answer: the SQL filter is the same sharing rule
//! as every other read, and wallets and entities are reached only through
//! relationships the caller may see.
use crate::access::Reader;
use crate::audit::{self, AuditEvent};
use crate::auth::Caller;
use crate::domain::chains::lookup_forms;
use crate::domain::Category;
use crate::error::FieldError;
use crate::records::sightings::SightingTotals;
use crate::records::{self, LinkedRecord, RecordError, RecordView};
use crate::storage::records as store;
use crate::storage::DbConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use utoipa::ToSchema;

pub mod export;
pub mod private;

/// The most addresses one bulk screening request may carry.
pub const MAX_SCREEN_BATCH: usize = 10_000;

/// One address to screen.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenItem {
    /// Chain id, alias or asset ticker; leave it out to match the address on
    /// every chain where it is valid.
    #[serde(default)]
    pub chain: Option<String>,
    pub address: String,
}

/// An address as tracewire stores it, and the chains where it has this form.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddressForm {
    pub chains: Vec<String>,
    pub address: String,
}

/// What the caller may see about one screened address.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScreenResult {
    /// The address as sent.
    pub input: String,
    /// The chain as sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The canonical forms it was matched in (empty when it is not valid).
    pub forms: Vec<AddressForm>,
    /// Whether any record you may see matches.
    pub matched: bool,
    /// The matching address records you may see (unrevoked).
    pub records: Vec<RecordView>,
    /// Wallets the address belongs to, through relationships you may see.
    pub wallets: Vec<LinkedRecord>,
    /// Entities the address or its wallets are attributed to, likewise.
    pub entities: Vec<LinkedRecord>,
    /// Categories of the matching records, wallets and entities.
    pub categories: Vec<Category>,
    /// The highest confidence among the matching address records.
    pub highest_confidence: Option<u8>,
    /// Source organizations of the records shown (anonymous sources left out).
    pub sources: Vec<String>,
    /// Sightings you may see of this address (in any form) or of the
    /// records shown. Sightings alone do not make `matched` true.
    pub sightings: SightingTotals,
    /// The visible sightings behind `sightings` (id, when, how often), for
    /// answers that carry them one by one (private screening).
    #[serde(skip)]
    pub(crate) seen: Vec<SeenSighting>,
    /// Why the address could not be screened (bulk screening only; the
    /// other items are answered normally).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FieldError>,
}

impl ScreenResult {
    fn empty(item: &ScreenItem) -> ScreenResult {
        ScreenResult {
            input: item.address.clone(),
            chain: item.chain.clone(),
            ..ScreenResult::blank()
        }
    }

    /// A result with nothing found yet, for no particular input.
    pub(crate) fn blank() -> ScreenResult {
        ScreenResult {
            input: String::new(),
            chain: None,
            forms: Vec::new(),
            matched: false,
            records: Vec::new(),
            wallets: Vec::new(),
            entities: Vec::new(),
            categories: Vec::new(),
            highest_confidence: None,
            sources: Vec::new(),
            sightings: SightingTotals::default(),
            seen: Vec::new(),
            error: None,
        }
    }
}

/// Screens `items` for `caller`. Invalid items get their `error` and do not
/// fail the others. The request is audited once, with every record shown.
pub fn screen(
    conn: &mut DbConnection,
    caller: &Caller,
    items: &[ScreenItem],
) -> Result<Vec<ScreenResult>, RecordError> {
    let reader = records::reader_for(conn, &caller.organization)?;
    let results = screen_for(conn, &reader, items)?;
    let mut shown: Vec<String> = Vec::new();
    for result in &results {
        shown.extend(result.records.iter().map(|r| r.content.id.clone()));
        for linked in result.wallets.iter().chain(&result.entities) {
            shown.push(linked.relationship.content.id.clone());
            shown.push(linked.record.content.id.clone());
        }
    }
    shown.sort();
    shown.dedup();
    let matched = results.iter().filter(|r| r.matched).count();
    audit::record_read(
        conn,
        caller,
        AuditEvent {
            action: "screen",
            record_ids: shown,
            result_count: matched,
            detail: json!({ "items": items.len(), "matched": matched }),
        },
    )?;
    Ok(results)
}

pub(crate) fn screen_for(
    conn: &mut DbConnection,
    reader: &Reader,
    items: &[ScreenItem],
) -> Result<Vec<ScreenResult>, RecordError> {
    // Parse every item into its forms and link keys.
    let mut results: Vec<ScreenResult> = items.iter().map(ScreenResult::empty).collect();
    let mut keys_of: Vec<Vec<String>> = Vec::with_capacity(items.len());
    let mut all_keys: BTreeSet<String> = BTreeSet::new();
    for (index, (item, result)) in items.iter().zip(results.iter_mut()).enumerate() {
        match lookup_forms(item.chain.as_deref(), &item.address) {
            Ok(forms) => {
                let mut by_form: BTreeMap<String, Vec<String>> = BTreeMap::new();
                let mut keys = Vec::new();
                for form in &forms {
                    by_form
                        .entry(form.canonical().to_owned())
                        .or_default()
                        .push(form.chain().id().to_owned());
                    keys.extend(form.link_keys());
                }
                keys.sort();
                keys.dedup();
                result.forms = by_form
                    .into_iter()
                    .map(|(address, chains)| AddressForm { chains, address })
                    .collect();
                all_keys.extend(keys.iter().cloned());
                keys_of.push(keys);
            }
            Err(message) => {
                result.error = Some(FieldError {
                    index: Some(index),
                    field: "address".into(),
                    message,
                });
                keys_of.push(Vec::new());
            }
        }
    }

    // One query for every visible match, then walks only where links exist.
    let keys: Vec<String> = all_keys.into_iter().collect();
    let rows = store::visible_with_link_keys(conn, reader, &keys, SCREENED_KINDS)?;
    match_rows(conn, reader, rows, &keys_of, &mut results)?;
    Ok(results)
}

/// The kinds of record screening matches by link key: addresses, and
/// sightings reported by address.
pub(crate) const SCREENED_KINDS: &[&str] = &["address", "sighting"];

/// Fills `results[i]` with what the caller may see about the link keys
/// `keys_of[i]`, from `rows`: the unrevoked records of [`SCREENED_KINDS`]
/// the reader may see that carry those keys (more rows are fine).
pub(crate) fn match_rows(
    conn: &mut DbConnection,
    reader: &Reader,
    rows: Vec<store::RecordRow>,
    keys_of: &[Vec<String>],
    results: &mut [ScreenResult],
) -> Result<(), RecordError> {
    let (rows, sighting_rows): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|row| row.kind == "address");
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let linked: HashSet<String> = store::with_outgoing_links(conn, &ids)?
        .into_iter()
        .collect();
    let mut sighting_rows = sighting_rows;
    sighting_rows.extend(store::visible_sightings_naming(conn, reader, &ids)?);
    let sightings = VisibleSightings::of(conn, sighting_rows, reader)?;
    let mut by_key: BTreeMap<String, Vec<RecordView>> = BTreeMap::new();
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for key in keys_of.iter().flatten() {
        *uses.entry(key.as_str()).or_default() += 1;
    }
    let disclosure = records::Disclosure::prepare(conn, reader, &rows, None)?;
    for row in &rows {
        let key = row.link_key.clone().unwrap_or_default();
        if let Some(view) = disclosure.record(&row.id) {
            by_key.entry(key).or_default().push(view);
        }
    }

    for (result, keys) in results.iter_mut().zip(keys_of) {
        for key in keys {
            // The last result that needs a key's records takes them.
            let last_use = match uses.get_mut(key.as_str()) {
                Some(left) => {
                    *left -= 1;
                    *left == 0
                }
                None => false,
            };
            if last_use {
                if let Some(found) = by_key.remove(key) {
                    result.records.extend(found);
                }
            } else if let Some(found) = by_key.get(key) {
                result.records.extend(found.iter().cloned());
            }
        }
        let walk_from: Vec<String> = result
            .records
            .iter()
            .map(|r| r.content.id.clone())
            .filter(|id| linked.contains(id))
            .collect();
        for id in walk_from {
            let (wallets, entities) = records::walk_from_address(conn, reader, &id)?;
            result.wallets.extend(wallets);
            result.entities.extend(entities);
        }
        result.seen = sightings.seen_for(keys, &result.records);
        result.sightings = SightingTotals::default();
        for seen in &result.seen {
            result.sightings.add(seen.seen_at, seen.count);
        }
        summarize(result);
    }
    Ok(())
}

/// Fills the derived fields from what the result shows.
fn summarize(result: &mut ScreenResult) {
    result.matched = !result.records.is_empty();
    let mut categories = BTreeSet::new();
    let mut sources = BTreeSet::new();
    let linked = result
        .wallets
        .iter()
        .chain(&result.entities)
        .map(|l| &l.record);
    for record in result.records.iter().chain(linked) {
        categories.extend(record.content.categories.iter().copied());
        if let Some(source) = &record.content.provenance.source_organization {
            sources.insert(source.clone());
        }
    }
    result.categories = categories.into_iter().collect();
    result.sources = sources.into_iter().collect();
    result.highest_confidence = result.records.iter().map(|r| r.content.confidence).max();
}

/// One visible sighting: when and how often.
type Seen = (chrono::DateTime<chrono::Utc>, u32);

/// One visible sighting behind a screening answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SeenSighting {
    /// The sighting record's id.
    pub id: String,
    pub seen_at: chrono::DateTime<chrono::Utc>,
    pub count: u32,
}

/// The visible sightings of a screening request, by the link key they
/// carry and by the record they name.
#[derive(Default)]
struct VisibleSightings {
    all: HashMap<String, Seen>,
    by_key: HashMap<String, Vec<String>>,
    by_record: HashMap<String, Vec<String>>,
}

impl VisibleSightings {
    /// Indexes the sighting `rows` (the caller may see them; duplicates are fine).
    fn of(
        conn: &mut DbConnection,
        rows: Vec<store::RecordRow>,
        reader: &Reader,
    ) -> Result<VisibleSightings, RecordError> {
        let mut found = VisibleSightings::default();
        let disclosure = records::Disclosure::prepare(conn, reader, &rows, None)?;
        for row in rows {
            if found.all.contains_key(&row.id) {
                continue;
            }
            let key = row.link_key.clone();
            let Some(view) = disclosure.record(&row.id) else {
                continue;
            };
            let Some(details) = view.content.sighting else {
                continue;
            };
            let id = view.content.id;
            if let Some(key) = key {
                found.by_key.entry(key).or_default().push(id.clone());
            }
            if let Some(of) = details.of {
                found.by_record.entry(of).or_default().push(id.clone());
            }
            found.all.insert(id, (details.seen_at, details.count));
        }
        Ok(found)
    }

    /// The sightings carrying one of `keys` or naming one of `shown`, once
    /// each, by id.
    fn seen_for(&self, keys: &[String], shown: &[RecordView]) -> Vec<SeenSighting> {
        let by_address = keys.iter().filter_map(|k| self.by_key.get(k));
        let by_record = shown
            .iter()
            .filter_map(|r| self.by_record.get(&r.content.id));
        let ids: BTreeSet<&String> = by_address.chain(by_record).flatten().collect();
        ids.into_iter()
            .filter_map(|id| {
                self.all.get(id).map(|(seen_at, count)| SeenSighting {
                    id: id.clone(),
                    seen_at: *seen_at,
                    count: *count,
                })
            })
            .collect()
    }
}
