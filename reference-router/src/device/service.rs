//! The router as a long-running service: its worker threads, and the
//! supervisor beside them (the thread that called [`run`]) that tells
//! systemd how it is ([`Notifier`]: ready, reloading, stopping, the watchdog
//! fed by the loops' own progress, a status line), reloads the configuration
//! on request ([`Supervisor::reload`]: the control socket's `reload`, or
//! SIGHUP) and stops it gracefully: the loops stop between bursts, then each
//! worker ends and logs what its router holds, sends its last IPFIX records
//! and withdraws its announce routes ([`super::io::Worker::release`]).

mod upgrade;

use super::exporter::Exporter;
use super::handover;
use super::io::{self, Worker};
use super::loops::{Ask, Loops, OutboxHandle};
use super::notify::Notifier;
use super::tun::Devices;
use super::{Endpoints, control, feed, metrics};
use crate::config::Config;
use crate::{ReloadBase, Router, Snapshot};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How often the supervisor looks at its flags and requests.
const TICK: Duration = Duration::from_millis(50);
/// How long the stopping workers may take to hand their last records over.
const RELEASE_TIME: Duration = Duration::from_secs(3);
/// The shortest watchdog interval the loops can feed: a loop turns at least
/// every 100 ms, and the supervisor looks for two turns.
const SHORTEST_WATCHDOG: Duration = Duration::from_millis(250);
/// How often `STATUS=` is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(5);

/// How a running router is told what to do from outside its loops.
pub struct Control {
    /// Set on SIGTERM or SIGINT: stop gracefully.
    pub stop: Arc<AtomicBool>,
    /// Set on SIGHUP: reload from [`Control::path`].
    pub hangup: Arc<AtomicBool>,
    /// The configuration file the router runs from (a reload reads it;
    /// `sixfold reload --config FILE` makes FILE this).
    pub path: Option<PathBuf>,
    /// systemd's notification socket, when there is one.
    pub notify: Option<Notifier>,
    /// The binary `sixfold upgrade` starts by default: the path this
    /// process was started from (the file there now).
    pub binary: Option<PathBuf>,
    /// Set to the new process's pid once it took over: the router ended
    /// without releasing anything.
    pub handed_to: Arc<AtomicU64>,
}

