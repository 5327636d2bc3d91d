//! `tracewire watchlist upload`: sends a CSV or a list of addresses to a
//! server as your organization's watchlist, 10,000 entries per atomic
//! request, with a progress bar and a summary (added, already watched,
//! rejected). `tracewire watchlist count` says how many entries it holds.
//!
//! A request with bad entries is refused whole (422, each bad entry by
//! index): those lines are set aside as rejected and the rest is sent
//! again. Adding is idempotent, so running an upload twice adds nothing.
use super::progress::Progress;
use crate::client::{ApiClient, ConnectArgs};
use anyhow::{bail, Context};
use awc::http::{Method, StatusCode};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum WatchlistCommand {
    /// Add the addresses of a file to your watchlist.
    Upload(Box<UploadArgs>),
    /// How many entries your watchlist holds.
    Count(Box<CountArgs>),
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// A CSV file with a header naming `address` (and optionally `chain`
    /// and `label`), or a plain file of one address per line (blank lines
    /// and lines starting with `#` are skipped).
    pub path: PathBuf,
    /// Chain (or asset) of entries that name none; without it an address
    /// is watched on every chain where it is valid.
    #[arg(long)]
    pub chain: Option<String>,
    /// Entries per request (1 to 10,000).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct CountArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// What happened to the lines.
#[derive(Debug, Default)]
pub struct UploadSummary {
    pub lines: usize,
    pub added: usize,
    pub already_watched: usize,
    /// (line number, reason).
    pub rejected: Vec<(usize, String)>,
    pub total: i64,
}

/// The entries of a file: (line number, entry).
pub fn read_entries(text: &str, chain: Option<&str>) -> anyhow::Result<Vec<(usize, Value)>> {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let is_csv = first
        .split(',')
        .any(|c| c.trim().trim_matches('"').eq_ignore_ascii_case("address"));
    let with_chain = |mut entry: serde_json::Map<String, Value>| {
        if !entry.contains_key("chain") {
            if let Some(chain) = chain {
                entry.insert("chain".into(), json!(chain));
            }
        }
        Value::Object(entry)
    };
    if !is_csv {
        return Ok(text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|(i, l)| {
                let mut entry = serde_json::Map::new();
                entry.insert("address".into(), json!(l.trim()));
                (i + 1, with_chain(entry))
            })
            .collect());
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .context("cannot read the CSV header")?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let mut entries = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("line {}: not CSV", i + 2))?;
        let mut entry = serde_json::Map::new();
        for (name, value) in headers.iter().zip(row.iter()) {
            if matches!(name.as_str(), "address" | "chain" | "label") && !value.is_empty() {
                entry.insert(name.clone(), json!(value));
            }
        }
        entries.push((i + 2, with_chain(entry)));
    }
    Ok(entries)
}

/// The reasons a 422 gives, by position in the batch.
fn bad_items(problem: &Value) -> BTreeMap<usize, String> {
    let mut bad = BTreeMap::new();
    for error in problem["errors"].as_array().into_iter().flatten() {
        if let Some(index) = error["index"].as_u64() {
            let reason = format!(
                "{}: {}",
                error["field"].as_str().unwrap_or("entry"),
                error["message"].as_str().unwrap_or("invalid")
            );
            bad.entry(index as usize).or_insert(reason);
        }
    }
    bad
}

pub async fn upload(args: UploadArgs) -> anyhow::Result<UploadSummary> {
    let text = std::fs::read_to_string(&args.path)
        .with_context(|| format!("cannot read {}", args.path.display()))?;
    let entries = read_entries(&text, args.chain.as_deref())?;
    let client = ApiClient::new(args.connect.resolve()?)?;
    let mut summary = UploadSummary {
        lines: entries.len(),
        ..UploadSummary::default()
    };
    let mut progress = Progress::new(entries.len(), "entries");
    let mut done = 0;
    for chunk in entries.chunks(args.batch_size as usize) {
        let mut batch: Vec<&(usize, Value)> = chunk.iter().collect();
        loop {
            if batch.is_empty() {
                break;
            }
            let items: Vec<&Value> = batch.iter().map(|(_, e)| e).collect();
            let body = json!({ "items": items });
            let reply = client
                .send(Method::POST, "/v1/watchlist", &[], Some(&body))
                .await?;
            match reply.status {
                StatusCode::OK => {
                    summary.added += reply.body["added"].as_u64().unwrap_or(0) as usize;
                    summary.already_watched +=
                        reply.body["already_watched"].as_u64().unwrap_or(0) as usize;
                    summary.total = reply.body["total"].as_i64().unwrap_or(summary.total);
                    break;
                }
                StatusCode::UNPROCESSABLE_ENTITY => {
                    let bad = bad_items(&reply.body);
                    if bad.is_empty() {
                        bail!("the server refused the request: {}", reply.body);
                    }
                    for (index, reason) in &bad {
                        if let Some((line, _)) = batch.get(*index) {
                            summary.rejected.push((*line, reason.clone()));
                        }
                    }
                    batch = batch
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| !bad.contains_key(i))
                        .map(|(_, e)| e)
                        .collect();
                }
                status => bail!("the server answered {status}: {}", reply.body),
            }
        }
        done += chunk.len();
    }
    progress.show(
        done,
        &format!(
            "{} accepted, {} rejected",
            summary.added + summary.already_watched,
            summary.rejected.len()
        ),
        true,
    );
    summary.rejected.sort();
    Ok(summary)
}

pub async fn run(command: WatchlistCommand) -> anyhow::Result<()> {
    match command {
        WatchlistCommand::Upload(args) => {
            let summary = upload(*args).await?;
            for (line, reason) in &summary.rejected {
                eprintln!("line {line}: {reason}");
            }
            println!(
                "{} lines: {} added, {} already watched, {} rejected; the watchlist holds {} entries",
                summary.lines,
                summary.added,
                summary.already_watched,
                summary.rejected.len(),
                summary.total
            );
            if !summary.rejected.is_empty() {
                std::process::exit(2);
            }
            Ok(())
        }
        WatchlistCommand::Count(args) => {
            let client = ApiClient::new(args.connect.resolve()?)?;
            let reply = client
                .send(Method::GET, "/v1/watchlist/count", &[], None)
                .await?;
            if reply.status != StatusCode::OK {
                bail!("the server answered {}: {}", reply.status, reply.body);
            }
            println!("{}", reply.body["count"]);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_csv_and_plain_lists() {
        let csv = "chain,address,label\neth,0xabc,cust 1\n,0xdef,\n";
        let entries = read_entries(csv, Some("bsc")).unwrap();
        assert_eq!(
            entries,
            vec![
                (
                    2,
                    json!({"chain": "eth", "address": "0xabc", "label": "cust 1"})
                ),
                (3, json!({"chain": "bsc", "address": "0xdef"})),
            ]
        );
        let lines = "# exported\n0xabc\n\n1BoatSLRHtKNngkdXEeobR76b53LETtpyT\n";
        let entries = read_entries(lines, None).unwrap();
        assert_eq!(
            entries,
            vec![
                (2, json!({"address": "0xabc"})),
                (4, json!({"address": "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"})),
            ]
        );
    }
}
