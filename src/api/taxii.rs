//! `/taxii2/`: TAXII 2.1 over the same mutual TLS + bearer JWT as `/v1`.
//! Collections, paging, the sharing rule and the STIX mapping live in
//! `crate::taxii` and `crate::stix`; these handlers check media types,
//! parse, call them and answer in `application/taxii+json;version=2.1`.
//! Every error under `/taxii2/` is a TAXII error message ([`taxii_errors`]).
use crate::auth::Caller;
use crate::cursor::CursorKey;
use crate::domain::Scope;
use crate::error::{problem_for_status, ApiError, Problem, TaxiiErrorBody, PROBLEM_CONTENT_TYPE};
use crate::storage::Database;
use crate::taxii::{
    self, ApiRootInfo, Collection, CollectionView, Collections, Discovery, Envelope, Manifest,
    ObjectFilter, StatusResource, Versions, API_ROOT, TAXII_MEDIA_TYPE,
};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next};
use actix_web::{get, post, web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::{ready, Ready};
use serde::Serialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/taxii2")
            .wrap(from_fn(taxii_errors))
            .service(discovery)
            .service(api_root)
            .service(list_collections)
            .service(get_collection)
            .service(get_objects)
            .service(add_objects)
            .service(get_manifest)
            .service(get_object_versions)
            .service(get_object)
            .service(get_status)
            .default_service(web::to(super::not_found)),
    );
}

/// The largest request body the API takes, as the API root announces it.
#[derive(Debug, Clone, Copy)]
pub struct MaxContentLength(pub usize);

/// Does a header value name the TAXII 2.1 media type (`version` absent or 2.1)?
fn names_taxii_media_type(value: &str) -> bool {
    value.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let essence = parts.next().unwrap_or_default();
        essence.eq_ignore_ascii_case("application/taxii+json")
            && parts.all(|parameter| {
                let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
                !name.trim().eq_ignore_ascii_case("version")
                    || value.trim().trim_matches('"') == "2.1"
            })
    })
}

/// The request accepts `application/taxii+json;version=2.1` (else 406).
pub struct TaxiiAccept;

impl FromRequest for TaxiiAccept {
    type Error = ApiError;
    type Future = Ready<Result<TaxiiAccept, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let accepted = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(names_taxii_media_type);
        ready(if accepted {
            Ok(TaxiiAccept)
        } else {
            Err(ApiError::NotAcceptable(format!(
                "send Accept: {TAXII_MEDIA_TYPE}"
            )))
        })
    }
}

fn taxii_response<T: Serialize>(
    status: StatusCode,
    body: &T,
    date_added: Option<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let json = serde_json::to_string(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, TAXII_MEDIA_TYPE));
    if let Some((first, last)) = date_added {
        response.insert_header(("X-TAXII-Date-Added-First", first));
        response.insert_header(("X-TAXII-Date-Added-Last", last));
    }
    Ok(response.body(json))
}

fn collection(root: &str, id: &str) -> Result<Collection, ApiError> {
    if root != API_ROOT {
        return Err(ApiError::NotFound);
    }
    Collection::parse(id).ok_or(ApiError::NotFound)
}

/// Turns every error answer under `/taxii2/` (from handlers, extractors,
/// routing) into a TAXII error message with the TAXII media type: the one
/// place TAXII errors are made, from the same problem document `/v1` sends.
pub async fn taxii_errors<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let response = next.call(req).await?.map_into_boxed_body();
    let status = response.status();
    if status.as_u16() < 400 {
        return Ok(response);
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_CONTENT_TYPE));
    let (req, old) = response.into_parts();
    let headers = old.headers().clone();
    let body = actix_web::body::to_bytes(old.into_body()).await.ok();
    let problem: Problem = body
        .filter(|_| is_problem)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| problem_for_status(status));
    let mut replacement = HttpResponse::build(status);
    for (name, value) in &headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement.append_header((name.clone(), value.clone()));
        }
    }
    let json = serde_json::to_string(&TaxiiErrorBody::from(&problem)).unwrap_or_default();
    let replacement = replacement
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(TAXII_MEDIA_TYPE),
        ))
        .body(json);
    Ok(ServiceResponse::new(req, replacement))
}

