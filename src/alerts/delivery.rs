//! The background work of alerts: the change-feed consumer loop, and the
//! webhook delivery worker over the outbox.
//!
//! Delivery is in order per endpoint: only the oldest undelivered alert of
//! an endpoint is tried, and the next one waits until it is delivered. The
//! worker reads an endpoint's queue in rounds of up to [`ROUND`] alerts,
//! sends them one after the other while each succeeds, and records the
//! round's attempts in one transaction (a busy queue costs one write per
//! round, not one per alert). A failed attempt (no answer, or a status
//! other than 2xx) is retried after `alerts.retry_initial_ms`, doubling up
//! to `alerts.retry_max_secs`; when the oldest alert has been failing for
//! `alerts.retry_for_secs` (26 h by default), the endpoint is disabled with
//! a reason its owner can read. The outbox is in the database, so a restart
//! loses nothing; a server that dies in the middle of a round leaves its
//! lease to expire and the round's attempts are made again (at-least-once:
//! receivers deduplicate by `webhook-id`, as the Standard Webhooks
//! specification expects).
use super::consumer::{run_batch, BATCH};
use super::inbox;
use super::webhooks::{check_url, signature_header};
use super::{AlertError, AlertKeys};
use crate::config::AlertSettings;
use crate::metrics::Metrics;
use crate::storage::alerts::{self as alert_store, AlertRow};
use crate::storage::webhooks::{self as store, DeliveryRow, OutboxRow};
use crate::storage::{now, Database};
use anyhow::Context;
use chrono::TimeDelta;
use diesel::Connection;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Alerts an endpoint's delivery reads, sends and records per round.
const ROUND: i64 = 100;

/// How long into its lease (`delivery_timeout_secs` + 2 s) a round starts
/// sends: one started then and taking its whole timeout ends inside it.
const ROUND_SENDING: Duration = Duration::from_secs(1);

/// TLS for receivers: the public web roots plus `alerts.receiver_ca_file`.
pub fn receiver_tls(settings: &AlertSettings) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &settings.receiver_ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("alerts.receiver_ca_file: cannot read {}", path.display()))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.with_context(|| {
                format!("alerts.receiver_ca_file: {} is not PEM", path.display())
            })?;
            roots
                .add(cert)
                .context("alerts.receiver_ca_file: not a usable CA certificate")?;
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Consumes the change feed into alerts until the task is dropped.
pub async fn run_consumer(
    db: Database,
    keys: Arc<AlertKeys>,
    metrics: actix_web::web::Data<Metrics>,
    wake: Arc<Notify>,
    poll: Duration,
) {
    loop {
        let batch_keys = keys.clone();
        let outcome = db
            .run(move |conn| run_batch(conn, &batch_keys, BATCH))
            .await;
        match outcome {
            Ok(outcome) => {
                metrics.alerts_created.inc_by(outcome.alerts as u64);
                if outcome.queued > 0 {
                    wake.notify_one();
                }
                if outcome.changes as i64 == BATCH {
                    continue;
                }
            }
            Err(error) => tracing::warn!(%error, "alert consumer: batch failed; retrying"),
        }
        tokio::time::sleep(poll).await;
    }
}

/// Delivers the outbox.
pub struct Deliverer {
    db: Database,
    keys: Arc<AlertKeys>,
    settings: AlertSettings,
    client: awc::Client,
    metrics: actix_web::web::Data<Metrics>,
    in_flight: RefCell<HashSet<String>>,
}

/// How one attempt went.
struct Attempt {
    status: Option<u16>,
    error: Option<String>,
    latency: Duration,
}

impl Attempt {
    fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn describe(&self) -> String {
        match (self.status, &self.error) {
            (Some(status), _) => format!("HTTP {status}"),
            (None, Some(error)) => error.clone(),
            (None, None) => "no answer".into(),
        }
    }
}

