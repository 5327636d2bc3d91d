//! Turning files into record submissions: CSV (the export's columns),
//! JSON lines (one record as the API takes it per line) and the OFAC SDN
//! address lists (one address per line, one file per asset ticker).
//!
//! MISP event files and feed directories are read by [`read_misp`] into
//! STIX envelopes instead (see `crate::misp::event`), which `tracewire
//! import` posts to the TAXII collection, so they are mapped exactly as
//! misp-stix's STIX is.
//!
//! Every line becomes an [`ImportLine`]: its origin (file and line number,
//! for the summary) and either the JSON item to submit or why it cannot
//! be one. `tracewire import` sends the items in batches; the demo loads
//! the OFAC lists through the same function.
use serde_json::{json, Map, Value};
use std::path::Path;

/// What to fill in where a line does not say.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub tlp: String,
    pub method: String,
    pub categories: Vec<String>,
    pub confidence: u8,
    pub organizations: Vec<String>,
    pub communities: Vec<String>,
    pub source_reference: Option<String>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            tlp: "green".into(),
            method: "import".into(),
            categories: Vec::new(),
            confidence: 50,
            organizations: Vec::new(),
            communities: Vec::new(),
            source_reference: None,
        }
    }
}

/// One line of input.
#[derive(Debug, Clone)]
pub struct ImportLine {
    /// `file:line`, for the summary.
    pub origin: String,
    /// The item to submit, or why the line cannot be one.
    pub item: Result<Value, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
    Ofac,
    /// A MISP event file (JSON), a MISP feed directory (`manifest.json`
    /// and one `<uuid>.json` per event) or a STIX 2.1 bundle (JSON), sent
    /// as STIX over TAXII.
    Misp,
}

impl Format {
    /// The format a path's name suggests: `.csv`, `.jsonl`/`.ndjson`, or
    /// OFAC (`sanctioned_addresses_<TICKER>.txt`, or a directory of them).
    pub fn guess(path: &Path) -> Option<Format> {
        if path.is_dir() {
            if path.join("manifest.json").is_file() {
                return Some(Format::Misp);
            }
            return Some(Format::Ofac);
        }
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".json") {
            Some(Format::Misp)
        } else if name.ends_with(".csv") {
            Some(Format::Csv)
        } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
            Some(Format::JsonLines)
        } else if ofac_ticker(&name).is_some() {
            Some(Format::Ofac)
        } else {
            None
        }
    }
}

/// The asset ticker of an OFAC list file name (`sanctioned_addresses_XBT.txt` → `XBT`).
fn ofac_ticker(file_name: &str) -> Option<String> {
    let lower = file_name.to_ascii_lowercase();
    let ticker = lower
        .strip_prefix("sanctioned_addresses_")?
        .strip_suffix(".txt")?;
    (!ticker.is_empty()).then(|| ticker.to_ascii_uppercase())
}

/// The sharing, method and provenance every OFAC line gets: public
/// sanctions data, so TLP:CLEAR to all partners.
pub fn ofac_defaults() -> Defaults {
    Defaults {
        tlp: "clear".into(),
        method: "import".into(),
        categories: vec!["sanctions".into()],
        confidence: 100,
        organizations: Vec::new(),
        communities: Vec::new(),
        source_reference: Some("OFAC SDN list".into()),
    }
}

/// The items of one OFAC list (`ticker` as in the file name).
pub fn ofac_lines(file: &str, ticker: &str, text: &str, defaults: &Defaults) -> Vec<ImportLine> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let mut item = base_item(defaults);
            item.insert("kind".into(), json!("address"));
            item.insert("chain".into(), json!(ticker));
            item.insert("address".into(), json!(line.trim()));
            item.insert(
                "description".into(),
                json!(format!("Listed on the OFAC SDN list under digital currency {ticker}")),
            );
            item.insert(
                "external_references".into(),
                json!([{ "source_name": "OFAC SDN list", "url": "https://sanctionssearch.ofac.treas.gov/" }]),
            );
            ImportLine {
                origin: format!("{file}:{}", n + 1),
                item: Ok(Value::Object(item)),
            }
        })
        .collect()
}

