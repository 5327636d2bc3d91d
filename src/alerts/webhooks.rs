//! Webhook endpoints and their signatures (Standard Webhooks, v1).
//!
//! Each delivery carries `webhook-id` (the alert's id), `webhook-timestamp`
//! (Unix seconds) and `webhook-signature`: `v1,<base64 HMAC-SHA256 of
//! "<id>.<timestamp>.<body>">` under the endpoint's `whsec_` secret (the
//! base64 after the prefix is the key). The secret is shown once, when the
//! endpoint is made or its secret rotated; it is stored sealed. After a
//! rotation the old secret stays valid for a grace period, during which
//! every delivery is signed with both (space-separated), so a receiver can
//! switch over at its own pace.
use super::{AlertError, AlertKeys};
use crate::audit::{self, AuditEvent};
use crate::auth::Caller;
use crate::error::FieldError;
use crate::storage::webhooks::{self as store, DeliveryRow, EndpointRow};
use crate::storage::{now, DbConnection, StorageError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::Connection;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::IpAddr;
use utoipa::ToSchema;

/// The most endpoints one organization may register.
pub const MAX_ENDPOINTS: usize = 10;
/// The longest grace period of a rotated secret.
pub const MAX_GRACE_SECS: i64 = 7 * 24 * 3600;
const DEFAULT_GRACE_SECS: i64 = 24 * 3600;
const MAX_URL_BYTES: usize = 2048;
const MAX_DESCRIPTION_CHARS: usize = 256;

/// A new endpoint.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// An `https://` URL. Loopback, private and link-local addresses are
    /// refused unless the operator allows them.
    pub url: String,
    #[serde(default)]
    pub description: String,
}

/// Rotating an endpoint's secret.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret stays valid (deliveries are signed with
    /// both meanwhile): 0 to 604800 seconds, default 86400.
    #[serde(default)]
    pub grace_secs: Option<i64>,
}

/// An endpoint as its owner sees it (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    /// `active` or `disabled`.
    pub state: String,
    /// Why it was disabled (deliveries stopped; your alerts stay readable
    /// by `GET /v1/alerts`). Enable it again to resume where it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DateTime<Utc>>,
    /// Since when the oldest undelivered alert has been failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the previous secret is still valid (after a rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
}

/// An endpoint with its new secret: shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_<base64>`: verify each delivery's `webhook-signature` with it.
    /// It is not shown again.
    pub secret: String,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub id: String,
    /// The alert delivered (`webhook-id`).
    pub alert_id: String,
    /// 1 for the first attempt of this alert, 2 for its first retry, …
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i32>,
    /// Why the attempt failed, when it did not get an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: i64,
}

impl From<DeliveryRow> for Delivery {
    fn from(row: DeliveryRow) -> Delivery {
        Delivery {
            id: row.id,
            alert_id: row.alert_id,
            attempt: row.attempt,
            at: row.at.and_utc(),
            status_code: row.status_code,
            error: row.error,
            latency_ms: row.latency_ms,
        }
    }
}

/// A page of delivery attempts, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    /// Pass as `before` for older attempts; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl From<&EndpointRow> for Endpoint {
    fn from(row: &EndpointRow) -> Endpoint {
        let now = now();
        Endpoint {
            id: row.id.clone(),
            url: row.url.clone(),
            description: row.description.clone(),
            created_at: row.created_at.and_utc(),
            state: if row.disabled_at.is_some() {
                "disabled"
            } else {
                "active"
            }
            .into(),
            disabled_reason: row.disabled_reason.clone(),
            disabled_at: row.disabled_at.map(|t| t.and_utc()),
            failing_since: row.failing_since.map(|t| t.and_utc()),
            previous_secret_valid_until: row
                .previous_valid_until
                .filter(|until| *until > now)
                .map(|t| t.and_utc()),
        }
    }
}

/// A new `whsec_` secret: 32 random bytes.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    let _ = SystemRandom::new().fill(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

fn secret_context(endpoint: &str) -> String {
    format!("webhook\0{endpoint}")
}

/// The Standard Webhooks signature `v1,<base64>` of one message; `None`
/// when `secret` is not a `whsec_` secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let mut context = hmac::Context::with_key(&key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    Some(format!("v1,{}", STANDARD.encode(context.sign().as_ref())))
}

/// The `webhook-signature` header of a delivery to `endpoint` at `at`:
/// the current secret's signature, and the previous one's during its grace.
pub fn signature_header(
    keys: &AlertKeys,
    endpoint: &EndpointRow,
    id: &str,
    timestamp: i64,
    body: &[u8],
    at: chrono::NaiveDateTime,
) -> Result<String, AlertError> {
    let open = |sealed: &str| -> Result<String, AlertError> {
        let plain = keys.open(&secret_context(&endpoint.id), sealed)?;
        String::from_utf8(plain).map_err(|_| AlertError::Key("webhook secret".into()))
    };
    let mut signatures = Vec::new();
    let current = open(&endpoint.secret)?;
    signatures.extend(sign(&current, id, timestamp, body));
    if let (Some(previous), Some(until)) =
        (&endpoint.previous_secret, endpoint.previous_valid_until)
    {
        if until > at {
            signatures.extend(sign(&open(previous)?, id, timestamp, body));
        }
    }
    Ok(signatures.join(" "))
}

