//! HTTP/1.x as the metrics endpoint speaks it (RFC 9112, RFC 9110): what a
//! request head asks, and the answers. Strict where the RFC says MUST: the
//! absolute-form target is accepted (§3.2.2), HTTP/1.1 without exactly one
//! `Host` is refused with 400 (§3.2), a body is framed by `Content-Length` only
//! (a `Transfer-Encoding` gets 411, both together 400, §6.3), and every answer
//! closes the connection. Limits: [`MAX_REQUEST`] bytes of request line and
//! headers (431 above), [`MAX_BODY`] bytes of body (413 above).

use crate::stats::exposition::Format;

/// The longest request head: request line and headers.
pub const MAX_REQUEST: usize = 8192;
/// The longest request body, read and discarded before the answer.
pub const MAX_BODY: usize = 65536;

/// The statuses the endpoint answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    LengthRequired,
    ContentTooLarge,
    HeadersTooLarge,
    NoAnswer,
    Busy,
    VersionNotSupported,
}

impl Status {
    pub(super) fn line(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::BadRequest => "400 Bad Request",
            Status::NotFound => "404 Not Found",
            Status::MethodNotAllowed => "405 Method Not Allowed",
            Status::RequestTimeout => "408 Request Timeout",
            Status::LengthRequired => "411 Length Required",
            Status::ContentTooLarge => "413 Content Too Large",
            Status::HeadersTooLarge => "431 Request Header Fields Too Large",
            Status::NoAnswer | Status::Busy => "503 Service Unavailable",
            Status::VersionNotSupported => "505 HTTP Version Not Supported",
        }
    }
}

/// The head of an answer (status line and headers) for a body of `len` bytes.
pub(super) fn head(status: Status, content_type: &str, len: usize) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: close\r\n",
        status.line(),
    );
    match status {
        Status::MethodNotAllowed => out.push_str("Allow: GET, HEAD\r\n"),
        Status::Busy | Status::NoAnswer => out.push_str("Retry-After: 1\r\n"),
        _ => {}
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// A whole answer: `status` and one line of text.
pub(super) fn plain(status: Status, text: &str) -> Vec<u8> {
    let body = format!("{text}\n");
    let mut out = head(status, "text/plain; charset=utf-8", body.len());
    out.extend_from_slice(body.as_bytes());
    out
}

/// Where the head ends: after `\r\n\r\n`, or `\n\n` from lax clients.
pub(super) fn find_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4);
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Asked {
    pub(super) head_only: bool,
    pub(super) target: Target,
    pub(super) format: Format,
    /// Bytes of body that follow the head (`Content-Length`), to be discarded.
    pub(super) body: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Target {
    Metrics,
    Index,
}

/// The path of a request target: origin-form as it is, absolute-form
/// (`http://host:port/path`) without its scheme and authority (RFC 9112
/// §3.2.2: a server MUST accept it).
fn path(target: &str) -> Result<&str, Status> {
    if target.starts_with('/') {
        return Ok(target);
    }
    let scheme_end = target.find("://").ok_or(Status::BadRequest)?;
    let scheme = &target[..scheme_end];
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(Status::BadRequest);
    }
    let rest = &target[scheme_end + 3..];
    let authority = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if authority == 0 {
        return Err(Status::BadRequest);
    }
    Ok(&rest[authority..])
}

/// The framing headers of a request.
struct Framing {
    hosts: usize,
    length: Option<u64>,
    chunked: bool,
    format: Format,
}

impl Framing {
    fn new() -> Framing {
        Framing {
            hosts: 0,
            length: None,
            chunked: false,
            format: Format::Prometheus,
        }
    }

    /// Takes one header field into account.
    fn field(&mut self, name: &str, value: &str) -> Result<(), Status> {
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("host") {
            self.hosts += 1;
        } else if name.eq_ignore_ascii_case("accept") {
            self.format = Format::from_accept(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            self.chunked = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            // 1*DIGIT, or a list of one value repeated (RFC 9110 §8.6); a
            // number beyond u64 is only too large.
            for v in value.split(',').map(|v| v.trim_matches([' ', '\t'])) {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Status::BadRequest);
                }
                let n = v.parse::<u64>().unwrap_or(u64::MAX);
                if self.length.is_some_and(|l| l != n) {
                    return Err(Status::BadRequest);
                }
                self.length = Some(n);
            }
        }
        Ok(())
    }
}

