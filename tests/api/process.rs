//! The real `tracewire` binary as a child process, for tests that send it
//! signals or pull its database away, and a partner to talk to it.
#![allow(dead_code)]
use crate::helpers::{client_tls_config, read_json, Reply, TestOrg, TestPki};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracewire::config::Settings;
use tracewire::domain::{ClientId, OrganizationId, OrganizationType, Scopes};
use tracewire::storage::organizations::NewOrganization;

const BINARY: &str = env!("CARGO_BIN_EXE_tracewire");

/// A server process with its configuration file, PKI and one partner.
pub struct ServerProcess {
    pub child: Child,
    pub config: PathBuf,
    pub log: PathBuf,
    pub settings: Settings,
    pub pki: TestPki,
    pub partner: TestOrg,
    pub api_port: u16,
    pub ops_port: u16,
}

pub fn free_port() -> u16 {
    crate::cli::free_port()
}

impl ServerProcess {
    /// Prepares `dir` (PKI, configuration with `api_extra` added to its
    /// `[api]` section, the partner `acme` with read and write scopes,
    /// registered in `database_url`) and starts the server.
    pub async fn start(dir: &Path, database_url: &str, api_extra: &str) -> ServerProcess {
        Self::start_logging(dir, database_url, api_extra, "info").await
    }

