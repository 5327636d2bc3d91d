//! The HTTP edge's one error type, and the one place where errors become
//! RFC 9457 `application/problem+json` documents.
//!
//! Every problem has a stable `type` (`urn:tracewire:problem:<slug>`) that
//! clients can match on. Internal causes are logged, never sent.
use crate::auth::AuthError;
use crate::domain::DomainError;
use crate::storage::StorageError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// Stable, machine-readable problem type, e.g. `urn:tracewire:problem:token-expired`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For validation problems: one entry per offending item and field.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<FieldError>,
    /// OAuth 2.0 error code, on the token endpoint (RFC 6749 §5.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldError {
    /// Index of the offending item in a batch, when the request is a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// JSON pointer-like path of the field, e.g. `scopes` or `items/3/address`.
    pub field: String,
    /// Why the value was refused.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            index: None,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    /// The path exists, not with this method; the methods it has (for `Allow`).
    #[error("method not allowed")]
    MethodNotAllowed(Vec<&'static str>),
    /// The request target (path and query) is longer than the server reads.
    #[error("request target longer than {limit} bytes")]
    UriTooLong { limit: usize },
    /// The request's header fields are larger than the server reads.
    #[error("request header fields larger than {limit} bytes")]
    HeadersTooLarge { limit: usize },
    #[error("malformed request: {0}")]
    BadRequest(String),
    /// The request head did not arrive within the client request timeout.
    #[error("request timeout")]
    RequestTimeout,
    #[error("invalid JSON body: {0}")]
    InvalidJson(String),
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// The `Accept` header names no media type this resource can answer in.
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    /// Authenticated, with the scope, but not allowed this action here.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("only the source organization can change this record")]
    NotSource,
    /// An `Idempotency-Key` already used with a different request body.
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// RFC 6749 token endpoint errors: (status, OAuth error code, description).
    #[error("oauth error {1}: {2}")]
    OAuth(StatusCode, &'static str, String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The organization exceeded its request rate: 429 with `Retry-After`.
    #[error("rate limit exceeded; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The database is unreachable, full or read-only: 503 with `Retry-After`.
    #[error("storage unavailable: {fault}: {cause}")]
    StorageUnavailable {
        fault: crate::storage::health::StorageFault,
        cause: String,
    },
    /// The cause is logged; the client only sees that something failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound => ApiError::NotFound,
            StorageError::Conflict(what) => ApiError::Conflict(what),
            StorageError::Unavailable(cause) => ApiError::Unavailable(cause),
            StorageError::Fault { fault, cause } => ApiError::StorageUnavailable { fault, cause },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        let field = match &error {
            DomainError::InvalidIdentifier { what, .. } => what.replace(' ', "_"),
            DomainError::UnknownOrganizationType(_) => "type".into(),
            DomainError::UnknownScope(_) => "scopes".into(),
            DomainError::BadText { what, .. } => what.replace(' ', "_"),
        };
        ApiError::Validation(vec![FieldError::new(field, error.to_string())])
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        ApiError::Internal("blocking task was cancelled".into())
    }
}

