//! `/v1/records`: create, read and list intelligence records. The rules
//! live in `crate::records`; the sharing rule in `crate::access`.
use crate::auth::Caller;
use crate::domain::chains::{lookup_forms, Chain};
use crate::domain::{Category, RecordKind, Scope, Tlp};
use crate::error::{ApiError, FieldError, Problem};
use crate::records::{
    self, AttributionPath, RecordError, RecordInput, RecordPage, RecordView, RevisionView,
};
use crate::storage::records::RecordFilter;
use crate::storage::Database;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The fixed paths come before /records/{id}, which would match them too.
    cfg.service(create_records)
        .service(list_records)
        .service(export_records)
        .service(count_records)
        .service(get_record)
        .service(update_record)
        .service(revoke_record)
        .service(list_revisions)
        .service(list_relationships)
        .service(get_attribution);
}

impl From<RecordError> for ApiError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Validation(errors) => ApiError::Validation(errors),
            RecordError::NotFound => ApiError::NotFound,
            RecordError::BadCursor(message) => ApiError::BadRequest(message),
            RecordError::NotSource => ApiError::NotSource,
            RecordError::IdempotencyKeyReused => ApiError::IdempotencyKeyReused,
            RecordError::InsufficientScope(scope) => {
                crate::auth::AuthError::InsufficientScope(scope).into()
            }
            RecordError::Storage(storage) => storage.into(),
        }
    }
}

/// A batch of records to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRecords {
    /// 1 to 10,000 records; all are stored or none.
    #[schema(value_type = Vec<RecordInput>, min_items = 1, max_items = 10_000)]
    pub items: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedRecords {
    /// How many records were stored.
    pub count: usize,
    /// Their ids, in the order submitted.
    pub ids: Vec<String>,
    /// The stored records, in the order submitted (omitted with `Prefer: return=minimal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<RecordView>>,
}

/// The most characters an `Idempotency-Key` may have.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The request's `Idempotency-Key`, with the hash of the batch it came with
/// (over the items' canonical JSON, so formatting does not matter).
fn idempotency_key(
    request: &HttpRequest,
    items: &[serde_json::Value],
) -> Result<Option<records::IdempotencyKey>, ApiError> {
    use sha2::{Digest, Sha256};
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty()
                && k.len() <= MAX_IDEMPOTENCY_KEY
                && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
            ))
        })?;
    let canonical = serde_json::to_string(items).unwrap_or_default();
    Ok(Some(records::IdempotencyKey {
        key: key.to_owned(),
        request_hash: hex::encode(Sha256::digest(canonical.as_bytes())),
    }))
}

/// Does the request ask for `Prefer: return=minimal` (RFC 7240)?
fn prefers_minimal(request: &HttpRequest) -> bool {
    request
        .headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("return=minimal"))
}

