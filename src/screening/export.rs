//! Screening results as CSV (the console's download): one line per
//! screened address, from the same [`ScreenResult`]s the API answers with.
use super::ScreenResult;
use crate::records::export::cell;

/// The CSV header.
pub const CSV_COLUMNS: &[&str] = &[
    "input",
    "chain",
    "valid",
    "matched",
    "categories",
    "highest_confidence",
    "sources",
    "record_ids",
    "wallets",
    "entities",
    "sighting_reports",
    "sighting_count",
    "error",
];

/// The results as CSV with a header line (cells a spreadsheet would run
/// as formulas get a leading `'`, as in record exports).
pub fn to_csv(results: &[ScreenResult]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(CSV_COLUMNS);
    for r in results {
        let names = |linked: &[crate::records::LinkedRecord]| {
            linked
                .iter()
                .map(|l| {
                    l.record
                        .content
                        .name
                        .clone()
                        .unwrap_or_else(|| l.record.content.id.clone())
                })
                .collect::<Vec<_>>()
                .join(";")
        };
        let line = [
            r.input.clone(),
            r.chain.clone().unwrap_or_default(),
            (!r.forms.is_empty()).to_string(),
            r.matched.to_string(),
            r.categories
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            r.highest_confidence
                .map(|c| c.to_string())
                .unwrap_or_default(),
            r.sources.join(";"),
            r.records
                .iter()
                .map(|v| v.content.id.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            names(&r.wallets),
            names(&r.entities),
            r.sightings.reports.to_string(),
            r.sightings.count.to_string(),
            r.error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_default(),
        ];
        let _ = writer.write_record(line.iter().map(|v| cell(v)));
    }
    writer.into_inner().unwrap_or_default()
}