/// The lines of an OFAC list file or of every list in a directory (by name).
pub fn read_ofac(path: &Path, defaults: &Defaults) -> std::io::Result<Vec<ImportLine>> {
    let mut files = Vec::new();
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            let entry = entry?.path();
            let name = entry
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned();
            if let Some(ticker) = ofac_ticker(&name) {
                files.push((entry, name, ticker));
            }
        }
        files.sort_by(|a, b| a.1.cmp(&b.1));
    } else {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let ticker = ofac_ticker(&name).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{name}: OFAC list files are named sanctioned_addresses_<TICKER>.txt"),
            )
        })?;
        files.push((path.to_owned(), name, ticker));
    }
    let mut lines = Vec::new();
    for (path, name, ticker) in files {
        let text = std::fs::read_to_string(&path)?;
        lines.extend(ofac_lines(&name, &ticker, &text, defaults));
    }
    Ok(lines)
}

fn base_item(defaults: &Defaults) -> Map<String, Value> {
    let mut item = Map::new();
    item.insert("tlp".into(), json!(defaults.tlp));
    item.insert("method".into(), json!(defaults.method));
    item.insert("categories".into(), json!(defaults.categories));
    item.insert("confidence".into(), json!(defaults.confidence));
    let mut audience = Map::new();
    if !defaults.organizations.is_empty() {
        audience.insert("organizations".into(), json!(defaults.organizations));
    }
    if !defaults.communities.is_empty() {
        audience.insert("communities".into(), json!(defaults.communities));
    }
    item.insert("audience".into(), Value::Object(audience));
    if let Some(reference) = &defaults.source_reference {
        item.insert("source_reference".into(), json!(reference));
    }
    item
}

/// JSON lines: each line one record; fields it lacks come from `defaults`.
pub fn json_lines(file: &str, text: &str, defaults: &Defaults) -> Vec<ImportLine> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let item = match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(given)) => {
                    let mut item = base_item(defaults);
                    item.extend(given);
                    Ok(Value::Object(item))
                }
                Ok(_) => Err("a line must be one JSON object".to_owned()),
                Err(e) => Err(format!("not JSON: {e}")),
            };
            ImportLine {
                origin: format!("{file}:{}", n + 1),
                item,
            }
        })
        .collect()
}

/// Columns that the server sets itself: present in exports, ignored on import.
const SERVER_COLUMNS: [&str; 7] = [
    "id",
    "source_organization",
    "submitted_by",
    "received_at",
    "revision",
    "revoked",
    "content_hash",
];

fn list(cell: &str) -> Value {
    json!(cell
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>())
}

/// CSV with a header line naming the columns of `crate::records::export::CSV_COLUMNS`
/// (any subset, any order; `kind` defaults to `address`). Empty cells are
/// absent values; lists are separated by `;`. A cell starting with `'`
/// followed by a formula character (as exports write them) loses the `'`.
pub fn csv_lines(file: &str, text: &str, defaults: &Defaults) -> Vec<ImportLine> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|h| h.trim().to_ascii_lowercase()).collect(),
        Err(e) => {
            return vec![ImportLine {
                origin: format!("{file}:1"),
                item: Err(format!("cannot read the header line: {e}")),
            }]
        }
    };
    let known = crate::records::export::CSV_COLUMNS;
    if let Some(unknown) = headers.iter().find(|h| !known.contains(&h.as_str())) {
        return vec![ImportLine {
            origin: format!("{file}:1"),
            item: Err(format!(
                "unknown column {unknown:?} (known: {})",
                known.join(", ")
            )),
        }];
    }
    let mut lines = Vec::new();
    for record in reader.records() {
        let (origin, item) = match record {
            Ok(record) => {
                let line = record.position().map(|p| p.line()).unwrap_or(0);
                (
                    format!("{file}:{line}"),
                    csv_item(&headers, &record, defaults),
                )
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                (format!("{file}:{line}"), Err(format!("not valid CSV: {e}")))
            }
        };
        lines.push(ImportLine { origin, item });
    }
    lines
}