impl Control {
    /// Stopped by `stop`, with no reloads and nobody to notify.
    pub fn stopped_by(stop: Arc<AtomicBool>) -> Control {
        Control {
            stop,
            hangup: Arc::new(AtomicBool::new(false)),
            path: None,
            notify: None,
            binary: None,
            handed_to: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// What the supervisor keeps beside the routers: what a reload changes
/// outside them.
pub(super) struct Supervisor<'a> {
    pub(super) base: ReloadBase,
    pub(super) devices: Arc<Devices>,
    pub(super) exporter: Option<Exporter>,
    pub(super) unsent: Arc<AtomicU64>,
    pub(super) epoch: Instant,
    pub(super) metrics: Option<metrics::Server>,
    pub(super) loops: Arc<Loops>,
    pub(super) path: Option<PathBuf>,
    pub(super) notify: Option<&'a Notifier>,
    pub(super) workers: u16,
    /// Forwarded packets at the last status line.
    last_status: Option<(Instant, u64)>,
    /// What `sixfold upgrade` starts by default.
    pub(super) history_binary: PathBuf,
    /// This process's start, the state's, the upgrades before.
    pub(super) history: handover::History,
    /// The control socket and metrics listener, for a handover (the servers
    /// hold their own copies).
    pub(super) control_listener: std::os::unix::net::UnixListener,
    pub(super) metrics_listener: Option<std::net::TcpListener>,
    /// The new process that took over, once one did.
    handed_to: Option<u32>,
    /// Holds new control clients back (during a handover).
    pub(super) control_hold: Arc<AtomicBool>,
}

/// Runs the router of `config` (seeded with `seed`) over `devices` — opened
/// for [`super::worker_count`] workers with the ids of `Layout::of(&config)`
/// — until `control.stop` is set, serving `endpoints` from threads of their
/// own and reloading on request; then stops gracefully. Returns the counters
/// of all workers, merged, for a last look.
pub fn run(
    config: Config,
    seed: u64,
    devices: Devices,
    endpoints: Endpoints,
    control: &Control,
) -> std::io::Result<Snapshot> {
    let count = devices.wan.len() as u16;
    let epoch = Instant::now();
    let unsent = Arc::new(AtomicU64::new(0));
    let exporter = Exporter::start_counting(&config.ipfix, epoch, Arc::clone(&unsent))?;
    let routers = Router::workers(config, seed, epoch, count)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let start = Start {
        routers,
        epoch,
        exporter,
        unsent,
        history: handover::History::fresh(),
        taken: None,
    };
    serve(start, devices, endpoints, control)
}

/// Runs what a new process took over ([`handover::take_over`]) as
/// [`run`] does; once its loops run it says so to the old process and to
/// systemd.
pub fn run_taken_over(taken: handover::TakenOver, control: &Control) -> std::io::Result<Snapshot> {
    let handover::TakenOver {
        routers,
        epoch,
        devices,
        endpoints,
        exporter,
        unsent,
        history,
        confirm,
    } = taken;
    let start = Start {
        routers,
        epoch,
        exporter,
        unsent,
        history,
        taken: Some(confirm),
    };
    serve(start, devices, endpoints, control)
}

/// The routers a process runs, fresh or taken over.
struct Start {
    routers: Vec<Router>,
    epoch: Instant,
    exporter: Option<Exporter>,
    unsent: Arc<AtomicU64>,
    history: handover::History,
    /// Taken over: tells the old process once the loops run.
    taken: Option<handover::Confirm>,
}

fn serve(
    start: Start,
    devices: Devices,
    endpoints: Endpoints,
    control: &Control,
) -> std::io::Result<Snapshot> {
    let Start {
        routers,
        epoch,
        exporter,
        unsent,
        history,
        taken,
    } = start;
    // Before the loops fill the tables (docs/performance.md, bytes per session).
    super::allocator::tune_or_say();
    let count = devices.wan.len() as u16;
    let per_subscriber = routers[0].config().metrics.per_subscriber;
    let base = routers[0].reload_base();
    let (mailboxes, doorbells, outboxes) = mailboxes(count)?;
    let (asks, asked) = mpsc::sync_channel(4);
    let feed_dropped = Arc::new(AtomicU64::new(0));
    let loops = Arc::new(
        Loops::new(outboxes)
            .with_export_unsent(Some(Arc::clone(&unsent)))
            .with_feed_dropped(Arc::clone(&feed_dropped))
            .with_supervisor(asks),
    );
    loops.set_process(history.process());
    let (control_listener, metrics_listener) = endpoints.clones()?;
    let mut server = control::Server::start(
        endpoints.control,
        &endpoints.control_path,
        Arc::clone(&loops),
    );
    let metrics = endpoints
        .metrics
        .map(|l| metrics::Server::start(l, Arc::clone(&loops), per_subscriber));
    let devices = Arc::new(devices);
    let mut workers = start_workers(routers, mailboxes, &doorbells, &devices, exporter.as_ref());
    let listener = takeover_listener(endpoints.takeover, &mut workers, &doorbells, &feed_dropped)?;
    let mut supervisor = Supervisor {
        base,
        devices,
        exporter,
        unsent: Arc::clone(&unsent),
        epoch,
        metrics,
        loops,
        path: control.path.clone(),
        notify: control.notify.as_ref(),
        workers: count,
        last_status: None,
        control_hold: server.hold(),
        history_binary: control
            .binary
            .clone()
            .unwrap_or_else(|| PathBuf::from("/proc/self/exe")),
        history,
        control_listener,
        metrics_listener,
        handed_to: None,
    };
    let results = run_loops(workers, &mut supervisor, control, &asked, taken.as_ref());
    drop(listener);
    drop(supervisor.metrics.take());
    if let Some(pid) = supervisor.handed_to {
        // The new process serves the control socket now.
        server.keep_path();
        control.handed_to.store(u64::from(pid), Ordering::Relaxed);
    }
    drop(server);
    // Sends what the workers left, then stops.
    drop(supervisor.exporter.take());
    let mut merged = merge(results)?;
    merged.ipfix.messages_unsent = unsent.load(Ordering::Relaxed);
    merged.takeover.feed_dropped = feed_dropped.load(Ordering::Relaxed);
    Ok(merged)
}

/// A worker per router, each with its mailbox, every loop's doorbell, the
/// devices, the datapath's view and the exporter.
fn start_workers(
    routers: Vec<Router>,
    mailboxes: Vec<io::Mailbox>,
    doorbells: &[io::Doorbell],
    devices: &Arc<Devices>,
    exporter: Option<&Exporter>,
) -> Vec<Worker> {
    routers
        .into_iter()
        .zip(mailboxes)
        .map(|(mut router, mailbox)| {
            router.set_datapath(devices.datapath.clone());
            let mut worker = Worker::new(router, mailbox, doorbells.to_vec(), Arc::clone(devices));
            worker.export_to(exporter.and_then(Exporter::sender));
            worker
        })
        .collect()
}

/// The takeover feed's listener (`[takeover] listen`): each worker gets a queue
/// of the datagrams for it and is woken through its doorbell.
fn takeover_listener(
    socket: Option<std::net::UdpSocket>,
    workers: &mut [Worker],
    doorbells: &[io::Doorbell],
    feed_dropped: &Arc<AtomicU64>,
) -> std::io::Result<Option<feed::Listener>> {
    let Some(socket) = socket else {
        return Ok(None);
    };
    let mut inboxes = Vec::new();
    for (worker, bell) in workers.iter_mut().zip(doorbells) {
        let (queue, datagrams) = feed::queue();
        worker.feed_from(datagrams);
        inboxes.push(feed::Inbox {
            queue,
            wake: Arc::clone(&bell.wake),
        });
    }
    feed::Listener::start(socket, inboxes, Arc::clone(feed_dropped)).map(Some)
}

/// The workers' last counters, merged (the first error, if one failed).
fn merge(results: Vec<std::io::Result<Snapshot>>) -> std::io::Result<Snapshot> {
    let mut merged = Snapshot::default();
    for (k, r) in results.into_iter().enumerate() {
        let s = r?;
        if k == 0 {
            merged = s;
        } else {
            merged.merge(&s);
        }
    }
    Ok(merged)
}

/// Runs every worker's loop in a thread of its own while the supervisor
/// watches; then each ends — releasing what its router holds, unless a new
/// process took it over — and says its last counters.
fn run_loops(
    workers: Vec<Worker>,
    supervisor: &mut Supervisor<'_>,
    control: &Control,
    asked: &Receiver<Ask>,
    taken: Option<&handover::Confirm>,
) -> Vec<std::io::Result<Snapshot>> {
    let beats: Vec<Arc<AtomicU64>> = workers.iter().map(Worker::heartbeat).collect();
    // The loops stop when the supervisor says so, or when one fails.
    let halt = AtomicBool::new(false);
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .into_iter()
            .map(|mut worker| {
                let (halt, failed) = (&halt, &failed);
                scope.spawn(move || {
                    let stop = || halt.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed);
                    let result = worker.run_until(&stop);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if !worker.handed_over() {
                        worker.release(Instant::now() + RELEASE_TIME);
                    }
                    result.map(|()| worker.router.snapshot())
                })
            })
            .collect();
        supervisor.watch(control, asked, &beats, &failed, taken);
        halt.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("a worker panicked")))
            })
            .collect()
    })
}

