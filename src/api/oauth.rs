//! The token endpoint (OAuth 2.0 client credentials with mutual-TLS client
//! authentication, RFC 8705) and the hub's public keys.
use crate::auth::AuthService;
use crate::error::{ApiError, Problem};
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Form fields of a token request (`application/x-www-form-urlencoded`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    /// Must be `client_credentials`.
    #[schema(
        example = "client_credentials",
        pattern = "^client_credentials$",
        nullable = false
    )]
    pub grant_type: Option<String>,
    /// An API client registered to the organization of the presented certificate.
    #[schema(example = "acme-forensics-analyst", nullable = false)]
    pub client_id: Option<String>,
    /// Space-separated subset of the client's scopes; all of them when absent.
    #[schema(example = "indicators:read", nullable = false)]
    pub scope: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT bound to the client certificate (`cnf.x5t#S256`).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// The granted scopes, space-separated.
    pub scope: String,
}

/// Issue an access token.
///
/// Client credentials grant; the client authenticates with the connection's
/// client certificate (RFC 8705 `tls_client_auth`), no secret. The token is
/// bound to that certificate and only works on connections presenting it.
#[utoipa::path(
    post, path = "/v1/oauth/token", tag = "auth", operation_id = "issue_token",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Token issued", body = TokenResponse),
        (status = 400, description = "invalid_request, unsupported_grant_type or invalid_scope", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "invalid_client: unknown client, or not the certificate's organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("mutual_tls" = []))
)]
#[post("/oauth/token")]
pub async fn token(
    req: HttpRequest,
    form: web::Form<TokenForm>,
    auth: web::Data<AuthService>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let certificate = crate::auth::forwarded::peer_certificate(&req);
    let issued = auth
        .issue_token(
            certificate,
            crate::auth::service::TokenRequest {
                grant_type: form.grant_type,
                client_id: form.client_id,
                scope: form.scope,
            },
        )
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token: issued.access_token,
            token_type: "Bearer".into(),
            expires_in: issued.expires_in,
            scope: issued.scopes.to_string(),
        }))
}

/// The hub's token verification keys (JWKS). Retired keys stay listed until
/// the tokens they signed have expired.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "auth", operation_id = "jwks",
    responses((status = 200, description = "JSON Web Key Set", body = Object)),
    security(("mutual_tls" = []))
)]
#[get("/.well-known/jwks.json")]
pub async fn jwks(auth: web::Data<AuthService>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(auth.hub_keys().jwks())
}
