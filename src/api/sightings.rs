//! `/v1/sightings` and `/v1/records/{id}/sightings`: report that a record
//! or an address was seen, and read what was seen of a record. The rules
//! live in `crate::records::sightings`.
use super::records::{create, CreatedRecords};
use crate::auth::Caller;
use crate::domain::{RecordKind, Scope};
use crate::error::{ApiError, Problem};
use crate::records::sightings::{self, RecordSightings};
use crate::records::RecordInput;
use crate::storage::Database;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(report_sightings).service(record_sightings);
}

/// One sighting, or a batch of them under `items`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SightingsRequest {
    /// 1 to 10,000 sightings; all are stored or none.
    Batch {
        #[schema(value_type = Vec<RecordInput>, min_items = 1, max_items = 10_000)]
        items: Vec<serde_json::Value>,
    },
    /// A single sighting (a record body; `kind` may be left out).
    #[schema(value_type = RecordInput)]
    One(serde_json::Map<String, serde_json::Value>),
}

/// Report sightings: "we saw this record or address".
///
/// Each sighting names what was seen, either a record you may read
/// (`sighting_of`) or an address (`chain` and `address`), and says when
/// (`seen_at`), how often (`count`, default 1) and where (`context`:
/// deposit, withdrawal, ad, seizure, victim_report or other). It carries
/// its own `tlp`, `audience` and `attribution`: who may read it is your
/// choice, as for any record. `kind` is `sighting`, `method` defaults to
/// `sighting` and `confidence` to 100.
///
/// The source of a sighted record always learns that a sighting happened
/// (time and count), even when it may not read the sighting.
/// `Idempotency-Key` and `Prefer: return=minimal` work as on `POST /v1/records`.
#[utoipa::path(post, path = "/v1/sightings", tag = "sightings", operation_id = "report_sightings",
    request_body = SightingsRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried batch safe (24 hours)"),
        ("Prefer" = Option<String>, Header, description = "`return=minimal`: answer with ids only")),
    responses((status = 201, body = CreatedRecords),
        (status = 422, description = "Invalid items (by index and field); nothing stored", body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["sightings:write"])))]
#[post("/sightings")]
async fn report_sightings(
    caller: Caller,
    db: web::Data<Database>,
    request: HttpRequest,
    body: web::Json<SightingsRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::SightingsWrite)?;
    let items = match body.into_inner() {
        SightingsRequest::Batch { items } => items,
        SightingsRequest::One(item) => vec![serde_json::Value::Object(item)],
    };
    let items = sightings::with_defaults(items);
    create(caller, db, request, items, Some(RecordKind::Sighting)).await
}

/// The sightings of a record.
///
/// The sightings you may read that name this record, or its address in
/// any form, with their totals. The record's source also gets
/// `unshared`: the time and count of each sighting it may not read, and
/// `all_totals` over all of them. 404 when you may not see the record.
#[utoipa::path(get, path = "/v1/records/{id}/sightings", tag = "sightings", operation_id = "list_record_sightings",
    responses((status = 200, body = RecordSightings), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/records/{id}/sightings")]
async fn record_sightings(
    caller: Caller,
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<web::Json<RecordSightings>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let id = id.into_inner();
    let reader = caller.organization.to_string();
    Ok(web::Json(
        db.read(&reader, move |conn| {
            sightings::of_record(conn, &caller, &id)
        })
        .await?,
    ))
}
