//! Published test vectors: BIP-173, BIP-350, EIP-55, the cashaddr spec's
//! address translation examples, XLS-5d X-addresses, plus Monero and Tron.

use tracewire::domain::chains::{AddressError, AddressExtra, AddressKind, Chain, ChainAddress};

fn parse(chain: Chain, input: &str) -> Result<ChainAddress, AddressError> {
    ChainAddress::parse(chain, input)
}

fn canonical(chain: Chain, input: &str) -> String {
    match parse(chain, input) {
        Ok(address) => address.canonical().to_string(),
        Err(e) => panic!("{input} rejected for {chain}: {e}"),
    }
}

fn reason(chain: Chain, input: &str) -> String {
    match parse(chain, input) {
        Ok(address) => panic!("{input} accepted for {chain} as {address}"),
        Err(e) => e.to_string(),
    }
}

/// BIP-350's valid mainnet addresses (including BIP-173's v0 one), with kinds.
#[test]
fn bip350_valid_mainnet() {
    for (input, kind) in [
        (
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            AddressKind::P2wpkh,
        ),
        (
            "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
            AddressKind::WitnessUnknown { version: 1 },
        ),
        (
            "BC1SW50QGDZ25J",
            AddressKind::WitnessUnknown { version: 16 },
        ),
        (
            "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
            AddressKind::WitnessUnknown { version: 2 },
        ),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            AddressKind::P2tr,
        ),
        (
            "bc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq9e75rs",
            AddressKind::P2wpkh,
        ),
        (
            "bc1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvses5wp4dt",
            AddressKind::P2wsh,
        ),
    ] {
        let address = parse(Chain::Btc, input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(address.kind(), kind, "{input}");
        assert_eq!(address.canonical(), input.to_ascii_lowercase());
        assert_eq!(
            address.link_keys(),
            vec![format!("btc:{}", input.to_ascii_lowercase())]
        );
    }
}

/// Testnet vectors of BIP-173/350 are valid segwit, but not mainnet bitcoin.
#[test]
fn bip350_valid_testnet_is_rejected_as_wrong_prefix() {
    for input in [
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
    ] {
        assert!(
            reason(Chain::Btc, input).contains("wrong address prefix \"tb\""),
            "{input}"
        );
    }
}

/// BIP-173's invalid addresses (the pre-BIP-350 list).
#[test]
fn bip173_invalid() {
    for (input, expected) in [
        (
            "tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty",
            "wrong address prefix \"tc\"",
        ),
        (
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
            "bech32 checksum invalid",
        ),
        ("BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", ""),
        ("bc1rw5uspcuh", ""),
        (
            "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",
            "",
        ),
        (
            "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
            "witness program length",
        ),
        (
            "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sI5k7",
            "",
        ),
        ("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", ""),
        (
            "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv",
            "",
        ),
        ("bc1gmk9yu", "empty data section"),
    ] {
        let why = reason(Chain::Btc, input);
        assert!(why.contains(expected), "{input}: {why}");
    }
}

/// BIP-350's invalid addresses, with the reason each must give.
#[test]
fn bip350_invalid() {
    for (input, expected) in [
        (
            "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
            "wrong address prefix \"tc\"",
        ),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
            "requires bech32m",
        ),
        (
            "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
            "",
        ),
        (
            "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
            "requires bech32m",
        ),
        (
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
            "requires bech32",
        ),
        (
            "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
            "",
        ),
        (
            "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
            "invalid bech32 character 'o'",
        ),
        (
            "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
            "witness version 17",
        ),
        ("bc1pw5dgrnzv", "witness program length"),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
            "witness program length",
        ),
        (
            "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
            "witness program length",
        ),
        (
            "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
            "",
        ),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
            "padding",
        ),
        (
            "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
            "",
        ),
        ("bc1gmk9yu", "empty data section"),
    ] {
        let why = reason(Chain::Btc, input);
        assert!(why.contains(expected), "{input}: {why}");
    }
}

