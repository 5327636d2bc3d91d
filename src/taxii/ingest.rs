//! Envelopes POSTed to a collection: their objects stored as records of the
//! caller's organization (provenance `import`), and the status resources
//! that say what became of each object.
//!
//! An object is remembered by its STIX id for the organization that
//! posted it (`crate::storage::stix_imports`): the same object posted again
//! with the same version (`modified`, else `created`) changes nothing; a
//! newer version is a new revision of the same record; an older one is
//! reported and not applied. Later envelopes may refer to objects of
//! earlier ones (a relationship to an address imported last week).
use super::{Collection, StatusDetail, StatusResource, TaxiiError};
use crate::audit::{self, AuditEvent};
use crate::auth::Caller;
use crate::domain::Scope;
use crate::records::{self, RecordError};
use crate::stix;
use crate::stix::import::{self, Outcome, Ref, Submission};
use crate::storage::stix_imports::{self, StixImportRow};
use crate::storage::taxii::{self as statuses, StatusRow};
use crate::storage::{now, DbConnection, StorageError};
use diesel::Connection;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

/// What to do with one submission, given what earlier envelopes stored.
#[derive(Debug, Clone, PartialEq)]
enum Action {
    Create,
    /// A newer version of the object behind this record.
    Update(String),
    /// Nothing to write: this record already holds this version or a newer one.
    Keep(String, String),
}

fn action(submission: &Submission, earlier: &HashMap<String, StixImportRow>) -> Action {
    let known = std::iter::once(&submission.key)
        .chain(&submission.aliases)
        .find_map(|id| earlier.get(id));
    let Some(row) = known else {
        return Action::Create;
    };
    if import::is_later(&submission.version, &row.version) {
        Action::Update(row.record_id.clone())
    } else if submission.version == row.version
        || !import::is_later(&row.version, &submission.version)
    {
        Action::Keep(
            row.record_id.clone(),
            format!(
                "unchanged: record {} already holds this version ({})",
                row.record_id, row.version
            ),
        )
    } else {
        Action::Keep(
            row.record_id.clone(),
            format!(
                "not applied: record {} already holds a newer version ({})",
                row.record_id, row.version
            ),
        )
    }
}

