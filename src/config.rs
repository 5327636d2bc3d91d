//! Typed settings, loaded from `tracewire.toml` (optional) and then from
//! `TRACEWIRE_*` environment variables, and validated before anything starts.
//!
//! Nested keys use a double underscore in the environment:
//! `TRACEWIRE_DATABASE__URL`, `TRACEWIRE_API__LISTEN`, `TRACEWIRE_TLS__CERT`, …
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything the server needs to start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Directory for the embedded database and other local state.
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub api: ApiSettings,
    pub tls: TlsSettings,
    pub ops: OpsSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    /// Watchlists, alerts and their webhook deliveries.
    #[serde(default)]
    pub alerts: AlertSettings,
}

/// Watchlists, alerts and webhook deliveries (`[alerts]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// File holding the watch key: 32 bytes as 64 hex characters
    /// (`openssl rand -hex 32`), or the environment variable
    /// `TRACEWIRE_WATCH_KEY`. Watched addresses are stored as HMAC-SHA256
    /// keyed hashes under it, and labels, alerts and webhook secrets sealed
    /// with it. Without either, a key is made and kept in the database
    /// (a copy of the database then holds the key too). Changing it makes
    /// every stored watch entry, alert and webhook secret unreadable.
    pub watch_key_file: Option<PathBuf>,
    /// Accept webhook endpoints on loopback, private, link-local or other
    /// non-public addresses (off: such endpoints are refused when
    /// registered and not delivered to).
    pub allow_private_endpoints: bool,
    /// Extra CA certificates (PEM) trusted for webhook receivers, besides
    /// the public web roots.
    pub receiver_ca_file: Option<PathBuf>,
    /// How long deliveries to an endpoint are retried after the oldest
    /// undelivered alert first failed, before the endpoint is disabled.
    pub retry_for_secs: u64,
    /// The first retry delay; each further failure doubles it.
    pub retry_initial_ms: u64,
    /// The longest delay between two attempts.
    pub retry_max_secs: u64,
    /// How long one delivery may take (connect, send, answer).
    pub delivery_timeout_secs: u64,
    /// How often the change-feed consumer and the delivery worker look
    /// for work when idle.
    pub poll_interval_ms: u64,
    /// Run the alert consumer and the delivery worker on this server.
    pub enabled: bool,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            watch_key_file: None,
            allow_private_endpoints: false,
            receiver_ca_file: None,
            retry_for_secs: 26 * 3600,
            retry_initial_ms: 5_000,
            retry_max_secs: 3600,
            delivery_timeout_secs: 10,
            poll_interval_ms: 250,
            enabled: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://…`. Empty means `sqlite://<data_dir>/tracewire.db`.
    pub url: String,
    /// Maximum connections in the pool.
    pub pool_size: u32,
    /// How long to wait for a connection before failing a request.
    pub connect_timeout_secs: u64,
    /// PostgreSQL streaming replicas (`postgres://…`, same database) that
    /// serve record reads: get, list, search, screening, export, the change
    /// feed and TAXII reads. Writes and audit appends always go to `url`.
    /// Empty: every read is served by `url`. See docs/replicas.md.
    #[serde(default)]
    pub replica_urls: Vec<String>,
    /// A replica further behind the primary than this is skipped (its reads
    /// go to another replica or the primary).
    #[serde(default = "default_replica_max_lag_ms")]
    pub replica_max_lag_ms: u64,
    /// How long a read waits for a replica to replay the reading
    /// organization's last write before it is served by the primary instead.
    #[serde(default = "default_replica_wait_ms")]
    pub replica_wait_ms: u64,
}

fn default_replica_max_lag_ms() -> u64 {
    5_000
}

