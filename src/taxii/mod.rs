//! TAXII 2.1: collections of STIX objects over the change feed, and
//! envelopes of STIX objects stored as records.
//!
//! A collection is a view of the change feed (`crate::storage::changes`):
//! each change (a new revision or a revocation of a record) stands for the
//! STIX objects of that revision, rendered through
//! `crate::records::Disclosure` exactly as `/v1/changes` does. Objects are
//! paged in feed order with a cursor for (change `seq`, from its `n`th
//! object), sealed for the reader (`crate::cursor`), so `next` never skips
//! or repeats an object and reveals nothing about hidden changes, and
//! `date_added` is the time the change was stored. Entry 0 of every
//! collection holds tracewire's fixed objects (its identity, its extension
//! definition; the TLP 2.0 markings when asked for by id).
//!
//! A page serves each object (each version of it) once, and the TLP
//! marking definitions its objects use, each just before the first object
//! that references it (a page of `limit=1` has room for the object only):
//! no marking is served that nothing on the page uses.
//!
//! Reading is here, paging in `paging`, envelopes POSTed in `ingest`.
//! Every read and every write is audited.
mod ingest;
mod paging;
pub mod views;

use crate::access::Reader;
use crate::audit::{self, AuditEvent};
use crate::auth::Caller;
use crate::cursor::CursorKey;
use crate::domain::{Attribution, Scope, Tlp};
use crate::records::{self, reader_for, Disclosure, RecordError};
use crate::stix::export::{self, Source};
use crate::stix::{self, fixed_objects, record_id_of};
use crate::storage::changes::{self as feed, ChangeRow};
use crate::storage::records::{self as store, RevisionRow};
use crate::storage::{organizations, DbConnection, StorageError};
use chrono::NaiveDateTime;
pub use ingest::{add, status};
use paging::Cursor;
pub use paging::{version_of, ObjectFilter, Page, VersionMatch};
use serde_json::{json, Value};
use std::collections::HashMap;
pub use views::*;

pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The one API root.
pub const API_ROOT: &str = "api";
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;
/// How many changes one request reads at a time, at least.
const SCAN_BATCH: i64 = 200;
/// How many changes one request looks at, at most: past that it answers
/// with what it found and `more`. Large, because a page that is not full
/// makes clients such as taxii2-client shrink their `limit` to its size
/// (and an empty one would make it ask for 0).
const SCAN_MAX: i64 = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum TaxiiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<diesel::result::Error> for TaxiiError {
    fn from(error: diesel::result::Error) -> Self {
        TaxiiError::Storage(error.into())
    }
}

/// The collections of the API root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// Everything the caller may see; objects POSTed here become records.
    Intelligence,
    /// TLP:CLEAR only, read-only: what may be published.
    Clear,
}

impl Collection {
    pub const ALL: [Collection; 2] = [Collection::Intelligence, Collection::Clear];

    pub fn id(self) -> &'static str {
        match self {
            Collection::Intelligence => "5f2e9c1a-7b3d-4e8f-a6c2-91d0b4e7f3a8",
            Collection::Clear => "b8c4d2e6-1f3a-4c5b-9e7d-0a2f6c8e4b19",
        }
    }

    pub fn parse(id: &str) -> Option<Collection> {
        Self::ALL.into_iter().find(|c| c.id() == id)
    }

    fn admits(self, content: &records::RecordContent) -> bool {
        match self {
            Collection::Intelligence => true,
            Collection::Clear => content.tlp == Tlp::Clear,
        }
    }

    pub fn view(self, caller: &Caller) -> CollectionView {
        let can_read = caller.scopes.contains(Scope::IndicatorsRead);
        let (title, description, can_write) = match self {
            Collection::Intelligence => (
                "Intelligence visible to you",
                "Every record you may read, each revision under its own sharing, as STIX 2.1. \
                 Objects you add become records of your organization with provenance import \
                 (indicators with indicators:write, sightings with sightings:write).",
                caller.scopes.contains(Scope::IndicatorsWrite)
                    || caller.scopes.contains(Scope::SightingsWrite),
            ),
            Collection::Clear => (
                "TLP:CLEAR intelligence",
                "The TLP:CLEAR records: what may be published outside the community.",
                false,
            ),
        };
        CollectionView {
            id: self.id().into(),
            title: title.into(),
            description: description.into(),
            can_read,
            can_write,
            media_types: vec![stix::STIX_MEDIA_TYPE.into()],
        }
    }
}

