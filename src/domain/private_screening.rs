//! The private screening protocol's hashing: the one definition shared by
//! the server (which stores each record's bucket) and by clients (which
//! hash the addresses they screen and send only bucket prefixes).
//!
//! A link key (see [`ChainAddress::link_keys`]) is hashed as
//! `SHA-256("tracewire-private-screening-v1:" || link_key)`; its bucket is
//! the first [`PREFIX_BITS`] bits of that hash, written as
//! [`PREFIX_HEX_CHARS`] lowercase hex characters. `docs/private-screening.md`
//! explains the choice of hash and prefix length, with numbers.
//!
//! [`ChainAddress::link_keys`]: super::chains::ChainAddress::link_keys
use sha2::{Digest, Sha256};

/// The protocol version a request and its answer name.
pub const VERSION: u32 = 1;

/// Domain separation: the same link key hashes differently here than in
/// any other use of SHA-256.
pub const HASH_LABEL: &str = "tracewire-private-screening-v1:";

/// How many leading bits of the hash name a bucket.
pub const PREFIX_BITS: u32 = 20;

/// A bucket prefix written out: [`PREFIX_BITS`] / 4 hex characters.
pub const PREFIX_HEX_CHARS: usize = (PREFIX_BITS / 4) as usize;

/// The protocol hash of one link key.
pub fn key_hash(link_key: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(HASH_LABEL.as_bytes());
    hasher.update(link_key.as_bytes());
    hasher.finalize().into()
}

/// The bucket of a hash: its first [`PREFIX_BITS`] bits as a number.
pub fn bucket_of(hash: &[u8; 32]) -> u32 {
    u32::from_be_bytes([0, hash[0], hash[1], hash[2]]) >> (24 - PREFIX_BITS)
}

/// The bucket of a link key (what the server stores beside the record).
pub fn bucket_of_key(link_key: &str) -> u32 {
    bucket_of(&key_hash(link_key))
}

/// A bucket written as a request names it.
pub fn prefix_hex(bucket: u32) -> String {
    format!("{bucket:0width$x}", width = PREFIX_HEX_CHARS)
}

/// Reads a prefix of exactly [`PREFIX_HEX_CHARS`] hex characters (either case).
pub fn parse_prefix(text: &str) -> Result<u32, String> {
    if text.len() != PREFIX_HEX_CHARS || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "a prefix is exactly {PREFIX_HEX_CHARS} hex characters (the first {PREFIX_BITS} bits of the hash)"
        ));
    }
    u32::from_str_radix(text, 16).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_sha256_of_the_label_and_the_key() {
        // Computed independently:
        // printf 'tracewire-private-screening-v1:evm:000000000000000000000000000000000000dead' | sha256sum
        let hash = key_hash("evm:000000000000000000000000000000000000dead");
        assert_eq!(
            hex::encode(hash),
            "9d4a64ab60b9f9043d1c1b98bdb8a99a400a0cb28af0442341bcf5383b821ebd"
        );
        assert_eq!(bucket_of(&hash), 0x9d4a6);
        assert_eq!(prefix_hex(bucket_of(&hash)), "9d4a6");
    }

    /// The worked example of docs/private-screening.md, value for value.
    #[test]
    fn the_documented_example_holds() {
        let cases = [
            (
                Some("eth"),
                "0x52908400098527886E0F7030069857D2E4169EE7",
                "evm:52908400098527886e0f7030069857d2e4169ee7",
                "525e3cf0f639ef177b03221bcd21b7b2b984dd325d1c3254021b596e6835f276",
            ),
            (
                Some("trx"),
                "TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL",
                "evm:8840e6c55b9ada326d211d818c34a994aeced808",
                "9ed29b31c0a1eea06bdd632e0e18d590a3e9d9223167e1ff9779e862200dbd4e",
            ),
            (
                Some("btc"),
                "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
                "btc:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
                "d307fd1c1fd1eb6e23825739b9a49ba966f94880af78f8e0eb6a20ebe3470a79",
            ),
        ];
        for (chain, address, key, hash) in cases {
            let forms = crate::domain::chains::lookup_forms(chain, address).unwrap();
            assert_eq!(forms[0].link_keys()[0], key, "{address}");
            assert_eq!(hex::encode(key_hash(key)), hash, "{address}");
        }
        // Without a chain, a legacy address is also a Bitcoin Cash and a
        // Bitcoin SV address: three keys to hash.
        let forms = crate::domain::chains::lookup_forms(None, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
            .unwrap();
        let keys: Vec<String> = forms.iter().flat_map(|f| f.link_keys()).collect();
        assert_eq!(
            keys,
            [
                "btc:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
                "bch:bitcoincash:qpmmlusvvrjj9ha2xdgv8xcrpfwsqn5rngt3k26ve2",
                "bsv:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
            ]
        );
    }

    #[test]
    fn prefixes_are_five_hex_characters() {
        assert_eq!(parse_prefix("0a1Bf"), Ok(0x0a1bf));
        assert_eq!(prefix_hex(0x0a1bf), "0a1bf");
        assert!(parse_prefix("0a1b").is_err());
        assert!(parse_prefix("0a1bff").is_err());
        assert!(parse_prefix("0a1bg").is_err());
        assert!(parse_prefix("+a1bf").is_err());
    }
}
