//! The change feed: every new revision, revocation and sighting the caller may see,
//! in the order they were committed, with a cursor to resume from.
//!
//! Events come from the `changes` table, whose sequence numbers are handed
//! out under a lock held until the writing transaction commits (see
//! `crate::storage::changes`): a number becomes visible only after every
//! smaller one, so following the cursor never skips an event, however
//! writers interleave. An event is shown when the reader may see that
//! revision ([`Disclosure::revision`]: it may read the record now, and that
//! revision under its own sharing), rendered as the reader sees it.
//!
//! Cursors are opaque ([`crate::cursor`]): sealed for the reader's
//! organization, fresh each time, so neither their values nor how they
//! change tell a reader anything about events it may not see.
use super::{reader_for, Disclosure, RecordContent, RecordError};
use crate::audit::{self, AuditEvent};
use crate::auth::Caller;
use crate::cursor::{CursorKey, Feed};
use crate::domain::OrganizationId;
use crate::storage::changes::{self as store_changes, EVENT_REVOCATION};
use crate::storage::records as store;
use crate::storage::DbConnection;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// The most events one page may carry.
pub const MAX_CHANGES: i64 = 1000;
/// How many stored events one request looks at, at most, per event it may return.
const SCAN_FACTOR: i64 = 20;

/// One event of the feed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangeEvent {
    /// An opaque cursor just after this event (resume from it with `after`,
    /// or better, from the page's `next`).
    pub cursor: String,
    /// `revision` (a new record or a new revision of one), `sighting` (a new
    /// sighting record) or `revocation` (a tombstone).
    pub event: String,
    pub record_id: String,
    /// The revision's number among the revisions of the record you may see.
    pub revision: i32,
    /// When the hub stored it.
    pub at: DateTime<Utc>,
    /// The revision's content, as you may see it (absent for revocations:
    /// read the record or its revisions if you need more than the tombstone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordContent>,
    /// SHA-256 of `record` exactly as shown to you.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// The revision's real number, for the audit log only.
    #[serde(skip)]
    pub stored_revision: i32,
}

/// A page of the feed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangePage {
    pub items: Vec<ChangeEvent>,
    /// The opaque cursor to ask from next time (`after`); always present,
    /// and new on every answer, even when there was nothing new.
    pub next: String,
}

/// Where a reader's cursor points: the last sequence number it has passed.
pub fn open_cursor(
    key: &CursorKey,
    reader: &OrganizationId,
    cursor: Option<&str>,
) -> Result<i64, RecordError> {
    match cursor {
        None | Some("") => Ok(0),
        Some(text) => key
            .open_position(Feed::Changes, reader, text)
            .map(|(seq, _)| seq)
            .map_err(|_| {
                RecordError::BadCursor(
                    "after is not a cursor this server gave your organization".into(),
                )
            }),
    }
}

fn read_changes(
    conn: &mut DbConnection,
    reader: &crate::access::Reader,
    key: &CursorKey,
    after: i64,
    limit: i64,
) -> Result<(ChangePage, i64), RecordError> {
    let limit = limit.clamp(1, MAX_CHANGES);
    let seal = |seq: i64| key.seal_position(Feed::Changes, &reader.organization, seq, 0);
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
        let current = store::rows_of(conn, &ids)?;
        let revisions = store::revisions_of(conn, &ids)?;
        let disclosure = Disclosure::prepare(conn, reader, &current, Some(&revisions))?;
        for row in rows {
            if items.len() as i64 == limit {
                break;
            }
            cursor = row.seq;
            let Some(shown) = disclosure.revision(&row.record_id, row.revision) else {
                continue;
            };
            let tombstone = row.event == EVENT_REVOCATION;
            items.push(ChangeEvent {
                cursor: seal(row.seq),
                event: row.event,
                record_id: row.record_id,
                revision: shown.content.revision,
                stored_revision: row.revision,
                at: row.at.and_utc(),
                content_hash: (!tombstone).then_some(shown.content_hash),
                record: (!tombstone).then_some(shown.content),
            });
        }
    }
    Ok((
        ChangePage {
            items,
            next: seal(cursor),
        },
        cursor,
    ))
}

/// The events after the cursor `after` that the caller may see, at most
/// `limit`. Audited (with the positions, which only the audit sees).
pub fn changes(
    conn: &mut DbConnection,
    caller: &Caller,
    key: &CursorKey,
    after: Option<&str>,
    limit: i64,
) -> Result<ChangePage, RecordError> {
    let after = open_cursor(key, &caller.organization, after)?;
    let reader = reader_for(conn, &caller.organization)?;
    let (page, next) = read_changes(conn, &reader, key, after, limit)?;
    audit::record_read(
        conn,
        caller,
        AuditEvent {
            action: "changes.read",
            record_ids: page
                .items
                .iter()
                .map(|e| format!("{}@{}", e.record_id, e.stored_revision))
                .collect(),
            result_count: page.items.len(),
            detail: json!({ "after": after, "limit": limit, "next": next }),
        },
    )?;
    Ok(page)
}