/// `error` as a TAXII error message with the TAXII media type (for
/// refusals made before the `/taxii2/` scope is reached).
pub(crate) fn error_message(error: &ApiError) -> HttpResponse {
    let problem = error.to_problem();
    let json = serde_json::to_string(&TaxiiErrorBody::from(&problem)).unwrap_or_default();
    HttpResponse::build(actix_web::ResponseError::status_code(error))
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(TAXII_MEDIA_TYPE),
        ))
        .body(json)
}

/// TAXII discovery: the API root.
#[utoipa::path(get, path = "/taxii2/", tag = "taxii", operation_id = "taxii_discovery",
    responses((status = 200, body = Discovery, content_type = "application/taxii+json;version=2.1"),
        (status = 406, body = TaxiiErrorBody, content_type = "application/taxii+json;version=2.1")),
    security(("mutual_tls" = [], "bearer" = [])))]
#[get("/")]
async fn discovery(
    req: HttpRequest,
    caller: Caller,
    _accept: TaxiiAccept,
) -> Result<HttpResponse, ApiError> {
    let _ = caller;
    let info = req.connection_info();
    // The API listener only speaks TLS.
    let root = format!("https://{}/taxii2/{API_ROOT}/", info.host());
    let body = Discovery {
        title: "tracewire".into(),
        description: "Cryptocurrency intelligence shared under TLP 2.0, as STIX 2.1.".into(),
        default: root.clone(),
        api_roots: vec![root],
    };
    taxii_response(StatusCode::OK, &body, None)
}

/// The API root.
#[utoipa::path(get, path = "/taxii2/{api_root}/", tag = "taxii", operation_id = "taxii_api_root",
    params(("api_root" = String, Path, description = "`api`")),
    responses((status = 200, body = ApiRootInfo, content_type = "application/taxii+json;version=2.1"),
        (status = 404, body = TaxiiErrorBody, content_type = "application/taxii+json;version=2.1")),
    security(("mutual_tls" = [], "bearer" = [])))]
#[get("/{api_root}/")]
async fn api_root(
    caller: Caller,
    _accept: TaxiiAccept,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let _ = caller;
    if path.into_inner() != API_ROOT {
        return Err(ApiError::NotFound);
    }
    let max_content_length = req
        .app_data::<MaxContentLength>()
        .map(|m| m.0)
        .unwrap_or_default();
    let body = ApiRootInfo {
        title: "tracewire intelligence".into(),
        description: "Addresses, wallets, entities and their relationships, each object shown \
                      only to the organizations its TLP 2.0 marking and audience allow."
            .into(),
        versions: vec![TAXII_MEDIA_TYPE.into()],
        max_content_length,
    };
    taxii_response(StatusCode::OK, &body, None)
}

