//! What every console page shares: the page chrome (who is signed in, the
//! navigation, the sign-out form with its CSRF token), the response
//! headers, and small renderings of a reader's [`RecordView`] (its label,
//! link and TLP badge). Pages render reader views only, never stored rows.
use super::session::Session;
use crate::domain::{RecordKind, Scope, Tlp};
use crate::error::FieldError;
use crate::records::RecordView;
use actix_web::http::header;
use actix_web::{HttpResponse, HttpResponseBuilder};
use askama::Template;

/// The headers of every console page: HTML, never cached, no framing, no
/// script or resource from anywhere but this server.
pub fn html_headers(response: &mut HttpResponseBuilder) {
    response
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"));
}

/// A rendered page as a 200 response.
pub fn page(template: &impl Template) -> Result<HttpResponse, super::ConsoleError> {
    let body = template
        .render()
        .map_err(|e| super::ConsoleError::Internal(format!("template: {e}")))?;
    let mut response = HttpResponse::Ok();
    html_headers(&mut response);
    Ok(response.body(body))
}

/// A 303 to another console page (after a form was handled).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// Who is signed in, for the header and navigation of every page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub organization: String,
    pub organization_name: String,
    pub client_id: String,
    pub csrf: String,
    pub can_submit: bool,
    pub can_sight: bool,
}

impl Chrome {
    pub fn of(session: &Session) -> Chrome {
        Chrome {
            organization: session.caller.organization.to_string(),
            organization_name: session.organization_name.clone(),
            client_id: session.caller.client_id.clone(),
            csrf: session.csrf.clone(),
            can_submit: session.can(Scope::IndicatorsWrite),
            can_sight: session.can(Scope::SightingsWrite),
        }
    }
}

/// A TLP marking shown in FIRST's colours and in words.
#[derive(Debug, Clone)]
pub struct TlpBadge {
    /// `TLP:RED`, `TLP:AMBER+STRICT`, …
    pub text: String,
    /// The CSS class with FIRST's colour (`tlp-red`, …).
    pub class: &'static str,
    /// What the marking means, in words.
    pub meaning: &'static str,
}

impl TlpBadge {
    pub fn of(tlp: Tlp) -> TlpBadge {
        let (class, meaning) = match tlp {
            Tlp::Clear => ("tlp-clear", "may be shared freely"),
            Tlp::Green => ("tlp-green", "for the community, not public"),
            Tlp::Amber => (
                "tlp-amber",
                "for the recipients' organizations and their clients",
            ),
            Tlp::AmberStrict => ("tlp-amber-strict", "for the recipients' organizations only"),
            Tlp::Red => ("tlp-red", "for the named recipients only"),
        };
        TlpBadge {
            text: format!("TLP:{}", tlp.as_str().to_uppercase()),
            class,
            meaning,
        }
    }
}

/// A record as a link: its id, a label people read, its kind and TLP.
#[derive(Debug, Clone)]
pub struct RecordLink {
    pub id: String,
    pub href: String,
    pub label: String,
    pub kind: &'static str,
    pub tlp: TlpBadge,
    pub revoked: bool,
}

impl RecordLink {
    pub fn of(view: &RecordView) -> RecordLink {
        RecordLink {
            id: view.content.id.clone(),
            href: record_href(&view.content.id),
            label: label(view),
            kind: view.content.kind.as_str(),
            tlp: TlpBadge::of(view.content.tlp),
            revoked: view.content.revoked,
        }
    }
}

/// What is escaped of a record id in a path (ids are UUIDs; anything else
/// is escaped all the same).
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

/// The console page of a record.
pub fn record_href(id: &str) -> String {
    format!(
        "/console/records/{}",
        percent_encoding::utf8_percent_encode(id, PATH_SEGMENT)
    )
}

/// What people call a record: its address, its name, its relation.
pub fn label(view: &RecordView) -> String {
    let c = &view.content;
    match c.kind {
        RecordKind::Address => format!(
            "{} {}",
            c.chain.as_deref().unwrap_or("?"),
            c.address.as_deref().unwrap_or("?")
        ),
        RecordKind::Wallet | RecordKind::Entity => c.name.clone().unwrap_or_else(|| c.id.clone()),
        RecordKind::Relationship => c
            .relation
            .map(|r| r.as_str().replace('_', " "))
            .unwrap_or_else(|| "relationship".into()),
        RecordKind::Sighting => match (&c.sighting, &c.address) {
            (Some(s), Some(address)) => {
                format!("sighting of {address} ({} × {})", s.context, s.count)
            }
            (Some(s), None) => format!("sighting ({} × {})", s.context, s.count),
            _ => "sighting".into(),
        },
    }
}

/// An error page (see [`super::ConsoleError`]).
#[derive(Template)]
#[template(path = "console/error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

/// Field errors of a refused form, for showing above it.
pub fn field_errors(error: super::ConsoleError) -> Result<Vec<FieldError>, super::ConsoleError> {
    match error {
        super::ConsoleError::Api(crate::error::ApiError::Validation(errors)) => Ok(errors),
        other => Err(other),
    }
}
