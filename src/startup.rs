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
use actix_web::{web, App};
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
    )?
    .with_replicas(
        &settings.replica_urls()?,
        Duration::from_millis(settings.database.replica_max_lag_ms),
        Duration::from_millis(settings.database.replica_wait_ms),
    );
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
        let api_app = move || {
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
        };
        let api = api_listener_server(
            api_listener,
            tls_config,
            api_app,
            settings.api.workers,
            settings.api.shutdown_timeout_secs,
        )?;

        let draining = web::Data::new(api::ops::Draining::default());
        let ops_state = (metrics.clone(), database.clone(), draining.clone());
        let ops_app = move || {
            App::new()
                .app_data(ops_state.0.clone())
                .app_data(ops_state.1.clone())
                .app_data(ops_state.2.clone())
                .wrap(api::problem_responses())
                .wrap(from_fn(api::observe))
                .configure(api::configure_ops)
        };
        let ops = ops_listener_server(ops_listener, ops_app)?;

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

/// The API listener: TLS (rustls, ALPN h2 and http/1.1), then
/// [`api::wire::ProblemIo`] so that refusals of actix-http's HTTP/1.1
/// parser are problem documents too, then actix-http serving `app` (see
/// [`http_service`]). Signals are left to [`Application::run_until_stopped`]:
/// actix's own handler stops the whole actix System 300 ms after SIGTERM
/// (as soon as the idle ops listener has stopped), which killed the API
/// workers with requests still in flight.
fn api_listener_server<F, I, S, B>(
    listener: TcpListener,
    mut tls_config: rustls::ServerConfig,
    app: F,
    workers: usize,
    shutdown_timeout_secs: u64,
) -> anyhow::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: AppFactory<B>,
    S::InitError: std::fmt::Debug,
    S::Future: 'static,
    S::Service: 'static,
    <S::Service as actix_service::Service<actix_http::Request>>::Future: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    use actix_service::ServiceFactoryExt as _;
    use actix_tls::accept::rustls_0_23::{Acceptor, TlsStream};

    tls_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tls_config = Arc::new(tls_config);
    let mut builder = actix_server::Server::build();
    let graceful = builder.graceful_shutdown_signal();
    builder = builder
        .disable_signals()
        .shutdown_timeout(shutdown_timeout_secs);
    if workers > 0 {
        builder = builder.workers(workers);
    }
    let server = builder
        .listen("tracewire-api", listener, move || {
            let http = http_service(app.clone(), graceful.clone(), |io, data| {
                tls::on_connect(io.get_ref() as &dyn std::any::Any, data)
            });
            Acceptor::new((*tls_config).clone())
                .map_init_err(|_| ())
                .map_err(|_| ())
                .and_then(
                    |stream: TlsStream<actix_web::rt::net::TcpStream>| async move {
                        let (tcp, session) = stream.get_ref();
                        let http2 = session.alpn_protocol() == Some(b"h2");
                        let peer = tcp.peer_addr().ok();
                        let protocol = if http2 {
                            actix_http::Protocol::Http2
                        } else {
                            actix_http::Protocol::Http1
                        };
                        Ok::<_, ()>((api::wire::ProblemIo::new(stream, !http2), protocol, peer))
                    },
                )
                .and_then(http.map_err(|_| ()))
        })
        .context("cannot serve the API listener")?
        .run();
    Ok(server)
}

/// The operations listener: plain HTTP/1.1 through [`api::wire::ProblemIo`]
/// (see [`http_service`]), one worker.
fn ops_listener_server<F, I, S, B>(listener: TcpListener, app: F) -> anyhow::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: AppFactory<B>,
    S::InitError: std::fmt::Debug,
    S::Future: 'static,
    S::Service: 'static,
    <S::Service as actix_service::Service<actix_http::Request>>::Future: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    use actix_service::ServiceFactoryExt as _;
    let builder = actix_server::Server::build();
    let graceful = builder.graceful_shutdown_signal();
    let server = builder
        .workers(1)
        .disable_signals()
        .shutdown_timeout(5)
        .listen("tracewire-ops", listener, move || {
            let http = http_service(app.clone(), graceful.clone(), |_, _| {});
            actix_service::fn_service(|tcp: actix_web::rt::net::TcpStream| async move {
                let peer = tcp.peer_addr().ok();
                Ok::<_, ()>((
                    api::wire::ProblemIo::new(tcp, true),
                    actix_http::Protocol::Http1,
                    peer,
                ))
            })
            .and_then(http.map_err(|_| ()))
        })
        .context("cannot serve the operations listener")?
        .run();
    Ok(server)
}

