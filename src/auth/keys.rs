//! Signing keys: the hub's own (generated, stored in the database, rotated
//! without downtime) and the verification key sets built from JWKS.
use super::key_encryption::KeyEncryption;
use crate::storage::signing_keys::{self, SigningKeyRow};
use crate::storage::{now, DbConnection, StorageResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Algorithms accepted anywhere: asymmetric only. `none` and the HMAC
/// family are never accepted, so a public key can never be used as an HMAC secret.
pub const ALLOWED_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::EdDSA,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// Parses a JWS `alg` header value against the allow-list.
pub fn allowed_algorithm(name: &str) -> Option<Algorithm> {
    let algorithm: Algorithm = name.parse().ok()?;
    ALLOWED_ALGORITHMS.contains(&algorithm).then_some(algorithm)
}

/// A public key usable to verify tokens, with the one algorithm it is for.
#[derive(Clone)]
pub struct VerificationKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// Verification keys by `kid`.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, VerificationKey>,
}

impl KeySet {
    /// Builds a key set from a JWKS, keeping only keys whose algorithm is
    /// allowed and agrees with their key type. Keys without `kid` are skipped.
    pub fn from_jwks(jwks: &JwkSet) -> KeySet {
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let Some(algorithm) = jwk_algorithm(jwk) else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, VerificationKey { algorithm, key });
            }
        }
        KeySet { keys }
    }

    pub fn get(&self, kid: &str) -> Option<&VerificationKey> {
        self.keys.get(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The algorithm a JWK is for: its `alg` if present (and allowed), otherwise
/// derived from its key type and curve.
fn jwk_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
    let from_type = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P384 => {
            Some(Algorithm::ES384)
        }
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        _ => None,
    }?;
    match jwk.common.key_algorithm {
        Some(declared) => {
            let declared = allowed_algorithm(&declared.to_string())?;
            // The declared algorithm must belong to the key's family.
            (declared.family() == from_type.family()).then_some(declared)
        }
        None => Some(from_type),
    }
}

/// A freshly generated signing key.
pub fn generate_key(algorithm: &str) -> Result<SigningKeyRow, rcgen::Error> {
    let (pair, jwk_base) = match algorithm {
        "ES256" => {
            let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            let raw = pair.public_key_raw().to_vec(); // 0x04 || x || y
            let jwk = json!({"crv": "P-256", "kty": "EC",
                "x": URL_SAFE_NO_PAD.encode(&raw[1..33]), "y": URL_SAFE_NO_PAD.encode(&raw[33..65])});
            (pair, jwk)
        }
        _ => {
            let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
            let jwk = json!({"crv": "Ed25519", "kty": "OKP", "x": URL_SAFE_NO_PAD.encode(pair.public_key_raw())});
            (pair, jwk)
        }
    };
    // RFC 7638 thumbprint as the key id: the required members, sorted, no spaces.
    // (serde_json's map is sorted by key, and the members above are the required ones.)
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(jwk_base.to_string().as_bytes()));
    let mut jwk = jwk_base;
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(if algorithm == "ES256" {
        "ES256"
    } else {
        "EdDSA"
    });
    jwk["use"] = json!("sig");
    Ok(SigningKeyRow {
        kid,
        algorithm: if algorithm == "ES256" {
            "ES256".into()
        } else {
            "EdDSA".into()
        },
        private_key_pem: pair.serialize_pem(),
        public_jwk: jwk.to_string(),
        created_at: now(),
        retired_at: None,
    })
}

/// The key new tokens are signed with.
#[derive(Clone)]
pub struct ActiveKey {
    pub kid: String,
    pub algorithm: Algorithm,
    pub key: EncodingKey,
}

struct HubKeys {
    active: Option<ActiveKey>,
    verification: KeySet,
    jwks: serde_json::Value,
    loaded_at: Instant,
}

/// The hub's keys, cached from the database and refreshed periodically and
/// whenever a token names a `kid` not seen yet (another server rotated).
pub struct HubKeyStore {
    algorithm: String,
    /// The operator's keys that seal the private keys at rest.
    encryption: Arc<KeyEncryption>,
    /// Retired keys stay published this long (the longest token lifetime plus leeway).
    keep_retired: chrono::TimeDelta,
    state: RwLock<Arc<HubKeys>>,
}

const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// How often every server re-reads the keys (to pick up rotations made elsewhere).
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(30);

/// How long a retired key stays published: a server that has not reloaded
/// yet may sign with it for up to [`RELOAD_INTERVAL`] after retirement, and
/// its tokens live `token_ttl + leeway`.
pub fn retired_key_lifetime(token_ttl_secs: u64, leeway_secs: u64) -> chrono::TimeDelta {
    let seconds = token_ttl_secs + leeway_secs + 2 * RELOAD_INTERVAL.as_secs();
    chrono::TimeDelta::seconds(seconds as i64)
}

