//! The change feed: every new revision, revocation and sighting the caller may see,
//! in the order they were committed, with a cursor to resume from.
//!
//! Events come from the `changes` table, whose sequence numbers are handed
//! out under a lock held until the writing transaction commits (see
//! `crate::storage::changes`): a number becomes visible only after every
//! smaller one, so following the cursor never skips an event, however
//! writers interleave. Each event is shown if the reader could read that
//! revision under the revision's own sharing; the cursor moves past events
//! the reader may not see, so they are not even counted.
use super::{content_sharing, parse_content, reader_for, redact, RecordContent, RecordError};
use crate::access::can_read;
use crate::audit::{self, AuditEvent};
use crate::auth::Caller;
use crate::domain::OrganizationId;
use crate::storage::changes::{self as store_changes, EVENT_REVOCATION};
use crate::storage::records as store;
use crate::storage::{DbConnection, StorageError};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use utoipa::ToSchema;

/// The most events one page may carry.
pub const MAX_CHANGES: i64 = 1000;
/// How many stored events one request looks at, at most, per event it may return.
const SCAN_FACTOR: i64 = 20;

/// One event of the feed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangeEvent {
    /// The event's position; pass the page's `next` (not this) to resume.
    pub cursor: String,
    /// `revision` (a new record or a new revision of one), `sighting` (a new
    /// sighting record) or `revocation` (a tombstone).
    pub event: String,
    pub record_id: String,
    pub revision: i32,
    /// When the hub stored it.
    pub at: NaiveDateTime,
    /// The revision's content, as you may see it (absent for revocations:
    /// read the record or its revisions if you need more than the tombstone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
}

/// A page of the feed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangePage {
    pub items: Vec<ChangeEvent>,
    /// The cursor to ask from next time (`after`); always present. When
    /// there was nothing new it is the cursor you sent.
    pub next: String,
}

/// Parses a cursor (`0`, or the `next` of an earlier page).
pub fn parse_cursor(cursor: Option<&str>) -> Result<i64, String> {
    match cursor {
        None | Some("") => Ok(0),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| format!("{text:?} is not a cursor from this feed")),
    }
}

fn read_changes(
    conn: &mut DbConnection,
    reader: &crate::access::Reader,
    after: i64,
    limit: i64,
) -> Result<ChangePage, RecordError> {
    let limit = limit.clamp(1, MAX_CHANGES);
    let mut cursor = after;
    let mut items = Vec::new();
    let mut scanned = 0;
    while (items.len() as i64) < limit && scanned < limit * SCAN_FACTOR {
        let rows = store_changes::after(conn, cursor, limit)?;
        if rows.is_empty() {
            break;
        }
        scanned += rows.len() as i64;
        let mut ids: Vec<String> = rows.iter().map(|r| r.record_id.clone()).collect();
        ids.sort();
        ids.dedup();
        let sources: HashMap<String, String> = store::sources_of(conn, &ids)?.into_iter().collect();
        let revisions: HashMap<(String, i32), store::RevisionRow> =
            store::revisions_of(conn, &ids)?
                .into_iter()
                .map(|r| ((r.record_id.clone(), r.revision), r))
                .collect();
        for row in rows {
            if items.len() as i64 == limit {
                break;
            }
            cursor = row.seq;
            let key = (row.record_id.clone(), row.revision);
            let (Some(revision), Some(source)) = (revisions.get(&key), sources.get(&row.record_id))
            else {
                return Err(StorageError::Corrupt(format!(
                    "change {} names a missing revision {}@{}",
                    row.seq, row.record_id, row.revision
                ))
                .into());
            };
            let content = parse_content(&row.record_id, &revision.body)?;
            let source =
                OrganizationId::parse(source).map_err(|e| StorageError::Corrupt(e.to_string()))?;
            let sharing = content_sharing(&content).ok_or_else(|| {
                StorageError::Corrupt(format!("record {}: invalid sharing", row.record_id))
            })?;
            if !can_read(reader, &source, &sharing) {
                continue;
            }
            let tombstone = row.event == EVENT_REVOCATION;
            items.push(ChangeEvent {
                cursor: row.seq.to_string(),
                event: row.event,
                record_id: row.record_id,
                revision: row.revision,
                at: row.at,
                record: (!tombstone).then(|| redact(content, &source, reader)),
                content_hash: (!tombstone).then(|| revision.content_hash.clone()),
            });
        }
    }
    Ok(ChangePage {
        items,
        next: cursor.to_string(),
    })
}

/// The events after `after` that the caller may see, at most `limit`. Audited.
pub fn changes(
    conn: &mut DbConnection,
    caller: &Caller,
    after: i64,
    limit: i64,
) -> Result<ChangePage, RecordError> {
    let reader = reader_for(conn, &caller.organization)?;
    let page = read_changes(conn, &reader, after, limit)?;
    audit::record_read(
        conn,
        caller,
        AuditEvent {
            action: "changes.read",
            record_ids: page
                .items
                .iter()
                .map(|e| format!("{}@{}", e.record_id, e.revision))
                .collect(),
            result_count: page.items.len(),
            detail: json!({ "after": after, "limit": limit, "next": page.next }),
        },
    )?;
    Ok(page)
}
