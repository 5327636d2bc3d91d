//! Why actix-http refused a request: the bytes a connection reads are
//! followed request by request (heads, `content-length` and chunked
//! bodies), and the first head that the parser cannot take is diagnosed
//! with the parser's own rules (actix-http's `h1/decoder.rs`: httparse
//! with 96 header fields, 128 KiB per head, the `http` crate's 64 KiB
//! request target, its `Content-Length`, `Transfer-Encoding` and `Host`
//! checks). The diagnosis only words the refusal; whether there is one is
//! decided by actix-http.

/// The most header fields actix-http reads (its `MAX_HEADERS`).
pub const MAX_HEADER_FIELDS: usize = 96;
/// The largest request head actix-http reads (its `MAX_BUFFER_SIZE`).
pub const MAX_HEAD_BYTES: usize = 128 * 1024;
/// The longest request target the `http` crate holds (`u16::MAX - 1`).
pub const MAX_TARGET_BYTES: usize = 65_534;

/// What was wrong with the first request head the parser refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnosis {
    HeadTooLarge,
    TooManyHeaderFields,
    TargetTooLong,
    /// Anything else, in words for the problem's `detail`.
    Malformed(&'static str),
}

#[derive(Debug)]
enum State {
    /// Bytes of a head that arrived so far (empty between requests).
    Head(Vec<u8>),
    Body(u64),
    Chunked(Chunk),
    /// A diagnosis was made, or the connection left HTTP/1.1 framing.
    Stopped,
}

#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Size line: value so far, whether a digit was seen, whether in an extension.
    Size(u64, bool, bool),
    Data(u64),
    DataEnd,
    /// Trailer lines after the last chunk: whether the current line is empty so far.
    Trailer(bool),
}

/// Follows the requests read on one connection.
#[derive(Debug)]
pub struct RequestScanner {
    state: State,
    diagnosis: Option<Diagnosis>,
}

impl Default for RequestScanner {
    fn default() -> Self {
        RequestScanner {
            state: State::Head(Vec::new()),
            diagnosis: None,
        }
    }
}

impl RequestScanner {
    /// The diagnosis of the first refused head, once one was read.
    pub fn diagnosis(&self) -> Option<&Diagnosis> {
        self.diagnosis.as_ref()
    }

    fn refuse(&mut self, diagnosis: Diagnosis) {
        self.diagnosis = Some(diagnosis);
        self.state = State::Stopped;
    }

    /// Follows `bytes`, the next bytes read from the connection.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Stopped => return,
                State::Body(remaining) => {
                    let n = (*remaining).min(bytes.len() as u64);
                    *remaining -= n;
                    bytes = &bytes[n as usize..];
                    if *remaining == 0 {
                        self.state = State::Head(Vec::new());
                    }
                }
                State::Chunked(chunk) => {
                    let (used, next) = follow_chunks(*chunk, bytes);
                    bytes = &bytes[used..];
                    match next {
                        Some(Some(chunk)) => self.state = State::Chunked(chunk),
                        Some(None) => self.state = State::Head(Vec::new()),
                        None => self.refuse(Diagnosis::Malformed(
                            "the chunked request body is not valid chunked encoding",
                        )),
                    }
                }
                State::Head(held) => {
                    // Parse in place when nothing is held (the usual case).
                    let owned;
                    let (data, prior) = if held.is_empty() {
                        (bytes, 0)
                    } else {
                        let prior = held.len();
                        held.extend_from_slice(bytes);
                        owned = std::mem::take(held);
                        (&owned[..], prior)
                    };
                    match self.head(data) {
                        HeadOutcome::Partial => {
                            if data.len() >= MAX_HEAD_BYTES {
                                self.refuse(Diagnosis::HeadTooLarge);
                            } else {
                                self.state = State::Head(data.to_vec());
                            }
                            return;
                        }
                        HeadOutcome::Done(length) => bytes = &bytes[length - prior..],
                        HeadOutcome::Refused => return,
                    }
                }
            }
        }
    }

    /// Reads one head from the start of `data`, setting the next state.
    fn head(&mut self, data: &[u8]) -> HeadOutcome {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADER_FIELDS];
        let mut request = httparse::Request::new(&mut fields);
        let length = match request.parse(data) {
            Ok(httparse::Status::Partial) => return HeadOutcome::Partial,
            Ok(httparse::Status::Complete(length)) => length,
            Err(error) => {
                self.refuse(match error {
                    httparse::Error::TooManyHeaders => Diagnosis::TooManyHeaderFields,
                    httparse::Error::HeaderName => {
                        Diagnosis::Malformed("a header field name is not a valid token")
                    }
                    httparse::Error::HeaderValue => Diagnosis::Malformed(
                        "a header field value contains a byte that is not allowed (NUL or another control character)",
                    ),
                    httparse::Error::Version => {
                        Diagnosis::Malformed("the request line does not end in HTTP/1.0 or HTTP/1.1")
                    }
                    _ => Diagnosis::Malformed("the request line or a header line is malformed"),
                });
                return HeadOutcome::Refused;
            }
        };
        match framing(&request) {
            Ok(Framing::None) => self.state = State::Head(Vec::new()),
            Ok(Framing::Length(0)) => self.state = State::Head(Vec::new()),
            Ok(Framing::Length(n)) => self.state = State::Body(n),
            Ok(Framing::Chunked) => self.state = State::Chunked(Chunk::Size(0, false, false)),
            Ok(Framing::Untracked) => self.state = State::Stopped,
            Err(diagnosis) => {
                self.refuse(diagnosis);
                return HeadOutcome::Refused;
            }
        }
        HeadOutcome::Done(length)
    }
}

