//! Requests that actix-http's HTTP/1.1 parser refuses before any tracewire
//! code runs (a head over 128 KiB or with more than 96 fields, a target
//! over 64 KiB, a NUL in a header, a malformed request line, conflicting
//! framing headers) are answered with problem documents, `Connection:
//! close`, and the server goes on serving. Sent over raw TLS sockets:
//! awc refuses to send any of these.
//!
//! The refusals touch no storage, but each case is followed by an
//! authenticated request (organization and token lookups), so the tests
//! run on both backends.
use crate::helpers::{client_tls_config, TestApp, TestBackend, TestOrg};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracewire::domain::OrganizationType;

/// Sends `request` as it is over a new TLS connection with `org`'s
/// certificate and reads until the server closes the connection.
async fn exchange(app: &TestApp, org: &TestOrg, request: &[u8]) -> Vec<u8> {
    let config = client_tls_config(&app.pki.ca.cert_pem, Some(&org.certificate));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", app.api_port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    // The server may answer and close before all of a huge request is sent.
    let _ = tls.write_all(request).await;
    let _ = tls.flush().await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), tls.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    answer
}

/// One response: status, head (lower-cased), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Whether this is a problem document of `status` and `slug`, sent
    /// with `Connection: close`; if not, why.
    fn problem(&self, status: u16, slug: &str) -> Result<(), String> {
        let problem = self.json();
        let failed = if self.status != status {
            "status"
        } else if !self
            .head
            .contains("\r\ncontent-type: application/problem+json\r\n")
        {
            "content type"
        } else if !self.head.contains("\r\nconnection: close\r\n") {
            "connection: close"
        } else if problem["type"] != format!("urn:tracewire:problem:{slug}") {
            "problem type"
        } else if problem["status"] != status {
            "status in the document"
        } else if !(problem["title"].is_string() && problem["detail"].is_string()) {
            "title and detail"
        } else {
            return Ok(());
        };
        Err(format!(
            "wrong {failed}: {} {}",
            self.head,
            String::from_utf8_lossy(&self.body)
        ))
    }

    fn assert_problem(&self, status: u16, slug: &str) {
        if let Err(why) = self.problem(status, slug) {
            panic!("{why}");
        }
    }
}

/// Splits what a connection answered into responses (framed by
/// `Content-Length`; `head_requests` lists the answers to HEAD requests,
/// which have no body).
fn answers(mut bytes: &[u8], head_requests: &[usize]) -> Vec<Answer> {
    let mut found = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(bytes)))
            + 4;
        let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let length: usize = head
            .split("\r\n")
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        let length = if head_requests.contains(&found.len()) {
            0
        } else {
            length
        };
        let mut rest = &bytes[end..];
        let mut body = Vec::new();
        if head.contains("\r\ntransfer-encoding: chunked\r\n") {
            loop {
                let line = rest.windows(2).position(|w| w == b"\r\n").unwrap();
                let size =
                    usize::from_str_radix(std::str::from_utf8(&rest[..line]).unwrap(), 16).unwrap();
                rest = &rest[line + 2..];
                body.extend_from_slice(&rest[..size]);
                rest = &rest[size + 2..];
                if size == 0 {
                    break;
                }
            }
        } else {
            body.extend_from_slice(&rest[..length]);
            rest = &rest[length..];
        }
        bytes = rest;
        found.push(Answer { status, head, body });
    }
    found
}