/// An actix-web application's service factory, as `App` makes it.
trait AppFactory<B>:
    actix_service::ServiceFactory<
        actix_http::Request,
        Config = actix_web::dev::AppConfig,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    > + 'static
{
}

impl<B, S> AppFactory<B> for S where
    S: actix_service::ServiceFactory<
            actix_http::Request,
            Config = actix_web::dev::AppConfig,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        > + 'static
{
}

/// actix-http serving `app` on connections of type `ProblemIo<T>`, with
/// the settings `actix_web::HttpServer` would apply (its defaults: 5 s
/// keep-alive, 1 s client disconnect timeout, half-closed connections
/// allowed, keep-alive connections closed on graceful shutdown), and a
/// 30 s client request timeout. Every request
/// handed to the application is noted in its connection's ledger (see
/// [`api::wire`]). Answers to HEAD carry no body and no length: actix-http
/// decides whether to write a body by the last request it parsed, which
/// is not the one answered when requests are pipelined.
fn http_service<T, F, I, S, B>(
    app: F,
    graceful: actix_server::GracefulShutdownSignal,
    on_connect: impl Fn(&api::wire::ProblemIo<T>, &mut actix_web::dev::Extensions) + 'static,
) -> impl actix_service::ServiceFactory<
    (
        api::wire::ProblemIo<T>,
        actix_http::Protocol,
        Option<SocketAddr>,
    ),
    Config = (),
    Response = (),
    Error = actix_http::error::DispatchError,
    InitError = (),
>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
    F: Fn() -> I,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: AppFactory<B>,
    S::InitError: std::fmt::Debug,
    S::Future: 'static,
    S::Service: 'static,
    <S::Service as actix_service::Service<actix_http::Request>>::Future: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    use actix_service::{Service as _, ServiceFactoryExt as _};
    // (`AppConfig` carries the scheme and host for URL generation, which
    // tracewire does not use: TAXII discovery names `https` and the
    // request's host itself.)
    let app = actix_service::map_config(
        actix_service::IntoServiceFactory::into_factory(app()),
        |_| actix_web::dev::AppConfig::default(),
    )
    .map_err(|err: actix_web::Error| err.error_response());
    let app = actix_service::apply_fn_factory(app, |req: actix_http::Request, service| {
        let head = req.method() == actix_web::http::Method::HEAD;
        api::wire::note_request(&req);
        let response = service.call(req);
        async move {
            let response: actix_web::dev::ServiceResponse<B> = response.await?;
            Ok::<_, actix_web::HttpResponse>(if head {
                response.map_body(|_, _| {
                    actix_web::body::EitherBody::right(actix_web::body::None::new())
                })
            } else {
                response.map_into_left_body()
            })
        }
    });
    actix_http::HttpService::<api::wire::ProblemIo<T>, _, _>::build()
        .graceful_shutdown_signal(move || {
            let signal = graceful.clone();
            async move { signal.notified().await }
        })
        .client_request_timeout(Duration::from_secs(30))
        // (`HttpServer`'s default; actix-http's own is none.)
        .client_disconnect_timeout(Duration::from_secs(1))
        .on_connect_ext(
            move |io: &api::wire::ProblemIo<T>, data: &mut actix_web::dev::Extensions| {
                on_connect(io, data);
                if let Some(ledger) = io.ledger() {
                    data.insert(ledger);
                }
            },
        )
        .finish(app)
        .map_init_err(|_| ())
}
