//! Reporting a sighting of a record or of an address, with its own
//! sharing. The form becomes the body `POST /v1/sightings` takes and is
//! stored by the same code (`sightings::with_defaults`,
//! `records::create_batch_of` with kind `sighting`).
use super::forms::{self, Choice, SharingForm};
use super::pages::{self, Chrome, RecordLink};
use super::session::Session;
use super::ConsoleError;
use crate::domain::{RecordKind, Scope};
use crate::error::FieldError;
use crate::records::{self, sightings};
use crate::storage::Database;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Template)]
#[template(path = "console/sighting.html")]
struct SightingPage {
    chrome: Option<Chrome>,
    csrf: String,
    of: Option<RecordLink>,
    form: SightingForm,
    contexts: Vec<Choice>,
    tlps: Vec<Choice>,
    errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct SightingForm {
    #[serde(default)]
    csrf: String,
    /// The record seen (its id), or empty for an address.
    #[serde(default)]
    of: String,
    #[serde(default)]
    chain: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    seen_at: String,
    #[serde(default)]
    count: String,
    #[serde(default)]
    context: String,
    #[serde(default)]
    description: String,
    #[serde(flatten)]
    sharing: SharingForm,
}

#[derive(Debug, Deserialize)]
struct NewQuery {
    #[serde(default)]
    of: String,
    #[serde(default)]
    chain: String,
    #[serde(default)]
    address: String,
}

/// The record a sighting names, as the reader sees it (404 if it may not).
async fn record_seen(
    db: &Database,
    session: &Session,
    id: &str,
) -> Result<Option<RecordLink>, ConsoleError> {
    if id.trim().is_empty() {
        return Ok(None);
    }
    let caller = session.caller.clone();
    let id = id.trim().to_owned();
    let view = db.run(move |conn| records::get(conn, &caller, &id)).await?;
    Ok(Some(RecordLink::of(&view)))
}

fn render(
    session: &Session,
    of: Option<RecordLink>,
    form: SightingForm,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, ConsoleError> {
    let page = SightingPage {
        chrome: Some(Chrome::of(session)),
        csrf: session.csrf.clone(),
        of,
        contexts: forms::context_choices(if form.context.is_empty() {
            "other"
        } else {
            &form.context
        }),
        tlps: forms::tlp_choices(if form.sharing.tlp.is_empty() {
            "amber"
        } else {
            &form.sharing.tlp
        }),
        form,
        errors,
    };
    pages::page(&page)
}

#[get("/sightings/new")]
pub async fn sighting_form(
    session: Session,
    db: web::Data<Database>,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, ConsoleError> {
    session.require(Scope::SightingsWrite)?;
    let query = query.into_inner();
    let of = record_seen(&db, &session, &query.of).await?;
    let form = SightingForm {
        of: of.as_ref().map(|r| r.id.clone()).unwrap_or_default(),
        chain: query.chain,
        address: query.address,
        count: "1".into(),
        seen_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M").to_string(),
        ..SightingForm::default()
    };
    render(&session, of, form, Vec::new())
}

impl SightingForm {
    fn body(&self) -> Value {
        let mut body = Map::new();
        if !self.of.trim().is_empty() {
            body.insert("sighting_of".into(), json!(self.of.trim()));
        } else {
            body.insert("chain".into(), json!(self.chain.trim()));
            body.insert("address".into(), json!(self.address.trim()));
        }
        if let Some(at) = forms::instant(&self.seen_at) {
            body.insert("seen_at".into(), at);
        }
        let count = self.count.trim();
        if !count.is_empty() {
            body.insert(
                "count".into(),
                count
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| json!(count)),
            );
        }
        if let Some(context) = forms::text(&self.context) {
            body.insert("context".into(), context);
        }
        body.insert("description".into(), json!(self.description.trim()));
        self.sharing.apply(&mut body);
        Value::Object(body)
    }
}

#[post("/sightings")]
pub async fn report_sighting(
    req: HttpRequest,
    session: Session,
    db: web::Data<Database>,
    form: web::Form<SightingForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_post(&req, &form.csrf)?;
    session.require(Scope::SightingsWrite)?;
    let form = form.into_inner();
    let items = sightings::with_defaults(vec![form.body()]);
    let caller = session.caller.clone();
    let created = db
        .run(move |conn| {
            records::create_batch_of(conn, &caller, items, None, Some(RecordKind::Sighting))
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
            let of = record_seen(&db, &session, &form.of).await.ok().flatten();
            let mut response = render(&session, of, form, errors)?;
            *response.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
    }
}
