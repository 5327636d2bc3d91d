//! The API listener's connections, below HTTP: actix-http's HTTP/1.1
//! parser refuses some requests before any tracewire code runs (a head
//! over 128 KiB or with more than 96 fields, a request target over 64 KiB,
//! a NUL in a header, a malformed request line, conflicting framing
//! headers, invalid chunked encoding, a head that does not arrive in
//! time), answering a bare status line with an empty body. [`ProblemIo`]
//! sits between TLS and actix-http and rewrites exactly those answers into
//! problem documents with `Connection: close`.
//!
//! How a bare answer is told from tracewire's own: every request that
//! reaches the application is noted in the connection's [`Ledger`]
//! ([`note_request`]), and [`responses::Framing`] finds where each
//! response begins in the bytes written. A response head with no noted
//! request behind it (and no `Content-Type`) can only be actix-http's own
//! refusal. Why it refused is read from the request bytes by
//! [`requests::RequestScanner`].
//!
//! HTTP/2 connections pass through unchanged (h2 answers protocol errors
//! with its own frames).
mod requests;
mod responses;

use crate::error::{ApiError, PROBLEM_CONTENT_TYPE};
use actix_web::http::StatusCode;
use requests::{Diagnosis, RequestScanner};
use responses::{Framing, Step};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub use requests::{MAX_HEADER_FIELDS, MAX_HEAD_BYTES, MAX_TARGET_BYTES};

/// The requests of one HTTP/1.1 connection handed to the application whose
/// response heads are not yet written, oldest first (`true` for HEAD
/// requests, whose responses have no body).
#[derive(Debug, Clone, Default)]
pub struct Ledger(Arc<Mutex<VecDeque<bool>>>);

impl Ledger {
    fn push(&self, head_request: bool) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(head_request);
    }

    fn pop(&self) -> Option<bool> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }
}

/// Notes a request about to be handed to the application (call it for
/// every request, in order, before the application sees it).
pub fn note_request(request: &actix_http::Request) {
    if let Some(ledger) = request.conn_data::<Ledger>() {
        ledger.push(request.method() == actix_web::http::Method::HEAD);
    }
}

/// A connection's stream (TLS over TCP) with actix-http's bare refusals
/// rewritten into problem documents. See the module documentation.
pub struct ProblemIo<T> {
    inner: T,
    ledger: Option<Ledger>,
    requests: RequestScanner,
    framing: Framing,
    /// Bytes accepted from the writer that the inner stream has not taken yet.
    pending: Vec<u8>,
    sent: usize,
}