/// Parses a request head: `GET|HEAD <target> HTTP/1.0|1.1` and its headers.
pub(super) fn parse(head: &[u8]) -> Result<Asked, Status> {
    if head.len() > MAX_REQUEST {
        return Err(Status::HeadersTooLarge);
    }
    let text = std::str::from_utf8(head).map_err(|_| Status::BadRequest)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().ok_or(Status::BadRequest)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Status::BadRequest);
    };
    if !version.starts_with("HTTP/") {
        return Err(Status::BadRequest);
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(Status::VersionNotSupported);
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        m if !m.is_empty() && m.bytes().all(|c| c.is_ascii_uppercase()) => {
            return Err(Status::MethodNotAllowed);
        }
        _ => return Err(Status::BadRequest),
    };
    let path = path(target)?;
    let target = match path.split(['?', '#']).next().unwrap_or_default() {
        "/metrics" => Target::Metrics,
        "/" | "" => Target::Index,
        _ => return Err(Status::NotFound),
    };
    let mut framing = Framing::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(Status::BadRequest)?;
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(Status::BadRequest);
        }
        framing.field(name, value)?;
    }
    // RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one in 1.0.
    if (version == "HTTP/1.1" && framing.hosts == 0) || framing.hosts > 1 {
        return Err(Status::BadRequest);
    }
    // §6.3: both framings is an error; a body the server will not read
    // chunk by chunk needs a length.
    if framing.chunked {
        return Err(if framing.length.is_some() {
            Status::BadRequest
        } else {
            Status::LengthRequired
        });
    }
    let body = framing.length.unwrap_or(0);
    if body > MAX_BODY as u64 {
        return Err(Status::ContentTooLarge);
    }
    Ok(Asked {
        head_only,
        target,
        format: framing.format,
        body: body as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(head: &str) -> Result<Asked, Status> {
        parse(head.as_bytes())
    }

    #[test]
    fn requests_are_parsed_strictly() {
        let ok = parsed("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n").unwrap();
        assert_eq!(
            ok,
            Asked {
                head_only: false,
                target: Target::Metrics,
                format: Format::OpenMetrics,
                body: 0,
            }
        );
        let plain = parsed("HEAD /metrics?x=1 HTTP/1.0\n\n").unwrap();
        assert_eq!((plain.head_only, plain.format), (true, Format::Prometheus));
        assert_eq!(
            parsed("GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap().target,
            Target::Index
        );
        for (head, status) in [
            (
                "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                Status::MethodNotAllowed,
            ),
            ("GET /other HTTP/1.1\r\nHost: x\r\n\r\n", Status::NotFound),
            ("GET /metrics HTTP/2.0\r\n\r\n", Status::VersionNotSupported),
            ("GET /metrics\r\n\r\n", Status::BadRequest),
            ("GET  /metrics HTTP/1.1\r\n\r\n", Status::BadRequest),
            ("GET metrics HTTP/1.1\r\n\r\n", Status::BadRequest),
            ("get /metrics HTTP/1.1\r\n\r\n", Status::BadRequest),
            (
                "GET /metrics HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET /metrics HTTP/1.1\r\nHost: x\r\nBad Name: x\r\n\r\n",
                Status::BadRequest,
            ),
            ("\u{0}\u{1}garbage\r\n\r\n", Status::BadRequest),
            ("", Status::BadRequest),
        ] {
            assert_eq!(parsed(head), Err(status), "{head:?}");
        }
        assert_eq!(
            parse(b"GET /metrics HTTP/1.1\r\n\xff: x\r\n\r\n"),
            Err(Status::BadRequest)
        );
    }

    #[test]
    fn absolute_form_targets_are_accepted() {
        for target in [
            "http://192.0.2.1:9108/metrics",
            "HTTP://[::1]:9108/metrics?x=1",
            "https://router.example/metrics",
        ] {
            let head = format!("GET {target} HTTP/1.1\r\nHost: other\r\n\r\n");
            assert_eq!(parsed(&head).unwrap().target, Target::Metrics, "{target}");
        }
        let index = parsed("GET http://host:9108 HTTP/1.1\r\nHost: host\r\n\r\n").unwrap();
        assert_eq!(index.target, Target::Index);
        for (target, status) in [
            ("http:///metrics", Status::BadRequest),
            ("ftp://host/metrics", Status::BadRequest),
            ("http://host/other", Status::NotFound),
            ("*", Status::BadRequest),
        ] {
            let head = format!("GET {target} HTTP/1.1\r\nHost: host\r\n\r\n");
            assert_eq!(parsed(&head), Err(status), "{target}");
        }
    }

    #[test]
    fn host_is_required_once_in_http_1_1() {
        assert_eq!(
            parsed("GET /metrics HTTP/1.1\r\n\r\n"),
            Err(Status::BadRequest)
        );
        assert_eq!(
            parsed("GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            Err(Status::BadRequest)
        );
        assert!(parsed("GET /metrics HTTP/1.0\r\n\r\n").is_ok());
        assert!(parsed("GET /metrics HTTP/1.1\r\nhOST:\r\n\r\n").is_ok());
    }

    #[test]
    fn bodies_are_framed_by_their_length_and_bounded() {
        let with =
            |fields: &str| parsed(&format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{fields}\r\n"));
        assert_eq!(with("Content-Length: 65536\r\n").unwrap().body, MAX_BODY);
        assert_eq!(with("Content-Length: 7, 7\r\n").unwrap().body, 7);
        assert_eq!(
            with("Content-Length: 65537\r\n"),
            Err(Status::ContentTooLarge)
        );
        assert_eq!(
            with("Content-Length: 99999999999999999999999\r\n"),
            Err(Status::ContentTooLarge)
        );
        for bad in [
            "Content-Length: -1\r\n",
            "Content-Length: 1\r\nContent-Length: 2\r\n",
            "Content-Length: 0x10\r\n",
            "Content-Length:\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        ] {
            assert_eq!(with(bad), Err(Status::BadRequest), "{bad:?}");
        }
        assert_eq!(
            with("Transfer-Encoding: chunked\r\n"),
            Err(Status::LengthRequired)
        );
    }

    #[test]
    fn heads_over_8_kib_are_refused() {
        let mut head = String::from("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ");
        head.push_str(&"p".repeat(9000));
        head.push_str("\r\n\r\n");
        assert_eq!(parsed(&head), Err(Status::HeadersTooLarge));
    }

    #[test]
    fn answers_carry_length_and_close() {
        assert_eq!(
            plain(Status::MethodNotAllowed, "no"),
            b"HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nConnection: close\r\nAllow: GET, HEAD\r\n\r\nno\n"
        );
        assert!(
            head(Status::Ok, "text/plain", 4)
                .ends_with(b"Content-Length: 4\r\nConnection: close\r\n\r\n")
        );
        assert!(
            plain(Status::ContentTooLarge, "x").starts_with(b"HTTP/1.1 413 Content Too Large\r\n")
        );
    }
}