/// Create records (atomic batch).
///
/// Every item is validated (addresses per chain, categories, TLP and
/// audience, references) before anything is stored; one bad item stores
/// nothing and the 422 lists every bad item by index and field. Provenance
/// (source organization, client, received_at) comes from the authenticated
/// caller, never from the body.
///
/// Send an `Idempotency-Key` header (any unique string, up to 255
/// characters) to make a retry safe: a repeated request with the same key
/// and the same items stores nothing new and gets the first answer again
/// (with `Idempotent-Replayed: true`); the same key with other items is a
/// 422 `idempotency-key-reused`. Keys are remembered for 24 hours.
/// `Prefer: return=minimal` answers with the ids only.
///
/// Sighting items (also accepted at `POST /v1/sightings`) need the
/// `sightings:write` scope, other items `indicators:write`.
#[utoipa::path(post, path = "/v1/records", tag = "records", operation_id = "create_records",
    request_body = CreateRecords,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried batch safe (24 hours): 1 to 255 visible ASCII characters", pattern = "^[!-~]{1,255}$", nullable = false),
        ("Prefer" = Option<String>, Header, description = "`return=minimal`: answer with ids only", nullable = false)),
    responses((status = 201, body = CreatedRecords, headers(("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same key"))),
        (status = 422, description = "Invalid items (by index and field); nothing stored", body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:write"])))]
#[post("/records")]
async fn create_records(
    caller: Caller,
    db: web::Data<Database>,
    request: HttpRequest,
    body: web::Json<CreateRecords>,
) -> Result<HttpResponse, ApiError> {
    // Each item's kind decides the scope it needs (see `records::create_batch`).
    caller.require_one_of(&[Scope::IndicatorsWrite, Scope::SightingsWrite])?;
    create(caller, db, request, body.into_inner().items, None).await
}

/// Stores a batch (see [`create_records`]), of kind `only` if given, and
/// answers 201 with the created records, honouring `Idempotency-Key` and
/// `Prefer: return=minimal`.
pub(crate) async fn create(
    caller: Caller,
    db: web::Data<Database>,
    request: HttpRequest,
    items: Vec<serde_json::Value>,
    only: Option<RecordKind>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&request, &items)?;
    let minimal = prefers_minimal(&request);
    let created = db
        .run(move |conn| records::create_batch_of(conn, &caller, items, key.as_ref(), only))
        .await?;
    let mut response = HttpResponse::Created();
    if created.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    if minimal {
        response.insert_header(("Preference-Applied", "return=minimal"));
    }
    Ok(response.json(CreatedRecords {
        count: created.records.len(),
        ids: created
            .records
            .iter()
            .map(|r| r.content.id.clone())
            .collect(),
        items: (!minimal).then_some(created.records),
    }))
}

/// Read a record.
///
/// 404 when it does not exist or is not shared with you: the two cannot be told apart.
#[utoipa::path(get, path = "/v1/records/{id}", tag = "records", operation_id = "get_record",
    responses((status = 200, body = RecordView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/records/{id}")]
async fn get_record(
    caller: Caller,
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<web::Json<RecordView>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let id = id.into_inner();
    let reader = caller.organization.to_string();
    let record = db
        .read(&reader, move |conn| records::get(conn, &caller, &id))
        .await?;
    Ok(web::Json(record))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// address, wallet, entity, relationship or sighting.
    #[param(value_type = Option<RecordKind>)]
    pub kind: Option<String>,
    /// Chain id or alias.
    pub chain: Option<String>,
    /// An address in any of its forms (case, prefixes, EVM/TRON, BCH legacy/cashaddr); with `chain` or without.
    pub address: Option<String>,
    #[param(value_type = Option<Category>)]
    pub category: Option<String>,
    /// Source organization id (anonymous records never match another organization's filter).
    pub source: Option<String>,
    pub tlp: Option<String>,
    /// Only records changed at or after this time (RFC 3339).
    pub updated_since: Option<DateTime<Utc>>,
    /// Text searched in wallet and entity names and aliases (case-insensitive).
    pub q: Option<String>,
    /// Include revoked records.
    pub include_revoked: Option<bool>,
    /// Page size: 1–1000 for lists (default 100), 1–100,000 for exports (default 10,000).
    #[param(minimum = 1, maximum = 100_000)]
    pub limit: Option<i64>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Exports only: `csv` (default), `jsonl`, or `misp` (one MISP event).
    pub format: Option<String>,
}

/// Which endpoint a [`ListQuery`] is for: they differ in paging and format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueryUse {
    List,
    Export,
    Count,
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    Csv,
    JsonLines,
    Misp,
}

impl ListQuery {
    fn into_filter(self) -> Result<(RecordFilter, i64), ApiError> {
        self.into_filter_for(QueryUse::List)
            .map(|(filter, limit, _)| (filter, limit))
    }

    fn into_filter_for(
        self,
        usage: QueryUse,
    ) -> Result<(RecordFilter, i64, ExportFormat), ApiError> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: String| errors.push(FieldError::new(field, message));
        let kind = self
            .kind
            .map(|k| k.parse::<RecordKind>().map(|k| k.as_str().to_owned()));
        let kind = kind.transpose().unwrap_or_else(|e| {
            bad("kind", e);
            None
        });
        let chain = match self.chain.as_deref().map(|c| (c, Chain::parse(c))) {
            Some((_, Some(chain))) => Some(chain),
            Some((c, None)) => {
                bad("chain", format!("unknown chain {c:?}"));
                None
            }
            None => None,
        };
        // The same forms screening matches: one lookup rule for both.
        let link_keys = self.address.as_deref().map(|address| {
            match lookup_forms(chain.map(|c| c.id()), address) {
                Ok(forms) => {
                    let mut keys: Vec<String> = forms.iter().flat_map(|a| a.link_keys()).collect();
                    keys.sort();
                    keys.dedup();
                    keys
                }
                Err(message) => {
                    bad("address", message);
                    Vec::new()
                }
            }
        });
        let category = self
            .category
            .map(|c| c.parse::<Category>().map(|c| c.as_str().to_owned()));
        let category = category.transpose().unwrap_or_else(|e| {
            bad("category", e);
            None
        });
        let tlp = self
            .tlp
            .map(|t| t.parse::<Tlp>().map(|t| t.as_str().to_owned()));
        let tlp = tlp.transpose().unwrap_or_else(|e| {
            bad("tlp", e.to_string());
            None
        });
        let (default_limit, max_limit) = match usage {
            QueryUse::Export => (10_000, records::MAX_EXPORT),
            QueryUse::List | QueryUse::Count => (100, records::MAX_PAGE),
        };
        let limit = self.limit.unwrap_or(default_limit);
        if !(1..=max_limit).contains(&limit) {
            bad("limit", format!("must be 1 to {max_limit}"));
        }
        if usage == QueryUse::Count {
            for (name, given) in [
                ("limit", self.limit.is_some()),
                ("after", self.after.is_some()),
            ] {
                if given {
                    bad(name, "a count has no pages".into());
                }
            }
        }
        let format = match (usage, self.format.as_deref()) {
            (QueryUse::Export, None | Some("csv")) => ExportFormat::Csv,
            (QueryUse::Export, Some("jsonl" | "json")) => ExportFormat::JsonLines,
            (QueryUse::Export, Some("misp")) => ExportFormat::Misp,
            (QueryUse::Export, Some(other)) => {
                bad(
                    "format",
                    format!("unknown format {other:?} (csv, jsonl or misp)"),
                );
                ExportFormat::Csv
            }
            (_, Some(_)) => {
                bad(
                    "format",
                    "only exports have a format (GET /v1/records/export)".into(),
                );
                ExportFormat::Csv
            }
            (_, None) => ExportFormat::Csv,
        };
        if let Some(at) = &self.updated_since {
            if let Err(problem) = crate::domain::check_instant(at) {
                bad("updated_since", problem);
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        // A list cursor is the `next` of an earlier page: a record id.
        // Anything else was not made by this server, and is not silently
        // taken as "after everything".
        if let Some(after) = &self.after {
            let is_cursor =
                uuid::Uuid::parse_str(after).is_ok_and(|id| id.hyphenated().to_string() == *after);
            if !is_cursor {
                return Err(ApiError::BadRequest(
                    "after: not a cursor (pass the `next` value of the previous page)".into(),
                ));
            }
        }
        let filter = RecordFilter {
            kind,
            chain: chain
                .filter(|_| self.address.is_none())
                .map(|c| c.id().to_owned()),
            link_keys,
            category,
            source: self.source,
            tlp,
            updated_since: self.updated_since.map(|t| t.naive_utc()),
            text: self.q.map(|q| q.to_lowercase()).filter(|q| !q.is_empty()),
            include_revoked: self.include_revoked.unwrap_or(false),
            after: self.after,
        };
        Ok((filter, limit, format))
    }
}

/// Export the records you may see, as CSV, JSON lines or a MISP event.
///
/// The same filters as the list; up to 100,000 records per response. When
/// more match, the `X-Next-Cursor` header (and a `Link: rel="next"`) gives
/// the `after` value for the next file. CSV columns: see the README; cells
/// that a spreadsheet would run as formulas get a leading `'`. `format=misp`
/// is one MISP event (`{"Event": …}`, as pymisp loads it and MISP imports
/// it): addresses as `btc`/`xmr`/`dash` attributes or `coin-address`
/// objects, wallets and entities as objects with their relationships as
/// object references (when both ends are in the same file), sightings,
/// TLP as `tlp:` tags (see the README).
#[utoipa::path(get, path = "/v1/records/export", tag = "records", operation_id = "export_records",
    params(ListQuery),
    responses((status = 200, description = "CSV (text/csv), JSON lines (application/x-ndjson) or a MISP event (application/json)", content((String = "text/csv"), (String = "application/x-ndjson"), (Object = "application/json")),
            headers(("X-Next-Cursor" = String, description = "Present when more records match: pass it as `after`"))),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/records/export")]
async fn export_records(
    caller: Caller,
    db: web::Data<Database>,
    request: HttpRequest,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let (filter, limit, format) = query.into_inner().into_filter_for(QueryUse::Export)?;
    let format_name = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::JsonLines => "jsonl",
        ExportFormat::Misp => "misp",
    };
    let reader = caller.organization.to_string();
    let page = db
        .read(&reader, move |conn| {
            records::export(conn, &caller, &filter, limit, format_name)
        })
        .await?;
    let (content_type, body) = match format {
        ExportFormat::Misp => {
            let export = crate::misp::export::ExportFor {
                reader: &reader,
                at: chrono::Utc::now(),
            };
            let event = crate::misp::export::event(&page.items, &export);
            (
                "application/json",
                serde_json::to_vec(&event).unwrap_or_default(),
            )
        }
        ExportFormat::Csv => (
            "text/csv; charset=utf-8",
            records::export::to_csv(&page.items),
        ),
        ExportFormat::JsonLines => (
            "application/x-ndjson",
            records::export::to_json_lines(&page.items),
        ),
    };
    let mut response = HttpResponse::Ok();
    response.content_type(content_type).insert_header((
        "Content-Disposition",
        format!(
            "attachment; filename=\"tracewire-records.{}\"",
            match format {
                ExportFormat::Misp => "misp.json",
                _ => format_name,
            }
        ),
    ));
    if let Some(next) = &page.next {
        response.insert_header(("X-Next-Cursor", next.as_str()));
        let mut url = request.uri().path().to_owned();
        let others: Vec<(String, String)> =
            url::form_urlencoded::parse(request.query_string().as_bytes())
                .filter(|(k, _)| k != "after")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(others)
            .append_pair("after", next)
            .finish();
        url.push('?');
        url.push_str(&query);
        response.insert_header(("Link", format!("<{url}>; rel=\"next\"")));
    }
    Ok(response.body(body))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecordCount {
    /// Matching records you may see (records not shared with you never count).
    pub count: i64,
}

/// Count the records you may see that match the filters.
#[utoipa::path(get, path = "/v1/records/count", tag = "records", operation_id = "count_records",
    params(ListQuery),
    responses((status = 200, body = RecordCount), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/records/count")]
async fn count_records(
    caller: Caller,
    db: web::Data<Database>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<RecordCount>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let (filter, _, _) = query.into_inner().into_filter_for(QueryUse::Count)?;
    let reader = caller.organization.to_string();
    let count = db
        .read(&reader, move |conn| records::count(conn, &caller, &filter))
        .await?;
    Ok(web::Json(RecordCount { count }))
}

/// List and search records you may see.
///
/// Ordered by id (creation time); follow `next` with `after` for the next page.
#[utoipa::path(get, path = "/v1/records", tag = "records", operation_id = "list_records",
    params(ListQuery),
    responses((status = 200, body = RecordPage), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/records")]
async fn list_records(
    caller: Caller,
    db: web::Data<Database>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<RecordPage>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let (filter, limit) = query.into_inner().into_filter()?;
    let reader = caller.organization.to_string();
    let page = db
        .read(&reader, move |conn| {
            records::list(conn, &caller, &filter, limit)
        })
        .await?;
    Ok(web::Json(page))
}

/// Update a record (a new revision).
///
/// Only the source organization may change a record; the body is a full
/// record of the same kind. Older revisions stay readable to whoever could
/// read them. Wider sharing is done this way too. Sightings need the
/// `sightings:write` scope, other records `indicators:write`.
#[utoipa::path(put, path = "/v1/records/{id}", tag = "records", operation_id = "update_record",
    request_body = RecordInput,
    responses((status = 200, body = RecordView),
        (status = 403, description = "Not the record's source", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed concurrently", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:write"])))]
#[put("/records/{id}")]
async fn update_record(
    caller: Caller,
    db: web::Data<Database>,
    id: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<web::Json<RecordView>, ApiError> {
    caller.require_one_of(&[Scope::IndicatorsWrite, Scope::SightingsWrite])?;
    let (id, body) = (id.into_inner(), body.into_inner());
    let record = db
        .run(move |conn| records::update(conn, &caller, &id, body))
        .await?;
    Ok(web::Json(record))
}

/// Revoke a record (a new revision marked revoked).
///
/// Only the source organization may; sightings need the `sightings:write`
/// scope, other records `indicators:write`.
#[utoipa::path(post, path = "/v1/records/{id}/revoke", tag = "records", operation_id = "revoke_record",
    responses((status = 200, body = RecordView),
        (status = 403, description = "Not the record's source", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:write"])))]
#[post("/records/{id}/revoke")]
async fn revoke_record(
    caller: Caller,
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<web::Json<RecordView>, ApiError> {
    caller.require_one_of(&[Scope::IndicatorsWrite, Scope::SightingsWrite])?;
    let id = id.into_inner();
    let record = db
        .run(move |conn| records::revoke(conn, &caller, &id))
        .await?;
    Ok(web::Json(record))
}

/// List a record's revisions you may read, oldest first.
///
/// Each revision is shown if its own sharing lets you read it, so a record
/// whose sharing was narrowed keeps its older revisions readable to their readers.
#[utoipa::path(get, path = "/v1/records/{id}/revisions", tag = "records", operation_id = "list_record_revisions",
    responses((status = 200, body = Vec<RevisionView>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/records/{id}/revisions")]
async fn list_revisions(
    caller: Caller,
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<web::Json<Vec<RevisionView>>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let id = id.into_inner();
    let reader = caller.organization.to_string();
    let revisions = db
        .read(&reader, move |conn| records::revisions(conn, &caller, &id))
        .await?;
    Ok(web::Json(revisions))
}

/// List a record's relationships.
///
/// Only relationships you may see whose both ends you may see: an
/// attribution shared more narrowly than the address stays hidden.
#[utoipa::path(get, path = "/v1/records/{id}/relationships", tag = "records", operation_id = "list_record_relationships",
    responses((status = 200, body = Vec<RecordView>), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/records/{id}/relationships")]
async fn list_relationships(
    caller: Caller,
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<web::Json<Vec<RecordView>>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let id = id.into_inner();
    let reader = caller.organization.to_string();
    Ok(web::Json(
        db.read(&reader, move |conn| {
            records::relationships(conn, &caller, &id)
        })
        .await?,
    ))
}

/// Walk from an address (or wallet) to its wallets and entities.
///
/// Follows `member_of` and `attributed_to` relationships, showing only the
/// relationships and records you may see.
#[utoipa::path(get, path = "/v1/records/{id}/attribution", tag = "records", operation_id = "get_record_attribution",
    responses((status = 200, body = AttributionPath), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/records/{id}/attribution")]
async fn get_attribution(
    caller: Caller,
    db: web::Data<Database>,
    id: web::Path<String>,
) -> Result<web::Json<AttributionPath>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let id = id.into_inner();
    let reader = caller.organization.to_string();
    Ok(web::Json(
        db.read(&reader, move |conn| {
            records::attribution(conn, &caller, &id)
        })
        .await?,
    ))
}
