//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//! The committed copy lives in `openapi/tracewire.json`; a test fails when
//! it is stale (regenerate with `tracewire openapi > openapi/tracewire.json`).
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tracewire",
        description = "Inter-organization intelligence-sharing API for cryptocurrency indicators. \
Every connection uses mutual TLS (a client certificate registered to your organization); every `/v1` \
request also carries a bearer JWT from `POST /v1/oauth/token`, bound to that certificate (RFC 8705). \
Errors are RFC 9457 problem documents with a stable `type` (`urn:tracewire:problem:<slug>`).",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::api::oauth::token,
        crate::api::oauth::jwks,
        crate::api::whoami::whoami,
        crate::api::admin::list_organizations,
        crate::api::admin::create_organization,
        crate::api::admin::get_organization,
        crate::api::admin::update_organization,
        crate::api::admin::list_certificates,
        crate::api::admin::register_certificate,
        crate::api::admin::revoke_certificate,
        crate::api::admin::list_clients,
        crate::api::admin::create_client,
        crate::api::admin::update_client,
        crate::api::admin::list_communities,
        crate::api::admin::create_community,
        crate::api::admin::get_community,
        crate::api::admin::add_member,
        crate::api::admin::remove_member,
        crate::api::admin::list_keys,
        crate::api::admin::rotate_key,
        crate::api::organization::own_organization,
        crate::api::organization::admin_history,
        crate::api::organization::confirm_certificate,
        crate::api::organization::confirm_client,
        crate::api::organization::community_members,
        crate::api::records::create_records,
        crate::api::records::get_record,
        crate::api::records::list_records,
        crate::api::records::export_records,
        crate::api::records::count_records,
        crate::api::records::update_record,
        crate::api::records::revoke_record,
        crate::api::records::list_revisions,
        crate::api::records::list_relationships,
        crate::api::records::get_attribution,
        crate::api::screening::screen_one,
        crate::api::changes::list_changes,
        crate::api::screening::screen_many,
        crate::api::screening::screen_privately,
        crate::api::sightings::report_sightings,
        crate::api::sightings::record_sightings,
        crate::api::watchlist::add_entries,
        crate::api::watchlist::list_entries,
        crate::api::watchlist::count_entries,
        crate::api::watchlist::remove_entries,
        crate::api::watchlist::remove_entry,
        crate::api::alerts::list_alerts,
        crate::api::alerts::get_alert,
        crate::api::alerts::acknowledge_alerts,
        crate::api::webhooks::create_endpoint,
        crate::api::webhooks::list_endpoints,
        crate::api::webhooks::get_endpoint,
        crate::api::webhooks::delete_endpoint,
        crate::api::webhooks::rotate_secret,
        crate::api::webhooks::enable_endpoint,
        crate::api::webhooks::list_deliveries,
        crate::api::webhooks::admin_webhook_health,
        crate::api::taxii::discovery,
        crate::api::taxii::api_root,
        crate::api::taxii::list_collections,
        crate::api::taxii::get_collection,
        crate::api::taxii::get_objects,
        crate::api::taxii::add_objects,
        crate::api::taxii::get_object,
        crate::api::taxii::get_object_versions,
        crate::api::taxii::get_manifest,
        crate::api::taxii::get_status,
        crate::api::ops::healthz,
        crate::api::ops::readyz,
        crate::api::ops::metrics,
    ),
    modifiers(&SecuritySchemes, &AuthenticationResponses, &EnforcedLimits),
    tags(
        (name = "auth", description = "Tokens and identity"),
        (name = "records", description = "Intelligence records: addresses, wallets, entities, relationships"),
        (name = "screening", description = "Address screening for exchanges: single and bulk lookups"),
        (name = "sightings", description = "Sightings: we saw this record or address"),
        (name = "taxii", description = "TAXII 2.1 with STIX 2.1 objects, for MISP, OpenCTI and other TAXII clients. \
Media type `application/taxii+json;version=2.1` (406 otherwise); every error is a TAXII error message with that media type."),
        (name = "changes", description = "The change feed: every revision, revocation and sighting you may see, in commit order"),
        (name = "alerts", description = "Watchlists and alerts: register the addresses you hold, hear when something you may read starts to match one, by GET or by webhooks signed per the Standard Webhooks specification"),
        (name = "admin", description = "Partner administration (admin scope, hub organization only); every change is audited"),
        (name = "organization", description = "What the hub registered under your organization, its admin history, your communities' members, and confirming credentials the hub added"),
        (name = "operations", description = "Served on the operations listener, not the API listener"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "mutual_tls",
            SecurityScheme::MutualTls {
                description: Some("Client certificate registered to your organization".into()),
                extensions: None,
            },
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Certificate-bound access token from POST /v1/oauth/token",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn document() -> String {
    let mut text = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// Every operation that needs a bearer token can be refused the same ways:
/// documented once here rather than on each handler.
struct AuthenticationResponses;

impl Modify for AuthenticationResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        let taxii_error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    crate::taxii::TAXII_MEDIA_TYPE,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("TaxiiErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let error: fn(&str) -> utoipa::openapi::Response = if path.starts_with("/taxii2/") {
                taxii_error
            } else {
                problem
            };
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let needs_token = serde_json::to_string(&operation.security)
                    .is_ok_and(|s| s.contains("\"bearer\""));
                if !needs_token {
                    continue;
                }
                let responses = &mut operation.responses.responses;
                responses.entry("401".into()).or_insert_with(|| {
                    error("No valid bearer token: missing, expired, unknown key, wrong algorithm, audience or issuer, or not bound to this certificate").into()
                });
                responses.entry("403".into()).or_insert_with(|| {
                    error("Certificate not registered to an active organization, or the token lacks the required scope").into()
                });
            }
        }
    }
}