enum HeadOutcome {
    Partial,
    Done(usize),
    Refused,
}

enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Upgrades, CONNECT: the bytes after the head are not requests.
    Untracked,
}

/// The body framing of a parsed head, or why actix-http refuses it.
fn framing(request: &httparse::Request<'_, '_>) -> Result<Framing, Diagnosis> {
    let method = request.method.unwrap_or_default();
    if actix_web::http::Method::from_bytes(method.as_bytes()).is_err() {
        return Err(Diagnosis::Malformed(
            "the request method is not a valid token",
        ));
    }
    let target = request.path.unwrap_or_default();
    if target.len() > MAX_TARGET_BYTES {
        return Err(Diagnosis::TargetTooLong);
    }
    if actix_web::http::Uri::try_from(target).is_err() {
        return Err(Diagnosis::Malformed(
            "the request target is not a valid URI",
        ));
    }
    let http_11 = request.version == Some(1);
    let (mut length, mut chunked, mut transfer_encoding, mut host) = (None, false, false, false);
    let mut upgrade = method.eq_ignore_ascii_case("CONNECT");
    for field in request.headers.iter() {
        let value = std::str::from_utf8(field.value).map(str::trim);
        if field.name.eq_ignore_ascii_case("content-length") {
            if length.is_some() {
                return Err(Diagnosis::Malformed(
                    "the request has more than one Content-Length header field",
                ));
            }
            match value
                .ok()
                .filter(|v| !v.starts_with('+'))
                .map(str::parse::<u64>)
            {
                Some(Ok(n)) => length = Some(n),
                _ => {
                    return Err(Diagnosis::Malformed(
                        "Content-Length is not a decimal number",
                    ))
                }
            }
        } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
            if transfer_encoding {
                return Err(Diagnosis::Malformed(
                    "the request has more than one Transfer-Encoding header field",
                ));
            }
            transfer_encoding = true;
            match value {
                Ok(v) if v.eq_ignore_ascii_case("chunked") => chunked = true,
                Ok(v) if v.eq_ignore_ascii_case("identity") => {}
                _ => {
                    return Err(Diagnosis::Malformed(
                        "Transfer-Encoding must be chunked (nothing else is accepted)",
                    ))
                }
            }
        } else if field.name.eq_ignore_ascii_case("host") {
            if host {
                return Err(Diagnosis::Malformed(
                    "the request has more than one Host header field",
                ));
            }
            host = true;
        } else if field.name.eq_ignore_ascii_case("upgrade")
            || (field.name.eq_ignore_ascii_case("connection")
                && value.is_ok_and(|v| {
                    v.split(',')
                        .any(|o| o.trim().eq_ignore_ascii_case("upgrade"))
                }))
        {
            upgrade = true;
        }
    }
    if http_11 && !host {
        return Err(Diagnosis::Malformed(
            "an HTTP/1.1 request must have a Host header field",
        ));
    }
    if transfer_encoding {
        if !http_11 {
            return Err(Diagnosis::Malformed(
                "Transfer-Encoding is not allowed in an HTTP/1.0 request",
            ));
        }
        if !chunked {
            return Err(Diagnosis::Malformed("Transfer-Encoding must be chunked"));
        }
        if length.is_some() {
            return Err(Diagnosis::Malformed(
                "the request has both Content-Length and Transfer-Encoding",
            ));
        }
    }
    Ok(if upgrade {
        Framing::Untracked
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::None
    })
}

