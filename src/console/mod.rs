//! The analyst console: server-rendered pages under `/console/` on the
//! mutual-TLS API listener, for people working in a browser with their
//! organization's client certificate.
//!
//! Signing in picks one of the organization's API clients and makes a
//! session ([`session`]); every page then gets the same [`crate::auth::Caller`]
//! the API's handlers get and calls the same domain code (`crate::records`,
//! `crate::screening`, `crate::records::sightings`, `crate::records::feed`),
//! so sharing, scopes and audit are exactly the API's. Templates live under
//! `templates/console/` and are compiled into the binary (askama); the one
//! stylesheet too. Errors are HTML pages ([`ConsoleError`]). The console is
//! not part of the API contract and not in the OpenAPI document. Page map:
//! `docs/console.md`.
mod error;
mod feed;
mod forms;
mod graph;
mod lookup;
mod pages;
mod record;
mod search;
pub mod session;
mod sighting;
mod signin;
mod submit;
mod upload;

pub use error::ConsoleError;

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

/// The console's stylesheet, compiled in.
const CSS: &str = include_str!("../../templates/console/console.css");

#[get("/console.css")]
async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(CSS)
}

async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::not_found())
}

/// The console's routes, under `/console`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::redirect("/console", "/console/").see_other())
        .service(
            web::scope("/console")
                .app_data(
                    web::FormConfig::default()
                        .limit(4 * 1024 * 1024)
                        .error_handler(|error, _| {
                            ConsoleError::Api(crate::error::ApiError::BadRequest(format!(
                                "the form could not be read: {error}"
                            )))
                            .into()
                        }),
                )
                .app_data(web::QueryConfig::default().error_handler(|error, _| {
                    ConsoleError::Api(crate::error::ApiError::BadRequest(format!(
                        "the address's query could not be read: {error}"
                    )))
                    .into()
                }))
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|_, _| ConsoleError::not_found().into()),
                )
                .service(stylesheet)
                .service(signin::index)
                .service(signin::signin_page)
                .service(signin::signin)
                .service(signin::signout)
                .service(lookup::lookup)
                .service(lookup::screen_list)
                .service(search::search)
                .service(search::export)
                .service(feed::new_for_me)
                .service(record::record_page)
                .service(sighting::sighting_form)
                .service(sighting::report_sighting)
                .service(submit::submit_form_page)
                .service(submit::submit)
                .service(submit::import_form)
                .service(submit::import_csv)
                .default_service(web::to(not_found)),
        );
}