/// What the server enforces beyond each handler's annotations: the
/// refusals every API operation can get before its handler runs (400 for a
/// path or query that is not UTF-8, 415 for a body that is not JSON, 422
/// for a query value or path parameter with a control character,
/// TAXII 404s), and the list query's per-route bounds (the query type is
/// shared by list, export and count).
struct EnforcedLimits;

/// A string without control characters (C0, DEL, C1).
const NO_CONTROL_CHARACTERS: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";

impl Modify for EnforcedLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        list_item_limits(openapi);
        use utoipa::openapi::path::{Operation, ParameterIn};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, Schema};
        let error = |taxii: bool, description: &str| {
            let (media_type, schema) = if taxii {
                (crate::taxii::TAXII_MEDIA_TYPE, "TaxiiErrorBody")
            } else {
                ("application/problem+json", "Problem")
            };
            ResponseBuilder::new()
                .description(description)
                .content(
                    media_type,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(schema)))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let taxii = path.starts_with("/taxii2/");
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let operational = operation
                    .tags
                    .as_ref()
                    .is_some_and(|tags| tags.iter().any(|t| t == "operations"));
                if operational {
                    continue;
                }
                per_route_parameters(operation);
                no_control_characters(operation);
                let has_query = operation.parameters.as_ref().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| matches!(p.parameter_in, ParameterIn::Query))
                });
                let has_input = operation.request_body.is_some()
                    || operation.parameters.as_ref().is_some_and(|ps| {
                        ps.iter()
                            .any(|p| matches!(p.parameter_in, ParameterIn::Path))
                    });
                let responses = &mut operation.responses.responses;
                responses.entry("400".into()).or_insert_with(|| {
                    error(taxii, "Malformed request: a path or query that is not UTF-8 or holds control characters, a body that is not the expected JSON, a bad cursor").into()
                });
                if operation.request_body.is_some() {
                    responses.entry("415".into()).or_insert_with(|| {
                        error(
                            taxii,
                            "The Content-Type is not the one this operation reads",
                        )
                        .into()
                    });
                }
                if has_query || has_input {
                    responses.entry("422".into()).or_insert_with(|| {
                        error(taxii, "A value was refused (each offending field is named)").into()
                    });
                }
                if taxii {
                    responses.entry("406".into()).or_insert_with(|| {
                        error(
                            true,
                            "The request does not accept application/taxii+json;version=2.1",
                        )
                        .into()
                    });
                }
                if taxii && path.contains('{') {
                    responses.entry("404".into()).or_insert_with(|| {
                        error(
                            true,
                            "No such collection, object or status, or not visible to you",
                        )
                        .into()
                    });
                }
            }
        }

        /// Path and query strings may not hold control characters (the
        /// server refuses them before routing with a 422 naming the
        /// parameter), and a path segment is never empty.
        fn no_control_characters(operation: &mut Operation) {
            use utoipa::openapi::schema::{SchemaType, Type};
            for parameter in operation.parameters.iter_mut().flatten() {
                let in_path = matches!(parameter.parameter_in, ParameterIn::Path);
                if !in_path && !matches!(parameter.parameter_in, ParameterIn::Query) {
                    continue;
                }
                let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() else {
                    continue;
                };
                let plain_string = matches!(schema.schema_type, SchemaType::Type(Type::String))
                    && schema.pattern.is_none()
                    && schema.format.is_none()
                    && schema.enum_values.is_none();
                if plain_string {
                    schema.pattern = Some(NO_CONTROL_CHARACTERS.into());
                    if in_path {
                        schema.min_length = Some(1);
                    }
                }
            }
        }

        /// `limit` is 1–1000 on the list, 1–100,000 on the export; a count
        /// has no pages and no format, and only the export has a format.
        fn per_route_parameters(operation: &mut Operation) {
            let id = operation.operation_id.clone().unwrap_or_default();
            let Some(parameters) = operation.parameters.as_mut() else {
                return;
            };
            match id.as_str() {
                "list_records" => {
                    parameters.retain(|p| p.name != "format");
                    for p in parameters.iter_mut().filter(|p| p.name == "limit") {
                        if let Some(RefOr::T(Schema::Object(schema))) = p.schema.as_mut() {
                            schema.maximum = Some(1000.into());
                        }
                    }
                }
                "count_records" => {
                    parameters.retain(|p| !["limit", "after", "format"].contains(&p.name.as_str()))
                }
                _ => {}
            }
        }
    }
}

/// What each item of a record's lists may be (utoipa states the list's
/// length, not its items'): names and ids at most 500 characters, audience
/// members organization or community identifiers (as `records::input`
/// and the identifier types enforce).
fn list_item_limits(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::ArrayItems;
    use utoipa::openapi::{RefOr, Schema};
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    let items: [(&str, &str, Option<usize>, Option<&str>); 5] = [
        ("RecordInput", "aliases", Some(500), None),
        ("RecordInput", "categories", Some(500), None),
        ("RecordInput", "derived_from", Some(500), None),
        ("AudienceInput", "organizations", Some(63), Some(IDENTIFIER)),
        ("AudienceInput", "communities", Some(63), Some(IDENTIFIER)),
    ];
    for (schema, property, max_length, pattern) in items {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else {
            continue;
        };
        let Some(RefOr::T(Schema::Array(array))) = object.properties.get_mut(property) else {
            continue;
        };
        if let ArrayItems::RefOrSchema(item) = &mut array.items {
            if let RefOr::T(Schema::Object(item)) = item.as_mut() {
                item.max_length = max_length;
                item.pattern = pattern.map(str::to_owned);
            }
        }
    }
}

/// Organization, client and community identifiers.
const IDENTIFIER: &str = "^[a-z0-9][a-z0-9-]{1,62}$";
