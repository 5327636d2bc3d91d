//! The relationship graph of a record page, laid out on the server as SVG
//! (no script): addresses on the left, wallets in the middle, entities on
//! the right, each node a link to its record's page. It draws a
//! [`Neighbourhood`], which holds only what the reader may see.
use super::pages::{label, record_href};
use crate::domain::RecordKind;
use crate::records::{Neighbourhood, RecordView};
use std::collections::BTreeMap;

const NODE_WIDTH: i64 = 300;
const NODE_HEIGHT: i64 = 36;
const COLUMN_GAP: i64 = 110;
const ROW_GAP: i64 = 18;
const MARGIN: i64 = 16;
/// The most characters of a label drawn in a node (the whole label is its tooltip).
const LABEL_CHARS: usize = 22;

pub struct Node {
    pub id: String,
    pub href: String,
    pub label: String,
    pub short: String,
    pub kind: &'static str,
    pub tlp: String,
    pub center: bool,
    pub x: i64,
    pub y: i64,
    pub text_x: i64,
    pub text_y: i64,
    /// Where the node's TLP word ends (drawn right-aligned inside the box).
    pub tlp_x: i64,
}

pub struct Edge {
    pub relationship_href: String,
    pub label: String,
    pub x1: i64,
    pub y1: i64,
    pub x2: i64,
    pub y2: i64,
    pub label_x: i64,
    pub label_y: i64,
}

pub struct Graph {
    pub width: i64,
    pub height: i64,
    pub node_width: i64,
    pub node_height: i64,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

fn column(kind: RecordKind) -> i64 {
    match kind {
        RecordKind::Address => 0,
        RecordKind::Wallet | RecordKind::Relationship | RecordKind::Sighting => 1,
        RecordKind::Entity => 2,
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARS {
        text.to_owned()
    } else {
        let head: String = text.chars().take(LABEL_CHARS - 1).collect();
        format!("{head}…")
    }
}

/// Lays out the neighbourhood: nodes in columns by kind, in id order.
pub fn layout(neighbourhood: &Neighbourhood) -> Graph {
    let mut records: BTreeMap<&str, &RecordView> = BTreeMap::new();
    records.insert(&neighbourhood.record.content.id, &neighbourhood.record);
    for link in &neighbourhood.links {
        records.insert(&link.from.content.id, &link.from);
        records.insert(&link.to.content.id, &link.to);
    }
    let mut rows = [0i64; 3];
    let mut position: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut nodes = Vec::new();
    // The record itself first in its column, then the others.
    let center = neighbourhood.record.content.id.as_str();
    let order = std::iter::once(center).chain(records.keys().copied().filter(|id| *id != center));
    for id in order {
        let view = records[id];
        let col = column(view.content.kind);
        let x = MARGIN + col * (NODE_WIDTH + COLUMN_GAP);
        let y = MARGIN + rows[col as usize] * (NODE_HEIGHT + ROW_GAP);
        rows[col as usize] += 1;
        position.insert(id, (x, y));
        let text = label(view);
        nodes.push(Node {
            id: id.to_owned(),
            href: record_href(id),
            short: shorten(&text),
            label: format!(
                "{} {} (TLP:{})",
                view.content.kind,
                text,
                view.content.tlp.as_str().to_uppercase()
            ),
            kind: view.content.kind.as_str(),
            tlp: view.content.tlp.as_str().to_uppercase(),
            center: id == center,
            x,
            y,
            text_x: x + 10,
            text_y: y + NODE_HEIGHT / 2 + 5,
            tlp_x: x + NODE_WIDTH - 10,
        });
    }
    let edges = neighbourhood
        .links
        .iter()
        .filter_map(|link| {
            let (fx, fy) = *position.get(link.from.content.id.as_str())?;
            let (tx, ty) = *position.get(link.to.content.id.as_str())?;
            let (x1, x2) = if fx <= tx {
                (fx + NODE_WIDTH, tx)
            } else {
                (fx, tx + NODE_WIDTH)
            };
            let (y1, y2) = (fy + NODE_HEIGHT / 2, ty + NODE_HEIGHT / 2);
            Some(Edge {
                relationship_href: record_href(&link.relationship.content.id),
                label: label(&link.relationship),
                x1,
                y1,
                x2,
                y2,
                label_x: (x1 + x2) / 2,
                label_y: (y1 + y2) / 2 - 4,
            })
        })
        .collect();
    let tallest = rows.iter().copied().max().unwrap_or(1).max(1);
    let used_columns = nodes
        .iter()
        .map(|n| (n.x - MARGIN) / (NODE_WIDTH + COLUMN_GAP))
        .max()
        .unwrap_or(0)
        + 1;
    Graph {
        width: 2 * MARGIN + used_columns * NODE_WIDTH + (used_columns - 1) * COLUMN_GAP,
        height: 2 * MARGIN + tallest * NODE_HEIGHT + (tallest - 1) * ROW_GAP,
        node_width: NODE_WIDTH,
        node_height: NODE_HEIGHT,
        nodes,
        edges,
    }
}