fn csv_item(
    headers: &[String],
    record: &csv::StringRecord,
    defaults: &Defaults,
) -> Result<Value, String> {
    let mut item = base_item(defaults);
    item.insert("kind".into(), json!("address"));
    let mut audience = item
        .remove("audience")
        .and_then(|a| a.as_object().cloned())
        .unwrap_or_default();
    for (name, raw) in headers.iter().zip(record.iter()) {
        let cell = raw.trim();
        let cell = match cell.strip_prefix('\'') {
            Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
            _ => cell,
        };
        if cell.is_empty() || SERVER_COLUMNS.contains(&name.as_str()) {
            continue;
        }
        let value = match name.as_str() {
            "aliases" | "categories" => list(cell),
            "confidence" => json!(cell
                .parse::<u8>()
                .map_err(|_| format!("confidence: {cell:?} is not a number from 0 to 100"))?),
            "count" => json!(cell
                .parse::<i64>()
                .map_err(|_| format!("count: {cell:?} is not a whole number"))?),
            "audience_organizations" => {
                audience.insert("organizations".into(), list(cell));
                continue;
            }
            "audience_communities" => {
                audience.insert("communities".into(), list(cell));
                continue;
            }
            _ => json!(cell),
        };
        item.insert(name.clone(), value);
    }
    item.insert("audience".into(), Value::Object(audience));
    Ok(Value::Object(item))
}

/// One MISP event as the STIX objects to post in one TAXII envelope.
#[derive(Debug, Clone)]
pub struct MispEnvelope {
    /// `file` or `file#event-uuid`, for the summary.
    pub origin: String,
    /// The objects, or why the event cannot be read.
    pub objects: Result<Vec<Value>, String>,
}

