//! Domain types that validate when parsed: once a value of these types
//! exists, it is known to be well formed.
pub mod chains;
mod identifiers;
mod indicator;
mod organization;
pub mod private_screening;
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

/// The first control character of `value`, if any. Free text (a
/// description) may hold tab and line feed; nothing else may hold any
/// control character (C0, DEL or C1), NUL included.
pub fn control_character(value: &str, free_text: bool) -> Option<char> {
    value
        .chars()
        .find(|c| c.is_control() && !(free_text && matches!(c, '\t' | '\n')))
}

/// Why `value` is not acceptable text for a field, if it is not:
/// a control character, or more than `max` characters.
pub fn text_problem(value: &str, max: usize, free_text: bool) -> Option<String> {
    if let Some(c) = control_character(value, free_text) {
        let allowed = if free_text {
            " (only tab and line feed are allowed)"
        } else {
            ""
        };
        return Some(format!(
            "must not contain control characters{allowed}; found U+{:04X}",
            c as u32
        ));
    }
    let length = value.chars().count();
    (length > max).then(|| format!("at most {max} characters (got {length})"))
}

/// The earliest instant a record may name (`valid_from`, `seen_at`, …).
pub fn earliest_instant() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::UNIX_EPOCH
}

/// The latest instant a record may name: the end of year 9999, the last
/// one RFC 3339's four-digit years can write.
pub fn latest_instant() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .expect("a valid date")
}

/// Refuses instants outside 1970-01-01T00:00:00Z ..= 9999-12-31T23:59:59Z.
pub fn check_instant(at: &chrono::DateTime<chrono::Utc>) -> Result<(), String> {
    if *at < earliest_instant() || *at > latest_instant() {
        return Err(format!(
            "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z (got {})",
            at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_except_tab_and_newline_in_free_text() {
        assert_eq!(control_character("a\u{0}b", true), Some('\0'));
        assert_eq!(control_character("a\tb\nc", true), None);
        assert_eq!(control_character("a\tb", false), Some('\t'));
        assert_eq!(control_character("a\rb", true), Some('\r'));
        assert_eq!(control_character("a\u{85}b", true), Some('\u{85}'));
        assert_eq!(control_character("Hydra 🐙 é", false), None);
    }

    #[test]
    fn instants_outside_1970_to_9999_are_refused() {
        let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        assert!(check_instant(&parse("1970-01-01T00:00:00Z")).is_ok());
        assert!(check_instant(&parse("9999-12-31T23:59:59Z")).is_ok());
        assert!(check_instant(&parse("1969-12-31T23:59:59Z")).is_err());
        assert!(check_instant(&(latest_instant() + chrono::TimeDelta::seconds(1))).is_err());
    }
}
