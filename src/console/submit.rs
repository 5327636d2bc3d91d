//! Submitting records: one through a form (`/console/submit`), or a CSV
//! import (`/console/import`) previewed first: the rejected lines are
//! shown with their reasons before anything is stored, and only a confirm
//! stores the accepted ones. Lines are read by `crate::import::csv_lines`
//! (as `tracewire import` reads them), checked by `records::check_batch`
//! and stored by `records::create_batch_of`, the API's own checks.
use super::forms::{self, Choice, SharingForm};
use super::pages::{self, Chrome};
use super::session::Session;
use super::upload;
use super::ConsoleError;
use crate::domain::{RecordKind, Scope};
use crate::error::FieldError;
use crate::import::{self, Defaults};
use crate::records::{self, RecordError, MAX_BATCH};
use crate::storage::Database;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SubmitForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    chain: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    entity_type: String,
    #[serde(default)]
    aliases: String,
    /// Categories, separated by commas (the checkboxes send one each; see [`categories`]).
    #[serde(default)]
    categories: String,
    #[serde(default)]
    confidence: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    source_reference: String,
    #[serde(flatten)]
    sharing: SharingForm,
}

#[derive(Template)]
#[template(path = "console/submit.html")]
struct SubmitPage {
    chrome: Option<Chrome>,
    csrf: String,
    form: SubmitForm,
    kinds: Vec<Choice>,
    categories: Vec<Choice>,
    methods: Vec<Choice>,
    tlps: Vec<Choice>,
    errors: Vec<FieldError>,
}

fn split(text: &str) -> Vec<String> {
    text.split([',', ';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl SubmitForm {
    fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("kind".into(), json!(self.kind.trim()));
        for (name, value) in [
            ("chain", &self.chain),
            ("address", &self.address),
            ("name", &self.name),
            ("entity_type", &self.entity_type),
            ("source_reference", &self.source_reference),
        ] {
            if let Some(value) = forms::text(value) {
                body.insert(name.into(), value);
            }
        }
        if !self.aliases.trim().is_empty() {
            body.insert("aliases".into(), json!(split(&self.aliases)));
        }
        body.insert("categories".into(), json!(split(&self.categories)));
        let confidence = self.confidence.trim();
        body.insert(
            "confidence".into(),
            confidence
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| json!(confidence)),
        );
        body.insert("description".into(), json!(self.description.trim()));
        body.insert("method".into(), json!(self.method.trim()));
        self.sharing.apply(&mut body);
        Value::Object(body)
    }
}

