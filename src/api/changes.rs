//! `/v1/changes`: the change feed. The ordering guarantee and the sharing
//! rule live in `crate::records::feed`.
use crate::auth::Caller;
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
    /// Resume after this cursor (the `next` of the previous page); from the start when absent.
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
/// arrive as tombstones (no content).
#[utoipa::path(get, path = "/v1/changes", tag = "changes", operation_id = "list_changes",
    params(ChangesQuery),
    responses((status = 200, body = ChangePage), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/changes")]
async fn list_changes(
    caller: Caller,
    db: web::Data<Database>,
    query: web::Query<ChangesQuery>,
) -> Result<web::Json<ChangePage>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let query = query.into_inner();
    let mut errors = Vec::new();
    let after = feed::parse_cursor(query.after.as_deref()).unwrap_or_else(|e| {
        errors.push(FieldError::new("after", e));
        0
    });
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
    let page = db
        .run(move |conn| feed::changes(conn, &caller, after, limit))
        .await?;
    Ok(web::Json(page))
}
