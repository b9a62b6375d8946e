//! The packet loops: one worker thread per [`Shard`], each with its own queue on
//! the uplink and the TUNs of the subscribers it owns.
//!
//! A range's TUN has a queue per worker too: a packet read there is classified
//! to its subscriber by its source address ([`Router::classify_range`]) and
//! handed, with that direction, to the subscriber's owner if another worker
//! read it, so per-subscriber limits, EIM and paired pooling stay exact.
//! Announce routes the router reports are applied between bursts.
//!
//! A worker `poll(2)`s its devices and its mailbox, then reads each ready device
//! until it would block or [`BURST`] packets are done, taking the clock once per
//! burst; each packet goes through its [`Router`] and straight out of the egress
//! device — with offload, header and super-packet in one `write`, never cut in
//! software unless the egress TUN takes no offload. A worker sleeps in `poll`
//! only when its last round drained every device (a burst stopped at [`BURST`]
//! means more is waiting: the next poll only looks), reads the wake-up socket
//! only when poll says it holds bytes, and builds its poll set once per set of
//! devices, not per round. `datapath.wakeups`, `packets_read`,
//! `super_packets_whole` and `super_packets_segmented` count these mechanisms;
//! the tests beside this file hold them on real TUNs. No lock is taken per
//! packet: each worker owns its router and its queues (a shaped or fragmented
//! packet excepted: shapers and reassembly are shared). A packet that
//! belongs to another worker ([`Router::steer`]: it came in on the wrong uplink
//! queue, or a hairpin reached a port another worker owns) moves to that
//! worker's bounded hand-off channel in the buffer it was read into, and the
//! worker is woken only if it sleeps. Buffers circulate: one whose packet was
//! handed here goes back to the worker that read it once this worker's own
//! spares are full ([`Doorbell::give_back`]), so where one worker reads what
//! another owns (a range's TUN queue, whose flows the kernel spreads over the
//! workers) nothing is allocated or freed per packet once the pools are warm —
//! a packet buffer is 64 KiB, above the allocator's mmap threshold
//! (`super::allocator`), and was an `mmap` and an `munmap` per hand-off. The
//! kernel helps: it learns which uplink queue a flow was written on and reads
//! its replies to the same one.
//!
//! Questions from the control server are answered between bursts; a worker never
//! waits for a control client. A reload is one of them: the worker checks it,
//! answers, and waits (bounded) for every worker's answer before it applies
//! it or not ([`Worker::reload`]), so all workers switch between the same two
//! bursts' worth of packets and never run different configurations.
//!
//! Stopping is two steps: [`Worker::run_until`] returns between bursts, and
//! [`Worker::release`] then ends and logs what the router holds and
//! withdraws its announce routes. A handover to a new process would take the
//! first step only.

mod batched;
mod ending;
mod spares;
mod write;

use write::{one_write, send, write_failed};

use super::batch::{self, Batch};
use super::loops::{ReloadAsk, Request};
use super::sources::{Source, readable, source_queue, sources};
use super::tun::{Devices, Queue};
use crate::iface::Direction;
use crate::ipfix::Record;
use crate::{DropReason, PacketBuf, Router, Verdict};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// Packets read from one device before the loop looks at the others.
pub const BURST: usize = 64;
// A burst's reads fit one batch call.
const _: () = assert!(batch::ENTRIES >= BURST);

/// Packets waiting in one worker's hand-off channel at most.
const HANDOFF_CAPACITY: usize = 1024;
/// Spare buffers a worker keeps.
const POOL: usize = 256;
/// How long a worker that answered a reload waits for the decision.
pub(super) const DECISION_TIMEOUT: Duration = Duration::from_secs(5);
/// Sessions ended per call while a stopping router releases what it holds.
const RELEASE_BUDGET: usize = 4096;

/// A packet from another worker: read on a queue that worker serves (steered,
/// with the direction it came from: not yet processed), or hairpinned there on
/// its way out (translated once, taken in without a second TTL decrement).
struct Handed {
    buf: PacketBuf,
    how: How,
    /// The worker that read it, where the buffer goes back.
    from: u16,
}

/// How a handed packet goes on.
#[derive(Clone, Copy)]
enum How {
    /// Read by another worker: process it as from this direction.
    Steered(Direction),
    /// A hairpin on its way back in ([`Router::process_handoff`]).
    Hairpin,
}

