//! The HTTP edge: routes, request limits, the request middleware (request id,
//! logging, metrics) and the conversion of every stray error into a problem
//! document. Handlers live in one module per resource and stay thin.
pub mod admin;
pub mod changes;
pub mod docs;
pub mod oauth;
pub mod ops;
pub mod organization;
pub mod rate_limit;
pub mod records;
pub mod screening;
pub mod sightings;
pub mod taxii;
pub mod whoami;

use crate::error::{problem_for_status, ApiError, PROBLEM_CONTENT_TYPE};
use crate::metrics::Metrics;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::{error, web, HttpRequest, HttpResponse};
use std::time::Instant;
use tracing::Instrument;

/// Body and extractor limits, with their errors as problem documents.
pub fn extractor_configs(
    max_body_bytes: usize,
) -> (
    web::JsonConfig,
    web::FormConfig,
    web::PayloadConfig,
    web::PathConfig,
    web::QueryConfig,
) {
    let json = web::JsonConfig::default()
        .limit(max_body_bytes)
        .error_handler(|err, _req: &HttpRequest| {
            let api_error = match &err {
                error::JsonPayloadError::OverflowKnownLength { limit, .. }
                | error::JsonPayloadError::Overflow { limit } => {
                    ApiError::PayloadTooLarge { limit: *limit }
                }
                error::JsonPayloadError::ContentType => {
                    ApiError::UnsupportedMediaType("expected Content-Type: application/json".into())
                }
                error::JsonPayloadError::Deserialize(e) => ApiError::InvalidJson(e.to_string()),
                other => ApiError::BadRequest(other.to_string()),
            };
            api_error.into()
        });
    let form =
        web::FormConfig::default()
            .limit(64 * 1024)
            .error_handler(|err, _req: &HttpRequest| {
                let api_error = match &err {
                    error::UrlencodedError::Overflow { limit, .. } => {
                        ApiError::PayloadTooLarge { limit: *limit }
                    }
                    error::UrlencodedError::ContentType => ApiError::UnsupportedMediaType(
                        "expected Content-Type: application/x-www-form-urlencoded".into(),
                    ),
                    other => ApiError::BadRequest(other.to_string()),
                };
                api_error.into()
            });
    let payload = web::PayloadConfig::default().limit(max_body_bytes);
    let path = web::PathConfig::default().error_handler(|err, _req: &HttpRequest| {
        ApiError::BadRequest(format!("invalid path: {err}")).into()
    });
    let query = web::QueryConfig::default().error_handler(|err, _req: &HttpRequest| {
        ApiError::BadRequest(format!("invalid query: {err}")).into()
    });
    (json, form, payload, path, query)
}

/// Routes served on the mutual-TLS API listener.
pub fn configure_api(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .service(oauth::token)
            .service(whoami::whoami)
            .configure(admin::configure)
            .configure(organization::configure)
            .configure(records::configure)
            .configure(screening::configure)
            .configure(sightings::configure)
            .configure(changes::configure),
    )
    .configure(taxii::configure)
    .service(oauth::jwks)
    .configure(docs::configure)
    .default_service(web::to(not_found));
}

/// Routes served on the plain-HTTP operations listener.
pub fn configure_ops(cfg: &mut web::ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .configure(docs::configure)
        .default_service(web::to(not_found));
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request id: the caller's `X-Request-Id` when it is short and plain, else a new UUIDv7.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Runs every request in a span with its request id, logs its outcome
/// (method, route pattern, status, latency: never headers or bodies),
/// records metrics and echoes the id in `X-Request-Id`.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request_id(&req);
    let method = req.method().to_string();
    let route = req.match_pattern().unwrap_or_else(|| "(unmatched)".into());
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut response = next.call(req).instrument(span.clone()).await?;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        )
    });
    if let Some(metrics) = metrics {
        metrics.observe(&method, &route, status, elapsed.as_secs_f64());
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    Ok(response)
}

/// Turns any error response that is not already problem+json (405 from
/// routing, 413 from the payload limit, …) into one.
pub fn problem_responses<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_problem = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(PROBLEM_CONTENT_TYPE));
        // TAXII answers in its own error format (see `taxii::taxii_errors`).
        let is_taxii = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/taxii+json"));
        if is_problem || is_taxii || res.status().as_u16() < 400 {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let (req, old) = res.into_parts();
        let mut replacement = HttpResponse::build(status);
        for (name, value) in old.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                replacement.append_header((name.clone(), value.clone()));
            }
        }
        let body: HttpResponse<BoxBody> = replacement
            .insert_header((header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE))
            .json(problem_for_status(status));
        Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(req, body).map_into_right_body(),
        ))
    })
}
