//! Encryption at rest of the hub's token signing keys, with a key the
//! operator provides (`auth.key_encryption_key_file`, or the environment
//! variable `TRACEWIRE_KEY_ENCRYPTION_KEY`): 32 bytes, as 64 hex characters.
//!
//! A private key is stored as `enc:v1:<key id>:<base64url(nonce ‖ sealed)>`,
//! sealed with ChaCha20-Poly1305 under the operator's key, with the signing
//! key's `kid` as associated data (a sealed key moved to another row does
//! not open). `<key id>` names the operator key (the first 16 hex digits of
//! its SHA-256), so that rotation works: with a new current key and the old
//! one in `auth.previous_key_encryption_key_files`, every stored key is
//! re-sealed under the new one at start, after which the old one can go.
//! Keys stored in plain text (before a key was configured) are sealed at
//! the next start.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use std::path::Path;

const PREFIX: &str = "enc:v1:";
/// The environment variable that may hold the current key instead of a file.
pub const KEY_ENV: &str = "TRACEWIRE_KEY_ENCRYPTION_KEY";

#[derive(Debug, thiserror::Error)]
pub enum KeyEncryptionError {
    #[error("{0}")]
    BadKey(String),
    #[error(
        "signing key {kid} is encrypted with key {key_id}, which is not configured \
         (auth.key_encryption_key_file, TRACEWIRE_KEY_ENCRYPTION_KEY or \
         auth.previous_key_encryption_key_files)"
    )]
    MissingKey { kid: String, key_id: String },
    #[error("signing key {0} does not decrypt: altered, or sealed for another key id")]
    Altered(String),
}

struct OperatorKey {
    id: String,
    key: LessSafeKey,
}

impl OperatorKey {
    fn parse(text: &str, origin: &str) -> Result<OperatorKey, KeyEncryptionError> {
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                KeyEncryptionError::BadKey(format!(
                    "{origin}: must hold 32 bytes as 64 hex characters (e.g. `openssl rand -hex 32`)"
                ))
            })?;
        let id = hex::encode(&Sha256::digest(&bytes)[..8]);
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
            .map_err(|_| KeyEncryptionError::BadKey(format!("{origin}: unusable key")))?;
        Ok(OperatorKey {
            id,
            key: LessSafeKey::new(key),
        })
    }

    fn from_file(path: &Path, setting: &str) -> Result<OperatorKey, KeyEncryptionError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            KeyEncryptionError::BadKey(format!("{setting}: cannot read {}: {e}", path.display()))
        })?;
        OperatorKey::parse(&text, &format!("{setting} ({})", path.display()))
    }
}

/// The operator's keys: the one new seals use, and older ones still accepted.
#[derive(Default)]
pub struct KeyEncryption {
    current: Option<OperatorKey>,
    previous: Vec<OperatorKey>,
}

