//! The metrics endpoint (`[metrics] listen`): `GET /metrics` over HTTP/1.x, in
//! the Prometheus text format or OpenMetrics as the `Accept` header asks
//! ([`crate::stats::exposition`]), from counters the packet loops publish
//! between bursts ([`Loops::recent`], at most one question per [`MAX_AGE`]).
//!
//! Whatever a client does, forwarding does not notice: the server has its own
//! thread and a short-lived thread per client, at most [`MAX_CLIENTS`] at once
//! (more are told `503`), and accepts at most [`ACCEPTS_PER_SECOND`]
//! connections a second (beyond that they wait in the kernel's backlog). A
//! request — line and headers — is at most [`MAX_REQUEST`] bytes and must be
//! complete within [`REQUEST_TIMEOUT`] of the connection (`408`, `431`); an
//! answer the client does not read within [`WRITE_TIMEOUT`] is dropped. One
//! request per connection.

use super::loops::Loops;
use crate::config::Metrics;
use crate::stats::exposition::{self, Format};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Clients served at once.
pub const MAX_CLIENTS: usize = 8;
/// Connections accepted per second, at most (bursts of twice that).
pub const ACCEPTS_PER_SECOND: u32 = 20;
/// The longest request: request line and headers.
pub const MAX_REQUEST: usize = 8192;
/// How long a client may take to send its whole request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a client may take to read its answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The oldest counters a scrape is answered with.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Binds the endpoint `config` names (inside its namespace, if it names one);
/// none if it names none.
pub fn bind(config: &Metrics) -> io::Result<Option<TcpListener>> {
    let Some(listen) = config.listen else {
        return Ok(None);
    };
    let open = || {
        TcpListener::bind(listen)
            .map_err(|e| io::Error::new(e.kind(), format!("metrics.listen {listen}: {e}")))
    };
    let listener = match &config.netns {
        Some(ns) => super::in_netns(ns, open)?,
        None => open()?,
    };
    listener.set_nonblocking(true)?;
    Ok(Some(listener))
}

