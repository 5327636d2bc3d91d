//! The console's one error type, and the one place where its errors become
//! HTML pages with the right status (the API's problem documents, shown
//! for people). A record the reader may not see is the same 404 page as a
//! record that does not exist.
use super::pages::ErrorPage;
use crate::domain::Scope;
use crate::error::{ApiError, FieldError};
use crate::records::RecordError;
use crate::storage::StorageError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The connection presented no client certificate.
    #[error("no client certificate")]
    NoCertificate,
    /// The certificate identifies no organization (unregistered or withdrawn).
    #[error("certificate not registered")]
    UnknownCertificate,
    /// No session (or an expired one): go to the sign-in page.
    #[error("not signed in")]
    SignIn,
    /// The session cookie was made with another certificate.
    #[error("session of another certificate")]
    OtherCertificate,
    /// Sign-in named a client that is not one of the organization's, in effect.
    #[error("unknown API client")]
    UnknownClient,
    #[error("missing scope {0}")]
    MissingScope(Scope),
    /// A POST without this session's CSRF token, or from another origin.
    #[error("refused form: {0}")]
    Csrf(&'static str),
    #[error("{0}")]
    Api(ApiError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ApiError> for ConsoleError {
    fn from(error: ApiError) -> Self {
        ConsoleError::Api(error)
    }
}

impl From<StorageError> for ConsoleError {
    fn from(error: StorageError) -> Self {
        ConsoleError::Api(error.into())
    }
}

impl From<RecordError> for ConsoleError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::InsufficientScope(scope) => ConsoleError::MissingScope(scope),
            other => ConsoleError::Api(other.into()),
        }
    }
}

impl ConsoleError {
    pub fn validation(errors: Vec<FieldError>) -> Self {
        ConsoleError::Api(ApiError::Validation(errors))
    }

    pub fn not_found() -> Self {
        ConsoleError::Api(ApiError::NotFound)
    }

    /// Title, explanation and field errors for the page.
    fn page(&self) -> (String, String, Vec<FieldError>) {
        let text = |title: &str, detail: &str| (title.to_owned(), detail.to_owned(), Vec::new());
        match self {
            ConsoleError::NoCertificate => text(
                "Certificate needed",
                "Your browser did not present a client certificate. Import your organization's certificate (the PKCS#12 file) into the browser and open the console again.",
            ),
            ConsoleError::UnknownCertificate => text(
                "Certificate not registered",
                "The certificate your browser presented does not belong to any organization of this hub, or it was withdrawn. Ask your hub operator.",
            ),
            ConsoleError::SignIn => text("Please sign in", "Your session has ended. Sign in again."),
            ConsoleError::OtherCertificate => text(
                "Session refused",
                "This session was made with another certificate. It has been ended; sign in again with your own certificate.",
            ),
            ConsoleError::UnknownClient => text(
                "Unknown API client",
                "That API client is not one of your organization's, or it is disabled. Pick one from the list.",
            ),
            ConsoleError::MissingScope(scope) => (
                "Not allowed".into(),
                format!("The API client you signed in with does not have the {scope} scope needed here. Sign in with another client, or ask your administrator."),
                Vec::new(),
            ),
            ConsoleError::Csrf(why) => (
                "Form refused".into(),
                format!("Nothing was changed: {why}. Reload the page and send the form again."),
                Vec::new(),
            ),
            ConsoleError::Api(error) => {
                let problem = error.to_problem();
                let detail = match error {
                    ApiError::NotFound => "There is no such page or record, or it is not shared with your organization.".into(),
                    _ => problem.detail.unwrap_or_default(),
                };
                (problem.title, detail, problem.errors)
            }
            ConsoleError::Internal(_) => text("Something went wrong", "The server could not complete this request. Try again later."),
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::NoCertificate => StatusCode::UNAUTHORIZED,
            ConsoleError::UnknownCertificate
            | ConsoleError::OtherCertificate
            | ConsoleError::UnknownClient
            | ConsoleError::MissingScope(_)
            | ConsoleError::Csrf(_) => StatusCode::FORBIDDEN,
            ConsoleError::SignIn => StatusCode::SEE_OTHER,
            ConsoleError::Api(error) => error.status_code(),
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "console request failed");
        }
        let mut response = HttpResponse::build(status);
        match self {
            ConsoleError::SignIn => {
                return response
                    .insert_header((header::LOCATION, "/console/signin"))
                    .cookie(super::session::removal_cookie())
                    .finish();
            }
            ConsoleError::OtherCertificate => {
                response.cookie(super::session::removal_cookie());
            }
            _ => {}
        }
        let (title, detail, errors) = self.page();
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            detail,
            errors,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| "<!doctype html><title>Error</title><p>Error</p>".into());
        super::pages::html_headers(&mut response);
        response.body(body)
    }
}