fn default_replica_wait_ms() -> u64 {
    50
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Address of the HTTPS (mutual TLS) API listener.
    pub listen: String,
    /// Worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds given to in-flight requests on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Requests per second each organization may make (0: no limit).
    #[serde(default)]
    pub org_requests_per_second: u32,
    /// Requests an organization may make at once above its rate (0: as
    /// many as `org_requests_per_second`).
    #[serde(default)]
    pub org_request_burst: u32,
    /// Items of bulk requests (records created, addresses screened, TAXII
    /// objects added) per second for each organization (0: no limit).
    #[serde(default)]
    pub org_bulk_items_per_second: u32,
    /// Addresses (or CIDR networks) of TLS-terminating proxies whose
    /// forwarded client certificate header is believed; empty: none.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// The header in which trusted proxies forward the client certificate.
    #[serde(default = "default_forwarded_certificate_header")]
    pub forwarded_certificate_header: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM file with the server certificate chain (leaf first).
    pub cert: PathBuf,
    /// PEM file with the server private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// PEM bundle of the CAs whose client certificates are trusted.
    pub client_ca: PathBuf,
    /// PEM or DER certificate revocation lists checked on every handshake.
    #[serde(default)]
    pub crls: Vec<PathBuf>,
    /// The hub's own CA (PEM). Client certificates issued directly by it may be
    /// mapped to an organization by their subject, in addition to fingerprints.
    #[serde(default)]
    pub subject_mapping_ca: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsSettings {
    /// Address of the plain-HTTP operations listener (`/healthz`, `/readyz`, `/metrics`).
    /// Keep it on loopback or a private network.
    pub listen: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// `iss` of the tokens this hub issues.
    pub issuer: String,
    /// `aud` every accepted token must carry.
    pub audience: String,
    /// Lifetime of issued access tokens.
    pub token_ttl_secs: u64,
    /// Signing algorithm for new hub keys: `EdDSA` or `ES256`.
    pub signing_algorithm: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway_secs: u64,
    /// How long a certificate or API client the hub adds to an onboarded
    /// partner stays pending unless the partner confirms it (0: at once).
    pub credential_notice_secs: u64,
    /// File holding the key (64 hex characters) that seals the hub's signing
    /// keys at rest; `TRACEWIRE_KEY_ENCRYPTION_KEY` may hold it instead.
    #[serde(default)]
    pub key_encryption_key_file: Option<PathBuf>,
    /// Earlier such keys, still accepted to open keys sealed under them
    /// (they are sealed anew under the current key at start).
    #[serde(default)]
    pub previous_key_encryption_key_files: Vec<PathBuf>,
    /// Partner identity providers whose tokens are accepted.
    #[serde(default)]
    pub trusted_issuers: Vec<TrustedIssuerSettings>,
}

impl AuthSettings {
    /// [`AuthSettings::credential_notice_secs`] as a duration.
    pub fn credential_notice(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(self.credential_notice_secs as i64)
    }
}

/// A partner's own token issuer, trusted for one organization.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuerSettings {
    /// The `iss` value of the partner's tokens.
    pub issuer: String,
    /// The organization (id) whose connections may present these tokens.
    pub organization: String,
    /// JWKS as a local file …
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// … or fetched (and refreshed) from an HTTPS URL.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Scopes the partner's tokens may grant (intersected with the token's `scope`).
    /// `admin` is never granted through a partner issuer.
    pub allowed_scopes: Vec<String>,
    /// Also accept this issuer's tokens whose JWT header `typ` is `JWT` or
    /// absent (identity providers that do not mark access tokens as RFC
    /// 9068 asks). Default false: only `at+jwt`.
    #[serde(default)]
    pub accept_jwt_typ: bool,
    /// With `jwks_url`: a PEM bundle of CAs trusted for that server besides
    /// the public ones (a partner's private PKI).
    #[serde(default)]
    pub jwks_ca: Option<PathBuf>,
    /// With `jwks_url`: the shortest time between two fetches prompted by
    /// tokens naming an unknown `kid` (1–3600 s, default 30).
    #[serde(default = "default_jwks_refresh_secs")]
    pub jwks_refresh_secs: u64,
}

fn default_forwarded_certificate_header() -> String {
    "X-Client-Certificate".into()
}