/// The collections, with what the caller may do in each.
#[utoipa::path(get, path = "/taxii2/{api_root}/collections/", tag = "taxii", operation_id = "taxii_collections",
    params(("api_root" = String, Path)),
    responses((status = 200, body = Collections, content_type = "application/taxii+json;version=2.1")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/{api_root}/collections/")]
async fn list_collections(
    caller: Caller,
    _accept: TaxiiAccept,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    if path.into_inner() != API_ROOT {
        return Err(ApiError::NotFound);
    }
    let collections: Vec<CollectionView> =
        Collection::ALL.iter().map(|c| c.view(&caller)).collect();
    taxii_response(StatusCode::OK, &Collections { collections }, None)
}

/// One collection.
#[utoipa::path(get, path = "/taxii2/{api_root}/collections/{collection_id}/", tag = "taxii", operation_id = "taxii_collection",
    params(("api_root" = String, Path), ("collection_id" = String, Path)),
    responses((status = 200, body = CollectionView, content_type = "application/taxii+json;version=2.1"),
        (status = 404, body = TaxiiErrorBody, content_type = "application/taxii+json;version=2.1")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/{api_root}/collections/{collection_id}/")]
async fn get_collection(
    caller: Caller,
    _accept: TaxiiAccept,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let (root, id) = path.into_inner();
    let collection = collection(&root, &id)?;
    taxii_response(StatusCode::OK, &collection.view(&caller), None)
}

type Query = web::Query<Vec<(String, String)>>;

/// Which object-reading endpoint is asked.
enum Read {
    Objects,
    Manifest,
    Object(String),
    Versions(String),
}

/// What the object-reading endpoints share: the scope, the collection, the
/// filters and the audited read.
async fn read_page(
    caller: Caller,
    db: &Database,
    cursors: web::Data<CursorKey>,
    (root, collection_id): (&str, &str),
    query: &[(String, String)],
    read: Read,
) -> Result<taxii::Page, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let collection = collection(root, collection_id)?;
    let mut filter = ObjectFilter::parse(query)?;
    let (object, action) = match read {
        Read::Objects => (None, "taxii.objects"),
        Read::Manifest => (None, "taxii.manifest"),
        Read::Object(id) => (Some(id), "taxii.object"),
        Read::Versions(id) => {
            filter.versions = vec![taxii::VersionMatch::All];
            (Some(id), "taxii.versions")
        }
    };
    let reader = caller.organization.to_string();
    Ok(db
        .read(&reader, move |conn| {
            taxii::objects(
                conn,
                &caller,
                &cursors,
                collection,
                &filter,
                object.as_deref(),
                action,
            )
        })
        .await?)
}

/// The objects of a collection you may see, oldest first.
///
/// Filters: `added_after`, `limit` (1–1000), `next`, `match[id]`,
/// `match[type]`, `match[version]` (first, last, all or a timestamp;
/// default last), `match[spec_version]`.
#[utoipa::path(get, path = "/taxii2/{api_root}/collections/{collection_id}/objects/", tag = "taxii", operation_id = "taxii_get_objects",
    params(("api_root" = String, Path), ("collection_id" = String, Path)),
    responses((status = 200, body = Envelope, content_type = "application/taxii+json;version=2.1"),
        (status = 400, body = TaxiiErrorBody, content_type = "application/taxii+json;version=2.1"),
        (status = 404, body = TaxiiErrorBody, content_type = "application/taxii+json;version=2.1")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/{api_root}/collections/{collection_id}/objects/")]
async fn get_objects(
    caller: Caller,
    _accept: TaxiiAccept,
    db: web::Data<Database>,
    cursors: web::Data<CursorKey>,
    path: web::Path<(String, String)>,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let (root, id) = path.into_inner();
    let page = read_page(caller, &db, cursors, (&root, &id), &query, Read::Objects).await?;
    let range = page.date_added_range();
    taxii_response(StatusCode::OK, &page.into_envelope(), range)
}

/// Add STIX objects: they become records of your organization.
///
/// Each object is reported in the status: stored (as which record),
/// understood without storing (markings, authors), or refused with the
/// reason. TLP markings carry over; AMBER, AMBER+STRICT, RED and unmarked
/// objects are shared with no one else until you share them.
#[utoipa::path(post, path = "/taxii2/{api_root}/collections/{collection_id}/objects/", tag = "taxii", operation_id = "taxii_add_objects",
    params(("api_root" = String, Path), ("collection_id" = String, Path)),
    request_body(content = Envelope, content_type = "application/taxii+json;version=2.1"),
    responses((status = 202, body = StatusResource, content_type = "application/taxii+json;version=2.1"),
        (status = 400, body = TaxiiErrorBody, content_type = "application/taxii+json;version=2.1"),
        (status = 415, body = TaxiiErrorBody, content_type = "application/taxii+json;version=2.1")),
    security(("mutual_tls" = [], "bearer" = ["indicators:write"]), ("mutual_tls" = [], "bearer" = ["sightings:write"])))]
#[post("/{api_root}/collections/{collection_id}/objects/")]
async fn add_objects(
    req: HttpRequest,
    caller: Caller,
    _accept: TaxiiAccept,
    db: web::Data<Database>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require_one_of(&[Scope::IndicatorsWrite, Scope::SightingsWrite])?;
    let (root, id) = path.into_inner();
    let collection = collection(&root, &id)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !names_taxii_media_type(content_type) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send Content-Type: {TAXII_MEDIA_TYPE}"
        )));
    }
    let envelope: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
    let status = db
        .run(move |conn| taxii::add(conn, &caller, collection, &envelope))
        .await
        .map_err(ApiError::from)?;
    taxii_response(StatusCode::ACCEPTED, &status, None)
}

