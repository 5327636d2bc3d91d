//! The durable consumer of the change feed that makes alerts.
//!
//! [`run_batch`] reads the changes after the stored position, finds the
//! watch entries whose link keys they touch (by keyed hash), renders each
//! alert for its watcher, and then, in one transaction, moves the position
//! on (compare-and-set, see `storage::alerts`) and writes the alerts, their
//! webhook outbox rows and their audit entries. A crash before the commit
//! loses nothing (the position did not move), a second server racing for
//! the same changes writes nothing, and `UNIQUE (organization, change)`
//! guards the rest: each change alerts each watcher at most once.
//!
//! What alerts, for a watcher with an entry whose link keys include the
//! address's (entries only see changes stored after they were added):
//! - a new address record it may read (`record`);
//! - a revision of an address record that it may read when it could not
//!   read the one before (`shared`);
//! - a relationship whose address end is watched, when it may read the
//!   relationship and both its ends (`relationship`);
//! - a sighting of a watched address, or of a record for one, when it may
//!   read the sighting and the record it names (`sighting`);
//! - the revocation of a record it was alerted about, if it may read it (`revocation`).
//!
//! A revision it may not read never alerts, and since alerts are per
//! watcher (random ids, cursors sealed for it, no counts of anything else),
//! nothing in its alerts tells it about writes it may not see.
use super::view::{Alert, AlertKind, WatchedEntry};
use super::watchlist::open_entry;
use super::{AlertError, AlertKeys};
use crate::audit::{self, Actor, AuditEvent};
use crate::domain::OrganizationId;
use crate::records::{self, parse_content, Disclosure};
use crate::screening::{screen_for, ScreenItem};
use crate::storage::alerts::{self as store, AlertRow};
use crate::storage::changes::{self as feed, ChangeRow, EVENT_REVOCATION};
use crate::storage::records::{self as records_store, LinkRow};
use crate::storage::webhooks::{self as webhooks_store, OutboxRow};
use crate::storage::{now, watchlists, DbConnection};
use diesel::Connection;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Changes read per batch. As large as the largest write request
/// (`records::MAX_BATCH`): on SQLite the consumer gets the write lock only
/// between the ingest's write transactions, so a smaller batch falls
/// further behind with every bulk request (measured: 2,000 lagged 30 s
/// behind a 1,843,907-address ingest).
pub const BATCH: i64 = crate::records::MAX_BATCH as i64;

/// The audit client name of alert creation.
const ALERTS_CLIENT: &str = "tracewire-alerts";

/// What one batch did.
#[derive(Debug, Default, Clone)]
pub struct BatchOutcome {
    /// Changes consumed (0: up to date, or another server took them).
    pub changes: usize,
    /// Alerts written.
    pub alerts: usize,
    /// Webhook deliveries queued.
    pub queued: usize,
}

/// The sealing context of an alert.
pub(crate) fn alert_context(id: &str) -> String {
    format!("alert\0{id}")
}

/// What a change is about: the link key to match, and the record whose
/// chain and address are screened for the alert.
struct Subject {
    key: String,
    screened: String,
}

fn subject(
    change: &ChangeRow,
    info: &HashMap<String, (String, Option<String>)>,
    links: &HashMap<String, LinkRow>,
) -> Option<Subject> {
    let (kind, link_key) = info.get(&change.record_id)?;
    let address_end = |id: &str| -> Option<Subject> {
        match info.get(id)? {
            (kind, Some(key)) if kind == "address" => Some(Subject {
                key: key.clone(),
                screened: id.to_owned(),
            }),
            _ => None,
        }
    };
    match kind.as_str() {
        "address" => address_end(&change.record_id),
        "sighting" => match link_key {
            Some(key) => Some(Subject {
                key: key.clone(),
                screened: change.record_id.clone(),
            }),
            None => address_end(&links.get(&change.record_id)?.to_id),
        },
        "relationship" => address_end(&links.get(&change.record_id)?.from_id),
        _ => None,
    }
}

/// One alert to make: which change, for whom, matching which entries.
struct Candidate<'c> {
    change: &'c ChangeRow,
    subject: &'c Subject,
    entries: Vec<String>,
}