impl<T> ProblemIo<T> {
    /// Wraps an HTTP/1.1 connection (`http1`), or passes an HTTP/2 one through.
    pub fn new(inner: T, http1: bool) -> ProblemIo<T> {
        ProblemIo {
            inner,
            ledger: http1.then(Ledger::default),
            requests: RequestScanner::default(),
            framing: if http1 {
                Framing::default()
            } else {
                Framing::untracked()
            },
            pending: Vec::new(),
            sent: 0,
        }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The ledger to put in the connection's data (HTTP/1.1 only).
    pub fn ledger(&self) -> Option<Ledger> {
        self.ledger.clone()
    }

    /// The bytes that go out for the response head `bytes`.
    fn on_head(&mut self, bytes: Vec<u8>, head: Option<responses::Head>) -> Vec<u8> {
        let Some(head) = head else {
            return bytes;
        };
        if head.status < 200 {
            // 100 Continue: no body, and no request of the ledger answered.
            self.framing.body(&head, false);
            return bytes;
        }
        let noted = self.ledger.as_ref().and_then(Ledger::pop);
        match noted {
            Some(head_request) => {
                let has_body = !(head_request || head.status == 204 || head.status == 304);
                self.framing.body(&head, has_body);
                bytes
            }
            None if head.status >= 400 && !head.has_content_type => {
                // actix-http's own refusal; the connection closes after it.
                self.framing.stop();
                refusal(&head, self.requests.diagnosis())
            }
            None => {
                self.framing.stop();
                bytes
            }
        }
    }

    fn queue(&mut self, bytes: &[u8]) {
        if self.sent == self.pending.len() {
            self.pending.clear();
            self.sent = 0;
        }
        self.pending.extend_from_slice(bytes);
    }
}

impl<T: AsyncWrite + Unpin> ProblemIo<T> {
    /// Writes out what was accepted and not yet taken by the inner stream.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..])? {
                Poll::Ready(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(n) => self.sent += n,
                Poll::Pending => return Poll::Pending,
            }
        }
        self.pending.clear();
        self.sent = 0;
        if self.pending.capacity() > 64 * 1024 {
            self.pending = Vec::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.ledger.is_some() {
            this.requests.feed(&buf.filled()[before..]);
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_pending(cx))?;
        if this.framing.is_untracked() {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        // Follow the framing over all of `buf`; what goes out unchanged is
        // written straight through when it is the whole buffer (a body),
        // else collected with the heads and written as one.
        let mut at = 0;
        while at < buf.len() {
            match this.framing.feed(&buf[at..]) {
                Step::Forward(n) if at == 0 && n == buf.len() => {
                    // The framing counted all of `buf`: what the inner
                    // stream does not take now is taken here.
                    return match Pin::new(&mut this.inner).poll_write(cx, buf) {
                        Poll::Ready(Ok(written)) => {
                            this.queue(&buf[written.min(n)..]);
                            Poll::Ready(Ok(n))
                        }
                        Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                        Poll::Pending => {
                            this.queue(buf);
                            Poll::Ready(Ok(n))
                        }
                    };
                }
                Step::Forward(n) => {
                    this.queue(&buf[at..at + n]);
                    at += n;
                }
                Step::Held(n) => at += n,
                Step::Head {
                    consumed,
                    bytes,
                    head,
                } => {
                    let out = this.on_head(bytes, head);
                    this.queue(&out);
                    at += consumed;
                }
            }
        }
        // Accepted; errors and back-pressure show on the next write or flush.
        let _ = this.poll_pending(cx);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let held = this.framing.take_held();
        if !held.is_empty() {
            this.queue(&held);
        }
        std::task::ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let held = this.framing.take_held();
        if !held.is_empty() {
            this.queue(&held);
        }
        std::task::ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// The problem a refusal of the parser answers, from its status and the
/// diagnosis of the refused request: the status to send, the error (for
/// its problem type) and a more precise `detail`, if any.
fn refusal_problem(
    status: u16,
    diagnosis: Option<&Diagnosis>,
) -> (StatusCode, ApiError, Option<String>) {
    let too_large = ApiError::HeadersTooLarge {
        limit: super::MAX_HEADER_BYTES,
    };
    match (status, diagnosis) {
        (431, Some(Diagnosis::TooManyHeaderFields)) => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            too_large,
            Some(format!(
                "the request has more than {MAX_HEADER_FIELDS} header fields"
            )),
        ),
        (431, _) => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            too_large,
            Some(format!(
                "the request head is larger than {} KiB (header fields may be at most {} KiB in all)",
                MAX_HEAD_BYTES / 1024,
                super::MAX_HEADER_BYTES / 1024,
            )),
        ),
        (400, Some(Diagnosis::TargetTooLong)) => (
            StatusCode::URI_TOO_LONG,
            ApiError::UriTooLong {
                limit: super::MAX_URI_BYTES,
            },
            None,
        ),
        (400, Some(Diagnosis::Malformed(what))) => (
            StatusCode::BAD_REQUEST,
            ApiError::BadRequest(format!("the request is not valid HTTP/1.1: {what}")),
            None,
        ),
        (408, _) => (StatusCode::REQUEST_TIMEOUT, ApiError::RequestTimeout, None),
        (status, _) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            let error = match status {
                StatusCode::INTERNAL_SERVER_ERROR => {
                    ApiError::Internal("the HTTP/1.1 parser failed".into())
                }
                _ => ApiError::BadRequest("the request is not valid HTTP/1.1 and was not read".into()),
            };
            (status, error, None)
        }
    }
}

