//! Console sessions: made by signing in with one of the organization's API
//! clients over its client certificate, kept server side (only the SHA-256
//! of the random 256-bit id is stored), bound to that certificate, expiring
//! after [`IDLE_TIMEOUT`] without use or [`ABSOLUTE_TIMEOUT`] after sign-in.
//!
//! Each request re-checks everything an API token is checked for: the
//! certificate still identifies the organization (a withdrawn or revoked
//! certificate does not), the session was made with this very certificate,
//! and the API client is still in effect; the session's scopes are the ones
//! the client had when signing in, less any removed since. The result is a
//! [`Caller`], the same value the API's handlers get, so every rule of the
//! domain applies unchanged.
use super::error::ConsoleError;
use crate::audit::{self, AuditEvent};
use crate::auth::{AuthService, Caller, PeerCertificate};
use crate::domain::{ClientId, OrganizationId, Scope, Scopes};
use crate::storage::{api_clients, console as store, now, organizations, Database, StorageError};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::LocalBoxFuture;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The session cookie's name.
pub const COOKIE: &str = "tw_console";
/// The cookie's (and the console's) path.
pub const PATH: &str = "/console";
/// A session not used for this long is over.
pub const IDLE_TIMEOUT: TimeDelta = TimeDelta::minutes(30);
/// A session is over this long after sign-in, however much it is used.
pub const ABSOLUTE_TIMEOUT: TimeDelta = TimeDelta::hours(8);
/// The last-use time is written at most this often (a page view is a read).
const TOUCH_EVERY: TimeDelta = TimeDelta::seconds(60);

/// A new session's secret id (base64url of 32 random bytes).
fn new_session_id() -> Result<String, ConsoleError> {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ConsoleError::Internal("no randomness".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored for a session id: its SHA-256, hex.
fn id_hash(id: &str) -> String {
    hex::encode(Sha256::digest(
        format!("tracewire-console-session:{id}").as_bytes(),
    ))
}

/// The session's CSRF synchronizer token: derived from the secret id (so
/// it is not stored), and not derivable from the stored hash.
fn csrf_token_of(id: &str) -> String {
    hex::encode(Sha256::digest(
        format!("tracewire-console-csrf:{id}").as_bytes(),
    ))
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The cookie carrying `id`.
pub fn cookie(id: &str) -> Cookie<'static> {
    Cookie::build(COOKIE, id.to_owned())
        .path(PATH)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(
            ABSOLUTE_TIMEOUT.num_seconds(),
        ))
        .finish()
}

/// The cookie that removes the session cookie from the browser.
pub fn removal_cookie() -> Cookie<'static> {
    let mut cookie = cookie("");
    cookie.make_removal();
    cookie
}

/// The organization the request's client certificate identifies (the same
/// lookup the API does), with the certificate.
pub async fn organization_of(
    req: &HttpRequest,
) -> Result<(OrganizationId, Arc<PeerCertificate>), ConsoleError> {
    let auth = req
        .app_data::<web::Data<AuthService>>()
        .cloned()
        .ok_or_else(|| ConsoleError::Internal("AuthService is not configured".into()))?;
    let certificate =
        crate::auth::forwarded::peer_certificate(req).ok_or(ConsoleError::NoCertificate)?;
    let organization = auth
        .identify(&certificate)
        .await
        .map_err(|_| ConsoleError::UnknownCertificate)?;
    Ok((organization, certificate))
}

/// The scopes a console session may use of a client's: the hub's `admin`
/// scope is not offered (the console does no administration).
fn console_scopes(scopes: &Scopes) -> Scopes {
    scopes.iter().filter(|s| *s != Scope::Admin).collect()
}

/// The API clients of an organization that a console session may use.
pub async fn clients_of(
    db: &Database,
    organization: &OrganizationId,
) -> Result<Vec<api_clients::ApiClient>, ConsoleError> {
    let organization = organization.clone();
    Ok(db
        .run(move |conn| api_clients::list_for(conn, &organization))
        .await?
        .into_iter()
        .filter(|c| c.in_effect())
        .collect())
}

