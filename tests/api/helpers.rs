//! Shared test helpers: PKI, per-test databases, a running server, and an
//! HTTPS client presenting a chosen client certificate.
#![allow(dead_code)]
use awc::http::StatusCode;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use tracewire::config::Settings;
use tracewire::domain::{ClientId, OrganizationId, OrganizationType, Scopes};
use tracewire::pki::{CertificateAuthority, IssuedCertificate};
use tracewire::storage::organizations::NewOrganization;
use tracewire::storage::Database;

/// Generates `<name>_sqlite` and `<name>_postgres` tests from an
/// `async fn name(backend: TestBackend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod both_backends {
            $(
                pub mod $name {
                    #[actix_web::test]
                    async fn sqlite() {
                        super::super::$name($crate::helpers::TestBackend::Sqlite).await
                    }
                    #[actix_web::test]
                    async fn postgres() {
                        match $crate::helpers::TestBackend::postgres() {
                            Some(backend) => super::super::$name(backend).await,
                            None => eprintln!("skipped: TRACEWIRE_TEST_DATABASE_URL is not set"),
                        }
                    }
                }
            )+
        }
    };
}

#[derive(Debug, Clone)]
pub enum TestBackend {
    Sqlite,
    /// Base URL of a PostgreSQL server; each test gets a fresh schema in it.
    Postgres(String),
}

