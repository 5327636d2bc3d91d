//! The registry of supported chains.
//!
//! Every chain is declared once, in the `chains!` table at the bottom of
//! this file: its id, display name, aliases, family and (for the
//! Bitcoin-like families) its base58 version prefixes and segwit prefix.
//! Adding a chain means adding one entry there.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::chains::address::AddressKind;

/// The address family of a chain: chains of one family share one address
/// format and one parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Base58check addresses with chain-specific version prefixes, plus
    /// segwit (bech32/bech32m) addresses where the chain has them.
    Utxo,
    /// Bitcoin Cash: cashaddr, and legacy base58check addresses.
    BitcoinCash,
    /// Monero: Monero base58 with a keccak-256 checksum.
    Monero,
    /// Ethereum-compatible chains: `0x` and 40 hex digits (EIP-55).
    Evm,
    /// Tron: base58check of `0x41` and a 20-byte EVM-style account.
    Tron,
    /// Solana: a 32-byte public key in plain base58.
    Solana,
    /// XRP Ledger: classic `r...` addresses and X-addresses.
    Ripple,
}

/// Everything the parsers need to know about one chain.
#[derive(Debug)]
pub(crate) struct ChainSpec {
    pub(crate) id: &'static str,
    pub(crate) name: &'static str,
    /// Other names accepted by [`Chain::parse`], lower case, words joined by `-`.
    pub(crate) aliases: &'static [&'static str],
    pub(crate) family: Family,
    /// Base58check version prefixes (one or two bytes) and the kind each
    /// denotes. All prefixes of a chain have the same length.
    pub(crate) base58_versions: &'static [(&'static [u8], AddressKind)],
    /// The bech32 human-readable part of segwit addresses, if the chain has them.
    pub(crate) segwit_hrp: Option<&'static str>,
}

/// Defaults for the fields most chains leave empty.
const NONE: ChainSpec = ChainSpec {
    id: "",
    name: "",
    aliases: &[],
    family: Family::Evm,
    base58_versions: &[],
    segwit_hrp: None,
};

/// Version prefixes shared by Bitcoin and its forks (BCH legacy, BSV).
const BITCOIN_VERSIONS: &[(&[u8], AddressKind)] =
    &[(&[0x00], AddressKind::P2pkh), (&[0x05], AddressKind::P2sh)];

/// Declares the `Chain` enum, `Chain::ALL` and `Chain::spec` from one table.
macro_rules! chains {
    ($( $(#[doc = $doc:literal])* $variant:ident => $spec:expr; )*) => {
        /// A supported chain. Serialized as its lowercase id (see [`Chain::id`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Chain {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Chain {
            /// Every supported chain, in declaration order.
            pub const ALL: &'static [Chain] = &[$(Chain::$variant),*];

            /// The registry entry of this chain.
            pub(crate) fn spec(self) -> &'static ChainSpec {
                match self {
                    $( Chain::$variant => {
                        const SPEC: ChainSpec = $spec;
                        &SPEC
                    } )*
                }
            }
        }
    };
}

