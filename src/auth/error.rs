use crate::domain::Scope;
use actix_web::http::StatusCode;

/// Why a request was not authenticated or not authorized.
///
/// Each variant has its own stable problem type; 401s carry a
/// `WWW-Authenticate: Bearer` challenge (RFC 6750).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the connection presented no client certificate")]
    MissingCertificate,
    #[error("the client certificate is not registered to any active organization")]
    UnregisteredCertificate,
    #[error("the request has no bearer token (Authorization: Bearer …)")]
    MissingToken,
    #[error("the bearer token is malformed: {0}")]
    MalformedToken(String),
    #[error("the token is not an access token: header typ {0} (expected at+jwt, RFC 9068)")]
    WrongTokenType(String),
    #[error("the token's algorithm {0:?} is not allowed")]
    AlgorithmNotAllowed(String),
    #[error("the token's issuer is not trusted")]
    UntrustedIssuer,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    InvalidSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's audience does not include this service")]
    WrongAudience,
    #[error("the token's claims are invalid: {0}")]
    InvalidClaims(String),
    #[error("the token is not bound to this connection's client certificate")]
    BindingMismatch,
    #[error("the token belongs to another organization than the client certificate")]
    OrganizationMismatch,
    #[error("the token's API client is unknown or disabled")]
    ClientDisabled,
    #[error("this operation needs the {0} scope")]
    InsufficientScope(Scope),
    /// A trusted proxy forwarded a client certificate that does not verify.
    #[error("the forwarded client certificate is invalid: {0}")]
    ForwardedCertificateInvalid(String),
}

impl AuthError {
    pub fn slug(&self) -> &'static str {
        match self {
            AuthError::MissingCertificate => "certificate-required",
            AuthError::UnregisteredCertificate => "certificate-not-registered",
            AuthError::MissingToken => "token-missing",
            AuthError::MalformedToken(_) => "token-malformed",
            AuthError::WrongTokenType(_) => "token-type-invalid",
            AuthError::AlgorithmNotAllowed(_) => "token-algorithm-not-allowed",
            AuthError::UntrustedIssuer => "token-issuer-untrusted",
            AuthError::UnknownKey => "token-key-unknown",
            AuthError::InvalidSignature => "token-signature-invalid",
            AuthError::Expired => "token-expired",
            AuthError::NotYetValid => "token-not-yet-valid",
            AuthError::WrongAudience => "token-audience-invalid",
            AuthError::InvalidClaims(_) => "token-claims-invalid",
            AuthError::BindingMismatch => "token-binding-mismatch",
            AuthError::OrganizationMismatch => "token-organization-mismatch",
            AuthError::ClientDisabled => "token-client-disabled",
            AuthError::InsufficientScope(_) => "insufficient-scope",
            AuthError::ForwardedCertificateInvalid(_) => "forwarded-certificate-invalid",
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            AuthError::MissingCertificate => "Client certificate required",
            AuthError::UnregisteredCertificate => "Client certificate not registered",
            AuthError::InsufficientScope(_) => "Insufficient scope",
            AuthError::MissingToken => "Bearer token required",
            AuthError::ForwardedCertificateInvalid(_) => "Forwarded client certificate invalid",
            _ => "Invalid bearer token",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::UnregisteredCertificate | AuthError::InsufficientScope(_) => {
                StatusCode::FORBIDDEN
            }
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The `WWW-Authenticate` challenge for this refusal (RFC 6750 §3).
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            AuthError::UnregisteredCertificate => None,
            AuthError::MissingToken | AuthError::MissingCertificate => {
                Some(r#"Bearer realm="tracewire""#.into())
            }
            AuthError::InsufficientScope(scope) => Some(format!(
                r#"Bearer realm="tracewire", error="insufficient_scope", scope="{scope}""#
            )),
            other => Some(format!(
                r#"Bearer realm="tracewire", error="invalid_token", error_description="{}""#,
                other.to_string().replace('"', "'")
            )),
        }
    }
}
