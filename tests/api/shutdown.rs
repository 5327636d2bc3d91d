//! SIGTERM drains: requests in flight are finished and answered within
//! `api.shutdown_timeout_secs`, new connections are refused, on HTTP/1.1
//! and HTTP/2.
use crate::helpers::{TestBackend, TestDatabase};
use crate::process::{address_batch, ServerProcess};
use diesel::prelude::*;
use std::time::{Duration, Instant};
use tracewire::storage::schema::records;

const BATCH: u64 = 10_000;

fn stored_records(server: &ServerProcess) -> i64 {
    let db = tracewire::startup::open_database(&server.settings).unwrap();
    let mut conn = db.get().unwrap();
    records::table.count().get_result(&mut *conn).unwrap()
}

async fn sigterm_lets_batches_in_flight_finish(backend: TestBackend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path());
    let mut server =
        ServerProcess::start(dir.path(), &database.url, "shutdown_timeout_secs = 30").await;
    let token = server.token().await;

    // Two 10,000-item batches, one over HTTP/1.1 and one over HTTP/2.
    let send = |h2: bool, from: u64| {
        let request = server
            .client(h2)
            .post(server.url("/v1/records"))
            .bearer_auth(&token)
            .send_json(&address_batch(from, BATCH));
        async move {
            let mut response = request.await.map_err(|e| format!("request failed: {e}"))?;
            let version = response.version();
            let status = response.status();
            let body = response
                .body()
                .limit(64 * 1024 * 1024)
                .await
                .map_err(|e| format!("body: {e}"))?;
            Ok::<_, String>((version, status, body.len(), Instant::now()))
        }
    };
    let h1 = actix_web::rt::spawn(send(false, 0));
    let h2 = actix_web::rt::spawn(send(true, BATCH));
    // SIGTERM once the server is working on them (holds a database connection).
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.busy_connections().await < 1 {
        assert!(
            Instant::now() < deadline,
            "the batches never reached the database"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    server.signal("TERM");

    // The listener closes at once: a new connection is refused.
    let refused = loop {
        match std::net::TcpStream::connect(("127.0.0.1", server.api_port)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break Instant::now(),
            Err(e) => panic!("unexpected connect error: {e}"),
            Ok(_) => {
                assert!(
                    signalled.elapsed() < Duration::from_secs(10),
                    "new connections still accepted 10 s after SIGTERM"
                );
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };

    // Load balancers are told to stop sending: /readyz answers 503 while draining.
    let ready = server.ops_get("/readyz").await;
    ready.assert_problem(503, "service-unavailable");

    let (h1, h2) = (h1.await.unwrap(), h2.await.unwrap());
    let log = server.stderr();
    let (v1, s1, _, answered1) = h1.unwrap_or_else(|e| panic!("HTTP/1.1 batch: {e}\n{log}"));
    let (v2, s2, _, answered2) = h2.unwrap_or_else(|e| panic!("HTTP/2 batch: {e}\n{log}"));
    assert_eq!(v1, awc::http::Version::HTTP_11);
    assert_eq!(v2, awc::http::Version::HTTP_2);
    assert_eq!((s1.as_u16(), s2.as_u16()), (201, 201), "{log}");
    // The batches really were in flight when the signal came.
    let last_answer = answered1.max(answered2);
    assert!(
        last_answer > signalled,
        "both batches were answered before SIGTERM: the test proves nothing"
    );
    eprintln!(
        "refused {:?} after SIGTERM; last batch answered {:?} after SIGTERM",
        refused - signalled,
        last_answer - signalled
    );

    let status = server.wait_for_exit(Duration::from_secs(60)).await;
    assert!(status.success(), "{status:?}\n{}", server.stderr());
    eprintln!("exited {:?} after SIGTERM", signalled.elapsed());
    assert_eq!(stored_records(&server), 2 * BATCH as i64);
}

crate::on_both_backends!(sigterm_lets_batches_in_flight_finish);
