//! "New for me": the change feed since the last visit, as a readable list.
//! The events are `records::feed::changes`, exactly as `/v1/changes` gives
//! them to the organization; the position (the feed's opaque cursor) is
//! remembered per API client, so each visit continues where the last one
//! stopped.
use super::pages::{self, Chrome, TlpBadge};
use super::session::Session;
use super::ConsoleError;
use crate::cursor::CursorKey;
use crate::domain::Scope;
use crate::records::feed;
use crate::storage::{console as store, now, Database};
use actix_web::{get, web, HttpResponse};
use askama::Template;

/// The most events one visit shows; the rest wait for the next visit.
const PER_VISIT: i64 = 200;

pub struct EventRow {
    pub what: &'static str,
    pub at: String,
    pub href: String,
    pub label: String,
    pub tlp: Option<TlpBadge>,
    pub revision: i32,
}

#[derive(Template)]
#[template(path = "console/new.html")]
struct NewPage {
    chrome: Option<Chrome>,
    events: Vec<EventRow>,
    first_visit: bool,
    more: bool,
}

#[get("/new")]
pub async fn new_for_me(
    session: Session,
    db: web::Data<Database>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, ConsoleError> {
    session.require(Scope::IndicatorsRead)?;
    let caller = session.caller.clone();
    let (page, first_visit) = db
        .run(move |conn| -> Result<_, ConsoleError> {
            let position = store::feed_position(conn, &caller.client_id)?;
            let page = feed::changes(conn, &caller, &cursors, position.as_deref(), PER_VISIT)?;
            store::set_feed_position(conn, &caller.client_id, &page.next, now())?;
            Ok((page, position.is_none()))
        })
        .await?;
    let more = page.items.len() as i64 == PER_VISIT;
    let events = page
        .items
        .iter()
        .rev()
        .map(|event| {
            let label = match &event.record {
                Some(content) => pages::label(&crate::records::RecordView {
                    content: content.clone(),
                    content_hash: String::new(),
                    created_at: event.at,
                    updated_at: event.at,
                }),
                None => event.record_id.clone(),
            };
            EventRow {
                what: match event.event.as_str() {
                    "revocation" => "revoked",
                    "sighting" => "new sighting",
                    _ if event.revision == 1 => "new record",
                    _ => "new revision",
                },
                at: event.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                href: pages::record_href(&event.record_id),
                label,
                tlp: event.record.as_ref().map(|c| TlpBadge::of(c.tlp)),
                revision: event.revision,
            }
        })
        .collect();
    pages::page(&NewPage {
        chrome: Some(Chrome::of(&session)),
        events,
        first_visit,
        more,
    })
}
