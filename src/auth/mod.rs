//! Authentication: who is calling.
//!
//! 1. [`tls`] builds the mutual-TLS server configuration; the handshake
//!    refuses clients without a certificate from a trusted CA, or with a
//!    revoked one. The verified leaf reaches handlers as a [`PeerCertificate`].
//! 2. [`AuthService::identify`] maps that certificate to a registered
//!    organization (by fingerprint, or by subject under the hub's own CA).
//! 3. [`tokens`] issues the hub's certificate-bound JWTs (RFC 8705) and
//!    verifies them, and partners' tokens through their JWKS ([`issuers`]).
//! 4. The [`Caller`] extractor runs 2 and 3 for every `/v1` handler.
mod caller;
mod certificate;
mod error;
pub mod forwarded;
pub mod issuers;
pub mod key_encryption;
pub mod keys;
pub mod service;
pub mod tls;
pub mod tokens;

pub use caller::Caller;
pub use certificate::PeerCertificate;
pub use error::AuthError;
pub use service::AuthService;
