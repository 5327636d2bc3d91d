//! [`ChainAddress`]: an address that has been checked against the rules of
//! its chain and stored in that chain's one canonical form.

use std::fmt;

use serde::Serialize;

use crate::domain::chains::chain::{Chain, Family};
use crate::domain::chains::formats;

/// Longest input accepted, after trimming. The longest real form is a
/// Monero integrated address (106 characters); this bound keeps the
/// quadratic base58 decoders cheap on hostile input.
pub const MAX_INPUT_LEN: usize = 256;

/// What an address denotes on its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    /// Pay to public key hash (base58 `1...`, cashaddr `q...`, Zcash `t1...`).
    P2pkh,
    /// Pay to script hash (base58 `3...`, cashaddr `p...`, Zcash `t3...`).
    P2sh,
    /// Segwit v0 key hash (20-byte program).
    P2wpkh,
    /// Segwit v0 script hash (32-byte program).
    P2wsh,
    /// Segwit v1 taproot (32-byte program).
    P2tr,
    /// Any other valid segwit program (future versions).
    WitnessUnknown {
        /// The witness version, 1 to 16.
        version: u8,
    },
    /// An Ethereum-style account (all EVM chains).
    EvmAccount,
    /// A Tron account.
    TronAccount,
    /// A Solana account (ed25519 public key).
    SolanaAccount,
    /// An XRP Ledger account (classic address; X-addresses are reduced to it).
    RippleAccount,
    /// A Monero standard address (integrated addresses are reduced to it).
    MoneroStandard,
    /// A Monero subaddress.
    MoneroSubaddress,
}

/// Information carried next to the address proper. It is not part of the
/// account's identity, so it does not enter [`ChainAddress::link_keys`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressExtra {
    /// The 8-byte payment id of a Monero integrated address, as 16 lowercase hex digits.
    PaymentId(String),
    /// An XRP Ledger destination tag.
    DestinationTag(u32),
}

/// A parsed, valid address in canonical form.
///
/// The fields are private: the only way to get one is [`ChainAddress::parse`]
/// (or [`crate::domain::chains::parse_asset_address`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ChainAddress {
    chain: Chain,
    #[serde(rename = "address")]
    canonical: String,
    kind: AddressKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<AddressExtra>,
    #[serde(skip)]
    link_key: String,
    /// `<chain>:<canonical>` when the link key is another spelling (a
    /// Litecoin `3…` P2SH address, linked under its `M…` form): records
    /// stored before the two spellings were linked are found under it.
    #[serde(skip)]
    typed_link_key: Option<String>,
}

/// The result of a family parser, turned into a [`ChainAddress`] by [`ChainAddress::parse`].
pub(crate) struct Parsed {
    pub(crate) canonical: String,
    pub(crate) kind: AddressKind,
    pub(crate) extra: Option<AddressExtra>,
    pub(crate) link_key: String,
}

impl Parsed {
    /// An address found under its own chain and canonical form (`<chain>:<canonical>`),
    /// with nothing extra: what most formats produce.
    pub(crate) fn plain(chain: Chain, canonical: String, kind: AddressKind) -> Parsed {
        let link_key = format!("{}:{canonical}", chain.id());
        Parsed {
            canonical,
            kind,
            extra: None,
            link_key,
        }
    }
}

