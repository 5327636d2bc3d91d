//! Every line of the OFAC SDN digital-currency address lists must parse as
//! an address of its asset, except the entries listed in `EXPECTED_REJECTED`,
//! which are not valid addresses for their asset and must be rejected with
//! the given reason.

use std::path::PathBuf;

use tracewire::domain::chains::parse_asset_address;

/// The data directory, relative to this crate's manifest: the copy of
/// `shared/data/ofac-sdn-addresses` kept in the repository (the demo loads
/// the same files), so the test runs on any clone.
const OFAC_DIR_FROM_MANIFEST: &str = "demo-data/ofac-sdn-addresses";

/// Environment variable naming the data directory, used when the path
/// above does not exist.
const OFAC_DIR_ENV: &str = "TRACEWIRE_OFAC_DIR";

/// (ticker, line, substring of the expected error message).
const EXPECTED_REJECTED: &[(&str, &str, &str)] = &[
    // A Tron address (base58check version 0x41) filed under bitcoin.
    (
        "XBT",
        "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq",
        "unknown version byte 0x41 for btc",
    ),
    // 64 hex digits (a transaction hash or key, not an address): '0' is not base58.
    (
        "XMR",
        "5be5543ff73456ab9f2d207887e2af87322c651ea1a873c5b25b7ffae456c320",
        "invalid Monero base58",
    ),
];

fn data_dir() -> PathBuf {
    let relative = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(OFAC_DIR_FROM_MANIFEST);
    if relative.is_dir() {
        return relative;
    }
    match std::env::var_os(OFAC_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "OFAC data not found at {} and {OFAC_DIR_ENV} is not set",
            relative.display()
        ),
    }
}

#[test]
fn every_ofac_line_has_the_expected_outcome() {
    let dir = data_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    files.sort();

    let mut accepted = 0;
    let mut rejected = Vec::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Some(ticker) = name
            .strip_prefix("sanctioned_addresses_")
            .and_then(|n| n.strip_suffix(".txt"))
        else {
            continue;
        };
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let expected = EXPECTED_REJECTED
                .iter()
                .find(|(t, l, _)| *t == ticker && *l == line);
            match (parse_asset_address(ticker, line), expected) {
                (Ok(_), None) => accepted += 1,
                (Ok(address), Some(_)) => failures.push(format!(
                    "{ticker} {line}: expected rejection, accepted as {address}"
                )),
                (Err(error), Some((_, _, reason))) if error.to_string().contains(reason) => {
                    rejected.push((ticker.to_string(), line.to_string()));
                }
                (Err(error), _) => failures.push(format!("{ticker} {line}: rejected: {error}")),
            }
        }
    }
    for (ticker, line, _) in EXPECTED_REJECTED {
        if !rejected.iter().any(|(t, l)| t == ticker && l == line) {
            failures.push(format!(
                "{ticker} {line}: listed as rejected but not seen in the data"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "unexpected outcomes:\n{}",
        failures.join("\n")
    );
    assert!(
        accepted > 600,
        "only {accepted} lines accepted: is the data complete?"
    );
}
