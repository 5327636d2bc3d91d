//! Storage on both backends: migrations, round trips, and the parity of the
//! SQLite and PostgreSQL schemas.
use crate::helpers::{TestBackend, TestDatabase};
use diesel::prelude::*;
use diesel::sql_types::Text;
use std::collections::BTreeSet;
use std::time::Duration;
use tracewire::config::DatabaseUrl;
use tracewire::domain::{OrganizationId, OrganizationType};
use tracewire::storage::organizations::{self, NewOrganization};
use tracewire::storage::Database;

fn open(url: &str) -> Database {
    let db = Database::connect(
        &DatabaseUrl::parse(url).unwrap(),
        2,
        Duration::from_secs(10),
    )
    .unwrap();
    assert!(
        !db.migrate().unwrap().is_empty(),
        "a fresh database gets migrations"
    );
    db
}

async fn migrations_are_idempotent_and_values_round_trip(backend: TestBackend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path());
    let db = open(&database.url);
    assert!(
        db.migrate().unwrap().is_empty(),
        "second run applies nothing"
    );

    let mut conn = db.get().unwrap();
    let written = organizations::insert(
        &mut conn,
        NewOrganization {
            id: OrganizationId::parse("acme").unwrap(),
            name: "Acme — Forensik GmbH ✓".into(),
            org_type: OrganizationType::LawEnforcement,
            certificate_subject: Some("O=Acme, CN=acme".into()),
        },
    )
    .unwrap();
    let read = organizations::find(&mut conn, &written.id).unwrap();
    assert_eq!(read, written, "timestamps and text survive the round trip");
    let duplicate = organizations::insert(
        &mut conn,
        NewOrganization {
            id: written.id.clone(),
            name: "x".into(),
            org_type: OrganizationType::Other,
            certificate_subject: None,
        },
    );
    assert!(
        matches!(
            duplicate,
            Err(tracewire::storage::StorageError::Conflict(_))
        ),
        "{duplicate:?}"
    );
}

/// Applies the migrations of the previous release (before 2026-12-01) only.
fn migrate_to_previous_release(url: &str) {
    migrate_to_before(url, "2026-12-01");
}

/// Applies the migrations named before `first_new` only.
fn migrate_to_before(url: &str, first_new: &str) {
    use diesel_migrations::MigrationHarness;
    let previous = |name: String| name.as_str() < first_new;
    if url.starts_with("sqlite") {
        let path = url.trim_start_matches("sqlite://");
        let mut conn = diesel::SqliteConnection::establish(path).unwrap();
        // (Listing the pending migrations also creates diesel's own table.)
        let all = conn
            .pending_migrations(tracewire::storage::SQLITE_MIGRATIONS)
            .unwrap();
        for migration in all.iter().filter(|m| previous(m.name().to_string())) {
            conn.run_migration(migration.as_ref()).unwrap();
        }
    } else {
        let mut conn = diesel::PgConnection::establish(url).unwrap();
        let all = conn
            .pending_migrations(tracewire::storage::POSTGRES_MIGRATIONS)
            .unwrap();
        for migration in all.iter().filter(|m| previous(m.name().to_string())) {
            conn.run_migration(migration.as_ref()).unwrap();
        }
    }
}