/// Signs in: a session for `client_id`, which must be an API client in
/// effect of the certificate's organization. Returns the new session id.
/// Audited as `console.signin`.
pub async fn sign_in(
    db: &Database,
    organization: OrganizationId,
    certificate: &PeerCertificate,
    client_id: &str,
) -> Result<String, ConsoleError> {
    let client_id = ClientId::parse(client_id).map_err(|_| ConsoleError::UnknownClient)?;
    let id = new_session_id()?;
    let hash = id_hash(&id);
    let fingerprint = certificate.fingerprint.clone();
    db.run(move |conn| -> Result<(), ConsoleError> {
        let client = api_clients::find_active(conn, &client_id)?
            .filter(|c| c.organization_id == organization)
            .ok_or(ConsoleError::UnknownClient)?;
        let at = now();
        let row = store::SessionRow {
            id_hash: hash,
            organization_id: organization.to_string(),
            client_id: client.id.to_string(),
            certificate_fingerprint: fingerprint.clone(),
            scopes: console_scopes(&client.scopes).to_string(),
            created_at: at,
            last_seen_at: at,
        };
        let caller = caller_of(&row, console_scopes(&client.scopes), at);
        diesel::Connection::transaction(conn, |conn| -> Result<(), StorageError> {
            // Sessions that ended by expiry go now (they are refused anyway).
            store::delete_expired(conn, at - IDLE_TIMEOUT, at - ABSOLUTE_TIMEOUT)?;
            store::insert_session(conn, &row)?;
            audit::record(
                conn,
                &caller,
                AuditEvent {
                    action: "console.signin",
                    record_ids: Vec::new(),
                    result_count: 0,
                    detail: json!({ "certificate": fingerprint }),
                },
            )
        })?;
        Ok(())
    })
    .await?;
    Ok(id)
}

fn caller_of(row: &store::SessionRow, scopes: Scopes, last_seen: chrono::NaiveDateTime) -> Caller {
    let expires = (last_seen + IDLE_TIMEOUT).min(row.created_at + ABSOLUTE_TIMEOUT);
    Caller {
        organization: OrganizationId::parse(&row.organization_id)
            .unwrap_or_else(|_| OrganizationId::parse("invalid").expect("valid id")),
        client_id: row.client_id.clone(),
        scopes,
        issuer: "tracewire-console".into(),
        certificate_fingerprint: row.certificate_fingerprint.clone(),
        token_expires_at: DateTime::<Utc>::from_naive_utc_and_offset(expires, Utc),
    }
}

/// A signed-in console user: the [`Caller`] the domain code takes, and the
/// session's CSRF token for the forms of its pages.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
    /// The organization's display name.
    pub organization_name: String,
    id_hash: String,
}

impl Session {
    /// Refuses with 403 unless the session's client has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ConsoleError> {
        if self.caller.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ConsoleError::MissingScope(scope))
        }
    }

    pub fn can(&self, scope: Scope) -> bool {
        self.caller.scopes.contains(scope)
    }

    /// Checks a POST: the form's CSRF token is this session's, and the
    /// request comes from a console page of this server (Origin, or else
    /// Referer). Nothing is written unless this passes.
    pub fn check_post(&self, req: &HttpRequest, token: &str) -> Result<(), ConsoleError> {
        check_origin(req)?;
        if same(token, &self.csrf) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf(
                "the form's security token is missing or wrong",
            ))
        }
    }

    /// Signs out: deletes the session server side. Audited as `console.signout`.
    pub async fn sign_out(self, db: &Database) -> Result<(), ConsoleError> {
        db.run(move |conn| -> Result<(), StorageError> {
            diesel::Connection::transaction(conn, |conn| {
                store::delete_session(conn, &self.id_hash)?;
                audit::record(
                    conn,
                    &self.caller,
                    AuditEvent {
                        action: "console.signout",
                        record_ids: Vec::new(),
                        result_count: 0,
                        detail: json!({}),
                    },
                )
            })
        })
        .await?;
        Ok(())
    }
}