/// Everything that can wake a worker.
pub(super) struct Mailbox {
    pub(super) requests: Receiver<Request>,
    handoffs: Receiver<Handed>,
    /// Buffers of packets this worker handed off, given back.
    returns: Receiver<PacketBuf>,
    wake: UnixStream,
    sleeping: Arc<AtomicBool>,
    pending: Arc<AtomicUsize>,
}

/// How others reach a worker: its hand-off channel and its wake-up socket.
#[derive(Clone)]
pub(super) struct Doorbell {
    handoffs: SyncSender<Handed>,
    returns: SyncSender<PacketBuf>,
    pub(super) wake: Arc<UnixStream>,
    sleeping: Arc<AtomicBool>,
    pending: Arc<AtomicUsize>,
}

/// A worker's mailbox, its doorbell, and where the control server puts questions.
pub(super) fn mailbox() -> io::Result<(Mailbox, Doorbell, SyncSender<Request>)> {
    let (requests_tx, requests) = mpsc::sync_channel(16);
    let (handoffs_tx, handoffs) = mpsc::sync_channel(HANDOFF_CAPACITY);
    // As many as can be in flight to another worker: where that worker is
    // overloaded its channel fills, and when it drains every buffer must
    // have a way back, or the reader makes new ones as the channel fills
    // again (an mmap and an munmap per packet, when CPU is scarcest).
    let (returns_tx, returns) = mpsc::sync_channel(HANDOFF_CAPACITY);
    let (wake_tx, wake) = UnixStream::pair()?;
    wake.set_nonblocking(true)?;
    wake_tx.set_nonblocking(true)?;
    let sleeping = Arc::new(AtomicBool::new(false));
    let pending = Arc::new(AtomicUsize::new(0));
    Ok((
        Mailbox {
            requests,
            handoffs,
            returns,
            wake,
            sleeping: Arc::clone(&sleeping),
            pending: Arc::clone(&pending),
        },
        Doorbell {
            handoffs: handoffs_tx,
            returns: returns_tx,
            wake: Arc::new(wake_tx),
            sleeping,
            pending,
        },
        requests_tx,
    ))
}

impl Doorbell {
    /// Hands `buf` over; gives it back if the channel is full.
    fn hand(&self, buf: Handed) -> Result<(), Handed> {
        match self.handoffs.try_send(buf) {
            Ok(()) => {
                self.pending.fetch_add(1, Ordering::SeqCst);
                // Woken only if asleep: the worker checks `pending` after saying so.
                if self.sleeping.load(Ordering::SeqCst) {
                    let _ = (&*self.wake).write(&[1]);
                }
                Ok(())
            }
            Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) => Err(b),
        }
    }

    /// Packets handed to this worker that it has not taken yet.
    fn in_flight(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Gives back the buffer of a packet this worker handed off; dropped if
    /// it holds [`HANDOFF_CAPACITY`] given back already. No wake-up: the
    /// worker takes them when its spares run out.
    fn give_back(&self, buf: PacketBuf) {
        let _ = self.returns.try_send(buf);
    }
}

/// One worker: its router, mailbox, the other workers' doorbells, spare
/// buffers, its devices.
pub(super) struct Worker {
    pub(super) router: Router,
    pub(super) mailbox: Mailbox,
    pub(super) peers: Vec<Doorbell>,
    pool: Vec<PacketBuf>,
    /// Packet buffers it made for hand-offs (none once buffers circulate).
    buffers_made: u64,
    /// The IPFIX exporter's channel, when exporting.
    exporter: Option<SyncSender<Record>>,
    /// The takeover listener's datagrams (`[takeover] listen`).
    feed: Option<std::sync::mpsc::Receiver<super::feed::Datagram>>,
    /// The devices it reads and writes (a reload brings the next).
    devices: Arc<Devices>,
    /// Where it reads: the uplink, its subscribers' TUNs, the ranges'.
    owned: Vec<Source>,
    /// Its loop's turns, counted: the watchdog's sign of life.
    heartbeat: Arc<AtomicU64>,
    /// A new process took over: the loop ends, and nothing is released.
    handed_over: bool,
    /// Its sessions in the in-kernel fast path.
    #[cfg(feature = "fastpath")]
    fast: Option<super::fastpath::sync::FastFlows>,
    /// A burst's reads and writes in one system call each; `None` where
    /// io_uring is missing (a packet per call, as before).
    batch: Option<Batch>,
    /// Per source it reads (as `owned`): how many reads the next batch
    /// tries, doubled while batches come back full, down to twice what the
    /// last brought (a quiet queue is not tried 64 times per wake-up).
    want: Vec<usize>,
}