/// When tracewire's fixed objects count as added.
fn fixed_added() -> NaiveDateTime {
    stix::parse_timestamp(stix::FIXED_CREATED)
        .map(|t| t.naive_utc())
        .unwrap_or_default()
}

/// Which entries a request reads.
#[derive(Debug, Clone, PartialEq)]
enum Entries {
    All,
    Fixed,
    Record(String),
}

impl Entries {
    /// For one object id: its record's changes, the fixed entry, or everything.
    fn of_object(id: &str) -> Entries {
        let marking = Tlp::ALL.into_iter().any(|t| stix::tlp_marking_id(t) == id);
        if marking || fixed_objects().iter().any(|o| o["id"] == id) {
            return Entries::Fixed;
        }
        let record_type = [
            "indicator",
            "infrastructure",
            "identity",
            "threat-actor",
            "relationship",
            "sighting",
        ]
        .iter()
        .any(|t| id.starts_with(&format!("{t}--")));
        match record_id_of(id) {
            Some(record) if record_type => Entries::Record(record),
            _ => Entries::All,
        }
    }
}

/// What a batch of changes needs to become objects.
struct Batch {
    revisions: HashMap<(String, i32), RevisionRow>,
    /// Per record: the revisions the reader may read and the collection admits, in order.
    readable: HashMap<String, Vec<(i32, NaiveDateTime)>>,
    contents: HashMap<(String, i32), records::RecordContent>,
    created: HashMap<String, NaiveDateTime>,
    /// STIX ids of relationship ends and sighted records the reader may see.
    ends: HashMap<String, String>,
}

