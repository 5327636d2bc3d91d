//! A record's page: its body, provenance and sharing, its revisions with
//! what changed between them, its sightings (with the `unshared` notices
//! its source gets) and its relationships as a graph. Everything comes from
//! the domain functions the API's handlers call (`records::get`,
//! `records::revisions`, `sightings::of_record`, `records::neighbourhood`):
//! a record the reader may not see is the same 404 page as a missing one.
use super::graph::{self, Graph};
use super::pages::{self, Chrome, RecordLink, TlpBadge};
use super::session::Session;
use super::ConsoleError;
use crate::domain::{Attribution, Scope};
use crate::records::sightings::{self, RecordSightings};
use crate::records::{self, RecordView, RevisionView};
use crate::storage::Database;
use actix_web::{get, web, HttpResponse};
use askama::Template;
use serde_json::Value;
use std::collections::BTreeMap;

/// One field of a record, for the body table.
pub struct Field {
    pub name: &'static str,
    pub value: String,
    /// A link to another record, if the value is one.
    pub href: Option<String>,
}

/// What changed from one revision to the next.
pub struct Change {
    pub field: String,
    pub before: String,
    pub after: String,
}

pub struct Revision {
    pub number: i32,
    pub received_at: String,
    pub tlp: TlpBadge,
    pub content_hash: String,
    pub changes: Vec<Change>,
    pub first: bool,
}

pub struct SightingRow {
    pub link: RecordLink,
    pub seen_at: String,
    pub count: u32,
    pub context: String,
}

#[derive(Template)]
#[template(path = "console/record.html")]
struct RecordPage {
    chrome: Option<Chrome>,
    record: RecordLink,
    revoked: bool,
    fields: Vec<Field>,
    provenance: Vec<Field>,
    audience: Vec<String>,
    attribution: &'static str,
    revisions: Vec<Revision>,
    sightings: Vec<SightingRow>,
    totals: String,
    unshared: Option<Vec<String>>,
    all_totals: Option<String>,
    graph: Graph,
    relationships: usize,
    can_sight: bool,
    created: bool,
}