impl HubKeyStore {
    /// Loads the keys, creating the first one when the database has none,
    /// and seals every stored private key under the operator's current key
    /// when one is configured (plain ones, and ones sealed under an older
    /// key). Fails when the active key cannot be opened.
    pub fn load(
        conn: &mut DbConnection,
        algorithm: &str,
        keep_retired: chrono::TimeDelta,
        encryption: KeyEncryption,
    ) -> StorageResult<HubKeyStore> {
        // The active key must open: a missing or wrong operator key is named.
        if let Some(active) = signing_keys::list_usable(conn, now())?
            .into_iter()
            .find(|k| k.retired_at.is_none())
        {
            if !encryption.enabled() && active.private_key_pem.starts_with("enc:") {
                return Err(crate::storage::StorageError::Corrupt(
                    "the stored signing keys are encrypted: configure auth.key_encryption_key_file \
                     (or TRACEWIRE_KEY_ENCRYPTION_KEY)"
                        .into(),
                ));
            }
            encryption
                .open(&active.kid, &active.private_key_pem)
                .map_err(|e| crate::storage::StorageError::Corrupt(e.to_string()))?;
        }
        ensure_active_key(conn, algorithm, &encryption)?;
        reseal_all(conn, &encryption)?;
        let keys = read_keys(conn, keep_retired, &encryption)?;
        if keys.active.is_none() {
            return Err(crate::storage::StorageError::Corrupt(
                "the active signing key cannot be used (see the error above)".into(),
            ));
        }
        Ok(HubKeyStore {
            algorithm: algorithm.into(),
            encryption: Arc::new(encryption),
            keep_retired,
            state: RwLock::new(Arc::new(keys)),
        })
    }

    /// The operator's keys that seal private keys at rest.
    pub fn encryption(&self) -> &KeyEncryption {
        &self.encryption
    }

