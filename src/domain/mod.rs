//! Domain types that validate when parsed: once a value of these types
//! exists, it is known to be well formed.
pub mod chains;
mod identifiers;
mod indicator;
mod organization;
mod scope;
mod sharing;

pub use identifiers::{ClientId, CommunityId, OrganizationId};
pub use indicator::{
    Category, ExternalReference, Method, RecordBody, RecordKind, Relation, Sighting,
    SightingContext, SightingTarget,
};
pub use organization::OrganizationType;
pub use scope::{Scope, Scopes};
pub use sharing::{Attribution, Audience, Sharing, SharingError, Tlp};

/// Why a value from outside (request, CLI, config) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{what} must be 2 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit (got {value:?})")]
    InvalidIdentifier { what: &'static str, value: String },
    #[error("unknown organization type {0:?} (expected one of: forensics, ngo, exchange, law_enforcement, hub, other)")]
    UnknownOrganizationType(String),
    #[error("unknown scope {0:?} (expected indicators:read, indicators:write, sightings:write or admin)")]
    UnknownScope(String),
    #[error("{what} must not be empty and at most {max} characters")]
    BadText { what: &'static str, max: usize },
}

/// A human-readable name: trimmed, non-empty, bounded length.
pub fn parse_display_name(
    what: &'static str,
    value: &str,
    max: usize,
) -> Result<String, DomainError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > max || trimmed.chars().any(char::is_control)
    {
        return Err(DomainError::BadText { what, max });
    }
    Ok(trimmed.to_owned())
}
