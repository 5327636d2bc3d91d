//! The watch key: one 256-bit secret from which two keys are derived, one
//! for HMAC-SHA256 keyed hashes (matching watched addresses without storing
//! them), one for ChaCha20-Poly1305 sealing (what the owner must read back:
//! the address as typed and its label, alerts, webhook secrets).
//!
//! The operator provides it (`alerts.watch_key_file`, or
//! `TRACEWIRE_WATCH_KEY`): then a copy of the database alone does not show
//! which addresses anyone watches. Without one, a key is made on first use
//! and kept in the database (`server_secrets`), shared by every server of
//! the deployment: the watched addresses are then still not in the clear,
//! but whoever holds a copy of the database holds the key too, and can test
//! guessed addresses against the hashes.
use super::AlertError;
use crate::storage::{secrets, DbConnection};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use std::path::Path;

/// The environment variable that may hold the watch key instead of a file.
pub const KEY_ENV: &str = "TRACEWIRE_WATCH_KEY";
/// The name of the key kept in the database when the operator gives none.
const SECRET_NAME: &str = "watch-key";

pub struct AlertKeys {
    matching: hmac::Key,
    sealing: LessSafeKey,
    random: SystemRandom,
}

impl std::fmt::Debug for AlertKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlertKeys(..)")
    }
}

fn parse_hex_key(text: &str, origin: &str) -> Result<Vec<u8>, AlertError> {
    hex::decode(text.trim())
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or_else(|| {
            AlertError::Key(format!(
                "{origin}: must hold 32 bytes as 64 hex characters (e.g. `openssl rand -hex 32`)"
            ))
        })
}

impl AlertKeys {
    /// The operator's key from `file`, else from [`KEY_ENV`], else the
    /// deployment's own key from the database (made on first use).
    pub fn load(conn: &mut DbConnection, file: Option<&Path>) -> Result<AlertKeys, AlertError> {
        let bytes = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    AlertError::Key(format!(
                        "alerts.watch_key_file: cannot read {}: {e}",
                        path.display()
                    ))
                })?;
                parse_hex_key(&text, "alerts.watch_key_file")?
            }
            None => match std::env::var(KEY_ENV) {
                Ok(text) if !text.trim().is_empty() => parse_hex_key(&text, KEY_ENV)?,
                _ => {
                    let random = SystemRandom::new();
                    let secret = secrets::get_or_create(conn, SECRET_NAME, || {
                        let mut bytes = [0u8; 32];
                        let _ = random.fill(&mut bytes);
                        hex::encode(bytes)
                    })?;
                    parse_hex_key(&secret, "server secret watch-key")?
                }
            },
        };
        Ok(AlertKeys::from_bytes(&bytes))
    }

    /// Keys derived from a 32-byte master key.
    pub fn from_bytes(master: &[u8]) -> AlertKeys {
        let master = hmac::Key::new(hmac::HMAC_SHA256, master);
        let derive = |label: &str| hmac::sign(&master, label.as_bytes());
        let matching = hmac::Key::new(
            hmac::HMAC_SHA256,
            derive("tracewire watch matching v1").as_ref(),
        );
        // 32 bytes is ChaCha20-Poly1305's key length: this cannot fail.
        let sealing = UnboundKey::new(
            &CHACHA20_POLY1305,
            derive("tracewire watch sealing v1").as_ref(),
        )
        .expect("a 32-byte key");
        AlertKeys {
            matching,
            sealing: LessSafeKey::new(sealing),
            random: SystemRandom::new(),
        }
    }

    /// The keyed hash (hex) of `value` in `domain` (`link`, `entry`, `record`).
    pub fn hash(&self, domain: &str, value: &str) -> String {
        let mut context = hmac::Context::with_key(&self.matching);
        context.update(domain.as_bytes());
        context.update(b"\0");
        context.update(value.as_bytes());
        hex::encode(context.sign().as_ref())
    }

    /// `plain` sealed for `context` (it opens only with the same context).
    pub fn seal(&self, context: &str, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        let _ = self.random.fill(&mut nonce);
        let mut sealed = plain.to_vec();
        // Sealing into a Vec fails only for inputs of gigabytes.
        let _ = self.sealing.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut sealed,
        );
        let mut token = nonce.to_vec();
        token.extend(sealed);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// What [`AlertKeys::seal`] sealed for `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, AlertError> {
        let corrupt = || {
            AlertError::Key(format!(
                "{context}: does not open with the current watch key"
            ))
        };
        let token = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| corrupt())?;
        if token.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, sealed) = token.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
        let mut sealed = sealed.to_vec();
        let opened = self
            .sealing
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut sealed)
            .map_err(|_| corrupt())?;
        Ok(opened.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_keyed_and_seals_bound_to_their_context() {
        let a = AlertKeys::from_bytes(&[1u8; 32]);
        let b = AlertKeys::from_bytes(&[2u8; 32]);
        assert_eq!(a.hash("link", "btc:x"), a.hash("link", "btc:x"));
        assert_ne!(a.hash("link", "btc:x"), b.hash("link", "btc:x"));
        assert_ne!(a.hash("link", "btc:x"), a.hash("entry", "btc:x"));
        let sealed = a.seal("watch:acme", b"label");
        assert_ne!(sealed, a.seal("watch:acme", b"label"));
        assert_eq!(a.open("watch:acme", &sealed).unwrap(), b"label");
        assert!(a.open("watch:other", &sealed).is_err());
        assert!(b.open("watch:acme", &sealed).is_err());
        assert!(a.open("watch:acme", "junk").is_err());
    }
}