impl ApiError {
    /// The stable slug of the problem `type`.
    pub fn slug(&self) -> &'static str {
        match self {
            ApiError::NotFound => "not-found",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::UriTooLong { .. } => "uri-too-long",
            ApiError::HeadersTooLarge { .. } => "header-fields-too-large",
            ApiError::BadRequest(_) => "bad-request",
            ApiError::RequestTimeout => "request-timeout",
            ApiError::InvalidJson(_) => "invalid-json",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::NotAcceptable(_) => "not-acceptable",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Validation(_) => "validation-failed",
            ApiError::Conflict(_) => "conflict",
            ApiError::NotSource => "not-record-source",
            ApiError::IdempotencyKeyReused => "idempotency-key-reused",
            ApiError::Auth(auth) => auth.slug(),
            ApiError::OAuth(_, code, _) => match *code {
                "invalid_client" => "oauth-invalid-client",
                "invalid_scope" => "oauth-invalid-scope",
                "unsupported_grant_type" => "oauth-unsupported-grant-type",
                "unauthorized_client" => "oauth-unauthorized-client",
                _ => "oauth-invalid-request",
            },
            ApiError::Unavailable(_) => "service-unavailable",
            ApiError::StorageUnavailable { .. } => "storage-unavailable",
            ApiError::RateLimited { .. } => "rate-limited",
            ApiError::Internal(_) => "internal-error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::NotFound => "Resource not found",
            ApiError::MethodNotAllowed(_) => "Method not allowed",
            ApiError::UriTooLong { .. } => "Request target too long",
            ApiError::HeadersTooLarge { .. } => "Request header fields too large",
            ApiError::BadRequest(_) => "Malformed request",
            ApiError::RequestTimeout => "Request timeout",
            ApiError::InvalidJson(_) => "Invalid JSON body",
            ApiError::PayloadTooLarge { .. } => "Request body too large",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::NotAcceptable(_) => "Not acceptable",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::Validation(_) => "Validation failed",
            ApiError::Conflict(_) => "Conflict",
            ApiError::NotSource => "Not the record's source",
            ApiError::IdempotencyKeyReused => "Idempotency key reused",
            ApiError::Auth(auth) => auth.title(),
            ApiError::OAuth(..) => "Token request refused",
            ApiError::Unavailable(_) => "Service unavailable",
            ApiError::StorageUnavailable { .. } => "Storage unavailable",
            ApiError::RateLimited { .. } => "Too many requests",
            ApiError::Internal(_) => "Internal error",
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            ApiError::NotFound => {
                Some("no resource at this path, or it is not visible to you".into())
            }
            ApiError::MethodNotAllowed(allow) if allow.is_empty() => None,
            ApiError::MethodNotAllowed(allow) => {
                Some(format!("this path allows {}", allow.join(", ")))
            }
            ApiError::UriTooLong { limit } => Some(format!(
                "the path and query may be at most {limit} bytes"
            )),
            ApiError::HeadersTooLarge { limit } => Some(format!(
                "the header fields may be at most {limit} bytes in all"
            )),
            ApiError::RequestTimeout => {
                Some("the request head did not arrive in time; the connection is closed".into())
            }
            ApiError::NotSource => Some(
                "only the source organization can change this record; share your own record instead".into(),
            ),
            ApiError::IdempotencyKeyReused => Some(
                "this Idempotency-Key was used with a different request body; use a new key for a new request".into(),
            ),
            ApiError::BadRequest(d) | ApiError::InvalidJson(d) | ApiError::Conflict(d) => {
                Some(d.clone())
            }
            ApiError::PayloadTooLarge { limit } => Some(format!("the limit is {limit} bytes")),
            ApiError::UnsupportedMediaType(d)
            | ApiError::NotAcceptable(d)
            | ApiError::Forbidden(d) => Some(d.clone()),
            ApiError::Validation(errors) => Some(format!("{} invalid field(s)", errors.len())),
            ApiError::Auth(auth) => Some(auth.to_string()),
            ApiError::OAuth(_, _, description) => Some(description.clone()),
            ApiError::Unavailable(_) => Some("a dependency is unavailable; retry later".into()),
            ApiError::StorageUnavailable { fault, .. } => {
                Some(format!("{}; retry later", fault.describe()))
            }
            ApiError::RateLimited { retry_after_secs } => Some(format!(
                "your organization's request rate is above its limit; retry after {retry_after_secs} s"
            )),
            ApiError::Internal(_) => {
                Some("the server failed to handle this request; it has been logged".into())
            }
        }
    }

    pub fn to_problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:tracewire:problem:{}", self.slug()),
            title: self.title().into(),
            status: self.status_code().as_u16(),
            detail: self.detail(),
            errors: match self {
                ApiError::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
            error: match self {
                ApiError::OAuth(_, code, _) => Some((*code).into()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::BadRequest(_) | ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Validation(_) | ApiError::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::NotSource => StatusCode::FORBIDDEN,
            ApiError::Auth(auth) => auth.status(),
            ApiError::OAuth(status, ..) => *status,
            ApiError::Unavailable(_) | ApiError::StorageUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => tracing::error!(cause = %cause, "request failed"),
            ApiError::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "dependency unavailable")
            }
            ApiError::StorageUnavailable { fault, cause } => {
                tracing::warn!(%fault, cause = %cause, "storage unavailable")
            }
            ApiError::Auth(auth) => tracing::info!(problem = auth.slug(), "authentication refused"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        ));
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        match self {
            ApiError::StorageUnavailable { fault, .. } => {
                response.insert_header((header::RETRY_AFTER, fault.retry_after_secs()));
            }
            ApiError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, 5));
            }
            ApiError::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, *retry_after_secs));
            }
            ApiError::MethodNotAllowed(allow) => {
                if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                    response.insert_header((header::ALLOW, value));
                }
            }
            _ => {}
        }
        if let ApiError::Auth(auth) = self {
            if let Some(challenge) = auth.www_authenticate() {
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.insert_header((header::WWW_AUTHENTICATE, value));
                }
            }
        }
        response.json(self.to_problem())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_causes_are_not_sent() {
        let problem =
            ApiError::Internal("password=hunter2 in connection string".into()).to_problem();
        let json = serde_json::to_string(&problem).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert_eq!(problem.status, 500);
        assert_eq!(problem.problem_type, "urn:tracewire:problem:internal-error");
    }

    #[test]
    fn validation_lists_every_field() {
        let problem = ApiError::Validation(vec![
            FieldError::new("a", "bad"),
            FieldError::new("b", "worse"),
        ])
        .to_problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors.len(), 2);
    }
}

