//! The HTTP edge: routes, request limits, the request middleware (request id,
//! logging, metrics) and the conversion of every stray error into a problem
//! document. Handlers live in one module per resource and stay thin.
pub mod admin;
pub mod alerts;
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
pub mod watchlist;
pub mod webhooks;
pub mod whoami;
pub mod wire;

use crate::error::{problem_for_status, ApiError, PROBLEM_CONTENT_TYPE};
use crate::metrics::Metrics;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::{error, mime, web, HttpMessage, HttpRequest, HttpResponse};
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
        // (`text/json` and other non-`application/` JSON types are refused
        // by `request_limits`: actix's own check looks at the subtype only.)
        .content_type_required(true)
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
            .configure(changes::configure)
            .configure(watchlist::configure)
            .configure(alerts::configure)
            .configure(webhooks::configure),
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

/// What no route matched: a 405 with `Allow` when the path exists with
/// other methods (TRACE included), else a 404.
async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allow = allowed_methods(req.path());
    if allow.is_empty() {
        Err(ApiError::NotFound)
    } else {
        Err(ApiError::MethodNotAllowed(allow))
    }
}

/// One segment of a documented path: literal text, or a `{parameter}`.
#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Parameter(String),
}

/// The routes of the OpenAPI document, as path segments, with their methods.
type RouteTable = Vec<(Vec<Segment>, &'static str)>;

fn route_table() -> &'static RouteTable {
    static TABLE: std::sync::OnceLock<RouteTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        use utoipa::OpenApi;
        let doc = crate::openapi::ApiDoc::openapi();
        let mut table = Vec::new();
        for (path, item) in &doc.paths.paths {
            let segments: Vec<Segment> = path
                .split('/')
                .map(
                    |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => Segment::Parameter(name.to_owned()),
                        None => Segment::Literal(s.to_owned()),
                    },
                )
                .collect();
            // The operations listener's routes are not served here.
            let served = |operation: &Option<utoipa::openapi::path::Operation>| {
                operation.as_ref().is_some_and(|o| {
                    !o.tags
                        .as_ref()
                        .is_some_and(|tags| tags.iter().any(|t| t == "operations"))
                })
            };
            let methods = [
                ("GET", served(&item.get)),
                ("POST", served(&item.post)),
                ("PUT", served(&item.put)),
                ("PATCH", served(&item.patch)),
                ("DELETE", served(&item.delete)),
            ];
            for (method, present) in methods {
                if present {
                    table.push((segments.clone(), method));
                }
            }
        }
        table
    })
}

/// The documented routes whose template `path` (as sent) matches.
fn matching_routes(path: &str) -> impl Iterator<Item = &'static (Vec<Segment>, &'static str)> {
    let segments: Vec<String> = path.split('/').map(str::to_owned).collect();
    route_table().iter().filter(move |(template, _)| {
        template.len() == segments.len()
            && template.iter().zip(&segments).all(|(t, s)| match t {
                Segment::Literal(literal) => literal == s,
                Segment::Parameter(_) => !s.is_empty(),
            })
    })
}

/// The name of the path parameter at segment `index` of `path`, if a
/// documented route has one there.
fn path_parameter(path: &str, index: usize) -> Option<&'static str> {
    matching_routes(path).find_map(|(template, _)| match template.get(index) {
        Some(Segment::Parameter(name)) => Some(name.as_str()),
        _ => None,
    })
}

/// The methods the documented routes serve at `path` (empty when none).
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    // The most specific documented resource wins: `/v1/alerts/acknowledge`
    // is its own resource, not `/v1/alerts/{id}`.
    let parameters = |segments: &[Segment]| {
        segments
            .iter()
            .filter(|s| matches!(s, Segment::Parameter(_)))
            .count()
    };
    let matching: Vec<_> = matching_routes(path).collect();
    let fewest = matching
        .iter()
        .map(|(segments, _)| parameters(segments))
        .min()
        .unwrap_or(0);
    let mut allow: Vec<&'static str> = matching
        .iter()
        .filter(|(segments, _)| parameters(segments) == fewest)
        .map(|(_, method)| *method)
        .collect();
    let order = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    allow.sort_by_key(|m| order.iter().position(|o| o == m));
    allow.dedup();
    allow
}

