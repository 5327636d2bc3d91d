//! Signing in and out. The browser's client certificate names the
//! organization; the page lists its API clients in effect, and picking one
//! makes a session with that client's scopes (see [`super::session`]).
use super::pages::{self, Chrome};
use super::session::{self, Session};
use super::ConsoleError;
use crate::storage::Database;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

pub struct ClientChoice {
    pub id: String,
    pub name: String,
    pub scopes: String,
}

#[derive(Template)]
#[template(path = "console/signin.html")]
struct SignInPage {
    chrome: Option<Chrome>,
    organization: String,
    clients: Vec<ClientChoice>,
    idle_minutes: i64,
    absolute_hours: i64,
    /// The browser just signed out (`?signed_out=1`, where sign-out sends it).
    signed_out: bool,
}

#[derive(Debug, Deserialize)]
struct SignInQuery {
    signed_out: Option<String>,
}

/// `/console/`: the lookup page when signed in, else the sign-in page.
#[get("/")]
pub async fn index(req: HttpRequest) -> HttpResponse {
    use actix_web::FromRequest as _;
    match Session::extract(&req).await {
        Ok(_) => pages::see_other("/console/lookup"),
        Err(_) => pages::see_other("/console/signin"),
    }
}

#[get("/signin")]
pub async fn signin_page(
    req: HttpRequest,
    db: web::Data<Database>,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, ConsoleError> {
    use actix_web::FromRequest as _;
    let (organization, _) = session::organization_of(&req).await?;
    let chrome = Session::extract(&req).await.ok().map(|s| Chrome::of(&s));
    let chrome_is_none = chrome.is_none();
    let clients = session::clients_of(&db, &organization)
        .await?
        .into_iter()
        .map(|c| ClientChoice {
            id: c.id.to_string(),
            name: c.name,
            scopes: c.scopes.to_string(),
        })
        .collect();
    pages::page(&SignInPage {
        chrome,
        organization: organization.to_string(),
        clients,
        idle_minutes: session::IDLE_TIMEOUT.num_minutes(),
        absolute_hours: session::ABSOLUTE_TIMEOUT.num_hours(),
        signed_out: query.signed_out.is_some() && chrome_is_none,
    })
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    client_id: String,
}

/// Makes the session. There is no session yet to hold a CSRF token: the
/// Origin/Referer check and the SameSite=Strict cookie refuse foreign forms.
#[post("/signin")]
pub async fn signin(
    req: HttpRequest,
    db: web::Data<Database>,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, ConsoleError> {
    use actix_web::FromRequest as _;
    session::check_origin(&req)?;
    let (organization, certificate) = session::organization_of(&req).await?;
    // Signing in again replaces the browser's current session.
    if let Ok(current) = Session::extract(&req).await {
        current.sign_out(&db).await?;
    }
    let id = session::sign_in(&db, organization, &certificate, &form.client_id).await?;
    let mut response = pages::see_other("/console/lookup");
    response
        .add_cookie(&session::cookie(&id))
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session server side and removes the cookie.
#[post("/signout")]
pub async fn signout(
    req: HttpRequest,
    session: Session,
    db: web::Data<Database>,
    form: web::Form<SignOutForm>,
) -> Result<HttpResponse, ConsoleError> {
    session.check_post(&req, &form.csrf)?;
    session.sign_out(&db).await?;
    let mut response = pages::see_other("/console/signin?signed_out=1");
    response
        .add_cookie(&session::removal_cookie())
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(response)
}
