//! Where responses begin in what actix-http writes to an HTTP/1.1
//! connection, so that a bare refusal is recognised as a whole response,
//! never inside another response's body.
//!
//! actix-http frames its own output in a few fixed ways (see its
//! `h1/encoder.rs`): a head ending in CRLF CRLF, then a body of
//! `content-length` bytes, a chunked body (`{size:X}\r\n…\r\n`, ending
//! `0\r\n\r\n`), or none (1xx, 204, 304, HEAD). Anything else (a body
//! delimited by closing the connection, a head over [`MAX_HEAD`]) ends the
//! tracking for the connection: its bytes pass unchanged.

/// The largest response head tracked; actix-http's are a few hundred bytes.
const MAX_HEAD: usize = 64 * 1024;

/// What the framing found at the end of a response head.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Head {
    pub version: String,
    pub status: u16,
    pub content_length: Option<u64>,
    pub chunked: bool,
    pub has_content_type: bool,
    /// The `date` header line as written (with its CRLF), if any.
    pub date_line: Option<Vec<u8>>,
}

impl Head {
    fn parse(bytes: &[u8]) -> Option<Head> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next()?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next()?.to_owned();
        if !version.starts_with("HTTP/1.") {
            return None;
        }
        let status = parts.next()?.parse().ok()?;
        let mut head = Head {
            version,
            status,
            content_length: None,
            chunked: false,
            has_content_type: false,
            date_line: None,
        };
        for line in lines.filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':')?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                head.content_length = Some(value.parse().ok()?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("content-type") {
                head.has_content_type = true;
            } else if name.eq_ignore_ascii_case("date") {
                head.date_line = Some(format!("{line}\r\n").into_bytes());
            }
        }
        Some(head)
    }
}

#[derive(Debug)]
enum State {
    /// Bytes of the head being written (complete at CRLF CRLF).
    Head(Vec<u8>),
    /// Bytes of a `content-length` body still to come.
    Fixed(u64),
    Chunked(Chunk),
    /// Not tracked any more: every byte passes as it is.
    Untracked,
}

#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Hex digits of a chunk size (value so far, whether a digit was seen).
    Size(u64, bool),
    /// The LF ending a size line.
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    /// The CRLF after the last (empty) chunk.
    EndCr,
    EndLf,
}

/// One step of [`Framing::feed`].
#[derive(Debug)]
pub(super) enum Step {
    /// These bytes go out unchanged (`usize` of the input consumed).
    Forward(usize),
    /// A complete response head, consumed; the caller decides what goes out
    /// (its bytes are in `bytes`) and tells [`Framing::body`] how its body
    /// is framed, or [`Framing::stop`].
    Head {
        consumed: usize,
        bytes: Vec<u8>,
        head: Option<Head>,
    },
    /// Part of a head, held until it is complete.
    Held(usize),
}

/// Tracks the response framing of one connection's output.
#[derive(Debug)]
pub(super) struct Framing {
    state: State,
}

impl Default for Framing {
    fn default() -> Self {
        Framing {
            state: State::Head(Vec::new()),
        }
    }
}

impl Framing {
    /// A framing that tracks nothing (HTTP/2, or given up).
    pub fn untracked() -> Framing {
        Framing {
            state: State::Untracked,
        }
    }

    pub fn is_untracked(&self) -> bool {
        matches!(self.state, State::Untracked)
    }

    /// Stops tracking: everything from here passes unchanged.
    pub fn stop(&mut self) {
        self.state = State::Untracked;
    }

    /// After a [`Step::Head`]: the body that follows. `None` for a response
    /// without a body, else its length or chunked framing from the head.
    pub fn body(&mut self, head: &Head, has_body: bool) {
        self.state = if !has_body {
            State::Head(Vec::new())
        } else if head.chunked {
            State::Chunked(Chunk::Size(0, false))
        } else {
            match head.content_length {
                Some(0) => State::Head(Vec::new()),
                Some(length) => State::Fixed(length),
                // A body delimited by closing the connection.
                None => State::Untracked,
            }
        };
    }