/// The longest request target (path and query) read, in bytes: longer is a 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most bytes of header fields (names and values) read: more is a 431.
/// (Request heads over 128 KiB, or with more than 96 fields, are refused by
/// the HTTP parser before this check; [`wire`] answers those with a 431
/// problem too.)
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Why a request's target or headers are refused before routing, if they are.
fn check_request_target(req: &ServiceRequest) -> Result<(), ApiError> {
    let target_length = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().len())
        .unwrap_or_default();
    if target_length > MAX_URI_BYTES {
        return Err(ApiError::UriTooLong {
            limit: MAX_URI_BYTES,
        });
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge {
            limit: MAX_HEADER_BYTES,
        });
    }
    // JSON is `application/json` or `application/<something>+json`.
    if let Ok(Some(mime)) = req.mime_type() {
        let names_json = mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON);
        if names_json && mime.type_() != mime::APPLICATION {
            return Err(ApiError::UnsupportedMediaType(format!(
                "{mime} is not a JSON media type: send Content-Type: application/json"
            )));
        }
    }
    for (index, segment) in req.path().split('/').enumerate() {
        let decoded = percent_encoding::percent_decode_str(segment).collect::<Vec<u8>>();
        let Ok(decoded) = String::from_utf8(decoded) else {
            return Err(ApiError::BadRequest("the path is not valid UTF-8".into()));
        };
        if let Some(c) = crate::domain::control_character(&decoded, false) {
            // A documented parameter is named, as a field; elsewhere, the path is malformed.
            return Err(match path_parameter(req.path(), index) {
                Some(name) => ApiError::Validation(vec![crate::error::FieldError::new(
                    name,
                    format!(
                        "must not contain control characters; found U+{:04X}",
                        c as u32
                    ),
                )]),
                None => ApiError::BadRequest("the path must not contain control characters".into()),
            });
        }
    }
    let mut errors = Vec::new();
    for pair in req.query_string().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |part: &str| {
            let plus_as_space = part.replace('+', " ");
            let bytes: Vec<u8> = percent_encoding::percent_decode_str(&plus_as_space).collect();
            String::from_utf8(bytes)
        };
        let (Ok(name), Ok(value)) = (decode(name), decode(value)) else {
            return Err(ApiError::BadRequest(
                "the query is not valid UTF-8 (percent-encode UTF-8 bytes)".into(),
            ));
        };
        if name.chars().any(char::is_control) {
            return Err(ApiError::BadRequest(
                "query parameter names must not contain control characters".into(),
            ));
        }
        if let Some(c) = crate::domain::control_character(&value, false) {
            errors.push(crate::error::FieldError::new(
                name,
                format!(
                    "must not contain control characters; found U+{:04X}",
                    c as u32
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Refuses, before routing and as problem documents, what the handlers
/// should never see: a request target over [`MAX_URI_BYTES`] (414), header
/// fields over [`MAX_HEADER_BYTES`] (431), a path or query that is not
/// UTF-8 once percent-decoded (400), a control character in a query value
/// or path parameter (422 naming the parameter; elsewhere in the path,
/// 400). Under
/// `/taxii2/` the refusal is a TAXII error message.
pub async fn request_limits<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    match check_request_target(&req) {
        Ok(()) => Ok(next.call(req).await?.map_into_boxed_body()),
        Err(error) => {
            let response = if req.path().starts_with("/taxii2") {
                taxii::error_message(&error)
            } else {
                actix_web::ResponseError::error_response(&error)
            };
            Ok(req.into_response(response))
        }
    }
}

/// A client certificate forwarded by a trusted TLS-terminating proxy
/// (`api.trusted_proxies`) becomes the request's certificate for every
/// handler (see `crate::auth::forwarded`); one that does not verify is a
/// 401 `forwarded-certificate-invalid`.
pub async fn forwarded_certificates<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    let resolved = req
        .app_data::<web::Data<Option<crate::auth::forwarded::ForwardedCertificates>>>()
        .and_then(|f| f.as_ref().as_ref())
        .map(|forwarded| forwarded.resolve(req.peer_addr().map(|a| a.ip()), req.headers()));
    match resolved {
        Some(Err(error)) => {
            let error = ApiError::Auth(error);
            let response = if req.path().starts_with("/taxii2") {
                taxii::error_message(&error)
            } else {
                actix_web::ResponseError::error_response(&error)
            };
            Ok(req.into_response(response))
        }
        Some(Ok(Some(certificate))) => {
            req.extensions_mut()
                .insert(crate::auth::forwarded::ForwardedPeer(std::sync::Arc::new(
                    certificate,
                )));
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        _ => Ok(next.call(req).await?.map_into_boxed_body()),
    }
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
        // The console answers errors with HTML pages (see `crate::console`).
        let is_page = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if is_problem || is_taxii || is_page || res.status().as_u16() < 400 {
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
