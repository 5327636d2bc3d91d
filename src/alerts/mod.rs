//! Watchlists and alerts: a partner registers the addresses it holds, and
//! hears, by `GET /v1/alerts` and by signed webhooks, the moment something
//! it may read starts to match one of them.
//!
//! - [`keys`]: the watch key: keyed hashes for matching, sealing for
//!   what must stay readable to its owner only.
//! - [`watchlist`]: adding, removing, listing and counting watch entries.
//! - [`consumer`]: the durable consumer of the change feed that makes alerts.
//! - [`view`]: an alert as its watcher sees it (rendered through
//!   `records::Disclosure` and the screening summary).
//! - [`webhooks`]: endpoints, `whsec_` secrets and Standard Webhooks signatures.
//! - [`delivery`]: the outbox worker that delivers, retries and disables.
pub mod consumer;
pub mod delivery;
pub mod inbox;
pub mod keys;
pub mod view;
pub mod watchlist;
pub mod webhooks;

use crate::error::FieldError;
use crate::records::RecordError;
use crate::storage::StorageError;

pub use keys::AlertKeys;

/// Errors of watchlists, alerts and webhooks (mapped to HTTP in `crate::api::alerts`).
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadCursor(String),
    /// The organization's watchlist would grow past its limit.
    #[error("{0}")]
    LimitReached(String),
    #[error("{0}")]
    Key(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<diesel::result::Error> for AlertError {
    fn from(error: diesel::result::Error) -> Self {
        AlertError::Storage(error.into())
    }
}

impl From<RecordError> for AlertError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Validation(errors) => AlertError::Validation(errors),
            RecordError::NotFound => AlertError::NotFound,
            RecordError::BadCursor(message) => AlertError::BadCursor(message),
            RecordError::Storage(storage) => AlertError::Storage(storage),
            other => AlertError::Storage(StorageError::Corrupt(other.to_string())),
        }
    }
}
