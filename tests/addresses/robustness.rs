//! No input makes the parsers panic, and whatever they accept is stable:
//! parsing the canonical form again gives the same address.

use tracewire::domain::chains::{parse_asset_address, Chain, ChainAddress};

/// A small deterministic xorshift generator, so failures are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PREFIXES: &[&str] = &[
    "",
    "bc1",
    "BC1",
    "bc1q",
    "bc1p",
    "ltc1",
    "btg1",
    "tb1",
    "bitcoincash:",
    "BITCOINCASH:",
    "q",
    "p",
    "0x",
    "0X",
    "41",
    "T",
    "X",
    "r",
    "4",
    "8",
    "t1",
    "t3",
    "1",
    "3",
    "L",
    "M",
    ":",
    "?dt=",
    "é",
    "\u{0}",
];
const ALPHABETS: &[&str] = &[
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz",
    "qpzry9x8gf2tvdw0s3jn54khce6mua7l",
    "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
    "0123456789abcdefABCDEF",
    "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz",
    "01OIl:?=- \t\u{fffd}ß€𝄞",
];
const VALID: &[(Chain, &str)] = &[
    (Chain::Btc, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
    (Chain::Btc, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"),
    (Chain::Btc, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
    (Chain::Bch, "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"),
    (Chain::Eth, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
    (Chain::Trx, "TBHTJqAy4DhHhmT3dNceJYNRz4SdLofLre"),
    (Chain::Xrp, "X7AcgcsBL6XDcUb289X4mJ8djcdyKaGZMhc9YTE92ehJ2Fu"),
    (Chain::Xrp, "r9cZA1mLK5R5Am25ArfXFmqgNwjZgnfk59?dt=7"),
    (
        Chain::Xmr,
        "49HqitRzdnhYjgTEAhgGpCfsjdTeMbUTU6cyR4JV1R7k2Eej9rGT8JpFiYDa4tZM6RZiFrHmMzgSrhHEqpDYKBe5B2ufNsL",
    ),
    (Chain::Sol, "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"),
    (Chain::Zec, "t1MMXtBrSp1XG38Lx9cePcNUCJj5vdWfUWL"),
];

/// Parses on every chain and for every ticker; accepted values must be stable.
fn check(input: &str) {
    for &chain in Chain::ALL {
        if let Ok(address) = ChainAddress::parse(chain, input) {
            let again = ChainAddress::parse(chain, address.canonical());
            let again = match (again, address.extra()) {
                // The tag/payment id is not in the canonical string; compare the rest.
                (Ok(a), Some(_)) => a.link_keys() == address.link_keys(),
                (Ok(a), None) => a == address,
                (Err(_), _) => false,
            };
            assert!(again, "{chain}: {input:?} -> {address} is not stable");
        }
    }
    for ticker in ["XBT", "USDT", "USDC", "XMR", "XRP", "BCH", "ETH", "nope"] {
        let _ = parse_asset_address(ticker, input);
    }
}

#[test]
fn random_strings_do_not_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..4000 {
        let mut input = rng.pick(PREFIXES).to_string();
        let alphabet: Vec<char> = rng.pick(ALPHABETS).chars().collect();
        for _ in 0..rng.below(120) {
            input.push(alphabet[rng.below(alphabet.len())]);
        }
        check(&input);
    }
}

#[test]
fn mutated_valid_addresses_do_not_panic() {
    let mut rng = Rng(42);
    for &(chain, valid) in VALID {
        assert!(ChainAddress::parse(chain, valid).is_ok(), "{valid}");
        check(valid);
        let chars: Vec<char> = valid.chars().collect();
        for _ in 0..300 {
            let mut mutated = chars.clone();
            match rng.below(4) {
                0 => {
                    let i = rng.below(mutated.len());
                    mutated[i] = char::from(b'0' + (rng.below(75) as u8));
                }
                1 => mutated.truncate(rng.below(mutated.len())),
                2 => {
                    let i = rng.below(mutated.len());
                    mutated.insert(i, mutated[i]);
                }
                _ => mutated.swap(rng.below(chars.len()), rng.below(chars.len())),
            }
            check(&mutated.into_iter().collect::<String>());
        }
    }
    check(&"1".repeat(10_000));
    check(&"z".repeat(300));
    check("");
    check("   ");
}
