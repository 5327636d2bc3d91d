//! MISP's event format, both ways, as pure functions (no storage, no
//! sharing decisions):
//!
//! - [`event`]: a MISP event (its JSON, as MISP exports it and as MISP
//!   feeds serve it) to the STIX 2.1 objects misp-stix, MISP's own
//!   converter, makes of it, so a MISP event read from disk and one
//!   converted by misp-stix and posted over TAXII are imported by the same
//!   mapping (`crate::stix::import`), with the same ids;
//! - [`export`]: the records a reader may see (already rendered through
//!   `crate::records::Disclosure`) as one MISP event.
pub mod event;
pub mod export;

/// The MISP attribute type of an address on `chain`, for the chains MISP
/// has a type for; other chains become `coin-address` objects.
pub fn attribute_type(chain: &str) -> Option<&'static str> {
    match chain {
        "btc" => Some("btc"),
        "xmr" => Some("xmr"),
        "dash" => Some("dash"),
        _ => None,
    }
}