async fn whoami_still_answers(app: &TestApp, org: &TestOrg, token: &str) {
    let request = format!(
        "GET /v1/whoami HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    let answer = answers(&exchange(app, org, request.as_bytes()).await, &[]);
    assert_eq!(answer.len(), 1, "{answer:?}");
    assert_eq!(answer[0].status, 200, "{answer:?}");
    assert_eq!(answer[0].json()["organization"]["id"], "acme", "{answer:?}");
}

async fn parser_refusals_are_problems(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    let token = app.token(&acme).await;
    let auth = format!("Host: localhost\r\nAuthorization: Bearer {token}\r\n");

    let big_block = format!(
        "GET /v1/whoami HTTP/1.1\r\n{auth}X-Padding: {}\r\n\r\n",
        "p".repeat(200 * 1024)
    );
    let many_fields: String = (0..120).map(|i| format!("X-Field-{i}: v\r\n")).collect();
    let many_fields = format!("GET /v1/whoami HTTP/1.1\r\n{auth}{many_fields}\r\n");
    let long_query = format!(
        "GET /v1/records?q={} HTTP/1.1\r\n{auth}\r\n",
        "a".repeat(100_000)
    );
    let long_path = format!(
        "GET /v1/records/{} HTTP/1.1\r\n{auth}\r\n",
        "a".repeat(100_000)
    );
    let nul = format!("GET /v1/whoami HTTP/1.1\r\n{auth}X-Note: a\0b\r\n\r\n");
    let request_line = format!("GET /v1/whoami HTTP/1.1 extra\r\n{auth}\r\n");
    let lengths = format!(
        "POST /v1/records HTTP/1.1\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{{}}"
    );
    let cases = [
        (
            "a 200 KiB header block",
            big_block,
            431,
            "header-fields-too-large",
            "128 KiB",
        ),
        (
            "120 header fields",
            many_fields,
            431,
            "header-fields-too-large",
            "96 header fields",
        ),
        (
            "a 100 KB query",
            long_query,
            414,
            "uri-too-long",
            "at most 8192 bytes",
        ),
        (
            "a 100 KB path",
            long_path,
            414,
            "uri-too-long",
            "at most 8192 bytes",
        ),
        ("a NUL in a header value", nul, 400, "bad-request", "NUL"),
        (
            "a malformed request line",
            request_line,
            400,
            "bad-request",
            "request line",
        ),
        (
            "two Content-Length fields",
            lengths,
            400,
            "bad-request",
            "more than one Content-Length",
        ),
    ];
    let mut failures = Vec::new();
    for (what, request, status, slug, detail) in cases {
        let answer = answers(&exchange(&app, &acme, request.as_bytes()).await, &[]);
        let checked = match answer.as_slice() {
            [answer] => answer.problem(status, slug).and_then(|()| {
                let said = answer.json()["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if !said.contains(detail) {
                    Err(format!("detail {said:?} does not say {detail:?}"))
                } else if !answer.head.contains("\r\nx-request-id: ") {
                    Err("no request id".into())
                } else {
                    Ok(())
                }
            }),
            _ => Err(format!("{} answers: {answer:?}", answer.len())),
        };
        if let Err(why) = checked {
            failures.push(format!("{what}: {why}"));
        }
        whoami_still_answers(&app, &acme, &token).await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A refusal after answered requests on the same connection (a HEAD, a
/// chunked body that reads like a response, a compressed answer): the
/// earlier answers are untouched and the refusal is the last answer.
async fn refusals_follow_answers_on_one_connection(backend: TestBackend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    let token = app.token(&acme).await;
    let auth = format!("Host: localhost\r\nAuthorization: Bearer {token}\r\n");
    let pipelined = format!(
        "GET /v1/whoami HTTP/1.1\r\n{auth}\r\n\
HEAD /v1/whoami HTTP/1.1\r\n{auth}\r\n\
POST /v1/nothing-here HTTP/1.1\r\n{auth}Transfer-Encoding: chunked\r\n\r\n1c\r\nHTTP/1.1 400 Bad Request\r\n\r\n\r\n0\r\n\r\n\
GET /v1/whoami HTTP/1.1\r\n{auth}Accept-Encoding: gzip\r\n\r\n\
GET /v1/whoami HTTP/1.1\r\n{auth}X-Note: \0\r\n\r\n"
    );
    let answer = answers(&exchange(&app, &acme, pipelined.as_bytes()).await, &[1]);
    let statuses: Vec<u16> = answer.iter().map(|a| a.status).collect();
    assert_eq!(statuses, vec![200, 405, 404, 200, 400], "{answer:?}");
    assert_eq!(answer[0].json()["organization"]["id"], "acme");
    // HEAD is not served on /v1/whoami: a 405 head, with no body.
    assert!(answer[1].body.is_empty());
    assert!(answer[1].head.contains("\r\nallow: get\r\n"), "{answer:?}");
    answer[2].assert_problem_type("not-found");
    answer[4].assert_problem(400, "bad-request");
    whoami_still_answers(&app, &acme, &token).await;

    // Invalid chunked encoding in a body: the parser hands the error to
    // the handler reading the body, which answers it (once).
    let broken = format!(
        "POST /v1/records HTTP/1.1\r\n{auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\nzz\r\n"
    );
    let answer = answers(&exchange(&app, &acme, broken.as_bytes()).await, &[]);
    assert_eq!(answer.len(), 1, "{answer:?}");
    assert_eq!(answer[0].status, 400, "{answer:?}");
    answer[0].assert_problem_type("bad-request");
    whoami_still_answers(&app, &acme, &token).await;
}

impl Answer {
    fn assert_problem_type(&self, slug: &str) {
        assert_eq!(
            self.json()["type"],
            format!("urn:tracewire:problem:{slug}"),
            "{self:?}"
        );
    }
}

/// The operations listener (plain HTTP) answers its parser's refusals the
/// same way. It touches no storage here (`/healthz` is answered without
/// the database), so one backend is enough.
#[actix_web::test]
async fn operations_listener_refusals_are_problems() {
    let app = TestApp::spawn(TestBackend::Sqlite).await;
    let port = app.ops_port;
    let send = |request: Vec<u8>| async move {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let _ = tcp.write_all(&request).await;
        let mut answer = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the server did not close the connection");
        answers(&answer, &[])
    };
    let nul = send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: \0\r\n\r\n".to_vec()).await;
    assert_eq!(nul.len(), 1, "{nul:?}");
    nul[0].assert_problem(400, "bad-request");
    let long = format!(
        "GET /healthz?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(100_000)
    );
    let long = send(long.into_bytes()).await;
    assert_eq!(long.len(), 1, "{long:?}");
    long[0].assert_problem(414, "uri-too-long");
    let fine =
        send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec()).await;
    assert_eq!(fine.len(), 1, "{fine:?}");
    assert_eq!(fine[0].status, 200, "{fine:?}");
}

crate::on_both_backends!(
    parser_refusals_are_problems,
    refusals_follow_answers_on_one_connection
);