/// A database made by the previous release keeps what it holds when
/// upgraded: its certificates and clients stay in effect (not pending),
/// its records read back the same.
async fn upgrading_keeps_registrations_in_effect(backend: TestBackend) {
    use tracewire::domain::ClientId;
    use tracewire::storage::{api_clients, certificates};
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path());
    migrate_to_previous_release(&database.url);
    {
        let db = Database::connect(
            &DatabaseUrl::parse(&database.url).unwrap(),
            1,
            Duration::from_secs(10),
        )
        .unwrap();
        let mut conn = db.get().unwrap();
        // Written with the previous schema's columns only.
        diesel::sql_query(
            "INSERT INTO organizations (id, name, org_type, certificate_subject, created_at, disabled_at) \
             VALUES ('acme', 'Acme', 'forensics', NULL, '2026-11-30 10:00:00', NULL)",
        )
        .execute(&mut *conn)
        .unwrap();
        diesel::sql_query(
            "INSERT INTO org_certificates (fingerprint, organization_id, subject, serial, not_after, created_at, revoked_at) \
             VALUES ('ab12', 'acme', 'CN=acme', '01', '2030-01-01 00:00:00', '2026-11-30 10:00:00', NULL)",
        )
        .execute(&mut *conn)
        .unwrap();
        diesel::sql_query(
            "INSERT INTO api_clients (id, organization_id, name, scopes, created_at, disabled_at) \
             VALUES ('acme-client', 'acme', 'Acme', 'indicators:read', '2026-11-30 10:00:00', NULL)",
        )
        .execute(&mut *conn)
        .unwrap();
    }
    let db = Database::connect(
        &DatabaseUrl::parse(&database.url).unwrap(),
        1,
        Duration::from_secs(10),
    )
    .unwrap();
    let applied = db.migrate().unwrap();
    assert!(
        applied.iter().any(|m| m.starts_with("20261201")),
        "{applied:?}"
    );
    let mut conn = db.get().unwrap();
    let acme = OrganizationId::parse("acme").unwrap();
    assert_eq!(
        certificates::registration(&mut conn, "ab12").unwrap(),
        certificates::Registration::Active(acme.clone())
    );
    let client = api_clients::find_active(&mut conn, &ClientId::parse("acme-client").unwrap())
        .unwrap()
        .expect("the client stays in effect");
    assert_eq!(client.pending_until, None);
    assert_eq!(organizations::find(&mut conn, &acme).unwrap().name, "Acme");
    // The new table works: the cursor key is made once and kept.
    let first = tracewire::storage::secrets::get_or_create(&mut conn, "k", || "aa".into()).unwrap();
    let again = tracewire::storage::secrets::get_or_create(&mut conn, "k", || "bb".into()).unwrap();
    assert_eq!((first.as_str(), again.as_str()), ("aa", "aa"));
}

/// Records written before private screening existed get their buckets
/// when the database is upgraded (PostgreSQL computes them in SQL, SQLite
/// in Rust: both must equal the protocol's definition), and keep every
/// other value; a second start has nothing left to fill.
async fn upgrading_gives_older_records_their_screening_buckets(backend: TestBackend) {
    use tracewire::domain::private_screening::bucket_of_key;
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path());
    migrate_to_before(&database.url, "2026-12-02");
    let keys = [
        "evm:5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
        "bch:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
        "btc:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
        "xrp:rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh",
    ];
    {
        let db = Database::connect(
            &DatabaseUrl::parse(&database.url).unwrap(),
            1,
            Duration::from_secs(10),
        )
        .unwrap();
        let mut conn = db.get().unwrap();
        diesel::sql_query(
            "INSERT INTO organizations (id, name, org_type, certificate_subject, created_at, disabled_at) \
             VALUES ('acme', 'Acme', 'forensics', NULL, '2026-11-30 10:00:00', NULL)",
        )
        .execute(&mut *conn)
        .unwrap();
        for (n, key) in keys.iter().enumerate() {
            diesel::sql_query(format!(
                "INSERT INTO records (id, kind, source_org, revision, tlp, all_partners, attribution, revoked, chain, link_key, search_text, categories, body, content_hash, created_at, updated_at) \
                 VALUES ('r{n}', 'address', 'acme', 1, 'green', TRUE, 'named', FALSE, 'eth', '{key}', '', '|scam|', '{{\"n\":{n}}}', 'h{n}', '2026-11-30 10:00:00', '2026-11-30 10:00:00')"
            ))
            .execute(&mut *conn)
            .unwrap();
        }
        diesel::sql_query(
            "INSERT INTO records (id, kind, source_org, revision, tlp, all_partners, attribution, revoked, chain, link_key, search_text, categories, body, content_hash, created_at, updated_at) \
             VALUES ('w', 'wallet', 'acme', 1, 'green', TRUE, 'named', FALSE, 'eth', NULL, 'cluster', '|scam|', '{}', 'hw', '2026-11-30 10:00:00', '2026-11-30 10:00:00')",
        )
        .execute(&mut *conn)
        .unwrap();
    }
    let db = Database::connect(
        &DatabaseUrl::parse(&database.url).unwrap(),
        1,
        Duration::from_secs(10),
    )
    .unwrap();
    let applied = db.migrate().unwrap();
    assert!(
        applied.iter().any(|m| m.starts_with("20261202000001")),
        "{applied:?}"
    );
    use tracewire::storage::schema::records;
    let mut conn = db.get().unwrap();
    let rows: Vec<(String, Option<String>, Option<i32>, String)> = records::table
        .order(records::id)
        .select((
            records::id,
            records::link_key,
            records::screen_bucket,
            records::body,
        ))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(rows.len(), keys.len() + 1);
    for (n, key) in keys.iter().enumerate() {
        let (id, link_key, bucket, body) = &rows[n];
        assert_eq!(id, &format!("r{n}"));
        assert_eq!(link_key.as_deref(), Some(*key));
        assert_eq!(*bucket, Some(bucket_of_key(key) as i32), "{key}");
        assert_eq!(body, &format!("{{\"n\":{n}}}"), "the body is kept");
    }
    assert_eq!(
        rows[keys.len()].2,
        None,
        "a wallet has no link key, so no bucket"
    );
    assert_eq!(
        tracewire::storage::records::fill_screen_buckets(&mut conn).unwrap(),
        0,
        "nothing left to fill"
    );
}