impl ChainAddress {
    /// Parses `input` as an address on `chain`.
    ///
    /// Surrounding whitespace is ignored. On success the address is in the
    /// chain's canonical form (e.g. lower case for EVM and bech32 addresses,
    /// `bitcoincash:` cashaddr for Bitcoin Cash, the classic address for XRP).
    pub fn parse(chain: Chain, input: &str) -> Result<ChainAddress, AddressError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(AddressError::Empty);
        }
        if input.len() > MAX_INPUT_LEN {
            return Err(AddressError::TooLong {
                len: input.len(),
                max: MAX_INPUT_LEN,
            });
        }
        let parsed = match chain.family() {
            Family::Utxo => formats::utxo::parse(chain, input),
            Family::BitcoinCash => formats::bitcoin_cash::parse(chain, input),
            Family::Monero => formats::monero::parse(input),
            Family::Evm => formats::evm::parse(input),
            Family::Tron => formats::tron::parse(input),
            Family::Solana => formats::solana::parse(input),
            Family::Ripple => formats::ripple::parse(input),
        }?;
        let typed_key = format!("{}:{}", chain.id(), parsed.canonical);
        let typed_link_key =
            (chain.family() == Family::Utxo && typed_key != parsed.link_key).then_some(typed_key);
        Ok(ChainAddress {
            chain,
            canonical: parsed.canonical,
            kind: parsed.kind,
            extra: parsed.extra,
            link_key: parsed.link_key,
            typed_link_key,
        })
    }

    /// The chain this address belongs to.
    pub fn chain(&self) -> Chain {
        self.chain
    }

    /// The canonical form of the address.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// What the address denotes.
    pub fn kind(&self) -> AddressKind {
        self.kind
    }

    /// The payment id or destination tag given with the address, if any.
    pub fn extra(&self) -> Option<&AddressExtra> {
        self.extra.as_ref()
    }

    /// The normalized keys under which the same underlying account is found
    /// across chains and encodings.
    ///
    /// * every EVM chain address, and a Tron address (same 20-byte account),
    ///   gives `evm:<40 lowercase hex>`;
    /// * a Bitcoin Cash address gives `bch:<canonical cashaddr>`, whether it
    ///   was typed in cashaddr or legacy form;
    /// * a Litecoin P2SH address gives `ltc:<M… form>`, whether it was
    ///   typed `3…` (version 0x05, shared with Bitcoin) or `M…` (0x32);
    ///   a `3…` address also gives `ltc:<3… form>`, its key before the
    ///   spellings were linked, so older records are still found;
    /// * others give `<chain id>:<canonical>` (for Monero the standard
    ///   address, for XRP the classic address, without tag or payment id).
    ///
    /// The first key is the one a record is stored under.
    pub fn link_keys(&self) -> Vec<String> {
        let mut keys = vec![self.link_key.clone()];
        keys.extend(self.typed_link_key.clone());
        keys
    }
}

impl fmt::Display for ChainAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

