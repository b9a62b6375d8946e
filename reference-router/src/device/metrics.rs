//! The metrics endpoint (`[metrics] listen`): `GET /metrics` over HTTP/1.x, in
//! the Prometheus text format or OpenMetrics as the `Accept` header asks
//! ([`crate::stats::exposition`]), from counters the packet loops publish
//! between bursts ([`Loops::recent`], at most one question per [`MAX_AGE`]);
//! HTTP as RFC 9112 asks (the `http` module).
//!
//! Whatever a client does, forwarding does not notice: the server is one thread
//! that polls every connection (the `conn` module: non-blocking, each with its own
//! deadlines), holds at most [`MAX_CLIENTS`] at once and accepts at most
//! [`ACCEPTS_PER_SECOND`] a second (beyond that they wait in the kernel's
//! backlog). Idle connections cost a slot, not a thread, and never the slot a
//! complete request needs: when every slot is taken, the one that has waited
//! longest for its request is closed first (a scraper sends its request at
//! once), and only if all are busy answering is a newcomer told `503`. A
//! request must be complete within [`REQUEST_TIMEOUT`] (`408`); its head is at
//! most [`MAX_REQUEST`] bytes (`431`), its body at most [`MAX_BODY`] (read and
//! discarded; `413` above); an answer the client does not read within
//! [`WRITE_TIMEOUT`] is dropped. One request per connection, then a lingering
//! close so the answer arrives whole. Answers to one snapshot are rendered once.

mod conn;
mod http;

pub use conn::LINGER;
pub use http::{MAX_BODY, MAX_REQUEST};

use super::loops::Loops;
use crate::Snapshot;
use crate::config::Metrics;
use crate::stats::exposition::{self, Format};
use conn::{Conn, Reply};
use http::{Asked, Status, Target};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Connections held at once (reading, answered, or closing).
pub const MAX_CLIENTS: usize = 128;
/// Connections accepted per second, at most (bursts of twice that).
pub const ACCEPTS_PER_SECOND: u32 = 100;
/// How long a client may take to send its whole request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a client may take to read its answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The oldest counters a scrape is answered with.
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// The longest the server sleeps in one poll: how soon it sees a stop.
const TICK: Duration = Duration::from_millis(50);

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

    /// How long until there is a token (zero: there is one).
    fn wait(&mut self) -> Duration {
        let now = Instant::now();
        let rate = f64::from(ACCEPTS_PER_SECOND);
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * rate).min(2.0 * rate);
        self.at = now;
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / rate)
        }
    }

    /// Takes a token, or says how long until there is one.
    fn take(&mut self) -> Result<(), Duration> {
        match self.wait() {
            Duration::ZERO => {
                self.tokens -= 1.0;
                Ok(())
            }
            wait => Err(wait),
        }
    }
}

/// The server's one thread: polls the listener (while the accept budget has a
/// token) and every connection, and keeps each to its deadlines.
fn accept_loop(
    listener: &TcpListener,
    loops: &Arc<Loops>,
    per_subscriber: bool,
    stop: &AtomicBool,
) {
    let mut conns: Vec<Conn> = Vec::new();
    let mut budget = AcceptBudget::new();
    let mut cache = Rendered::default();
    let mut answer = |asked: &Asked| reply(asked, loops, per_subscriber, &mut cache);
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let until_token = budget.wait();
        let accepting = until_token.is_zero();
        let wait = conns
            .iter()
            .map(|c| c.due().saturating_duration_since(now))
            .fold(
                if accepting {
                    TICK
                } else {
                    until_token.min(TICK)
                },
                Duration::min,
            );
        let events = match wait_for(listener, accepting, &conns, wait) {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "metrics endpoint poll failed");
                std::thread::sleep(TICK);
                continue;
            }
        };
        let now = Instant::now();
        for (c, &ev) in conns.iter_mut().zip(&events[1..]) {
            if !ev.is_empty() {
                c.on_event(ev, now, &mut answer);
            }
            c.on_time(now);
        }
        conns.retain(|c| !c.is_done());
        if accepting && !events[0].is_empty() {
            accept_all(listener, &mut conns, &mut budget, now);
        }
    }
}