impl From<crate::partners::AdminError> for ApiError {
    fn from(error: crate::partners::AdminError) -> Self {
        use crate::partners::AdminError;
        match error {
            AdminError::NotFound(_) => ApiError::NotFound,
            AdminError::AdminScopeReserved | AdminError::NoScopes => {
                ApiError::Validation(vec![FieldError::new("scopes", error.to_string())])
            }
            AdminError::BadCertificate(message) => {
                ApiError::Validation(vec![FieldError::new("certificate_pem", message)])
            }
            AdminError::Conflict(what) => ApiError::Conflict(what),
            AdminError::HubNotMember | AdminError::LastAdminClient => {
                ApiError::Conflict(error.to_string())
            }
            AdminError::Storage(storage) => storage.into(),
        }
    }
}

/// A problem document for a bare status produced outside the handlers
/// (routing, extractors), so that every error response is problem+json.
pub fn problem_for_status(status: StatusCode) -> Problem {
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(Vec::new()),
        StatusCode::URI_TOO_LONG => {
            return generic(status, "uri-too-long", "Request target too long")
        }
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            return generic(
                status,
                "header-fields-too-large",
                "Request header fields too large",
            )
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            return generic(status, "payload-too-large", "Request body too large")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::UnsupportedMediaType("the Content-Type is not accepted here".into())
        }
        StatusCode::BAD_REQUEST => ApiError::BadRequest("the request could not be read".into()),
        StatusCode::REQUEST_TIMEOUT => ApiError::RequestTimeout,
        StatusCode::INTERNAL_SERVER_ERROR => ApiError::Internal(String::new()),
        other => {
            return generic(
                other,
                "http-error",
                other.canonical_reason().unwrap_or("HTTP error"),
            )
        }
    };
    error.to_problem()
}

fn generic(status: StatusCode, slug: &str, title: &str) -> Problem {
    Problem {
        problem_type: format!("urn:tracewire:problem:{slug}"),
        title: title.into(),
        status: status.as_u16(),
        detail: None,
        errors: Vec::new(),
        error: None,
    }
}

/// Collects every invalid field of a request before refusing it, so one
/// 422 lists them all.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Keeps the value, or records the error under `field`.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(FieldError::new(field, error.to_string()));
                None
            }
        }
    }

    /// `Ok(value)` when nothing was recorded (and the value was built), else a 422.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(ApiError::Validation(self.0)),
        }
    }
}

impl From<crate::taxii::TaxiiError> for ApiError {
    fn from(error: crate::taxii::TaxiiError) -> Self {
        use crate::taxii::TaxiiError;
        match error {
            TaxiiError::BadRequest(message) => ApiError::BadRequest(message),
            TaxiiError::NotFound => ApiError::NotFound,
            TaxiiError::Forbidden(message) => ApiError::Forbidden(message),
            TaxiiError::Record(record) => record.into(),
            TaxiiError::Storage(storage) => storage.into(),
        }
    }
}

/// A TAXII 2.1 error message: what every error under `/taxii2/` is sent as
/// (with the TAXII media type) instead of a problem document. Built from
/// the problem document, so both carry the same facts.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct TaxiiErrorBody {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The problem type, as on `/v1` (`urn:tracewire:problem:<slug>`).
    pub error_code: String,
    /// The HTTP status, as text.
    pub http_status: String,
    /// For validation problems: the offending fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub details: Option<serde_json::Value>,
}

impl From<&Problem> for TaxiiErrorBody {
    fn from(problem: &Problem) -> Self {
        TaxiiErrorBody {
            title: problem.title.clone(),
            description: problem.detail.clone(),
            error_code: problem.problem_type.clone(),
            http_status: problem.status.to_string(),
            details: (!problem.errors.is_empty())
                .then(|| serde_json::json!({ "errors": problem.errors })),
        }
    }
}
