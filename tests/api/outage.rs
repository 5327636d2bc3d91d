//! The database going away under a running server: PostgreSQL stopped
//! mid-request (a throwaway cluster of the test's own, never the shared
//! server), and SQLite on a file system that fills up or turns read-only.
//! Every such request is a 503 `storage-unavailable` problem with
//! `Retry-After`, never a 500; once the database is known down, answers
//! come at once; recovery is automatic.
use crate::helpers::{Reply, TestApp, TestBackend};
use crate::process::{address_batch, busy_connections};
use awc::http::Method;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tracewire::domain::OrganizationType;

/// A PostgreSQL cluster made for one test (initdb into a temporary
/// directory, on a free port), which the test may stop and start.
pub struct ThrowawayPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Skips a test whose environment is missing, but fails under CI.
pub(crate) fn skip(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "cannot run under CI: {why}"
    );
    eprintln!("skipped: {why}");
}

impl ThrowawayPostgres {
    pub fn create() -> Result<ThrowawayPostgres, String> {
        let bin = std::env::var_os("TRACEWIRE_TEST_PG_BIN")
            .map(PathBuf::from)
            .or_else(|| {
                let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                    .ok()?
                    .filter_map(|e| Some(e.ok()?.path().join("bin")))
                    .filter(|bin| bin.join("initdb").exists())
                    .collect();
                found.sort();
                found.pop()
            })
            .ok_or("no PostgreSQL server binaries (initdb) found")?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        if is_root() {
            // initdb refuses to run as root: the cluster belongs to `postgres`.
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                return Err("cannot chown the cluster directory to postgres".into());
            }
        }
        let pg = ThrowawayPostgres {
            dir,
            bin,
            port: crate::process::free_port(),
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data().display().to_string(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        )?;
        pg.start()?;
        Ok(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bin.join(tool);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| format!("{tool}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    pub fn start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-l",
                &self.dir.path().join("postgres.log").display().to_string(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        )
    }

    /// `pg_ctl stop -m fast`: sessions are terminated, as when an operator
    /// restarts or upgrades PostgreSQL.
    pub fn stop(&self) -> Result<(), String> {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        )
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-m",
                "immediate",
                "stop",
            ],
        );
    }
}

/// A 503 `storage-unavailable` problem with a `Retry-After`.
pub(crate) fn assert_storage_unavailable(reply: &Reply) {
    reply.assert_problem(503, "storage-unavailable");
    let retry_after = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "no Retry-After: {:?}",
        reply.headers
    );
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

async fn ops_get(app: &TestApp, path: &str) -> Reply {
    let response = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish()
        .get(app.ops_url(path))
        .send()
        .await;
    Reply::from(crate::helpers::read_json(response).await.unwrap())
}

