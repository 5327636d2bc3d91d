//! Sightings: "we saw this record or address" (a deposit, an ad, a
//! seizure), reported with a time, a count and a context.
//!
//! A sighting is a record of kind `sighting` with its own TLP, audience and
//! attribution, so it is stored, revised, revoked, audited and fed like any
//! other record. It names what was seen either by record id (`sighting_of`,
//! kept as a link) or by address (`chain` and `address`, kept as the
//! record's link key, so it is found in every form of the address).
//!
//! Readers see the sightings they may read. The source of a record that a
//! sighting names by id (`sighting_of`) also learns of the sightings of it
//! that it may not read, as time and count only: not who reported them,
//! nor the context. Sightings reported by address give no such notice:
//! anyone can file a record for an address, and must not harvest the
//! sightings of it that way.
use super::{parse_content, present_all, read_one, reader_for, RecordError, RecordView};
use crate::audit::{self, AuditEvent};
use crate::auth::Caller;
use crate::domain::chains::{Chain, ChainAddress};
use crate::storage::records as store;
use crate::storage::DbConnection;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

/// The confidence of a sighting that does not give one: the sighter saw it.
const DEFAULT_CONFIDENCE: u8 = 100;

/// Fills the defaults of sighting submissions: `kind` is `sighting`,
/// `method` `sighting` and `confidence` 100 unless given. (Other kinds are
/// refused by [`super::create_batch_of`].)
pub fn with_defaults(items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(mut fields) => {
                for (name, value) in [
                    ("kind", json!("sighting")),
                    ("method", json!("sighting")),
                    ("confidence", json!(DEFAULT_CONFIDENCE)),
                ] {
                    fields.entry(name).or_insert(value);
                }
                Value::Object(fields)
            }
            other => other,
        })
        .collect()
}

/// What a record's source learns of a sighting it may not read.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SightingNotice {
    pub seen_at: DateTime<Utc>,
    pub count: u32,
}

/// Totals over a set of sightings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SightingTotals {
    /// How many sighting reports.
    pub reports: usize,
    /// The sum of their counts.
    pub count: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
}

impl SightingTotals {
    pub fn add(&mut self, seen_at: DateTime<Utc>, count: u32) {
        self.reports += 1;
        self.count += u64::from(count);
        self.first_seen = Some(self.first_seen.map_or(seen_at, |t| t.min(seen_at)));
        self.last_seen = Some(self.last_seen.map_or(seen_at, |t| t.max(seen_at)));
    }

    /// Totals over the sighting records among `views`.
    pub fn of<'a>(views: impl IntoIterator<Item = &'a RecordView>) -> SightingTotals {
        let mut totals = SightingTotals::default();
        for view in views {
            if let Some(details) = &view.content.sighting {
                totals.add(details.seen_at, details.count);
            }
        }
        totals
    }
}

/// The sightings of one record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordSightings {
    pub record_id: String,
    /// The sightings of this record, or of its address in any form, that
    /// you may read, oldest report first.
    pub sightings: Vec<RecordView>,
    /// Totals over `sightings`.
    pub totals: SightingTotals,
    /// Only for the record's source: the sightings naming this record by id
    /// that you may not read, as time and count (who reported them is not
    /// shared with you).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unshared: Option<Vec<SightingNotice>>,
    /// Only for the record's source: totals over `sightings` and `unshared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_totals: Option<SightingTotals>,
}

/// Every link key of an address record's address (none for other kinds).
fn address_keys(view: &RecordView) -> Vec<String> {
    let content = &view.content;
    match (content.kind, &content.chain, &content.address) {
        (crate::domain::RecordKind::Address, Some(chain), Some(address)) => Chain::parse(chain)
            .and_then(|c| ChainAddress::parse(c, address).ok())
            .map(|a| a.link_keys())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn read_sightings(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<RecordSightings, RecordError> {
    let reader = reader_for(conn, &caller.organization)?;
    let record = read_one(conn, &reader, id)?;
    let is_source = record.content.provenance.source_organization.as_deref()
        == Some(caller.organization.as_str());
    let keys = address_keys(&record);
    let rows: Vec<_> = store::sightings_naming(conn, &[id.to_owned()], &keys)?
        .into_iter()
        .map(|(row, _)| row)
        .collect();
    let mut sightings = present_all(conn, &reader, &rows)?;
    let mut all_totals = SightingTotals::of(&sightings);
    let mut unshared = Vec::new();
    if is_source {
        let shown: std::collections::HashSet<&str> =
            sightings.iter().map(|s| s.content.id.as_str()).collect();
        for row in rows.iter().filter(|r| !shown.contains(r.id.as_str())) {
            let Some(details) = parse_content(&row.id, &row.body)?.sighting else {
                continue;
            };
            if details.of.as_deref() == Some(id) {
                all_totals.add(details.seen_at, details.count);
                unshared.push(SightingNotice {
                    seen_at: details.seen_at,
                    count: details.count,
                });
            }
        }
    }
    sightings.sort_by(|a, b| a.content.id.cmp(&b.content.id));
    unshared.sort_by_key(|n| n.seen_at);
    Ok(RecordSightings {
        record_id: record.content.id,
        totals: SightingTotals::of(&sightings),
        sightings,
        unshared: is_source.then_some(unshared),
        all_totals: is_source.then_some(all_totals),
    })
}

/// The sightings of a record the caller may see (404 when it may not see
/// the record). Audited, with every sighting shown.
pub fn of_record(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<RecordSightings, RecordError> {
    let result = read_sightings(conn, caller, id);
    let (record_ids, unshared) = match &result {
        Ok(found) => (
            found
                .sightings
                .iter()
                .map(|s| s.content.id.clone())
                .collect(),
            found.unshared.as_ref().map_or(0, Vec::len),
        ),
        Err(_) => (Vec::new(), 0),
    };
    audit::record_read(
        conn,
        caller,
        AuditEvent {
            action: "records.sightings",
            result_count: record_ids.len(),
            record_ids,
            detail: json!({ "requested": id, "unshared_notices": unshared }),
        },
    )?;
    result
}
