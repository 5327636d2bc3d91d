//! An alert as its watcher sees it. Everything in it is rendered for the
//! watcher by `records::Disclosure` (the changed record's revision, as the
//! change feed shows it) and by the screening summary of the watched
//! address (exactly what `GET /v1/screen` would answer at that moment).
use crate::records::RecordContent;
use crate::screening::ScreenResult;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why an alert was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A new address record for a watched address.
    Record,
    /// A new revision made an address record readable to you (its sharing
    /// widened to include you).
    Shared,
    /// A new relationship links a watched address to a wallet or entity
    /// you may see.
    Relationship,
    /// A new sighting, of a watched address or of its record, that you may read.
    Sighting,
    /// A record you were alerted about was revoked.
    Revocation,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Record => "record",
            AlertKind::Shared => "shared",
            AlertKind::Relationship => "relationship",
            AlertKind::Sighting => "sighting",
            AlertKind::Revocation => "revocation",
        }
    }
}

/// One of your watch entries that an alert matched.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WatchedEntry {
    /// The watch entry's id.
    pub id: String,
    /// Your label of it, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// An alert.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    /// The alert's id (random; also the webhook's `webhook-id`).
    pub id: String,
    pub kind: AlertKind,
    /// When the alert was made.
    pub created_at: DateTime<Utc>,
    /// When your organization acknowledged it.
    #[serde(default)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Your watch entries it matched.
    pub watched: Vec<WatchedEntry>,
    /// The record that changed.
    pub record_id: String,
    /// The revision's number among the revisions of the record you may see.
    pub revision: i32,
    /// That revision as you may see it (absent for revocations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// The screening summary of the watched address when the alert was made.
    pub screening: ScreenResult,
}

/// A page of alerts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertPage {
    pub items: Vec<Alert>,
    /// The opaque cursor to ask from next time (`after`); always present,
    /// and new on every answer.
    pub next: String,
}