chains! {
    /// Bitcoin.
    Btc => ChainSpec {
        id: "btc", name: "Bitcoin", aliases: &["bitcoin", "xbt"], family: Family::Utxo,
        base58_versions: BITCOIN_VERSIONS, segwit_hrp: Some("bc"),
    };
    /// Bitcoin Cash.
    Bch => ChainSpec {
        id: "bch", name: "Bitcoin Cash", aliases: &["bitcoin-cash", "bitcoincash"],
        family: Family::BitcoinCash, base58_versions: BITCOIN_VERSIONS, ..NONE
    };
    /// Litecoin.
    Ltc => ChainSpec {
        id: "ltc", name: "Litecoin", aliases: &["litecoin"], family: Family::Utxo,
        base58_versions: &[
            (&[0x30], AddressKind::P2pkh),
            (&[0x32], AddressKind::P2sh),
            (&[0x05], AddressKind::P2sh),
        ],
        segwit_hrp: Some("ltc"),
    };
    /// Dogecoin.
    Doge => ChainSpec {
        id: "doge", name: "Dogecoin", aliases: &["dogecoin"], family: Family::Utxo,
        base58_versions: &[(&[0x1e], AddressKind::P2pkh), (&[0x16], AddressKind::P2sh)], ..NONE
    };
    /// Dash.
    Dash => ChainSpec {
        id: "dash", name: "Dash", family: Family::Utxo,
        base58_versions: &[(&[0x4c], AddressKind::P2pkh), (&[0x10], AddressKind::P2sh)], ..NONE
    };
    /// Zcash (transparent addresses only).
    Zec => ChainSpec {
        id: "zec", name: "Zcash", aliases: &["zcash"], family: Family::Utxo,
        base58_versions: &[
            (&[0x1c, 0xb8], AddressKind::P2pkh),
            (&[0x1c, 0xbd], AddressKind::P2sh),
        ],
        ..NONE
    };
    /// Monero.
    Xmr => ChainSpec { id: "xmr", name: "Monero", aliases: &["monero"], family: Family::Monero, ..NONE };
    /// Ethereum.
    Eth => ChainSpec { id: "eth", name: "Ethereum", aliases: &["ethereum", "ether"], family: Family::Evm, ..NONE };
    /// Ethereum Classic.
    Etc => ChainSpec {
        id: "etc", name: "Ethereum Classic", aliases: &["ethereum-classic", "ethereumclassic"],
        family: Family::Evm, ..NONE
    };
    /// BNB Smart Chain.
    Bsc => ChainSpec {
        id: "bsc", name: "BNB Smart Chain",
        aliases: &["bnb-smart-chain", "binance-smart-chain", "bnb", "bep20", "bep-20"],
        family: Family::Evm, ..NONE
    };
    /// Polygon PoS.
    Polygon => ChainSpec {
        id: "polygon", name: "Polygon PoS", aliases: &["matic", "pol", "polygon-pos"],
        family: Family::Evm, ..NONE
    };
    /// Arbitrum One.
    Arb => ChainSpec {
        id: "arb", name: "Arbitrum One", aliases: &["arbitrum", "arbitrum-one"],
        family: Family::Evm, ..NONE
    };
    /// OP Mainnet (Optimism).
    Op => ChainSpec {
        id: "op", name: "OP Mainnet", aliases: &["optimism", "op-mainnet"], family: Family::Evm, ..NONE
    };
    /// Base.
    Base => ChainSpec { id: "base", name: "Base", family: Family::Evm, ..NONE };
    /// Avalanche C-Chain.
    Avax => ChainSpec {
        id: "avax", name: "Avalanche C-Chain",
        aliases: &["avalanche", "avalanche-c", "avax-c", "avalanche-c-chain"],
        family: Family::Evm, ..NONE
    };
    /// Tron.
    Trx => ChainSpec {
        id: "trx", name: "Tron", aliases: &["tron", "trc20", "trc-20"], family: Family::Tron, ..NONE
    };
    /// Solana.
    Sol => ChainSpec { id: "sol", name: "Solana", aliases: &["solana"], family: Family::Solana, ..NONE };
    /// XRP Ledger.
    Xrp => ChainSpec {
        id: "xrp", name: "XRP Ledger", aliases: &["ripple", "xrpl", "xrp-ledger"],
        family: Family::Ripple, ..NONE
    };
    /// Bitcoin Gold.
    Btg => ChainSpec {
        id: "btg", name: "Bitcoin Gold", aliases: &["bitcoin-gold", "bitcoingold"], family: Family::Utxo,
        base58_versions: &[(&[0x26], AddressKind::P2pkh), (&[0x17], AddressKind::P2sh)],
        segwit_hrp: Some("btg"),
    };
    /// Bitcoin SV.
    Bsv => ChainSpec {
        id: "bsv", name: "Bitcoin SV", aliases: &["bitcoin-sv", "bitcoinsv"], family: Family::Utxo,
        base58_versions: BITCOIN_VERSIONS, ..NONE
    };
    /// Verge.
    Xvg => ChainSpec {
        id: "xvg", name: "Verge", aliases: &["verge"], family: Family::Utxo,
        base58_versions: &[(&[0x1e], AddressKind::P2pkh), (&[0x21], AddressKind::P2sh)], ..NONE
    };
}