    fn current(&self) -> Arc<HubKeys> {
        self.state
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    pub fn active(&self) -> Option<ActiveKey> {
        self.current().active.clone()
    }

    pub fn verification_key(&self, kid: &str) -> Option<VerificationKey> {
        self.current().verification.get(kid).cloned()
    }

    pub fn jwks(&self) -> serde_json::Value {
        self.current().jwks.clone()
    }

    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The keys currently published (active and recently retired), newest first.
    pub fn published(&self, conn: &mut DbConnection) -> StorageResult<Vec<SigningKeyRow>> {
        signing_keys::list_usable(conn, now() - self.keep_retired)
    }

    /// Re-reads the keys on the caller's connection (blocking; call off the
    /// async workers). Taking no connection of its own, it cannot wait on a
    /// pool its caller already holds a connection of.
    pub fn reload(&self, conn: &mut DbConnection) -> StorageResult<()> {
        let keys = read_keys(conn, self.keep_retired, &self.encryption)?;
        if let Ok(mut state) = self.state.write() {
            *state = Arc::new(keys);
        }
        Ok(())
    }

    /// Reloads unless that was done very recently (protects against floods of unknown `kid`s).
    pub fn reload_if_stale(&self, conn: &mut DbConnection) -> StorageResult<bool> {
        if self.current().loaded_at.elapsed() < MIN_RELOAD_INTERVAL {
            return Ok(false);
        }
        self.reload(conn).map(|_| true)
    }
}

/// Makes sure an active key exists (first start).
pub fn ensure_active_key(
    conn: &mut DbConnection,
    algorithm: &str,
    encryption: &KeyEncryption,
) -> StorageResult<()> {
    let keys = signing_keys::list_usable(conn, now())?;
    if keys.iter().any(|k| k.retired_at.is_none()) {
        return Ok(());
    }
    let key = sealed(conn, generate_key(algorithm), encryption)?;
    signing_keys::insert(conn, &key)
}

/// A generated key with its private part in its stored (sealed) form.
/// Refused when stored keys are sealed but no key is configured here: the
/// new key would be stored in plain text beside them.
fn sealed(
    conn: &mut DbConnection,
    generated: Result<SigningKeyRow, rcgen::Error>,
    encryption: &KeyEncryption,
) -> StorageResult<SigningKeyRow> {
    if !encryption.enabled()
        && signing_keys::all(conn)?
            .iter()
            .any(|k| k.private_key_pem.starts_with("enc:"))
    {
        return Err(crate::storage::StorageError::Corrupt(
            "the stored signing keys are encrypted: configure auth.key_encryption_key_file \
             (or TRACEWIRE_KEY_ENCRYPTION_KEY) before making a new one"
                .into(),
        ));
    }
    let mut key = generated.map_err(|e| crate::storage::StorageError::Corrupt(e.to_string()))?;
    key.private_key_pem = encryption.seal(&key.kid, &key.private_key_pem);
    Ok(key)
}

/// Seals anew every stored key that is not sealed under the current
/// operator key (one transaction). Without a current key, nothing changes.
fn reseal_all(conn: &mut DbConnection, encryption: &KeyEncryption) -> StorageResult<()> {
    use diesel::Connection;
    if !encryption.enabled() {
        return Ok(());
    }
    conn.transaction(|conn| {
        let mut resealed = 0;
        for row in signing_keys::all(conn)? {
            if !encryption.needs_resealing(&row.private_key_pem) {
                continue;
            }
            let pem = encryption
                .open(&row.kid, &row.private_key_pem)
                .map_err(|e| crate::storage::StorageError::Corrupt(e.to_string()))?;
            signing_keys::set_private_key(conn, &row.kid, &encryption.seal(&row.kid, &pem))?;
            resealed += 1;
        }
        if resealed > 0 {
            tracing::info!(
                keys = resealed,
                "signing keys sealed under the current key-encryption key"
            );
        }
        Ok(())
    })
}

/// Generates a new key and retires the current one. Tokens signed by the old
/// key stay valid until they expire: the old key stays in the JWKS until then.
pub fn rotate(
    conn: &mut DbConnection,
    algorithm: &str,
    encryption: &KeyEncryption,
) -> StorageResult<SigningKeyRow> {
    let key = sealed(conn, generate_key(algorithm), encryption)?;
    signing_keys::rotate(conn, &key)?;
    Ok(key)
}

fn read_keys(
    conn: &mut DbConnection,
    keep_retired: chrono::TimeDelta,
    encryption: &KeyEncryption,
) -> StorageResult<HubKeys> {
    let rows = signing_keys::list_usable(conn, now() - keep_retired)?;
    let mut jwks = Vec::new();
    let mut active = None;
    for row in &rows {
        let Ok(jwk) = serde_json::from_str::<serde_json::Value>(&row.public_jwk) else {
            tracing::error!(kid = %row.kid, "stored signing key has an unreadable JWK; skipped");
            continue;
        };
        if active.is_none() && row.retired_at.is_none() {
            let algorithm = if row.algorithm == "ES256" {
                Algorithm::ES256
            } else {
                Algorithm::EdDSA
            };
            let pem = match encryption.open(&row.kid, &row.private_key_pem) {
                Ok(pem) => pem,
                Err(error) => {
                    tracing::error!(kid = %row.kid, %error, "stored signing key cannot be opened");
                    jwks.push(jwk);
                    continue;
                }
            };
            let key = match algorithm {
                Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
                _ => EncodingKey::from_ed_pem(pem.as_bytes()),
            };
            match key {
                Ok(key) => {
                    active = Some(ActiveKey {
                        kid: row.kid.clone(),
                        algorithm,
                        key,
                    })
                }
                Err(error) => {
                    tracing::error!(kid = %row.kid, %error, "stored signing key is unusable")
                }
            }
        }
        jwks.push(jwk);
    }
    let jwks = json!({ "keys": jwks });
    let verification = serde_json::from_value::<JwkSet>(jwks.clone())
        .map(|set| KeySet::from_jwks(&set))
        .unwrap_or_default();
    Ok(HubKeys {
        active,
        verification,
        jwks,
        loaded_at: Instant::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_publish_a_verifying_jwk() {
        for algorithm in ["EdDSA", "ES256"] {
            let row = generate_key(algorithm).unwrap();
            let set: JwkSet =
                serde_json::from_str(&format!("{{\"keys\":[{}]}}", row.public_jwk)).unwrap();
            let keys = KeySet::from_jwks(&set);
            assert_eq!(keys.len(), 1, "{algorithm}");
            assert_eq!(
                format!("{:?}", keys.get(&row.kid).unwrap().algorithm),
                algorithm
            );
        }
    }

    #[test]
    fn hmac_and_none_are_never_allowed() {
        for name in ["none", "HS256", "HS384", "HS512", "nonsense"] {
            assert!(allowed_algorithm(name).is_none(), "{name}");
        }
        assert_eq!(allowed_algorithm("EdDSA"), Some(Algorithm::EdDSA));
    }

    #[test]
    fn a_jwk_declaring_a_foreign_algorithm_is_skipped() {
        let row = generate_key("EdDSA").unwrap();
        let mut jwk: serde_json::Value = serde_json::from_str(&row.public_jwk).unwrap();
        jwk["alg"] = json!("ES256");
        let set: JwkSet = serde_json::from_value(json!({"keys": [jwk]})).unwrap();
        assert!(KeySet::from_jwks(&set).is_empty());
    }
}