/// The metrics server, running until dropped.
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `listener` (from [`bind`]) with the counters of `loops`, each
    /// subscriber's too if `per_subscriber`.
    pub fn start(listener: TcpListener, loops: Arc<Loops>, per_subscriber: bool) -> Server {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("sixfold-metrics".into())
            .spawn(move || accept_loop(&listener, &loops, per_subscriber, &flag))
            .ok();
        Server { stop, thread }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A token bucket for accepted connections.
struct AcceptBudget {
    tokens: f64,
    at: Instant,
}

impl AcceptBudget {
    fn new() -> AcceptBudget {
        AcceptBudget {
            tokens: f64::from(2 * ACCEPTS_PER_SECOND),
            at: Instant::now(),
        }
    }

    /// Takes a token, or says how long until there is one.
    fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        let rate = f64::from(ACCEPTS_PER_SECOND);
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * rate).min(2.0 * rate);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    loops: &Arc<Loops>,
    per_subscriber: bool,
    stop: &AtomicBool,
) {
    let clients = Arc::new(AtomicUsize::new(0));
    let mut budget = AcceptBudget::new();
    while !stop.load(Ordering::Relaxed) {
        if let Err(wait) = budget.take() {
            std::thread::sleep(wait.min(Duration::from_millis(50)));
            continue;
        }
        match listener.accept() {
            Ok((stream, peer)) => {
                if clients.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
                    clients.fetch_sub(1, Ordering::AcqRel);
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
                    let _ = (&stream).write_all(&response(
                        Status::Busy,
                        "text/plain; charset=utf-8",
                        b"busy: too many clients\n",
                        false,
                    ));
                    continue;
                }
                let (loops, count) = (Arc::clone(loops), Arc::clone(&clients));
                let spawned = std::thread::Builder::new()
                    .name("sixfold-metrics-client".into())
                    .spawn(move || {
                        if let Err(e) = serve(stream, &loops, per_subscriber) {
                            tracing::debug!(error = %e, %peer, "metrics client");
                        }
                        count.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    clients.fetch_sub(1, Ordering::AcqRel);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                budget.tokens += 1.0; // not spent
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics endpoint accept failed");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// The statuses the endpoint answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    HeadersTooLarge,
    NoAnswer,
    Busy,
    VersionNotSupported,
}

impl Status {
    fn line(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::BadRequest => "400 Bad Request",
            Status::NotFound => "404 Not Found",
            Status::MethodNotAllowed => "405 Method Not Allowed",
            Status::RequestTimeout => "408 Request Timeout",
            Status::HeadersTooLarge => "431 Request Header Fields Too Large",
            Status::NoAnswer | Status::Busy => "503 Service Unavailable",
            Status::VersionNotSupported => "505 HTTP Version Not Supported",
        }
    }
}

fn response(status: Status, content_type: &str, body: &[u8], head: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        status.line(),
        body.len()
    );
    match status {
        Status::MethodNotAllowed => out.push_str("Allow: GET, HEAD\r\n"),
        Status::Busy | Status::NoAnswer => out.push_str("Retry-After: 1\r\n"),
        _ => {}
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    if !head {
        out.extend_from_slice(body);
    }
    out
}

/// Why a request could not be read.
#[derive(Debug, PartialEq, Eq)]
enum ReadError {
    TooLarge,
    TimedOut,
    Closed,
}

/// Reads the request line and headers (up to the empty line), at most
/// [`MAX_REQUEST`] bytes, all of it by `deadline`.
fn read_head(
    stream: &mut impl Read,
    set_timeout: impl Fn(Duration) -> io::Result<()>,
    deadline: Instant,
) -> Result<Vec<u8>, ReadError> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || set_timeout(left).is_err() {
            return Err(ReadError::TimedOut);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(ReadError::Closed),
            Ok(n) => {
                let from = head.len().saturating_sub(3);
                head.extend_from_slice(&chunk[..n]);
                if let Some(end) = find_end(&head[from..]) {
                    head.truncate(from + end);
                    return Ok(head);
                }
                if head.len() > MAX_REQUEST {
                    return Err(ReadError::TooLarge);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ReadError::TimedOut);
            }
            Err(_) => return Err(ReadError::Closed),
        }
    }
}

/// Where the head ends: after `\r\n\r\n`, or `\n\n` from lax clients.
fn find_end(bytes: &[u8]) -> Option<usize> {
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
struct Asked {
    head_only: bool,
    target: Target,
    format: Format,
}

#[derive(Debug, PartialEq, Eq)]
enum Target {
    Metrics,
    Index,
}

/// Parses a request head: `GET|HEAD <path> HTTP/1.0|1.1` and its headers.
fn parse(head: &[u8]) -> Result<Asked, Status> {
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
    let path = target.split('?').next().unwrap_or_default();
    let target = match path {
        "/metrics" => Target::Metrics,
        "/" => Target::Index,
        _ if path.starts_with('/') => return Err(Status::NotFound),
        _ => return Err(Status::BadRequest),
    };
    let mut format = Format::Prometheus;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(Status::BadRequest)?;
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(Status::BadRequest);
        }
        if name.eq_ignore_ascii_case("accept") {
            format = Format::from_accept(value.trim());
        }
    }
    Ok(Asked {
        head_only,
        target,
        format,
    })
}

/// The landing page: where the metrics are.
const INDEX: &[u8] = b"<html><head><title>sixfold</title></head>\
<body><a href=\"/metrics\">/metrics</a></body></html>\n";

fn serve(mut stream: TcpStream, loops: &Loops, per_subscriber: bool) -> io::Result<()> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let timeouts = stream.try_clone()?;
    let head = read_head(
        &mut stream,
        |d| timeouts.set_read_timeout(Some(d)),
        deadline,
    );
    let reply = match head {
        Err(ReadError::Closed) => return Ok(()),
        Err(ReadError::TimedOut) => plain(Status::RequestTimeout, "request timeout"),
        Err(ReadError::TooLarge) => plain(
            Status::HeadersTooLarge,
            &format!("a request is at most {MAX_REQUEST} bytes"),
        ),
        Ok(head) => match parse(&head) {
            Err(status) => plain(status, status.line()),
            Ok(asked) => answer(&asked, loops, per_subscriber),
        },
    };
    stream.write_all(&reply)?;
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// An error page: `status` and one line of text.
fn plain(status: Status, text: &str) -> Vec<u8> {
    response(
        status,
        "text/plain; charset=utf-8",
        format!("{text}\n").as_bytes(),
        false,
    )
}