    /// Consumes a prefix of `bytes` (at least one byte when `bytes` is not
    /// empty) and says what to do with it.
    pub fn feed(&mut self, bytes: &[u8]) -> Step {
        match &mut self.state {
            State::Untracked => Step::Forward(bytes.len()),
            State::Fixed(remaining) => {
                let n = (*remaining).min(bytes.len() as u64);
                *remaining -= n;
                if *remaining == 0 {
                    self.state = State::Head(Vec::new());
                }
                Step::Forward(n as usize)
            }
            State::Chunked(chunk) => {
                let mut chunk = *chunk;
                let mut used = 0;
                while used < bytes.len() {
                    if let Chunk::Data(remaining) = chunk {
                        let n = remaining.min((bytes.len() - used) as u64);
                        used += n as usize;
                        chunk = if remaining == n {
                            Chunk::DataCr
                        } else {
                            Chunk::Data(remaining - n)
                        };
                        continue;
                    }
                    let byte = bytes[used];
                    used += 1;
                    chunk = match (chunk, byte) {
                        (Chunk::Size(value, _), b) if b.is_ascii_hexdigit() && value >> 56 == 0 => {
                            let digit = (b as char).to_digit(16).unwrap_or(0) as u64;
                            Chunk::Size(value * 16 + digit, true)
                        }
                        (Chunk::Size(value, true), b'\r') => Chunk::SizeLf(value),
                        (Chunk::SizeLf(0), b'\n') => Chunk::EndCr,
                        (Chunk::SizeLf(value), b'\n') => Chunk::Data(value),
                        (Chunk::DataCr, b'\r') => Chunk::DataLf,
                        (Chunk::DataLf, b'\n') => Chunk::Size(0, false),
                        (Chunk::EndCr, b'\r') => Chunk::EndLf,
                        (Chunk::EndLf, b'\n') => {
                            self.state = State::Head(Vec::new());
                            return Step::Forward(used);
                        }
                        _ => {
                            self.state = State::Untracked;
                            return Step::Forward(bytes.len());
                        }
                    };
                }
                self.state = State::Chunked(chunk);
                Step::Forward(used)
            }
            State::Head(held) => {
                let searched_from = held.len().saturating_sub(3);
                let available = (MAX_HEAD + 4 - held.len()).min(bytes.len());
                held.extend_from_slice(&bytes[..available]);
                match find_end_of_head(&held[searched_from..]) {
                    Some(end) => {
                        let end = searched_from + end;
                        let consumed = available - (held.len() - end);
                        held.truncate(end);
                        let bytes = std::mem::take(held);
                        let head = Head::parse(&bytes);
                        if head.is_none() {
                            self.state = State::Untracked;
                        }
                        Step::Head {
                            consumed,
                            bytes,
                            head,
                        }
                    }
                    None if held.len() > MAX_HEAD => {
                        // Not a head actix-http writes: let it all through.
                        let bytes = std::mem::take(held);
                        self.state = State::Untracked;
                        Step::Head {
                            consumed: available,
                            bytes,
                            head: None,
                        }
                    }
                    None => Step::Held(available),
                }
            }
        }
    }

    /// Bytes of an incomplete head, handed back when the connection is
    /// flushed or closed with one pending (tracking stops).
    pub fn take_held(&mut self) -> Vec<u8> {
        match &mut self.state {
            State::Head(held) if !held.is_empty() => {
                let held = std::mem::take(held);
                self.state = State::Untracked;
                held
            }
            _ => Vec::new(),
        }
    }
}

/// The length up to and including the CRLF CRLF ending a head, if present.
fn find_end_of_head(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `output` in pieces of `piece` bytes; answers the heads found
    /// (status), with the forwarded and held byte counts adding up.
    fn heads(output: &[u8], piece: usize, no_body: &[u16]) -> Vec<u16> {
        let mut framing = Framing::default();
        let mut found = Vec::new();
        let mut total = 0;
        for part in output.chunks(piece) {
            let mut at = 0;
            while at < part.len() {
                match framing.feed(&part[at..]) {
                    Step::Forward(n) | Step::Held(n) => at += n,
                    Step::Head {
                        consumed,
                        bytes,
                        head,
                    } => {
                        at += consumed;
                        total += bytes.len();
                        let head = head.expect("a head");
                        found.push(head.status);
                        let has_body = !(head.status < 200 || no_body.contains(&head.status));
                        framing.body(&head, has_body);
                    }
                }
                assert!(at <= part.len());
            }
        }
        assert!(total > 0);
        found
    }

    #[test]
    fn finds_each_head_whatever_the_write_sizes() {
        let output = b"HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\ncontent-length: 28\r\ncontent-type: text/plain\r\n\r\nHTTP/1.1 400 Bad Request\r\n\r\n\
HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n19\r\nHTTP/1.1 431 Nope\r\n\r\nxxxx\r\n3\r\nabc\r\n0\r\n\r\n\
HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n\
HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\n\r\n\
HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Tue\r\n\r\n";
        for piece in [1, 2, 3, 7, 16, output.len()] {
            assert_eq!(
                heads(output, piece, &[204, 404]),
                vec![100, 200, 200, 204, 404, 400],
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn parses_the_head_fields_that_frame_a_body() {
        let head = Head::parse(
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: Tue, 01 Dec 2026 10:00:00 GMT\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.status, 400);
        assert_eq!(head.content_length, Some(0));
        assert!(!head.has_content_type && !head.chunked);
        assert_eq!(
            head.date_line.as_deref(),
            Some(&b"date: Tue, 01 Dec 2026 10:00:00 GMT\r\n"[..])
        );
    }

    #[test]
    fn a_body_until_close_ends_the_tracking() {
        let mut framing = Framing::default();
        let Step::Head { head, .. } = framing.feed(b"HTTP/1.0 200 OK\r\n\r\n") else {
            panic!("no head");
        };
        framing.body(&head.unwrap(), true);
        assert!(framing.is_untracked());
    }
}