/// One object: its versions you may see (default the last; `match[version]=all` for all).
#[utoipa::path(get, path = "/taxii2/{api_root}/collections/{collection_id}/objects/{object_id}/", tag = "taxii", operation_id = "taxii_get_object",
    params(("api_root" = String, Path), ("collection_id" = String, Path), ("object_id" = String, Path)),
    responses((status = 200, body = Envelope, content_type = "application/taxii+json;version=2.1"),
        (status = 404, body = TaxiiErrorBody, content_type = "application/taxii+json;version=2.1")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/{api_root}/collections/{collection_id}/objects/{object_id}/")]
async fn get_object(
    caller: Caller,
    _accept: TaxiiAccept,
    db: web::Data<Database>,
    cursors: web::Data<CursorKey>,
    path: web::Path<(String, String, String)>,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let (root, id, object) = path.into_inner();
    let page = read_page(
        caller,
        &db,
        cursors,
        (&root, &id),
        &query,
        Read::Object(object),
    )
    .await?;
    let range = page.date_added_range();
    taxii_response(StatusCode::OK, &page.into_envelope(), range)
}

/// The versions of one object you may see.
#[utoipa::path(get, path = "/taxii2/{api_root}/collections/{collection_id}/objects/{object_id}/versions/", tag = "taxii", operation_id = "taxii_object_versions",
    params(("api_root" = String, Path), ("collection_id" = String, Path), ("object_id" = String, Path)),
    responses((status = 200, body = Versions, content_type = "application/taxii+json;version=2.1"),
        (status = 404, body = TaxiiErrorBody, content_type = "application/taxii+json;version=2.1")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/{api_root}/collections/{collection_id}/objects/{object_id}/versions/")]
async fn get_object_versions(
    caller: Caller,
    _accept: TaxiiAccept,
    db: web::Data<Database>,
    cursors: web::Data<CursorKey>,
    path: web::Path<(String, String, String)>,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let (root, id, object) = path.into_inner();
    let page = read_page(
        caller,
        &db,
        cursors,
        (&root, &id),
        &query,
        Read::Versions(object),
    )
    .await?;
    taxii_response(StatusCode::OK, &page.versions(), page.date_added_range())
}

/// The manifest: id, version and date added of the objects you may see.
#[utoipa::path(get, path = "/taxii2/{api_root}/collections/{collection_id}/manifest/", tag = "taxii", operation_id = "taxii_manifest",
    params(("api_root" = String, Path), ("collection_id" = String, Path)),
    responses((status = 200, body = Manifest, content_type = "application/taxii+json;version=2.1"),
        (status = 400, body = TaxiiErrorBody, content_type = "application/taxii+json;version=2.1")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/{api_root}/collections/{collection_id}/manifest/")]
async fn get_manifest(
    caller: Caller,
    _accept: TaxiiAccept,
    db: web::Data<Database>,
    cursors: web::Data<CursorKey>,
    path: web::Path<(String, String)>,
    query: Query,
) -> Result<HttpResponse, ApiError> {
    let (root, id) = path.into_inner();
    let page = read_page(caller, &db, cursors, (&root, &id), &query, Read::Manifest).await?;
    taxii_response(StatusCode::OK, &page.manifest(), page.date_added_range())
}

/// The status of an envelope you posted (404 for anyone else's).
#[utoipa::path(get, path = "/taxii2/{api_root}/status/{status_id}/", tag = "taxii", operation_id = "taxii_status",
    params(("api_root" = String, Path), ("status_id" = String, Path)),
    responses((status = 200, body = StatusResource, content_type = "application/taxii+json;version=2.1"),
        (status = 404, body = TaxiiErrorBody, content_type = "application/taxii+json;version=2.1")),
    security(("mutual_tls" = [], "bearer" = ["indicators:write"])))]
#[get("/{api_root}/status/{status_id}/")]
async fn get_status(
    caller: Caller,
    _accept: TaxiiAccept,
    db: web::Data<Database>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (root, id) = path.into_inner();
    if root != API_ROOT {
        return Err(ApiError::NotFound);
    }
    let status: StatusResource = db
        .run(move |conn| taxii::status(conn, &caller, &id))
        .await
        .map_err(ApiError::from)?;
    taxii_response(StatusCode::OK, &status, None)
}

#[cfg(test)]
mod tests {
    use super::names_taxii_media_type;

    #[test]
    fn media_types_are_matched_exactly() {
        assert!(names_taxii_media_type("application/taxii+json;version=2.1"));
        assert!(names_taxii_media_type(
            "application/taxii+json; version=2.1"
        ));
        assert!(names_taxii_media_type("application/taxii+json"));
        assert!(names_taxii_media_type(
            "text/html, application/taxii+json;version=2.1"
        ));
        assert!(!names_taxii_media_type(
            "application/taxii+json;version=2.0"
        ));
        assert!(!names_taxii_media_type("application/json"));
        assert!(!names_taxii_media_type("*/*"));
    }
}