impl Deliverer {
    pub fn new(
        db: Database,
        keys: Arc<AlertKeys>,
        settings: AlertSettings,
        tls: rustls::ClientConfig,
        metrics: actix_web::web::Data<Metrics>,
    ) -> Deliverer {
        let client = awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(Arc::new(tls)))
            .timeout(Duration::from_secs(settings.delivery_timeout_secs))
            .disable_redirects()
            .finish();
        Deliverer {
            db,
            keys,
            settings,
            client,
            metrics,
            in_flight: RefCell::new(HashSet::new()),
        }
    }

    fn lease(&self) -> TimeDelta {
        TimeDelta::seconds(self.settings.delivery_timeout_secs as i64 + 2)
    }

    /// Delay before attempt `attempts + 1` after `attempts` failures.
    fn backoff(&self, attempts: i32) -> TimeDelta {
        let initial = self.settings.retry_initial_ms as f64;
        let max = self.settings.retry_max_secs as f64 * 1000.0;
        let exponent = (attempts.max(1) - 1).min(40);
        let delay = (initial * 2f64.powi(exponent)).min(max.max(initial));
        TimeDelta::milliseconds(delay as i64)
    }

    /// Runs until the task is dropped (must run on the actix runtime: the
    /// HTTP client is not `Send`).
    pub async fn run(self: Rc<Self>, wake: Arc<Notify>) {
        let poll = Duration::from_millis(self.settings.poll_interval_ms);
        loop {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
            let due = self.db.run(|conn| store::with_work(conn, now())).await;
            let due = match due {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "webhook delivery: cannot read the outbox");
                    continue;
                }
            };
            for endpoint in due {
                if !self.in_flight.borrow_mut().insert(endpoint.clone()) {
                    continue;
                }
                let worker = self.clone();
                actix_web::rt::spawn(async move {
                    if let Err(error) = worker.deliver_endpoint(&endpoint).await {
                        tracing::warn!(%error, endpoint = %endpoint, "webhook delivery failed");
                    }
                    worker.in_flight.borrow_mut().remove(&endpoint);
                });
            }
        }
    }

    /// Delivers an endpoint's due alerts in order, until one fails or none is due.
    async fn deliver_endpoint(&self, id: &str) -> Result<(), AlertError> {
        let lease = self.lease();
        let claim_id = id.to_owned();
        let leased_at = Instant::now();
        let claimed = self
            .db
            .run(move |conn| {
                let at = now();
                store::claim(conn, &claim_id, at, at + lease)
            })
            .await?;
        if !claimed {
            return Ok(());
        }
        let result = self.deliver_claimed(id, leased_at).await;
        let release_id = id.to_owned();
        self.db
            .run(move |conn| store::release(conn, &release_id))
            .await?;
        result
    }

    /// The signed body of an alert (its `webhook-timestamp` and `webhook-signature`).
    fn prepare(
        &self,
        endpoint: &store::EndpointRow,
        head: &OutboxRow,
        row: Option<&AlertRow>,
        at: chrono::NaiveDateTime,
    ) -> Result<(i64, String, Vec<u8>), AlertError> {
        let row = row.ok_or(AlertError::NotFound)?;
        let alert = inbox::open(&self.keys, row)?;
        let body = serde_json::to_vec(&serde_json::json!({
            "type": "alert.created",
            "timestamp": alert.created_at,
            "data": alert,
        }))
        .unwrap_or_default();
        let timestamp = chrono::Utc::now().timestamp();
        let signature =
            signature_header(&self.keys, endpoint, &head.alert_id, timestamp, &body, at)?;
        Ok((timestamp, signature, body))
    }

    /// Delivers rounds of up to [`ROUND`] alerts: each round reads the
    /// queue's head once, sends in order until one fails (or is not due),
    /// and records every attempt of the round in one transaction that also
    /// renews the lease. `leased_at`: when the lease was last taken.
    async fn deliver_claimed(&self, id: &str, mut leased_at: Instant) -> Result<(), AlertError> {
        loop {
            let load_id = id.to_owned();
            let (endpoint, heads, rows) = self
                .db
                .run(move |conn| -> Result<_, AlertError> {
                    let endpoint = store::endpoint(conn, &load_id)?;
                    let heads = store::heads(conn, &load_id, ROUND)?;
                    let ids: Vec<String> = heads.iter().map(|h| h.alert_id.clone()).collect();
                    let rows: HashMap<String, AlertRow> = alert_store::find_all(conn, &ids)?
                        .into_iter()
                        .map(|row| (row.id.clone(), row))
                        .collect();
                    Ok((endpoint, heads, rows))
                })
                .await?;
            if endpoint.disabled_at.is_some() {
                return Ok(());
            }
            let at = now();
            let mut attempts: Vec<(OutboxRow, Attempt)> = Vec::new();
            for head in heads {
                if head.next_attempt_at > at {
                    break;
                }
                // Start a send only while one that takes its whole timeout
                // still ends inside the lease.
                if !attempts.is_empty() && leased_at.elapsed() >= ROUND_SENDING {
                    break;
                }
                let (timestamp, signature, body) =
                    match self.prepare(&endpoint, &head, rows.get(&head.alert_id), at) {
                        Ok(prepared) => prepared,
                        Err(error) if attempts.is_empty() => return Err(error),
                        // Record what was sent first; the next round meets it again.
                        Err(_) => break,
                    };
                let attempt = self
                    .send(&endpoint.url, &head.alert_id, timestamp, &signature, body)
                    .await;
                let succeeded = attempt.succeeded();
                self.metrics
                    .webhook_deliveries
                    .get_or_create(&crate::metrics::DeliveryLabels {
                        result: if succeeded {
                            "delivered".into()
                        } else {
                            "failed".into()
                        },
                    })
                    .inc();
                attempts.push((head, attempt));
                if !succeeded {
                    break;
                }
            }
            let Some(all_succeeded) = attempts.last().map(|(_, a)| a.succeeded()) else {
                return Ok(());
            };
            let retry_for = TimeDelta::seconds(self.settings.retry_for_secs as i64);
            let lease = self.lease();
            let backoffs: Vec<TimeDelta> = attempts
                .iter()
                .map(|(head, _)| self.backoff(head.attempts + 1))
                .collect();
            let endpoint_id = endpoint.id.clone();
            leased_at = Instant::now();
            let disabled = self
                .db
                .run(move |conn| -> Result<bool, AlertError> {
                    conn.transaction(|conn| {
                        let finished = now();
                        let mut row = store::endpoint(conn, &endpoint_id)?;
                        let mut disabled = false;
                        for ((head, attempt), backoff) in attempts.iter().zip(backoffs) {
                            store::log_delivery(
                                conn,
                                &DeliveryRow {
                                    id: uuid::Uuid::now_v7().to_string(),
                                    endpoint_id: endpoint_id.clone(),
                                    alert_id: head.alert_id.clone(),
                                    attempt: head.attempts + 1,
                                    at: finished,
                                    status_code: attempt.status.map(i32::from),
                                    error: attempt.error.clone(),
                                    latency_ms: attempt.latency.as_millis() as i64,
                                },
                            )?;
                            if attempt.succeeded() {
                                store::delivered(conn, &endpoint_id, &head.alert_id)?;
                                row.failing_since = None;
                                continue;
                            }
                            let since = *row.failing_since.get_or_insert(finished);
                            store::reschedule(
                                conn,
                                &endpoint_id,
                                &head.alert_id,
                                head.attempts + 1,
                                finished + backoff,
                            )?;
                            if finished - since >= retry_for {
                                disabled = true;
                                row.disabled_at = Some(finished);
                                row.disabled_reason = Some(format!(
                                    "deliveries failed without a break from {} to {} \
                                     ({} attempts of the oldest undelivered alert; last: {}); \
                                     enable the endpoint to resume",
                                    since.format("%Y-%m-%dT%H:%M:%SZ"),
                                    finished.format("%Y-%m-%dT%H:%M:%SZ"),
                                    head.attempts + 1,
                                    attempt.describe()
                                ));
                            }
                        }
                        store::update_endpoint(conn, &row)?;
                        // Still ours: renew the lease for the next round.
                        store::release(conn, &endpoint_id)?;
                        store::claim(conn, &endpoint_id, finished, finished + lease)?;
                        Ok(disabled)
                    })
                })
                .await?;
            if disabled {
                tracing::warn!(endpoint = %id, "webhook endpoint disabled after failing too long");
            }
            if !all_succeeded {
                return Ok(());
            }
        }
    }

    async fn send(
        &self,
        url: &str,
        id: &str,
        timestamp: i64,
        signature: &str,
        body: Vec<u8>,
    ) -> Attempt {
        let started = Instant::now();
        if !self.settings.allow_private_endpoints {
            let url = url.to_owned();
            let checked = actix_web::web::block(move || check_url(&url, false)).await;
            let refusal = match checked {
                Ok(Ok(_)) => None,
                Ok(Err(message)) => Some(message),
                Err(_) => Some("address check cancelled".into()),
            };
            if let Some(message) = refusal {
                return Attempt {
                    status: None,
                    error: Some(format!("not delivered: the URL {message}")),
                    latency: started.elapsed(),
                };
            }
        }
        let response = self
            .client
            .post(url)
            .insert_header(("content-type", "application/json"))
            .insert_header(("webhook-id", id))
            .insert_header(("webhook-timestamp", timestamp.to_string()))
            .insert_header(("webhook-signature", signature))
            .insert_header(("user-agent", "tracewire-webhooks/1"))
            .send_body(body)
            .await;
        match response {
            Ok(mut response) => {
                // Read (a little of) the answer so the connection can be reused.
                let _ = response.body().limit(64 * 1024).await;
                Attempt {
                    status: Some(response.status().as_u16()),
                    error: None,
                    latency: started.elapsed(),
                }
            }
            Err(error) => Attempt {
                status: None,
                error: Some(error.to_string()),
                latency: started.elapsed(),
            },
        }
    }
}