#[test]
fn bech32_mixed_case_is_rejected() {
    let why = reason(Chain::Btc, "bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
    assert!(why.contains("mixed upper and lower case"), "{why}");
}

#[test]
fn base58_bitcoin() {
    let p2pkh = parse(Chain::Btc, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2").ok();
    assert_eq!(p2pkh.map(|a| a.kind()), Some(AddressKind::P2pkh));
    let p2sh = parse(Chain::Btc, " 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy\n").ok();
    assert_eq!(p2sh.as_ref().map(|a| a.kind()), Some(AddressKind::P2sh));
    assert_eq!(
        p2sh.map(|a| a.canonical().to_string()).as_deref(),
        Some("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy")
    );
    assert_eq!(
        reason(Chain::Btc, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"),
        "bad base58check checksum"
    );
    // A testnet address: valid base58check, wrong version byte.
    assert_eq!(
        reason(Chain::Btc, "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"),
        "unknown version byte 0x6f for btc"
    );
    assert!(reason(Chain::Btc, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN0")
        .contains("invalid base58 character '0'"));
}

/// EIP-55's examples: all-caps, all-lower and the mixed-case checksummed ones.
#[test]
fn eip55_examples() {
    for input in [
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77",
        "0x27b1fdb04752bbc536007a920d24acb045561c26",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ] {
        let lower = input.to_ascii_lowercase();
        for &chain in Chain::ALL.iter().filter(|c| c.is_evm()) {
            let address = parse(chain, input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(address.canonical(), lower);
            assert_eq!(address.link_keys(), vec![format!("evm:{}", &lower[2..])]);
        }
    }
    assert_eq!(
        reason(Chain::Eth, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
        "EIP-55 checksum mismatch in mixed-case address"
    );
    assert_eq!(
        reason(Chain::Eth, "0x5AaEB6053F3E94C9b9A09f33669435E7Ef1BeAed"),
        "EIP-55 checksum mismatch in mixed-case address"
    );
    assert_eq!(
        reason(Chain::Eth, "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
        "EVM address must start with 0x"
    );
    assert!(
        reason(Chain::Eth, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea").contains("wrong length")
    );
    assert!(
        reason(Chain::Eth, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg")
            .contains("invalid hex character 'g'")
    );
}

/// The cashaddr spec's "Examples of address translation".
#[test]
fn cashaddr_spec_translations() {
    for (legacy, cashaddr) in [
        (
            "1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu",
            "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
        ),
        (
            "1KXrWXciRDZUpQwQmuM1DbwsKDLYAYsVLR",
            "bitcoincash:qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy",
        ),
        (
            "16w1D5WRVKJuZUsSRzdLp9w3YGcgoxDXb",
            "bitcoincash:qqq3728yw0y47sqn6l2na30mcw6zm78dzqre909m2r",
        ),
        (
            "3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC",
            "bitcoincash:ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq",
        ),
        (
            "3LDsS579y7sruadqu11beEJoTjdFiFCdX4",
            "bitcoincash:pr95sy3j9xwd2ap32xkykttr4cvcu7as4yc93ky28e",
        ),
        (
            "31nwvkZwyPdgzjBJZXfDmSWsC4ZLKpYyUw",
            "bitcoincash:pqq3728yw0y47sqn6l2na30mcw6zm78dzq5ucqzc37",
        ),
    ] {
        let bare = cashaddr.trim_start_matches("bitcoincash:");
        let forms = [
            legacy.to_string(),
            cashaddr.to_string(),
            cashaddr.to_ascii_uppercase(),
            bare.to_string(),
            bare.to_ascii_uppercase(),
        ];
        let parsed: Vec<ChainAddress> = forms
            .iter()
            .map(|f| parse(Chain::Bch, f).unwrap_or_else(|e| panic!("{f}: {e}")))
            .collect();
        for address in &parsed {
            assert_eq!(address, &parsed[0]);
            assert_eq!(address.canonical(), cashaddr);
            assert_eq!(address.link_keys(), vec![format!("bch:{cashaddr}")]);
        }
    }
    let why = reason(
        Chain::Bch,
        "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6A",
    );
    assert!(why.contains("mixed upper and lower case"), "{why}");
    assert_eq!(
        reason(
            Chain::Bch,
            "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6c"
        ),
        "cashaddr checksum invalid"
    );
    assert!(reason(
        Chain::Bch,
        "bchtest:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"
    )
    .contains("wrong address prefix"));
}

/// XLS-5d's README examples: one account, no tag and tags 1 and 14.
#[test]
fn xrp_x_addresses() {
    let classic = "r9cZA1mLK5R5Am25ArfXFmqgNwjZgnfk59";
    for (x_address, tag) in [
        ("X7AcgcsBL6XDcUb289X4mJ8djcdyKaB5hJDWMArnXr61cqZ", None),
        ("X7AcgcsBL6XDcUb289X4mJ8djcdyKaGZMhc9YTE92ehJ2Fu", Some(1)),
        ("X7AcgcsBL6XDcUb289X4mJ8djcdyKaGo2K5VpXpmCqbV2gS", Some(14)),
    ] {
        let address = parse(Chain::Xrp, x_address).unwrap_or_else(|e| panic!("{x_address}: {e}"));
        assert_eq!(address.canonical(), classic);
        assert_eq!(
            address.extra(),
            tag.map(AddressExtra::DestinationTag).as_ref()
        );
        assert_eq!(address.link_keys(), vec![format!("xrp:{classic}")]);
    }
    let tagged = parse(Chain::Xrp, &format!("{classic}?dt=14")).ok();
    let x_tagged = parse(
        Chain::Xrp,
        "X7AcgcsBL6XDcUb289X4mJ8djcdyKaGo2K5VpXpmCqbV2gS",
    )
    .ok();
    assert!(tagged.is_some());
    assert_eq!(tagged, x_tagged);
    assert_eq!(parse(Chain::Xrp, &format!("{classic}:14")).ok(), x_tagged);
    assert_eq!(
        reason(
            Chain::Xrp,
            "T719a5UwUCnEs54UsxG9CJYYDhwmFCqkr7wxCcNcfZ6p5GZ"
        ),
        "testnet X-address not accepted (mainnet only)"
    );
    assert!(
        reason(Chain::Xrp, &format!("{classic}?dt=4294967296")).contains("invalid destination tag")
    );
    assert!(reason(
        Chain::Xrp,
        "X7AcgcsBL6XDcUb289X4mJ8djcdyKaGZMhc9YTE92ehJ2Fu:5"
    )
    .contains("given twice"));
    assert_eq!(
        reason(Chain::Xrp, "r9cZA1mLK5R5Am25ArfXFmqgNwjZgnfk58"),
        "bad base58check checksum"
    );
}

/// An integrated address built from a real standard address (OFAC's) and a
/// payment id reduces to that standard address.
#[test]
fn monero_integrated_reduces_to_standard() {
    use sha3::{Digest, Keccak256};
    let standard = "49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa4tZM6RZiFrHmMzgSrhHEqpDYKBe5B2ufNsL";
    let base = parse(Chain::Xmr, standard).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(base.kind(), AddressKind::MoneroStandard);
    assert_eq!(base.canonical(), standard);

    let keys = monero_decode(standard)[1..65].to_vec();
    let mut data = vec![19u8];
    data.extend_from_slice(&keys);
    data.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04]);
    let checksum = Keccak256::digest(&data);
    data.extend_from_slice(&checksum[..4]);
    let integrated = monero_encode(&data);
    assert_eq!(integrated.len(), 106);
    assert!(integrated.starts_with('4'));

    let reduced = parse(Chain::Xmr, &integrated).unwrap_or_else(|e| panic!("{integrated}: {e}"));
    assert_eq!(reduced.canonical(), standard);
    assert_eq!(reduced.kind(), AddressKind::MoneroStandard);
    assert_eq!(
        reduced.extra(),
        Some(&AddressExtra::PaymentId("deadbeef01020304".to_string()))
    );
    assert_eq!(reduced.link_keys(), base.link_keys());

    let mut broken = integrated.clone();
    broken.replace_range(50..51, if &integrated[50..51] == "a" { "b" } else { "a" });
    assert!(parse(Chain::Xmr, &broken).is_err());
}

/// Independent test-side Monero base58 (block-wise), so the crate's codec
/// is not checked against itself.
const B58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const SIZES: [usize; 9] = [0, 2, 3, 5, 6, 7, 9, 10, 11];

fn monero_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for block in data.chunks(8) {
        let mut n: u128 = block.iter().fold(0, |a, &b| a * 256 + u128::from(b));
        let mut chars = vec!['1'; SIZES[block.len()]];
        for c in chars.iter_mut().rev() {
            *c = char::from(B58[(n % 58) as usize]);
            n /= 58;
        }
        out.extend(chars);
    }
    out
}

fn monero_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for block in text.as_bytes().chunks(11) {
        let size = SIZES
            .iter()
            .position(|&s| s == block.len())
            .expect("block size");
        let n = block.iter().fold(0u128, |a, c| {
            a * 58 + B58.iter().position(|b| b == c).expect("alphabet") as u128
        });
        out.extend_from_slice(&n.to_be_bytes()[16 - size..]);
    }
    out
}

#[test]
fn tron_links_to_evm() {
    let tron =
        parse(Chain::Trx, "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre").unwrap_or_else(|e| panic!("{e}"));
    let hex = "0e6b8e34dc115a2848f585851af23d99d09b8463";
    assert_eq!(tron.link_keys(), vec![format!("evm:{hex}")]);
    let eth = parse(Chain::Eth, &format!("0x{hex}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(eth.link_keys(), tron.link_keys());
    let from_hex = parse(Chain::Trx, &format!("41{hex}")).ok();
    assert_eq!(from_hex.as_ref(), Some(&tron));
    assert_eq!(
        reason(Chain::Trx, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        "unknown version byte 0x00 for trx"
    );
}

#[test]
fn solana() {
    let key = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU";
    assert_eq!(canonical(Chain::Sol, key), key);
    assert!(reason(Chain::Sol, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2").contains("wrong length"));
}

#[test]
fn other_utxo_chains() {
    assert_eq!(
        parse(Chain::Zec, "t3Vz22vK5z2LcKEdg16Yv4FFneEL1zg9ojd")
            .map(|a| a.kind())
            .ok(),
        Some(AddressKind::P2sh)
    );
    assert_eq!(
        parse(Chain::Doge, "DQkiL71KkuGEgS9QFCKJkBeHmzM5YFYGkG")
            .map(|a| a.kind())
            .ok(),
        Some(AddressKind::P2pkh)
    );
    // A bitcoin address is not a litecoin one.
    assert!(reason(Chain::Ltc, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
        .contains("unknown version byte 0x00 for ltc"));
    assert!(reason(Chain::Zec, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2").contains("for zec"));
}

#[test]
fn asset_tickers() {
    use tracewire::domain::chains::{asset_chains, parse_asset_address};
    assert_eq!(asset_chains("xbt"), Some(&[Chain::Btc][..]));
    assert_eq!(asset_chains("bitcoin"), Some(&[Chain::Btc][..]));
    assert!(asset_chains("FOO").is_none());
    assert_eq!(
        parse_asset_address("USDT", "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre")
            .map(|a| a.chain())
            .ok(),
        Some(Chain::Trx)
    );
    assert_eq!(
        parse_asset_address("USDC", "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU")
            .map(|a| a.chain())
            .ok(),
        Some(Chain::Sol)
    );
    let why = parse_asset_address("USDT", "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLrf")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        why.as_deref(),
        Some("not a valid USDT address (closest: trx, bad base58check checksum)")
    );
    assert_eq!(
        parse_asset_address("FOO", "x").err(),
        Some(AddressError::UnknownAsset("FOO".to_string()))
    );
}

/// Litecoin P2SH has two spellings of one script hash: `3…` (version 0x05,
/// as on Bitcoin) and `M…` (0x32). Both are kept as typed and linked as one
/// address under the `M…` form; the `3…` form also keeps its own key.
#[test]
fn litecoin_p2sh_spellings_are_linked() {
    let old = parse(Chain::Ltc, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy").unwrap();
    let new = parse(Chain::Ltc, "MQMHBtvnBfxTzt3K2bdxgSE7qZPHSXWsGM").unwrap();
    assert_eq!(old.kind(), AddressKind::P2sh);
    assert_eq!(new.kind(), AddressKind::P2sh);
    assert_eq!(old.canonical(), "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy");
    assert_eq!(new.canonical(), "MQMHBtvnBfxTzt3K2bdxgSE7qZPHSXWsGM");
    assert_eq!(
        new.link_keys(),
        vec!["ltc:MQMHBtvnBfxTzt3K2bdxgSE7qZPHSXWsGM".to_string()]
    );
    assert_eq!(
        old.link_keys(),
        vec![
            "ltc:MQMHBtvnBfxTzt3K2bdxgSE7qZPHSXWsGM".to_string(),
            "ltc:3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy".to_string(),
        ]
    );
    // Another script hash is another address.
    let other = parse(Chain::Ltc, "M7uBSTV2qNDHDe2tHfNMqhFkZucgRMpJQk").unwrap();
    assert_ne!(other.link_keys()[0], new.link_keys()[0]);
    // On Bitcoin, `3…` stays Bitcoin's own key.
    let btc = parse(Chain::Btc, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy").unwrap();
    assert_eq!(
        btc.link_keys(),
        vec!["btc:3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy".to_string()]
    );
}
