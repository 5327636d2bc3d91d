//! Read replicas, against a real streaming replica of the test cluster
//! (`.ci/replica` makes one; `TRACEWIRE_TEST_REPLICA_URL` names it):
//! reads are served by the replica, a partner reads its own writes at once
//! on any server, a lagging or down replica is skipped.
//!
//! Replicas exist only beside a PostgreSQL primary (a SQLite database with
//! `replica_urls` is refused at start, see `config.rs`'s tests), so this
//! runs on PostgreSQL only. It pauses the replica's replay, so it is the
//! only test using the replica.
use crate::helpers::{TestApp, TestBackend, TestOrg};
use crate::records::{address_record, create, evm};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tracewire::domain::OrganizationType;

/// A replica that answers nowhere (nothing listens on port 1).
const DEAD_REPLICA: &str = "postgres://postgres@127.0.0.1:1/test";
const MAX_LAG_MS: u64 = 4_000;

/// The replica's base URL and the primary's, or `None` (skip) outside CI.
fn replica_setup() -> Option<(String, String)> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let replica = std::env::var("TRACEWIRE_TEST_REPLICA_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let primary = std::env::var("TRACEWIRE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    match (replica, primary) {
        (Some(r), Some(p)) => Some((r, p)),
        _ if ci => panic!(
            "CI=true but TRACEWIRE_TEST_REPLICA_URL or TRACEWIRE_TEST_DATABASE_URL is not set: \
             .ci/run makes a replica with .ci/replica and exports it"
        ),
        _ => {
            eprintln!(
                "skipped: TRACEWIRE_TEST_REPLICA_URL (a streaming replica of \
                 TRACEWIRE_TEST_DATABASE_URL, made by .ci/replica) is not set"
            );
            None
        }
    }
}

/// Resumes the replica's replay when dropped (also when the test fails).
struct Replay(String);

impl Replay {
    fn run(&self, sql: &str) {
        let mut conn = diesel::PgConnection::establish(&self.0).expect("replica answers");
        conn.batch_execute(sql).expect(sql);
    }
    fn pause(&self) {
        self.run("SELECT pg_wal_replay_pause()");
    }
    fn resume(&self) {
        self.run("SELECT pg_wal_replay_resume()");
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.0) {
            let _ = conn.batch_execute("SELECT pg_wal_replay_resume()");
        }
    }
}

