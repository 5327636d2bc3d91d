//! Records as files for people without code: CSV (one row per record, the
//! columns below) and JSON lines (one record per line, as the API shows it).
//! `tracewire import` reads the same CSV columns back.
use super::RecordView;

/// The CSV columns, in order. Lists (aliases, categories, …) are joined with `;`.
pub const CSV_COLUMNS: [&str; 32] = [
    "id",
    "kind",
    "chain",
    "address",
    "name",
    "entity_type",
    "aliases",
    "relation",
    "from",
    "to",
    "sighting_of",
    "seen_at",
    "count",
    "context",
    "categories",
    "confidence",
    "tlp",
    "audience_organizations",
    "audience_communities",
    "attribution",
    "source_organization",
    "submitted_by",
    "method",
    "source_reference",
    "observed_at",
    "received_at",
    "valid_from",
    "valid_until",
    "description",
    "revision",
    "revoked",
    "content_hash",
];

/// A cell that a spreadsheet would run as a formula gets a leading `'`
/// (the usual defence against CSV injection); nothing tracewire itself
/// writes starts that way except free text.
pub(crate) fn cell(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    }
}

fn time(value: Option<chrono::DateTime<chrono::Utc>>) -> String {
    value
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

fn row(record: &RecordView) -> Vec<String> {
    let c = &record.content;
    let joined = |items: Vec<&str>| items.join(";");
    let sighting = c.sighting.as_ref();
    vec![
        c.id.clone(),
        c.kind.as_str().into(),
        c.chain.clone().unwrap_or_default(),
        c.address.clone().unwrap_or_default(),
        c.name.clone().unwrap_or_default(),
        c.entity_type.clone().unwrap_or_default(),
        joined(c.aliases.iter().map(String::as_str).collect()),
        c.relation
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        c.from.clone().unwrap_or_default(),
        c.to.clone().unwrap_or_default(),
        sighting.and_then(|s| s.of.clone()).unwrap_or_default(),
        time(sighting.map(|s| s.seen_at)),
        sighting.map(|s| s.count.to_string()).unwrap_or_default(),
        sighting
            .map(|s| s.context.as_str().to_owned())
            .unwrap_or_default(),
        joined(c.categories.iter().map(|k| k.as_str()).collect()),
        c.confidence.to_string(),
        c.tlp.as_str().into(),
        joined(
            c.audience
                .organizations
                .iter()
                .map(String::as_str)
                .collect(),
        ),
        joined(c.audience.communities.iter().map(String::as_str).collect()),
        match c.attribution {
            crate::domain::Attribution::Named => "named".into(),
            crate::domain::Attribution::Anonymous => "anonymous".into(),
        },
        c.provenance.source_organization.clone().unwrap_or_default(),
        c.provenance.submitted_by.clone().unwrap_or_default(),
        c.provenance.method.as_str().into(),
        c.provenance.source_reference.clone().unwrap_or_default(),
        time(c.provenance.observed_at),
        time(Some(c.provenance.received_at)),
        time(c.valid_from),
        time(c.valid_until),
        c.description.clone(),
        c.revision.to_string(),
        c.revoked.to_string(),
        record.content_hash.clone(),
    ]
}

/// The records as CSV with a header line.
pub fn to_csv(records: &[RecordView]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(CSV_COLUMNS);
    for record in records {
        let _ = writer.write_record(row(record).iter().map(|v| cell(v)));
    }
    writer.into_inner().unwrap_or_default()
}

/// The records as JSON lines, each as the API shows it.
pub fn to_json_lines(records: &[RecordView]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        if serde_json::to_writer(&mut out, record).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("0xabc"), "0xabc");
        assert_eq!(cell(""), "");
    }
}