    /// Like [`ServerProcess::start`], logging at `level` to `server.log`.
    pub async fn start_logging(
        dir: &Path,
        database_url: &str,
        api_extra: &str,
        level: &str,
    ) -> ServerProcess {
        let pki = TestPki::create(dir);
        let (api_port, ops_port) = (free_port(), free_port());
        let config = dir.join("tracewire.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = {data:?}\n\
                 [database]\nurl = {url:?}\npool_size = 4\n\
                 [api]\nlisten = \"127.0.0.1:{api_port}\"\nworkers = 1\n{api_extra}\n\
                 [ops]\nlisten = \"127.0.0.1:{ops_port}\"\n\
                 [tls]\ncert = {cert:?}\nkey = {key:?}\nclient_ca = {ca:?}\ncrls = [{crl:?}]\n\
                 [log]\nlevel = {level:?}\n",
                data = dir.display().to_string(),
                url = database_url,
                cert = pki.dir.join("server.pem").display().to_string(),
                key = pki.dir.join("server-key.pem").display().to_string(),
                ca = pki.dir.join("ca.pem").display().to_string(),
                crl = pki.dir.join("crl.pem").display().to_string(),
            ),
        )
        .unwrap();
        let settings = Settings::load(Some(&config)).expect("test configuration loads");
        let db = tracewire::startup::open_database(&settings).expect("database opens");
        let partner = register_partner(&pki, &db, "acme");
        drop(db);
        let child = Command::new(BINARY)
            .arg("--config")
            .arg(&config)
            .env_remove("TRACEWIRE_DATABASE__URL")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
            .spawn()
            .unwrap();
        let mut server = ServerProcess {
            child,
            config,
            log: dir.join("server.log"),
            settings,
            pki,
            partner,
            api_port,
            ops_port,
        };
        server.wait_until_ready().await;
        server
    }

    async fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let ops = awc::Client::default();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("server exited at start: {status:?}\n{}", self.stderr());
            }
            if let Ok(response) = ops.get(self.ops_url("/healthz")).send().await {
                if response.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "server did not start");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.api_port)
    }

    pub fn ops_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ops_port)
    }

    /// An HTTPS client presenting the partner's certificate, speaking only
    /// `http/1.1` or only `h2`.
    pub fn client(&self, h2: bool) -> awc::Client {
        let mut config = client_tls_config(&self.pki.ca.cert_pem, Some(&self.partner.certificate));
        config.alpn_protocols = vec![if h2 {
            b"h2".to_vec()
        } else {
            b"http/1.1".to_vec()
        }];
        awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(Arc::new(config)))
            .timeout(Duration::from_secs(120))
            .finish()
    }

    pub async fn token(&self) -> String {
        let response = self
            .client(false)
            .post(self.url("/v1/oauth/token"))
            .send_form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.partner.client_id.as_str()),
            ])
            .await;
        let (status, _, body) = read_json(response).await.unwrap();
        assert_eq!(status, 200, "token request failed: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        let response = self
            .client(false)
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await;
        Reply::from(read_json(response).await.unwrap())
    }

    pub async fn send_json(&self, path: &str, token: &str, body: serde_json::Value) -> Reply {
        let response = self
            .client(false)
            .post(self.url(path))
            .bearer_auth(token)
            .send_json(&body)
            .await;
        Reply::from(read_json(response).await.unwrap())
    }

    /// The body of an operations endpoint, as text (`/metrics`).
    pub async fn ops_get_text(&self, path: &str) -> String {
        let mut response = awc::Client::default()
            .get(self.ops_url(path))
            .send()
            .await
            .unwrap();
        String::from_utf8(response.body().await.unwrap().to_vec()).unwrap()
    }

    pub async fn ops_get(&self, path: &str) -> Reply {
        let response = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish()
            .get(self.ops_url(path))
            .send()
            .await;
        Reply::from(read_json(response).await.unwrap())
    }

    /// Database connections in use (open minus idle), from `/metrics`.
    pub async fn busy_connections(&self) -> i64 {
        busy_connections(&self.ops_url("/metrics")).await
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (up to `limit`) for the process to exit.
    pub async fn wait_for_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Everything the server has logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers organization `id` (a forensics firm), a certificate from the
/// test CA and the API client `<id>-client` with read and write scopes.
pub fn register_partner(pki: &TestPki, db: &tracewire::storage::Database, id: &str) -> TestOrg {
    let certificate = pki.ca.issue_client(&format!("{id} inc"), id, 30).unwrap();
    let mut conn = db.get().unwrap();
    let org_id = OrganizationId::parse(id).unwrap();
    let actor = tracewire::audit::Actor::command_line();
    tracewire::partners::create_organization(
        &mut conn,
        &actor,
        NewOrganization {
            id: org_id.clone(),
            name: format!("{id} inc"),
            org_type: OrganizationType::Forensics,
            certificate_subject: None,
        },
    )
    .unwrap();
    tracewire::partners::register_certificate(
        &mut conn,
        &actor,
        &org_id,
        &certificate.cert_pem,
        chrono::TimeDelta::zero(),
    )
    .unwrap();
    let client_id = format!("{id}-client");
    tracewire::partners::create_client(
        &mut conn,
        &actor,
        &org_id,
        ClientId::parse(&client_id).unwrap(),
        "test client".into(),
        Scopes::parse("indicators:read indicators:write").unwrap(),
        chrono::TimeDelta::zero(),
    )
    .unwrap();
    TestOrg {
        id: id.into(),
        certificate,
        client_id,
    }
}

/// A batch of `n` new green addresses, numbered from `from`.
pub fn address_batch(from: u64, n: u64) -> serde_json::Value {
    let items: Vec<serde_json::Value> = (from..from + n)
        .map(|i| {
            serde_json::json!({"kind": "address", "chain": "eth", "address": format!("0x{i:040x}"),
                "confidence": 50, "tlp": "green", "method": "osint"})
        })
        .collect();
    serde_json::json!({ "items": items })
}

/// Database connections in use (open minus idle) of the server whose
/// `/metrics` is at `metrics_url`.
pub async fn busy_connections(metrics_url: &str) -> i64 {
    let mut response = awc::Client::default()
        .get(metrics_url)
        .send()
        .await
        .unwrap();
    let text = String::from_utf8(response.body().await.unwrap().to_vec()).unwrap();
    let gauge = |name: &str| -> i64 {
        text.lines()
            .find_map(|line| {
                let (metric, value) = line.split_once(' ')?;
                metric.ends_with(name).then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0)
    };
    gauge("db_pool_connections") - gauge("db_pool_idle_connections")
}
