//! Walking the links between records: a record's relationships, and the
//! attribution path from an address or wallet to its wallets and entities.
//! A link shows only when the reader may read the relationship and both
//! its ends (rendered through [`super::Disclosure`]).
use super::{audit_read, present_all, read_one, reader_for, RecordError, RecordView};
use crate::access::Reader;
use crate::auth::Caller;
use crate::domain::{RecordKind, Relation};
use crate::storage::records::{self as store, LinkRow, RecordRow};
use crate::storage::DbConnection;
use serde_json::json;
use std::collections::HashMap;

/// Visible, unrevoked records among `ids`, presented for `reader`, by id.
pub(super) fn visible_records(
    conn: &mut DbConnection,
    reader: &Reader,
    ids: &[String],
) -> Result<HashMap<String, RecordView>, RecordError> {
    let rows: Vec<RecordRow> = store::existing(conn, ids)?
        .into_iter()
        .map(|(row, _)| row)
        .filter(|row| !row.revoked)
        .collect();
    Ok(present_all(conn, reader, &rows)?
        .into_iter()
        .map(|view| (view.content.id.clone(), view))
        .collect())
}

/// The relationships touching a record, as far as `reader` may see them:
/// a relationship shows only if the reader can see it and both its ends.
fn read_relationships(
    conn: &mut DbConnection,
    reader: &Reader,
    id: &str,
) -> Result<Vec<RecordView>, RecordError> {
    read_one(conn, reader, id)?;
    let touching = store::links_touching(conn, id)?;
    Ok(super::graph::visible_links(conn, reader, touching)?
        .into_iter()
        .map(|link| link.relationship)
        .collect())
}

/// A record reached by walking a relationship.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LinkedRecord {
    /// The relationship walked.
    pub relationship: RecordView,
    /// The record at its other end.
    pub record: RecordView,
}

/// Where an address (or wallet) leads: the wallets it belongs to and the
/// entities it or its wallets are attributed to, through visible links only.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AttributionPath {
    pub record: RecordView,
    pub wallets: Vec<LinkedRecord>,
    pub entities: Vec<LinkedRecord>,
}

fn outgoing(
    conn: &mut DbConnection,
    reader: &Reader,
    from: &str,
    relation: Relation,
) -> Result<Vec<LinkedRecord>, RecordError> {
    let links: Vec<LinkRow> = store::links_touching(conn, from)?
        .into_iter()
        .filter(|l| l.from_id == from && l.relation == relation.as_str())
        .collect();
    let ids: Vec<String> = links
        .iter()
        .flat_map(|l| [l.relationship_id.clone(), l.to_id.clone()])
        .collect();
    let visible = visible_records(conn, reader, &ids)?;
    Ok(links
        .iter()
        .filter_map(|l| {
            Some(LinkedRecord {
                relationship: visible.get(&l.relationship_id)?.clone(),
                record: visible.get(&l.to_id)?.clone(),
            })
        })
        .collect())
}

/// The wallets an address belongs to and the entities it or its wallets
/// are attributed to, through what `reader` may see.
pub(crate) fn walk_from_address(
    conn: &mut DbConnection,
    reader: &Reader,
    id: &str,
) -> Result<(Vec<LinkedRecord>, Vec<LinkedRecord>), RecordError> {
    let wallets = outgoing(conn, reader, id, Relation::MemberOf)?;
    let mut entities = outgoing(conn, reader, id, Relation::AttributedTo)?;
    for wallet in &wallets {
        entities.extend(outgoing(
            conn,
            reader,
            &wallet.record.content.id,
            Relation::AttributedTo,
        )?);
    }
    Ok((wallets, entities))
}

fn read_attribution(
    conn: &mut DbConnection,
    reader: &Reader,
    id: &str,
) -> Result<AttributionPath, RecordError> {
    let record = read_one(conn, reader, id)?;
    let mut wallets = Vec::new();
    let mut entities = Vec::new();
    match record.content.kind {
        RecordKind::Address => (wallets, entities) = walk_from_address(conn, reader, id)?,
        RecordKind::Wallet => entities = outgoing(conn, reader, id, Relation::AttributedTo)?,
        RecordKind::Entity | RecordKind::Relationship | RecordKind::Sighting => {}
    }
    Ok(AttributionPath {
        record,
        wallets,
        entities,
    })
}

/// The relationships of a record the caller may see (both ends visible). Audited.
pub fn relationships(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<Vec<RecordView>, RecordError> {
    let reader = reader_for(conn, &caller.organization)?;
    let result = read_relationships(conn, &reader, id);
    let ids = |list: &Vec<RecordView>| list.iter().map(|r| r.content.id.clone()).collect();
    audit_read(
        conn,
        caller,
        "records.relationships",
        &result,
        ids,
        json!({ "requested": id }),
    )?;
    result
}

/// Walks from an address or wallet to its wallets and entities, through
/// what the caller may see. Audited.
pub fn attribution(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<AttributionPath, RecordError> {
    let reader = reader_for(conn, &caller.organization)?;
    let result = read_attribution(conn, &reader, id);
    let ids = |a: &AttributionPath| {
        let mut ids = vec![a.record.content.id.clone()];
        for linked in a.wallets.iter().chain(&a.entities) {
            ids.push(linked.relationship.content.id.clone());
            ids.push(linked.record.content.id.clone());
        }
        ids
    };
    audit_read(
        conn,
        caller,
        "records.attribution",
        &result,
        ids,
        json!({ "requested": id }),
    )?;
    result
}
