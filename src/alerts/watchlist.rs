//! Watch entries: the addresses an organization wants to hear about.
//!
//! An entry is an address in any form (parsed like every address:
//! [`lookup_forms`]), so every linked form is watched: its link keys are
//! stored as keyed hashes ([`AlertKeys::hash`]), and the entry is known by
//! the keyed hash of those keys together, so adding the same address again,
//! however typed, is a no-op. The address as typed and the partner's label
//! are sealed for the owner, who alone can list them: no other partner and
//! no admin path reads watch entries, and no log line carries them.
use super::{AlertError, AlertKeys};
use crate::audit::{self, AuditEvent};
use crate::auth::Caller;
use crate::cursor::{CursorKey, Feed};
use crate::domain::chains::lookup_forms;
use crate::domain::control_character;
use crate::error::FieldError;
use crate::storage::watchlists::{self as store, WatchEntryRow, WatchKeyRow};
use crate::storage::{changes, now, DbConnection};
use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeSet, HashSet};
use utoipa::ToSchema;

/// The most entries one organization may watch.
pub const MAX_ENTRIES: i64 = 1_000_000;
/// The most entries one request may add or remove.
pub const MAX_WATCH_BATCH: usize = 10_000;
/// The most entries one page lists.
pub const MAX_WATCH_PAGE: i64 = 1000;
/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 256;
const MAX_ADDRESS_CHARS: usize = 512;

/// One address to watch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchInput {
    /// Chain id, alias or asset ticker; leave it out to watch the address on
    /// every chain where it is valid.
    #[serde(default)]
    pub chain: Option<String>,
    /// The address in any of its forms.
    pub address: String,
    /// Your own opaque reference (a customer id), up to 256 characters.
    /// Stored sealed; shown only to your organization, in listings and alerts.
    #[serde(default)]
    pub label: Option<String>,
}

/// A watch entry as its owner sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WatchEntry {
    /// The entry's id (a keyed hash of the address's link keys).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The address as you sent it.
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What a bulk add did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WatchAdded {
    /// Entries added by this request.
    pub added: usize,
    /// Entries of the request that were already watched (left as they were).
    pub already_watched: usize,
    /// Entries your organization watches now.
    pub total: i64,
}

/// A page of watch entries.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WatchPage {
    pub items: Vec<WatchEntry>,
    /// The cursor for the next page (`after`); absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// What is sealed in an entry.
#[derive(Serialize, Deserialize)]
struct Sealed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chain: Option<String>,
    address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
}

fn seal_context(organization: &str, entry_hash: &str) -> String {
    format!("watch\0{organization}\0{entry_hash}")
}

/// A parsed entry: its hash and the hashes of its link keys.
struct Parsed {
    entry_hash: String,
    key_hashes: Vec<String>,
}

fn parse(
    keys: &AlertKeys,
    index: usize,
    item: &WatchInput,
    errors: &mut Vec<FieldError>,
) -> Option<Parsed> {
    let field = |name: &str, message: String| FieldError {
        index: Some(index),
        field: name.into(),
        message,
    };
    if item.address.chars().count() > MAX_ADDRESS_CHARS {
        errors.push(field(
            "address",
            format!("longer than {MAX_ADDRESS_CHARS} characters"),
        ));
        return None;
    }
    if let Some(label) = &item.label {
        if label.chars().count() > MAX_LABEL_CHARS {
            errors.push(field(
                "label",
                format!("longer than {MAX_LABEL_CHARS} characters"),
            ));
        } else if let Some(c) = control_character(label, false) {
            errors.push(field(
                "label",
                format!(
                    "must not contain control characters; found U+{:04X}",
                    c as u32
                ),
            ));
        }
    }
    match lookup_forms(item.chain.as_deref(), &item.address) {
        Ok(forms) => {
            let link_keys: BTreeSet<String> = forms.iter().flat_map(|f| f.link_keys()).collect();
            let joined: Vec<&str> = link_keys.iter().map(String::as_str).collect();
            Some(Parsed {
                entry_hash: keys.hash("entry", &joined.join("\n")),
                key_hashes: link_keys.iter().map(|k| keys.hash("link", k)).collect(),
            })
        }
        Err(message) => {
            errors.push(field("address", message));
            None
        }
    }
}

fn parse_all(keys: &AlertKeys, items: &[WatchInput]) -> Result<Vec<Parsed>, AlertError> {
    if items.is_empty() || items.len() > MAX_WATCH_BATCH {
        return Err(AlertError::Validation(vec![FieldError::new(
            "items",
            format!("must hold 1 to {MAX_WATCH_BATCH} entries"),
        )]));
    }
    let mut errors = Vec::new();
    let parsed: Vec<Parsed> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse(keys, i, item, &mut errors))
        .collect();
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(AlertError::Validation(errors))
    }
}

