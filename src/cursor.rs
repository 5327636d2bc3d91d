//! Opaque paging cursors for feeds that interleave many organizations'
//! writes (the change feed, TAXII collections).
//!
//! A position in the hub-wide sequence would tell a reader how many events
//! it could not see. So a cursor is the position sealed with
//! ChaCha20-Poly1305 under a key the deployment's servers share, with a
//! fresh random nonce each time and the reader's organization and the
//! feed's name as associated data: two cursors for the same position look
//! unrelated, nothing about the position can be read from one, and a
//! tampered cursor, one from another feed or one made for another
//! organization does not open ([`CursorError`], a 400).
use crate::domain::OrganizationId;
use crate::storage::{secrets, DbConnection, StorageError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// The name of the shared secret in storage.
const SECRET_NAME: &str = "cursor-key";

/// The feeds cursors belong to (a cursor of one is refused by the others).
#[derive(Debug, Clone, Copy)]
pub enum Feed {
    Changes,
    Taxii,
    Watchlist,
    Alerts,
    Deliveries,
}

impl Feed {
    fn name(self) -> &'static str {
        match self {
            Feed::Changes => "changes",
            Feed::Taxii => "taxii",
            Feed::Watchlist => "watchlist",
            Feed::Alerts => "alerts",
            Feed::Deliveries => "deliveries",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a cursor this server gave you")]
pub struct CursorError;

/// Seals and opens cursors.
pub struct CursorKey {
    key: LessSafeKey,
    random: SystemRandom,
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// The deployment's key, made and stored on first use.
    pub fn load(conn: &mut DbConnection) -> Result<CursorKey, StorageError> {
        let random = SystemRandom::new();
        let secret = secrets::get_or_create(conn, SECRET_NAME, || {
            let mut bytes = [0u8; 32];
            // The system's random source does not fail on supported platforms.
            let _ = random.fill(&mut bytes);
            hex::encode(bytes)
        })?;
        let bytes = hex::decode(&secret)
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| StorageError::Corrupt(format!("{SECRET_NAME}: not a 256-bit key")))?;
        Ok(CursorKey::from_bytes(&bytes))
    }

    fn from_bytes(bytes: &[u8]) -> CursorKey {
        // 32 bytes is ChaCha20-Poly1305's key length: this cannot fail.
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("a 32-byte key");
        CursorKey {
            key: LessSafeKey::new(key),
            random: SystemRandom::new(),
        }
    }

    fn aad(feed: Feed, reader: &OrganizationId) -> Vec<u8> {
        format!("tracewire-cursor\0{}\0{}", feed.name(), reader.as_str()).into_bytes()
    }

    /// A fresh cursor for `position` in `feed`, for `reader` only.
    pub fn seal(&self, feed: Feed, reader: &OrganizationId, position: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        let _ = self.random.fill(&mut nonce);
        let mut sealed = position.to_vec();
        // Sealing into a Vec only fails for inputs of gigabytes.
        let _ = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(Self::aad(feed, reader)),
            &mut sealed,
        );
        let mut token = nonce.to_vec();
        token.extend(sealed);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The position inside a cursor made by [`CursorKey::seal`] for the same
    /// feed and reader.
    pub fn open(
        &self,
        feed: Feed,
        reader: &OrganizationId,
        cursor: &str,
    ) -> Result<Vec<u8>, CursorError> {
        if cursor.len() > 256 {
            return Err(CursorError);
        }
        let token = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| CursorError)?;
        if token.len() < NONCE_LEN {
            return Err(CursorError);
        }
        let (nonce, sealed) = token.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CursorError)?;
        let mut sealed = sealed.to_vec();
        let opened = self
            .key
            .open_in_place(nonce, Aad::from(Self::aad(feed, reader)), &mut sealed)
            .map_err(|_| CursorError)?;
        Ok(opened.to_vec())
    }

    /// [`CursorKey::seal`] of a pair of numbers.
    pub fn seal_position(
        &self,
        feed: Feed,
        reader: &OrganizationId,
        seq: i64,
        skip: u64,
    ) -> String {
        let mut bytes = seq.to_be_bytes().to_vec();
        bytes.extend(skip.to_be_bytes());
        self.seal(feed, reader, &bytes)
    }

    /// [`CursorKey::open`] of a pair of numbers.
    pub fn open_position(
        &self,
        feed: Feed,
        reader: &OrganizationId,
        cursor: &str,
    ) -> Result<(i64, u64), CursorError> {
        let bytes = self.open(feed, reader, cursor)?;
        let (seq, skip) = bytes
            .split_first_chunk::<8>()
            .and_then(|(seq, rest)| Some((*seq, *rest.first_chunk::<8>()?)))
            .ok_or(CursorError)?;
        let seq = i64::from_be_bytes(seq);
        if seq < 0 || bytes.len() != 16 {
            return Err(CursorError);
        }
        Ok((seq, u64::from_be_bytes(skip)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str) -> OrganizationId {
        OrganizationId::parse(id).unwrap()
    }

    #[test]
    fn cursors_open_for_their_reader_and_feed_only() {
        let key = CursorKey::from_bytes(&[7u8; 32]);
        let acme = org("acme");
        let a = key.seal_position(Feed::Changes, &acme, 42, 3);
        let b = key.seal_position(Feed::Changes, &acme, 42, 3);
        assert_ne!(a, b, "the same position gives unrelated cursors");
        assert_eq!(key.open_position(Feed::Changes, &acme, &a), Ok((42, 3)));
        assert_eq!(key.open_position(Feed::Changes, &acme, &b), Ok((42, 3)));
        assert_eq!(
            key.open_position(Feed::Changes, &org("northwind"), &a),
            Err(CursorError)
        );
        assert_eq!(key.open_position(Feed::Taxii, &acme, &a), Err(CursorError));
        let other_key = CursorKey::from_bytes(&[8u8; 32]);
        assert_eq!(
            other_key.open_position(Feed::Changes, &acme, &a),
            Err(CursorError)
        );
        // Any changed character is refused.
        let mut tampered: Vec<char> = a.chars().collect();
        let last = tampered.len() - 5;
        tampered[last] = if tampered[last] == 'A' { 'B' } else { 'A' };
        let tampered: String = tampered.into_iter().collect();
        assert_eq!(
            key.open_position(Feed::Changes, &acme, &tampered),
            Err(CursorError)
        );
        for junk in ["", "0", "12", "12.3", "!!!!", &"A".repeat(300)] {
            assert_eq!(
                key.open_position(Feed::Changes, &acme, junk),
                Err(CursorError)
            );
        }
    }
}
