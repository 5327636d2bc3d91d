//! The TAXII 2.1 resources, as served.
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The discovery resource.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Discovery {
    pub title: String,
    pub description: String,
    pub default: String,
    pub api_roots: Vec<String>,
}

/// The API root resource.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiRootInfo {
    pub title: String,
    pub description: String,
    pub versions: Vec<String>,
    pub max_content_length: usize,
}

/// A collection, as the caller may use it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CollectionView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub can_read: bool,
    pub can_write: bool,
    pub media_types: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Collections {
    pub collections: Vec<CollectionView>,
}

/// A page of STIX objects.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Envelope {
    pub more: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// STIX 2.1 objects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub objects: Vec<serde_json::Value>,
}

/// One object of a manifest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ManifestEntry {
    pub id: String,
    pub date_added: String,
    pub version: String,
    pub media_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Manifest {
    pub more: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ManifestEntry>,
}

/// The versions of one object.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Versions {
    pub more: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
}

/// What became of one object of a POSTed envelope.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusDetail {
    pub id: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The status resource of a POSTed envelope.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusResource {
    pub id: String,
    /// Always `complete`: envelopes are processed before the answer.
    pub status: String,
    pub request_timestamp: String,
    pub total_count: usize,
    pub success_count: usize,
    pub successes: Vec<StatusDetail>,
    pub failure_count: usize,
    pub failures: Vec<StatusDetail>,
    pub pending_count: usize,
    pub pendings: Vec<StatusDetail>,
}

impl StatusResource {
    pub fn new(id: String, requested: &NaiveDateTime) -> StatusResource {
        StatusResource {
            id,
            status: "complete".into(),
            request_timestamp: crate::stix::naive_timestamp(requested),
            total_count: 0,
            success_count: 0,
            successes: Vec::new(),
            failure_count: 0,
            failures: Vec::new(),
            pending_count: 0,
            pendings: Vec::new(),
        }
    }

    pub fn push(&mut self, success: bool, detail: StatusDetail) {
        self.total_count += 1;
        if success {
            self.success_count += 1;
            self.successes.push(detail);
        } else {
            self.failure_count += 1;
            self.failures.push(detail);
        }
    }
}