/// Follows chunked framing: bytes used, and the next chunk state (`Some(None)`
/// at the end of the body, `None` when the framing is invalid).
fn follow_chunks(mut chunk: Chunk, bytes: &[u8]) -> (usize, Option<Option<Chunk>>) {
    let mut used = 0;
    while used < bytes.len() {
        if let Chunk::Data(remaining) = chunk {
            let n = remaining.min((bytes.len() - used) as u64);
            used += n as usize;
            chunk = if n == remaining {
                Chunk::DataEnd
            } else {
                Chunk::Data(remaining - n)
            };
            continue;
        }
        let byte = bytes[used];
        used += 1;
        chunk = match (chunk, byte) {
            (Chunk::Size(value, _, false), b) if b.is_ascii_hexdigit() => {
                if value >> 56 != 0 {
                    return (used, None);
                }
                let digit = (b as char).to_digit(16).unwrap_or(0) as u64;
                Chunk::Size(value * 16 + digit, true, false)
            }
            (Chunk::Size(0, true, _), b'\n') => Chunk::Trailer(true),
            (Chunk::Size(value, true, _), b'\n') => Chunk::Data(value),
            (Chunk::Size(value, true, _), b';' | b' ' | b'\t' | b'\r') => {
                Chunk::Size(value, true, true)
            }
            (Chunk::Size(value, true, true), _) => Chunk::Size(value, true, true),
            (Chunk::DataEnd, b'\r') => Chunk::DataEnd,
            (Chunk::DataEnd, b'\n') => Chunk::Size(0, false, false),
            (Chunk::Trailer(true), b'\r') => Chunk::Trailer(true),
            (Chunk::Trailer(true), b'\n') => return (used, Some(None)),
            (Chunk::Trailer(_), b'\n') => Chunk::Trailer(true),
            (Chunk::Trailer(_), _) => Chunk::Trailer(false),
            _ => return (used, None),
        };
    }
    (used, Some(Some(chunk)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnose(input: &[u8], piece: usize) -> Option<Diagnosis> {
        let mut scanner = RequestScanner::default();
        for part in input.chunks(piece) {
            scanner.feed(part);
        }
        scanner.diagnosis().cloned()
    }

    #[test]
    fn good_requests_with_bodies_are_followed_to_the_bad_one() {
        let input = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\nGET / HTTP/1.1\r\nHost: \0\r\n\r\n\
POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1c;ext=1\r\nGET / HTTP/1.1\r\nHost: \0\r\n\r\n\r\n0\r\n\r\n\
GET /c HTTP/1.1\r\nHost: x\r\n\r\n\
GET /d HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n";
        for piece in [1, 5, 64, input.len()] {
            assert_eq!(
                diagnose(input, piece),
                Some(Diagnosis::Malformed(
                    "the request has more than one Content-Length header field"
                )),
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn each_refusal_of_the_parser_is_named() {
        let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
        assert_eq!(
            diagnose(long.as_bytes(), 16_384),
            Some(Diagnosis::TargetTooLong)
        );
        let many: String = (0..120).map(|i| format!("X-{i}: v\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        assert_eq!(
            diagnose(many.as_bytes(), 100),
            Some(Diagnosis::TooManyHeaderFields)
        );
        let huge = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
            "p".repeat(200_000)
        );
        assert_eq!(
            diagnose(huge.as_bytes(), 16_384),
            Some(Diagnosis::HeadTooLarge)
        );
        assert!(matches!(
            diagnose(b"GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 3),
            Some(Diagnosis::Malformed(m)) if m.contains("NUL")
        ));
        assert!(matches!(
            diagnose(b"GARBAGE\r\n\r\n", 100),
            Some(Diagnosis::Malformed(_))
        ));
        assert!(matches!(
            diagnose(b"GET / HTTP/1.1\r\n\r\n", 100),
            Some(Diagnosis::Malformed(m)) if m.contains("Host")
        ));
        assert_eq!(
            diagnose(
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
                7
            ),
            None
        );
    }
}
