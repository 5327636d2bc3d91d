//! `/v1/changes`: the change feed. The ordering guarantee and the sharing
//! rule live in `crate::records::feed`.
use crate::auth::Caller;
use crate::cursor::CursorKey;
use crate::domain::Scope;
use crate::error::{ApiError, FieldError, Problem};
use crate::records::feed::{self, ChangePage, MAX_CHANGES};
use crate::storage::Database;
use actix_web::{get, web};
use serde::Deserialize;
use utoipa::IntoParams;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_changes);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Resume after this opaque cursor (the `next` of the previous page,
    /// given to your organization); from the start when absent. Any other
    /// value is a 400.
    pub after: Option<String>,
    /// Events per page, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Follow every new revision, revocation and sighting you may see.
///
/// Events come in commit order. Keep the page's `next` and pass it as
/// `after`: you will never miss an event, even with many concurrent
/// writers. A page may hold fewer than `limit` events (events you may not
/// see are skipped); an empty page means you are up to date. Revocations
/// arrive as tombstones (no content). Cursors are opaque, valid for your
/// organization only, and new on every answer: they reveal nothing about
/// events you may not see.
#[utoipa::path(get, path = "/v1/changes", tag = "changes", operation_id = "list_changes",
    params(ChangesQuery),
    responses((status = 200, body = ChangePage), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/changes")]
async fn list_changes(
    caller: Caller,
    db: web::Data<Database>,
    cursors: web::Data<CursorKey>,
    query: web::Query<ChangesQuery>,
) -> Result<web::Json<ChangePage>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let query = query.into_inner();
    let mut errors = Vec::new();
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_CHANGES).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            format!("must be 1 to {MAX_CHANGES}"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let reader = caller.organization.to_string();
    let page = db
        .read(&reader, move |conn| {
            feed::changes(conn, &caller, &cursors, query.after.as_deref(), limit)
        })
        .await?;
    Ok(web::Json(page))
}
