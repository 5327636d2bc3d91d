//! `/v1/watchlist`: the addresses your organization wants alerts about.
//! The rules live in `crate::alerts::watchlist`.
use crate::alerts::watchlist::{
    self, WatchAdded, WatchInput, WatchPage, MAX_WATCH_BATCH, MAX_WATCH_PAGE,
};
use crate::alerts::AlertKeys;
use crate::auth::Caller;
use crate::cursor::CursorKey;
use crate::domain::Scope;
use crate::error::{ApiError, FieldError, Problem};
use crate::storage::Database;
use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(add_entries)
        .service(list_entries)
        .service(count_entries)
        .service(remove_entries)
        .service(remove_entry);
}

/// Entries to add or remove.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchRequest {
    /// 1 to 10,000 entries.
    #[schema(min_items = 1, max_items = 10_000)]
    pub items: Vec<WatchInput>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WatchCount {
    pub count: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WatchRemoved {
    /// How many of the entries were watched (and are not any more).
    pub removed: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WatchListQuery {
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Entries per page, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

fn check_batch(items: &[WatchInput]) -> Result<(), ApiError> {
    if items.is_empty() || items.len() > MAX_WATCH_BATCH {
        return Err(ApiError::Validation(vec![FieldError::new(
            "items",
            format!("must hold 1 to {MAX_WATCH_BATCH} entries"),
        )]));
    }
    Ok(())
}

/// Watch addresses.
///
/// Each address is parsed and canonicalized like every address (so each of
/// its linked forms is watched); `label` is your own opaque reference. All
/// entries are added or none (422 naming each bad one); adding an address
/// already watched changes nothing. Changes stored before this request
/// never alert on these entries: screen the addresses for what is known.
/// Up to 1,000,000 entries per organization (409 past that).
#[utoipa::path(post, path = "/v1/watchlist", tag = "alerts", operation_id = "watchlist_add",
    request_body = WatchRequest,
    responses((status = 200, body = WatchAdded),
        (status = 409, description = "The watchlist would hold more than 1,000,000 entries", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[post("/watchlist")]
async fn add_entries(
    caller: Caller,
    db: web::Data<Database>,
    keys: web::Data<AlertKeys>,
    body: web::Json<WatchRequest>,
) -> Result<web::Json<WatchAdded>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let items = body.into_inner().items;
    check_batch(&items)?;
    let added = db
        .run(move |conn| watchlist::add(conn, &keys, &caller, &items))
        .await?;
    Ok(web::Json(added))
}

/// List your watch entries.
///
/// In id order, with the address as you sent it and your label. Only your
/// organization can list them.
#[utoipa::path(get, path = "/v1/watchlist", tag = "alerts", operation_id = "watchlist_list",
    params(WatchListQuery),
    responses((status = 200, body = WatchPage), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/watchlist")]
async fn list_entries(
    caller: Caller,
    db: web::Data<Database>,
    keys: web::Data<AlertKeys>,
    cursors: web::Data<CursorKey>,
    query: web::Query<WatchListQuery>,
) -> Result<web::Json<WatchPage>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_WATCH_PAGE).contains(&limit) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "limit",
            format!("must be 1 to {MAX_WATCH_PAGE}"),
        )]));
    }
    let page = db
        .run(move |conn| {
            watchlist::list(
                conn,
                &keys,
                &cursors,
                &caller,
                query.after.as_deref(),
                limit,
            )
        })
        .await?;
    Ok(web::Json(page))
}

/// Count your watch entries.
#[utoipa::path(get, path = "/v1/watchlist/count", tag = "alerts", operation_id = "watchlist_count",
    responses((status = 200, body = WatchCount)),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/watchlist/count")]
async fn count_entries(
    caller: Caller,
    db: web::Data<Database>,
) -> Result<web::Json<WatchCount>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let count = db.run(move |conn| watchlist::count(conn, &caller)).await?;
    Ok(web::Json(WatchCount { count }))
}

/// Stop watching addresses (however typed).
#[utoipa::path(post, path = "/v1/watchlist/remove", tag = "alerts", operation_id = "watchlist_remove",
    request_body = WatchRequest,
    responses((status = 200, body = WatchRemoved), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[post("/watchlist/remove")]
async fn remove_entries(
    caller: Caller,
    db: web::Data<Database>,
    keys: web::Data<AlertKeys>,
    body: web::Json<WatchRequest>,
) -> Result<web::Json<WatchRemoved>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let items = body.into_inner().items;
    check_batch(&items)?;
    let removed = db
        .run(move |conn| watchlist::remove(conn, &keys, &caller, &items))
        .await?;
    Ok(web::Json(WatchRemoved { removed }))
}

/// Stop watching one entry, by id.
#[utoipa::path(delete, path = "/v1/watchlist/{id}", tag = "alerts", operation_id = "watchlist_remove_one",
    params(("id" = String, Path, description = "The entry's id")),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[delete("/watchlist/{id}")]
async fn remove_entry(
    caller: Caller,
    db: web::Data<Database>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let id = path.into_inner();
    let removed = db
        .run(move |conn| watchlist::remove_ids(conn, &caller, &[id]))
        .await?;
    if removed == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}
