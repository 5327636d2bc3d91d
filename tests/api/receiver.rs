//! A real HTTPS webhook receiver for the tests: actix-web over rustls with
//! a certificate from its own rcgen CA, recording every request, and
//! answering 503 while told to fail.
#![allow(dead_code)]
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use std::sync::{Arc, Mutex};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    failing: bool,
}

pub struct Receiver {
    state: Arc<Mutex<State>>,
    pub port: u16,
    /// The CA that signed the receiver's certificate (PEM file).
    pub ca_file: std::path::PathBuf,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
}

async fn hook(req: HttpRequest, body: web::Bytes, state: web::Data<Mutex<State>>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut state = state.lock().unwrap();
    let status = if state.failing { 503 } else { 204 };
    state.received.push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: body.to_vec(),
        status,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

impl Receiver {
    pub async fn start() -> Receiver {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let dir = tempfile::tempdir().unwrap();
        let ca = tracewire::pki::CertificateAuthority::create("receiver CA", 30).unwrap();
        let server = ca
            .issue_server(&["localhost".into(), "127.0.0.1".into()], 30)
            .unwrap();
        let ca_file = dir.path().join("receiver-ca.pem");
        std::fs::write(&ca_file, &ca.cert_pem).unwrap();
        let chain = CertificateDer::pem_slice_iter(server.cert_pem.as_bytes())
            .map(|c| c.unwrap())
            .collect();
        let key = PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let state = web::Data::new(Mutex::new(State::default()));
        let shared = state.clone().into_inner();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/hook", web::post().to(hook))
        })
        .workers(1)
        .disable_signals()
        .listen_rustls_0_23(listener, config)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            state: shared,
            port,
            ca_file,
            handle,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/hook", self.port)
    }

    pub fn set_failing(&self, failing: bool) {
        self.state.lock().unwrap().failing = failing;
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The requests it accepted (answered 2xx), in arrival order.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.status < 300)
            .collect()
    }

    /// Waits until `n` requests were accepted (panics after `secs`).
    pub async fn wait_accepted(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let accepted = self.accepted();
            if accepted.len() >= n {
                return accepted;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "receiver accepted {} of {n} deliveries in {secs} s",
                accepted.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

/// A Standard Webhooks verifier written for the tests (independently of
/// tracewire's signer): does any `v1,` signature in `signature` match
/// HMAC-SHA256 of `id.timestamp.body` under `secret`?
pub fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| engine.decode(k).ok())
    else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let mut message = format!("{id}.{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    signature.split(' ').any(|candidate| {
        candidate
            .strip_prefix("v1,")
            .and_then(|sig| engine.decode(sig).ok())
            .is_some_and(|sig| ring::hmac::verify(&key, &message, &sig).is_ok())
    })
}

/// The verifier agrees with the specification's own example.
#[test]
fn verifier_accepts_the_specifications_test_vector() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (id, timestamp, body) = (
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        br#"{"test": 2432232314}"#,
    );
    let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert!(verify(secret, id, timestamp, body, expected));
    assert!(verify(
        secret,
        id,
        timestamp,
        body,
        &format!("v1,bm90IGl0 {expected}")
    ));
    assert!(!verify(secret, id, "1614265331", body, expected));
    assert!(!verify("whsec_AAAA", id, timestamp, body, expected));
    // tracewire's signer gives the same.
    assert_eq!(
        tracewire::alerts::webhooks::sign(secret, id, 1614265330, body).as_deref(),
        Some(expected)
    );
}
