//! The audit log: who read or wrote which records, when, with what result.
//!
//! Entries are hash-chained: each entry's hash is SHA-256 over the previous
//! entry's hash and the entry's own canonical content, so changing,
//! removing or reordering any past entry breaks the chain at that point.
//! Write entries are appended in the same transaction as the write.
use crate::auth::Caller;
use crate::storage::audit::{self, AuditRow};
use crate::storage::{now, DbConnection, StorageError};
use serde_json::json;
use sha2::{Digest, Sha256};

/// What happened, for one audit entry.
pub struct AuditEvent {
    pub action: &'static str,
    pub record_ids: Vec<String>,
    pub result_count: usize,
    pub detail: serde_json::Value,
}

/// Who performed an administrative action: an API caller, or the operator
/// at the command line.
#[derive(Debug, Clone)]
pub struct Actor {
    pub organization: String,
    pub client: String,
}

impl Actor {
    /// The operator running `tracewire admin …` (or the demo setup) on the
    /// server's own database.
    pub fn command_line() -> Actor {
        Actor {
            organization: "operator".into(),
            client: "tracewire-cli".into(),
        }
    }
}

impl From<&Caller> for Actor {
    fn from(caller: &Caller) -> Actor {
        Actor {
            organization: caller.organization.to_string(),
            client: caller.client_id.clone(),
        }
    }
}

/// The audit `record_ids` entry naming an organization an admin action
/// concerns (how a partner finds the admin history about itself).
pub fn concerns(organization: &str) -> String {
    format!("organization:{organization}")
}

/// Appends the entry of an administrative action, inside the action's own
/// transaction: it commits with the change or not at all. `concerned` are
/// the organizations it is about; each can read it in its history.
pub fn record_admin(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &'static str,
    concerned: &[&str],
    detail: serde_json::Value,
) -> Result<(), StorageError> {
    let record_ids: Vec<String> = concerned.iter().map(|o| concerns(o)).collect();
    let row = AuditRow {
        seq: 0,
        at: now(),
        organization: actor.organization.clone(),
        client: actor.client.clone(),
        action: action.into(),
        result_count: record_ids.len() as i64,
        record_ids: serde_json::to_string(&record_ids).unwrap_or_else(|_| "[]".into()),
        detail: detail.to_string(),
        prev_hash: String::new(),
        hash: String::new(),
    };
    audit::append_many(conn, false, vec![row], entry_hash)
}

fn entry_hash(row: &AuditRow) -> String {
    let content = json!({
        "seq": row.seq,
        "at": row.at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        "organization": row.organization,
        "client": row.client,
        "action": row.action,
        "record_ids": row.record_ids,
        "result_count": row.result_count,
        "detail": row.detail,
    });
    let mut hasher = Sha256::new();
    hasher.update(row.prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(content.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// Appends an entry for `caller` (inside the caller's transaction, if any:
/// a write's entry commits with the write).
pub fn record(
    conn: &mut DbConnection,
    caller: &Caller,
    event: AuditEvent,
) -> Result<(), StorageError> {
    append(conn, caller, event, false)
}

/// Appends an entry for `actor` inside the caller's transaction (work the
/// server does for an organization on its own, such as making alerts).
pub fn record_for(
    conn: &mut DbConnection,
    actor: &Actor,
    event: AuditEvent,
) -> Result<(), StorageError> {
    let row = AuditRow {
        seq: 0,
        at: now(),
        organization: actor.organization.clone(),
        client: actor.client.clone(),
        action: event.action.into(),
        record_ids: serde_json::to_string(&event.record_ids).unwrap_or_else(|_| "[]".into()),
        result_count: event.result_count as i64,
        detail: event.detail.to_string(),
        prev_hash: String::new(),
        hash: String::new(),
    };
    audit::append_many(conn, false, vec![row], entry_hash)
}

/// Appends the entry of a read, in its own transaction (call it outside any
/// transaction), together with the entries of reads running at the same
/// time (see `storage::audit::ReadEntryQueue`); returns once it has
/// committed. On PostgreSQL its commit does not wait for the WAL flush
/// (`synchronous_commit = off` for this transaction only): the entry is
/// still chained and written, but a crash in the next fraction of a second
/// can lose the last read entries, never a write's.
pub fn record_read(
    conn: &mut DbConnection,
    caller: &Caller,
    event: AuditEvent,
) -> Result<(), StorageError> {
    append(conn, caller, event, true)
}

fn append(
    conn: &mut DbConnection,
    caller: &Caller,
    event: AuditEvent,
    read: bool,
) -> Result<(), StorageError> {
    let row = AuditRow {
        seq: 0,
        at: now(),
        organization: caller.organization.to_string(),
        client: caller.client_id.clone(),
        action: event.action.into(),
        record_ids: serde_json::to_string(&event.record_ids).unwrap_or_else(|_| "[]".into()),
        result_count: event.result_count as i64,
        detail: event.detail.to_string(),
        prev_hash: String::new(),
        hash: String::new(),
    };
    match (read, audit::current_read_queue()) {
        // Concurrent reads share one append (group commit).
        (true, Some(queue)) => queue.append(conn, row, entry_hash),
        _ => audit::append_many(conn, read, vec![row], entry_hash),
    }
}

/// The outcome of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Intact {
        entries: i64,
    },
    /// The first entry (by sequence number) where the chain does not hold.
    Broken {
        seq: i64,
        reason: String,
    },
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Walks the whole chain, in pages, and reports the first broken link.
///
/// The chain and its recorded tip are read in one consistent snapshot (see
/// `storage::audit::in_snapshot`), so entries appended meanwhile by a live
/// server are neither half-seen nor mistaken for a truncated log.
pub fn verify(conn: &mut DbConnection) -> Result<Verification, StorageError> {
    audit::in_snapshot(conn, verify_snapshot)
}

fn verify_snapshot(conn: &mut DbConnection) -> Result<Verification, StorageError> {
    let (head_seq, head_hash) = audit::head(conn)?;
    let mut expected_seq = 1;
    let mut expected_prev = GENESIS.to_owned();
    while expected_seq <= head_seq {
        let page: Vec<AuditRow> = audit::entries_after(conn, expected_seq - 1, 5_000)?
            .into_iter()
            .take_while(|row| row.seq <= head_seq)
            .collect();
        if page.is_empty() {
            break;
        }
        for row in page {
            let broken = |reason: String| {
                Ok(Verification::Broken {
                    seq: row.seq,
                    reason,
                })
            };
            if row.seq != expected_seq {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    reason: format!("entry {expected_seq} is missing"),
                });
            }
            if row.prev_hash != expected_prev {
                return broken("does not link to the previous entry's hash".into());
            }
            if entry_hash(&row) != row.hash {
                return broken("content does not match its hash (entry altered)".into());
            }
            expected_prev = row.hash;
            expected_seq += 1;
        }
    }
    let last = expected_seq - 1;
    if head_seq != last || head_hash != expected_prev {
        return Ok(Verification::Broken {
            seq: last + 1,
            reason: format!("the log ends at entry {last} but the recorded tip is entry {head_seq} (entries removed from the end)"),
        });
    }
    if let Some(extra) = audit::entries_after(conn, head_seq, 1)?.first() {
        return Ok(Verification::Broken {
            seq: extra.seq,
            reason: format!(
                "entry {} follows the recorded tip, entry {head_seq} (the tip was rewound)",
                extra.seq
            ),
        });
    }
    Ok(Verification::Intact { entries: last })
}
