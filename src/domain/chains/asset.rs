//! Asset tickers, as sanctions lists use them (OFAC writes `XBT` for
//! bitcoin, `USDT` for Tether on any chain...), mapped to candidate chains.

use crate::domain::chains::address::{AddressError, ChainAddress};
use crate::domain::chains::chain::Chain;

/// Ticker (upper case) and the chains its addresses may be on, most common
/// first. Stablecoins list every address format they are issued on; an EVM
/// address is attributed to `eth`, whose link key is shared by all EVM chains.
const ASSETS: &[(&str, &[Chain])] = &[
    ("XBT", &[Chain::Btc]),
    ("BTC", &[Chain::Btc]),
    ("BCH", &[Chain::Bch]),
    ("LTC", &[Chain::Ltc]),
    ("DOGE", &[Chain::Doge]),
    ("DASH", &[Chain::Dash]),
    ("ZEC", &[Chain::Zec]),
    ("XMR", &[Chain::Xmr]),
    ("ETH", &[Chain::Eth]),
    ("ETC", &[Chain::Etc]),
    ("BSC", &[Chain::Bsc]),
    ("BNB", &[Chain::Bsc]),
    ("MATIC", &[Chain::Polygon]),
    ("POL", &[Chain::Polygon]),
    ("ARB", &[Chain::Arb]),
    ("OP", &[Chain::Op]),
    ("AVAX", &[Chain::Avax]),
    ("TRX", &[Chain::Trx]),
    ("SOL", &[Chain::Sol]),
    ("XRP", &[Chain::Xrp]),
    ("BTG", &[Chain::Btg]),
    ("BSV", &[Chain::Bsv]),
    ("XVG", &[Chain::Xvg]),
    // Tether: ERC-20, TRC-20, and the Omni layer on bitcoin (older OFAC entries).
    ("USDT", &[Chain::Eth, Chain::Trx, Chain::Btc, Chain::Sol]),
    ("USDC", &[Chain::Eth, Chain::Sol, Chain::Trx]),
];

/// The candidate chains of an asset ticker (case-insensitive). A chain id or
/// alias (e.g. "bitcoin") is accepted too, as a single-chain asset.
pub fn asset_chains(ticker: &str) -> Option<&'static [Chain]> {
    let ticker = ticker.trim();
    ASSETS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(ticker))
        .map(|(_, chains)| *chains)
        .or_else(|| {
            let chain = Chain::parse(ticker)?;
            Chain::ALL
                .iter()
                .find(|&&c| c == chain)
                .map(std::slice::from_ref)
        })
}

/// Parses `input` as an address of the asset `ticker`, trying each of the
/// asset's chains in turn and returning the first that accepts it.
///
/// When none does, the error is the reason given by the chain where parsing
/// got furthest (for a multi-chain asset wrapped in
/// [`AddressError::NotForAsset`], which names that chain).
pub fn parse_asset_address(ticker: &str, input: &str) -> Result<ChainAddress, AddressError> {
    let chains = asset_chains(ticker)
        .ok_or_else(|| AddressError::UnknownAsset(ticker.trim().to_string()))?;
    if input.trim().is_empty() {
        return Err(AddressError::Empty);
    }
    let mut best: Option<(Chain, AddressError)> = None;
    for &chain in chains {
        match ChainAddress::parse(chain, input) {
            Ok(address) => return Ok(address),
            Err(error) => {
                let better = best
                    .as_ref()
                    .is_none_or(|(_, b)| error.plausibility() > b.plausibility());
                if better {
                    best = Some((chain, error));
                }
            }
        }
    }
    match best {
        Some((_, error)) if chains.len() == 1 => Err(error),
        Some((chain, error)) => Err(AddressError::NotForAsset {
            ticker: ticker.trim().to_ascii_uppercase(),
            chain,
            reason: Box::new(error),
        }),
        None => Err(AddressError::UnknownAsset(ticker.trim().to_string())),
    }
}

/// The forms an address may take for a lookup: on `chain` (a chain id,
/// alias or asset ticker) when given, otherwise on every chain where it is
/// valid (a legacy `1…` address is both a Bitcoin and a Bitcoin Cash
/// address, an `0x…` address is valid on every EVM chain). Screening
/// matches all of them, so leaving out the chain never hides a match.
pub fn lookup_forms(chain: Option<&str>, input: &str) -> Result<Vec<ChainAddress>, String> {
    match chain.map(str::trim).filter(|c| !c.is_empty()) {
        Some(name) => {
            let parsed = match Chain::parse(name) {
                Some(chain) => ChainAddress::parse(chain, input),
                None if asset_chains(name).is_some() => parse_asset_address(name, input),
                None => return Err(format!("unknown chain or asset {name:?}")),
            };
            parsed.map(|a| vec![a]).map_err(|e| e.to_string())
        }
        None => {
            let forms: Vec<ChainAddress> = Chain::ALL
                .iter()
                .filter_map(|&c| ChainAddress::parse(c, input).ok())
                .collect();
            if forms.is_empty() {
                let hint = if asset_chains(input).is_some() {
                    " (that is an asset ticker, not an address)"
                } else {
                    ""
                };
                Err(format!("not a valid address on any supported chain{hint}"))
            } else {
                Ok(forms)
            }
        }
    }
}