async fn readiness(app: &TestApp) -> Value {
    awc::Client::default()
        .get(app.ops_url("/readyz"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

/// The real replica's entry in `/readyz`.
async fn replica_state(app: &TestApp) -> Value {
    let ready = readiness(app).await;
    ready["replicas"]
        .as_array()
        .unwrap_or_else(|| panic!("readyz lists the replicas: {ready}"))
        .iter()
        .find(|r| r["replica"].as_str().unwrap().contains(":5433"))
        .cloned()
        .unwrap_or_else(|| panic!("the replica is listed: {ready}"))
}

async fn wait_until(app: &TestApp, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = replica_state(app).await;
        if ok(&state) {
            return state;
        }
        assert!(Instant::now() < deadline, "replica never {what}: {state}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `name{label…}` from `/metrics` whose line contains `label`.
async fn metric(app: &TestApp, name: &str, label: &str) -> f64 {
    let text = awc::Client::default()
        .get(app.ops_url("/metrics"))
        .send()
        .await
        .unwrap()
        .body()
        .await
        .unwrap();
    let text = String::from_utf8(text.to_vec()).unwrap();
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} with {label} in metrics:\n{text}"))
}

async fn replica_reads(app: &TestApp) -> f64 {
    metric(app, "tracewire_replica_reads_total", ":5433").await
}

async fn status_of(app: &TestApp, org: &TestOrg, token: &str, path: &str) -> (u16, String) {
    let reply = if path.starts_with("/taxii2/") {
        crate::taxii::taxii_get(app, org, token, path).await
    } else {
        app.get(org, path, Some(token)).await
    };
    (reply.status.as_u16(), reply.body.to_string())
}

#[actix_web::test]
async fn reads_go_to_the_replica_own_writes_are_read_at_once_and_late_or_down_replicas_are_skipped()
{
    let Some((replica_base, primary_base)) = replica_setup() else {
        return;
    };
    let mut app = TestApp::spawn_with(TestBackend::Postgres(primary_base.clone()), |s, _| {
        let own_schema = s.database.url.strip_prefix(&primary_base).unwrap();
        s.database.replica_urls = vec![
            DEAD_REPLICA.to_owned(),
            format!("{replica_base}{own_schema}"),
        ];
        s.database.replica_max_lag_ms = MAX_LAG_MS;
        s.database.replica_wait_ms = 300;
    })
    .await;
    let replay = Replay(replica_base.clone());
    replay.resume();
    let all = "indicators:read indicators:write";
    let acme = app.add_org("acme", OrganizationType::Forensics, all);
    let ngo = app.add_org("ngo", OrganizationType::Ngo, all);
    let (acme_token, ngo_token) = (app.token(&acme).await, app.token(&ngo).await);

    // The replica catches up; the dead one is listed as down, and the
    // server stays ready.
    wait_until(&app, "served with no lag", |s| {
        s["serving"] == true && s["lag_seconds"] == 0.0
    })
    .await;
    let ready = readiness(&app).await;
    assert_eq!(ready["status"], "ok", "{ready}");
    let dead = ready["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["replica"].as_str().unwrap().contains(":1/"))
        .unwrap();
    assert_eq!(dead["up"], false, "{ready}");
    assert_eq!(dead["serving"], false, "{ready}");

    // A record written before the pause, replayed: another partner's read
    // of it is served by the replica (its read counter moves by one).
    let first = create(
        &app,
        &acme,
        vec![address_record(&evm(1), "green", json!({}))],
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let first_id = first.body["ids"][0].as_str().unwrap().to_owned();
    wait_until(&app, "caught up", |s| s["lag_seconds"] == 0.0).await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let before = replica_reads(&app).await;
    let (status, _) = status_of(&app, &ngo, &ngo_token, &format!("/v1/records/{first_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        replica_reads(&app).await,
        before + 1.0,
        "served by the replica"
    );

    // Replay paused: a new record exists on the primary only.
    replay.pause();
    let second = create(
        &app,
        &acme,
        vec![address_record(&evm(2), "green", json!({}))],
    )
    .await;
    assert_eq!(second.status, 201, "{}", second.body);
    let second_id = second.body["ids"][0].as_str().unwrap().to_owned();
    let written_at = Instant::now();

    // Another partner's reads are served by the paused replica: every read
    // path answers, and none shows the new record yet.
    let before = replica_reads(&app).await;
    let paths = [
        format!("/v1/records/{second_id}"),
        "/v1/records?limit=100".to_owned(),
        "/v1/records/count".to_owned(),
        "/v1/records/export?format=jsonl".to_owned(),
        format!("/v1/screen/eth/{}", evm(2)),
        "/v1/changes?limit=100".to_owned(),
        format!("{}/objects/", crate::taxii::INTEL),
    ];
    for path in &paths {
        let (status, body) = status_of(&app, &ngo, &ngo_token, path).await;
        if path.starts_with("/v1/records/") && path.ends_with(&second_id) {
            assert_eq!(status, 404, "{path}: not replayed yet: {body}");
        } else {
            assert_eq!(status, 200, "{path}: {body}");
            assert!(
                !body.contains(&second_id),
                "{path} from the replica: {body}"
            );
        }
        if path.starts_with("/v1/records?") {
            assert!(body.contains(&first_id), "{path}: {body}");
        }
    }
    assert_eq!(
        replica_reads(&app).await,
        before + paths.len() as f64,
        "every one of them served by the replica"
    );

    // The writer reads its own write at once, on this server and on
    // another one behind the same primary (served by the primary: the
    // replica has not replayed it).
    let behind_before = metric(
        &app,
        "tracewire_primary_reads_total",
        "replica_behind_own_write",
    )
    .await;
    let (status, body) = status_of(
        &app,
        &acme,
        &acme_token,
        &format!("/v1/records/{second_id}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, listed) = status_of(&app, &acme, &acme_token, "/v1/records?limit=100").await;
    assert!(listed.contains(&second_id), "{listed}");
    assert_eq!(
        metric(
            &app,
            "tracewire_primary_reads_total",
            "replica_behind_own_write"
        )
        .await,
        behind_before + 2.0
    );
    let (peer_port, peer) = app.start_peer().await;
    let own_port = std::mem::replace(&mut app.api_port, peer_port);
    let (status, body) = status_of(
        &app,
        &acme,
        &acme_token,
        &format!("/v1/records/{second_id}"),
    )
    .await;
    assert_eq!(
        status, 200,
        "the peer server knows acme's write position: {body}"
    );
    let (status, _) = status_of(&app, &ngo, &ngo_token, &format!("/v1/records/{second_id}")).await;
    assert_eq!(status, 404, "the peer serves others from the replica too");
    app.api_port = own_port;
    peer.0.stop(true).await;
    peer.1.stop(true).await;
    assert!(
        written_at.elapsed() < Duration::from_millis(MAX_LAG_MS),
        "the checks above ran before the replica counted as late"
    );

    // Still paused, the replica falls behind the bound and is skipped:
    // the other partner now reads the record from the primary.
    let state = wait_until(&app, "skipped as late", |s| s["serving"] == false).await;
    assert_eq!(state["up"], true, "{state}");
    assert!(
        state["problem"].as_str().unwrap().contains("lags"),
        "{state}"
    );
    let none_before = metric(&app, "tracewire_primary_reads_total", "no_replica_serving").await;
    let (status, _) = status_of(&app, &ngo, &ngo_token, &format!("/v1/records/{second_id}")).await;
    assert_eq!(status, 200, "served by the primary");
    let (_, screened) = status_of(
        &app,
        &ngo,
        &ngo_token,
        &format!("/v1/screen/eth/{}", evm(2)),
    )
    .await;
    assert!(screened.contains(&second_id), "{screened}");
    assert_eq!(
        metric(&app, "tracewire_primary_reads_total", "no_replica_serving").await,
        none_before + 2.0
    );

    // Replay resumed: the replica catches up and serves again, the record
    // included.
    replay.resume();
    wait_until(&app, "serving again", |s| {
        s["serving"] == true && s["lag_seconds"] == 0.0
    })
    .await;
    let before = replica_reads(&app).await;
    let (status, _) = status_of(&app, &ngo, &ngo_token, &format!("/v1/records/{second_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(replica_reads(&app).await, before + 1.0);
}
