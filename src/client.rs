//! An HTTPS client of the tracewire API for the command line (`import`,
//! `bench`): mutual TLS with the organization's certificate, and a token
//! from the OAuth client-credentials endpoint, refreshed when it expires.
use anyhow::{bail, Context};
use awc::http::StatusCode;
use clap::Args;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the server is and who we are. With `--demo-org`, everything is
/// read from the demo's `demo.json`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// The API's base URL.
    #[arg(long, env = "TRACEWIRE_URL", default_value = "https://localhost:8443")]
    pub url: String,
    /// CA certificate (PEM) that signed the server's certificate.
    #[arg(long, env = "TRACEWIRE_CA")]
    pub ca: Option<PathBuf>,
    /// Your organization's client certificate (PEM).
    #[arg(long, env = "TRACEWIRE_CERT")]
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, env = "TRACEWIRE_KEY")]
    pub key: Option<PathBuf>,
    /// Your API client id (tokens come from /v1/oauth/token over mutual TLS).
    #[arg(long, env = "TRACEWIRE_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Act as this organization of a `tracewire demo` deployment (reads
    /// URL, certificates and client id from <demo-dir>/demo.json).
    #[arg(long)]
    pub demo_org: Option<String>,
    /// The demo's directory (with --demo-org).
    #[arg(long, default_value = "tracewire-demo")]
    pub demo_dir: PathBuf,
}

/// Connection settings, complete.
#[derive(Debug, Clone)]
pub struct Connection {
    pub url: String,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_id: String,
}

impl ConnectArgs {
    pub fn resolve(&self) -> anyhow::Result<Connection> {
        if let Some(org) = &self.demo_org {
            let path = self.demo_dir.join("demo.json");
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "{}: run `tracewire demo` first (or pass --demo-dir)",
                    path.display()
                )
            })?;
            let demo: Value = serde_json::from_str(&text)?;
            let entry = demo["organizations"]
                .as_array()
                .and_then(|orgs| orgs.iter().find(|o| o["id"] == org.as_str()))
                .with_context(|| format!("no organization {org:?} in {}", path.display()))?;
            let text = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_default();
            return Ok(Connection {
                url: text(&demo["api_url"]),
                ca: text(&demo["ca_cert"]).into(),
                cert: text(&entry["cert"]).into(),
                key: text(&entry["key"]).into(),
                client_id: text(&entry["client_id"]),
            });
        }
        let missing = |what: &str| anyhow::anyhow!("--{what} is required (or use --demo-org)");
        Ok(Connection {
            url: self.url.trim_end_matches('/').to_owned(),
            ca: self.ca.clone().ok_or_else(|| missing("ca"))?,
            cert: self.cert.clone().ok_or_else(|| missing("cert"))?,
            key: self.key.clone().ok_or_else(|| missing("key"))?,
            client_id: self.client_id.clone().ok_or_else(|| missing("client-id"))?,
        })
    }
}

fn read_pem(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A rustls client configuration trusting `ca`, presenting `cert`/`key`.
pub fn tls_config(connection: &Connection) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&read_pem(&connection.ca)?) {
        roots.add(cert.context("bad CA certificate")?)?;
    }
    let chain = CertificateDer::pem_slice_iter(&read_pem(&connection.cert)?)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not a PEM certificate", connection.cert.display()))?;
    let key = PrivateKeyDer::from_pem_slice(&read_pem(&connection.key)?)
        .with_context(|| format!("{}: not a PEM private key", connection.key.display()))?;
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)?)
}

/// An answer: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    /// Size of the body as received, in bytes.
    pub bytes: usize,
}

/// A client of one tracewire server as one organization's API client.
pub struct ApiClient {
    http: awc::Client,
    connection: Connection,
    token: Mutex<Option<String>>,
}

impl ApiClient {
    pub fn new(connection: Connection) -> anyhow::Result<ApiClient> {
        let tls = Arc::new(tls_config(&connection)?);
        let http = awc::Client::builder()
            .connector(
                awc::Connector::new()
                    .rustls_0_23(tls)
                    .timeout(Duration::from_secs(10)),
            )
            .timeout(Duration::from_secs(300))
            .finish();
        Ok(ApiClient {
            http,
            connection,
            token: Mutex::new(None),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.connection.url)
    }

    /// A fresh token from the client-credentials endpoint.
    pub async fn fetch_token(&self) -> anyhow::Result<String> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.connection.client_id.as_str()),
        ];
        let response = self
            .http
            .post(self.url("/v1/oauth/token"))
            .send_form(&form)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.connection.url))?;
        let reply = read(response).await?;
        if reply.status != StatusCode::OK {
            bail!("token request refused ({}): {}", reply.status, reply.body);
        }
        let token = reply.body["access_token"]
            .as_str()
            .context("token response without access_token")?
            .to_owned();
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
        Ok(token)
    }

    /// The current token (fetched on first use).
    pub async fn token(&self) -> anyhow::Result<String> {
        let current = self.token.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match current {
            Some(token) => Ok(token),
            None => self.fetch_token().await,
        }
    }

    /// Sends a request with the bearer token; a 401 fetches a new token and
    /// tries once more (tokens are short-lived).
    pub async fn send(
        &self,
        method: awc::http::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        let mut token = self.token().await?;
        for attempt in 0..2 {
            let mut request = self
                .http
                .request(method.clone(), self.url(path))
                .bearer_auth(&token);
            for (name, value) in headers {
                request = request.insert_header((*name, *value));
            }
            let response = match body {
                Some(body) => request.send_json(body).await,
                None => request.send().await,
            }
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.url(path)))?;
            let reply = read(response).await?;
            if reply.status == StatusCode::UNAUTHORIZED && attempt == 0 {
                token = self.fetch_token().await?;
                continue;
            }
            return Ok(reply);
        }
        unreachable!("the loop returns on its second pass")
    }
}

/// An answer whose body is kept as bytes (to parse straight into a type).
#[derive(Debug)]
pub struct RawReply {
    pub status: StatusCode,
    pub body: actix_web::web::Bytes,
}

impl ApiClient {
    /// Posts `body` as JSON and returns the answer's bytes unparsed; a 401
    /// fetches a new token and tries once more.
    pub async fn post_raw(&self, path: &str, body: &Value) -> anyhow::Result<RawReply> {
        let mut token = self.token().await?;
        for attempt in 0..2 {
            let mut response = self
                .http
                .post(self.url(path))
                .bearer_auth(&token)
                .send_json(body)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", self.url(path)))?;
            let status = response.status();
            let bytes = response
                .body()
                .limit(512 * 1024 * 1024)
                .await
                .context("cannot read the response")?;
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                token = self.fetch_token().await?;
                continue;
            }
            return Ok(RawReply {
                status,
                body: bytes,
            });
        }
        unreachable!("the loop returns on its second pass")
    }
}

async fn read<S>(mut response: awc::ClientResponse<S>) -> anyhow::Result<Reply>
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let status = response.status();
    let body = response
        .body()
        .limit(512 * 1024 * 1024)
        .await
        .context("cannot read the response")?;
    Ok(Reply {
        status,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        bytes: body.len(),
    })
}
