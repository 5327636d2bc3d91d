use super::DomainError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// What kind of organization a partner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationType {
    Forensics,
    Ngo,
    Exchange,
    LawEnforcement,
    /// The organization running this deployment. Only its clients may hold the `admin` scope.
    Hub,
    Other,
}

impl OrganizationType {
    pub const ALL: [OrganizationType; 6] = [
        Self::Forensics,
        Self::Ngo,
        Self::Exchange,
        Self::LawEnforcement,
        Self::Hub,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forensics => "forensics",
            Self::Ngo => "ngo",
            Self::Exchange => "exchange",
            Self::LawEnforcement => "law_enforcement",
            Self::Hub => "hub",
            Self::Other => "other",
        }
    }
}

impl FromStr for OrganizationType {
    type Err = DomainError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == value)
            .ok_or_else(|| DomainError::UnknownOrganizationType(value.to_owned()))
    }
}

impl fmt::Display for OrganizationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_type() {
        for t in OrganizationType::ALL {
            assert_eq!(t.as_str().parse::<OrganizationType>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert!("bank".parse::<OrganizationType>().is_err());
    }
}
