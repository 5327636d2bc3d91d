//! The parts of an intelligence record's envelope: categories, confidence,
//! provenance method, external references, and the kind-specific bodies.
use super::chains::{Chain, ChainAddress};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

macro_rules! closed_vocabulary {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        // Every text is the variant's snake_case name: `rename_all` tells the
        // OpenAPI schema so (utoipa does not see the macro's per-variant renames).
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::ALL.iter().copied().find(|v| v.as_str() == value).ok_or_else(|| {
                    let known: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} {:?} (expected one of: {})", $what, value, known.join(", "))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_vocabulary!(
    /// The brief's fixed category taxonomy.
    Category, "category", {
        HumanTrafficking => "human_trafficking",
        Csam => "csam",
        Sanctions => "sanctions",
        Ransomware => "ransomware",
        DarknetMarket => "darknet_market",
        Scam => "scam",
        Fraud => "fraud",
        TerroristFinancing => "terrorist_financing",
        Mixer => "mixer",
        Gambling => "gambling",
        Exchange => "exchange",
        Theft => "theft",
        Extortion => "extortion",
        Other => "other",
    }
);

closed_vocabulary!(
    /// How a record's content was obtained.
    Method, "method", {
        BlockchainAnalysis => "blockchain_analysis",
        Investigation => "investigation",
        Osint => "osint",
        VictimReport => "victim_report",
        LawEnforcement => "law_enforcement",
        Sighting => "sighting",
        Import => "import",
        Other => "other",
    }
);

closed_vocabulary!(
    /// The kinds of record sharing one envelope.
    RecordKind, "kind", {
        Address => "address",
        Wallet => "wallet",
        Entity => "entity",
        Relationship => "relationship",
        Sighting => "sighting",
    }
);

closed_vocabulary!(
    /// Where a sighting was made.
    SightingContext, "context", {
        Deposit => "deposit",
        Withdrawal => "withdrawal",
        Ad => "ad",
        Seizure => "seizure",
        VictimReport => "victim_report",
        Other => "other",
    }
);

closed_vocabulary!(
    /// What a relationship claims.
    Relation, "relation", {
        MemberOf => "member_of",
        AttributedTo => "attributed_to",
        RelatedTo => "related_to",
    }
);

/// A pointer to outside material (a report, a case, a list entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalReference {
    /// Who publishes it: 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub source_name: String,
    /// An absolute URL, at most 2,048 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    /// Its id at the source, at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500)]
    pub external_id: Option<String>,
}

/// The kind-specific part of a record, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordBody {
    Address(ChainAddress),
    Wallet {
        chain: Chain,
        name: String,
    },
    Entity {
        name: String,
        entity_type: String,
        aliases: Vec<String>,
    },
    Relationship {
        relation: Relation,
        from: String,
        to: String,
    },
    /// "We saw this": a record (`of`) or an address, at a time, so many times.
    Sighting(Sighting),
}

/// What a sighting reports. It names either the record seen or the address
/// seen (the record is then found by the address, as screening finds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub seen: SightingTarget,
    pub seen_at: chrono::DateTime<chrono::Utc>,
    /// How many times (at least 1).
    pub count: u32,
    pub context: SightingContext,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SightingTarget {
    /// The id of a record the sighter can read.
    Record(String),
    Address(ChainAddress),
}

impl RecordBody {
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordBody::Address(_) => RecordKind::Address,
            RecordBody::Wallet { .. } => RecordKind::Wallet,
            RecordBody::Entity { .. } => RecordKind::Entity,
            RecordBody::Relationship { .. } => RecordKind::Relationship,
            RecordBody::Sighting(_) => RecordKind::Sighting,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_round_trip_and_explain_refusals() {
        for category in Category::ALL {
            assert_eq!(category.as_str().parse::<Category>().unwrap(), *category);
        }
        let error = "trafficking".parse::<Category>().unwrap_err();
        assert!(error.contains("human_trafficking"), "{error}");
        assert_eq!(Category::ALL.len(), 14);
        assert_eq!("member_of".parse::<Relation>().unwrap(), Relation::MemberOf);
    }

    /// The OpenAPI schema lists the same texts the API reads and writes.
    #[test]
    fn schemas_list_the_wire_texts() {
        fn schema_values<T: utoipa::PartialSchema>() -> serde_json::Value {
            serde_json::to_value(T::schema()).unwrap()["enum"].clone()
        }
        let wire = |texts: Vec<&str>| serde_json::json!(texts);
        assert_eq!(
            schema_values::<Category>(),
            wire(Category::ALL.iter().map(|c| c.as_str()).collect())
        );
        assert_eq!(
            schema_values::<Method>(),
            wire(Method::ALL.iter().map(|c| c.as_str()).collect())
        );
        for category in Category::ALL {
            assert_eq!(serde_json::to_value(category).unwrap(), category.as_str());
        }
    }
}
