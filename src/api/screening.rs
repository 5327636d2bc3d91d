//! `/v1/screen`: single and bulk address screening. The matching and the
//! sharing rule live in `crate::screening`.
use crate::auth::Caller;
use crate::domain::Scope;
use crate::error::{ApiError, FieldError, Problem};
use crate::screening::private::{self, PrivateScreenRequest, PrivateScreenResponse};
use crate::screening::{self, ScreenItem, ScreenResult, MAX_SCREEN_BATCH};
use crate::storage::Database;
use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Before `/screen/{chain}/{address}`'s siblings, so the literal path wins.
    cfg.service(screen_privately)
        .service(screen_one)
        .service(screen_many);
}

/// Screen one address.
///
/// `chain` is a chain id, alias or asset ticker, or `any` to match the
/// address on every chain where it is valid. The answer shows only what you
/// may see: matching records, the wallets and entities reached through
/// relationships you may see, their categories, the highest confidence and
/// the named sources. `matched: false` means nothing you may see matches.
#[utoipa::path(get, path = "/v1/screen/{chain}/{address}", tag = "screening", operation_id = "screen_address",
    params(("chain" = String, Path, description = "Chain id, alias or asset ticker, or `any`"),
        ("address" = String, Path, description = "The address in any of its forms")),
    responses((status = 200, body = ScreenResult),
        (status = 422, description = "Not a valid address on that chain", body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[get("/screen/{chain}/{address}")]
async fn screen_one(
    caller: Caller,
    db: web::Data<Database>,
    path: web::Path<(String, String)>,
) -> Result<web::Json<ScreenResult>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let (chain, address) = path.into_inner();
    let item = ScreenItem {
        chain: (!chain.eq_ignore_ascii_case("any")).then_some(chain),
        address,
    };
    let reader = caller.organization.to_string();
    let mut results = db
        .read(&reader, move |conn| {
            screening::screen(conn, &caller, std::slice::from_ref(&item))
        })
        .await?;
    let result = results
        .pop()
        .ok_or_else(|| ApiError::Internal("no screening result".into()))?;
    if let Some(error) = result.error {
        return Err(ApiError::Validation(vec![FieldError {
            index: None,
            ..error
        }]));
    }
    Ok(web::Json(result))
}

/// Addresses to screen.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenRequest {
    /// 1 to 10,000 addresses.
    #[schema(min_items = 1, max_items = 10_000)]
    pub items: Vec<ScreenItem>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScreenResponse {
    /// One result per item, in order; invalid items carry an `error`.
    pub items: Vec<ScreenResult>,
    /// How many items matched something you may see.
    pub matched: usize,
}

/// Screen up to 10,000 addresses.
///
/// Each item is answered as by `GET /v1/screen/{chain}/{address}`; an
/// invalid item gets an `error` (with its `index`) without failing the rest.
#[utoipa::path(post, path = "/v1/screen", tag = "screening", operation_id = "screen_addresses",
    request_body = ScreenRequest,
    responses((status = 200, body = ScreenResponse),
        (status = 422, description = "No items, or more than 10,000", body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[post("/screen")]
async fn screen_many(
    caller: Caller,
    db: web::Data<Database>,
    body: web::Json<ScreenRequest>,
) -> Result<web::Json<ScreenResponse>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let items = body.into_inner().items;
    if items.is_empty() || items.len() > MAX_SCREEN_BATCH {
        return Err(ApiError::Validation(vec![FieldError::new(
            "items",
            format!(
                "1 to {MAX_SCREEN_BATCH} addresses per request (got {})",
                items.len()
            ),
        )]));
    }
    let reader = caller.organization.to_string();
    let items = db
        .read(&reader, move |conn| {
            screening::screen(conn, &caller, &items)
        })
        .await?;
    let matched = items.iter().filter(|r| r.matched).count();
    Ok(web::Json(ScreenResponse { items, matched }))
}

/// Screen privately: send bucket prefixes, not addresses.
///
/// Hash each link key of each address you screen as
/// SHA-256("tracewire-private-screening-v1:" + link key) and send the first
/// 20 bits (5 hex characters) of each hash, with decoys if you like. The
/// answer holds every entry of those buckets that you may read, each with
/// its full hash and the screening summary; keep the entries whose hash is
/// one of yours. Neither the prefixes nor the answer are logged or stored;
/// the audit log records that you asked, and how many prefixes. The
/// protocol, with a worked example: `docs/private-screening.md`.
#[utoipa::path(post, path = "/v1/screen/private", tag = "screening", operation_id = "screen_privately",
    request_body = PrivateScreenRequest,
    responses((status = 200, body = PrivateScreenResponse),
        (status = 422, description = "Wrong version, no prefixes or more than 10,000, or a prefix that is not 5 hex characters", body = Problem, content_type = "application/problem+json")),
    security(("mutual_tls" = [], "bearer" = ["indicators:read"])))]
#[post("/screen/private")]
async fn screen_privately(
    caller: Caller,
    db: web::Data<Database>,
    body: web::Json<PrivateScreenRequest>,
) -> Result<web::Json<PrivateScreenResponse>, ApiError> {
    caller.require(Scope::IndicatorsRead)?;
    let request = body.into_inner();
    let buckets = private::buckets_of(&request).map_err(ApiError::Validation)?;
    let sent = request.prefixes.len();
    let reader = caller.organization.to_string();
    let response = db
        .read(&reader, move |conn| {
            private::screen_buckets(conn, &caller, &buckets, sent)
        })
        .await?;
    Ok(web::Json(response))
}