impl Chain {
    /// Finds a chain by id or alias, ignoring case; `_` and spaces count as
    /// `-` (so "Avalanche C", "avalanche_c" and "avalanche-c" all work).
    pub fn parse(name: &str) -> Option<Chain> {
        let wanted: String = name
            .trim()
            .chars()
            .map(|c| match c {
                '_' | ' ' => '-',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Chain::ALL.iter().copied().find(|chain| {
            let spec = chain.spec();
            spec.id == wanted || spec.aliases.contains(&wanted.as_str())
        })
    }

    /// The short lowercase id, e.g. `"btc"`; this is the serialized form.
    pub fn id(self) -> &'static str {
        self.spec().id
    }

    /// A human-readable name, e.g. `"Bitcoin Cash"`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The other names [`Chain::parse`] accepts for this chain.
    pub fn aliases(self) -> &'static [&'static str] {
        self.spec().aliases
    }

    /// The address family of this chain.
    pub fn family(self) -> Family {
        self.spec().family
    }

    /// Whether this chain uses Ethereum-style `0x` addresses.
    pub fn is_evm(self) -> bool {
        self.family() == Family::Evm
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Chain {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Chain {
    /// Accepts ids and aliases, like [`Chain::parse`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Chain::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown chain {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_aliases_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for &chain in Chain::ALL {
            assert_eq!(Chain::parse(chain.id()), Some(chain));
            assert_eq!(Chain::parse(&chain.id().to_uppercase()), Some(chain));
            assert!(seen.insert(chain.id()), "duplicate id {}", chain.id());
            for alias in chain.aliases() {
                assert!(seen.insert(alias), "duplicate alias {alias}");
                assert_eq!(Chain::parse(alias), Some(chain));
            }
            if chain.family() == Family::Utxo || chain.family() == Family::BitcoinCash {
                let versions = chain.spec().base58_versions;
                assert!(!versions.is_empty(), "{chain} has no base58 versions");
                assert!(versions.iter().all(|(v, _)| v.len() == versions[0].0.len()));
            }
        }
    }

    #[test]
    fn common_aliases() {
        for (name, chain) in [
            ("bitcoin", Chain::Btc),
            ("Ethereum", Chain::Eth),
            ("ARBITRUM", Chain::Arb),
            ("tron", Chain::Trx),
            ("ripple", Chain::Xrp),
            ("monero", Chain::Xmr),
            ("avalanche-c", Chain::Avax),
            ("Avalanche C", Chain::Avax),
            ("ethereum-classic", Chain::Etc),
            ("bitcoin_cash", Chain::Bch),
        ] {
            assert_eq!(Chain::parse(name), Some(chain), "{name}");
        }
        assert_eq!(Chain::parse("nope"), None);
        assert!(Chain::Polygon.is_evm());
        assert!(!Chain::Trx.is_evm());
    }

    #[test]
    fn serde_uses_ids() {
        assert_eq!(
            serde_json::to_string(&Chain::Avax).ok().as_deref(),
            Some("\"avax\"")
        );
        let parsed: Result<Chain, _> = serde_json::from_str("\"etc\"");
        assert_eq!(parsed.ok(), Some(Chain::Etc));
        let bad: Result<Chain, _> = serde_json::from_str("\"dogecash\"");
        assert!(bad.is_err());
    }
}
