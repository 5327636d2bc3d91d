//! Per-organization rate limits: requests (`api.org_requests_per_second`,
//! `api.org_request_burst`) and items of bulk requests
//! (`api.org_bulk_items_per_second`: records created, addresses screened,
//! TAXII objects added). One organization's flood is answered 429 instead
//! of queueing in front of everyone else's requests.
//!
//! Each organization has a token bucket holding up to `burst` requests,
//! refilled at `rate` per second. A request takes one token or is refused
//! with 429 `rate-limited`, `Retry-After`, and the `RateLimit-Policy` /
//! `RateLimit` headers of the IETF draft (draft-ietf-httpapi-ratelimit-headers),
//! which every answer to a limited organization carries. Requests whose
//! certificate maps to no organization are not counted here: they are
//! refused by authentication anyway.
use crate::auth::AuthService;
use crate::error::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// The buckets of every organization seen (one per registered organization at most).
#[derive(Debug)]
pub struct OrgRateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No limit is configured.
    Unlimited,
    /// Allowed; `remaining` requests left now, the bucket full again in `reset_secs`.
    Allowed { remaining: u64, reset_secs: u64 },
    /// Refused; one request is allowed again in `retry_after_secs`.
    Limited { retry_after_secs: u64 },
}

impl OrgRateLimiter {
    /// `rate` requests per second (0: no limit), bursts of `burst` (0: `rate`).
    pub fn new(rate: u32, burst: u32) -> OrgRateLimiter {
        let burst = if burst == 0 { rate } else { burst };
        OrgRateLimiter {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.rate > 0.0
    }

    /// Takes a token from `organization`'s bucket, if it has one.
    pub fn check(&self, organization: &str, now: Instant) -> Decision {
        self.take(organization, 1, now)
    }

    /// Takes `cost` tokens from `organization`'s bucket, if it has them
    /// (a cost above the burst is charged as the whole burst).
    pub fn take(&self, organization: &str, cost: u64, now: Instant) -> Decision {
        let cost = (cost as f64).min(self.burst);
        if !self.enabled() {
            return Decision::Unlimited;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(organization.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            Decision::Allowed {
                remaining: bucket.tokens.floor() as u64,
                reset_secs: ((self.burst - bucket.tokens) / self.rate).ceil() as u64,
            }
        } else {
            Decision::Limited {
                retry_after_secs: (((cost - bucket.tokens) / self.rate).ceil() as u64).max(1),
            }
        }
    }

    /// `RateLimit-Policy`: the quota and the window it refills in.
    fn policy(&self, name: &str) -> String {
        let window = (self.burst / self.rate).ceil().max(1.0) as u64;
        format!("\"{name}\";q={};w={window}", self.burst as u64)
    }
}

/// The two limits of the API listener.
#[derive(Debug)]
pub struct OrgRateLimits {
    pub requests: OrgRateLimiter,
    /// Items of bulk requests; the burst holds at least one full batch.
    pub bulk_items: OrgRateLimiter,
}

impl OrgRateLimits {
    pub fn new(requests_per_second: u32, request_burst: u32, items_per_second: u32) -> Self {
        let largest_batch = crate::records::MAX_BATCH
            .max(crate::screening::MAX_SCREEN_BATCH)
            .max(crate::screening::private::MAX_PRIVATE_PREFIXES);
        OrgRateLimits {
            requests: OrgRateLimiter::new(requests_per_second, request_burst),
            bulk_items: OrgRateLimiter::new(
                items_per_second,
                items_per_second.max(largest_batch as u32),
            ),
        }
    }
}

/// Whether the request is a bulk write or screening whose items count.
fn is_bulk(req: &ServiceRequest) -> bool {
    let path = req.path();
    req.method() == actix_web::http::Method::POST
        && (path == "/v1/records"
            || path == "/v1/screen"
            || path == "/v1/screen/private"
            || (path.starts_with("/taxii2/") && path.ends_with("/objects/")))
}

/// How many items a bulk body holds (`items`, for TAXII `objects`, for
/// private screening `prefixes`);
/// 0 when it is not such JSON (the handler then refuses it).
fn count_items(body: &[u8]) -> u64 {
    #[derive(serde::Deserialize)]
    struct Bulk {
        #[serde(default)]
        items: Vec<serde::de::IgnoredAny>,
        #[serde(default)]
        objects: Vec<serde::de::IgnoredAny>,
        #[serde(default)]
        prefixes: Vec<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Bulk>(body)
        .map(|bulk| (bulk.items.len() + bulk.objects.len() + bulk.prefixes.len()) as u64)
        .unwrap_or(0)
}

/// Reads the body of a bulk request, counts its items and puts it back
/// (decoded) for the handler.
async fn charge_items(req: &mut ServiceRequest) -> Result<u64, actix_web::Error> {
    use actix_web::http::header;
    let body = req.extract::<web::Bytes>().await?;
    let items = count_items(&body);
    // The body is put back decoded: drop any Content-Encoding.
    let headers = req.headers_mut();
    headers.remove(header::CONTENT_ENCODING);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let (_, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(body);
    req.set_payload(payload.into());
    Ok(items)
}

static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The 429: a problem document, or under `/taxii2/` the same facts as a
/// TAXII error message (this middleware runs outside TAXII's own error
/// mapping, `api::taxii::taxii_errors`).
fn refusal(path: &str, retry_after_secs: u64) -> actix_web::HttpResponse {
    let error = ApiError::RateLimited { retry_after_secs };
    let mut response = error.error_response();
    if path.starts_with("/taxii2/") {
        let body = crate::error::TaxiiErrorBody::from(&error.to_problem());
        let json = serde_json::to_string(&body).unwrap_or_default();
        response.headers_mut().insert(
            actix_web::http::header::CONTENT_TYPE,
            HeaderValue::from_static(crate::taxii::TAXII_MEDIA_TYPE),
        );
        response = response.set_body(actix_web::body::BoxBody::new(json));
    }
    response
}

/// The middleware: counts each request against its organization's bucket.
pub async fn per_organization(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut req = req;
    let limits = req.app_data::<web::Data<OrgRateLimits>>().cloned();
    let limits = match limits {
        Some(limits) if limits.requests.enabled() || limits.bulk_items.enabled() => limits,
        _ => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    let certificate = crate::auth::forwarded::peer_certificate(req.request());
    let auth = req.app_data::<web::Data<AuthService>>().cloned();
    let organization = match (certificate, auth) {
        (Some(certificate), Some(auth)) => auth.identify(&certificate).await.ok(),
        _ => None,
    };
    let Some(organization) = organization else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let organization = organization.to_string();
    let now = Instant::now();
    let mut verdicts = vec![(
        "org",
        &limits.requests,
        limits.requests.check(&organization, now),
    )];
    if limits.bulk_items.enabled() && is_bulk(&req) {
        let items = match charge_items(&mut req).await {
            Ok(items) => items,
            Err(error) => {
                let response = error.error_response();
                return Ok(req.into_response(response).map_into_boxed_body());
            }
        };
        // Refused requests take no items.
        if !matches!(verdicts[0].2, Decision::Limited { .. }) {
            verdicts.push((
                "org-bulk-items",
                &limits.bulk_items,
                limits.bulk_items.take(&organization, items, now),
            ));
        }
    }
    let refused = verdicts.iter().find_map(|(_, _, verdict)| match verdict {
        Decision::Limited { retry_after_secs } => Some(*retry_after_secs),
        _ => None,
    });
    let mut response = match refused {
        None => next.call(req).await?.map_into_boxed_body(),
        Some(retry_after_secs) => {
            tracing::info!(%organization, retry_after_secs, "rate limit exceeded");
            let refused = refusal(req.path(), retry_after_secs);
            req.into_response(refused).map_into_boxed_body()
        }
    };
    let (mut policies, mut states) = (Vec::new(), Vec::new());
    for (name, limiter, verdict) in verdicts {
        let state = match verdict {
            Decision::Unlimited => continue,
            Decision::Allowed {
                remaining,
                reset_secs,
            } => format!("\"{name}\";r={remaining};t={reset_secs}"),
            Decision::Limited { retry_after_secs } => {
                format!("\"{name}\";r=0;t={retry_after_secs}")
            }
        };
        policies.push(limiter.policy(name));
        states.push(state);
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&policies.join(", ")) {
        headers.insert(RATELIMIT_POLICY.clone(), value);
    }
    if let Ok(value) = HeaderValue::from_str(&states.join(", ")) {
        headers.insert(RATELIMIT.clone(), value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn items_are_counted_in_bulk_bodies() {
        assert_eq!(count_items(br#"{"items": [1, {"a": [2]}, "x"]}"#), 3);
        assert_eq!(
            count_items(br#"{"type": "bundle", "objects": [{}, {}]}"#),
            2
        );
        assert_eq!(count_items(b"not json"), 0);
        let limiter = OrgRateLimiter::new(100, 1_000);
        let now = Instant::now();
        assert!(matches!(
            limiter.take("acme", 900, now),
            Decision::Allowed { remaining: 100, .. }
        ));
        assert_eq!(
            limiter.take("acme", 300, now),
            Decision::Limited {
                retry_after_secs: 2
            }
        );
    }

    #[test]
    fn buckets_refill_at_the_rate_and_are_per_organization() {
        let limiter = OrgRateLimiter::new(10, 3);
        let start = Instant::now();
        for remaining in [2, 1, 0] {
            assert!(matches!(
                limiter.check("acme", start),
                Decision::Allowed { remaining: r, .. } if r == remaining
            ));
        }
        assert_eq!(
            limiter.check("acme", start),
            Decision::Limited {
                retry_after_secs: 1
            }
        );
        // Another organization has its own bucket.
        assert!(matches!(
            limiter.check("beta", start),
            Decision::Allowed { .. }
        ));
        // 100 ms later acme has one token again.
        assert!(matches!(
            limiter.check("acme", start + Duration::from_millis(100)),
            Decision::Allowed { remaining: 0, .. }
        ));
        assert_eq!(
            OrgRateLimiter::new(0, 0).check("acme", start),
            Decision::Unlimited
        );
    }
}