/// The answer to a well-formed request.
fn answer(asked: &Asked, loops: &Loops, per_subscriber: bool) -> Vec<u8> {
    match asked.target {
        Target::Index => response(
            Status::Ok,
            "text/html; charset=utf-8",
            INDEX,
            asked.head_only,
        ),
        Target::Metrics => match loops.recent(MAX_AGE) {
            Ok(snapshot) => {
                let families = exposition::families(&snapshot, per_subscriber);
                let body = exposition::render(&families, asked.format);
                response(
                    Status::Ok,
                    asked.format.content_type(),
                    body.as_bytes(),
                    asked.head_only,
                )
            }
            Err(e) => plain(Status::NoAnswer, &e.to_string()),
        },
    }
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
                format: Format::OpenMetrics
            }
        );
        let plain = parsed("HEAD /metrics?x=1 HTTP/1.0\n\n").unwrap();
        assert_eq!((plain.head_only, plain.format), (true, Format::Prometheus));
        assert_eq!(
            parsed("GET / HTTP/1.1\r\n\r\n").unwrap().target,
            Target::Index
        );
        for (head, status) in [
            ("POST /metrics HTTP/1.1\r\n\r\n", Status::MethodNotAllowed),
            ("GET /other HTTP/1.1\r\n\r\n", Status::NotFound),
            ("GET /metrics HTTP/2.0\r\n\r\n", Status::VersionNotSupported),
            ("GET /metrics\r\n\r\n", Status::BadRequest),
            ("GET  /metrics HTTP/1.1\r\n\r\n", Status::BadRequest),
            ("GET metrics HTTP/1.1\r\n\r\n", Status::BadRequest),
            ("get /metrics HTTP/1.1\r\n\r\n", Status::BadRequest),
            (
                "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
                Status::BadRequest,
            ),
            (
                "GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n",
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
    fn heads_are_bounded_in_size_and_time() {
        let never = |_| Ok(());
        let far = Instant::now() + Duration::from_secs(60);
        let mut short: &[u8] = b"GET /metrics HTTP/1.1\r\n\r\nrest";
        assert_eq!(
            read_head(&mut short, never, far).unwrap(),
            b"GET /metrics HTTP/1.1\r\n\r\n"
        );
        let big = vec![b'a'; MAX_REQUEST + 2000];
        assert_eq!(
            read_head(&mut big.as_slice(), never, far),
            Err(ReadError::TooLarge)
        );
        let mut cut: &[u8] = b"GET /metrics HTTP/1.1\r\n";
        assert_eq!(read_head(&mut cut, never, far), Err(ReadError::Closed));
        let past = Instant::now();
        let mut any: &[u8] = b"GET";
        assert_eq!(read_head(&mut any, never, past), Err(ReadError::TimedOut));
    }

    #[test]
    fn responses_carry_length_and_close() {
        let r = response(Status::MethodNotAllowed, "text/plain", b"no\n", false);
        assert_eq!(
            r,
            b"HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\nAllow: GET, HEAD\r\n\r\nno\n"
        );
        let head = response(Status::Ok, "text/plain", b"body", true);
        assert!(head.ends_with(b"Content-Length: 4\r\nConnection: close\r\n\r\n"));
    }

    #[test]
    fn accepts_are_budgeted() {
        let mut b = AcceptBudget::new();
        for _ in 0..2 * ACCEPTS_PER_SECOND {
            assert_eq!(b.take(), Ok(()));
        }
        let wait = b.take().unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(51),
            "{wait:?}"
        );
    }
}
