//! The fields of a submission read from a STIX object: its sharing (from
//! the TLP the envelope gives it), provenance and descriptive fields, and
//! the chain of an address.
use super::text;
use crate::domain::chains::lookup_forms;
use crate::domain::{Category, Tlp};
use serde_json::{json, Value};

/// The chain id of `chain` (an id, alias or asset ticker such as MISP's
/// `symbol`) for `value`: for a ticker of several chains, the one the
/// address is valid on.
pub(super) fn resolve_chain(chain: &str, value: &str) -> Result<String, String> {
    let forms = lookup_forms(Some(chain), value).map_err(|e| format!("address {value:?}: {e}"))?;
    forms
        .first()
        .map(|f| f.chain().id().to_owned())
        .ok_or_else(|| format!("address {value:?} is not valid on {chain:?}"))
}

/// The chain of an address given without one: the only chain it is valid
/// on, else Bitcoin for legacy addresses that Bitcoin Cash shares, else
/// Ethereum for EVM addresses.
pub(super) fn guess_chain(value: &str) -> Result<String, String> {
    let forms = lookup_forms(None, value).map_err(|e| format!("address {value:?}: {e}"))?;
    let chains: Vec<&str> = forms.iter().map(|f| f.chain().id()).collect();
    for preferred in ["btc", "eth"] {
        if chains.contains(&preferred) {
            return Ok(preferred.into());
        }
    }
    match chains.as_slice() {
        [only] => Ok((*only).into()),
        _ => Err(format!(
            "address {value:?} is valid on several chains ({}); name the chain in the tracewire extension",
            chains.join(", ")
        )),
    }
}

/// The address in a `[cryptocurrency-wallet:value = '…']` pattern (or
/// `:address`, as some producers write it).
pub fn wallet_pattern(pattern: &str) -> Option<String> {
    let inner = pattern.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
    let rest = inner.strip_prefix("cryptocurrency-wallet:")?;
    let rest = rest
        .strip_prefix("value")
        .or_else(|| rest.strip_prefix("address"))?
        .trim_start();
    let rest = rest.strip_prefix('=')?.trim();
    let quoted = rest.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut value = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?),
            '\'' => return None,
            c => value.push(c),
        }
    }
    Some(value)
}

/// The sharing, provenance and descriptive fields every submission has.
pub(super) fn base(object: &Value, tlp: Tlp, organization: &str) -> Value {
    let audience = match tlp {
        Tlp::Clear | Tlp::Green => json!({ "all_partners": true }),
        _ => json!({ "organizations": [organization] }),
    };
    let confidence = object
        .get("confidence")
        .and_then(Value::as_i64)
        .filter(|c| (0..=100).contains(c))
        .unwrap_or(50);
    let categories: Vec<String> = object
        .get("labels")
        .and_then(Value::as_array)
        .map(|labels| {
            let mut categories: Vec<String> = labels
                .iter()
                .filter_map(Value::as_str)
                .filter_map(category_label)
                .collect();
            categories.dedup();
            categories
        })
        .unwrap_or_default();
    let references: Vec<Value> = object
        .get("external_references")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|r| {
                    let source = r.get("source_name")?.as_str()?.trim();
                    if source.is_empty() {
                        return None;
                    }
                    let mut reference = json!({ "source_name": source });
                    if let Some(url) = r.get("url").and_then(Value::as_str) {
                        if url::Url::parse(url).is_ok() {
                            reference["url"] = json!(url);
                        }
                    }
                    if let Some(id) = r.get("external_id").and_then(Value::as_str) {
                        reference["external_id"] = json!(id);
                    }
                    Some(reference)
                })
                .collect()
        })
        .unwrap_or_default();
    let description = text(object, "description")
        .or_else(|| text(object, "x_misp_comment"))
        .unwrap_or_default();
    let mut item = json!({
        "tlp": tlp.as_str(),
        "audience": audience,
        "method": "import",
        "confidence": confidence,
        "categories": categories,
        "external_references": references,
        "description": description,
        "source_reference": text(object, "id").unwrap_or_default(),
    });
    let valid_from = text(object, "valid_from").and_then(crate::stix::parse_timestamp);
    let valid_until = text(object, "valid_until").and_then(crate::stix::parse_timestamp);
    if let Some(from) = valid_from {
        item["valid_from"] = json!(from);
    }
    if let Some(until) = valid_until.filter(|u| valid_from.is_none_or(|f| f <= *u)) {
        item["valid_until"] = json!(until);
    }
    item
}

/// A category named by a label: the category itself (as tracewire
/// serves them), or a MISP tag `tracewire:category="…"` (as tracewire's
/// MISP export writes them and misp-stix turns tags into labels).
fn category_label(label: &str) -> Option<String> {
    let name = label
        .strip_prefix("tracewire:category=")
        .map(|v| v.trim_matches('"'))
        .unwrap_or(label);
    name.parse::<Category>().ok().map(|c| c.as_str().to_owned())
}
