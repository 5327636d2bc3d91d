//! Reading a batch of submissions into validated records: the checks
//! every create runs before anything is stored, and the same checks alone
//! ([`check_batch`]) for previews that must not store anything.
use super::input::ParsedRecord;
use super::MAX_BATCH;
use super::{check_references, field, reader_for, require_write_scope, RecordError, RecordInput};
use crate::auth::Caller;
use crate::domain::RecordKind;
use crate::error::FieldError;
use crate::storage::DbConnection;

/// Parses every item (of kind `only`, if given), checking the caller's
/// scope for each; a [`RecordError::Validation`] lists every bad item by
/// index and field.
pub(super) fn parse_batch(
    caller: &Caller,
    items: Vec<serde_json::Value>,
    only: Option<RecordKind>,
) -> Result<Vec<(usize, ParsedRecord)>, RecordError> {
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(RecordError::Validation(vec![FieldError::new(
            "items",
            format!("a batch holds 1 to {MAX_BATCH} items (got {})", items.len()),
        )]));
    }
    let mut errors = Vec::new();
    let mut parsed = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<RecordInput>(item) {
            Ok(input) => match input.parse(index) {
                Ok(record) if only.is_some_and(|kind| kind != record.body.kind()) => {
                    let wanted = only.map(RecordKind::as_str).unwrap_or_default();
                    errors.push(field(
                        index,
                        "kind",
                        format!(
                            "only {wanted} records are accepted here, not {}",
                            record.body.kind()
                        ),
                    ))
                }
                Ok(record) => parsed.push((index, record)),
                Err(mut item_errors) => errors.append(&mut item_errors),
            },
            Err(e) => errors.push(field(index, "item", e.to_string())),
        }
    }
    for (_, record) in &parsed {
        require_write_scope(caller, record.body.kind())?;
    }
    if !errors.is_empty() {
        return Err(RecordError::Validation(errors));
    }

    Ok(parsed)
}

/// Runs every check a create of `items` runs (parsing, scopes, and the
/// references the caller may follow), storing nothing: what `create_batch`
/// would refuse, it refuses here with the same errors.
pub fn check_batch(
    conn: &mut DbConnection,
    caller: &Caller,
    items: Vec<serde_json::Value>,
    only: Option<RecordKind>,
) -> Result<(), RecordError> {
    let parsed = parse_batch(caller, items, only)?;
    let reader = reader_for(conn, &caller.organization)?;
    check_references(conn, &reader, &parsed)
}
