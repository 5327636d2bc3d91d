//! Private screening: the caller sends bucket prefixes of hashed link keys
//! instead of addresses, and gets back every entry of those buckets that it
//! may read; it keeps the ones whose full hash matches, on its own side.
//!
//! The hashing is [`crate::domain::private_screening`], shared with the
//! client (`tracewire screen`). What each entry says is exactly what plain
//! screening says about that link key ([`super::match_rows`]: the same
//! query filter and the same decisions of `records::disclosure`), reduced
//! to ids and a summary: each record is shown as its
//! `records::RecordSummary`, which decides readability, the source and
//! references as the full view would without building it (a bucket holds
//! about 4.5 times as many rows as plain screening has hits). A bucket holds only what the caller may read, so its size says
//! nothing about records hidden from it. The audit entry records the caller
//! and how many prefixes it sent, never the prefixes nor what came back
//! (that would name the buckets). `docs/private-screening.md` is the
//! protocol and its reasoning.
use super::{match_rows, Matches, SeenSighting, SCREENED_KINDS};
use crate::audit::{self, AuditEvent};
use crate::auth::Caller;
use crate::domain::private_screening::{self as protocol, PREFIX_BITS, VERSION};
use crate::domain::Category;
use crate::error::FieldError;
use crate::records::{self, RecordError, RecordSummary};
use crate::storage::records as store;
use crate::storage::DbConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;
use utoipa::ToSchema;

/// The most prefixes one request may carry: 10,000, like every bulk request
/// (so one request fits the per-organization bulk-item bucket).
pub const MAX_PRIVATE_PREFIXES: usize = 10_000;

/// Bucket prefixes to screen.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateScreenRequest {
    /// The protocol version: 1.
    #[schema(minimum = 1, maximum = 1)]
    pub version: u32,
    /// 1 to 10,000 prefixes: the first 20 bits of
    /// SHA-256("tracewire-private-screening-v1:" + link key), as 5 hex
    /// characters. Duplicates are answered once.
    #[schema(min_items = 1, max_items = 10_000, pattern = "^[0-9a-fA-F]{5}$")]
    pub prefixes: Vec<String>,
}

/// Every entry you may read in the buckets you named.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PrivateScreenResponse {
    /// The protocol version: 1.
    pub version: u32,
    /// How many leading bits of the hash name a bucket: 20.
    pub prefix_bits: u32,
    /// One entry per link key in those buckets that a record you may read
    /// carries, in hash order. Keep those whose `hash` is one of yours.
    pub entries: Vec<BucketEntry>,
}

/// What you may see about one link key: the summary plain screening gives.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BucketEntry {
    /// SHA-256("tracewire-private-screening-v1:" + link key), 64 hex characters.
    pub hash: String,
    /// Whether an address record you may read carries the key (false when
    /// only sightings do).
    pub matched: bool,
    /// Ids of the unrevoked address records you may read.
    pub records: Vec<String>,
    /// Ids of the wallets they belong to, through relationships you may read.
    pub wallets: Vec<String>,
    /// Ids of the entities they or their wallets are attributed to, likewise.
    pub entities: Vec<String>,
    /// Categories of those records, wallets and entities.
    pub categories: Vec<Category>,
    /// The highest confidence among the address records.
    pub highest_confidence: Option<u8>,
    /// Their source organizations (anonymous sources left out).
    pub sources: Vec<String>,
    /// The sightings you may read of the key or of those records, one by one
    /// (an address with several keys may meet the same sighting twice).
    pub sightings: Vec<SeenSighting>,
}

impl BucketEntry {
    fn of(key: &str, found: Matches<RecordSummary>) -> BucketEntry {
        let linked_ids = |linked: &[records::LinkedRecord]| {
            let ids: BTreeSet<String> =
                linked.iter().map(|l| l.record.content.id.clone()).collect();
            ids.into_iter().collect()
        };
        BucketEntry {
            hash: hex::encode(protocol::key_hash(key)),
            matched: found.matched,
            wallets: linked_ids(&found.wallets),
            entities: linked_ids(&found.entities),
            records: found.records.into_iter().map(|r| r.id).collect(),
            categories: found.categories,
            highest_confidence: found.highest_confidence,
            sources: found.sources,
            sightings: found.seen,
        }
    }
}

/// The buckets a request names, or why it is refused (each bad prefix by index).
pub fn buckets_of(request: &PrivateScreenRequest) -> Result<Vec<i32>, Vec<FieldError>> {
    let mut errors = Vec::new();
    if request.version != VERSION {
        errors.push(FieldError::new(
            "version",
            format!("this server speaks version {VERSION} of the protocol"),
        ));
    }
    if request.prefixes.is_empty() || request.prefixes.len() > MAX_PRIVATE_PREFIXES {
        errors.push(FieldError::new(
            "prefixes",
            format!(
                "1 to {MAX_PRIVATE_PREFIXES} prefixes per request (got {})",
                request.prefixes.len()
            ),
        ));
    }
    let mut buckets = BTreeSet::new();
    for (index, prefix) in request.prefixes.iter().enumerate() {
        match protocol::parse_prefix(prefix) {
            Ok(bucket) => {
                buckets.insert(bucket as i32);
            }
            // The message does not repeat the prefix: problem details may be logged.
            Err(message) => errors.push(FieldError {
                index: Some(index),
                field: "prefixes".into(),
                message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(buckets.into_iter().collect())
    } else {
        Err(errors)
    }
}

/// Answers the buckets `buckets` for `caller`, and audits that it asked
/// (how many prefixes, nothing else).
pub fn screen_buckets(
    conn: &mut DbConnection,
    caller: &Caller,
    buckets: &[i32],
    prefixes_sent: usize,
) -> Result<PrivateScreenResponse, RecordError> {
    let reader = records::reader_for(conn, &caller.organization)?;
    let rows = store::visible_in_buckets(conn, &reader, buckets, SCREENED_KINDS)?;
    let keys: Vec<String> = rows
        .iter()
        .filter_map(|row| row.link_key.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let keys_of: Vec<Vec<String>> = keys.iter().map(|k| vec![k.clone()]).collect();
    let found = match_rows::<RecordSummary>(conn, &reader, rows, &keys_of)?;
    let mut entries: Vec<BucketEntry> = keys
        .iter()
        .zip(found)
        .map(|(key, found)| BucketEntry::of(key, found))
        .collect();
    entries.sort_by(|a, b| a.hash.cmp(&b.hash));
    audit::record_read(
        conn,
        caller,
        AuditEvent {
            action: "screen_private",
            // Neither the records shown nor their number: both would tell
            // which buckets were asked for.
            record_ids: Vec::new(),
            result_count: 0,
            detail: json!({ "prefixes": prefixes_sent, "version": VERSION }),
        },
    )?;
    Ok(PrivateScreenResponse {
        version: VERSION,
        prefix_bits: PREFIX_BITS,
        entries,
    })
}