#[derive(Debug, serde::Deserialize)]
pub struct RecordQuery {
    /// Set after a form stored this record (the page then says so).
    #[serde(default)]
    created: Option<String>,
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn record_fields(view: &RecordView) -> Vec<Field> {
    let c = &view.content;
    let plain = |name, value: String| Field {
        name,
        value,
        href: None,
    };
    let linked = |name, id: &str| Field {
        name,
        value: id.to_owned(),
        href: Some(pages::record_href(id)),
    };
    let mut fields = vec![plain("Kind", c.kind.as_str().into())];
    if let Some(chain) = &c.chain {
        fields.push(plain("Chain", chain.clone()));
    }
    if let Some(address) = &c.address {
        fields.push(plain("Address", address.clone()));
    }
    if let Some(name) = &c.name {
        fields.push(plain("Name", name.clone()));
    }
    if let Some(t) = &c.entity_type {
        fields.push(plain("Entity type", t.clone()));
    }
    if !c.aliases.is_empty() {
        fields.push(plain("Aliases", c.aliases.join(", ")));
    }
    if let Some(relation) = c.relation {
        fields.push(plain("Relation", relation.as_str().replace('_', " ")));
    }
    if let Some(from) = &c.from {
        fields.push(linked("From", from));
    }
    if let Some(to) = &c.to {
        fields.push(linked("To", to));
    }
    if let Some(s) = &c.sighting {
        if let Some(of) = &s.of {
            fields.push(linked("Sighting of", of));
        }
        fields.push(plain("Seen at", time(s.seen_at)));
        fields.push(plain("Count", s.count.to_string()));
        fields.push(plain("Context", s.context.as_str().replace('_', " ")));
    }
    let categories: Vec<String> = c
        .categories
        .iter()
        .map(|c| c.as_str().replace('_', " "))
        .collect();
    fields.push(plain("Categories", categories.join(", ")));
    fields.push(plain("Confidence", c.confidence.to_string()));
    if let Some(t) = c.valid_from {
        fields.push(plain("Valid from", time(t)));
    }
    if let Some(t) = c.valid_until {
        fields.push(plain("Valid until", time(t)));
    }
    if !c.description.is_empty() {
        fields.push(plain("Description", c.description.clone()));
    }
    for r in &c.external_references {
        let text = [Some(r.source_name.as_str()), r.url.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        fields.push(plain("Reference", text));
    }
    fields.push(plain("Record id", c.id.clone()));
    fields.push(plain("Content hash", view.content_hash.clone()));
    fields.push(plain("Created", time(view.created_at)));
    fields.push(plain("Updated", time(view.updated_at)));
    fields
}

fn provenance_fields(view: &RecordView) -> Vec<Field> {
    let p = &view.content.provenance;
    let plain = |name, value: String| Field {
        name,
        value,
        href: None,
    };
    let mut fields = vec![
        plain(
            "Source organization",
            p.source_organization
                .clone()
                .unwrap_or_else(|| "(anonymous)".into()),
        ),
        plain(
            "Submitted by",
            p.submitted_by
                .clone()
                .unwrap_or_else(|| "(not shown)".into()),
        ),
        plain("Received", time(p.received_at)),
        plain("Method", p.method.as_str().replace('_', " ")),
    ];
    if let Some(t) = p.observed_at {
        fields.push(plain("Observed", time(t)));
    }
    if let Some(r) = &p.source_reference {
        fields.push(plain("Source reference", r.clone()));
    }
    for id in &p.derived_from {
        fields.push(Field {
            name: "Derived from",
            value: id.clone(),
            href: Some(pages::record_href(id)),
        });
    }
    fields
}

/// A revision's content as `field path → text`, for comparing revisions.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Value::Null => {}
        Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// The revisions, newest first, each with what changed since the one before.
fn revision_rows(revisions: &[RevisionView]) -> Vec<Revision> {
    // Numbers and receipt times differ on every revision: not "changes".
    const SKIP: &[&str] = &["revision", "provenance.received_at"];
    let mut previous: Option<BTreeMap<String, String>> = None;
    let mut rows = Vec::new();
    for revision in revisions {
        let mut fields = BTreeMap::new();
        flatten(
            "",
            &serde_json::to_value(&revision.content).unwrap_or_default(),
            &mut fields,
        );
        let mut changes = Vec::new();
        if let Some(before) = &previous {
            let keys: std::collections::BTreeSet<&String> =
                before.keys().chain(fields.keys()).collect();
            for key in keys {
                if SKIP.contains(&key.as_str()) {
                    continue;
                }
                let (old, new) = (before.get(key), fields.get(key));
                if old != new {
                    changes.push(Change {
                        field: key.clone(),
                        before: old.cloned().unwrap_or_default(),
                        after: new.cloned().unwrap_or_default(),
                    });
                }
            }
        }
        rows.push(Revision {
            number: revision.content.revision,
            received_at: time(revision.received_at),
            tlp: TlpBadge::of(revision.content.tlp),
            content_hash: revision.content_hash.clone(),
            first: previous.is_none(),
            changes,
        });
        previous = Some(fields);
    }
    rows.reverse();
    rows
}

fn totals_text(t: &sightings::SightingTotals) -> String {
    match (t.first_seen, t.last_seen) {
        (Some(first), Some(last)) => format!(
            "{} report(s), seen {} time(s), from {} to {}",
            t.reports,
            t.count,
            time(first),
            time(last)
        ),
        _ => "no sightings".into(),
    }
}

fn sighting_rows(found: &RecordSightings) -> Vec<SightingRow> {
    found
        .sightings
        .iter()
        .filter_map(|s| {
            let d = s.content.sighting.as_ref()?;
            Some(SightingRow {
                link: RecordLink::of(s),
                seen_at: time(d.seen_at),
                count: d.count,
                context: d.context.as_str().replace('_', " "),
            })
        })
        .collect()
}

#[get("/records/{id}")]
pub async fn record_page(
    session: Session,
    db: web::Data<Database>,
    id: web::Path<String>,
    query: web::Query<RecordQuery>,
) -> Result<HttpResponse, ConsoleError> {
    session.require(Scope::IndicatorsRead)?;
    let id = id.into_inner();
    let caller = session.caller.clone();
    let (view, revisions, seen, neighbourhood) = db
        .run(move |conn| -> Result<_, ConsoleError> {
            let view = records::get(conn, &caller, &id)?;
            let revisions = records::revisions(conn, &caller, &id)?;
            let seen = sightings::of_record(conn, &caller, &id)?;
            let neighbourhood = records::neighbourhood(conn, &caller, &id)?;
            Ok((view, revisions, seen, neighbourhood))
        })
        .await?;
    let audience = &view.content.audience;
    let mut shared_with = Vec::new();
    if audience.all_partners {
        shared_with.push("every partner organization".to_owned());
    }
    shared_with.extend(
        audience
            .organizations
            .iter()
            .map(|o| format!("organization {o}")),
    );
    shared_with.extend(
        audience
            .communities
            .iter()
            .map(|c| format!("community {c}")),
    );
    pages::page(&RecordPage {
        chrome: Some(Chrome::of(&session)),
        record: RecordLink::of(&view),
        revoked: view.content.revoked,
        fields: record_fields(&view),
        provenance: provenance_fields(&view),
        audience: shared_with,
        attribution: match view.content.attribution {
            Attribution::Named => "named: readers see the source organization",
            Attribution::Anonymous => "anonymous: only the source sees who submitted it",
        },
        revisions: revision_rows(&revisions),
        sightings: sighting_rows(&seen),
        totals: totals_text(&seen.totals),
        unshared: seen.unshared.as_ref().map(|notices| {
            notices
                .iter()
                .map(|n| format!("{} × {}", time(n.seen_at), n.count))
                .collect()
        }),
        all_totals: seen.all_totals.as_ref().map(totals_text),
        relationships: neighbourhood.links.len(),
        graph: graph::layout(&neighbourhood),
        can_sight: session.can(Scope::SightingsWrite),
        created: query.created.is_some(),
    })
}
