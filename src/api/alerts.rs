//! `/v1/alerts`: what your watchlist matched. The rules live in
//! `crate::alerts` (the consumer that makes alerts, and `inbox`).
use crate::alerts::inbox::{self, MAX_ALERTS};
use crate::alerts::view::{Alert, AlertPage};
use crate::alerts::{AlertError, AlertKeys};
use crate::auth::Caller;
use crate::cursor::CursorKey;
use crate::domain::Scope;
use crate::error::{ApiError, FieldError, Problem};
use crate::storage::Database;
use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

impl From<AlertError> for ApiError {
    fn from(error: AlertError) -> Self {
        match error {
            AlertError::Validation(errors) => ApiError::Validation(errors),
            AlertError::NotFound => ApiError::NotFound,
            AlertError::BadCursor(message) => ApiError::BadRequest(message),
            AlertError::LimitReached(message) => ApiError::Conflict(message),
            AlertError::Key(message) => ApiError::Internal(message),
            AlertError::Storage(storage) => storage.into(),
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_alerts)
        .service(acknowledge_alerts)
        .service(get_alert);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// Resume after this opaque cursor (the `next` of the previous page).
    pub after: Option<String>,
    /// Alerts per page, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Only alerts not yet acknowledged.
    pub unacknowledged: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeRequest {
    /// 1 to 1000 alert ids.
    #[schema(min_items = 1, max_items = 1000)]
    pub ids: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Acknowledged {
    /// How many of the ids are your alerts (now all acknowledged).
    pub acknowledged: i64,
}

/// Your alerts, oldest first.
///
/// Each alert says what matched (your entries and labels), the changed
/// record as you may see it, and the screening summary of the address.
/// Keep the page's `next` and pass it as `after`; cursors are opaque, valid
/// for your organization only and new on every answer.
#[utoipa::path(get, path = "/v1/alerts", tag = "alerts", operation_id = "list_alerts",
    params(AlertsQuery),
    responses((status = 200, body = AlertPage), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/alerts")]
async fn list_alerts(
    caller: Caller,
    db: web::Data<Database>,
    keys: web::Data<AlertKeys>,
    cursors: web::Data<CursorKey>,
    query: web::Query<AlertsQuery>,
) -> Result<web::Json<AlertPage>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_ALERTS).contains(&limit) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "limit",
            format!("must be 1 to {MAX_ALERTS}"),
        )]));
    }
    let unacknowledged = query.unacknowledged.unwrap_or(false);
    let page = db
        .run(move |conn| {
            inbox::list(
                conn,
                &keys,
                &cursors,
                &caller,
                query.after.as_deref(),
                unacknowledged,
                limit,
            )
        })
        .await?;
    Ok(web::Json(page))
}

/// One of your alerts.
#[utoipa::path(get, path = "/v1/alerts/{id}", tag = "alerts", operation_id = "get_alert",
    params(("id" = String, Path, description = "The alert's id")),
    responses((status = 200, body = Alert), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/alerts/{id}")]
async fn get_alert(
    caller: Caller,
    db: web::Data<Database>,
    keys: web::Data<AlertKeys>,
    path: web::Path<String>,
) -> Result<web::Json<Alert>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let id = path.into_inner();
    let alert = db
        .run(move |conn| inbox::get(conn, &keys, &caller, &id))
        .await?;
    Ok(web::Json(alert))
}

/// Acknowledge alerts.
#[utoipa::path(post, path = "/v1/alerts/acknowledge", tag = "alerts", operation_id = "acknowledge_alerts",
    request_body = AcknowledgeRequest,
    responses((status = 200, body = Acknowledged), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[post("/alerts/acknowledge")]
async fn acknowledge_alerts(
    caller: Caller,
    db: web::Data<Database>,
    body: web::Json<AcknowledgeRequest>,
) -> Result<web::Json<Acknowledged>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let ids = body.into_inner().ids;
    if ids.is_empty() || ids.len() > 1000 {
        return Err(ApiError::Validation(vec![FieldError::new(
            "ids",
            "must hold 1 to 1000 alert ids",
        )]));
    }
    let acknowledged = db
        .run(move |conn| inbox::acknowledge(conn, &caller, &ids))
        .await?;
    Ok(web::Json(Acknowledged { acknowledged }))
}