fn default_jwks_refresh_secs() -> u64 {
    30
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter such as `info` or `tracewire=debug,actix_web=info`.
    pub level: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("data"),
            database: DatabaseSettings {
                url: String::new(),
                pool_size: 16,
                connect_timeout_secs: 10,
                replica_urls: Vec::new(),
                replica_max_lag_ms: default_replica_max_lag_ms(),
                replica_wait_ms: default_replica_wait_ms(),
            },
            api: ApiSettings {
                listen: "127.0.0.1:8443".into(),
                workers: 0,
                max_body_bytes: 16 * 1024 * 1024,
                shutdown_timeout_secs: 30,
                org_requests_per_second: 0,
                org_request_burst: 0,
                org_bulk_items_per_second: 0,
                trusted_proxies: Vec::new(),
                forwarded_certificate_header: default_forwarded_certificate_header(),
            },
            tls: TlsSettings {
                cert: PathBuf::from("pki/server.pem"),
                key: PathBuf::from("pki/server-key.pem"),
                client_ca: PathBuf::from("pki/ca.pem"),
                crls: Vec::new(),
                subject_mapping_ca: None,
            },
            ops: OpsSettings {
                listen: "127.0.0.1:9090".into(),
            },
            auth: AuthSettings {
                issuer: "tracewire".into(),
                audience: "tracewire".into(),
                token_ttl_secs: 900,
                signing_algorithm: "EdDSA".into(),
                leeway_secs: 30,
                credential_notice_secs: 7 * 24 * 3600,
                key_encryption_key_file: None,
                previous_key_encryption_key_files: Vec::new(),
                trusted_issuers: Vec::new(),
            },
            log: LogSettings {
                format: "text".into(),
                level: "info".into(),
            },
            alerts: AlertSettings::default(),
        }
    }
}

/// Why the settings could not be used. Every message says which key to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

/// Which database backend a URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A file path for the embedded SQLite database.
    Sqlite(PathBuf),
    /// A libpq connection URL.
    Postgres(String),
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH`, `sqlite:PATH`, `postgres://…` and `postgresql://…`; refuses the rest.
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err("sqlite URL has no file path (expected sqlite://PATH)".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let parsed =
                url::Url::parse(url).map_err(|e| format!("malformed PostgreSQL URL: {e}"))?;
            if parsed.host_str().is_none_or(str::is_empty) && !url.contains("host=") {
                return Err("PostgreSQL URL has no host".into());
            }
            return Ok(Self::Postgres(url.to_owned()));
        }
        Err("database URL must start with sqlite:// or postgres://".into())
    }

    /// The URL with any password replaced, for messages and logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("***"));
                    }
                    parsed.to_string()
                }
                Err(_) => "postgres://(unparseable)".into(),
            },
        }
    }
}

