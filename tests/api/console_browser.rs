//! A small browser for the console tests: an HTTPS client presenting one
//! organization's certificate, keeping the console's session cookie, and
//! sending forms as a browser does (with an `Origin` header), without
//! following redirects so that tests see them.
use crate::helpers::{client_tls_config, TestApp, TestOrg};
use awc::http::header::HeaderMap;
use awc::http::StatusCode;
use std::sync::Arc;
use tracewire::pki::IssuedCertificate;

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts the page is HTML with this status; returns the body.
    pub fn html(&self, status: u16) -> &str {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert!(
            self.header("content-type")
                .is_some_and(|t| t.starts_with("text/html")),
            "not HTML: {:?} {}",
            self.header("content-type"),
            self.body
        );
        &self.body
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        let end = start + self.body[start..].find('"').unwrap();
        self.body[start..end].to_owned()
    }

    /// The record id in a `Location: /console/records/{id}…` header.
    pub fn location_record(&self) -> String {
        let location = self.header("location").expect("a redirect");
        let rest = location
            .strip_prefix("/console/records/")
            .unwrap_or_else(|| panic!("not a record page: {location}"));
        rest.split('?').next().unwrap().to_owned()
    }
}

pub struct Browser<'a> {
    app: &'a TestApp,
    /// A new client (and connection) per request, as the other tests'
    /// helpers do: no pooled keep-alive connection can go stale under load.
    tls: Arc<rustls::ClientConfig>,
    /// The `tw_console` cookie's value, once signed in.
    pub cookie: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp, certificate: &IssuedCertificate) -> Browser<'a> {
        let config = client_tls_config(&app.pki.ca.cert_pem, Some(certificate));
        Browser {
            app,
            tls: Arc::new(config),
            cookie: None,
        }
    }

    fn client(&self) -> awc::Client {
        awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(self.tls.clone()))
            .disable_redirects()
            .timeout(std::time::Duration::from_secs(20))
            .finish()
    }

    /// This server's origin, as a browser names it.
    pub fn origin(&self) -> String {
        self.app.url("")
    }

    fn with_cookie(&self, mut request: awc::ClientRequest) -> awc::ClientRequest {
        if let Some(cookie) = &self.cookie {
            request = request.insert_header(("Cookie", format!("tw_console={cookie}")));
        }
        request
    }

    /// Sends the request `send` makes; a connection that could not be made
    /// (a TLS handshake cut short on a loaded machine: nothing was sent) is
    /// tried again, twice at most.
    async fn read(send: impl Fn() -> awc::SendClientRequest) -> Page {
        let mut attempt = 0;
        let mut response = loop {
            match send().await {
                Ok(response) => break response,
                Err(awc::error::SendRequestError::Connect(error)) if attempt < 2 => {
                    eprintln!("connection failed ({error}); trying again");
                    attempt += 1;
                }
                Err(error) => panic!("request not sent: {error}"),
            }
        };
        let body = response.body().limit(64 * 1024 * 1024).await.unwrap();
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::read(|| {
            self.with_cookie(self.client().get(self.app.url(path)))
                .send()
        })
        .await
    }

    /// A form POST from this server's pages (its Origin).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_from(path, form, Some(&self.origin())).await
    }

    /// A form POST with the given Origin header (or none).
    pub async fn post_from(&self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Page {
        Self::read(|| {
            let mut request = self.with_cookie(self.client().post(self.app.url(path)));
            if let Some(origin) = origin {
                request = request.insert_header(("Origin", origin));
            }
            request.send_form(&form)
        })
        .await
    }

    /// A `multipart/form-data` POST, as a form with a file input sends it:
    /// the fields, then `file` holding `content` (as `list.csv`).
    pub async fn post_file(&self, path: &str, fields: &[(&str, &str)], content: &str) -> Page {
        let boundary = "----tracewire-test-boundary";
        let mut body = String::new();
        for (name, value) in fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"list.csv\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n"
        ));
        Self::read(|| {
            self.with_cookie(self.client().post(self.app.url(path)))
                .insert_header(("Origin", self.origin()))
                .insert_header((
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                ))
                .send_body(body.clone())
        })
        .await
    }

    /// Signs in as `client_id`; returns the sign-in response (a 303).
    pub async fn sign_in_as(&mut self, client_id: &str) -> Page {
        let page = self
            .post("/console/signin", &[("client_id", client_id)])
            .await;
        if let Some(value) = page
            .headers
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("tw_console="))
        {
            let value = value.split(';').next().unwrap().to_owned();
            self.cookie = (!value.is_empty()).then_some(value);
        }
        page
    }

    /// Signs in with the organization's test client.
    pub async fn sign_in(&mut self, org: &TestOrg) -> Page {
        let page = self.sign_in_as(&org.client_id).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert!(self.cookie.is_some(), "no session cookie");
        page
    }

    /// The CSRF token of the signed-in session (read from a page).
    pub async fn csrf(&self) -> String {
        self.get("/console/lookup").await.csrf()
    }
}
