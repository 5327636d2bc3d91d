//! Looking addresses up: one address in any form (`GET /console/lookup`),
//! or a pasted list (`POST /console/screen`), shown as a table or
//! downloaded as CSV. Both call `crate::screening::screen`, as the API does.
use super::pages::{self, Chrome, RecordLink};
use super::session::Session;
use super::upload;
use super::ConsoleError;
use crate::domain::Scope;
use crate::error::FieldError;
use crate::screening::{self, ScreenItem, ScreenResult, MAX_SCREEN_BATCH};
use crate::storage::Database;
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

/// One screened address, for people.
pub struct ScreenRow {
    pub input: String,
    pub chain: String,
    pub matched: bool,
    pub forms: Vec<String>,
    pub categories: String,
    pub confidence: String,
    pub sources: String,
    pub records: Vec<RecordLink>,
    pub wallets: Vec<RecordLink>,
    pub entities: Vec<RecordLink>,
    pub sighting_reports: usize,
    pub sighting_count: u64,
    pub error: Option<String>,
}

impl ScreenRow {
    fn of(result: &ScreenResult) -> ScreenRow {
        ScreenRow {
            input: result.input.clone(),
            chain: result.chain.clone().unwrap_or_else(|| "any".into()),
            matched: result.matched,
            forms: result
                .forms
                .iter()
                .map(|f| format!("{} on {}", f.address, f.chains.join(", ")))
                .collect(),
            categories: result
                .categories
                .iter()
                .map(|c| c.as_str().replace('_', " "))
                .collect::<Vec<_>>()
                .join(", "),
            confidence: result
                .highest_confidence
                .map(|c| c.to_string())
                .unwrap_or_default(),
            sources: result.sources.join(", "),
            records: result.records.iter().map(RecordLink::of).collect(),
            wallets: result
                .wallets
                .iter()
                .map(|l| RecordLink::of(&l.record))
                .collect(),
            entities: result
                .entities
                .iter()
                .map(|l| RecordLink::of(&l.record))
                .collect(),
            sighting_reports: result.sightings.reports,
            sighting_count: result.sightings.count,
            error: result.error.as_ref().map(|e| e.message.clone()),
        }
    }
}

#[derive(Template)]
#[template(path = "console/lookup.html")]
struct LookupPage {
    chrome: Option<Chrome>,
    csrf: String,
    address: String,
    chain: String,
    list: String,
    rows: Vec<ScreenRow>,
    searched: bool,
    matched: usize,
    max_batch: usize,
}

#[derive(Debug, Deserialize)]
struct LookupQuery {
    #[serde(default)]
    address: String,
    #[serde(default)]
    chain: String,
}

fn item(chain: &str, address: &str) -> ScreenItem {
    let chain = chain.trim();
    ScreenItem {
        chain: (!chain.is_empty() && !chain.eq_ignore_ascii_case("any")).then(|| chain.to_owned()),
        address: address.trim().to_owned(),
    }
}

async fn screen(
    db: &Database,
    session: &Session,
    items: Vec<ScreenItem>,
) -> Result<Vec<ScreenResult>, ConsoleError> {
    let caller = session.caller.clone();
    Ok(db
        .run(move |conn| screening::screen(conn, &caller, &items))
        .await?)
}

#[get("/lookup")]
pub async fn lookup(
    session: Session,
    db: web::Data<Database>,
    query: web::Query<LookupQuery>,
) -> Result<HttpResponse, ConsoleError> {
    session.require(Scope::IndicatorsRead)?;
    let query = query.into_inner();
    let searched = !query.address.trim().is_empty();
    let results = if searched {
        screen(&db, &session, vec![item(&query.chain, &query.address)]).await?
    } else {
        Vec::new()
    };
    pages::page(&LookupPage {
        chrome: Some(Chrome::of(&session)),
        csrf: session.csrf.clone(),
        matched: results.iter().filter(|r| r.matched).count(),
        rows: results.iter().map(ScreenRow::of).collect(),
        address: query.address,
        chain: query.chain,
        list: String::new(),
        searched,
        max_batch: MAX_SCREEN_BATCH,
    })
}

#[derive(Debug, Deserialize)]
struct BulkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    chain: String,
    /// One address per line; a line `chain,address` names its chain.
    #[serde(default)]
    addresses: String,
    /// `csv` to download the results.
    #[serde(default)]
    format: String,
}

/// The items of a pasted list or CSV text: one address per line, or
/// `chain,address` (a header line `chain,address` is skipped).
fn bulk_items(default_chain: &str, text: &str) -> Vec<ScreenItem> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case("chain,address"))
        .map(|line| match line.split_once(',') {
            Some((chain, address)) => item(chain, address),
            None => item(default_chain, line),
        })
        .collect()
}

#[post("/screen")]
pub async fn screen_list(
    req: HttpRequest,
    session: Session,
    db: web::Data<Database>,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let form: BulkForm = upload::decode(upload::fields(&req, &body)?, &[], Some("addresses"))?;
    session.check_post(&req, &form.csrf)?;
    session.require(Scope::IndicatorsRead)?;
    let items = bulk_items(&form.chain, &form.addresses);
    if items.is_empty() || items.len() > MAX_SCREEN_BATCH {
        return Err(ConsoleError::validation(vec![FieldError::new(
            "addresses",
            format!(
                "1 to {MAX_SCREEN_BATCH} addresses, one per line (got {})",
                items.len()
            ),
        )]));
    }
    let results = screen(&db, &session, items).await?;
    if form.format == "csv" {
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"tracewire-screening.csv\"",
            ))
            .body(screening::export::to_csv(&results)));
    }
    pages::page(&LookupPage {
        chrome: Some(Chrome::of(&session)),
        csrf: session.csrf.clone(),
        matched: results.iter().filter(|r| r.matched).count(),
        rows: results.iter().map(ScreenRow::of).collect(),
        address: String::new(),
        chain: form.chain,
        list: form.addresses,
        searched: true,
        max_batch: MAX_SCREEN_BATCH,
    })
}