/// Stores the objects of an envelope as records of the caller's
/// organization (provenance `import`): every object is reported in the
/// returned status, stored or not, and the status is kept for the caller.
/// A malformed envelope is refused whole, with nothing written.
pub fn add(
    conn: &mut DbConnection,
    caller: &Caller,
    collection: Collection,
    envelope: &Value,
) -> Result<StatusResource, TaxiiError> {
    if !collection.view(caller).can_write {
        return Err(TaxiiError::Forbidden(
            "this collection does not accept objects from you".into(),
        ));
    }
    let objects = envelope
        .get("objects")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            TaxiiError::BadRequest("the body must be a TAXII envelope: {\"objects\": [...]}".into())
        })?;
    if objects.is_empty() || objects.len() > records::MAX_BATCH {
        return Err(TaxiiError::BadRequest(format!(
            "an envelope holds 1 to {} objects (got {})",
            records::MAX_BATCH,
            objects.len()
        )));
    }
    for (index, object) in objects.iter().enumerate() {
        let typed = object.get("type").and_then(Value::as_str).is_some();
        let id = object.get("id").and_then(Value::as_str).unwrap_or_default();
        if !typed || !id.contains("--") {
            return Err(TaxiiError::BadRequest(format!(
                "object {index} is not a STIX object (it needs a type and an id)"
            )));
        }
    }
    let importer = import::Importer {
        organization: caller.organization.as_str(),
        may_write_indicators: caller.scopes.contains(Scope::IndicatorsWrite),
        may_report_sightings: caller.scopes.contains(Scope::SightingsWrite),
    };
    let plan = import::plan(objects, &importer);
    let requested = now();
    // Only submissions some object maps to are stored: a refused object
    // (say, a sighting from a client without sightings:write) stores nothing.
    let wanted = plan.wanted();
    conn.transaction(|conn| {
        let organization = caller.organization.as_str();
        let mut known_ids: Vec<String> = Vec::new();
        for submission in wanted.iter().map(|i| &plan.submissions[*i]) {
            known_ids.push(submission.key.clone());
            known_ids.extend(submission.aliases.iter().cloned());
            for (_, reference) in &submission.refs {
                if let Ref::Stix(id) = reference {
                    known_ids.push(id.clone());
                }
            }
        }
        known_ids.sort();
        known_ids.dedup();
        let earlier: HashMap<String, StixImportRow> =
            stix_imports::find(conn, organization, &known_ids)?
                .into_iter()
                .map(|row| (row.stix_id.clone(), row))
                .collect();
        let actions: HashMap<usize, Action> = wanted
            .iter()
            .map(|&i| (i, action(&plan.submissions[i], &earlier)))
            .collect();

        let mut stored: HashMap<usize, String> = HashMap::new();
        let mut notes: HashMap<usize, String> = HashMap::new();
        let mut failed: HashMap<usize, String> = HashMap::new();
        for (&index, action) in &actions {
            if let Action::Keep(record, note) = action {
                stored.insert(index, record.clone());
                notes.insert(index, note.clone());
            }
        }
        // First what names no other record, then what does.
        for second in [false, true] {
            let by_stix = stix_map(&plan, &stored, &earlier);
            let mut creates = Vec::new();
            let mut updates = Vec::new();
            for &index in &wanted {
                let submission = &plan.submissions[index];
                if submission.refs.is_empty() == second {
                    continue;
                }
                let item = match import::resolve_refs(submission, &stored, &by_stix) {
                    Ok(item) => item,
                    Err(message) => {
                        failed.insert(index, message);
                        continue;
                    }
                };
                match &actions[&index] {
                    Action::Create => creates.push((index, item)),
                    Action::Update(record) => updates.push((index, record.clone(), item)),
                    Action::Keep(..) => {}
                }
            }
            stored.extend(store_submissions(conn, caller, creates, &mut failed)?);
            for (index, record, item) in updates {
                match records::update(conn, caller, &record, item) {
                    Ok(view) => {
                        notes.insert(
                            index,
                            format!(
                                "stored as revision {} of record {record}",
                                view.content.revision
                            ),
                        );
                        stored.insert(index, record);
                    }
                    Err(RecordError::Validation(errors)) => {
                        let reasons: Vec<String> = errors
                            .iter()
                            .map(|e| format!("{}: {}", e.field, e.message))
                            .collect();
                        failed.insert(index, reasons.join("; "));
                    }
                    Err(other) => return Err(other.into()),
                }
            }
        }
        let mut remembered = Vec::new();
        for (&index, action) in &actions {
            let (Some(record), false) = (stored.get(&index), matches!(action, Action::Keep(..)))
            else {
                continue;
            };
            let submission = &plan.submissions[index];
            for stix_id in std::iter::once(&submission.key).chain(&submission.aliases) {
                remembered.push(StixImportRow {
                    organization_id: organization.to_owned(),
                    stix_id: stix_id.clone(),
                    record_id: record.clone(),
                    version: submission.version.clone(),
                });
            }
        }
        remembered.sort_by(|a, b| a.stix_id.cmp(&b.stix_id));
        remembered.dedup_by(|a, b| a.stix_id == b.stix_id);
        stix_imports::save(conn, organization, &remembered)?;

        let version_or = |v: &Option<String>| {
            v.clone()
                .unwrap_or_else(|| stix::naive_timestamp(&requested))
        };
        let mut status = StatusResource::new(uuid::Uuid::new_v4().to_string(), &requested);
        for (id, version, outcome) in &plan.outcomes {
            let (ok, message) = match outcome {
                Outcome::Record(i) => match (stored.get(i), notes.get(i)) {
                    (Some(_), Some(note)) => (true, note.clone()),
                    (Some(record), None) => (true, format!("stored as record {record}")),
                    (None, _) => (
                        false,
                        failed
                            .get(i)
                            .cloned()
                            .unwrap_or_else(|| "not stored".into()),
                    ),
                },
                Outcome::Understood(message) => (true, message.clone()),
                Outcome::Refused(message) => (false, message.clone()),
            };
            status.push(
                ok,
                StatusDetail {
                    id: id.clone(),
                    version: version_or(version),
                    message: Some(message),
                },
            );
        }
        let body = serde_json::to_string(&status)
            .map_err(|e| StorageError::Corrupt(format!("status: {e}")))?;
        statuses::insert(
            conn,
            &StatusRow {
                id: status.id.clone(),
                organization_id: caller.organization.to_string(),
                created_at: requested,
                body,
            },
        )?;
        let mut record_ids: Vec<String> = stored.values().cloned().collect();
        record_ids.sort();
        record_ids.dedup();
        audit::record(
            conn,
            caller,
            AuditEvent {
                action: "taxii.objects.add",
                result_count: record_ids.len(),
                record_ids,
                detail: json!({
                    "collection": collection.id(),
                    "status": status.id,
                    "objects": status.total_count,
                    "failures": status.failure_count,
                }),
            },
        )?;
        Ok(status)
    })
}

