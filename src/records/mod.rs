//! Intelligence records: parsing submissions into validated records,
//! storing batches atomically and writing revisions (here); reading them
//! back (`reads`), walking their links (`links`), and what a reader sees of
//! them (`disclosure`, which every read path renders through). Handlers in
//! `crate::api::records` stay thin around these functions.
mod disclosure;
pub mod export;
pub mod feed;
mod input;
mod links;
mod reads;
mod rows;
pub mod sightings;
mod view;

pub(crate) use disclosure::Disclosure;
pub use input::{AudienceInput, RecordInput};
pub(crate) use links::walk_from_address;
pub use links::{attribution, relationships, AttributionPath, LinkedRecord};
pub(crate) use reads::present_all;
use reads::{audit_read, read_one};
pub use reads::{count, export, get, list, revisions};
use rows::{audience_rows, link_row, record_row, sharing_of, source_of};
pub(crate) use rows::{content_sharing, parse_content};
pub use view::{
    AudienceView, ProvenanceView, RecordContent, RecordPage, RecordView, RevisionView,
    SightingDetails,
};

use crate::access::{can_read, Reader};
use crate::audit::{self, AuditEvent};
use crate::auth::Caller;
use crate::domain::{
    OrganizationId, RecordBody, RecordKind, Relation, Scope, Sighting, SightingTarget,
};
use crate::error::FieldError;
use crate::storage::changes::{self as change_log, NewChange};
use crate::storage::records::{self as store, NewRecordRows, RecordRow, RevisionRow};
use crate::storage::{communities, now, organizations, DbConnection, StorageError};
use diesel::Connection;
use serde_json::json;
use std::collections::{BTreeSet, HashMap};

/// The most items one batch may carry.
pub const MAX_BATCH: usize = 10_000;
/// The most records one page may carry.
pub const MAX_PAGE: i64 = 1000;
/// The most records one export response may carry.
pub const MAX_EXPORT: i64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    /// A paging cursor that this server did not give this caller (400).
    #[error("{0}")]
    BadCursor(String),
    /// The caller may read the record but is not its source.
    #[error("only the source organization can change this record")]
    NotSource,
    /// The `Idempotency-Key` of an earlier request, sent with another body.
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    /// Changing a record of this kind needs another scope (sightings need
    /// `sightings:write`, other records `indicators:write`).
    #[error("the token lacks the {0} scope")]
    InsufficientScope(Scope),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<diesel::result::Error> for RecordError {
    fn from(error: diesel::result::Error) -> Self {
        RecordError::Storage(error.into())
    }
}

/// The reader behind a caller: its organization and communities.
pub fn reader_for(
    conn: &mut DbConnection,
    organization: &OrganizationId,
) -> Result<Reader, StorageError> {
    Ok(Reader {
        organization: organization.clone(),
        communities: communities::memberships(conn, organization)?,
    })
}

fn field(index: usize, field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        index: Some(index),
        field: field.into(),
        message: message.into(),
    }
}

/// How long a batch's `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// A client's `Idempotency-Key` and the hash of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    /// SHA-256 of the request body, hex.
    pub request_hash: String,
}

/// The outcome of a batch create.
#[derive(Debug)]
pub struct Created {
    pub records: Vec<RecordView>,
    /// True when an earlier request with the same idempotency key stored
    /// these records and nothing new was written.
    pub replayed: bool,
}