fn render_submit(
    session: &Session,
    form: SubmitForm,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, ConsoleError> {
    let kinds = [RecordKind::Address, RecordKind::Wallet, RecordKind::Entity]
        .iter()
        .map(|k| Choice {
            value: k.as_str(),
            text: k.as_str().into(),
            selected: form.kind == k.as_str(),
        })
        .collect();
    pages::page(&SubmitPage {
        chrome: Some(Chrome::of(session)),
        csrf: session.csrf.clone(),
        kinds,
        categories: forms::category_choices(&split(&form.categories)),
        methods: forms::method_choices(if form.method.is_empty() {
            "investigation"
        } else {
            &form.method
        }),
        tlps: forms::tlp_choices(if form.sharing.tlp.is_empty() {
            "amber"
        } else {
            &form.sharing.tlp
        }),
        form,
        errors,
    })
}

#[get("/submit")]
pub async fn submit_form_page(session: Session) -> Result<HttpResponse, ConsoleError> {
    session.require(Scope::IndicatorsWrite)?;
    let form = SubmitForm {
        kind: "address".into(),
        confidence: "50".into(),
        ..SubmitForm::default()
    };
    render_submit(&session, form, Vec::new())
}

#[post("/submit")]
pub async fn submit(
    req: HttpRequest,
    session: Session,
    db: web::Data<Database>,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let form: SubmitForm = upload::decode(upload::fields(&req, &body)?, &["categories"], None)?;
    session.check_post(&req, &form.csrf)?;
    session.require(Scope::IndicatorsWrite)?;
    if form.kind == RecordKind::Sighting.as_str() || form.kind == RecordKind::Relationship.as_str()
    {
        return Err(ConsoleError::validation(vec![FieldError::new(
            "kind",
            "submit an address, wallet or entity here (sightings have their own form)",
        )]));
    }
    let item = form.body();
    let caller = session.caller.clone();
    let created = db
        .run(move |conn| {
            records::create_batch_of(conn, &caller, vec![item], None, None)
                .map_err(ConsoleError::from)
        })
        .await;
    match created {
        Ok(created) => {
            let id = created
                .records
                .first()
                .map(|r| r.content.id.clone())
                .ok_or_else(|| ConsoleError::Internal("no record created".into()))?;
            Ok(pages::see_other(&format!(
                "{}?created=1",
                pages::record_href(&id)
            )))
        }
        Err(error) => {
            let errors = pages::field_errors(error)?;
            let mut response = render_submit(&session, form, errors)?;
            *response.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    csv: String,
    /// `preview` (the default) or `confirm`.
    #[serde(default)]
    step: String,
    #[serde(flatten)]
    sharing: SharingForm,
}

/// One rejected line, and why.
pub struct Rejected {
    pub origin: String,
    pub reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/import.html")]
struct ImportPage {
    chrome: Option<Chrome>,
    csrf: String,
    form: ImportForm,
    tlps: Vec<Choice>,
    previewed: bool,
    lines: usize,
    accepted: usize,
    rejected: Vec<Rejected>,
    stored: Option<usize>,
    max_batch: usize,
}

fn render_import(
    session: &Session,
    form: ImportForm,
    outcome: Option<(usize, usize, Vec<Rejected>)>,
    stored: Option<usize>,
) -> Result<HttpResponse, ConsoleError> {
    let (lines, accepted, rejected) = outcome.unwrap_or((0, 0, Vec::new()));
    pages::page(&ImportPage {
        chrome: Some(Chrome::of(session)),
        csrf: session.csrf.clone(),
        tlps: forms::tlp_choices(if form.sharing.tlp.is_empty() {
            "green"
        } else {
            &form.sharing.tlp
        }),
        previewed: lines > 0,
        lines,
        accepted,
        rejected,
        stored,
        max_batch: MAX_BATCH,
        form,
    })
}

#[get("/import")]
pub async fn import_form(session: Session) -> Result<HttpResponse, ConsoleError> {
    session.require(Scope::IndicatorsWrite)?;
    render_import(&session, ImportForm::default(), None, None)
}

/// The lines of the CSV: the items that pass every check, and the rejected
/// lines with their reasons (parse errors, then the create's own errors).
fn preview(
    conn: &mut crate::storage::DbConnection,
    caller: &crate::auth::Caller,
    form: &ImportForm,
) -> Result<(usize, Vec<Value>, Vec<Rejected>), ConsoleError> {
    let mut sharing = Map::new();
    form.sharing.apply(&mut sharing);
    let audience = &sharing["audience"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let defaults = Defaults {
        tlp: sharing["tlp"].as_str().unwrap_or("green").to_owned(),
        organizations: strings(&audience["organizations"]),
        communities: strings(&audience["communities"]),
        ..Defaults::default()
    };
    let lines = import::csv_lines("upload.csv", &form.csv, &defaults);
    let total = lines.len();
    if total == 0 || total > MAX_BATCH {
        return Err(ConsoleError::validation(vec![FieldError::new(
            "csv",
            format!("1 to {MAX_BATCH} lines below the header (got {total})"),
        )]));
    }
    let mut rejected = Vec::new();
    let mut candidates = Vec::new();
    for line in lines {
        match line.item {
            Ok(item) => candidates.push((line.origin, item)),
            Err(reason) => rejected.push(Rejected {
                origin: line.origin,
                reasons: vec![reason],
            }),
        }
    }
    let mut accepted = Vec::new();
    if !candidates.is_empty() {
        let items: Vec<Value> = candidates.iter().map(|(_, item)| item.clone()).collect();
        match records::check_batch(conn, caller, items, None) {
            Ok(()) => accepted = candidates.into_iter().map(|(_, item)| item).collect(),
            Err(RecordError::Validation(errors)) => {
                let mut by_index: BTreeMap<usize, Vec<String>> = BTreeMap::new();
                for e in errors {
                    by_index
                        .entry(e.index.unwrap_or(0))
                        .or_default()
                        .push(format!("{}: {}", e.field, e.message));
                }
                for (index, (origin, item)) in candidates.into_iter().enumerate() {
                    match by_index.remove(&index) {
                        Some(reasons) => rejected.push(Rejected { origin, reasons }),
                        None => accepted.push(item),
                    }
                }
            }
            Err(other) => return Err(other.into()),
        }
    }
    rejected.sort_by_key(|r| {
        r.origin
            .rsplit(':')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    });
    Ok((total, accepted, rejected))
}

#[post("/import")]
pub async fn import_csv(
    req: HttpRequest,
    session: Session,
    db: web::Data<Database>,
    body: web::Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let form: ImportForm = upload::decode(upload::fields(&req, &body)?, &[], Some("csv"))?;
    session.check_post(&req, &form.csrf)?;
    session.require(Scope::IndicatorsWrite)?;
    let confirm = form.step == "confirm";
    let caller = session.caller.clone();
    let checked = form.clone();
    let (total, accepted, rejected, stored) = db
        .run(move |conn| -> Result<_, ConsoleError> {
            let (total, accepted, rejected) = preview(conn, &caller, &checked)?;
            let stored = if confirm && !accepted.is_empty() {
                let created =
                    records::create_batch_of(conn, &caller, accepted.clone(), None, None)?;
                Some(created.records.len())
            } else {
                None
            };
            Ok((total, accepted.len(), rejected, stored))
        })
        .await?;
    render_import(&session, form, Some((total, accepted, rejected)), stored)
}