/// A POST must come from this server's own pages: its `Origin` (or, when a
/// browser sends none, its `Referer`) names the host the request was sent to.
pub fn check_origin(req: &HttpRequest) -> Result<(), ConsoleError> {
    let host = req.connection_info().host().to_owned();
    let expected = format!("https://{host}");
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let same_origin = match (header("origin"), header("referer")) {
        (Some(origin), _) => origin == expected,
        (None, Some(referer)) => url::Url::parse(&referer)
            .is_ok_and(|url| url.origin().ascii_serialization() == expected),
        (None, None) => false,
    };
    if same_origin {
        Ok(())
    } else {
        Err(ConsoleError::Csrf(
            "the form was not sent from this server's console (Origin or Referer)",
        ))
    }
}

/// Why a session cookie does not make a session.
#[derive(Debug)]
enum Refusal {
    /// No cookie, an unknown or an expired session: sign in (again).
    SignIn,
    /// The session was made with another certificate or organization.
    OtherCertificate,
}

async fn load(req: &HttpRequest) -> Result<Session, ConsoleError> {
    let db = req
        .app_data::<web::Data<Database>>()
        .cloned()
        .ok_or_else(|| ConsoleError::Internal("no database".into()))?;
    let (organization, certificate) = organization_of(req).await?;
    let id = req
        .cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or(ConsoleError::SignIn)?;
    let hash = id_hash(&id);
    let fingerprint = certificate.fingerprint.clone();
    let found = db
        .run(move |conn| -> Result<Result<(store::SessionRow, Scopes, String), Refusal>, StorageError> {
            let Some(row) = store::find_session(conn, &hash)? else {
                return Ok(Err(Refusal::SignIn));
            };
            let at = now();
            if row.last_seen_at + IDLE_TIMEOUT <= at || row.created_at + ABSOLUTE_TIMEOUT <= at {
                store::delete_session(conn, &hash)?;
                return Ok(Err(Refusal::SignIn));
            }
            if !same(&row.certificate_fingerprint, &fingerprint)
                || row.organization_id != organization.as_str()
            {
                // A replayed cookie: the session is ended, not just refused.
                store::delete_session(conn, &hash)?;
                tracing::warn!(organization = %organization, "console session presented over another certificate; ended");
                return Ok(Err(Refusal::OtherCertificate));
            }
            let client = ClientId::parse(&row.client_id)
                .ok()
                .map(|id| api_clients::find_active(conn, &id))
                .transpose()?
                .flatten()
                .filter(|c| c.organization_id == organization);
            let Some(client) = client else {
                store::delete_session(conn, &hash)?;
                return Ok(Err(Refusal::SignIn));
            };
            let org = organizations::find(conn, &organization)?;
            // Scopes removed from the client since sign-in no longer apply.
            let granted = Scopes::parse(&row.scopes).unwrap_or_default();
            let scopes = granted.intersection(&console_scopes(&client.scopes));
            if at - row.last_seen_at >= TOUCH_EVERY {
                store::touch_session(conn, &hash, at)?;
            }
            Ok(Ok((row, scopes, org.name)))
        })
        .await?;
    match found {
        Ok((row, scopes, organization_name)) => {
            let caller = caller_of(&row, scopes, now());
            Ok(Session {
                caller,
                csrf: csrf_token_of(&id),
                organization_name,
                id_hash: row.id_hash,
            })
        }
        Err(Refusal::SignIn) => Err(ConsoleError::SignIn),
        Err(Refusal::OtherCertificate) => Err(ConsoleError::OtherCertificate),
    }
}

impl FromRequest for Session {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Session, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { load(&req).await })
    }
}
