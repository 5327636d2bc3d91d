//! Sharing controls of a record: its TLP 2.0 marking, its audience and its
//! attribution. A [`Sharing`] value can only be built in a combination the
//! brief allows, so an invalid marking never reaches storage.
use super::{CommunityId, OrganizationId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

/// Traffic Light Protocol 2.0 (FIRST).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum Tlp {
    #[serde(rename = "clear")]
    Clear,
    #[serde(rename = "green")]
    Green,
    #[serde(rename = "amber")]
    Amber,
    #[serde(rename = "amber+strict")]
    AmberStrict,
    #[serde(rename = "red")]
    Red,
}

impl Tlp {
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }
}

impl FromStr for Tlp {
    type Err = SharingError;
    /// Accepts `red`, `RED`, `TLP:RED`, `amber+strict`, `TLP:AMBER+STRICT`, …
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let lower = value.trim().to_ascii_lowercase();
        let name = lower.strip_prefix("tlp:").unwrap_or(&lower);
        Tlp::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| SharingError::UnknownTlp(value.to_owned()))
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the source organization is shown to readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    #[default]
    Named,
    /// Source organization and submitter are hidden from everyone but the source.
    Anonymous,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SharingError {
    #[error("unknown TLP marking {0:?} (expected clear, green, amber, amber+strict or red)")]
    UnknownTlp(String),
    #[error("TLP:{0} cannot be shared with named organizations; use all partners or communities")]
    NoOrganizationsAllowed(Tlp),
    #[error("TLP:{0} can only be shared with named organizations")]
    OrganizationsOnly(Tlp),
    #[error("TLP:{0} cannot be shared with all partners; name the recipients")]
    NotForAllPartners(Tlp),
    #[error("TLP:{0} needs at least one named recipient")]
    NoRecipients(Tlp),
}

/// Who a record is shared with, beyond its source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience {
    pub all_partners: bool,
    pub organizations: BTreeSet<OrganizationId>,
    pub communities: BTreeSet<CommunityId>,
}

/// A valid TLP + audience combination (see the brief's table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sharing {
    tlp: Tlp,
    audience: Audience,
}

impl Sharing {
    /// Validates the combination:
    /// - CLEAR: every partner (and public exports); the audience is all partners.
    /// - GREEN: all partners (the default), or named communities.
    /// - AMBER: named organizations and/or communities.
    /// - AMBER+STRICT and RED: named organizations only.
    pub fn new(tlp: Tlp, audience: Audience) -> Result<Sharing, SharingError> {
        let has_orgs = !audience.organizations.is_empty();
        let has_communities = !audience.communities.is_empty();
        let audience = match tlp {
            Tlp::Clear => Audience {
                all_partners: true,
                ..Audience::default()
            },
            Tlp::Green => {
                if has_orgs {
                    return Err(SharingError::NoOrganizationsAllowed(tlp));
                }
                if has_communities && audience.all_partners {
                    // All partners already includes every community.
                    Audience {
                        all_partners: true,
                        ..Audience::default()
                    }
                } else {
                    Audience {
                        all_partners: !has_communities,
                        ..audience
                    }
                }
            }
            Tlp::Amber | Tlp::AmberStrict | Tlp::Red => {
                if audience.all_partners {
                    return Err(SharingError::NotForAllPartners(tlp));
                }
                if tlp != Tlp::Amber && has_communities {
                    return Err(SharingError::OrganizationsOnly(tlp));
                }
                if !has_orgs && !has_communities {
                    return Err(SharingError::NoRecipients(tlp));
                }
                audience
            }
        };
        Ok(Sharing { tlp, audience })
    }

    pub fn tlp(&self) -> Tlp {
        self.tlp
    }

    pub fn audience(&self) -> &Audience {
        &self.audience
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orgs(ids: &[&str]) -> BTreeSet<OrganizationId> {
        ids.iter()
            .map(|i| OrganizationId::parse(i).unwrap())
            .collect()
    }

    fn communities(ids: &[&str]) -> BTreeSet<CommunityId> {
        ids.iter().map(|i| CommunityId::parse(i).unwrap()).collect()
    }

    #[test]
    fn parses_tlp_spellings() {
        assert_eq!("TLP:AMBER+STRICT".parse::<Tlp>().unwrap(), Tlp::AmberStrict);
        assert_eq!("red".parse::<Tlp>().unwrap(), Tlp::Red);
        assert_eq!(
            "TLP:WHITE".parse::<Tlp>(),
            Err(SharingError::UnknownTlp("TLP:WHITE".into()))
        );
        for tlp in Tlp::ALL {
            assert_eq!(serde_json::to_value(tlp).unwrap(), tlp.as_str());
        }
    }

    #[test]
    fn allowed_audiences_follow_the_brief() {
        let named = Audience {
            organizations: orgs(&["ngo"]),
            ..Audience::default()
        };
        let community = Audience {
            communities: communities(&["at"]),
            ..Audience::default()
        };
        let everyone = Audience {
            all_partners: true,
            ..Audience::default()
        };
        let none = Audience::default();
        let cases = [
            (Tlp::Clear, &none, true),
            (Tlp::Clear, &named, true),
            (Tlp::Green, &none, true),
            (Tlp::Green, &everyone, true),
            (Tlp::Green, &community, true),
            (Tlp::Green, &named, false),
            (Tlp::Amber, &named, true),
            (Tlp::Amber, &community, true),
            (Tlp::Amber, &everyone, false),
            (Tlp::Amber, &none, false),
            (Tlp::AmberStrict, &named, true),
            (Tlp::AmberStrict, &community, false),
            (Tlp::AmberStrict, &none, false),
            (Tlp::Red, &named, true),
            (Tlp::Red, &community, false),
            (Tlp::Red, &everyone, false),
            (Tlp::Red, &none, false),
        ];
        for (tlp, audience, allowed) in cases {
            assert_eq!(
                Sharing::new(tlp, audience.clone()).is_ok(),
                allowed,
                "{tlp} {audience:?}"
            );
        }
    }

    #[test]
    fn clear_and_default_green_mean_all_partners() {
        let named = Audience {
            organizations: orgs(&["ngo"]),
            ..Audience::default()
        };
        assert!(
            Sharing::new(Tlp::Clear, named)
                .unwrap()
                .audience()
                .all_partners
        );
        assert!(
            Sharing::new(Tlp::Green, Audience::default())
                .unwrap()
                .audience()
                .all_partners
        );
        let community = Audience {
            communities: communities(&["at"]),
            ..Audience::default()
        };
        assert!(
            !Sharing::new(Tlp::Green, community)
                .unwrap()
                .audience()
                .all_partners
        );
    }
}