impl Worker {
    pub(super) fn new(
        router: Router,
        mailbox: Mailbox,
        peers: Vec<Doorbell>,
        devices: Arc<Devices>,
    ) -> Worker {
        let owned = sources(&devices, router.shard());
        #[cfg(feature = "fastpath")]
        let fast = devices
            .fastpath
            .clone()
            .map(|f| super::fastpath::sync::FastFlows::new(f, router.shard().index));
        Worker {
            #[cfg(feature = "fastpath")]
            fast,
            router,
            mailbox,
            peers,
            pool: Vec::new(),
            buffers_made: 0,
            exporter: None,
            feed: None,
            devices,
            owned,
            heartbeat: Arc::new(AtomicU64::new(0)),
            handed_over: false,
            batch: match Batch::new() {
                Ok(b) => Some(b),
                Err(e) => {
                    tracing::warn!(error = %e, "no io_uring: a system call per packet read or written");
                    None
                }
            },
            want: Vec::new(),
        }
    }

    /// Whether a new process took over (its router's state is there now).
    pub(super) fn handed_over(&self) -> bool {
        self.handed_over
    }

    /// The count of its loop's turns, as it grows.
    pub(super) fn heartbeat(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.heartbeat)
    }

    /// Hands IPFIX records to `exporter`.
    pub(super) fn export_to(&mut self, exporter: Option<SyncSender<Record>>) {
        self.exporter = exporter;
    }

    /// Takes the takeover listener's datagrams from `feed`.
    pub(super) fn feed_from(&mut self, feed: std::sync::mpsc::Receiver<super::feed::Datagram>) {
        self.feed = Some(feed);
    }

    /// The router's IPFIX records to the exporter; a full channel drops them
    /// (counted), the worker never waits.
    fn export(&mut self) {
        let Some(tx) = &self.exporter else {
            return;
        };
        while let Some(r) = self.router.poll_ipfix() {
            if tx.try_send(r).is_err() {
                self.router.count_ipfix_drop();
            }
        }
    }

    /// A reload asked between bursts: checked against this worker's state,
    /// answered, then applied if every worker said yes (the decision comes
    /// within [`DECISION_TIMEOUT`], or it is no).
    fn reload(&mut self, ask: ReloadAsk) {
        let index = self.router.shard().index;
        let refusals = self.router.check_reload(&ask.prepared.reload);
        if ask.answer.send((index, refusals)).is_err() {
            return;
        }
        if !ask.decision.recv_timeout(DECISION_TIMEOUT).unwrap_or(false) {
            return;
        }
        // What the old configuration logged goes to the old exporter.
        self.export();
        let p = &ask.prepared;
        self.router.apply_reload(&p.reload, Instant::now());
        self.devices = Arc::clone(&p.devices);
        self.owned = sources(&self.devices, self.router.shard());
        self.router.set_offload(&self.devices.datapath);
        if let Some(sender) = &p.exporter {
            self.exporter = sender.clone();
        }
        let _ = ask.done.send(index);
    }
}

