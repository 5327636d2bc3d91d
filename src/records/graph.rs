//! A record's neighbourhood, for drawing: the relationships touching it,
//! and one step further through the wallets among its neighbours (so an
//! address shows its wallets and their entities: address → wallet →
//! entity). A link shows only when the reader may read the relationship
//! and both its ends, exactly as [`super::relationships`] decides, and every
//! record in it is rendered through [`super::Disclosure`].
use super::links::visible_records;
use super::{audit_read, read_one, reader_for, RecordError, RecordView};
use crate::access::Reader;
use crate::auth::Caller;
use crate::domain::RecordKind;
use crate::storage::records::{self as store, LinkRow};
use crate::storage::DbConnection;
use serde_json::json;
use std::collections::BTreeSet;

/// One relationship with both its ends, as the reader sees them.
#[derive(Debug, Clone)]
pub struct GraphLink {
    pub relationship: RecordView,
    pub from: RecordView,
    pub to: RecordView,
}

/// A record and the links around it that the reader may see.
#[derive(Debug, Clone)]
pub struct Neighbourhood {
    pub record: RecordView,
    /// Ordered by relationship id; each relationship once.
    pub links: Vec<GraphLink>,
}

/// The visible links among `rows` (sighting links are not relationships):
/// a link shows only if the reader may read the relationship and both its
/// ends. The one place that rule lives; [`super::relationships`] uses it too.
pub(super) fn visible_links(
    conn: &mut DbConnection,
    reader: &Reader,
    rows: Vec<LinkRow>,
) -> Result<Vec<GraphLink>, RecordError> {
    let rows: Vec<LinkRow> = rows
        .into_iter()
        .filter(|l| l.relation != store::SIGHTING_OF)
        .collect();
    let mut ids: Vec<String> = rows
        .iter()
        .flat_map(|l| {
            [
                l.relationship_id.clone(),
                l.from_id.clone(),
                l.to_id.clone(),
            ]
        })
        .collect();
    ids.sort();
    ids.dedup();
    let visible = visible_records(conn, reader, &ids)?;
    Ok(rows
        .iter()
        .filter_map(|l| {
            Some(GraphLink {
                relationship: visible.get(&l.relationship_id)?.clone(),
                from: visible.get(&l.from_id)?.clone(),
                to: visible.get(&l.to_id)?.clone(),
            })
        })
        .collect())
}

fn read_neighbourhood(
    conn: &mut DbConnection,
    reader: &Reader,
    id: &str,
) -> Result<Neighbourhood, RecordError> {
    let record = read_one(conn, reader, id)?;
    let touching = store::links_touching(conn, id)?;
    let mut links = visible_links(conn, reader, touching)?;
    // One step further through the wallets next to the record.
    let wallets: Vec<String> = links
        .iter()
        .flat_map(|l| [&l.from, &l.to])
        .filter(|r| r.content.kind == RecordKind::Wallet && r.content.id != id)
        .map(|r| r.content.id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !wallets.is_empty() {
        let further = store::links_touching_any(conn, &wallets)?;
        links.extend(visible_links(conn, reader, further)?);
    }
    links.sort_by(|a, b| a.relationship.content.id.cmp(&b.relationship.content.id));
    links.dedup_by(|a, b| a.relationship.content.id == b.relationship.content.id);
    Ok(Neighbourhood { record, links })
}

/// The neighbourhood of a record the caller may see (404 otherwise, as for
/// a record that does not exist). Audited as `records.relationships`, with
/// every record shown.
pub fn neighbourhood(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<Neighbourhood, RecordError> {
    let reader = reader_for(conn, &caller.organization)?;
    let result = read_neighbourhood(conn, &reader, id);
    let ids = |n: &Neighbourhood| {
        let mut ids = BTreeSet::new();
        ids.insert(n.record.content.id.clone());
        for link in &n.links {
            for view in [&link.relationship, &link.from, &link.to] {
                ids.insert(view.content.id.clone());
            }
        }
        ids.into_iter().collect()
    };
    audit_read(
        conn,
        caller,
        "records.relationships",
        &result,
        ids,
        json!({ "requested": id, "view": "graph" }),
    )?;
    result
}
