//! How the servers off the data path (the control socket, the metrics endpoint)
//! ask the packet loops: a bounded question on a channel and a wake-up byte,
//! answered between bursts, never waited on by the loop.
//!
//! Counters are asked of every loop and merged ([`Loops::snapshot`]); readers
//! that may come often — a scraper, or a hostile client posing as one — take
//! [`Loops::recent`], which asks at most once per its age limit however many
//! readers there are, so the loops' cost does not grow with the clients.

use super::tun::Devices;
use crate::ipfix::Record;
use crate::{ConfigError, Reload, Snapshot};
use sixfold_rewrite::IpProtocol;
use std::io::Write;
use std::net::SocketAddrV4;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
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
    /// A reload: check it, answer, and apply it if every worker can.
    Reload(ReloadAsk),
    /// A handover: let go of the exporter, answer with the state, wait for
    /// the decision.
    Handover(HandoverAsk),
    /// Sleep this long (a stuck worker, for the watchdog's test; only built
    /// with the `test-hooks` feature).
    #[cfg(feature = "test-hooks")]
    Stall(Duration),
}

/// A reload the supervisor prepared: the plan, the devices after it (new
/// TUNs already open), and the exporter's channel after it (`None`: the
/// exporter stays).
pub struct Prepared {
    /// The plan every worker applies.
    pub reload: Reload,
    /// The devices every worker uses after it.
    pub devices: Arc<Devices>,
    /// The new exporter's channel, if the export changes.
    pub exporter: Option<Option<SyncSender<Record>>>,
}

/// One worker's part in a reload: where it answers with what its state
/// refuses, where the decision comes, where it says it applied.
pub struct ReloadAsk {
    /// The reload.
    pub prepared: Arc<Prepared>,
    /// The worker's index and its refusals.
    pub answer: SyncSender<(u16, Vec<ConfigError>)>,
    /// Apply (true) or not.
    pub decision: Receiver<bool>,
    /// The worker's index once it applied.
    pub done: SyncSender<u16>,
}

/// One worker's part in a handover to a new process.
pub struct HandoverAsk {
    /// What the worker saved.
    pub answer: SyncSender<Saved>,
    /// What happens next.
    pub decision: Receiver<AfterHandover>,
}

/// One worker's part of a state.
pub struct Saved {
    /// The worker's index.
    pub index: u16,
    /// Its state ([`crate::Router::save_state`]).
    pub state: Vec<u8>,
    /// The shared shapers' state (worker 0 only; [`crate::Router::save_shapers`]).
    pub shapers: Vec<u8>,
    /// The IPv4 fragment table's datagrams (dropped by the handover).
    pub fragments: u64,
}

/// How a handover ended, for a worker.
pub enum AfterHandover {
    /// The new process runs: stop, releasing nothing.
    Exit,
    /// It did not: go on, exporting through this channel.
    Resume(Option<SyncSender<Record>>),
}

/// What the control server asks the supervisor (not a packet loop).
pub enum Ask {
    /// Hand over to the binary at this path (none: the one the router was
    /// started from); the answer is the control socket's text.
    Upgrade(Option<PathBuf>, SyncSender<String>),
    /// Reload from this file (none: the one the router runs from); the
    /// answer is the control socket's text.
    Reload(Option<PathBuf>, SyncSender<String>),
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

    /// Puts `request` in the loop's queue and wakes it; false if the queue
    /// is full.
    pub(super) fn put(&self, request: Request) -> bool {
        if self.requests.try_send(request).is_err() {
            return false;
        }
        let _ = (&*self.wake).write(&[1]);
        true
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
    /// Where questions for the supervisor go (reloads).
    supervisor: Option<SyncSender<Ask>>,
    /// This process: pid, start, upgrades.
    process: Mutex<crate::stats::Process>,
    /// An upgrade is under way.
    upgrading: std::sync::atomic::AtomicBool,
    /// Takeover datagrams a full worker queue refused.
    feed_dropped: Option<Arc<AtomicU64>>,
}

impl Loops {
    /// The loops behind `handles`.
    pub fn new(handles: Vec<OutboxHandle>) -> Loops {
        Loops {
            loops: handles,
            last: Mutex::new(None),
            export_unsent: None,
            supervisor: None,
            process: Mutex::new(crate::stats::Process::default()),
            upgrading: std::sync::atomic::AtomicBool::new(false),
            feed_dropped: None,
        }
    }

    /// Asks the supervisor to hand over to `binary` and waits for its answer
    /// (a handover takes at most about 30 s, refused or not).
    pub fn upgrade(&self, binary: Option<PathBuf>) -> Result<String, NoAnswer> {
        let supervisor = self.supervisor.as_ref().ok_or(NoAnswer)?;
        if self.upgrading.swap(true, Ordering::AcqRel) {
            return Ok("refused an upgrade is under way: one at a time".into());
        }
        let answer = self.ask_upgrade(supervisor, binary);
        // Refused: another may come. Done: this process ends.
        self.upgrading.store(false, Ordering::Release);
        answer
    }

    fn ask_upgrade(
        &self,
        supervisor: &SyncSender<Ask>,
        binary: Option<PathBuf>,
    ) -> Result<String, NoAnswer> {
        let (tx, rx) = mpsc::sync_channel(1);
        supervisor
            .try_send(Ask::Upgrade(binary, tx))
            .map_err(|_| NoAnswer)?;
        rx.recv_timeout(Duration::from_secs(60))
            .map_err(|_| NoAnswer)
    }

    /// This process, for the snapshot's `process` (the supervisor sets it).
    pub fn set_process(&self, process: crate::stats::Process) {
        *self.process.lock().unwrap_or_else(|p| p.into_inner()) = process;
    }

    /// Sends reloads to `supervisor`.
    pub fn with_supervisor(mut self, supervisor: SyncSender<Ask>) -> Loops {
        self.supervisor = Some(supervisor);
        self
    }

    /// Each loop's handle.
    pub(super) fn handles(&self) -> &[OutboxHandle] {
        &self.loops
    }

    /// Asks the supervisor to reload from `path` (none: the file the router
    /// runs from) and waits for its answer; a reload takes at most about
    /// 5 s past its checks.
    pub fn reload(&self, path: Option<PathBuf>) -> Result<String, NoAnswer> {
        let supervisor = self.supervisor.as_ref().ok_or(NoAnswer)?;
        let (tx, rx) = mpsc::sync_channel(1);
        supervisor
            .try_send(Ask::Reload(path, tx))
            .map_err(|_| NoAnswer)?;
        rx.recv_timeout(Duration::from_secs(30))
            .map_err(|_| NoAnswer)
    }

    /// Makes worker `worker` sleep `how_long` between two bursts (a stuck
    /// worker, for the watchdog's test); false if there is no such worker.
    #[cfg(feature = "test-hooks")]
    pub fn stall(&self, worker: usize, how_long: Duration) -> bool {
        self.loops
            .get(worker)
            .is_some_and(|l| l.put(Request::Stall(how_long)))
    }

    /// Adds the exporter's count of refused messages to every snapshot.
    pub fn with_export_unsent(mut self, unsent: Option<Arc<AtomicU64>>) -> Loops {
        self.export_unsent = unsent;
        self
    }

    /// Adds the takeover listener's count of dropped datagrams to every
    /// snapshot.
    pub fn with_feed_dropped(mut self, dropped: Arc<AtomicU64>) -> Loops {
        self.feed_dropped = Some(dropped);
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
        s.process = self
            .process
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(n) = &self.feed_dropped {
            s.takeover.feed_dropped = n.load(Ordering::Relaxed);
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