/// Adds every entry, or none when any is invalid (422 naming each). Entries
/// already watched are left as they were. Changes stored before the add
/// never alert on the new entries (screen the addresses for what is known).
pub fn add(
    conn: &mut DbConnection,
    keys: &AlertKeys,
    caller: &Caller,
    items: &[WatchInput],
) -> Result<WatchAdded, AlertError> {
    let parsed = parse_all(keys, items)?;
    let org = caller.organization.as_str();
    conn.transaction(|conn| {
        // Take the feed's write lock first: no change commits between the
        // position read here and this commit, so "after" is exact.
        changes::lock_for_write(conn, org)?;
        let after_seq = changes::head(conn)?;
        let hashes: Vec<String> = parsed.iter().map(|p| p.entry_hash.clone()).collect();
        let existing: HashSet<String> = store::existing(conn, org, &hashes)?.into_iter().collect();
        let at = now();
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        let mut key_rows = Vec::new();
        for (item, p) in items.iter().zip(&parsed) {
            if existing.contains(&p.entry_hash) || !seen.insert(p.entry_hash.clone()) {
                continue;
            }
            let sealed = Sealed {
                chain: item.chain.clone(),
                address: item.address.trim().to_owned(),
                label: item.label.clone(),
            };
            let plain = serde_json::to_vec(&sealed).unwrap_or_default();
            entries.push(WatchEntryRow {
                organization_id: org.to_owned(),
                entry_hash: p.entry_hash.clone(),
                sealed: keys.seal(&seal_context(org, &p.entry_hash), &plain),
                after_seq,
                created_at: at,
            });
            key_rows.extend(p.key_hashes.iter().map(|k| WatchKeyRow {
                key_hash: k.clone(),
                organization_id: org.to_owned(),
                entry_hash: p.entry_hash.clone(),
                after_seq,
            }));
        }
        let before = store::count(conn, org)?;
        if before + entries.len() as i64 > MAX_ENTRIES {
            return Err(AlertError::LimitReached(format!(
                "a watchlist holds at most {MAX_ENTRIES} entries: yours has {before}, \
                 this request adds {}",
                entries.len()
            )));
        }
        store::insert(conn, &entries, &key_rows)?;
        let added = entries.len();
        audit::record(
            conn,
            caller,
            AuditEvent {
                action: "watchlist.add",
                record_ids: Vec::new(),
                result_count: added,
                detail: json!({ "items": items.len(), "added": added }),
            },
        )?;
        Ok(WatchAdded {
            added,
            already_watched: items.len() - added,
            total: before + added as i64,
        })
    })
}

/// Removes the entries naming these addresses (however typed); how many were watched.
pub fn remove(
    conn: &mut DbConnection,
    keys: &AlertKeys,
    caller: &Caller,
    items: &[WatchInput],
) -> Result<usize, AlertError> {
    let parsed = parse_all(keys, items)?;
    let hashes: Vec<String> = parsed.into_iter().map(|p| p.entry_hash).collect();
    remove_ids(conn, caller, &hashes)
}

/// Removes the entries with these ids; how many there were.
pub fn remove_ids(
    conn: &mut DbConnection,
    caller: &Caller,
    ids: &[String],
) -> Result<usize, AlertError> {
    conn.transaction(|conn| {
        let removed = store::remove(conn, caller.organization.as_str(), ids)?;
        audit::record(
            conn,
            caller,
            AuditEvent {
                action: "watchlist.remove",
                record_ids: Vec::new(),
                result_count: removed,
                detail: json!({ "items": ids.len(), "removed": removed }),
            },
        )?;
        Ok(removed)
    })
}

/// How many entries the caller's organization watches.
pub fn count(conn: &mut DbConnection, caller: &Caller) -> Result<i64, AlertError> {
    Ok(store::count(conn, caller.organization.as_str())?)
}

/// Opens one entry for its owner.
pub(crate) fn open_entry(keys: &AlertKeys, row: &WatchEntryRow) -> Result<WatchEntry, AlertError> {
    let plain = keys.open(
        &seal_context(&row.organization_id, &row.entry_hash),
        &row.sealed,
    )?;
    let sealed: Sealed =
        serde_json::from_slice(&plain).map_err(|e| AlertError::Key(format!("watch entry: {e}")))?;
    Ok(WatchEntry {
        id: row.entry_hash.clone(),
        chain: sealed.chain,
        address: sealed.address,
        label: sealed.label,
        created_at: row.created_at.and_utc(),
    })
}

/// A page of the caller's entries (in id order), after the cursor `after`.
pub fn list(
    conn: &mut DbConnection,
    keys: &AlertKeys,
    cursors: &CursorKey,
    caller: &Caller,
    after: Option<&str>,
    limit: i64,
) -> Result<WatchPage, AlertError> {
    let org = &caller.organization;
    let after = match after.filter(|a| !a.is_empty()) {
        None => None,
        Some(cursor) => {
            let bytes = cursors.open(Feed::Watchlist, org, cursor).map_err(|_| {
                AlertError::BadCursor(
                    "after is not a cursor this server gave your organization".into(),
                )
            })?;
            Some(String::from_utf8(bytes).map_err(|_| {
                AlertError::BadCursor(
                    "after is not a cursor this server gave your organization".into(),
                )
            })?)
        }
    };
    let limit = limit.clamp(1, MAX_WATCH_PAGE);
    let rows = store::list(conn, org.as_str(), after.as_deref(), limit + 1)?;
    let more = rows.len() as i64 > limit;
    let items = rows
        .iter()
        .take(limit as usize)
        .map(|row| open_entry(keys, row))
        .collect::<Result<Vec<_>, _>>()?;
    let next = more
        .then(|| items.last())
        .flatten()
        .map(|last| cursors.seal(Feed::Watchlist, org, last.id.as_bytes()));
    Ok(WatchPage { items, next })
}
