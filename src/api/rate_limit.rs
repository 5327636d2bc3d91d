//! Per-organization request rate limits (`api.org_requests_per_second`,
//! `api.org_request_burst`): one organization's flood is answered 429
//! instead of queueing in front of everyone else's requests.
//!
//! Each organization has a token bucket holding up to `burst` requests,
//! refilled at `rate` per second. A request takes one token or is refused
//! with 429 `rate-limited`, `Retry-After`, and the `RateLimit-Policy` /
//! `RateLimit` headers of the IETF draft (draft-ietf-httpapi-ratelimit-headers),
//! which every answer to a limited organization carries. Requests whose
//! certificate maps to no organization are not counted here: they are
//! refused by authentication anyway.
use crate::auth::{AuthService, PeerCertificate};
use crate::error::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Decision::Allowed {
                remaining: bucket.tokens.floor() as u64,
                reset_secs: ((self.burst - bucket.tokens) / self.rate).ceil() as u64,
            }
        } else {
            Decision::Limited {
                retry_after_secs: (((1.0 - bucket.tokens) / self.rate).ceil() as u64).max(1),
            }
        }
    }

    /// `RateLimit-Policy`: the quota and the window it refills in.
    fn policy(&self) -> String {
        let window = (self.burst / self.rate).ceil().max(1.0) as u64;
        format!("\"org\";q={};w={window}", self.burst as u64)
    }
}

static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The middleware: counts each request against its organization's bucket.
pub async fn per_organization(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let limiter = req.app_data::<web::Data<OrgRateLimiter>>().cloned();
    let limiter = match limiter {
        Some(limiter) if limiter.enabled() => limiter,
        _ => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    let certificate = req.conn_data::<Arc<PeerCertificate>>().cloned();
    let auth = req.app_data::<web::Data<AuthService>>().cloned();
    let organization = match (certificate, auth) {
        (Some(certificate), Some(auth)) => auth.identify(&certificate).await.ok(),
        _ => None,
    };
    let Some(organization) = organization else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let decision = limiter.check(&organization.to_string(), Instant::now());
    let (mut response, state) = match decision {
        Decision::Unlimited => return Ok(next.call(req).await?.map_into_boxed_body()),
        Decision::Allowed {
            remaining,
            reset_secs,
        } => (
            next.call(req).await?.map_into_boxed_body(),
            format!("\"org\";r={remaining};t={reset_secs}"),
        ),
        Decision::Limited { retry_after_secs } => {
            tracing::info!(%organization, retry_after_secs, "rate limit exceeded");
            let refused = ApiError::RateLimited { retry_after_secs }.error_response();
            (
                req.into_response(refused).map_into_boxed_body(),
                format!("\"org\";r=0;t={retry_after_secs}"),
            )
        }
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&limiter.policy()) {
        headers.insert(RATELIMIT_POLICY.clone(), value);
    }
    if let Ok(value) = HeaderValue::from_str(&state) {
        headers.insert(RATELIMIT.clone(), value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