/// The record behind each STIX id known so far: objects imported earlier,
/// then the objects of this envelope already stored.
fn stix_map(
    plan: &import::Plan,
    stored: &HashMap<usize, String>,
    earlier: &HashMap<String, StixImportRow>,
) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = earlier
        .iter()
        .map(|(id, row)| (id.clone(), row.record_id.clone()))
        .collect();
    for (index, submission) in plan.submissions.iter().enumerate() {
        if let Some(record) = stored.get(&index) {
            for id in std::iter::once(&submission.key).chain(&submission.aliases) {
                map.insert(id.clone(), record.clone());
            }
        }
    }
    for (id, _, outcome) in &plan.outcomes {
        if let Outcome::Record(index) = outcome {
            if let Some(record) = stored.get(index) {
                map.insert(id.clone(), record.clone());
            }
        }
    }
    map
}

/// Creates records from `items` (submission index, item) in batches; items
/// that fail validation are left out (with their reasons in `failed`) and
/// the rest tried again, so one bad object does not sink the envelope.
fn store_submissions(
    conn: &mut DbConnection,
    caller: &Caller,
    mut pending: Vec<(usize, Value)>,
    failed: &mut HashMap<usize, String>,
) -> Result<HashMap<usize, String>, TaxiiError> {
    while !pending.is_empty() {
        let items = pending.iter().map(|(_, item)| item.clone()).collect();
        match records::create_batch(conn, caller, items, None) {
            Ok(created) => {
                return Ok(pending
                    .iter()
                    .zip(created.records)
                    .map(|((index, _), record)| (*index, record.content.id))
                    .collect())
            }
            Err(RecordError::Validation(errors)) => {
                let mut reasons: HashMap<usize, Vec<String>> = HashMap::new();
                for error in &errors {
                    let positions: Vec<usize> = match error.index {
                        Some(i) if i < pending.len() => vec![i],
                        _ => (0..pending.len()).collect(),
                    };
                    for position in positions {
                        reasons
                            .entry(position)
                            .or_default()
                            .push(format!("{}: {}", error.field, error.message));
                    }
                }
                if reasons.is_empty() {
                    reasons.extend((0..pending.len()).map(|i| (i, vec!["refused".to_owned()])));
                }
                let bad: BTreeSet<usize> = reasons.keys().copied().collect();
                for position in bad.into_iter().rev() {
                    let (index, _) = pending.remove(position);
                    let reason = reasons.remove(&position).unwrap_or_default().join("; ");
                    failed.insert(index, reason);
                }
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(HashMap::new())
}

/// A status the caller's organization received for an envelope it posted;
/// [`TaxiiError::NotFound`] for anyone else's. Audited.
pub fn status(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<StatusResource, TaxiiError> {
    let row = statuses::find(conn, caller.organization.as_str(), id)?;
    audit::record_read(
        conn,
        caller,
        AuditEvent {
            action: "taxii.status",
            record_ids: Vec::new(),
            result_count: usize::from(row.is_some()),
            detail: json!({ "status": id }),
        },
    )?;
    let row = row.ok_or(TaxiiError::NotFound)?;
    serde_json::from_str(&row.body)
        .map_err(|e| StorageError::Corrupt(format!("status {id}: {e}")).into())
}