/// The events of a MISP event file, or of every event a MISP feed
/// directory's `manifest.json` lists (`<uuid>.json` beside it), in the
/// manifest's order of event time; a STIX 2.1 bundle file (such as
/// misp-stix's or OpenCTI's export) is one envelope of its objects.
pub fn read_misp(path: &Path) -> std::io::Result<Vec<MispEnvelope>> {
    let mut files = Vec::new();
    if path.is_dir() {
        let manifest_path = path.join("manifest.json");
        let manifest: Value = serde_json::from_str(&std::fs::read_to_string(&manifest_path)?)
            .map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: not JSON: {e}", manifest_path.display()),
                )
            })?;
        let entries = manifest.as_object().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: not a MISP feed manifest", manifest_path.display()),
            )
        })?;
        let mut uuids: Vec<(i64, &String)> = entries
            .iter()
            .map(|(uuid, entry)| {
                let time = match &entry["timestamp"] {
                    Value::String(s) => s.parse().unwrap_or(0),
                    other => other.as_i64().unwrap_or(0),
                };
                (time, uuid)
            })
            .collect();
        uuids.sort();
        for (_, uuid) in uuids {
            // A manifest key names a file beside it, never a path elsewhere.
            if uuid::Uuid::parse_str(uuid).is_err() {
                files.push((format!("manifest.json#{uuid}"), None));
                continue;
            }
            files.push((
                format!("{uuid}.json"),
                Some(path.join(format!("{uuid}.json"))),
            ));
        }
    } else {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("input")
            .to_owned();
        files.push((name, Some(path.to_owned())));
    }
    let mut envelopes = Vec::new();
    for (origin, file) in files {
        let Some(file) = file else {
            envelopes.push(MispEnvelope {
                origin,
                objects: Err("a feed manifest key must be an event uuid".into()),
            });
            continue;
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if path.is_dir() => {
                envelopes.push(MispEnvelope {
                    origin,
                    objects: Err(format!("cannot read the event file: {e}")),
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        let document: Value = match serde_json::from_str(&text) {
            Ok(document) => document,
            Err(e) => {
                envelopes.push(MispEnvelope {
                    origin,
                    objects: Err(format!("not JSON: {e}")),
                });
                continue;
            }
        };
        // A STIX 2.1 bundle (misp-stix's or OpenCTI's export) or envelope goes as it is.
        if let Some(objects) = document.get("objects").and_then(Value::as_array) {
            envelopes.push(MispEnvelope {
                origin,
                objects: Ok(objects.clone()),
            });
            continue;
        }
        match crate::misp::event::events_of(&document) {
            Ok(events) => {
                for event in events {
                    let uuid = event["uuid"].as_str().unwrap_or("?");
                    envelopes.push(MispEnvelope {
                        origin: format!("{origin}#{uuid}"),
                        objects: Ok(crate::misp::event::to_stix(event)),
                    });
                }
            }
            Err(e) => envelopes.push(MispEnvelope {
                origin,
                objects: Err(e.to_string()),
            }),
        }
    }
    Ok(envelopes)
}

/// Reads `path` in `format` into lines.
pub fn read(path: &Path, format: Format, defaults: &Defaults) -> std::io::Result<Vec<ImportLine>> {
    match format {
        Format::Ofac => return read_ofac(path, defaults),
        Format::Misp => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "MISP events are read with read_misp",
            ))
        }
        _ => {}
    }
    let text = std::fs::read_to_string(path)?;
    let file = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("input")
        .to_owned();
    Ok(match format {
        Format::Csv => csv_lines(&file, &text, defaults),
        Format::JsonLines => json_lines(&file, &text, defaults),
        Format::Ofac | Format::Misp => unreachable!("handled above"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_map_to_fields_and_defaults_fill_the_rest() {
        let text = "address,chain,categories,audience_organizations,description,confidence\n\
                    0x00000000000000000000000000000000000000aa,eth,scam;fraud,ngo,'=1+1,70\n\
                    0x00000000000000000000000000000000000000bb,eth,,,,abc\n";
        let lines = csv_lines("x.csv", text, &Defaults::default());
        assert_eq!(lines.len(), 2);
        let first = lines[0].item.as_ref().unwrap();
        assert_eq!(lines[0].origin, "x.csv:2");
        assert_eq!(first["kind"], "address");
        assert_eq!(first["categories"], json!(["scam", "fraud"]));
        assert_eq!(first["audience"]["organizations"], json!(["ngo"]));
        assert_eq!(first["description"], "=1+1");
        assert_eq!(first["confidence"], 70);
        assert_eq!(first["tlp"], "green");
        assert_eq!(first["method"], "import");
        let second = lines[1].item.as_ref().unwrap_err();
        assert!(second.contains("confidence"), "{second}");
    }

    #[test]
    fn unknown_csv_columns_are_refused_by_name() {
        let lines = csv_lines("x.csv", "adress\n0xabc\n", &Defaults::default());
        assert!(lines[0].item.as_ref().unwrap_err().contains("\"adress\""));
    }

    #[test]
    fn json_lines_keep_their_fields_over_defaults() {
        let text = "{\"kind\":\"entity\",\"name\":\"X\",\"tlp\":\"red\",\"audience\":{\"organizations\":[\"a\"]}}\n\n[1]\n";
        let lines = json_lines("x.jsonl", text, &Defaults::default());
        assert_eq!(lines.len(), 2);
        let item = lines[0].item.as_ref().unwrap();
        assert_eq!(item["tlp"], "red");
        assert_eq!(item["method"], "import");
        assert_eq!(lines[1].origin, "x.jsonl:3");
        assert!(lines[1].item.is_err());
    }

    #[test]
    fn ofac_file_names_give_the_ticker() {
        assert_eq!(
            ofac_ticker("sanctioned_addresses_XBT.txt").as_deref(),
            Some("XBT")
        );
        assert_eq!(ofac_ticker("addresses.txt"), None);
        let lines = ofac_lines("f", "ETH", "0xabc\n\n0xdef\n", &ofac_defaults());
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].origin, "f:3");
        let item = lines[0].item.as_ref().unwrap();
        assert_eq!(item["tlp"], "clear");
        assert_eq!(item["categories"], json!(["sanctions"]));
        assert_eq!(item["chain"], "ETH");
    }
}
