//! How the servers off the data path (the control socket, the metrics endpoint)
//! ask the packet loops: a bounded question on a channel and a wake-up byte,
//! answered between bursts, never waited on by the loop.
//!
//! Counters are asked of every loop and merged ([`Loops::snapshot`]); readers
//! that may come often — a scraper, or a hostile client posing as one — take
//! [`Loops::recent`], which asks at most once per its age limit however many
//! readers there are, so the loops' cost does not grow with the clients.

use crate::Snapshot;
use sixfold_rewrite::IpProtocol;
use std::io::Write;
use std::net::SocketAddrV4;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a reader waits for a packet loop to answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// A question for the packet loop, with where to send the answer.
pub enum Request {
    /// The counters.
    Snapshot(SyncSender<Snapshot>),
    /// The external endpoint of an inside endpoint.
    Mapping(IpProtocol, SocketAddrV4, SyncSender<Option<SocketAddrV4>>),
}

/// A reader's handle on one packet loop: where to put questions, and how to
/// wake the loop.
#[derive(Clone)]
pub struct OutboxHandle {
    requests: SyncSender<Request>,
    wake: Arc<UnixStream>,
}

impl OutboxHandle {
    /// A handle that asks through `requests` and wakes the loop by writing to
    /// `wake` (a socket the loop polls).
    pub fn new(requests: SyncSender<Request>, wake: Arc<UnixStream>) -> OutboxHandle {
        OutboxHandle { requests, wake }
    }

    /// Asks the loop and waits (bounded) for its answer; none if the loop's
    /// queue is full or it did not answer in [`ANSWER_TIMEOUT`].
    fn ask<T>(&self, make: impl FnOnce(SyncSender<T>) -> Request) -> Option<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.requests.try_send(make(tx)).ok()?;
        let _ = (&*self.wake).write(&[1]);
        rx.recv_timeout(ANSWER_TIMEOUT).ok()
    }
}

/// A packet loop did not answer in [`ANSWER_TIMEOUT`] (or its queue was full).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoAnswer;

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the router did not answer in time")
    }
}

impl std::error::Error for NoAnswer {}

/// Every packet loop of one router, as the servers see them.
pub struct Loops {
    loops: Vec<OutboxHandle>,
    last: Mutex<Option<(Instant, Arc<Snapshot>)>>,
    /// The IPFIX exporter's refused messages, when exporting.
    export_unsent: Option<Arc<AtomicU64>>,
}

impl Loops {
    /// The loops behind `handles`.
    pub fn new(handles: Vec<OutboxHandle>) -> Loops {
        Loops {
            loops: handles,
            last: Mutex::new(None),
            export_unsent: None,
        }
    }

    /// Adds the exporter's count of refused messages to every snapshot.
    pub fn with_export_unsent(mut self, unsent: Option<Arc<AtomicU64>>) -> Loops {
        self.export_unsent = unsent;
        self
    }

    /// Every loop's counters now, merged.
    pub fn snapshot(&self) -> Result<Snapshot, NoAnswer> {
        let mut merged: Option<Snapshot> = None;
        for l in &self.loops {
            let s = l.ask(Request::Snapshot).ok_or(NoAnswer)?;
            match &mut merged {
                Some(m) => m.merge(&s),
                None => merged = Some(s),
            }
        }
        let mut s = merged.unwrap_or_default();
        if let Some(n) = &self.export_unsent {
            s.ipfix.messages_unsent = n.load(Ordering::Relaxed);
        }
        Ok(s)
    }

    /// Counters at most `max_age` old: the last ones asked for if young enough,
    /// else asked now. Readers arriving together wait for one question.
    pub fn recent(&self, max_age: Duration) -> Result<Arc<Snapshot>, NoAnswer> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, s)) = &*last
            && at.elapsed() <= max_age
        {
            return Ok(Arc::clone(s));
        }
        let fresh = Arc::new(self.snapshot()?);
        *last = Some((Instant::now(), Arc::clone(&fresh)));
        Ok(fresh)
    }

    /// The external endpoint of `inside` for `protocol`, if a loop has one.
    pub fn mapping(
        &self,
        protocol: IpProtocol,
        inside: SocketAddrV4,
    ) -> Result<Option<SocketAddrV4>, NoAnswer> {
        let mut found = None;
        for l in &self.loops {
            match l.ask(|tx| Request::Mapping(protocol, inside, tx)) {
                Some(Some(e)) => found = Some(e),
                Some(None) => {}
                None => return Err(NoAnswer),
            }
        }
        Ok(found)
    }
}
