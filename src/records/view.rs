//! What a record looks like to readers, and what is stored and hashed for
//! each revision.
use crate::domain::{
    Attribution, Category, ExternalReference, Method, RecordKind, Relation, SightingContext, Tlp,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AudienceView {
    /// Shared with every partner organization (CLEAR, GREEN).
    pub all_partners: bool,
    /// Named recipient organizations. Readers other than the source only see
    /// themselves here, never the other recipients.
    #[serde(default)]
    pub organizations: Vec<String>,
    /// Named recipient communities (again, only the reader's own for non-sources).
    #[serde(default)]
    pub communities: Vec<String>,
}

/// Who submitted a record, when and how. Set by the server from the
/// authenticated caller; the source is hidden when attribution is anonymous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProvenanceView {
    /// The source organization (absent for anonymous records, except to the source).
    pub source_organization: Option<String>,
    /// The API client that submitted this revision (same visibility as the source).
    pub submitted_by: Option<String>,
    /// When the hub received this revision (server time).
    pub received_at: DateTime<Utc>,
    /// When the source observed what it reports.
    pub observed_at: Option<DateTime<Utc>>,
    pub method: Method,
    pub source_reference: Option<String>,
    /// Ids of records this one builds on.
    pub derived_from: Vec<String>,
}

/// The content of one revision of a record: what is stored, hashed and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordContent {
    pub id: String,
    pub kind: RecordKind,
    /// Chain id (address and wallet records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// Canonical form of the address (address records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Wallet or entity name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<Relation>,
    /// Relationship source record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Relationship target record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// What a sighting reports (sighting records; the address seen, if it
    /// was named by address, is in `chain` and `address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sighting: Option<SightingDetails>,
    pub categories: Vec<Category>,
    /// 0–100.
    pub confidence: u8,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub description: String,
    pub external_references: Vec<ExternalReference>,
    pub tlp: Tlp,
    pub audience: AudienceView,
    pub attribution: Attribution,
    pub provenance: ProvenanceView,
    /// The revision's number among the revisions you may see (the real
    /// number for the source).
    pub revision: i32,
    pub revoked: bool,
}

/// The part of a sighting record that says what was seen, when and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SightingDetails {
    /// The id of the record seen (absent when the sighting names an address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
    pub seen_at: DateTime<Utc>,
    /// How many times it was seen.
    pub count: u32,
    pub context: SightingContext,
}

impl RecordContent {
    /// Canonical serialization (keys sorted, no spaces) and its SHA-256, hex.
    pub fn canonical_json_and_hash(&self) -> (String, String) {
        use sha2::{Digest, Sha256};
        // serde_json's Value keeps object keys sorted: a stable canonical form.
        let value = serde_json::to_value(self).unwrap_or_default();
        let text = value.to_string();
        let hash = hex::encode(Sha256::digest(text.as_bytes()));
        (text, hash)
    }
}

/// A record as returned by the API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    #[serde(flatten)]
    pub content: RecordContent,
    /// SHA-256 of the canonical JSON of the content exactly as shown to
    /// you (for the source, the stored hash of the revision).
    pub content_hash: String,
    /// When the first revision you may see was stored.
    pub created_at: DateTime<Utc>,
    /// When the current revision was stored.
    pub updated_at: DateTime<Utc>,
}

/// One revision of a record, as a reader may see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevisionView {
    #[serde(flatten)]
    pub content: RecordContent,
    /// SHA-256 of the canonical JSON of the content exactly as shown to
    /// you (for the source, the stored hash of the revision).
    pub content_hash: String,
    /// When the hub received this revision.
    pub received_at: DateTime<Utc>,
    /// Its real number, for the audit log only (readers see
    /// `content.revision`, numbered among the revisions they may read).
    #[serde(skip)]
    pub stored_revision: i32,
}

/// One page of a listing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordPage {
    pub items: Vec<RecordView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next: Option<String>,
}