#[actix_web::test]
async fn postgres_stopping_mid_request_answers_503_fast_and_recovers() {
    let pg = match ThrowawayPostgres::create() {
        Ok(pg) => pg,
        Err(why) => return skip(&format!("no throwaway PostgreSQL cluster: {why}")),
    };
    let app = TestApp::spawn(TestBackend::Postgres(pg.url())).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let token = app.token(&acme).await;
    let created = app
        .send_json(
            &acme,
            Method::POST,
            "/v1/records",
            &token,
            address_batch(1, 1),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let path = format!("/v1/records/{}", created.body["ids"][0].as_str().unwrap());

    // A 10,000-item batch is in flight when PostgreSQL is stopped.
    let batch = async {
        let reply = app
            .send_json(
                &acme,
                Method::POST,
                "/v1/records",
                &token,
                address_batch(1_000, 10_000),
            )
            .await;
        (reply, Instant::now())
    };
    let stopper = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while busy_connections(&app.ops_url("/metrics")).await < 1 {
            assert!(
                Instant::now() < deadline,
                "the batch never reached the database"
            );
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        let stopping = Instant::now();
        pg.stop().unwrap();
        (stopping, stopping.elapsed())
    };
    let ((in_flight, answered), (stopping, stop_took)) =
        futures_util::future::join(batch, stopper).await;
    // Committed just before the stop (201), or refused as unavailable; never a 500.
    if in_flight.status != 201 {
        assert_storage_unavailable(&in_flight);
    }
    eprintln!(
        "batch in flight during the stop: {}, answered {:?} after pg_ctl stop began (which took {stop_took:?})",
        in_flight.status,
        answered.saturating_duration_since(stopping)
    );

    // During the outage every answer is a fast 503, /readyz included.
    let mut api_times = Vec::new();
    let mut ready_times = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let reply = app.get(&acme, &path, Some(&token)).await;
        api_times.push(started.elapsed());
        assert_storage_unavailable(&reply);
        let started = Instant::now();
        let ready = ops_get(&app, "/readyz").await;
        ready_times.push(started.elapsed());
        assert_storage_unavailable(&ready);
    }
    let written = app
        .send_json(
            &acme,
            Method::POST,
            "/v1/records",
            &token,
            address_batch(50_000, 10),
        )
        .await;
    assert_storage_unavailable(&written);
    let (slowest_api, slowest_ready) = (
        *api_times.iter().max().unwrap(),
        *ready_times.iter().max().unwrap(),
    );
    eprintln!(
        "during the outage: GET median {:?} (max {slowest_api:?}), /readyz median {:?} (max {slowest_ready:?})",
        median(api_times.clone()),
        median(ready_times.clone())
    );
    assert!(slowest_api < Duration::from_secs(1), "{api_times:?}");
    assert!(slowest_ready < Duration::from_secs(1), "{ready_times:?}");

    // Back on its own once PostgreSQL is.
    let starting = Instant::now();
    pg.start().unwrap();
    let restarted = Instant::now();
    let start_took = restarted - starting;
    loop {
        let ready = ops_get(&app, "/readyz").await;
        if ready.status == 200 {
            break;
        }
        assert_storage_unavailable(&ready);
        assert!(
            restarted.elapsed() < Duration::from_secs(15),
            "not ready 15 s after PostgreSQL came back"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let recovered = restarted.elapsed();
    let reply = app.get(&acme, &path, Some(&token)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    eprintln!("ready again {recovered:?} after pg_ctl start returned (which took {start_took:?})");

    // The batch was all or nothing; a retry now stores it.
    let count = |app: &TestApp| {
        use diesel::prelude::*;
        let mut conn = app.db.get().unwrap();
        tracewire::storage::schema::records::table
            .count()
            .get_result::<i64>(&mut *conn)
            .unwrap()
    };
    let before = count(&app);
    assert!(
        before == 1 || before == 10_001,
        "partial batch stored: {before}"
    );
    assert_eq!(before == 10_001, in_flight.status == 201);
    let again = app
        .send_json(
            &acme,
            Method::POST,
            "/v1/records",
            &token,
            address_batch(50_000, 10),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);

    // Stopped while idle: the first request finds out at once, too.
    pg.stop().unwrap();
    let started = Instant::now();
    let first = ops_get(&app, "/readyz").await;
    let first_took = started.elapsed();
    assert_storage_unavailable(&first);
    let started = Instant::now();
    let next = app.get(&acme, &path, Some(&token)).await;
    let next_took = started.elapsed();
    assert_storage_unavailable(&next);
    eprintln!(
        "stopped while idle: the first /readyz answered in {first_took:?}, then a GET in {next_took:?}"
    );
    assert!(first_took < Duration::from_secs(2), "{first_took:?}");
    pg.start().unwrap();
    let restarted = Instant::now();
    while ops_get(&app, "/readyz").await.status != 200 {
        assert!(restarted.elapsed() < Duration::from_secs(15), "no recovery");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;
}

/// A small file system of the test's own (tmpfs, root only), to fill up
/// or remount read-only.
pub(crate) struct SmallFileSystem {
    dir: tempfile::TempDir,
}

impl SmallFileSystem {
    pub(crate) fn mount(size: &str) -> Result<SmallFileSystem, String> {
        if !is_root() {
            return Err("mounting a tmpfs needs root".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        mount(&[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
            &dir.path().display().to_string(),
        ])?;
        Ok(SmallFileSystem { dir })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, mode: &str) -> Result<(), String> {
        mount(&[
            "-o",
            &format!("remount,{mode}"),
            &self.dir.path().display().to_string(),
        ])
    }

    /// Fills the file system up to its last byte with `filler`.
    pub(crate) fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.write_all(&[0u8]);
        let _ = file.sync_all();
        path
    }
}

fn mount(args: &[&str]) -> Result<(), String> {
    let output = Command::new("mount")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

impl Drop for SmallFileSystem {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// SQLite on a file system that fills up: 503 storage-unavailable, not
/// 500 with a misleading cause; nothing stored; writes work again once
/// space is back.
#[actix_web::test]
async fn sqlite_disk_full_answers_503_and_recovers() {
    let fs = match SmallFileSystem::mount("24m") {
        Ok(fs) => fs,
        Err(why) => return skip(&format!("no small file system: {why}")),
    };
    let url = format!("sqlite://{}", fs.path().join("tracewire.db").display());
    let app = TestApp::spawn_with(TestBackend::Sqlite, |settings, _| {
        settings.database.url = url.clone();
    })
    .await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let token = app.token(&acme).await;
    let created = app
        .send_json(
            &acme,
            Method::POST,
            "/v1/records",
            &token,
            address_batch(1, 1),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let count = |app: &TestApp| {
        use diesel::prelude::*;
        let mut conn = app.db.get().unwrap();
        tracewire::storage::schema::records::table
            .count()
            .get_result::<i64>(&mut *conn)
            .unwrap()
    };

    let filler = fs.fill();
    let full = app
        .send_json(
            &acme,
            Method::POST,
            "/v1/records",
            &token,
            address_batch(100, 2_000),
        )
        .await;
    assert_storage_unavailable(&full);
    assert!(
        full.body["detail"].as_str().unwrap().contains("no space"),
        "{}",
        full.body
    );
    assert_eq!(count(&app), 1, "nothing of the refused batch is stored");

    std::fs::remove_file(filler).unwrap();
    let again = app
        .send_json(
            &acme,
            Method::POST,
            "/v1/records",
            &token,
            address_batch(100, 2_000),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(count(&app), 2_001);
    app.stop().await;
}

/// A disk with a little space left: the space check beside the database
/// passes, but a 10,000-record batch does not fit, and SQLite ends the
/// transaction itself. Still 503 storage-unavailable (a run of `bench
/// ingest` onto a nearly full disk got a 500 with "Cannot perform this
/// operation outside of a transaction"), nothing stored; 201 once space is
/// back.
#[actix_web::test]
async fn sqlite_nearly_full_disk_answers_503() {
    let fs = match SmallFileSystem::mount("48m") {
        Ok(fs) => fs,
        Err(why) => return skip(&format!("no small file system: {why}")),
    };
    let url = format!("sqlite://{}", fs.path().join("tracewire.db").display());
    let app = TestApp::spawn_with(TestBackend::Sqlite, |settings, _| {
        settings.database.url = url.clone();
    })
    .await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let token = app.token(&acme).await;
    let count = |app: &TestApp| {
        use diesel::prelude::*;
        let mut conn = app.db.get().unwrap();
        tracewire::storage::schema::records::table
            .count()
            .get_result::<i64>(&mut *conn)
            .unwrap()
    };
    let filler = fs.fill();
    // Leave 6 MiB: more than the space check writes, less than the batch needs.
    let size = std::fs::metadata(&filler).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap();
    file.set_len(size.saturating_sub(6 * 1024 * 1024)).unwrap();
    file.sync_all().unwrap();
    drop(file);
    let mut refused = 0;
    for batch in 0..4 {
        let reply = app
            .send_json(
                &acme,
                Method::POST,
                "/v1/records",
                &token,
                address_batch(100_000 * (batch + 1), 10_000),
            )
            .await;
        assert_ne!(reply.status, 500, "{}", reply.body);
        if reply.status == 503 {
            assert_storage_unavailable(&reply);
            refused += 1;
            break;
        }
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    assert_eq!(refused, 1, "a batch that does not fit is refused");
    let stored = count(&app);
    assert_eq!(stored % 10_000, 0, "no partial batch: {stored}");

    std::fs::remove_file(filler).unwrap();
    let again = app
        .send_json(
            &acme,
            Method::POST,
            "/v1/records",
            &token,
            address_batch(900_000, 2_000),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(count(&app), stored + 2_000);
    app.stop().await;
}

/// A read-only SQLite database at start: `serve` fails at once and says
/// so, instead of timing out after logging pool errors.
#[test]
fn read_only_sqlite_database_fails_fast_at_start() {
    let fs = match SmallFileSystem::mount("8m") {
        Ok(fs) => fs,
        Err(why) => return skip(&format!("no small file system: {why}")),
    };
    let url = format!("sqlite://{}", fs.path().join("tracewire.db").display());
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = crate::helpers::TestPki::create(pki_dir.path());
    let serve = |args: &[&str]| {
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_tracewire"))
            .args(args)
            .env("TRACEWIRE_DATABASE__URL", &url)
            .env("TRACEWIRE_DATABASE__CONNECT_TIMEOUT_SECS", "10")
            .env("TRACEWIRE_API__LISTEN", "127.0.0.1:0")
            .env("TRACEWIRE_OPS__LISTEN", "127.0.0.1:0")
            .env("TRACEWIRE_TLS__CERT", pki.dir.join("server.pem"))
            .env("TRACEWIRE_TLS__KEY", pki.dir.join("server-key.pem"))
            .env("TRACEWIRE_TLS__CLIENT_CA", pki.dir.join("ca.pem"))
            .env_remove("TRACEWIRE_CONFIG")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
            started.elapsed(),
        )
    };
    // Create and migrate it, then make the file system read-only.
    let (ok, err, _) = serve(&["migrate"]);
    assert!(ok, "{err}");
    fs.remount("ro").unwrap();
    let (ok, err, took) = serve(&["serve"]);
    assert!(!ok);
    assert!(err.contains("read-only"), "{err}");
    assert!(
        err.lines().filter(|l| l.contains("ERROR")).count() <= 1,
        "one clear error, not a pool error per attempt: {err}"
    );
    assert!(took < Duration::from_secs(8), "took {took:?}: {err}");
    eprintln!("read-only database refused in {took:?}: {}", err.trim());
    fs.remount("rw").unwrap();
}

/// Another writer holds SQLite's write lock for longer than the server's
/// busy timeout (10 s): the write is a 503 storage fault with Retry-After
/// ("database busy"), never a 500, stores nothing, and the same request
/// succeeds once the lock is released.
#[actix_web::test]
async fn sqlite_write_lock_held_past_the_busy_timeout_answers_503() {
    use diesel::prelude::*;
    let app = TestApp::spawn(TestBackend::Sqlite).await;
    let acme = app.add_org(
        "acme",
        OrganizationType::Forensics,
        "indicators:read indicators:write",
    );
    let token = app.token(&acme).await;
    let count = |app: &TestApp| {
        let mut conn = app.db.get().unwrap();
        tracewire::storage::schema::records::table
            .count()
            .get_result::<i64>(&mut *conn)
            .unwrap()
    };
    let path = app
        .settings
        .database
        .url
        .trim_start_matches("sqlite://")
        .to_owned();
    let mut holder = diesel::SqliteConnection::establish(&path).unwrap();
    diesel::connection::SimpleConnection::batch_execute(&mut holder, "BEGIN IMMEDIATE").unwrap();
    let before = count(&app);
    let reply = app
        .send_json(
            &acme,
            Method::POST,
            "/v1/records",
            &token,
            address_batch(7, 3),
        )
        .await;
    assert_storage_unavailable(&reply);
    assert!(
        reply.body["detail"].as_str().unwrap_or("").contains("busy"),
        "{}",
        reply.body
    );
    diesel::connection::SimpleConnection::batch_execute(&mut holder, "ROLLBACK").unwrap();
    assert_eq!(count(&app), before, "nothing was stored");
    let retried = app
        .send_json(
            &acme,
            Method::POST,
            "/v1/records",
            &token,
            address_batch(7, 3),
        )
        .await;
    assert_eq!(retried.status, 201, "{}", retried.body);
    assert_eq!(count(&app), before + 3);
}