/// Each of `count` workers' mailbox, doorbell, and the servers' handle on it.
#[allow(clippy::type_complexity)]
fn mailboxes(
    count: u16,
) -> std::io::Result<(Vec<io::Mailbox>, Vec<io::Doorbell>, Vec<OutboxHandle>)> {
    let mut mailboxes = Vec::new();
    let mut doorbells = Vec::new();
    let mut outboxes = Vec::new();
    for _ in 0..count {
        let (mailbox, doorbell, requests) = io::mailbox()?;
        outboxes.push(OutboxHandle::new(requests, Arc::clone(&doorbell.wake)));
        mailboxes.push(mailbox);
        doorbells.push(doorbell);
    }
    Ok((mailboxes, doorbells, outboxes))
}

impl Supervisor<'_> {
    /// Until a stop is asked for (or a loop failed): reloads on SIGHUP and on
    /// the control socket's request, feeds the watchdog while every loop
    /// turns, refreshes the status line.
    fn watch(
        &mut self,
        control: &Control,
        asked: &Receiver<Ask>,
        beats: &[Arc<AtomicU64>],
        failed: &AtomicBool,
        taken: Option<&handover::Confirm>,
    ) {
        self.announce(taken);
        let interval = self
            .notify
            .and_then(Notifier::watchdog_interval)
            .map(|usec| {
                if usec < SHORTEST_WATCHDOG * 2 {
                    tracing::warn!(
                        watchdog_ms = usec.as_millis() as u64,
                        "WatchdogSec below 0.5 s: the loops may not show progress in time"
                    );
                }
                (usec / 2).max(SHORTEST_WATCHDOG)
            });
        let mut seen: Vec<u64> = beats.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let mut next_ping = Instant::now();
        let mut next_status = Instant::now();
        while !control.stop.load(Ordering::Relaxed) && !failed.load(Ordering::Relaxed) {
            if control.hangup.swap(false, Ordering::Relaxed) {
                let outcome = self.reload(None);
                outcome.log("SIGHUP");
            }
            match asked.recv_timeout(TICK) {
                Ok(Ask::Reload(path, reply)) => {
                    let outcome = self.reload(path);
                    outcome.log("control socket");
                    let _ = reply.try_send(outcome.answer());
                }
                Ok(Ask::Upgrade(binary, reply)) => {
                    if self.answer_upgrade(binary, &reply) {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
            }
            if let (Some(n), Some(every)) = (self.notify, interval)
                && Instant::now() >= next_ping
            {
                // Every loop turned since the last ping: the router works.
                let now: Vec<u64> = beats.iter().map(|b| b.load(Ordering::Relaxed)).collect();
                if now.iter().zip(&seen).all(|(a, b)| a != b) {
                    n.watchdog();
                    seen = now;
                }
                next_ping = Instant::now() + every;
            }
            if let Some(n) = self.notify
                && Instant::now() >= next_status
            {
                n.status(&self.status());
                next_status = Instant::now() + STATUS_EVERY;
            }
        }
        if let Some(n) = self.notify {
            n.stopping();
        }
        tracing::info!("stopping: releasing every session and block");
    }

    /// Says the router runs: to systemd (`READY=1`), or, taken over, to the
    /// old process and systemd ([`handover::Confirm`]).
    fn announce(&self, taken: Option<&handover::Confirm>) {
        match taken {
            Some(c) => {
                if let Err(e) = c.confirm(self.notify) {
                    // The old process went on without this one: leave at
                    // once, touching nothing (the state is the old one's).
                    tracing::error!(error = %e, "the old router did not take the confirmation; leaving");
                    std::process::exit(1);
                }
                tracing::info!(
                    upgrades = self.history.upgrades,
                    "took over the running router"
                );
            }
            None => {
                if let Some(n) = self.notify {
                    n.ready("running");
                }
            }
        }
    }

    /// Runs an upgrade asked on the control socket and answers `reply`:
    /// whether a new process took over (this one then ends).
    fn answer_upgrade(
        &mut self,
        binary: Option<PathBuf>,
        reply: &mpsc::SyncSender<String>,
    ) -> bool {
        let started = Instant::now();
        match self.upgrade(binary) {
            Ok((pid, paused)) => {
                let took = started.elapsed().as_secs_f64();
                let paused = paused.as_secs_f64();
                tracing::info!(
                    pid,
                    seconds = took,
                    paused,
                    "handed over to the new process"
                );
                let _ = reply.try_send(format!(
                    "upgraded pid {} -> {pid} in {took:.3} s\npaused {paused:.6} s",
                    std::process::id()
                ));
                if let Some(n) = self.notify {
                    n.send(&format!("MAINPID={pid}\nSTATUS=handed over to pid {pid}"));
                }
                self.handed_to = Some(pid);
                true
            }
            Err(e) => {
                let _ = reply.try_send(format!("refused {e}"));
                false
            }
        }
    }

    /// The status line: live sessions, packets per second since the last.
    pub(super) fn status(&mut self) -> String {
        let Ok(s) = self.loops.snapshot() else {
            return "running (the loops did not answer in time)".into();
        };
        let packets = [&s.ipv4, &s.ipv6]
            .iter()
            .flat_map(|f| [&f.outbound, &f.inbound])
            .map(|d| d.tcp.packets + d.udp.packets + d.icmp.packets + d.other.packets)
            .sum::<u64>();
        let now = Instant::now();
        let rate = match self.last_status {
            Some((at, before)) if now > at => {
                packets.saturating_sub(before) as f64 / (now - at).as_secs_f64()
            }
            _ => 0.0,
        };
        self.last_status = Some((now, packets));
        format!(
            "{} sessions, {} IPv6 flows, {rate:.0} packets/s",
            s.sessions, s.ipv6_flows
        )
    }
}
