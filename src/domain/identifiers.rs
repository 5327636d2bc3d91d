//! Short, stable, human-friendly identifiers ("slugs") for organizations,
//! communities and API clients. They appear in URLs, tokens and the CLI.
use super::DomainError;
use serde::{Deserialize, Serialize};
use std::fmt;

fn is_valid_slug(value: &str) -> bool {
    let bytes = value.as_bytes();
    (2..=63).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

macro_rules! slug_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, DomainError> {
                if is_valid_slug(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(DomainError::InvalidIdentifier { what: $what, value: value.to_owned() })
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_type!(
    /// An organization's identifier, chosen by the hub operator (e.g. `acme-forensics`).
    OrganizationId,
    "organization id"
);
slug_type!(
    /// A community's identifier (a named group of organizations).
    CommunityId,
    "community id"
);
slug_type!(
    /// An API client's identifier (the OAuth `client_id`).
    ClientId,
    "client id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lowercase_slugs() {
        for ok in ["ab", "acme-forensics", "9lives", "a-b-c-1"] {
            assert!(OrganizationId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        let too_long = "a".repeat(64);
        for bad in [
            "",
            "a",
            "-abc",
            "Acme",
            "acme forensics",
            "acme_x",
            "é-org",
            too_long.as_str(),
        ] {
            assert!(OrganizationId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deserialization_validates() {
        assert!(serde_json::from_str::<ClientId>("\"UPPER\"").is_err());
        assert_eq!(
            serde_json::from_str::<ClientId>("\"ok-1\"")
                .unwrap()
                .as_str(),
            "ok-1"
        );
    }
}
