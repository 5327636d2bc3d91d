//! MISP's objects as misp-stix (MISP's own converter) writes them in STIX
//! 2.1. misp-stix has no STIX mapping for MISP's cryptocurrency content, so
//! it writes it as custom objects:
//!
//! | MISP | misp-stix STIX 2.1 | tracewire |
//! |---|---|---|
//! | attribute `btc`, `xmr`, `dash` | `x-misp-attribute` (`x_misp_type`, `x_misp_value`) | address on btc, xmr, dash |
//! | object `coin-address` | `x-misp-object` (`x_misp_name`, `x_misp_attributes`) | address: `address` (btc), `address-xmr` (xmr) or `address-crypto`, on the chain its `symbol` names (an asset ticker such as `ETH`, `USDT`, or a chain id) |
//! | object `btc-wallet` | `x-misp-object` | wallet on btc, and each `wallet-address` an address `member_of` it |
//! | event | `grouping` (or `report`) listing the event's objects | its markings and author apply to objects without their own |
//!
//! Other MISP attribute types and objects carry no address: refused, with
//! the reason.
use super::{text, Mapper, Outcome, Ref};
use serde_json::{json, Value};

/// The chain of a MISP attribute type, for the types that are addresses.
pub(crate) fn chain_of_type(misp_type: &str) -> Option<&'static str> {
    match misp_type {
        "btc" => Some("btc"),
        "xmr" => Some("xmr"),
        "dash" => Some("dash"),
        _ => None,
    }
}

/// An `x-misp-attribute`.
pub(super) fn attribute(mapper: &mut Mapper<'_, '_>, object: &Value) -> Outcome {
    let misp_type = text(object, "x_misp_type").unwrap_or_default();
    let Some(chain) = chain_of_type(misp_type) else {
        return Outcome::Refused(format!(
            "MISP attribute type {misp_type:?} is not a cryptocurrency address (btc, xmr, dash)"
        ));
    };
    match text(object, "x_misp_value") {
        Some(value) => mapper.address(object, value, Some(chain)),
        None => Outcome::Refused("a MISP attribute needs x_misp_value".into()),
    }
}

/// The values of a MISP object's attributes with this `object_relation`.
fn values<'a>(object: &'a Value, relation: &str) -> Vec<&'a str> {
    object
        .get("x_misp_attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|a| text(a, "object_relation") == Some(relation))
        .filter_map(|a| text(a, "value"))
        .collect()
}

/// An `x-misp-object`.
pub(super) fn object(mapper: &mut Mapper<'_, '_>, object: &Value) -> Outcome {
    let name = text(object, "x_misp_name").unwrap_or_default();
    match name {
        "coin-address" => {
            let symbol = values(object, "symbol").first().copied();
            let found = [
                ("address", Some("btc")),
                ("address-xmr", Some("xmr")),
                ("address-crypto", None),
            ]
            .into_iter()
            .find_map(|(relation, chain)| {
                values(object, relation).first().map(|value| (*value, chain))
            });
            match found {
                Some((value, chain)) => mapper.address(object, value, symbol.or(chain)),
                None => Outcome::Refused(
                    "a coin-address object needs an address, address-xmr or address-crypto".into(),
                ),
            }
        }
        "btc-wallet" => {
            let addresses = values(object, "wallet-address");
            let Some(first) = addresses.first() else {
                return Outcome::Refused("a btc-wallet object needs a wallet-address".into());
            };
            let id = text(object, "id").unwrap_or_default().to_owned();
            let mut wallet = mapper.base(object);
            wallet["kind"] = json!("wallet");
            wallet["chain"] = json!("btc");
            let name = text(object, "x_misp_comment")
                .filter(|c| !c.trim().is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("btc-wallet {first}"));
            wallet["name"] = json!(name);
            let Outcome::Record(primary) = mapper.submit(object, wallet, Vec::new()) else {
                unreachable!("submit always stores")
            };
            let version = mapper.plan.submissions[primary].version.clone();
            for value in addresses {
                let key = format!("{id}#address:{value}");
                let address = match mapper.address_submission(object, value, Some("btc"), Some(key))
                {
                    Ok(index) => index,
                    Err(message) => return Outcome::Refused(message),
                };
                let mut member = mapper.base(object);
                member["kind"] = json!("relationship");
                member["relation"] = json!("member_of");
                let refs = vec![
                    ("from", Ref::Submission(address)),
                    ("to", Ref::Submission(primary)),
                ];
                let membership =
                    mapper.push(member, refs, format!("{id}#member-of:{value}"), version.clone());
                mapper.plan.submissions[primary]
                    .also
                    .extend([address, membership]);
            }
            Outcome::Record(primary)
        }
        "" => Outcome::Refused("a MISP object needs x_misp_name".into()),
        other => Outcome::Refused(format!(
            "MISP object {other:?} carries no cryptocurrency address (coin-address and btc-wallet do)"
        )),
    }
}