/// A database made before read replicas keeps its records and feed when
/// upgraded, and gets an empty `write_positions` table that takes upserts.
async fn upgrading_adds_write_positions_and_keeps_the_feed(backend: TestBackend) {
    use tracewire::storage::schema::{changes, records, write_positions};
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path());
    migrate_to_before(&database.url, "2026-12-03");
    let url = DatabaseUrl::parse(&database.url).unwrap();
    {
        let db = Database::connect(&url, 1, Duration::from_secs(10)).unwrap();
        let mut conn = db.get().unwrap();
        for sql in [
            "INSERT INTO organizations (id, name, org_type, certificate_subject, created_at, disabled_at) \
             VALUES ('acme', 'Acme', 'forensics', NULL, '2026-11-30 10:00:00', NULL)",
            "INSERT INTO records (id, kind, source_org, revision, tlp, all_partners, attribution, revoked, chain, link_key, search_text, categories, body, content_hash, created_at, updated_at) \
             VALUES ('r1', 'address', 'acme', 1, 'green', TRUE, 'named', FALSE, 'eth', 'evm:5aaeb6053f3e94c9b9a09f33669435e7ef1beaed', '', '|scam|', '{}', 'h1', '2026-11-30 10:00:00', '2026-11-30 10:00:00')",
            "INSERT INTO changes (seq, record_id, revision, event, at) VALUES (1, 'r1', 1, 'revision', '2026-11-30 10:00:00')",
            "UPDATE feed_head SET seq = 1 WHERE id = 1",
        ] {
            diesel::sql_query(sql).execute(&mut *conn).unwrap();
        }
    }
    let db = Database::connect(&url, 1, Duration::from_secs(10)).unwrap();
    let applied = db.migrate().unwrap();
    assert!(
        applied.iter().any(|m| m.starts_with("20261203000100")),
        "{applied:?}"
    );
    let mut conn = db.get().unwrap();
    let ids: Vec<String> = records::table.select(records::id).load(&mut *conn).unwrap();
    assert_eq!(ids, ["r1"]);
    let feed: Vec<(i64, String)> = changes::table
        .select((changes::seq, changes::record_id))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(feed, [(1, "r1".to_owned())]);
    assert_eq!(tracewire::storage::changes::head(&mut conn).unwrap(), 1);
    let positions: i64 = write_positions::table
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(positions, 0);
    diesel::insert_into(write_positions::table)
        .values((
            write_positions::organization_id.eq("acme"),
            write_positions::lsn.eq(42_i64),
        ))
        .execute(&mut *conn)
        .unwrap();
    let lsn: i64 = write_positions::table
        .find("acme")
        .select(write_positions::lsn)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(lsn, 42);
}

crate::on_both_backends!(
    migrations_are_idempotent_and_values_round_trip,
    upgrading_keeps_registrations_in_effect,
    upgrading_gives_older_records_their_screening_buckets,
    upgrading_adds_console_sessions_for_existing_clients,
    upgrading_adds_write_positions_and_keeps_the_feed,
);