/// The records an earlier request with this key created, as first stored
/// (revision 1); `None` when the key is new or expired.
fn replay(
    conn: &mut DbConnection,
    caller: &Caller,
    key: &IdempotencyKey,
) -> Result<Option<Created>, RecordError> {
    let org = caller.organization.as_str();
    let Some(stored) = crate::storage::idempotency::find(conn, org, &key.key)? else {
        return Ok(None);
    };
    if stored.created_at < now() - IDEMPOTENCY_WINDOW {
        return Ok(None);
    }
    if stored.request_hash != key.request_hash {
        return Err(RecordError::IdempotencyKeyReused);
    }
    let ids: Vec<String> = serde_json::from_str(&stored.record_ids)
        .map_err(|e| StorageError::Corrupt(format!("idempotency key record ids: {e}")))?;
    let mut first: HashMap<String, RevisionRow> = store::revisions_of(conn, &ids)?
        .into_iter()
        .filter(|r| r.revision == 1)
        .map(|r| (r.record_id.clone(), r))
        .collect();
    let mut records = Vec::with_capacity(ids.len());
    for id in &ids {
        let revision = first
            .remove(id)
            .ok_or_else(|| StorageError::Corrupt(format!("record {id} has no first revision")))?;
        // The caller's own records, as first stored: it is their source.
        let content = parse_content(id, &revision.body)?;
        records.push(RecordView {
            content,
            content_hash: revision.content_hash,
            created_at: revision.received_at.and_utc(),
            updated_at: revision.received_at.and_utc(),
        });
    }
    audit::record(
        conn,
        caller,
        AuditEvent {
            action: "records.create.replay",
            record_ids: ids,
            result_count: records.len(),
            detail: json!({ "idempotency_key": key.key }),
        },
    )?;
    Ok(Some(Created {
        records,
        replayed: true,
    }))
}

/// Stores every item as a new record, or nothing: any invalid item makes a
/// 422 listing every bad item by index and field. With an idempotency key,
/// a repeated request gets the first request's records back and writes
/// nothing; the key is stored in the same transaction as the records.
/// Every item needs the caller's scope for its kind (403 otherwise).
pub fn create_batch(
    conn: &mut DbConnection,
    caller: &Caller,
    items: Vec<serde_json::Value>,
    idempotency: Option<&IdempotencyKey>,
) -> Result<Created, RecordError> {
    create_batch_of(conn, caller, items, idempotency, None)
}

/// [`create_batch`], refusing every item that is not of kind `only` (when given).
pub fn create_batch_of(
    conn: &mut DbConnection,
    caller: &Caller,
    items: Vec<serde_json::Value>,
    idempotency: Option<&IdempotencyKey>,
    only: Option<RecordKind>,
) -> Result<Created, RecordError> {
    if let Some(key) = idempotency {
        if let Some(earlier) = replay(conn, caller, key)? {
            return Ok(earlier);
        }
    }
    let result = store_batch(conn, caller, items, idempotency, only);
    match (result, idempotency) {
        // A concurrent request with the same key committed first: answer as it did.
        (Err(RecordError::Storage(StorageError::Conflict(cause))), Some(key)) => {
            match replay(conn, caller, key)? {
                Some(earlier) => Ok(earlier),
                None => Err(StorageError::Conflict(cause).into()),
            }
        }
        (result, _) => result.map(|records| Created {
            records,
            replayed: false,
        }),
    }
}

