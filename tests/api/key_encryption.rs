//! The hub's signing keys are sealed at rest with the operator's key, which
//! can be rotated; without the right key the server refuses to start.
use crate::helpers::{TestApp, TestBackend, TestDatabase};
use diesel::prelude::*;
use std::time::Duration;
use tracewire::auth::key_encryption::KeyEncryption;
use tracewire::auth::keys::HubKeyStore;
use tracewire::config::DatabaseUrl;
use tracewire::domain::OrganizationType;
use tracewire::storage::schema::signing_keys;
use tracewire::storage::Database;

fn stored_keys(db: &Database) -> Vec<(String, String)> {
    let mut conn = db.get().unwrap();
    signing_keys::table
        .select((signing_keys::kid, signing_keys::private_key_pem))
        .load(&mut *conn)
        .unwrap()
}

fn key_file(dir: &std::path::Path, name: &str, byte: u8) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, hex::encode([byte; 32])).unwrap();
    path
}

fn load(
    db: &Database,
    current: Option<&std::path::Path>,
    previous: &[std::path::PathBuf],
) -> Result<HubKeyStore, String> {
    let encryption = KeyEncryption::configure(current, previous).map_err(|e| e.to_string())?;
    HubKeyStore::load(
        &mut db.get().unwrap(),
        "EdDSA",
        chrono::TimeDelta::hours(1),
        encryption,
    )
    .map_err(|e| e.to_string())
}

/// Plain keys are sealed once a key is configured; rotating the operator
/// key reseals them; the old key can then go; a missing or wrong key stops
/// the start with a message that says so; the same signing key survives all
/// of it (tokens signed before still verify).
async fn signing_keys_are_sealed_and_the_sealing_key_rotates(backend: TestBackend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path());
    let db = Database::connect(
        &DatabaseUrl::parse(&database.url).unwrap(),
        2,
        Duration::from_secs(10),
    )
    .unwrap();
    db.migrate().unwrap();
    let (first, second) = (
        key_file(dir.path(), "kek-1", 1),
        key_file(dir.path(), "kek-2", 2),
    );

    let plain = load(&db, None, &[]).unwrap();
    let kid = plain.active().unwrap().kid;
    assert!(
        stored_keys(&db)[0].1.contains("PRIVATE KEY"),
        "stored in plain text before"
    );

    let sealed = load(&db, Some(&first), &[]).unwrap();
    assert_eq!(sealed.active().unwrap().kid, kid, "the same signing key");
    for (_, stored) in stored_keys(&db) {
        assert!(
            stored.starts_with("enc:v1:") && !stored.contains("PRIVATE"),
            "{stored}"
        );
    }
    let sealed_once = stored_keys(&db)[0].1.clone();

    // Without the key, or with another one, the start fails and says why.
    let error = load(&db, None, &[]).err().unwrap();
    assert!(
        error.contains("encrypted: configure auth.key_encryption_key_file"),
        "{error}"
    );
    let error = load(&db, Some(&second), &[]).err().unwrap();
    assert!(error.contains("which is not configured"), "{error}");
    assert_eq!(
        stored_keys(&db)[0].1,
        sealed_once,
        "a failed start changes nothing"
    );

    // Rotation: the new key current, the old one previous; then the old one goes.
    load(&db, Some(&second), std::slice::from_ref(&first)).unwrap();
    let resealed = stored_keys(&db)[0].1.clone();
    assert_ne!(resealed, sealed_once);
    let after = load(&db, Some(&second), &[]).unwrap();
    assert_eq!(after.active().unwrap().kid, kid);
    assert!(
        load(&db, Some(&first), &[]).is_err(),
        "the retired key no longer opens them"
    );

    // A tampered stored key is refused.
    {
        let mut conn = db.get().unwrap();
        let mut tampered = resealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        diesel::update(signing_keys::table.find(&kid))
            .set(signing_keys::private_key_pem.eq(tampered))
            .execute(&mut *conn)
            .unwrap();
    }
    assert!(load(&db, Some(&second), &[]).is_err());
}

/// The real server with a key file: tokens work, key rotation through the
/// admin API stores the new key sealed, and no private key is in the
/// database in plain text.
async fn a_server_with_a_key_file_keeps_no_plain_key(backend: TestBackend) {
    let holder = tempfile::tempdir().unwrap();
    let kek = key_file(holder.path(), "kek", 7);
    let app = TestApp::spawn_with(backend, |settings, _| {
        settings.auth.key_encryption_key_file = Some(kek.clone());
    })
    .await;
    let acme = app.add_org("acme", OrganizationType::Forensics, "indicators:read");
    let hub = app.add_org("hub", OrganizationType::Hub, "admin");
    let token = app.token(&acme).await;
    assert_eq!(app.get(&acme, "/v1/whoami", Some(&token)).await.status, 200);
    let admin = app.token(&hub).await;
    let rotated = app
        .send_json(
            &hub,
            awc::http::Method::POST,
            "/v1/admin/keys/rotate",
            &admin,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let token = app.token(&acme).await;
    assert_eq!(app.get(&acme, "/v1/whoami", Some(&token)).await.status, 200);
    let keys = stored_keys(&app.db);
    assert_eq!(keys.len(), 2);
    for (kid, stored) in keys {
        assert!(
            stored.starts_with("enc:v1:") && !stored.contains("PRIVATE"),
            "{kid}: {stored}"
        );
    }
}

crate::on_both_backends!(
    signing_keys_are_sealed_and_the_sealing_key_rotates,
    a_server_with_a_key_file_keeps_no_plain_key,
);
