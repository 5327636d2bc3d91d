//! The operations listener: liveness, readiness and metrics. Plain HTTP,
//! meant for loopback or a private network (load balancers, Prometheus).
use crate::error::{ApiError, Problem};
use crate::metrics::Metrics;
use crate::storage::Database;
use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` when healthy.
    pub status: String,
    /// Each configured read replica (`database.replica_urls`): a replica
    /// that is down or lags is skipped, so it never makes the server unready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<crate::storage::replicas::ReplicaStatus>,
}

/// Liveness: the process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
        replicas: Vec::new(),
    })
}

/// Set once the server has begun to shut down (SIGTERM/SIGINT).
#[derive(Debug, Default)]
pub struct Draining(std::sync::atomic::AtomicBool);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Readiness: the database answers, and the server is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses((status = 200, body = Health), (status = 503, body = Problem, content_type = "application/problem+json")))]
#[get("/readyz")]
pub async fn readyz(
    db: web::Data<Database>,
    draining: Option<web::Data<Draining>>,
) -> Result<web::Json<Health>, ApiError> {
    if draining.is_some_and(|d| d.is_draining()) {
        return Err(ApiError::Unavailable("shutting down".into()));
    }
    db.run(Database::ping)
        .await
        .map_err(|e: crate::storage::StorageError| match e {
            fault @ crate::storage::StorageError::Fault { .. } => ApiError::from(fault),
            other => ApiError::Unavailable(other.to_string()),
        })?;
    Ok(web::Json(Health {
        status: "ok".into(),
        replicas: db.replicas().map(|r| r.status()).unwrap_or_default(),
    }))
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
#[get("/metrics")]
pub async fn metrics(metrics: web::Data<Metrics>, db: web::Data<Database>) -> HttpResponse {
    let (connections, idle) = db.pool_state();
    metrics.db_connections.set(i64::from(connections));
    metrics.db_idle_connections.set(i64::from(idle));
    let queue = db.run(crate::alerts::webhooks::queue_totals).await;
    if let Ok((depth, oldest)) = queue {
        metrics.webhook_queue_depth.set(depth);
        metrics.webhook_oldest_undelivered_seconds.set(oldest);
    }
    let mut text = metrics.render();
    if let Some(replicas) = db.replicas() {
        let at = text.rfind("# EOF").unwrap_or(text.len());
        text.insert_str(at, &replica_metrics(replicas));
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text)
}

/// The replicas' gauges and read counters, in OpenMetrics text.
fn replica_metrics(replicas: &crate::storage::replicas::Replicas) -> String {
    use crate::storage::replicas::ReplicaStatus;
    use std::fmt::Write;
    let status = replicas.status();
    let label = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = String::new();
    type Gauge = (&'static str, &'static str, fn(&ReplicaStatus) -> f64);
    let gauges: [Gauge; 3] = [
        (
            "tracewire_replica_serving",
            "1 when reads go to the replica",
            |s| f64::from(u8::from(s.serving)),
        ),
        (
            "tracewire_replica_up",
            "1 when the replica answers and is in recovery",
            |s| f64::from(u8::from(s.up)),
        ),
        (
            "tracewire_replica_lag_seconds",
            "How far the replica was behind the primary at the last probe",
            |s| s.lag_seconds,
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}.\n# TYPE {name} gauge");
        for s in &status {
            let _ = writeln!(
                out,
                "{name}{{replica=\"{}\"}} {}",
                label(&s.replica),
                value(s)
            );
        }
    }
    let _ = writeln!(out, "# HELP tracewire_replica_reads Record reads served by the replica.\n# TYPE tracewire_replica_reads counter");
    for s in &status {
        let _ = writeln!(
            out,
            "tracewire_replica_reads_total{{replica=\"{}\"}} {}",
            label(&s.replica),
            s.reads
        );
    }
    let _ = writeln!(out, "# HELP tracewire_primary_reads Record reads served by the primary although replicas are configured, by reason.\n# TYPE tracewire_primary_reads counter");
    for (reason, count) in replicas.primary_reads() {
        let _ = writeln!(
            out,
            "tracewire_primary_reads_total{{reason=\"{reason}\"}} {count}"
        );
    }
    out
}