impl std::fmt::Debug for KeyEncryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEncryption")
            .field("current", &self.current.as_ref().map(|k| &k.id))
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeyEncryption {
    /// From the settings: the current key from `file`, else from
    /// [`KEY_ENV`]; older keys from `previous`.
    pub fn configure(
        file: Option<&Path>,
        previous: &[std::path::PathBuf],
    ) -> Result<KeyEncryption, KeyEncryptionError> {
        let current = match file {
            Some(path) => Some(OperatorKey::from_file(
                path,
                "auth.key_encryption_key_file",
            )?),
            None => match std::env::var(KEY_ENV) {
                Ok(text) if !text.trim().is_empty() => Some(OperatorKey::parse(&text, KEY_ENV)?),
                _ => None,
            },
        };
        let previous = previous
            .iter()
            .map(|p| OperatorKey::from_file(p, "auth.previous_key_encryption_key_files"))
            .collect::<Result<_, _>>()?;
        Ok(KeyEncryption { current, previous })
    }

    /// Is a current key configured (new keys are stored sealed)?
    pub fn enabled(&self) -> bool {
        self.current.is_some()
    }

    /// The stored form of signing key `kid`'s PEM: sealed under the current
    /// key, or the PEM itself when no key is configured.
    pub fn seal(&self, kid: &str, pem: &str) -> String {
        let Some(key) = &self.current else {
            return pem.to_owned();
        };
        let mut nonce = [0u8; NONCE_LEN];
        let _ = SystemRandom::new().fill(&mut nonce);
        let mut sealed = pem.as_bytes().to_vec();
        // Sealing into a Vec fails only for inputs of gigabytes.
        let _ = key.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(kid.as_bytes()),
            &mut sealed,
        );
        let mut token = nonce.to_vec();
        token.extend(sealed);
        format!("{PREFIX}{}:{}", key.id, URL_SAFE_NO_PAD.encode(token))
    }

    /// The PEM of signing key `kid` from its stored form.
    pub fn open(&self, kid: &str, stored: &str) -> Result<String, KeyEncryptionError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (key_id, sealed) = rest
            .split_once(':')
            .ok_or_else(|| KeyEncryptionError::Altered(kid.into()))?;
        let key = self
            .current
            .iter()
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| KeyEncryptionError::MissingKey {
                kid: kid.into(),
                key_id: key_id.into(),
            })?;
        let token = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| KeyEncryptionError::Altered(kid.into()))?;
        if token.len() < NONCE_LEN {
            return Err(KeyEncryptionError::Altered(kid.into()));
        }
        let (nonce, sealed) = token.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| KeyEncryptionError::Altered(kid.into()))?;
        let mut sealed = sealed.to_vec();
        let opened = key
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut sealed)
            .map_err(|_| KeyEncryptionError::Altered(kid.into()))?;
        String::from_utf8(opened.to_vec()).map_err(|_| KeyEncryptionError::Altered(kid.into()))
    }

    /// Does `stored` need sealing again (plain text, or sealed under an
    /// older key) now that a current key is configured?
    pub fn needs_resealing(&self, stored: &str) -> bool {
        match &self.current {
            None => false,
            Some(key) => !stored.starts_with(&format!("{PREFIX}{}:", key.id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> OperatorKey {
        OperatorKey::parse(&hex::encode([byte; 32]), "test").unwrap()
    }

    #[test]
    fn sealed_keys_open_only_with_their_key_and_kid() {
        let old = KeyEncryption {
            current: Some(key(1)),
            previous: vec![],
        };
        let sealed = old.seal("kid-1", "-----BEGIN PRIVATE KEY-----");
        assert!(!sealed.contains("PRIVATE"));
        assert_eq!(
            old.open("kid-1", &sealed).unwrap(),
            "-----BEGIN PRIVATE KEY-----"
        );
        assert!(matches!(
            old.open("kid-2", &sealed),
            Err(KeyEncryptionError::Altered(_))
        ));
        let rotated = KeyEncryption {
            current: Some(key(2)),
            previous: vec![key(1)],
        };
        assert!(rotated.needs_resealing(&sealed));
        assert_eq!(
            rotated.open("kid-1", &sealed).unwrap(),
            "-----BEGIN PRIVATE KEY-----"
        );
        let resealed = rotated.seal("kid-1", "-----BEGIN PRIVATE KEY-----");
        assert!(!rotated.needs_resealing(&resealed));
        let without_old = KeyEncryption {
            current: Some(key(2)),
            previous: vec![],
        };
        assert!(matches!(
            without_old.open("kid-1", &sealed),
            Err(KeyEncryptionError::MissingKey { .. })
        ));
        assert_eq!(
            without_old.open("kid-1", &resealed).unwrap(),
            "-----BEGIN PRIVATE KEY-----"
        );
        let plain = KeyEncryption::default();
        assert_eq!(plain.seal("k", "pem"), "pem");
        assert!(OperatorKey::parse("abc", "x").is_err());
    }
}