fn load_batch(
    conn: &mut DbConnection,
    reader: &Reader,
    collection: Collection,
    rows: &[ChangeRow],
) -> Result<Batch, TaxiiError> {
    let mut ids: Vec<String> = rows.iter().map(|r| r.record_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let current = store::rows_of(conn, &ids)?;
    let mut batch = Batch {
        revisions: HashMap::new(),
        readable: HashMap::new(),
        contents: HashMap::new(),
        created: HashMap::new(),
        ends: HashMap::new(),
    };
    let mut all = store::revisions_of(conn, &ids)?;
    all.sort_by(|a, b| (&a.record_id, a.revision).cmp(&(&b.record_id, b.revision)));
    let disclosure = Disclosure::prepare(conn, reader, &current, Some(&all))?;
    let mut end_ids = Vec::new();
    for revision in all {
        let id = revision.record_id.clone();
        if let Some(first) = disclosure.first_seen(&id) {
            batch.created.insert(id.clone(), first);
        }
        if let Some(shown) = disclosure.revision(&id, revision.revision) {
            let content = shown.content;
            if collection.admits(&content) {
                batch
                    .readable
                    .entry(id.clone())
                    .or_default()
                    .push((revision.revision, revision.received_at));
                end_ids.extend(content.from.clone());
                end_ids.extend(content.to.clone());
                if let Some(seen) = content.sighting.as_ref().and_then(|s| s.of.clone()) {
                    end_ids.push(seen);
                }
                batch
                    .contents
                    .insert((id.clone(), revision.revision), content);
            }
        }
        batch.revisions.insert((id, revision.revision), revision);
    }
    end_ids.sort();
    end_ids.dedup();
    let end_rows = store::rows_of(conn, &end_ids)?;
    let ends = Disclosure::prepare(conn, reader, &end_rows, None)?;
    for id in end_ids {
        if let Some(view) = ends.record(&id) {
            batch.ends.insert(id, export::primary_id(&view.content));
        }
    }
    Ok(batch)
}

/// The objects of one change, as the reader may see them, filtered.
fn change_objects(
    batch: &Batch,
    sources: &HashMap<String, Source>,
    filter: &ObjectFilter,
    row: &ChangeRow,
) -> Result<Vec<Value>, TaxiiError> {
    let key = (row.record_id.clone(), row.revision);
    let Some(content) = batch.contents.get(&key) else {
        return Ok(Vec::new()); // not readable, or not in this collection
    };
    let readable = batch
        .readable
        .get(&row.record_id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !filter.wants_version(row.revision, readable) {
        return Ok(Vec::new());
    }
    let revision = batch.revisions.get(&key).ok_or_else(|| {
        StorageError::Corrupt(format!(
            "change {} names a missing revision {}@{}",
            row.seq, row.record_id, row.revision
        ))
    })?;
    let source = match (
        &content.attribution,
        &content.provenance.source_organization,
    ) {
        (Attribution::Named, Some(org)) => sources.get(org),
        _ => None,
    };
    let ends = match (&content.from, &content.to) {
        (Some(from), Some(to)) => batch
            .ends
            .get(from)
            .cloned()
            .zip(batch.ends.get(to).cloned()),
        _ => None,
    };
    let objects = export::objects(&export::Revision {
        content,
        created: batch
            .created
            .get(&row.record_id)
            .copied()
            .unwrap_or(revision.received_at),
        modified: revision.received_at,
        source,
        ends,
        seen: content
            .sighting
            .as_ref()
            .and_then(|s| s.of.as_ref())
            .and_then(|of| batch.ends.get(of).cloned()),
    });
    Ok(objects
        .into_iter()
        .filter(|o| filter.wants_object(o))
        .collect())
}

fn organization_sources(conn: &mut DbConnection) -> Result<HashMap<String, Source>, TaxiiError> {
    Ok(organizations::list(conn)?
        .into_iter()
        .map(|o| {
            let id = o.id.to_string();
            let source = Source {
                id: id.clone(),
                name: o.name,
                created: o.created_at,
            };
            (id, source)
        })
        .collect())
}

/// A page of the objects of `collection` that `reader` may see.
fn read_page(
    conn: &mut DbConnection,
    reader: &Reader,
    key: &CursorKey,
    collection: Collection,
    filter: &ObjectFilter,
    entries: &Entries,
) -> Result<Page, TaxiiError> {
    let limit = filter.limit.clamp(1, MAX_LIMIT) as usize;
    let mut page = Page::default();
    let start = match &filter.next {
        None => Cursor { seq: 0, skip: 0 },
        Some(text) => Cursor::open(key, &reader.organization, text).ok_or_else(|| {
            TaxiiError::BadRequest("next is not a cursor this server gave your organization".into())
        })?,
    };
    let org = &reader.organization;
    let (mut seq, mut skip) = (start.seq, start.skip);
    if seq == 0 {
        let fixed_wanted = !matches!(entries, Entries::Record(_))
            && filter.added_after.is_none_or(|after| fixed_added() > after);
        if fixed_wanted {
            // The markings only when asked for by id: otherwise each
            // comes with the first object on a page that uses it.
            let mut fixed = fixed_objects();
            if filter
                .ids
                .iter()
                .any(|id| id.starts_with("marking-definition--"))
            {
                fixed.extend(Tlp::ALL.into_iter().map(stix::tlp_marking));
            }
            let objects: Vec<Value> = fixed
                .into_iter()
                .filter(|o| filter.wants_object(o))
                .collect();
            for (index, object) in objects.into_iter().enumerate().skip(skip) {
                if page.objects.len() == limit {
                    page.more = true;
                    page.next = Some(
                        Cursor {
                            seq: 0,
                            skip: index,
                        }
                        .seal(key, org),
                    );
                    return Ok(page);
                }
                page.push(object, fixed_added());
            }
        }
        (seq, skip) = (1, 0);
    }
    if *entries == Entries::Fixed {
        return Ok(page);
    }
    let record = match entries {
        Entries::Record(id) => Some(id.as_str()),
        _ => None,
    };
    let sources = organization_sources(conn)?;
    let mut scanned = 0;
    loop {
        if scanned >= SCAN_MAX.max(limit as i64 * 20) {
            page.more = true;
            page.next = Some(Cursor { seq, skip: 0 }.seal(key, org));
            return Ok(page);
        }
        let batch_size = SCAN_BATCH.max(limit as i64);
        let rows = feed::from_seq(conn, seq, record, filter.added_after, batch_size)?;
        if rows.is_empty() {
            return Ok(page);
        }
        scanned += rows.len() as i64;
        let batch = load_batch(conn, reader, collection, &rows)?;
        for row in &rows {
            let from = if row.seq == start.seq { skip } else { 0 };
            let objects = change_objects(&batch, &sources, filter, row)?;
            let mut shown = false;
            for (index, object) in objects.into_iter().enumerate().skip(from) {
                // Each object once per page (a source's identity).
                if !page.first_time(&object) {
                    continue;
                }
                // The markings it uses, unless the page has them already
                // (a page of one object has room for the object only).
                let markings: Vec<Value> = stix::tlp_markings_of(&object)
                    .into_iter()
                    .map(stix::tlp_marking)
                    .filter(|m| page.first_time(m) && filter.wants_object(m))
                    .collect();
                let room = if limit == 1 { 1 } else { 1 + markings.len() };
                if page.objects.len() + room > limit && !page.objects.is_empty() {
                    page.more = true;
                    page.next = Some(
                        Cursor {
                            seq: row.seq,
                            skip: index,
                        }
                        .seal(key, org),
                    );
                    return Ok(page);
                }
                if limit > 1 {
                    for marking in markings {
                        page.push(marking, row.at);
                    }
                }
                page.push(object, row.at);
                shown = true;
            }
            if shown {
                page.shown
                    .push(format!("{}@{}", row.record_id, row.revision));
            }
            seq = row.seq + 1;
            skip = 0;
        }
    }
}

fn audit_page(
    conn: &mut DbConnection,
    caller: &Caller,
    action: &'static str,
    collection: Collection,
    page: &Page,
    detail: Value,
) -> Result<(), StorageError> {
    audit::record_read(
        conn,
        caller,
        AuditEvent {
            action,
            record_ids: page.shown.clone(),
            result_count: page.objects.len(),
            detail: json!({ "collection": collection.id(), "request": detail, "next": page.next }),
        },
    )
}

/// A page of a collection's objects (`object_id` narrows it to one object's
/// versions). Audited.
pub fn objects(
    conn: &mut DbConnection,
    caller: &Caller,
    key: &CursorKey,
    collection: Collection,
    filter: &ObjectFilter,
    object_id: Option<&str>,
    action: &'static str,
) -> Result<Page, TaxiiError> {
    let reader = reader_for(conn, &caller.organization)?;
    let mut filter = filter.clone();
    let entries = match object_id {
        Some(id) => {
            filter.ids = vec![id.to_owned()];
            Entries::of_object(id)
        }
        None => Entries::All,
    };
    let page = read_page(conn, &reader, key, collection, &filter, &entries)?;
    let detail = json!({ "object": object_id, "filter": format!("{filter:?}") });
    audit_page(conn, caller, action, collection, &page, detail)?;
    // Not found: nothing, and nothing further on (a long scan for an
    // observable's id may end a page empty but with `more`).
    if object_id.is_some() && page.objects.is_empty() && !page.more && filter.next.is_none() {
        return Err(TaxiiError::NotFound);
    }
    Ok(page)
}