impl TestBackend {
    pub fn postgres() -> Option<TestBackend> {
        std::env::var("TRACEWIRE_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(TestBackend::Postgres)
    }
}

/// A database of its own for one test; PostgreSQL schemas are dropped at the end.
pub struct TestDatabase {
    pub url: String,
    postgres_cleanup: Option<(String, String)>,
}

impl TestDatabase {
    pub fn create(backend: &TestBackend, dir: &std::path::Path) -> TestDatabase {
        match backend {
            TestBackend::Sqlite => TestDatabase {
                url: format!("sqlite://{}", dir.join("tracewire.db").display()),
                postgres_cleanup: None,
            },
            TestBackend::Postgres(base) => {
                let schema = format!("tw_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = diesel::PgConnection::establish(base).unwrap_or_else(|e| {
                    panic!("PostgreSQL at TRACEWIRE_TEST_DATABASE_URL is unreachable: {e}")
                });
                conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .expect("create test schema");
                let separator = if base.contains('?') { '&' } else { '?' };
                TestDatabase {
                    url: format!("{base}{separator}options=-csearch_path%3D{schema}"),
                    postgres_cleanup: Some((base.clone(), schema)),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.postgres_cleanup {
            if let Ok(mut conn) = diesel::PgConnection::establish(base) {
                let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

/// The hub CA of a test, its server certificate and an (initially empty) CRL.
pub struct TestPki {
    pub ca: CertificateAuthority,
    pub dir: PathBuf,
}

impl TestPki {
    pub fn create(dir: &std::path::Path) -> TestPki {
        let dir = dir.join("pki");
        std::fs::create_dir_all(&dir).unwrap();
        let ca = CertificateAuthority::create("test hub CA", 30).unwrap();
        std::fs::write(dir.join("ca.pem"), &ca.cert_pem).unwrap();
        let server = ca
            .issue_server(&["localhost".into(), "127.0.0.1".into()], 30)
            .unwrap();
        std::fs::write(dir.join("server.pem"), &server.cert_pem).unwrap();
        std::fs::write(dir.join("server-key.pem"), &server.key_pem).unwrap();
        std::fs::write(dir.join("crl.pem"), ca.crl(&[], 1, 30).unwrap()).unwrap();
        TestPki { ca, dir }
    }
}

/// A partner organization registered for a test, with its client
/// certificate and one API client.
#[derive(Clone)]
pub struct TestOrg {
    pub id: String,
    pub certificate: IssuedCertificate,
    pub client_id: String,
}

/// A running tracewire server and everything a test needs to talk to it.
pub struct TestApp {
    pub settings: Settings,
    pub api_port: u16,
    pub ops_port: u16,
    pub pki: TestPki,
    pub db: Database,
    handles: (actix_web::dev::ServerHandle, actix_web::dev::ServerHandle),
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn(backend: TestBackend) -> TestApp {
        Self::spawn_with(backend, |_, _| {}).await
    }

    /// Starts a server after letting `adjust` change its settings (it also
    /// gets the PKI, to add CRLs or issuers).
    pub async fn spawn_with(
        backend: TestBackend,
        adjust: impl FnOnce(&mut Settings, &TestPki),
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::create(dir.path());
        let database = TestDatabase::create(&backend, dir.path());
        let mut settings = Settings {
            data_dir: dir.path().to_owned(),
            ..Settings::default()
        };
        settings.database.url = database.url.clone();
        settings.database.pool_size = 4;
        settings.api.listen = "127.0.0.1:0".into();
        settings.api.workers = 1;
        settings.ops.listen = "127.0.0.1:0".into();
        settings.tls.cert = pki.dir.join("server.pem");
        settings.tls.key = pki.dir.join("server-key.pem");
        settings.tls.client_ca = pki.dir.join("ca.pem");
        settings.tls.crls = vec![pki.dir.join("crl.pem")];
        settings.log.level = "warn".into();
        adjust(&mut settings, &pki);
        tracewire::telemetry::init(&settings.log);

        let app = tracewire::startup::Application::build(settings.clone())
            .await
            .expect("server starts");
        let (api_port, ops_port) = (app.api_addr().port(), app.ops_addr().port());
        let handles = app.handles();
        tokio::spawn(app.run_until_stopped());
        let db = tracewire::startup::open_database(&settings).unwrap();
        TestApp {
            settings,
            api_port,
            ops_port,
            pki,
            db,
            handles,
            _database: database,
            _dir: dir,
        }
    }

    /// Registers an organization, a client certificate from the hub CA and an
    /// API client `<id>-client` with `scopes`.
    pub fn add_org(&self, id: &str, org_type: OrganizationType, scopes: &str) -> TestOrg {
        let certificate = self
            .pki
            .ca
            .issue_client(&format!("{id} inc"), id, 30)
            .unwrap();
        self.add_org_with_certificate(id, org_type, scopes, certificate)
    }

    /// Like [`Self::add_org`], with a given certificate.
    pub fn add_org_with_certificate(
        &self,
        id: &str,
        org_type: OrganizationType,
        scopes: &str,
        certificate: IssuedCertificate,
    ) -> TestOrg {
        let mut conn = self.db.get().unwrap();
        let org_id = OrganizationId::parse(id).unwrap();
        tracewire::partners::create_organization(
            &mut conn,
            &tracewire::audit::Actor::command_line(),
            NewOrganization {
                id: org_id.clone(),
                name: format!("{id} inc"),
                org_type,
                certificate_subject: None,
            },
        )
        .unwrap();
        tracewire::partners::register_certificate(
            &mut conn,
            &tracewire::audit::Actor::command_line(),
            &org_id,
            &certificate.cert_pem,
            chrono::TimeDelta::zero(),
        )
        .unwrap();
        let client_id = format!("{id}-client");
        tracewire::partners::create_client(
            &mut conn,
            &tracewire::audit::Actor::command_line(),
            &org_id,
            ClientId::parse(&client_id).unwrap(),
            "test client".into(),
            Scopes::parse(scopes).unwrap(),
            chrono::TimeDelta::zero(),
        )
        .unwrap();
        TestOrg {
            id: id.into(),
            certificate,
            client_id,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.api_port)
    }

    pub fn ops_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ops_port)
    }

    /// An HTTPS client presenting `certificate` (or none).
    pub fn client(&self, certificate: Option<&IssuedCertificate>) -> awc::Client {
        let config = client_tls_config(&self.pki.ca.cert_pem, certificate);
        awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(Arc::new(config)))
            .timeout(std::time::Duration::from_secs(20))
            .finish()
    }

    /// A token for the org's API client, from the token endpoint.
    pub async fn token(&self, org: &TestOrg) -> String {
        let (status, body) = self.request_token(org, &org.client_id, None).await;
        assert_eq!(status, StatusCode::OK, "token request failed: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn request_token(
        &self,
        org: &TestOrg,
        client_id: &str,
        scope: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self
            .client(Some(&org.certificate))
            .post(self.url("/v1/oauth/token"))
            .send_form(&form)
            .await;
        read_json(response).await.map(|(s, _, b)| (s, b)).unwrap()
    }

    /// GET with `org`'s certificate and an optional bearer token.
    pub async fn get(&self, org: &TestOrg, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.client(Some(&org.certificate)).get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Reply::from(read_json(request.send().await).await.unwrap())
    }

    /// A JSON request with `org`'s certificate and token.
    pub async fn send_json(
        &self,
        org: &TestOrg,
        method: awc::http::Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> Reply {
        let request = self
            .client(Some(&org.certificate))
            .request(method, self.url(path))
            .bearer_auth(token);
        Reply::from(read_json(request.send_json(&body).await).await.unwrap())
    }

    /// GET with `org`'s certificate and token, returning the raw body as text.
    pub async fn get_text(
        &self,
        org: &TestOrg,
        path: &str,
        token: &str,
    ) -> (StatusCode, awc::http::header::HeaderMap, String) {
        let mut response = self
            .client(Some(&org.certificate))
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let body = response.body().limit(256 * 1024 * 1024).await.unwrap();
        (
            response.status(),
            response.headers().clone(),
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    /// A JSON request with `org`'s certificate, token and extra headers.
    pub async fn send_json_with(
        &self,
        org: &TestOrg,
        method: awc::http::Method,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> Reply {
        let mut request = self
            .client(Some(&org.certificate))
            .request(method, self.url(path))
            .bearer_auth(token);
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        Reply::from(read_json(request.send_json(&body).await).await.unwrap())
    }

    /// Stops the server and starts a new one on the same database and
    /// settings (new ports): what a restart of tracewire looks like.
    pub async fn restart(self) -> TestApp {
        self.stop().await;
        let app = tracewire::startup::Application::build(self.settings.clone())
            .await
            .expect("server restarts");
        let (api_port, ops_port) = (app.api_addr().port(), app.ops_addr().port());
        let handles = app.handles();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            api_port,
            ops_port,
            handles,
            ..self
        }
    }

    /// Starts another server on the same database and settings (new
    /// ports), as a scaled-out deployment runs several; returns its API
    /// port and handles.
    pub async fn start_peer(
        &self,
    ) -> (
        u16,
        (actix_web::dev::ServerHandle, actix_web::dev::ServerHandle),
    ) {
        let app = tracewire::startup::Application::build(self.settings.clone())
            .await
            .expect("peer server starts");
        let port = app.api_addr().port();
        let handles = app.handles();
        tokio::spawn(app.run_until_stopped());
        (port, handles)
    }

    pub async fn stop(&self) {
        self.handles.0.stop(true).await;
        self.handles.1.stop(true).await;
    }
}

/// Status, headers and JSON body (Null when the body is empty or not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts an RFC 9457 problem of the given status and type slug.
    pub fn assert_problem(&self, status: u16, slug: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "body: {}",
            self.body
        );
        assert_eq!(
            self.body["type"],
            format!("urn:tracewire:problem:{slug}"),
            "body: {}",
            self.body
        );
        assert_eq!(self.body["status"], status);
    }

    pub fn www_authenticate(&self) -> String {
        self.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

impl From<(StatusCode, awc::http::header::HeaderMap, Value)> for Reply {
    fn from((status, headers, body): (StatusCode, awc::http::header::HeaderMap, Value)) -> Self {
        Reply {
            status,
            headers,
            body,
        }
    }
}

pub async fn read_json<S>(
    response: Result<awc::ClientResponse<S>, awc::error::SendRequestError>,
) -> Result<(StatusCode, awc::http::header::HeaderMap, Value), String>
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, actix_web::error::PayloadError>>
        + Unpin,
{
    let mut response = response.map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .body()
        .limit(64 * 1024 * 1024)
        .await
        .map_err(|e| e.to_string())?;
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok((status, headers, json))
}

/// A rustls client configuration trusting `ca_pem`, presenting `certificate`.
pub fn client_tls_config(
    ca_pem: &str,
    certificate: Option<&IssuedCertificate>,
) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    match certificate {
        Some(cert) => {
            let chain = CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
                .map(|c| c.unwrap())
                .collect();
            let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    }
}
