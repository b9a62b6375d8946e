//! One client of the metrics endpoint, driven by readiness: a non-blocking
//! socket the server's one thread polls with the others. The request head is
//! read within [`REQUEST_TIMEOUT`] of the connection, a body read and
//! discarded, the answer written within [`WRITE_TIMEOUT`], then a lingering
//! close (RFC 9112 §9.6): the sending side shut, input read and dropped until
//! the client closes or [`LINGER`] passes — so the kernel never resets the
//! connection, with unread input, under an answer still on its way. Input that
//! comes while the answer is written (a body too large, a pipelined request)
//! is dropped too.

use super::http::{self, Asked, MAX_REQUEST, Status};
use super::{REQUEST_TIMEOUT, WRITE_TIMEOUT};
use nix::poll::PollFlags;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a closing connection's input is read and dropped, at most.
pub const LINGER: Duration = Duration::from_secs(2);
/// Reads per readiness event: a fast sender cannot hold the thread.
const READS_PER_EVENT: usize = 16;

/// An answer: its head, and a body that clients asking the same share.
pub(super) struct Reply {
    pub(super) head: Vec<u8>,
    pub(super) body: Arc<[u8]>,
}

impl Reply {
    /// A whole answer in one piece.
    pub(super) fn whole(bytes: Vec<u8>) -> Reply {
        Reply {
            head: bytes,
            body: Arc::from(&[][..]),
        }
    }

    fn len(&self) -> usize {
        self.head.len() + self.body.len()
    }

    /// The bytes from `at` on, up to the end of the part `at` is in.
    fn from(&self, at: usize) -> &[u8] {
        match at.checked_sub(self.head.len()) {
            None => &self.head[at..],
            Some(b) => &self.body[b..],
        }
    }
}

enum Phase {
    /// Reading the request line and headers.
    Head,
    /// Reading and discarding `left` bytes of body.
    Body {
        left: usize,
        asked: Asked,
    },
    /// Writing the answer, by `until`.
    Write {
        reply: Reply,
        at: usize,
        until: Instant,
    },
    /// Answer sent, sending side shut: dropping input until `until`.
    Drain {
        until: Instant,
    },
    Done,
}

pub(super) struct Conn {
    stream: TcpStream,
    phase: Phase,
    head: Vec<u8>,
    /// The whole request must have come by then.
    deadline: Instant,
    /// The client shut its sending side.
    eof: bool,
    pub(super) accepted: Instant,
}

impl Conn {
    /// A connection accepted at `now`.
    pub(super) fn new(stream: TcpStream, now: Instant) -> io::Result<Conn> {
        stream.set_nonblocking(true)?;
        Ok(Conn {
            stream,
            phase: Phase::Head,
            head: Vec::with_capacity(512),
            deadline: now + REQUEST_TIMEOUT,
            eof: false,
            accepted: now,
        })
    }

    pub(super) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// What to poll it for.
    pub(super) fn interest(&self) -> PollFlags {
        match self.phase {
            Phase::Write { .. } if self.eof => PollFlags::POLLOUT,
            Phase::Write { .. } => PollFlags::POLLOUT | PollFlags::POLLIN,
            Phase::Done => PollFlags::empty(),
            _ => PollFlags::POLLIN,
        }
    }

    /// Still reading its request: what a full server closes first.
    pub(super) fn is_reading(&self) -> bool {
        matches!(self.phase, Phase::Head | Phase::Body { .. })
    }

    pub(super) fn is_draining(&self) -> bool {
        matches!(self.phase, Phase::Drain { .. })
    }

    pub(super) fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// When it next needs the clock.
    pub(super) fn due(&self) -> Instant {
        match self.phase {
            Phase::Write { until, .. } | Phase::Drain { until } => until,
            _ => self.deadline,
        }
    }

    /// Readiness `events` at `now`; `answer` makes the answer to a request.
    pub(super) fn on_event(
        &mut self,
        events: PollFlags,
        now: Instant,
        answer: &mut dyn FnMut(&Asked) -> Reply,
    ) {
        let input = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
        if events.intersects(input) && !self.eof {
            self.read(now, answer);
        }
        if events.intersects(PollFlags::POLLOUT | PollFlags::POLLERR) {
            self.write(now);
        }
    }

    /// What the clock asks at `now`: a request late in coming gets 408; an
    /// answer not taken in time, or a linger over, ends the connection.
    pub(super) fn on_time(&mut self, now: Instant) {
        match self.phase {
            Phase::Head | Phase::Body { .. } if now >= self.deadline => {
                let timeout = http::plain(Status::RequestTimeout, "request timeout");
                self.respond(Reply::whole(timeout), now);
            }
            Phase::Write { until, .. } | Phase::Drain { until } if now >= until => {
                self.phase = Phase::Done;
            }
            _ => {}
        }
    }

    fn read(&mut self, now: Instant, answer: &mut dyn FnMut(&Asked) -> Reply) {
        let mut chunk = [0u8; 4096];
        for _ in 0..READS_PER_EVENT {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    if !matches!(self.phase, Phase::Write { .. }) {
                        self.phase = Phase::Done;
                    }
                    return;
                }
                Ok(n) => self.take(&chunk[..n], now, answer),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.phase = Phase::Done;
                    return;
                }
            }
            if self.is_done() {
                return;
            }
        }
    }

    /// `bytes` read in the current phase.
    fn take(&mut self, bytes: &[u8], now: Instant, answer: &mut dyn FnMut(&Asked) -> Reply) {
        match &mut self.phase {
            Phase::Head => {
                let from = self.head.len().saturating_sub(3);
                self.head.extend_from_slice(bytes);
                let Some(end) = http::find_end(&self.head[from..]).map(|e| from + e) else {
                    if self.head.len() > MAX_REQUEST {
                        let text = format!("a request head is at most {MAX_REQUEST} bytes");
                        self.respond(
                            Reply::whole(http::plain(Status::HeadersTooLarge, &text)),
                            now,
                        );
                    }
                    return;
                };
                let after = self.head.len() - end;
                let parsed = http::parse(&self.head[..end]);
                self.head = Vec::new();
                match parsed {
                    Ok(asked) if asked.body > after => {
                        let left = asked.body - after;
                        self.phase = Phase::Body { left, asked };
                    }
                    Ok(asked) => self.respond(answer(&asked), now),
                    Err(status) => {
                        self.respond(Reply::whole(http::plain(status, status.line())), now)
                    }
                }
            }
            Phase::Body { left, asked } => {
                *left = left.saturating_sub(bytes.len());
                if *left == 0 {
                    let reply = answer(asked);
                    self.respond(reply, now);
                }
            }
            // A body too large to read, a pipelined request, bytes after the
            // answer: dropped.
            _ => {}
        }
    }

    fn respond(&mut self, reply: Reply, now: Instant) {
        self.phase = Phase::Write {
            reply,
            at: 0,
            until: now + WRITE_TIMEOUT,
        };
        self.write(now);
    }

    fn write(&mut self, now: Instant) {
        let Phase::Write { reply, at, .. } = &mut self.phase else {
            return;
        };
        while *at < reply.len() {
            match self.stream.write(reply.from(*at)) {
                Ok(0) => {
                    self.phase = Phase::Done;
                    return;
                }
                Ok(n) => *at += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.phase = Phase::Done;
                    return;
                }
            }
        }
        let _ = self.stream.shutdown(Shutdown::Write);
        self.phase = if self.eof {
            Phase::Done
        } else {
            Phase::Drain {
                until: now + LINGER,
            }
        };
    }
}