#[test]
fn migration_folders_have_identical_names() {
    let names = |backend: &str| -> BTreeSet<String> {
        std::fs::read_dir(format!(
            "{}/migrations/{backend}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
    };
    assert_eq!(names("sqlite"), names("postgres"));
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[test]
fn migrations_define_the_same_columns_on_both_backends() {
    let Some(TestBackend::Postgres(base)) = TestBackend::postgres() else {
        eprintln!("skipped: TRACEWIRE_TEST_DATABASE_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = TestDatabase::create(&TestBackend::Sqlite, dir.path());
    let postgres = TestDatabase::create(&TestBackend::Postgres(base), dir.path());
    drop((open(&sqlite.url), open(&postgres.url)));

    let mut conn =
        diesel::SqliteConnection::establish(sqlite.url.trim_start_matches("sqlite://")).unwrap();
    let sqlite_columns: BTreeSet<Column> = diesel::sql_query(
        "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name != '__diesel_schema_migrations'",
    )
    .load::<Column>(&mut conn)
    .unwrap()
    .into_iter()
    .collect();
    let mut conn = diesel::PgConnection::establish(&postgres.url).unwrap();
    let postgres_columns: BTreeSet<Column> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name != '__diesel_schema_migrations'",
    )
    .load::<Column>(&mut conn)
    .unwrap()
    .into_iter()
    .collect();
    assert!(sqlite_columns.len() > 20, "{sqlite_columns:?}");
    assert_eq!(sqlite_columns, postgres_columns);
}

#[derive(QueryableByName)]
struct SslState {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ssl: bool,
}

/// libpq is compiled into the binary with OpenSSL: PostgreSQL connections
/// can be encrypted (`sslmode=require`, or `verify-full` with a root certificate).
#[test]
fn postgres_connections_can_use_tls() {
    let Some(TestBackend::Postgres(base)) = TestBackend::postgres() else {
        eprintln!("skipped: TRACEWIRE_TEST_DATABASE_URL is not set");
        return;
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}sslmode=require");
    let db = Database::connect(
        &DatabaseUrl::parse(&url).unwrap(),
        1,
        Duration::from_secs(10),
    )
    .unwrap_or_else(|e| {
        panic!("TLS connection to PostgreSQL failed (does the server offer TLS?): {e}")
    });
    let mut conn = db.get().unwrap();
    let tracewire::storage::DbConnection::Postgres(pg) = &mut *conn else {
        panic!("expected PostgreSQL")
    };
    let state = diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result::<SslState>(pg)
        .unwrap();
    assert!(state.ssl, "the connection is not encrypted");
}

/// A database made before the console keeps its organizations and
/// clients when upgraded, and the console's new tables work at once: a
/// session for a client written before the upgrade, and its feed position.
async fn upgrading_adds_console_sessions_for_existing_clients(backend: TestBackend) {
    use tracewire::storage::console;
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path());
    migrate_to_before(&database.url, "2026-12-03");
    let connect = || {
        Database::connect(
            &DatabaseUrl::parse(&database.url).unwrap(),
            1,
            Duration::from_secs(10),
        )
        .unwrap()
    };
    {
        let db = connect();
        let mut conn = db.get().unwrap();
        for statement in [
            "INSERT INTO organizations (id, name, org_type, certificate_subject, created_at, disabled_at) \
             VALUES ('safeharbor', 'Safe Harbor', 'ngo', NULL, '2026-12-02 10:00:00', NULL)",
            "INSERT INTO api_clients (id, organization_id, name, scopes, created_at, disabled_at, pending_until) \
             VALUES ('safeharbor-client', 'safeharbor', 'Safe Harbor', 'indicators:read', '2026-12-02 10:00:00', NULL, NULL)",
        ] {
            diesel::sql_query(statement).execute(&mut *conn).unwrap();
        }
    }
    let db = connect();
    let applied = db.migrate().unwrap();
    assert!(
        applied.iter().any(|m| m.starts_with("20261203")),
        "{applied:?}"
    );
    let mut conn = db.get().unwrap();
    let at = tracewire::storage::now();
    let row = console::SessionRow {
        id_hash: "ab".repeat(32),
        organization_id: "safeharbor".into(),
        client_id: "safeharbor-client".into(),
        certificate_fingerprint: "cd".repeat(32),
        scopes: "indicators:read".into(),
        created_at: at,
        last_seen_at: at,
    };
    console::insert_session(&mut conn, &row).unwrap();
    assert_eq!(
        console::find_session(&mut conn, &row.id_hash).unwrap(),
        Some(row.clone())
    );
    console::set_feed_position(&mut conn, "safeharbor-client", "c1", at).unwrap();
    console::set_feed_position(&mut conn, "safeharbor-client", "c2", at).unwrap();
    assert_eq!(
        console::feed_position(&mut conn, "safeharbor-client")
            .unwrap()
            .as_deref(),
        Some("c2")
    );
    assert!(console::delete_session(&mut conn, &row.id_hash).unwrap());
    assert_eq!(
        organizations::find(&mut conn, &OrganizationId::parse("safeharbor").unwrap())
            .unwrap()
            .name,
        "Safe Harbor"
    );
}