/// Why an input is not a valid address. The messages are meant for end users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Nothing but whitespace was given.
    #[error("address is empty")]
    Empty,
    /// The input is longer than any address.
    #[error("address is too long ({len} characters, at most {max})")]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
        /// The limit, [`MAX_INPUT_LEN`].
        max: usize,
    },
    /// A character outside the alphabet of the encoding.
    #[error("invalid {encoding} character {character:?} at position {position}")]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its byte offset in the (trimmed) input.
        position: usize,
        /// The encoding, e.g. "base58".
        encoding: &'static str,
    },
    /// The input does not have the shape of the encoding at all.
    #[error("invalid {encoding}: {reason}")]
    Malformed {
        /// The encoding, e.g. "bech32".
        encoding: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Decoded data of the wrong size.
    #[error("wrong length: {what} must be {expected}, found {found}")]
    WrongLength {
        /// What was measured.
        what: &'static str,
        /// The expected size, in words.
        expected: String,
        /// The size found.
        found: usize,
    },
    /// Upper and lower case letters in an encoding where case must be uniform.
    #[error("mixed upper and lower case is not allowed in a {encoding} address")]
    MixedCase {
        /// The encoding, e.g. "bech32".
        encoding: &'static str,
    },
    /// The base58check checksum does not match.
    #[error("bad base58check checksum")]
    Base58Checksum,
    /// A base58check version prefix the chain does not use.
    #[error("unknown version byte{} {version} for {chain}", if version.len() > 4 { "s" } else { "" })]
    UnknownVersion {
        /// The prefix found, as `0x..` hex.
        version: String,
        /// The chain asked for.
        chain: Chain,
    },
    /// The bech32/bech32m checksum does not match.
    #[error("bech32 checksum invalid")]
    Bech32Checksum,
    /// A valid checksum of the wrong variant for the witness version (BIP-350).
    #[error("bech32 checksum variant wrong: witness version {version} requires {expected}")]
    Bech32Variant {
        /// The witness version.
        version: u8,
        /// "bech32" or "bech32m".
        expected: &'static str,
    },
    /// The prefix (bech32 human-readable part, cashaddr prefix) is not the chain's mainnet one.
    #[error("wrong address prefix {found:?} for {chain} (expected {expected:?})")]
    WrongPrefix {
        /// The prefix found, lower case.
        found: String,
        /// The prefix expected.
        expected: &'static str,
        /// The chain asked for.
        chain: Chain,
    },
    /// A segwit witness version above 16.
    #[error("invalid segwit witness version {0} (must be 0 to 16)")]
    WitnessVersion(u8),
    /// A witness program whose length breaks BIP-141/BIP-350.
    #[error("invalid witness program length: {0}")]
    WitnessProgram(String),
    /// Non-zero or excess padding bits in 5-bit data.
    #[error("invalid padding in {encoding} data")]
    Padding {
        /// "bech32" or "cashaddr".
        encoding: &'static str,
    },
    /// An EVM address without its `0x`.
    #[error("EVM address must start with 0x")]
    MissingHexPrefix,
    /// A mixed-case EVM address whose case pattern is not its EIP-55 checksum.
    #[error("EIP-55 checksum mismatch in mixed-case address")]
    Eip55Mismatch,
    /// The cashaddr checksum does not match.
    #[error("cashaddr checksum invalid")]
    CashAddrChecksum,
    /// A cashaddr version byte of an unknown type.
    #[error("unknown cashaddr version byte 0x{0:02x}")]
    CashAddrVersion(u8),
    /// A Monero string that is not valid Monero base58.
    #[error("invalid Monero base58: {0}")]
    MoneroBase58(&'static str),
    /// The keccak-256 checksum of a Monero address does not match.
    #[error("bad Monero address checksum (keccak-256)")]
    MoneroChecksum,
    /// A Monero address whose public spend or view key is not a point of
    /// the ed25519 curve: no wallet could have made it (Monero's own
    /// address parser refuses it too).
    #[error("the Monero address's public {0} key is not a valid ed25519 point")]
    MoneroKey(&'static str),
    /// A Monero network prefix other than mainnet standard/integrated/subaddress.
    #[error("unknown Monero address prefix {0} (mainnet is 18, 19 integrated, 42 subaddress)")]
    MoneroPrefix(u64),
    /// An X-address for the XRP test network.
    #[error("testnet X-address not accepted (mainnet only)")]
    XAddressTestnet,
    /// An X-address whose flags or reserved bytes are invalid.
    #[error("invalid X-address: {0}")]
    XAddress(&'static str),
    /// A destination tag that is not a number from 0 to 4294967295.
    #[error("invalid destination tag {0:?}: must be a whole number from 0 to 4294967295")]
    DestinationTag(String),
    /// A tag both inside an X-address and after it.
    #[error("destination tag given twice (in the X-address and after it)")]
    DuplicateTag,
    /// An asset ticker with no known chain.
    #[error("unknown asset ticker {0:?}")]
    UnknownAsset(String),
    /// No chain of a multi-chain asset accepts the input.
    #[error("not a valid {ticker} address (closest: {chain}, {reason})")]
    NotForAsset {
        /// The asset ticker, upper case.
        ticker: String,
        /// The chain whose error is reported: the one where parsing got furthest.
        chain: Chain,
        /// Why that chain rejected the input.
        reason: Box<AddressError>,
    },
}

impl AddressError {
    /// How far parsing got before failing: the higher, the more the input
    /// looked like an address of the chain. Used to pick which chain's error
    /// to report for a multi-chain asset.
    pub(crate) fn plausibility(&self) -> u8 {
        use AddressError::*;
        match self {
            Empty
            | TooLong { .. }
            | InvalidCharacter { .. }
            | Malformed { .. }
            | MissingHexPrefix
            | UnknownAsset(_) => 0,
            WrongLength { .. } | MixedCase { .. } | Padding { .. } => 1,
            Base58Checksum | Bech32Checksum | CashAddrChecksum | MoneroBase58(_)
            | MoneroChecksum => 2,
            UnknownVersion { .. }
            | Bech32Variant { .. }
            | WrongPrefix { .. }
            | WitnessVersion(_)
            | WitnessProgram(_)
            | Eip55Mismatch
            | CashAddrVersion(_)
            | MoneroPrefix(_)
            | MoneroKey(_)
            | XAddressTestnet
            | XAddress(_)
            | DestinationTag(_)
            | DuplicateTag => 3,
            NotForAsset { reason, .. } => reason.plausibility(),
        }
    }
}

/// Returns an error if `input` has both upper and lower case ASCII letters.
pub(crate) fn reject_mixed_case(input: &str, encoding: &'static str) -> Result<(), AddressError> {
    let upper = input.bytes().any(|b| b.is_ascii_uppercase());
    let lower = input.bytes().any(|b| b.is_ascii_lowercase());
    if upper && lower {
        Err(AddressError::MixedCase { encoding })
    } else {
        Ok(())
    }
}

/// The character at byte offset `position` of `input`, for error messages.
pub(crate) fn char_at(input: &str, position: usize) -> char {
    input
        .get(position..)
        .and_then(|rest| rest.chars().next())
        .unwrap_or('?')
}
