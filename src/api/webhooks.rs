//! `/v1/webhooks`: HTTPS endpoints that receive your alerts, signed by the
//! Standard Webhooks specification; and `/v1/admin/webhooks`, their health
//! for the hub operator. The rules live in `crate::alerts::webhooks`.
use crate::alerts::webhooks::{
    self, DeliveryPage, Endpoint, EndpointHealth, EndpointWithSecret, NewEndpoint, RotateSecret,
};
use crate::alerts::AlertKeys;
use crate::auth::Caller;
use crate::config::AlertSettings;
use crate::domain::Scope;
use crate::error::{ApiError, FieldError, Problem};
use crate::storage::Database;
use actix_web::{delete, get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_endpoint)
        .service(list_endpoints)
        .service(get_endpoint)
        .service(delete_endpoint)
        .service(rotate_secret)
        .service(enable_endpoint)
        .service(list_deliveries);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Attempts older than this one (the `next` of the previous page).
    pub before: Option<String>,
    /// Attempts per page, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Register a webhook endpoint.
///
/// Every new alert of your organization is POSTed to it as
/// `{"type": "alert.created", "timestamp": …, "data": <alert>}` with the
/// headers `webhook-id`, `webhook-timestamp` and `webhook-signature`
/// (Standard Webhooks v1). The `secret` in the answer is shown only now.
/// Deliveries are in order; failed ones are retried with exponential
/// backoff for at least 24 hours, after which the endpoint is disabled.
#[utoipa::path(post, path = "/v1/webhooks", tag = "alerts", operation_id = "create_webhook",
    request_body = NewEndpoint,
    responses((status = 201, body = EndpointWithSecret),
        (status = 409, description = "Too many endpoints", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[post("/webhooks")]
async fn create_endpoint(
    caller: Caller,
    db: web::Data<Database>,
    keys: web::Data<AlertKeys>,
    settings: web::Data<AlertSettings>,
    body: web::Json<NewEndpoint>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let allow_private = settings.allow_private_endpoints;
    let new = body.into_inner();
    let created = db
        .run(move |conn| webhooks::create(conn, &keys, &caller, new, allow_private))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Your webhook endpoints (never their secrets).
#[utoipa::path(get, path = "/v1/webhooks", tag = "alerts", operation_id = "list_webhooks",
    responses((status = 200, body = Vec<Endpoint>)),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/webhooks")]
async fn list_endpoints(
    caller: Caller,
    db: web::Data<Database>,
) -> Result<web::Json<Vec<Endpoint>>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    Ok(web::Json(
        db.run(move |conn| webhooks::list(conn, &caller)).await?,
    ))
}

/// One of your webhook endpoints: its state, and why it was disabled.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "alerts", operation_id = "get_webhook",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 200, body = Endpoint), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/webhooks/{id}")]
async fn get_endpoint(
    caller: Caller,
    db: web::Data<Database>,
    path: web::Path<String>,
) -> Result<web::Json<Endpoint>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let id = path.into_inner();
    Ok(web::Json(
        db.run(move |conn| webhooks::get(conn, &caller, &id))
            .await?,
    ))
}

/// Remove a webhook endpoint (with its queue and delivery log; your alerts stay).
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "alerts", operation_id = "delete_webhook",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 204, description = "Removed"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[delete("/webhooks/{id}")]
async fn delete_endpoint(
    caller: Caller,
    db: web::Data<Database>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let id = path.into_inner();
    db.run(move |conn| webhooks::delete(conn, &caller, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate an endpoint's secret.
///
/// The answer holds the new secret (shown only now). The old one stays
/// valid for `grace_secs`: meanwhile every delivery is signed with both.
#[utoipa::path(post, path = "/v1/webhooks/{id}/rotate", tag = "alerts", operation_id = "rotate_webhook_secret",
    params(("id" = String, Path, description = "The endpoint's id")),
    request_body = RotateSecret,
    responses((status = 200, body = EndpointWithSecret), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[post("/webhooks/{id}/rotate")]
async fn rotate_secret(
    caller: Caller,
    db: web::Data<Database>,
    keys: web::Data<AlertKeys>,
    path: web::Path<String>,
    body: web::Json<RotateSecret>,
) -> Result<web::Json<EndpointWithSecret>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let id = path.into_inner();
    let request = body.into_inner();
    Ok(web::Json(
        db.run(move |conn| webhooks::rotate(conn, &keys, &caller, &id, request))
            .await?,
    ))
}

/// Enable a disabled endpoint: its queued alerts are delivered again, in order.
#[utoipa::path(post, path = "/v1/webhooks/{id}/enable", tag = "alerts", operation_id = "enable_webhook",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses((status = 200, body = Endpoint), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[post("/webhooks/{id}/enable")]
async fn enable_endpoint(
    caller: Caller,
    db: web::Data<Database>,
    path: web::Path<String>,
) -> Result<web::Json<Endpoint>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let id = path.into_inner();
    Ok(web::Json(
        db.run(move |conn| webhooks::enable(conn, &caller, &id))
            .await?,
    ))
}

/// The endpoint's delivery log: every attempt, its status and latency.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "alerts", operation_id = "list_webhook_deliveries",
    params(("id" = String, Path, description = "The endpoint's id"), DeliveriesQuery),
    responses((status = 200, body = DeliveryPage), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/webhooks/{id}/deliveries")]
async fn list_deliveries(
    caller: Caller,
    db: web::Data<Database>,
    path: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> Result<web::Json<DeliveryPage>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let id = path.into_inner();
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "limit",
            "must be 1 to 1000",
        )]));
    }
    Ok(web::Json(
        db.run(move |conn| {
            webhooks::deliveries(conn, &caller, &id, query.before.as_deref(), limit)
        })
        .await?,
    ))
}

/// Every webhook endpoint's health: state, queue and last attempt, without
/// alert content or URL paths.
#[utoipa::path(get, path = "/v1/admin/webhooks", tag = "admin", operation_id = "admin_webhook_health",
    responses((status = 200, body = Vec<EndpointHealth>), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["admin"])))]
#[get("/webhooks")]
pub async fn admin_webhook_health(
    caller: Caller,
    db: web::Data<Database>,
) -> Result<web::Json<Vec<EndpointHealth>>, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(web::Json(db.run(webhooks::health).await?))
}