fn store_batch(
    conn: &mut DbConnection,
    caller: &Caller,
    items: Vec<serde_json::Value>,
    idempotency: Option<&IdempotencyKey>,
    only: Option<RecordKind>,
) -> Result<Vec<RecordView>, RecordError> {
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(RecordError::Validation(vec![FieldError::new(
            "items",
            format!("a batch holds 1 to {MAX_BATCH} items (got {})", items.len()),
        )]));
    }
    let mut errors = Vec::new();
    let mut parsed = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<RecordInput>(item) {
            Ok(input) => match input.parse(index) {
                Ok(record) if only.is_some_and(|kind| kind != record.body.kind()) => {
                    let wanted = only.map(RecordKind::as_str).unwrap_or_default();
                    errors.push(field(
                        index,
                        "kind",
                        format!(
                            "only {wanted} records are accepted here, not {}",
                            record.body.kind()
                        ),
                    ))
                }
                Ok(record) => parsed.push((index, record)),
                Err(mut item_errors) => errors.append(&mut item_errors),
            },
            Err(e) => errors.push(field(index, "item", e.to_string())),
        }
    }
    for (_, record) in &parsed {
        require_write_scope(caller, record.body.kind())?;
    }
    if !errors.is_empty() {
        return Err(RecordError::Validation(errors));
    }

    conn.transaction(|conn| {
        change_log::lock_for_write(conn, caller.organization.as_str())?;
        let reader = reader_for(conn, &caller.organization)?;
        check_references(conn, &reader, &parsed)?;
        let received_at = now();
        let mut rows = Vec::with_capacity(parsed.len());
        let mut views = Vec::with_capacity(parsed.len());
        for (_, record) in parsed {
            let id = uuid::Uuid::now_v7().to_string();
            let content = record.into_content(id, caller, received_at);
            let (body, hash) = content.canonical_json_and_hash();
            let audience = audience_rows(&content);
            let row = record_row(&content, caller, &body, &hash, received_at);
            views.push(RecordView {
                content: content.clone(),
                content_hash: hash.clone(),
                created_at: received_at.and_utc(),
                updated_at: received_at.and_utc(),
            });
            rows.push(NewRecordRows {
                revision: RevisionRow {
                    record_id: row.id.clone(),
                    revision: 1,
                    body,
                    content_hash: hash,
                    received_at,
                },
                link: link_row(&content),
                record: row,
                audience,
            });
        }
        store::insert_all(conn, rows)?;
        let ids: Vec<String> = views.iter().map(|v| v.content.id.clone()).collect();
        let events: Vec<NewChange> = views
            .iter()
            .map(|view| NewChange {
                record_id: &view.content.id,
                revision: 1,
                event: match view.content.kind {
                    RecordKind::Sighting => change_log::EVENT_SIGHTING,
                    _ => change_log::EVENT_REVISION,
                },
            })
            .collect();
        change_log::append(conn, &events, received_at)?;
        if let Some(key) = idempotency {
            use crate::storage::idempotency::{self as keys, IdempotencyRow};
            keys::purge_before(conn, received_at - IDEMPOTENCY_WINDOW)?;
            keys::insert(
                conn,
                &IdempotencyRow {
                    organization_id: caller.organization.to_string(),
                    idempotency_key: key.key.clone(),
                    request_hash: key.request_hash.clone(),
                    record_ids: serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()),
                    created_at: received_at,
                },
            )?;
        }
        audit::record(
            conn,
            caller,
            AuditEvent {
                action: "records.create",
                record_ids: ids,
                result_count: views.len(),
                detail: json!({}),
            },
        )?;
        Ok(views)
    })
}

