use super::DomainError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// A permission an API client may hold and a token may carry.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum Scope {
    #[serde(rename = "indicators:read")]
    IndicatorsRead,
    #[serde(rename = "indicators:write")]
    IndicatorsWrite,
    #[serde(rename = "sightings:write")]
    SightingsWrite,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Self::IndicatorsRead,
        Self::IndicatorsWrite,
        Self::SightingsWrite,
        Self::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::IndicatorsRead => "indicators:read",
            Self::IndicatorsWrite => "indicators:write",
            Self::SightingsWrite => "sightings:write",
            Self::Admin => "admin",
        }
    }
}

impl FromStr for Scope {
    type Err = DomainError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| DomainError::UnknownScope(value.to_owned()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, written as OAuth does: space-separated (`"indicators:read admin"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// Parses a space-separated list; every word must be a known scope.
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        value
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn intersection(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.intersection(&other.0).copied().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    pub fn to_vec(&self) -> Vec<Scope> {
        self.0.iter().copied().collect()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&words.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_separated_scopes() {
        let scopes = Scopes::parse("indicators:read  admin").unwrap();
        assert!(scopes.contains(Scope::Admin));
        assert!(scopes.contains(Scope::IndicatorsRead));
        assert!(!scopes.contains(Scope::IndicatorsWrite));
        assert_eq!(scopes.to_string(), "indicators:read admin");
    }

    #[test]
    fn rejects_unknown_scope() {
        assert_eq!(
            Scopes::parse("indicators:read root"),
            Err(DomainError::UnknownScope("root".into()))
        );
    }

    #[test]
    fn subset_and_intersection() {
        let all = Scopes::parse("indicators:read indicators:write").unwrap();
        let read = Scopes::parse("indicators:read").unwrap();
        assert!(read.is_subset(&all));
        assert!(!all.is_subset(&read));
        assert_eq!(all.intersection(&read), read);
    }
}
