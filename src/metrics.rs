//! Prometheus metrics, served as text on the operations listener.
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The matched route pattern (e.g. `/v1/admin/organizations/{id}`), never the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// `delivered` or `failed`.
    pub result: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    /// Alerts made by the change-feed consumer of this server.
    pub alerts_created: Counter,
    /// Webhook delivery attempts of this server, by result.
    pub webhook_deliveries: Family<DeliveryLabels, Counter>,
    /// Alerts waiting for delivery to enabled endpoints (deployment-wide, read at scrape).
    pub webhook_queue_depth: Gauge,
    /// Age of the oldest of them, in seconds (0 when none).
    pub webhook_oldest_undelivered_seconds: Gauge,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub db_connections: Gauge,
    pub db_idle_connections: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tracewire");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let db_connections = Gauge::default();
        let db_idle_connections = Gauge::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Open database connections",
            db_connections.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            db_idle_connections.clone(),
        );
        let alerts_created = Counter::default();
        let webhook_deliveries = Family::<DeliveryLabels, Counter>::default();
        let webhook_queue_depth = Gauge::default();
        let webhook_oldest_undelivered_seconds = Gauge::default();
        registry.register(
            "alerts_created",
            "Alerts made from the change feed",
            alerts_created.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by result",
            webhook_deliveries.clone(),
        );
        registry.register(
            "webhook_queue_depth",
            "Alerts waiting for delivery to enabled webhook endpoints",
            webhook_queue_depth.clone(),
        );
        registry.register(
            "webhook_oldest_undelivered_seconds",
            "Age of the oldest alert waiting for delivery",
            webhook_oldest_undelivered_seconds.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            alerts_created,
            webhook_deliveries,
            webhook_queue_depth,
            webhook_oldest_undelivered_seconds,
            requests,
            latency,
            db_connections,
            db_idle_connections,
        }
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        }
        text
    }
}