/// Reads one packet from `q` into `buf`: `Ok(false)` when there is none.
fn recv(q: &Queue, buf: &mut PacketBuf, router: &mut Router) -> io::Result<bool> {
    loop {
        router.count_io_calls(1);
        let read = if q.offload {
            q.dev.recv(buf.io_mut())
        } else {
            q.dev.recv(buf.storage_mut())
        };
        match read {
            Ok(n) if q.offload => {
                if buf.set_io_len(n).is_err() {
                    // A virtio-net header the router cannot act on.
                    router.count_drop(DropReason::Malformed);
                    continue;
                }
                return Ok(true);
            }
            Ok(n) => {
                buf.set_len(n);
                return Ok(true);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

impl Worker {
    /// Hands the packet in `buf` to worker `to`, taking a spare buffer in its
    /// place; a full channel drops it (counted).
    fn hand_off(&mut self, to: u16, buf: &mut PacketBuf, how: How) {
        let spare = self.spare();
        let packet = std::mem::replace(buf, spare);
        let from = self.router.shard().index;
        match self.peers[usize::from(to)].hand(Handed {
            buf: packet,
            how,
            from,
        }) {
            Ok(()) => self.router.count_handoff(true),
            Err(back) => {
                self.router.count_handoff(false);
                self.pool.push(std::mem::replace(buf, back.buf));
            }
        }
    }

    /// What the router says of the packet in `buf`.
    fn act(&mut self, verdict: Verdict, devices: &Devices, buf: &mut PacketBuf) {
        match verdict {
            Verdict::Forward(to) | Verdict::Reply(to) => self.emit(devices, to, buf),
            Verdict::Handoff(to) => self.hand_off(to, buf, How::Hairpin),
            Verdict::Drop(reason) => tracing::trace!(reason = reason.name(), "drop"),
            Verdict::Held | Verdict::Queued(_) => {}
        }
        while let Some(to) = self.router.poll_transmit(buf) {
            self.emit(devices, to, buf);
        }
    }

    /// Up to [`BURST`] packets from `from` (the `k`th source the worker
    /// reads) through the router; whether the burst stopped at [`BURST`]
    /// (the device may hold more).
    fn burst(
        &mut self,
        devices: &Devices,
        k: usize,
        from: Source,
        buf: &mut PacketBuf,
    ) -> io::Result<bool> {
        if self.batch.is_some() {
            return self.burst_batched(devices, k, from);
        }
        let shard = self.router.shard();
        let q = source_queue(devices, from, shard);
        let now = Instant::now();
        let mut read = 0;
        for _ in 0..BURST {
            if !recv(q, buf, &mut self.router)? {
                break;
            }
            read += 1;
            self.route(devices, from, buf, now);
        }
        self.router.count_reads(read as u64);
        Ok(read == BURST)
    }

    /// One packet read from `from` through the router: classified to its
    /// subscriber where a range is shared, handed to its owner if another
    /// worker owns it, else routed and acted on here.
    fn route(&mut self, devices: &Devices, from: Source, buf: &mut PacketBuf, now: Instant) {
        let direction = match from {
            Source::Wan => Direction::Inbound,
            Source::Subscriber(s) => Direction::Outbound(s),
            Source::Range(r) => match self.router.classify_range(r, buf.packet()) {
                Ok(s) => Direction::Outbound(s),
                Err(reason) => {
                    tracing::trace!(reason = reason.name(), "drop");
                    return;
                }
            },
        };
        let owner = self.router.steer(direction, buf.packet());
        if owner != self.router.shard().index {
            self.hand_off(owner, buf, How::Steered(direction));
            return;
        }
        let verdict = self.router.process(direction, buf, now);
        self.act(verdict, devices, buf);
    }

    /// Packets other workers handed here, and questions from the control
    /// server; the wake-up socket is emptied when `woken` (poll said it holds
    /// bytes), so a round without a wake-up costs no system call here.
    fn mail(&mut self, devices: &Devices, woken: bool) {
        let mut junk = [0u8; 64];
        while woken && matches!((&self.mailbox.wake).read(&mut junk), Ok(n) if n > 0) {}
        let now = Instant::now();
        while let Ok(Handed {
            buf: mut packet,
            how,
            from,
        }) = self.mailbox.handoffs.try_recv()
        {
            self.mailbox.pending.fetch_sub(1, Ordering::SeqCst);
            let verdict = match how {
                How::Hairpin => self.router.process_handoff(&mut packet, now),
                // Steered here: an ordinary packet from where it was read.
                How::Steered(direction) => self.router.process(direction, &mut packet, now),
            };
            self.act(verdict, devices, &mut packet);
            if self.pool.len() < POOL {
                self.pool.push(packet);
            } else if let Some(peer) = self.peers.get(usize::from(from)) {
                peer.give_back(packet);
            }
        }
        if let Some(feed) = &self.feed {
            while let Ok(d) = feed.try_recv() {
                self.router.takeover_feed(d.0, &d.1, now);
            }
        }
        // Nothing stays queued across a question (a reload may change the
        // devices; a handover saves the state).
        self.flush();
        while let Ok(request) = self.mailbox.requests.try_recv() {
            match request {
                Request::Snapshot(reply) => {
                    let _ = reply.try_send(self.router.snapshot());
                }
                Request::Mapping(protocol, inside, reply) => {
                    let _ = reply.try_send(self.router.mapping_of(protocol, inside));
                }
                Request::Reload(ask) => self.reload(ask),
                Request::Handover(ask) => {
                    self.hand_over(ask);
                    if self.handed_over {
                        return;
                    }
                }
                #[cfg(feature = "test-hooks")]
                Request::Stall(how_long) => std::thread::sleep(how_long),
            }
        }
    }

    /// Runs until `stop` says so (checked between bursts); what the router
    /// holds stays as it is ([`Worker::release`] is the stop's next step).
    ///
    /// The poll set is built once per set of devices (it borrows them and a
    /// duplicate of the wake-up socket) and again only after a reload brought
    /// others: nothing is allocated per round.
    pub(super) fn run_until(&mut self, stop: &dyn Fn() -> bool) -> io::Result<()> {
        let shard = self.router.shard();
        let mut buf = PacketBuf::new();
        let wake = self.mailbox.wake.try_clone()?;
        while !stop() && !self.handed_over {
            let devices = Arc::clone(&self.devices);
            let owned = self.owned.clone();
            let mut fds: Vec<PollFd<'_>> = owned
                .iter()
                .map(|&i| source_queue(&devices, i, shard).dev.as_fd())
                .chain(std::iter::once(wake.as_fd()))
                .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
                .collect();
            // A burst stopped at BURST last round: look again without waiting.
            let mut more = false;
            // A reload may bring other devices: these serve until it does.
            while !stop() && !self.handed_over && Arc::ptr_eq(&devices, &self.devices) {
                self.heartbeat.fetch_add(1, Ordering::Relaxed);
                if !self.wait(&mut fds, more)? {
                    continue;
                }
                more = false;
                for (k, &from) in owned.iter().enumerate() {
                    if readable(&fds[k]) {
                        more |= self.burst(&devices, k, from, &mut buf)?;
                    }
                }
                self.router.tick(Instant::now());
                while let Some(to) = self.router.poll_transmit(&mut buf) {
                    self.emit(&devices, to, &mut buf);
                }
                self.flush();
                self.mail(&devices, readable(&fds[owned.len()]));
                self.export();
                let current = Arc::clone(&self.devices);
                while let Some(change) = self.router.poll_route_change() {
                    self.apply_route(&current, change);
                }
                #[cfg(feature = "fastpath")]
                if let Some(fast) = &mut self.fast {
                    fast.turn(&mut self.router);
                }
            }
        }
        Ok(())
    }

    /// Polls `fds`: waits (counted as a wake-up) only when the last round left
    /// nothing to read and no hand-off is pending, else just looks, so a busy
    /// device does not starve the others. `Ok(false)` when interrupted.
    fn wait(&mut self, fds: &mut [PollFd<'_>], more: bool) -> io::Result<bool> {
        let mut wait = 0;
        if !more {
            // A shaped packet due sooner than the idle tick wakes the loop (1 ms
            // granularity: the shaper's bucket holds 4 ms, so the line stays full).
            wait = self
                .router
                .next_wakeup(Instant::now())
                .map_or(100, |d| d.as_micros().div_ceil(1000).min(100) as u16);
            self.mailbox.sleeping.store(true, Ordering::SeqCst);
            if self.mailbox.pending.load(Ordering::SeqCst) > 0 {
                wait = 0;
            }
        }
        if wait > 0 {
            self.router.count_wakeup();
            self.trim_spares();
        }
        let polled = poll(fds, PollTimeout::from(wait));
        self.mailbox.sleeping.store(false, Ordering::SeqCst);
        match polled {
            Ok(_) => Ok(true),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Applies an announce route change; a refusal is logged and counted.
    fn apply_route(&mut self, devices: &Devices, change: crate::RouteChange) {
        if let Err(e) = devices.apply(change) {
            tracing::warn!(error = %e, "announce route");
            self.router.count_route_failure();
        }
    }
}

#[cfg(test)]
#[path = "io_tests.rs"]
mod tests;
