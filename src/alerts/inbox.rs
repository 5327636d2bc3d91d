//! Reading alerts: `GET /v1/alerts` with sealed cursors, one alert, and
//! acknowledging them. Only the watcher reads its alerts.
use super::consumer::alert_context;
use super::view::{Alert, AlertPage};
use super::{AlertError, AlertKeys};
use crate::audit::{self, AuditEvent};
use crate::auth::Caller;
use crate::cursor::{CursorKey, Feed};
use crate::storage::alerts::{self as store, AlertRow};
use crate::storage::{now, DbConnection};
use serde_json::json;

/// The most alerts one page may carry.
pub const MAX_ALERTS: i64 = 1000;

/// An alert row opened for its owner.
pub(crate) fn open(keys: &AlertKeys, row: &AlertRow) -> Result<Alert, AlertError> {
    let plain = keys.open(&alert_context(&row.id), &row.sealed)?;
    let mut alert: Alert =
        serde_json::from_slice(&plain).map_err(|e| AlertError::Key(format!("alert: {e}")))?;
    alert.acknowledged_at = row.acknowledged_at.map(|a| a.and_utc());
    Ok(alert)
}

fn bad_cursor() -> AlertError {
    AlertError::BadCursor("after is not a cursor this server gave your organization".into())
}

/// The caller's alerts after the cursor `after`, oldest first.
pub fn list(
    conn: &mut DbConnection,
    keys: &AlertKeys,
    cursors: &CursorKey,
    caller: &Caller,
    after: Option<&str>,
    unacknowledged_only: bool,
    limit: i64,
) -> Result<AlertPage, AlertError> {
    let org = &caller.organization;
    let after = match after.filter(|a| !a.is_empty()) {
        None => 0,
        Some(cursor) => {
            cursors
                .open_position(Feed::Alerts, org, cursor)
                .map_err(|_| bad_cursor())?
                .0
        }
    };
    let limit = limit.clamp(1, MAX_ALERTS);
    let rows = store::list(conn, org.as_str(), after, unacknowledged_only, limit)?;
    let position = rows.last().map_or(after, |r| r.change_seq);
    let items = rows
        .iter()
        .map(|row| open(keys, row))
        .collect::<Result<Vec<_>, _>>()?;
    audit::record_read(
        conn,
        caller,
        AuditEvent {
            action: "alerts.read",
            record_ids: items.iter().map(|a| a.record_id.clone()).collect(),
            result_count: items.len(),
            detail: json!({ "alerts": items.iter().map(|a| a.id.clone()).collect::<Vec<_>>() }),
        },
    )?;
    Ok(AlertPage {
        items,
        next: cursors.seal_position(Feed::Alerts, org, position, 0),
    })
}

/// One of the caller's alerts.
pub fn get(
    conn: &mut DbConnection,
    keys: &AlertKeys,
    caller: &Caller,
    id: &str,
) -> Result<Alert, AlertError> {
    let row = store::find(conn, caller.organization.as_str(), id).map_err(|e| match e {
        crate::storage::StorageError::NotFound => AlertError::NotFound,
        other => other.into(),
    })?;
    let alert = open(keys, &row)?;
    audit::record_read(
        conn,
        caller,
        AuditEvent {
            action: "alerts.get",
            record_ids: vec![alert.record_id.clone()],
            result_count: 1,
            detail: json!({ "alert": alert.id }),
        },
    )?;
    Ok(alert)
}

/// Acknowledges the caller's alerts among `ids` (again is a no-op); how
/// many of `ids` are its alerts.
pub fn acknowledge(
    conn: &mut DbConnection,
    caller: &Caller,
    ids: &[String],
) -> Result<i64, AlertError> {
    let count = store::acknowledge(conn, caller.organization.as_str(), ids, now())?;
    audit::record(
        conn,
        caller,
        AuditEvent {
            action: "alerts.acknowledge",
            record_ids: Vec::new(),
            result_count: count as usize,
            detail: json!({ "alerts": ids }),
        },
    )?;
    Ok(count)
}