impl Settings {
    /// Loads defaults, then the file (if given, it must exist; otherwise
    /// `tracewire.toml` in the current directory is read when present), then
    /// `TRACEWIRE_*` variables; then validates.
    pub fn load(config_file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match config_file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.to_owned())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("tracewire.toml")),
        }
        figment = figment.merge(
            // Only variables naming a known section are settings: others sharing
            // the prefix (TRACEWIRE_PORT from a Kubernetes service link, …) are
            // ignored. Typos inside a section are still refused.
            Env::prefixed("TRACEWIRE_").split("__").filter(|key| {
                let key = key.as_str().to_ascii_lowercase();
                key == "data_dir"
                    || [
                        "database.",
                        "api.",
                        "tls.",
                        "ops.",
                        "auth.",
                        "log.",
                        "alerts.",
                    ]
                    .iter()
                    .any(|section| key.starts_with(section))
            }),
        );
        let settings: Settings = figment.extract().map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    /// The database the settings select (the SQLite file under `data_dir` when unset).
    pub fn database_url(&self) -> Result<DatabaseUrl, ConfigError> {
        if self.database.url.trim().is_empty() {
            return Ok(DatabaseUrl::Sqlite(self.data_dir.join("tracewire.db")));
        }
        DatabaseUrl::parse(self.database.url.trim()).map_err(|m| invalid("database.url", m))
    }

    pub fn api_listen(&self) -> Result<SocketAddr, ConfigError> {
        self.api.listen.parse().map_err(|_| {
            invalid(
                "api.listen",
                format!(
                    "{:?} is not an address such as 127.0.0.1:8443",
                    self.api.listen
                ),
            )
        })
    }

    pub fn ops_listen(&self) -> Result<SocketAddr, ConfigError> {
        self.ops.listen.parse().map_err(|_| {
            invalid(
                "ops.listen",
                format!(
                    "{:?} is not an address such as 127.0.0.1:9090",
                    self.ops.listen
                ),
            )
        })
    }

    /// The replicas' URLs (`database.replica_urls`): PostgreSQL only, and
    /// only beside a PostgreSQL primary.
    pub fn replica_urls(&self) -> Result<Vec<DatabaseUrl>, ConfigError> {
        let urls = self
            .database
            .replica_urls
            .iter()
            .map(|u| match DatabaseUrl::parse(u.trim()) {
                Ok(url @ DatabaseUrl::Postgres(_)) => Ok(url),
                Ok(DatabaseUrl::Sqlite(_)) => Err(invalid(
                    "database.replica_urls",
                    "replicas must be postgres:// URLs",
                )),
                Err(m) => Err(invalid("database.replica_urls", m)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !urls.is_empty() && !matches!(self.database_url()?, DatabaseUrl::Postgres(_)) {
            return Err(invalid(
                "database.replica_urls",
                "replicas need a PostgreSQL primary (database.url = \"postgres://…\")",
            ));
        }
        if self.database.replica_wait_ms > 10_000 {
            return Err(invalid("database.replica_wait_ms", "must be at most 10000"));
        }
        Ok(urls)
    }

    /// Checks everything that can be checked without starting: addresses
    /// parse, files exist, numbers are in range, algorithms are allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.database_url()?;
        self.api_listen()?;
        self.ops_listen()?;
        if self.database.pool_size == 0 || self.database.pool_size > 512 {
            return Err(invalid("database.pool_size", "must be between 1 and 512"));
        }
        self.replica_urls()?;
        if self.api.org_requests_per_second > 1_000_000 {
            return Err(invalid(
                "api.org_requests_per_second",
                "must be at most 1000000 (0 for no limit)",
            ));
        }
        if self.api.org_request_burst > 0 && self.api.org_requests_per_second == 0 {
            return Err(invalid(
                "api.org_request_burst",
                "needs api.org_requests_per_second",
            ));
        }
        for proxy in &self.api.trusted_proxies {
            crate::auth::forwarded::ProxyNetwork::parse(proxy)
                .map_err(|e| invalid("api.trusted_proxies", e))?;
        }
        if actix_web::http::header::HeaderName::try_from(
            self.api.forwarded_certificate_header.as_str(),
        )
        .is_err()
        {
            return Err(invalid(
                "api.forwarded_certificate_header",
                "is not a valid header name",
            ));
        }
        if self.api.org_bulk_items_per_second > 100_000_000 {
            return Err(invalid(
                "api.org_bulk_items_per_second",
                "must be at most 100000000 (0 for no limit)",
            ));
        }
        if self.api.org_request_burst > 10_000_000 {
            return Err(invalid("api.org_request_burst", "must be at most 10000000"));
        }
        if self.api.max_body_bytes < 1024 {
            return Err(invalid("api.max_body_bytes", "must be at least 1024"));
        }
        for (key, path) in [
            ("tls.cert", &self.tls.cert),
            ("tls.key", &self.tls.key),
            ("tls.client_ca", &self.tls.client_ca),
        ] {
            if !path.is_file() {
                return Err(invalid(
                    key,
                    format!("file {} does not exist", path.display()),
                ));
            }
        }
        for crl in &self.tls.crls {
            if !crl.is_file() {
                return Err(invalid(
                    "tls.crls",
                    format!("file {} does not exist", crl.display()),
                ));
            }
        }
        for (key, file) in [
            ("alerts.watch_key_file", &self.alerts.watch_key_file),
            ("alerts.receiver_ca_file", &self.alerts.receiver_ca_file),
        ] {
            if let Some(file) = file {
                if !file.is_file() {
                    return Err(invalid(
                        key,
                        format!("file {} does not exist", file.display()),
                    ));
                }
            }
        }
        if self.alerts.retry_initial_ms == 0 || self.alerts.poll_interval_ms == 0 {
            return Err(invalid(
                "alerts.retry_initial_ms",
                "alerts.retry_initial_ms and alerts.poll_interval_ms must be above 0",
            ));
        }
        if self.alerts.delivery_timeout_secs == 0 || self.alerts.delivery_timeout_secs > 300 {
            return Err(invalid(
                "alerts.delivery_timeout_secs",
                "must be between 1 and 300",
            ));
        }
        let key_files = self
            .auth
            .key_encryption_key_file
            .iter()
            .map(|f| ("auth.key_encryption_key_file", f))
            .chain(
                self.auth
                    .previous_key_encryption_key_files
                    .iter()
                    .map(|f| ("auth.previous_key_encryption_key_files", f)),
            );
        for (key, file) in key_files {
            if !file.is_file() {
                return Err(invalid(
                    key,
                    format!("file {} does not exist", file.display()),
                ));
            }
        }
        if let Some(ca) = &self.tls.subject_mapping_ca {
            if !ca.is_file() {
                return Err(invalid(
                    "tls.subject_mapping_ca",
                    format!("file {} does not exist", ca.display()),
                ));
            }
        }
        if !(60..=86_400).contains(&self.auth.token_ttl_secs) {
            return Err(invalid(
                "auth.token_ttl_secs",
                "must be between 60 and 86400 seconds",
            ));
        }
        if self.auth.credential_notice_secs > 90 * 24 * 3600 {
            return Err(invalid(
                "auth.credential_notice_secs",
                "must be at most 7776000 seconds (90 days)",
            ));
        }
        if self.auth.leeway_secs > 300 {
            return Err(invalid("auth.leeway_secs", "must be at most 300 seconds"));
        }
        if !["EdDSA", "ES256"].contains(&self.auth.signing_algorithm.as_str()) {
            return Err(invalid("auth.signing_algorithm", "must be EdDSA or ES256"));
        }
        if self.auth.issuer.trim().is_empty() || self.auth.audience.trim().is_empty() {
            return Err(invalid(
                "auth.issuer",
                "issuer and audience must not be empty",
            ));
        }
        for issuer in &self.auth.trusted_issuers {
            if issuer.issuer == self.auth.issuer {
                return Err(invalid(
                    "auth.trusted_issuers",
                    "a partner issuer cannot reuse the hub's own issuer name",
                ));
            }
            crate::domain::OrganizationId::parse(&issuer.organization)
                .map_err(|e| invalid("auth.trusted_issuers.organization", e.to_string()))?;
            match (&issuer.jwks_file, &issuer.jwks_url) {
                (Some(file), None) if !file.is_file() => {
                    return Err(invalid(
                        "auth.trusted_issuers.jwks_file",
                        format!("file {} does not exist", file.display()),
                    ))
                }
                (None, Some(url)) if !url.starts_with("https://") => {
                    return Err(invalid(
                        "auth.trusted_issuers.jwks_url",
                        "must be an https:// URL",
                    ))
                }
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(invalid(
                        "auth.trusted_issuers",
                        format!(
                            "issuer {:?} needs exactly one of jwks_file or jwks_url",
                            issuer.issuer
                        ),
                    ))
                }
            }
            if let Some(ca) = &issuer.jwks_ca {
                if !ca.is_file() {
                    return Err(invalid(
                        "auth.trusted_issuers.jwks_ca",
                        format!("file {} does not exist", ca.display()),
                    ));
                }
            }
            if !(1..=3600).contains(&issuer.jwks_refresh_secs) {
                return Err(invalid(
                    "auth.trusted_issuers.jwks_refresh_secs",
                    "must be between 1 and 3600 seconds",
                ));
            }
            for scope in &issuer.allowed_scopes {
                let parsed: crate::domain::Scope =
                    scope.parse().map_err(|e: crate::domain::DomainError| {
                        invalid("auth.trusted_issuers.allowed_scopes", e.to_string())
                    })?;
                if parsed == crate::domain::Scope::Admin {
                    return Err(invalid(
                        "auth.trusted_issuers.allowed_scopes",
                        "admin cannot be granted by a partner issuer",
                    ));
                }
            }
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            return Err(invalid("log.format", "must be text or json"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_need_postgres_on_both_sides() {
        let mut settings = Settings::default();
        settings.database.replica_urls = vec!["postgres://u@replica/db".into()];
        let refused = settings.validate().unwrap_err().to_string();
        assert!(refused.contains("database.replica_urls"), "{refused}");
        settings.database.url = "postgres://u@primary/db".into();
        assert_eq!(settings.replica_urls().unwrap().len(), 1);
        settings.database.replica_urls = vec!["sqlite://x.db".into()];
        assert!(settings.replica_urls().is_err());
    }

    #[test]
    fn database_url_selects_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db").unwrap(),
            DatabaseUrl::Sqlite("data/x.db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@localhost/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(DatabaseUrl::parse("mysql://localhost/db").is_err());
        assert!(DatabaseUrl::parse("postgres://").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn redacts_passwords() {
        let url = DatabaseUrl::parse("postgres://user:secret@db:5432/tw").unwrap();
        let shown = url.redacted();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("user"));
    }
}