/// Audience members must exist; relationship ends, the records sightings
/// name and `derived_from` must be records the submitter can see, with
/// kinds that fit.
fn check_references(
    conn: &mut DbConnection,
    reader: &Reader,
    parsed: &[(usize, input::ParsedRecord)],
) -> Result<(), RecordError> {
    let known_orgs: BTreeSet<String> = organizations::list(conn)?
        .into_iter()
        .map(|o| o.id.to_string())
        .collect();
    let known_communities: BTreeSet<String> = communities::list(conn)?
        .into_iter()
        .map(|c| c.id.to_string())
        .collect();
    let mut wanted: Vec<String> = Vec::new();
    for (_, record) in parsed {
        wanted.extend(record.referenced_ids());
    }
    wanted.sort();
    wanted.dedup();
    let found: HashMap<String, RecordKind> = store::existing(conn, &wanted)?
        .into_iter()
        .filter_map(|(row, audience)| {
            let sharing = sharing_of(&row, &audience)?;
            let source = OrganizationId::parse(&row.source_org).ok()?;
            if !can_read(reader, &source, &sharing) {
                return None; // invisible: reported exactly like a missing record
            }
            Some((row.id.clone(), row.kind.parse().ok()?))
        })
        .collect();

    let mut errors = Vec::new();
    for (index, record) in parsed {
        for org in &record.sharing.audience().organizations {
            if !known_orgs.contains(org.as_str()) {
                errors.push(field(
                    *index,
                    "audience.organizations",
                    format!("unknown organization {org}"),
                ));
            }
        }
        for community in &record.sharing.audience().communities {
            if !known_communities.contains(community.as_str()) {
                errors.push(field(
                    *index,
                    "audience.communities",
                    format!("unknown community {community}"),
                ));
            }
        }
        for id in &record.derived_from {
            if !found.contains_key(id) {
                errors.push(field(*index, "derived_from", format!("no record {id}")));
            }
        }
        if let RecordBody::Sighting(Sighting {
            seen: SightingTarget::Record(id),
            ..
        }) = &record.body
        {
            match found.get(id) {
                None => errors.push(field(*index, "sighting_of", format!("no record {id}"))),
                Some(kind @ (RecordKind::Relationship | RecordKind::Sighting)) => {
                    errors.push(field(
                        *index,
                        "sighting_of",
                        format!("a sighting is of an address, wallet or entity, not a {kind}"),
                    ))
                }
                Some(_) => {}
            }
        }
        if let RecordBody::Relationship { relation, from, to } = &record.body {
            let (from_kinds, to_kinds): (&[RecordKind], &[RecordKind]) = match relation {
                Relation::MemberOf => (&[RecordKind::Address], &[RecordKind::Wallet]),
                Relation::AttributedTo => (
                    &[RecordKind::Address, RecordKind::Wallet],
                    &[RecordKind::Entity],
                ),
                Relation::RelatedTo => (&[RecordKind::Entity], &[RecordKind::Entity]),
            };
            for (name, id, kinds) in [("from", from, from_kinds), ("to", to, to_kinds)] {
                match found.get(id) {
                    None => errors.push(field(*index, name, format!("no record {id}"))),
                    Some(kind) if !kinds.contains(kind) => errors.push(field(
                        *index,
                        name,
                        format!(
                            "{relation} needs a {} here, not a {kind}",
                            kinds
                                .iter()
                                .map(|k| k.as_str())
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ),
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(RecordError::Validation(errors))
    }
}

/// Writing sightings needs `sightings:write`, writing other records
/// `indicators:write`: on create, update and revoke alike.
fn require_write_scope(caller: &Caller, kind: RecordKind) -> Result<(), RecordError> {
    let needed = match kind {
        RecordKind::Sighting => Scope::SightingsWrite,
        _ => Scope::IndicatorsWrite,
    };
    if caller.scopes.contains(needed) {
        Ok(())
    } else {
        Err(RecordError::InsufficientScope(needed))
    }
}

/// The current row of a record the caller may change: it must be visible
/// (else 404, as if missing), the caller must be its source (else 403) and
/// hold the scope for writing its kind.
fn owned_record(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<RecordRow, RecordError> {
    let reader = reader_for(conn, &caller.organization)?;
    let (row, audience) = store::find(conn, id)?.ok_or(RecordError::NotFound)?;
    let source = source_of(&row)?;
    let sharing = sharing_of(&row, &audience)
        .ok_or_else(|| StorageError::Corrupt(format!("record {id}: invalid sharing")))?;
    if !can_read(&reader, &source, &sharing) {
        return Err(RecordError::NotFound);
    }
    if source != caller.organization {
        return Err(RecordError::NotSource);
    }
    let kind: RecordKind = row
        .kind
        .parse()
        .map_err(|e: String| StorageError::Corrupt(format!("record {id}: {e}")))?;
    require_write_scope(caller, kind)?;
    Ok(row)
}

/// Stores `content` as the next revision of `current`.
fn write_revision(
    conn: &mut DbConnection,
    caller: &Caller,
    current: &RecordRow,
    content: RecordContent,
) -> Result<RecordView, RecordError> {
    let received_at = now();
    let (body, hash) = content.canonical_json_and_hash();
    let mut record = record_row(&content, caller, &body, &hash, received_at);
    record.created_at = current.created_at;
    let rows = NewRecordRows {
        audience: audience_rows(&content),
        revision: RevisionRow {
            record_id: content.id.clone(),
            revision: content.revision,
            body,
            content_hash: hash.clone(),
            received_at,
        },
        link: link_row(&content),
        record,
    };
    store::replace(conn, &rows, current.revision)?;
    let event = NewChange {
        record_id: &rows.record.id,
        revision: rows.revision.revision,
        event: if rows.record.revoked {
            change_log::EVENT_REVOCATION
        } else {
            change_log::EVENT_REVISION
        },
    };
    change_log::append(conn, &[event], received_at)?;
    Ok(RecordView {
        content,
        content_hash: hash,
        created_at: current.created_at.and_utc(),
        updated_at: received_at.and_utc(),
    })
}

fn without_index(errors: Vec<FieldError>) -> RecordError {
    RecordError::Validation(
        errors
            .into_iter()
            .map(|e| FieldError { index: None, ..e })
            .collect(),
    )
}

/// Replaces a record's content with a new revision (source organization
/// only). The kind cannot change; older revisions stay readable.
pub fn update(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
    input: serde_json::Value,
) -> Result<RecordView, RecordError> {
    let input: RecordInput = serde_json::from_value(input)
        .map_err(|e| RecordError::Validation(vec![FieldError::new("body", e.to_string())]))?;
    let parsed = input.parse(0).map_err(without_index)?;
    conn.transaction(|conn| {
        change_log::lock_for_write(conn, caller.organization.as_str())?;
        let current = owned_record(conn, caller, id)?;
        if parsed.body.kind().as_str() != current.kind {
            return Err(RecordError::Validation(vec![FieldError::new(
                "kind",
                format!("a {} record stays a {}", current.kind, current.kind),
            )]));
        }
        let reader = reader_for(conn, &caller.organization)?;
        let checked = [(0, parsed)];
        check_references(conn, &reader, &checked).map_err(|e| match e {
            RecordError::Validation(errors) => without_index(errors),
            other => other,
        })?;
        let [(_, parsed)] = checked;
        let mut content = parsed.into_content(id.to_owned(), caller, now());
        content.revision = current.revision + 1;
        let view = write_revision(conn, caller, &current, content)?;
        audit_write(conn, caller, "records.update", &view)?;
        Ok(view)
    })
}

/// Revokes a record: a new revision marked revoked (source organization only).
/// Revoking a revoked record changes nothing.
pub fn revoke(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<RecordView, RecordError> {
    conn.transaction(|conn| {
        change_log::lock_for_write(conn, caller.organization.as_str())?;
        let current = owned_record(conn, caller, id)?;
        let mut content = parse_content(id, &current.body)?;
        if content.revoked {
            let reader = reader_for(conn, &caller.organization)?;
            return present_all(conn, &reader, &[current])?
                .pop()
                .ok_or(RecordError::NotFound);
        }
        content.revoked = true;
        content.revision = current.revision + 1;
        content.provenance.received_at = now().and_utc();
        content.provenance.submitted_by = Some(caller.client_id.clone());
        let view = write_revision(conn, caller, &current, content)?;
        audit_write(conn, caller, "records.revoke", &view)?;
        Ok(view)
    })
}

fn audit_write(
    conn: &mut DbConnection,
    caller: &Caller,
    action: &'static str,
    view: &RecordView,
) -> Result<(), StorageError> {
    let detail = json!({ "revision": view.content.revision });
    audit::record(
        conn,
        caller,
        AuditEvent {
            action,
            record_ids: vec![view.content.id.clone()],
            result_count: 1,
            detail,
        },
    )
}
