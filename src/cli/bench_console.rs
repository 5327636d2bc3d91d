//! `tracewire bench console`: the analyst console's record page for a
//! record with `--relationships` relationships (an address that belongs to
//! half as many wallets and is attributed to as many entities), rendered
//! `--requests` times one after another over a signed-in console session,
//! beside the same record read as JSON from `GET /v1/records/{id}` (the
//! floor: TLS, authentication, one disclosed read). Prints p50/p90/p99/max
//! of each and whether the page's p99 meets the target (< 50 ms).
use crate::client::{tls_config, ApiClient, ConnectArgs};
use anyhow::{bail, Context};
use awc::http::{Method, StatusCode};
use clap::Args;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The render target of issue 15.
const TARGET_P99: Duration = Duration::from_millis(50);

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Relationships of the record (half `member_of` wallets, half `attributed_to` entities).
    #[arg(long, default_value_t = 50)]
    pub relationships: usize,
    /// Page requests to measure (after 20 unmeasured ones).
    #[arg(long, default_value_t = 500)]
    pub requests: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ids(reply: &crate::client::Reply) -> anyhow::Result<Vec<String>> {
    if reply.status != StatusCode::CREATED {
        bail!(
            "cannot create the bench records: {} {}",
            reply.status,
            reply.body
        );
    }
    Ok(reply.body["ids"]
        .as_array()
        .context("no ids")?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect())
}

fn item(kind: &str, fields: Value) -> Value {
    let mut item = json!({
        "kind": kind, "categories": ["scam"], "confidence": 60,
        "tlp": "green", "audience": { "all_partners": true }, "method": "investigation",
    });
    if let (Some(item), Some(fields)) = (item.as_object_mut(), fields.as_object()) {
        item.extend(fields.clone());
    }
    item
}

/// Creates the record and its relationships; returns the record's id.
async fn create_record(api: &ApiClient, relationships: usize) -> anyhow::Result<String> {
    let (chain, address) = super::bench::synthetic_address(
        (uuid::Uuid::new_v4().as_u128() % 1_000_000_000) as usize + 10_000_000,
    );
    let wallets = relationships / 2;
    let entities = relationships - wallets;
    let mut items = vec![item(
        "address",
        json!({ "chain": chain, "address": address }),
    )];
    for n in 0..wallets {
        items.push(item(
            "wallet",
            json!({ "chain": chain, "name": format!("bench wallet {n}") }),
        ));
    }
    for n in 0..entities {
        items.push(item(
            "entity",
            json!({ "name": format!("bench entity {n}"), "entity_type": "criminal_group" }),
        ));
    }
    let reply = api
        .send(
            Method::POST,
            "/v1/records",
            &[("Prefer", "return=minimal")],
            Some(&json!({ "items": items })),
        )
        .await?;
    let created = ids(&reply)?;
    let (record, others) = created.split_first().context("no record")?;
    let links: Vec<Value> = others
        .iter()
        .enumerate()
        .map(|(n, other)| {
            let relation = if n < wallets {
                "member_of"
            } else {
                "attributed_to"
            };
            item(
                "relationship",
                json!({ "relation": relation, "from": record, "to": other }),
            )
        })
        .collect();
    let reply = api
        .send(
            Method::POST,
            "/v1/records",
            &[("Prefer", "return=minimal")],
            Some(&json!({ "items": links })),
        )
        .await?;
    ids(&reply)?;
    Ok(record.clone())
}

/// Times `requests` GETs of `path` (after 20 unmeasured ones), checking each answer.
async fn measure(
    http: &awc::Client,
    url: &str,
    headers: &[(&str, String)],
    requests: usize,
    check: impl Fn(&[u8]) -> bool,
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(requests);
    for n in 0..requests + 20 {
        let mut request = http.get(url);
        for (name, value) in headers {
            request = request.insert_header((*name, value.as_str()));
        }
        let started = Instant::now();
        let mut response = request
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
        let body = response.body().limit(64 * 1024 * 1024).await?;
        let took = started.elapsed();
        if response.status() != StatusCode::OK || !check(&body) {
            bail!("{url}: unexpected answer {}", response.status());
        }
        if n >= 20 {
            times.push(took);
        }
    }
    times.sort();
    Ok(times)
}

fn report(name: &str, times: &[Duration]) {
    println!(
        "{name}: {} requests, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        ms(percentile(times, 0.5)),
        ms(percentile(times, 0.9)),
        ms(percentile(times, 0.99)),
        ms(times.last().copied().unwrap_or_default()),
    );
}

pub async fn console(args: ConsoleArgs) -> anyhow::Result<()> {
    let connection = args.connect.resolve()?;
    let api = ApiClient::new(connection.clone())?;
    let record = create_record(&api, args.relationships).await?;
    eprintln!("record {record} with {} relationships", args.relationships);

    let http = awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(Arc::new(tls_config(&connection)?)))
        .disable_redirects()
        .timeout(Duration::from_secs(60))
        .finish();
    let origin = connection.url.trim_end_matches('/').to_owned();
    let signed_in = http
        .post(format!("{origin}/console/signin"))
        .insert_header(("Origin", origin.as_str()))
        .send_form(&[("client_id", connection.client_id.as_str())])
        .await
        .map_err(|e| anyhow::anyhow!("sign-in: {e}"))?;
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tw_console="))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
        .with_context(|| format!("console sign-in refused ({})", signed_in.status()))?;

    let edges = args.relationships;
    let page = measure(
        &http,
        &format!("{origin}/console/records/{record}"),
        &[("Cookie", cookie)],
        args.requests,
        |body| {
            let text = String::from_utf8_lossy(body);
            text.contains("id=\"record-graph\"")
                && text.matches("class=\"graph-edge\"").count() == edges
        },
    )
    .await?;
    let token = api.token().await?;
    let json_read = measure(
        &http,
        &format!("{origin}/v1/records/{record}"),
        &[("Authorization", format!("Bearer {token}"))],
        args.requests,
        |body| serde_json::from_slice::<Value>(body).is_ok_and(|v| v["id"] == json!(record)),
    )
    .await?;
    report("console record page", &page);
    report("baseline GET /v1/records/{id}", &json_read);
    let p99 = percentile(&page, 0.99);
    println!(
        "target: record page p99 < {} ms with {} relationships: {} (p99 {:.2} ms)",
        TARGET_P99.as_millis(),
        args.relationships,
        if p99 < TARGET_P99 { "met" } else { "NOT met" },
        ms(p99)
    );
    Ok(())
}
