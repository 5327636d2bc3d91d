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
use crate::records::{self, LinkedRecord, RecordError, RecordSummary, RecordView};
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

    /// Shows what was found.
    fn fill(&mut self, found: Matches<RecordView>) {
        self.sightings = SightingTotals::default();
        for seen in &found.seen {
            self.sightings.add(seen.seen_at, seen.count);
        }
        self.matched = found.matched;
        self.records = found.records;
        self.wallets = found.wallets;
        self.entities = found.entities;
        self.categories = found.categories;
        self.highest_confidence = found.highest_confidence;
        self.sources = found.sources;
        self.seen = found.seen;
    }

    /// A result with nothing found yet, for no particular input.
    fn blank() -> ScreenResult {
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
    let found = match_rows::<RecordView>(conn, reader, rows, &keys_of)?;
    for (result, found) in results.iter_mut().zip(found) {
        result.fill(found);
    }
    Ok(results)
}

/// The kinds of record screening matches by link key: addresses, and
/// sightings reported by address.
pub(crate) const SCREENED_KINDS: &[&str] = &["address", "sighting"];

/// What screening shows of a matching address record: its full view (plain
/// screening) or its summary (private screening). Both come out of
/// `records::Disclosure`, for the same reader and the same rows.
pub(crate) trait Shown: Clone + Sized {
    /// What the reader is shown of each of `rows` (`None`: not readable).
    fn show(
        conn: &mut DbConnection,
        reader: &Reader,
        rows: &[store::RecordRow],
    ) -> Result<Vec<Option<Self>>, RecordError>;
    fn id(&self) -> &str;
    fn categories(&self) -> &[Category];
    fn confidence(&self) -> u8;
    fn source(&self) -> Option<&str>;
}

impl Shown for RecordView {
    fn show(
        conn: &mut DbConnection,
        reader: &Reader,
        rows: &[store::RecordRow],
    ) -> Result<Vec<Option<Self>>, RecordError> {
        let disclosure = records::Disclosure::prepare(conn, reader, rows, None)?;
        Ok(rows.iter().map(|row| disclosure.record(&row.id)).collect())
    }
    fn id(&self) -> &str {
        &self.content.id
    }
    fn categories(&self) -> &[Category] {
        &self.content.categories
    }
    fn confidence(&self) -> u8 {
        self.content.confidence
    }
    fn source(&self) -> Option<&str> {
        self.content.provenance.source_organization.as_deref()
    }
}

impl Shown for RecordSummary {
    fn show(
        conn: &mut DbConnection,
        reader: &Reader,
        rows: &[store::RecordRow],
    ) -> Result<Vec<Option<Self>>, RecordError> {
        records::summaries(conn, reader, rows)
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn categories(&self) -> &[Category] {
        &self.categories
    }
    fn confidence(&self) -> u8 {
        self.confidence
    }
    fn source(&self) -> Option<&str> {
        self.source_organization.as_deref()
    }
}

/// What the reader may see about one screened set of link keys.
pub(crate) struct Matches<T> {
    /// The matching address records (unrevoked).
    pub records: Vec<T>,
    pub wallets: Vec<LinkedRecord>,
    pub entities: Vec<LinkedRecord>,
    /// The visible sightings of the keys or of the records.
    pub seen: Vec<SeenSighting>,
    pub matched: bool,
    pub categories: Vec<Category>,
    pub highest_confidence: Option<u8>,
    pub sources: Vec<String>,
}

impl<T: Shown> Matches<T> {
    /// The matches of one set of keys, with the summary fields derived
    /// from what they show.
    fn new(
        records: Vec<T>,
        wallets: Vec<LinkedRecord>,
        entities: Vec<LinkedRecord>,
        seen: Vec<SeenSighting>,
    ) -> Matches<T> {
        let mut categories = BTreeSet::new();
        let mut sources = BTreeSet::new();
        for record in &records {
            categories.extend(record.categories().iter().copied());
            sources.extend(record.source().map(str::to_owned));
        }
        for linked in wallets.iter().chain(&entities).map(|l| &l.record) {
            categories.extend(linked.categories().iter().copied());
            sources.extend(linked.source().map(str::to_owned));
        }
        Matches {
            matched: !records.is_empty(),
            highest_confidence: records.iter().map(Shown::confidence).max(),
            categories: categories.into_iter().collect(),
            sources: sources.into_iter().collect(),
            records,
            wallets,
            entities,
            seen,
        }
    }
}

/// What the caller may see about each set of link keys `keys_of[i]`, from
/// `rows`: the unrevoked records of [`SCREENED_KINDS`] the reader may see
/// that carry those keys (more rows are fine).
pub(crate) fn match_rows<T: Shown>(
    conn: &mut DbConnection,
    reader: &Reader,
    rows: Vec<store::RecordRow>,
    keys_of: &[Vec<String>],
) -> Result<Vec<Matches<T>>, RecordError> {
    let (rows, sighting_rows): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|row| row.kind == "address");
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let linked: HashSet<String> = store::with_outgoing_links(conn, &ids)?
        .into_iter()
        .collect();
    let mut sighting_rows = sighting_rows;
    sighting_rows.extend(store::visible_sightings_naming(conn, reader, &ids)?);
    let sightings = VisibleSightings::of(conn, sighting_rows, reader)?;
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for key in keys_of.iter().flatten() {
        *uses.entry(key.as_str()).or_default() += 1;
    }
    let shown = T::show(conn, reader, &rows)?;
    let mut by_key: HashMap<String, Vec<T>> = HashMap::with_capacity(rows.len());
    for (row, view) in rows.into_iter().zip(shown) {
        if let Some(view) = view {
            by_key
                .entry(row.link_key.unwrap_or_default())
                .or_default()
                .push(view);
        }
    }

    let mut out = Vec::with_capacity(keys_of.len());
    for keys in keys_of {
        let mut records: Vec<T> = Vec::new();
        for key in keys {
            // The last set that needs a key's records takes them.
            let last_use = match uses.get_mut(key.as_str()) {
                Some(left) => {
                    *left -= 1;
                    *left == 0
                }
                None => false,
            };
            if last_use {
                if let Some(found) = by_key.remove(key) {
                    records.extend(found);
                }
            } else if let Some(found) = by_key.get(key) {
                records.extend(found.iter().cloned());
            }
        }
        let (mut wallets, mut entities) = (Vec::new(), Vec::new());
        for record in records.iter().filter(|r| linked.contains(r.id())) {
            let (w, e) = records::walk_from_address(conn, reader, record.id())?;
            wallets.extend(w);
            entities.extend(e);
        }
        let seen = sightings.seen_for(keys, records.iter().map(Shown::id));
        out.push(Matches::new(records, wallets, entities, seen));
    }
    Ok(out)
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
        let shown = records::summaries(conn, reader, &rows)?;
        for (row, summary) in rows.into_iter().zip(shown) {
            if found.all.contains_key(&row.id) {
                continue;
            }
            let Some(RecordSummary {
                id,
                sighting: Some(details),
                ..
            }) = summary
            else {
                continue;
            };
            if let Some(key) = row.link_key {
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
    fn seen_for<'a>(
        &self,
        keys: &[String],
        shown: impl Iterator<Item = &'a str>,
    ) -> Vec<SeenSighting> {
        let by_address = keys.iter().filter_map(|k| self.by_key.get(k));
        let by_record = shown.filter_map(|id| self.by_record.get(id));
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