/// Is `ip` a public unicast address (not loopback, private, link-local,
/// shared, documentation, multicast or unspecified)?
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// Checks that `url` may be delivered to: `https`, a host, no credentials,
/// and (unless `allow_private`) only public addresses when resolved.
pub fn check_url(url: &str, allow_private: bool) -> Result<url::Url, String> {
    if url.len() > MAX_URL_BYTES {
        return Err(format!("longer than {MAX_URL_BYTES} bytes"));
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if parsed.scheme() != "https" {
        return Err("must be an https:// URL".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials".into());
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("has no host")?;
    if !allow_private {
        let port = parsed.port_or_known_default().unwrap_or(443);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
                .map_err(|e| format!("host does not resolve: {e}"))?
                .map(|a| a.ip())
                .collect(),
        };
        if addresses.is_empty() {
            return Err("host does not resolve".into());
        }
        if let Some(ip) = addresses.into_iter().find(|ip| !is_public(*ip)) {
            return Err(format!(
                "resolves to {ip}, a loopback, private or otherwise non-public address \
                 (the operator can allow these with alerts.allow_private_endpoints)"
            ));
        }
    }
    Ok(parsed)
}

fn owned(conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<EndpointRow, AlertError> {
    match store::endpoint(conn, id) {
        Ok(row) if row.organization_id == caller.organization.as_str() => Ok(row),
        Ok(_) | Err(StorageError::NotFound) => Err(AlertError::NotFound),
        Err(other) => Err(other.into()),
    }
}

/// Registers an endpoint for the caller's alerts; its secret is in the answer only.
pub fn create(
    conn: &mut DbConnection,
    keys: &AlertKeys,
    caller: &Caller,
    new: NewEndpoint,
    allow_private: bool,
) -> Result<EndpointWithSecret, AlertError> {
    let mut errors = Vec::new();
    if let Err(message) = check_url(&new.url, allow_private) {
        errors.push(FieldError::new("url", message));
    }
    if new.description.chars().count() > MAX_DESCRIPTION_CHARS
        || crate::domain::control_character(&new.description, false).is_some()
    {
        errors.push(FieldError::new(
            "description",
            format!("at most {MAX_DESCRIPTION_CHARS} characters, no control characters"),
        ));
    }
    if !errors.is_empty() {
        return Err(AlertError::Validation(errors));
    }
    let org = caller.organization.as_str();
    let id = uuid::Uuid::now_v7().to_string();
    let secret = new_secret();
    let row = EndpointRow {
        id: id.clone(),
        organization_id: org.to_owned(),
        url: new.url,
        description: new.description,
        secret: keys.seal(&secret_context(&id), secret.as_bytes()),
        previous_secret: None,
        previous_valid_until: None,
        created_at: now(),
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        lease_until: None,
    };
    conn.transaction(|conn| {
        if store::endpoints_of(conn, org)?.len() >= MAX_ENDPOINTS {
            return Err(AlertError::LimitReached(format!(
                "an organization may register at most {MAX_ENDPOINTS} webhook endpoints"
            )));
        }
        store::insert_endpoint(conn, &row)?;
        audit::record(
            conn,
            caller,
            AuditEvent {
                action: "webhooks.create",
                record_ids: Vec::new(),
                result_count: 1,
                detail: json!({ "endpoint": id }),
            },
        )?;
        Ok(())
    })?;
    Ok(EndpointWithSecret {
        endpoint: Endpoint::from(&row),
        secret,
    })
}

pub fn list(conn: &mut DbConnection, caller: &Caller) -> Result<Vec<Endpoint>, AlertError> {
    Ok(store::endpoints_of(conn, caller.organization.as_str())?
        .iter()
        .map(Endpoint::from)
        .collect())
}

pub fn get(conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<Endpoint, AlertError> {
    Ok(Endpoint::from(&owned(conn, caller, id)?))
}

/// Removes an endpoint, its queue and its log (alerts stay readable).
pub fn delete(conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<(), AlertError> {
    conn.transaction(|conn| {
        owned(conn, caller, id)?;
        store::delete_endpoint(conn, id)?;
        audit::record(
            conn,
            caller,
            AuditEvent {
                action: "webhooks.delete",
                record_ids: Vec::new(),
                result_count: 1,
                detail: json!({ "endpoint": id }),
            },
        )?;
        Ok(())
    })
}

/// A new secret; the old one stays valid for the grace period.
pub fn rotate(
    conn: &mut DbConnection,
    keys: &AlertKeys,
    caller: &Caller,
    id: &str,
    request: RotateSecret,
) -> Result<EndpointWithSecret, AlertError> {
    let grace = request.grace_secs.unwrap_or(DEFAULT_GRACE_SECS);
    if !(0..=MAX_GRACE_SECS).contains(&grace) {
        return Err(AlertError::Validation(vec![FieldError::new(
            "grace_secs",
            format!("must be 0 to {MAX_GRACE_SECS}"),
        )]));
    }
    let secret = new_secret();
    let row = conn.transaction(|conn| {
        let mut row = owned(conn, caller, id)?;
        row.previous_secret = Some(row.secret.clone());
        row.previous_valid_until = Some(now() + TimeDelta::seconds(grace));
        row.secret = keys.seal(&secret_context(id), secret.as_bytes());
        store::update_endpoint(conn, &row)?;
        audit::record(
            conn,
            caller,
            AuditEvent {
                action: "webhooks.rotate",
                record_ids: Vec::new(),
                result_count: 1,
                detail: json!({ "endpoint": id, "grace_secs": grace }),
            },
        )?;
        Ok::<_, AlertError>(row)
    })?;
    Ok(EndpointWithSecret {
        endpoint: Endpoint::from(&row),
        secret,
    })
}

/// Enables a disabled endpoint: its queued alerts are delivered again, in order.
pub fn enable(conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<Endpoint, AlertError> {
    conn.transaction(|conn| {
        let mut row = owned(conn, caller, id)?;
        row.disabled_at = None;
        row.disabled_reason = None;
        row.failing_since = None;
        store::update_endpoint(conn, &row)?;
        store::due_now(conn, id, now())?;
        audit::record(
            conn,
            caller,
            AuditEvent {
                action: "webhooks.enable",
                record_ids: Vec::new(),
                result_count: 1,
                detail: json!({ "endpoint": id }),
            },
        )?;
        Ok(Endpoint::from(&row))
    })
}

/// The endpoint's delivery attempts, newest first.
pub fn deliveries(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<DeliveryPage, AlertError> {
    owned(conn, caller, id)?;
    let limit = limit.clamp(1, 1000);
    let mut rows = store::deliveries(conn, id, before, limit + 1)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
    Ok(DeliveryPage {
        items: rows.into_iter().map(Delivery::from).collect(),
        next,
    })
}

/// One endpoint's health, for the hub operator: no alert content, no URL path.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EndpointHealth {
    pub id: String,
    pub organization: String,
    /// The receiver's host.
    pub host: String,
    /// `active` or `disabled`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// Alerts waiting for delivery.
    pub queued: i64,
    /// How long the oldest of them has waited, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_queued_secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<i32>,
}

/// Alerts waiting for enabled endpoints, and the age in seconds of the oldest (0 when none).
pub fn queue_totals(conn: &mut DbConnection) -> Result<(i64, i64), AlertError> {
    let enabled: std::collections::HashSet<String> = store::all_endpoints(conn)?
        .into_iter()
        .filter(|e| e.disabled_at.is_none())
        .map(|e| e.id)
        .collect();
    let at = now();
    let mut depth = 0;
    let mut oldest = 0;
    for (id, queued, first) in store::queue_stats(conn)? {
        if enabled.contains(&id) {
            depth += queued;
            oldest = oldest.max(first.map_or(0, |f| (at - f).num_seconds()));
        }
    }
    Ok((depth, oldest))
}

/// Every endpoint's health.
pub fn health(conn: &mut DbConnection) -> Result<Vec<EndpointHealth>, AlertError> {
    let endpoints = store::all_endpoints(conn)?;
    let stats: std::collections::HashMap<String, (i64, Option<chrono::NaiveDateTime>)> =
        store::queue_stats(conn)?
            .into_iter()
            .map(|(id, n, oldest)| (id, (n, oldest)))
            .collect();
    let ids: Vec<String> = endpoints.iter().map(|e| e.id.clone()).collect();
    let last: std::collections::HashMap<String, DeliveryRow> = store::last_deliveries(conn, &ids)?
        .into_iter()
        .map(|d| (d.endpoint_id.clone(), d))
        .collect();
    let at = now();
    Ok(endpoints
        .iter()
        .map(|e| {
            let (queued, oldest) = stats.get(&e.id).cloned().unwrap_or((0, None));
            let last = last.get(&e.id);
            EndpointHealth {
                id: e.id.clone(),
                organization: e.organization_id.clone(),
                host: url::Url::parse(&e.url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_default(),
                state: if e.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                }
                .into(),
                disabled_reason: e.disabled_reason.clone(),
                failing_since: e.failing_since.map(|t| t.and_utc()),
                queued,
                oldest_queued_secs: oldest.map(|o| (at - o).num_seconds()),
                last_attempt_at: last.map(|d| d.at.and_utc()),
                last_status_code: last.and_then(|d| d.status_code),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's own example.
    #[test]
    fn signs_the_specifications_test_vector() {
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("not-a-secret", "id", 1, b""), None);
    }

    #[test]
    fn refuses_non_public_and_non_https_endpoints() {
        for url in [
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.1/",
            "https://169.254.169.254/latest",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
        ] {
            assert!(check_url(url, false).is_err(), "{url}");
            assert!(check_url(url, true).is_ok(), "{url} allowed");
        }
        assert!(check_url("http://8.8.8.8/", true).is_err());
        assert!(check_url("https://user:pw@8.8.8.8/", true).is_err());
        assert!(check_url("https://8.8.8.8/hook", false).is_ok());
        assert!(check_url("not a url", true).is_err());
    }
}
