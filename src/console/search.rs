//! Searching and filtering records (kind, chain, category, source, TLP,
//! text, address), and exporting what is shown as CSV. The filters are
//! read by the API's own query parser (`api::records::ListQuery`), the
//! records by `records::list`, `records::count` and `records::export`.
use super::forms::{self, Choice};
use super::pages::{self, Chrome, RecordLink};
use super::session::Session;
use super::ConsoleError;
use crate::api::records::ListQuery;
use crate::domain::{RecordKind, Scope};
use crate::records;
use crate::storage::Database;
use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

/// The most records one search page shows (the export takes up to 10,000).
const PAGE: i64 = 100;
const EXPORT: i64 = 10_000;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    chain: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    tlp: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

fn given(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

impl SearchForm {
    fn query(&self, with_cursor: bool) -> ListQuery {
        ListQuery {
            kind: given(&self.kind),
            chain: given(&self.chain),
            address: given(&self.address),
            category: given(&self.category),
            source: given(&self.source),
            tlp: given(&self.tlp),
            updated_since: None,
            q: given(&self.q),
            include_revoked: None,
            limit: None,
            after: if with_cursor {
                given(&self.after)
            } else {
                None
            },
            format: None,
        }
    }

    /// The form's filters as a query string (without the cursor).
    fn query_string(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("kind", &self.kind),
            ("chain", &self.chain),
            ("address", &self.address),
            ("category", &self.category),
            ("source", &self.source),
            ("tlp", &self.tlp),
            ("q", &self.q),
        ] {
            if !value.trim().is_empty() {
                query.append_pair(name, value.trim());
            }
        }
        query.finish()
    }
}

pub struct ResultRow {
    pub link: RecordLink,
    pub chain: String,
    pub categories: String,
    pub confidence: u8,
    pub source: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "console/search.html")]
struct SearchPage {
    chrome: Option<Chrome>,
    form: SearchForm,
    kinds: Vec<Choice>,
    categories: Vec<Choice>,
    tlps: Vec<Choice>,
    rows: Vec<ResultRow>,
    total: i64,
    query: String,
    next: Option<String>,
}

#[get("/records")]
pub async fn search(
    session: Session,
    db: web::Data<Database>,
    form: web::Query<SearchForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.require(Scope::IndicatorsRead)?;
    let form = form.into_inner();
    let (filter, _) = form.query(true).into_filter()?;
    let (count_filter, _) = form.query(false).into_filter()?;
    let caller = session.caller.clone();
    let (page, total) = db
        .run(move |conn| -> Result<_, ConsoleError> {
            let page = records::list(conn, &caller, &filter, PAGE)?;
            let total = records::count(conn, &caller, &count_filter)?;
            Ok((page, total))
        })
        .await?;
    let rows = page
        .items
        .iter()
        .map(|v| ResultRow {
            link: RecordLink::of(v),
            chain: v.content.chain.clone().unwrap_or_default(),
            categories: v
                .content
                .categories
                .iter()
                .map(|c| c.as_str().replace('_', " "))
                .collect::<Vec<_>>()
                .join(", "),
            confidence: v.content.confidence,
            source: v
                .content
                .provenance
                .source_organization
                .clone()
                .unwrap_or_else(|| "(anonymous)".into()),
            updated: v.updated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        })
        .collect();
    let kinds = std::iter::once(Choice {
        value: "",
        text: "any".into(),
        selected: form.kind.is_empty(),
    })
    .chain(RecordKind::ALL.iter().map(|k| Choice {
        value: k.as_str(),
        text: k.as_str().into(),
        selected: form.kind == k.as_str(),
    }))
    .collect();
    let mut categories = forms::category_choices(std::slice::from_ref(&form.category));
    categories.insert(
        0,
        Choice {
            value: "",
            text: "any".into(),
            selected: form.category.is_empty(),
        },
    );
    let mut tlps = forms::tlp_choices(&form.tlp);
    tlps.insert(
        0,
        Choice {
            value: "",
            text: "any".into(),
            selected: form.tlp.is_empty(),
        },
    );
    pages::page(&SearchPage {
        chrome: Some(Chrome::of(&session)),
        query: form.query_string(),
        kinds,
        categories,
        tlps,
        rows,
        total,
        next: page.next,
        form,
    })
}

/// The records the search shows (up to 10,000 at a time), as the API's CSV export.
#[get("/records/export")]
pub async fn export(
    session: Session,
    db: web::Data<Database>,
    form: web::Query<SearchForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.require(Scope::IndicatorsRead)?;
    let (filter, _) = form.query(false).into_filter()?;
    let caller = session.caller.clone();
    let page = db
        .run(move |conn| records::export(conn, &caller, &filter, EXPORT, "csv"))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"tracewire-records.csv\"",
        ))
        .body(records::export::to_csv(&page.items)))
}
