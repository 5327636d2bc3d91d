//! The one composition root: [`Application::build`] wires settings,
//! database, keys, TLS and routes into the two listeners. `main` and the
//! integration tests both use it (tests bind port 0).
use crate::api;
use crate::auth::issuers::PartnerIssuers;
use crate::auth::keys::HubKeyStore;
use crate::auth::{tls, AuthService};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::storage::Database;
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, Compress};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// Opens the database and applies pending migrations (blocking).
pub fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    let url = settings.database_url()?;
    let db = Database::connect(
        &url,
        settings.database.pool_size,
        Duration::from_secs(settings.database.connect_timeout_secs),
    )?;
    let applied = db.migrate()?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, database = %url.redacted(), "migrations applied");
    }
    Ok(db)
}

/// A built, bound, not yet running server.
pub struct Application {
    api_addr: SocketAddr,
    ops_addr: SocketAddr,
    api: Server,
    ops: Server,
    background: Vec<tokio::task::JoinHandle<()>>,
    draining: web::Data<api::ops::Draining>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate()?;
        let startup_settings = settings.clone();
        let (db, hub_keys, cursors, alert_keys) =
            tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let db = open_database(&startup_settings)?;
                let keep = crate::auth::keys::retired_key_lifetime(
                    startup_settings.auth.token_ttl_secs,
                    startup_settings.auth.leeway_secs,
                );
                let encryption = crate::auth::key_encryption::KeyEncryption::configure(
                    startup_settings.auth.key_encryption_key_file.as_deref(),
                    &startup_settings.auth.previous_key_encryption_key_files,
                )?;
                let keys = HubKeyStore::load(
                    &mut *db.get()?,
                    &startup_settings.auth.signing_algorithm,
                    keep,
                    encryption,
                )?;
                let cursors = crate::cursor::CursorKey::load(&mut *db.get()?)?;
                let alert_keys = crate::alerts::AlertKeys::load(
                    &mut *db.get()?,
                    startup_settings.alerts.watch_key_file.as_deref(),
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok((db, keys, cursors, alert_keys))
            })
            .await
            .context("startup task failed")??;
        let hub_keys = Arc::new(hub_keys);

        let partners = PartnerIssuers::from_settings(&settings.auth.trusted_issuers)
            .map_err(anyhow::Error::msg)?;
        partners.refresh_all().await;
        let auth = web::Data::new(
            AuthService::new(&settings, db.clone(), hub_keys.clone(), partners.clone())?
                .with_subject_mapping_hook(|conn, org, certificate, notice| {
                    crate::partners::register_subject_mapped(conn, org, certificate, notice)
                        .map_err(|e| e.to_string())
                }),
        );
        let (tls_config, client_verifier) = tls::server_config(&settings.tls)?;
        let metrics = web::Data::new(Metrics::new());
        let database = web::Data::new(db.clone());
        let cursors = web::Data::new(cursors);
        let alert_keys = web::Data::new(alert_keys);
        let alert_settings = web::Data::new(settings.alerts.clone());
        let receiver_tls = crate::alerts::delivery::receiver_tls(&settings.alerts)?;
        let forwarded = web::Data::new(
            crate::auth::forwarded::ForwardedCertificates::new(
                &settings.api.trusted_proxies,
                &settings.api.forwarded_certificate_header,
                client_verifier.clone(),
            )
            .map_err(anyhow::Error::msg)?,
        );

        let api_listener = TcpListener::bind(settings.api_listen()?)
            .with_context(|| format!("cannot listen on api.listen = {}", settings.api.listen))?;
        let ops_listener = TcpListener::bind(settings.ops_listen()?)
            .with_context(|| format!("cannot listen on ops.listen = {}", settings.ops.listen))?;
        let api_addr = api_listener.local_addr()?;
        let ops_addr = ops_listener.local_addr()?;

        let max_body = settings.api.max_body_bytes;
        let limiter = web::Data::new(api::rate_limit::OrgRateLimits::new(
            settings.api.org_requests_per_second,
            settings.api.org_request_burst,
            settings.api.org_bulk_items_per_second,
        ));
        let api_state = (
            auth.clone(),
            metrics.clone(),
            database.clone(),
            cursors,
            limiter.clone(),
            forwarded,
            alert_keys.clone(),
            alert_settings.clone(),
        );
        let mut api_server = HttpServer::new(move || {
            let (json, form, payload, path, query) = api::extractor_configs(max_body);
            App::new()
                .app_data(api_state.0.clone())
                .app_data(api_state.1.clone())
                .app_data(api_state.2.clone())
                .app_data(api_state.3.clone())
                .app_data(api_state.4.clone())
                .app_data(api_state.5.clone())
                .app_data(api_state.6.clone())
                .app_data(api_state.7.clone())
                .app_data(json)
                .app_data(form)
                .app_data(payload)
                .app_data(path)
                .app_data(query)
                .app_data(api::taxii::MaxContentLength(max_body))
                .wrap(from_fn(api::rate_limit::per_organization))
                .wrap(from_fn(api::forwarded_certificates))
                .wrap(from_fn(api::request_limits))
                .wrap(Compress::default())
                .wrap(api::problem_responses())
                .wrap(from_fn(api::observe))
                .configure(api::configure_api)
        })
        .on_connect(tls::on_connect)
        // Signals are handled in `run_until_stopped`: actix's own handler
        // stops the whole actix System 300 ms after SIGTERM (as soon as the
        // idle ops listener has stopped), which killed the API workers with
        // requests still in flight.
        .disable_signals()
        .shutdown_timeout(settings.api.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(30));
        if settings.api.workers > 0 {
            api_server = api_server.workers(settings.api.workers);
        }
        let api = api_server
            .listen_rustls_0_23(api_listener, tls_config)?
            .run();

        let draining = web::Data::new(api::ops::Draining::default());
        let ops_state = (metrics.clone(), database.clone(), draining.clone());
        let ops = HttpServer::new(move || {
            App::new()
                .app_data(ops_state.0.clone())
                .app_data(ops_state.1.clone())
                .app_data(ops_state.2.clone())
                .wrap(api::problem_responses())
                .wrap(from_fn(api::observe))
                .configure(api::configure_ops)
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(5)
        .listen(ops_listener)?
        .run();

        let mut background = vec![
            // Client CA bundle and CRLs: reloaded on change or SIGHUP.
            tokio::spawn(client_verifier.watch()),
            // Pick up keys rotated by other servers of the deployment.
            tokio::spawn({
                let keys = hub_keys.clone();
                let db = db.clone();
                async move {
                    let mut tick = tokio::time::interval(crate::auth::keys::RELOAD_INTERVAL);
                    loop {
                        tick.tick().await;
                        let keys = keys.clone();
                        let reload = db.run(move |conn| keys.reload(conn));
                        if let Err(error) = reload.await {
                            tracing::warn!(%error, "cannot reload signing keys");
                        }
                    }
                }
            }),
        ];

        if settings.alerts.enabled {
            // Alerts: the change-feed consumer, and the webhook delivery
            // worker (on the actix runtime: its HTTP client is not Send).
            let wake = Arc::new(tokio::sync::Notify::new());
            let keys = alert_keys.clone().into_inner();
            background.push(actix_web::rt::spawn(crate::alerts::delivery::run_consumer(
                db.clone(),
                keys.clone(),
                metrics.clone(),
                wake.clone(),
                Duration::from_millis(settings.alerts.poll_interval_ms),
            )));
            let deliverer = std::rc::Rc::new(crate::alerts::delivery::Deliverer::new(
                db.clone(),
                keys,
                settings.alerts.clone(),
                receiver_tls,
                metrics.clone(),
            ));
            background.push(actix_web::rt::spawn(deliverer.run(wake)));
        }

        tracing::info!(api = %api_addr, ops = %ops_addr, database = %settings.database_url()?.redacted(), "tracewire listening");
        Ok(Application {
            api_addr,
            ops_addr,
            api,
            ops,
            background,
            draining,
        })
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    pub fn ops_addr(&self) -> SocketAddr {
        self.ops_addr
    }

    /// Handles to stop the listeners gracefully.
    pub fn handles(&self) -> (ServerHandle, ServerHandle) {
        (self.api.handle(), self.ops.handle())
    }

    /// Serves until both listeners stop. SIGTERM or SIGINT stops them
    /// gracefully: the API listener closes at once (new connections are
    /// refused), in-flight requests finish and are answered within
    /// `api.shutdown_timeout_secs`, then the operations listener stops. A
    /// second signal during the drain stops at once.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let api_handle = self.api.handle();
        let ops_handle = self.ops.handle();
        let signals = tokio::spawn(stop_on_signals(api_handle, self.draining.clone()));
        let ops = tokio::spawn(self.ops);
        let api_result = self.api.await;
        signals.abort();
        ops_handle.stop(true).await;
        let _ = ops.await;
        for task in self.background {
            task.abort();
        }
        tracing::info!("tracewire stopped");
        api_result
    }
}

/// Waits for SIGTERM or SIGINT, then drains the API listener; a second
/// signal stops it without waiting.
async fn stop_on_signals(api: ServerHandle, draining: web::Data<api::ops::Draining>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the server with SIGKILL");
        return;
    };
    let first = next_signal(&mut term, &mut int).await;
    tracing::info!(
        signal = first,
        "shutting down: refusing new connections, finishing requests in flight"
    );
    // Load balancers polling /readyz stop sending new connections.
    draining.start();
    let drain = tokio::spawn({
        let api = api.clone();
        async move { api.stop(true).await }
    });
    let second = next_signal(&mut term, &mut int).await;
    tracing::warn!(
        signal = second,
        "second signal: stopping without waiting for requests in flight"
    );
    drain.abort();
    api.stop(false).await;
}

async fn next_signal(
    term: &mut tokio::signal::unix::Signal,
    int: &mut tokio::signal::unix::Signal,
) -> &'static str {
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
