//! Access tokens: the claims tracewire issues and checks.
//!
//! Hub tokens are JWTs signed with the hub's active key (EdDSA or ES256),
//! bound to the client certificate by `cnf.x5t#S256` (RFC 8705), carrying
//! the organization (`org`), the client (`sub`, `client_id`) and the scopes
//! (`scope`, space-separated).
use super::keys::{allowed_algorithm, ActiveKey, VerificationKey};
use super::AuthError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

/// RFC 8705 confirmation claim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: serde_json::Value,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The organization the token was issued to (hub tokens always carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// Signs `claims` with the hub's active key.
/// Access tokens are typed `at+jwt` (RFC 9068 §2.1).
pub fn sign(claims: &Claims, key: &ActiveKey) -> Result<String, jsonwebtoken::errors::Error> {
    sign_typed(claims, key, Some("at+jwt"))
}

/// Signs `claims` with header `typ` (or none); [`sign`] is what the hub uses.
pub fn sign_typed(
    claims: &Claims,
    key: &ActiveKey,
    typ: Option<&str>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let mut header = Header::new(key.algorithm);
    header.kid = Some(key.kid.clone());
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key.key)
}

/// What can be read from a token before its signature is checked: enough
/// to pick the key set. Nothing here is trusted until [`verify_signed`] succeeds.
pub struct UnverifiedToken {
    pub algorithm: Algorithm,
    pub kid: String,
    pub issuer: String,
    /// The header's `typ`, if any.
    pub typ: Option<String>,
}

impl UnverifiedToken {
    /// RFC 9068 §4: an access token's header says `typ: at+jwt` (or
    /// `application/at+jwt`; media types compare case-insensitively).
    /// With `accept_jwt`, also `JWT` (`application/jwt`) or no `typ`, for
    /// partner issuers configured so.
    pub fn check_type(&self, accept_jwt: bool) -> Result<(), AuthError> {
        let typ = self.typ.as_deref().map(|t| {
            let t = t.trim().to_ascii_lowercase();
            t.strip_prefix("application/")
                .map(str::to_owned)
                .unwrap_or(t)
        });
        match typ.as_deref() {
            Some("at+jwt") => Ok(()),
            None | Some("jwt") if accept_jwt => Ok(()),
            None => Err(AuthError::WrongTokenType("absent".into())),
            Some(_) => Err(AuthError::WrongTokenType(format!(
                "{:?}",
                self.typ.as_deref().unwrap_or_default()
            ))),
        }
    }
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawIssuer {
    iss: Option<String>,
}

fn decode_segment<T: serde::de::DeserializeOwned>(
    segment: &str,
    what: &str,
) -> Result<T, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| AuthError::MalformedToken(format!("{what} is not base64url")))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| AuthError::MalformedToken(format!("{what} is not a JSON object")))
}

/// Reads the header and issuer, enforcing the algorithm allow-list first.
pub fn inspect(token: &str) -> Result<UnverifiedToken, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::MalformedToken(
            "expected three dot-separated parts".into(),
        ));
    };
    let header: RawHeader = decode_segment(header, "header")?;
    let alg = header
        .alg
        .ok_or_else(|| AuthError::MalformedToken("header has no alg".into()))?;
    let algorithm = allowed_algorithm(&alg).ok_or(AuthError::AlgorithmNotAllowed(alg))?;
    let kid = header
        .kid
        .ok_or_else(|| AuthError::MalformedToken("header has no kid".into()))?;
    let issuer = decode_segment::<RawIssuer>(payload, "payload")?
        .iss
        .ok_or_else(|| AuthError::InvalidClaims("no iss".into()))?;
    let typ = match header.typ {
        None => None,
        Some(serde_json::Value::String(typ)) => Some(typ),
        Some(_) => {
            return Err(AuthError::MalformedToken(
                "header typ is not a string".into(),
            ))
        }
    };
    Ok(UnverifiedToken {
        algorithm,
        kid,
        issuer,
        typ,
    })
}

/// Checks signature, `exp`, `nbf`, `iss` and `aud`, with `key` which must be
/// for the algorithm the token names.
pub fn verify_signed(
    token: &str,
    unverified: &UnverifiedToken,
    key: &VerificationKey,
    audience: &str,
    leeway_secs: u64,
) -> Result<Claims, AuthError> {
    if key.algorithm != unverified.algorithm {
        return Err(AuthError::AlgorithmNotAllowed(format!(
            "{:?} (key {} is for {:?})",
            unverified.algorithm, unverified.kid, key.algorithm
        )));
    }
    let mut validation = Validation::new(unverified.algorithm);
    validation.algorithms = vec![unverified.algorithm];
    validation.leeway = leeway_secs;
    validation.validate_nbf = true;
    validation.set_issuer(&[&unverified.issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
        .map(|data| data.claims)
        .map_err(|error| match error.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidAudience => AuthError::WrongAudience,
            ErrorKind::InvalidIssuer => AuthError::UntrustedIssuer,
            ErrorKind::InvalidSignature => AuthError::InvalidSignature,
            ErrorKind::InvalidAlgorithm => {
                AuthError::AlgorithmNotAllowed(format!("{:?}", unverified.algorithm))
            }
            ErrorKind::MissingRequiredClaim(claim) => {
                AuthError::InvalidClaims(format!("missing {claim}"))
            }
            ErrorKind::Json(_) => {
                AuthError::InvalidClaims("claims do not have the expected types".into())
            }
            _ => AuthError::MalformedToken("cannot be decoded".into()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(value: serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    #[test]
    fn alg_none_is_refused_before_anything_else() {
        let token = format!(
            "{}.{}.",
            segment(serde_json::json!({"alg": "none", "typ": "JWT"})),
            segment(serde_json::json!({"iss": "tracewire", "sub": "x"}))
        );
        assert_eq!(
            inspect(&token).err(),
            Some(AuthError::AlgorithmNotAllowed("none".into()))
        );
    }

    #[test]
    fn hmac_is_refused() {
        let token = format!(
            "{}.{}.sig",
            segment(serde_json::json!({"alg": "HS256", "kid": "k"})),
            segment(serde_json::json!({"iss": "tracewire"}))
        );
        assert_eq!(
            inspect(&token).err(),
            Some(AuthError::AlgorithmNotAllowed("HS256".into()))
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for token in ["", "abc", "a.b", "a.b.c.d", "!!.??.x"] {
            assert!(
                matches!(inspect(token), Err(AuthError::MalformedToken(_))),
                "{token:?}"
            );
        }
    }
}