/// The response written instead of a bare refusal `head`.
fn refusal(head: &responses::Head, diagnosis: Option<&Diagnosis>) -> Vec<u8> {
    let (status, error, detail) = refusal_problem(head.status, diagnosis);
    let mut problem = error.to_problem();
    problem.status = status.as_u16();
    if detail.is_some() {
        problem.detail = detail;
    }
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let request_id = uuid::Uuid::now_v7();
    tracing::info!(
        request_id = %request_id,
        status = status.as_u16(),
        problem = error.slug(),
        "request refused by the HTTP/1.1 parser; the connection is closed"
    );
    let mut out = format!(
        "{} {} {}\r\ncontent-type: {PROBLEM_CONTENT_TYPE}\r\ncontent-length: {}\r\nconnection: close\r\ncache-control: no-store\r\nx-request-id: {request_id}\r\n",
        head.version,
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        body.len(),
    )
    .into_bytes();
    if let Some(date) = &head.date_line {
        out.extend_from_slice(date);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Writes `output` through a `ProblemIo` (after noting `noted` requests
    /// in its ledger, `true` for HEAD) and answers what reaches the peer.
    async fn through(noted: &[bool], read: &[u8], output: &[&[u8]]) -> String {
        let (ours, mut peer) = tokio::io::duplex(1 << 20);
        let mut io = ProblemIo::new(ours, true);
        io.requests.feed(read);
        for &head in noted {
            io.ledger().unwrap().push(head);
        }
        for part in output {
            io.write_all(part).await.unwrap();
        }
        io.shutdown().await.unwrap();
        drop(io);
        let mut seen = Vec::new();
        peer.read_to_end(&mut seen).await.unwrap();
        String::from_utf8(seen).unwrap()
    }

    const DATE: &str = "date: Tue, 01 Dec 2026 12:00:00 GMT\r\n";

    #[actix_web::test]
    async fn a_bare_timeout_becomes_a_problem() {
        let bare = format!(
            "HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n{DATE}\r\n"
        );
        let seen = through(&[], b"GET / HTTP/1.1\r\nHo", &[bare.as_bytes()]).await;
        let (head, body) = seen.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{seen}"
        );
        assert!(head.contains("\r\ncontent-type: application/problem+json\r\n"));
        assert!(head.contains("\r\nconnection: close\r\n"));
        assert!(head.contains(DATE.trim_end()));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["type"], "urn:tracewire:problem:request-timeout");
        assert_eq!(problem["status"], 408);
    }

    #[actix_web::test]
    async fn answers_to_noted_requests_pass_unchanged() {
        // Even a bare-looking 400: it answers a request the application had.
        let answers = [
            format!("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n{DATE}\r\n{{}}"),
            format!("HTTP/1.1 405 Method Not Allowed\r\ncontent-type: application/problem+json\r\n{DATE}\r\n"),
            format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n{DATE}\r\n"),
        ];
        let output: String = answers.concat();
        // Written in awkward pieces, as a slow inner stream would take them.
        let pieces: Vec<&[u8]> = output.as_bytes().chunks(7).collect();
        let seen = through(&[false, true, false], b"", &pieces).await;
        assert_eq!(seen, output);
    }

    #[actix_web::test]
    async fn a_bare_refusal_after_answers_is_rewritten_alone() {
        let answer = format!("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n{DATE}\r\n{{}}");
        let bare = format!("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n{DATE}\r\n");
        let read = format!(
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(MAX_TARGET_BYTES)
        );
        let seen = through(
            &[false],
            read.as_bytes(),
            &[format!("{answer}{bare}").as_bytes()],
        )
        .await;
        let rest = seen
            .strip_prefix(&answer)
            .expect("the answer first, unchanged");
        assert!(rest.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{rest}");
        assert!(
            rest.contains("\"type\":\"urn:tracewire:problem:uri-too-long\""),
            "{rest}"
        );
    }
}