/// Consumes up to `limit` changes after the stored position.
pub fn run_batch(
    conn: &mut DbConnection,
    keys: &AlertKeys,
    limit: i64,
) -> Result<BatchOutcome, AlertError> {
    let position = store::position(conn)?;
    let changes = feed::after(conn, position, limit)?;
    let Some(last) = changes.last().map(|c| c.seq) else {
        return Ok(BatchOutcome::default());
    };

    // What each change is about.
    let mut ids: Vec<String> = changes.iter().map(|c| c.record_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut info: HashMap<String, (String, Option<String>)> =
        records_store::match_info(conn, &ids)?
            .into_iter()
            .map(|(id, kind, key)| (id, (kind, key)))
            .collect();
    let links: HashMap<String, LinkRow> = records_store::links_of(conn, &ids)?
        .into_iter()
        .map(|l| (l.relationship_id.clone(), l))
        .collect();
    let mut ends: Vec<String> = links
        .values()
        .flat_map(|l| [l.from_id.clone(), l.to_id.clone()])
        .filter(|id| !info.contains_key(id))
        .collect();
    ends.sort();
    ends.dedup();
    info.extend(
        records_store::match_info(conn, &ends)?
            .into_iter()
            .map(|(id, kind, key)| (id, (kind, key))),
    );
    let subjects: Vec<Option<Subject>> =
        changes.iter().map(|c| subject(c, &info, &links)).collect();

    // Who watches them.
    let mut hash_of: HashMap<&str, String> = HashMap::new();
    for s in subjects.iter().flatten() {
        hash_of
            .entry(s.key.as_str())
            .or_insert_with(|| keys.hash("link", &s.key));
    }
    let hashes: Vec<String> = hash_of.values().cloned().collect();
    let mut watchers: HashMap<String, Vec<watchlists::WatchKeyRow>> = HashMap::new();
    for row in watchlists::matching(conn, &hashes)? {
        watchers.entry(row.key_hash.clone()).or_default().push(row);
    }
    let mut by_org: BTreeMap<String, Vec<Candidate<'_>>> = BTreeMap::new();
    for (change, subject) in changes.iter().zip(&subjects) {
        let Some(subject) = subject else { continue };
        let Some(rows) = watchers.get(&hash_of[subject.key.as_str()]) else {
            continue;
        };
        let mut entries: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for row in rows.iter().filter(|r| r.after_seq < change.seq) {
            entries
                .entry(row.organization_id.as_str())
                .or_default()
                .push(row.entry_hash.clone());
        }
        for (org, entries) in entries {
            by_org.entry(org.to_owned()).or_default().push(Candidate {
                change,
                subject,
                entries,
            });
        }
    }

    // Revocations alert only those alerted about the record before.
    let revoked: Vec<String> = by_org
        .values()
        .flatten()
        .filter(|c| c.change.event == EVENT_REVOCATION)
        .map(|c| keys.hash("record", &c.change.record_id))
        .collect();
    let alerted: HashSet<(String, String)> = store::alerted(conn, &revoked)?.into_iter().collect();

    let at = now();
    let mut rows = Vec::new();
    let mut audits = Vec::new();
    for (org, candidates) in &by_org {
        let made = render_for(conn, keys, org, candidates, &alerted, at)?;
        if made.is_empty() {
            continue;
        }
        let mut shown: Vec<String> = made.iter().flat_map(|(_, ids)| ids.clone()).collect();
        shown.sort();
        shown.dedup();
        audits.push((
            org.clone(),
            AuditEvent {
                action: "alerts.create",
                record_ids: shown,
                result_count: made.len(),
                detail: json!({ "alerts": made.len() }),
            },
        ));
        rows.extend(made.into_iter().map(|(row, _)| row));
    }
    let orgs: Vec<String> = audits.iter().map(|(o, _)| o.clone()).collect();
    let endpoints = if orgs.is_empty() {
        Vec::new()
    } else {
        webhooks_store::enabled_of(conn, &orgs)?
    };
    let mut outbox = Vec::new();
    for row in &rows {
        for (_, endpoint) in endpoints.iter().filter(|(o, _)| *o == row.organization_id) {
            outbox.push(OutboxRow {
                endpoint_id: endpoint.clone(),
                alert_id: row.id.clone(),
                change_seq: row.change_seq,
                attempts: 0,
                next_attempt_at: at,
                created_at: at,
            });
        }
    }

    conn.transaction(|conn| {
        if !store::advance(conn, position, last)? {
            // Another server consumed these changes first.
            return Ok(BatchOutcome::default());
        }
        store::insert(conn, &rows)?;
        webhooks_store::enqueue(conn, &outbox)?;
        for (org, event) in audits {
            let actor = Actor {
                organization: org,
                client: ALERTS_CLIENT.into(),
            };
            audit::record_for(conn, &actor, event)?;
        }
        Ok(BatchOutcome {
            changes: changes.len(),
            alerts: rows.len(),
            queued: outbox.len(),
        })
    })
}

/// The alerts of `org` among its candidates, each with the record ids it shows.
fn render_for(
    conn: &mut DbConnection,
    keys: &AlertKeys,
    org: &str,
    candidates: &[Candidate<'_>],
    alerted: &HashSet<(String, String)>,
    at: chrono::NaiveDateTime,
) -> Result<Vec<(AlertRow, Vec<String>)>, AlertError> {
    let organization = OrganizationId::parse(org)
        .map_err(|e| crate::storage::StorageError::Corrupt(e.to_string()))?;
    let reader = records::reader_for(conn, &organization)?;
    let mut ids: Vec<String> = candidates
        .iter()
        .flat_map(|c| [c.change.record_id.clone(), c.subject.screened.clone()])
        .collect();
    ids.sort();
    ids.dedup();
    let current = records_store::rows_of(conn, &ids)?;
    let revisions = records_store::revisions_of(conn, &ids)?;
    let disclosure = Disclosure::prepare(conn, &reader, &current, Some(&revisions))?;
    let by_id: HashMap<&str, &records_store::RecordRow> =
        current.iter().map(|r| (r.id.as_str(), r)).collect();

    // Which candidates alert, and the watched address each screens.
    let mut pending = Vec::new();
    let mut items = Vec::new();
    for candidate in candidates {
        let change = candidate.change;
        let id = change.record_id.as_str();
        let Some(shown) = disclosure.revision(id, change.revision) else {
            continue;
        };
        let Some(row) = by_id.get(id) else { continue };
        let record_hash = keys.hash("record", id);
        let kind = if change.event == EVENT_REVOCATION {
            if !alerted.contains(&(org.to_owned(), record_hash.clone())) {
                continue;
            }
            AlertKind::Revocation
        } else {
            let readable_before = change.revision > 1
                && disclosure
                    .history(id)
                    .iter()
                    .any(|r| r.stored_revision == change.revision - 1);
            if readable_before {
                continue;
            }
            match row.kind.as_str() {
                "address" if change.revision == 1 => AlertKind::Record,
                "address" => AlertKind::Shared,
                "relationship" => {
                    if shown.content.from.is_none() || shown.content.to.is_none() {
                        continue;
                    }
                    AlertKind::Relationship
                }
                "sighting" => {
                    let names_record = row.link_key.is_none();
                    let of_shown = shown
                        .content
                        .sighting
                        .as_ref()
                        .is_some_and(|s| s.of.is_some());
                    if names_record && !of_shown {
                        continue;
                    }
                    AlertKind::Sighting
                }
                _ => continue,
            }
        };
        // The watched address, as stored (the watcher watches it: it knows it).
        let Some(screened) = by_id.get(candidate.subject.screened.as_str()) else {
            continue;
        };
        let content = parse_content(&screened.id, &screened.body)?;
        let (Some(chain), Some(address)) = (content.chain.clone(), content.address.clone()) else {
            continue;
        };
        items.push(ScreenItem {
            chain: Some(chain),
            address,
        });
        pending.push((candidate, shown, kind, record_hash));
    }
    if pending.is_empty() {
        return Ok(Vec::new());
    }

    // One screening of every watched address, one read of the entries.
    let screenings = screen_for(conn, &reader, &items)?;
    if screenings.len() != pending.len() {
        return Err(AlertError::NotFound);
    }
    let mut entry_hashes: Vec<String> = pending
        .iter()
        .flat_map(|(c, ..)| c.entries.iter().cloned())
        .collect();
    entry_hashes.sort();
    entry_hashes.dedup();
    let mut opened: HashMap<String, WatchedEntry> = HashMap::new();
    for entry in watchlists::entries(conn, org, &entry_hashes)? {
        let hash = entry.entry_hash.clone();
        let entry = open_entry(keys, &entry)?;
        opened.insert(
            hash,
            WatchedEntry {
                id: entry.id,
                label: entry.label,
            },
        );
    }

    let mut made = Vec::new();
    for ((candidate, shown, kind, record_hash), screening) in pending.into_iter().zip(screenings) {
        let change = candidate.change;
        let id = change.record_id.as_str();
        let mut matched: Vec<&String> = candidate.entries.iter().collect();
        matched.sort();
        matched.dedup();
        let watched: Vec<WatchedEntry> = matched
            .into_iter()
            .filter_map(|hash| opened.get(hash).cloned())
            .collect();
        let mut shows: Vec<String> = vec![id.to_owned()];
        shows.extend(screening.records.iter().map(|r| r.content.id.clone()));
        for linked in screening.wallets.iter().chain(&screening.entities) {
            shows.push(linked.relationship.content.id.clone());
            shows.push(linked.record.content.id.clone());
        }
        let tombstone = kind == AlertKind::Revocation;
        let alert = Alert {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            created_at: at.and_utc(),
            acknowledged_at: None,
            watched,
            record_id: id.to_owned(),
            revision: shown.content.revision,
            content_hash: (!tombstone).then(|| shown.content_hash.clone()),
            record: (!tombstone).then(|| shown.content.clone()),
            screening,
        };
        let body = serde_json::to_vec(&alert).unwrap_or_default();
        made.push((
            AlertRow {
                sealed: keys.seal(&alert_context(&alert.id), &body),
                id: alert.id,
                organization_id: org.to_owned(),
                change_seq: change.seq,
                record_hash,
                kind: kind.as_str().to_owned(),
                created_at: at,
                acknowledged_at: None,
            },
            shows,
        ));
    }
    Ok(made)
}