/// Polls the listener (if `accepting`) and `conns` for up to `wait`: the events
/// of each, the listener's first.
fn wait_for(
    listener: &TcpListener,
    accepting: bool,
    conns: &[Conn],
    wait: Duration,
) -> io::Result<Vec<PollFlags>> {
    let listen = if accepting {
        PollFlags::POLLIN
    } else {
        PollFlags::empty()
    };
    let mut fds = Vec::with_capacity(conns.len() + 1);
    fds.push(PollFd::new(listener.as_fd(), listen));
    fds.extend(
        conns
            .iter()
            .map(|c| PollFd::new(c.stream().as_fd(), c.interest())),
    );
    let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, timeout) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(fds
        .iter()
        .map(|f| f.revents().unwrap_or(PollFlags::empty()))
        .collect())
}

/// Accepts what waits, while the budget lasts.
fn accept_all(
    listener: &TcpListener,
    conns: &mut Vec<Conn>,
    budget: &mut AcceptBudget,
    now: Instant,
) {
    while budget.take().is_ok() {
        match listener.accept() {
            Ok((stream, _)) => admit(conns, stream, now),
            Err(e) => {
                budget.tokens += 1.0; // not spent
                if e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted {
                    tracing::warn!(error = %e, "metrics endpoint accept failed");
                }
                return;
            }
        }
    }
}

/// Takes `stream` in. With every slot taken, a connection already answered
/// and closing gives way first, else the one that has waited longest for its
/// request; if every one is busy answering, the newcomer is told 503.
fn admit(conns: &mut Vec<Conn>, stream: TcpStream, now: Instant) {
    if conns.len() >= MAX_CLIENTS {
        let evict = conns.iter().position(Conn::is_draining).or_else(|| {
            conns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_reading())
                .min_by_key(|(_, c)| c.accepted)
                .map(|(i, _)| i)
        });
        match evict {
            Some(i) => {
                conns.swap_remove(i);
            }
            None => {
                let _ = stream.set_nonblocking(true);
                let _ = (&stream).write_all(&http::plain(Status::Busy, "busy: too many clients"));
                return;
            }
        }
    }
    match Conn::new(stream, now) {
        Ok(c) => conns.push(c),
        Err(e) => tracing::debug!(error = %e, "metrics client"),
    }
}

/// The last rendered answer: for one snapshot and format, rendered once
/// however many clients ask.
#[derive(Default)]
struct Rendered {
    last: Option<(Arc<Snapshot>, Format, Arc<[u8]>)>,
}

impl Rendered {
    fn body(&mut self, snapshot: Arc<Snapshot>, format: Format, per_subscriber: bool) -> Arc<[u8]> {
        if let Some((s, f, body)) = &self.last
            && Arc::ptr_eq(s, &snapshot)
            && *f == format
        {
            return Arc::clone(body);
        }
        let families = exposition::families(&snapshot, per_subscriber);
        let body: Arc<[u8]> = Arc::from(exposition::render(&families, format).into_bytes());
        self.last = Some((snapshot, format, Arc::clone(&body)));
        body
    }
}

/// The landing page: where the metrics are.
const INDEX: &[u8] = b"<html><head><title>sixfold</title></head>\
<body><a href=\"/metrics\">/metrics</a></body></html>\n";

/// The answer to a well-formed request.
fn reply(asked: &Asked, loops: &Loops, per_subscriber: bool, cache: &mut Rendered) -> Reply {
    let (content_type, body): (&str, Arc<[u8]>) = match asked.target {
        Target::Index => ("text/html; charset=utf-8", Arc::from(INDEX)),
        Target::Metrics => match loops.recent(MAX_AGE) {
            Ok(snapshot) => (
                asked.format.content_type(),
                cache.body(snapshot, asked.format, per_subscriber),
            ),
            Err(e) => return Reply::whole(http::plain(Status::NoAnswer, &e.to_string())),
        },
    };
    Reply {
        head: http::head(Status::Ok, content_type, body.len()),
        body: if asked.head_only {
            Arc::from(&[][..])
        } else {
            body
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_are_budgeted() {
        let mut b = AcceptBudget::new();
        for _ in 0..2 * ACCEPTS_PER_SECOND {
            assert_eq!(b.take(), Ok(()));
        }
        let wait = b.take().unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(11),
            "{wait:?}"
        );
    }
}
