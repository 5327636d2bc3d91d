//! Reading records back: one record, pages, exports, counts and
//! revisions, each through the reader's [`Disclosure`], and each audited.
use super::{reader_for, Disclosure, RecordError, RecordPage, RecordView, RevisionView};
use super::{MAX_EXPORT, MAX_PAGE};
use crate::access::Reader;
use crate::audit::{self, AuditEvent};
use crate::auth::Caller;
use crate::storage::records::{self as store, RecordFilter, RecordRow};
use crate::storage::{DbConnection, StorageError};
use serde_json::json;

/// The rows `reader` may read, in order, as it sees them (rows it may not
/// read are left out). Every path showing current records renders here,
/// through [`Disclosure`].
pub(crate) fn present_all(
    conn: &mut DbConnection,
    reader: &Reader,
    rows: &[RecordRow],
) -> Result<Vec<RecordView>, RecordError> {
    let disclosure = Disclosure::prepare(conn, reader, rows, None)?;
    Ok(rows
        .iter()
        .filter_map(|row| disclosure.record(&row.id))
        .collect())
}

/// The revisions of a record that `reader` could read under each revision's
/// own sharing, oldest first; [`RecordError::NotFound`] when there are none.
fn read_revisions(
    conn: &mut DbConnection,
    reader: &Reader,
    id: &str,
) -> Result<Vec<RevisionView>, RecordError> {
    let (row, _) = store::find(conn, id)?.ok_or(RecordError::NotFound)?;
    let revisions = store::revisions(conn, id)?;
    let disclosure = Disclosure::prepare(conn, reader, &[row], Some(&revisions))?;
    let visible = disclosure.history(id);
    if visible.is_empty() {
        return Err(RecordError::NotFound);
    }
    Ok(visible)
}

/// One record, if `reader` may see it; otherwise [`RecordError::NotFound`],
/// exactly as for a record that does not exist.
pub(super) fn read_one(
    conn: &mut DbConnection,
    reader: &Reader,
    id: &str,
) -> Result<RecordView, RecordError> {
    let (row, _) = store::find(conn, id)?.ok_or(RecordError::NotFound)?;
    present_all(conn, reader, &[row])?
        .pop()
        .ok_or(RecordError::NotFound)
}

/// A page of the records `reader` may see that match `filter`.
fn read_page(
    conn: &mut DbConnection,
    reader: &Reader,
    filter: &RecordFilter,
    limit: i64,
) -> Result<RecordPage, RecordError> {
    let limit = limit.clamp(1, MAX_EXPORT);
    let mut rows = store::list(conn, reader, filter, limit + 1)?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    let items = present_all(conn, reader, &rows)?;
    Ok(RecordPage { items, next })
}

/// Appends a read entry; a miss is recorded too (with no result).
pub(super) fn audit_read<T>(
    conn: &mut DbConnection,
    caller: &Caller,
    action: &'static str,
    result: &Result<T, RecordError>,
    ids: impl FnOnce(&T) -> Vec<String>,
    detail: serde_json::Value,
) -> Result<(), StorageError> {
    let record_ids = match result {
        Ok(value) => ids(value),
        Err(_) => Vec::new(),
    };
    let result_count = record_ids.len();
    audit::record_read(
        conn,
        caller,
        AuditEvent {
            action,
            record_ids,
            result_count,
            detail,
        },
    )
}

/// One record, if the caller may see it; otherwise [`RecordError::NotFound`],
/// exactly as for a record that does not exist. The read is audited.
pub fn get(conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<RecordView, RecordError> {
    let reader = reader_for(conn, &caller.organization)?;
    let result = read_one(conn, &reader, id);
    audit_read(
        conn,
        caller,
        "records.read",
        &result,
        |v| vec![v.content.id.clone()],
        json!({ "requested": id }),
    )?;
    result
}

/// A page of the records the caller may see that match `filter`. The read is audited.
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    filter: &RecordFilter,
    limit: i64,
) -> Result<RecordPage, RecordError> {
    let reader = reader_for(conn, &caller.organization)?;
    let result = read_page(conn, &reader, filter, limit.min(MAX_PAGE));
    let detail = json!({ "filter": format!("{filter:?}"), "limit": limit });
    audit_read(
        conn,
        caller,
        "records.list",
        &result,
        |page| page.items.iter().map(|v| v.content.id.clone()).collect(),
        detail,
    )?;
    result
}

/// Like [`list`], with pages of up to [`MAX_EXPORT`] records, for CSV and
/// JSON-lines exports. The read is audited as an export.
pub fn export(
    conn: &mut DbConnection,
    caller: &Caller,
    filter: &RecordFilter,
    limit: i64,
    format: &str,
) -> Result<RecordPage, RecordError> {
    let reader = reader_for(conn, &caller.organization)?;
    let result = read_page(conn, &reader, filter, limit);
    let detail = json!({ "filter": format!("{filter:?}"), "limit": limit, "format": format });
    audit_read(
        conn,
        caller,
        "records.export",
        &result,
        |page| page.items.iter().map(|v| v.content.id.clone()).collect(),
        detail,
    )?;
    result
}

/// How many records the caller may see match `filter`. Invisible records
/// never count. The read is audited (with the count, no ids).
pub fn count(
    conn: &mut DbConnection,
    caller: &Caller,
    filter: &RecordFilter,
) -> Result<i64, RecordError> {
    let reader = reader_for(conn, &caller.organization)?;
    let count = store::count(conn, &reader, filter)?;
    audit::record_read(
        conn,
        caller,
        AuditEvent {
            action: "records.count",
            record_ids: Vec::new(),
            result_count: count as usize,
            detail: json!({ "filter": format!("{filter:?}") }),
        },
    )?;
    Ok(count)
}

/// The revisions of a record the caller could read, oldest first. The read is audited.
pub fn revisions(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<Vec<RevisionView>, RecordError> {
    let reader = reader_for(conn, &caller.organization)?;
    let result = read_revisions(conn, &reader, id);
    let detail = json!({ "requested": id });
    audit_read(
        conn,
        caller,
        "records.revisions",
        &result,
        |revisions| {
            revisions
                .iter()
                .map(|r| format!("{}@{}", r.content.id, r.stored_revision))
                .collect()
        },
        detail,
    )?;
    result
}
