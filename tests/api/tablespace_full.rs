//! PostgreSQL with its tables on a file system that fills up: a write
//! answers 503 `storage-unavailable` (not 500), stores nothing, and works
//! again once space is back. The tables live in a tablespace on a small
//! tmpfs of the test's own, in a throwaway cluster: filling the disk that
//! holds PostgreSQL's WAL would make it stop (PANIC), which is an outage,
//! not a full disk.
use crate::helpers::{TestApp, TestBackend};
use crate::outage::{assert_storage_unavailable, skip, SmallFileSystem, ThrowawayPostgres};
use crate::process::address_batch;
use awc::http::Method;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use std::process::Command;
use tracewire::domain::OrganizationType;

#[actix_web::test]
async fn postgres_tablespace_full_answers_503_and_recovers() {
    let fs = match SmallFileSystem::mount("16m") {
        Ok(fs) => fs,
        Err(why) => return skip(&format!("no small file system: {why}")),
    };
    let pg = match ThrowawayPostgres::create() {
        Ok(pg) => pg,
        Err(why) => return skip(&format!("no throwaway PostgreSQL cluster: {why}")),
    };
    // The tablespace's directory belongs to the server's user.
    let chown = Command::new("chown")
        .arg("postgres:")
        .arg(fs.path())
        .status()
        .unwrap();
    assert!(chown.success());
    {
        let mut admin = diesel::PgConnection::establish(&pg.url()).unwrap();
        admin
            .batch_execute(&format!(
                "CREATE TABLESPACE tw_small LOCATION '{}'",
                fs.path().display()
            ))
            .unwrap();
        admin
            .batch_execute("ALTER DATABASE postgres SET default_tablespace = tw_small")
            .unwrap();
    }
    // Every table and index of the test's schema is made by the migrations
    // at start, in the default tablespace: the small one.
    let app = TestApp::spawn(TestBackend::Postgres(pg.url())).await;
    {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Outside {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = diesel::PgConnection::establish(&app.settings.database.url).unwrap();
        let outside = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_tables
             WHERE schemaname = current_schema() AND tablespace IS DISTINCT FROM 'tw_small'",
        )
        .get_result::<Outside>(&mut conn)
        .unwrap();
        assert_eq!(outside.n, 0, "every table of the schema is in tw_small");
    }
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
            address_batch(500, 2_000),
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
            address_batch(500, 2_000),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(count(&app), 2_001);
    app.stop().await;
}
