//! `sixfold upgrade`: the running router hands its devices and state to a new
//! process it starts itself (so the new one stays in the service's cgroup,
//! sandbox and user), over a socket pair (`fdpass`):
//!
//! 1. the router starts `BINARY run --config FILE --handover-fd N`; the new
//!    process checks the file as `sixfold check` does and says
//!    `hello VERSION PID` (a binary that reads another state version is
//!    refused here, before anything pauses);
//! 2. the router's loops stop between bursts, each worker saves its state and
//!    lets go of the IPFIX exporter, which sends what it has and stops;
//! 3. the router sends `state {JSON}` with the state (a memfd), the control and
//!    metrics sockets, the IPFIX socket and every TUN queue (SCM_RIGHTS);
//! 4. the new process decodes the state (magic, version), builds its routers
//!    from the same configuration (refused if the file changed since the
//!    router last read it), restores them, starts its loops and exporter, then
//!    says `running PID` (and `MAINPID=` + `READY=1` to systemd);
//! 5. the old workers end without releasing anything (no natEvent 5/7/17)
//!    and the old process exits.
//!
//! Until step 5 nothing is lost: any refusal, a new process that ends or says
//! nothing within [`ANSWER_TIME`], and the old loops go on as they were, with
//! the exporter resumed on its socket at its next sequence number.

use super::exporter::Exporter;
use super::fdpass::{self, Channel, MAX_FDS};
use super::loops::{AfterHandover, HandoverAsk, Request};
use super::service::Supervisor;
use super::tun::{Devices, Handed};
use super::{Endpoints, Notifier};
use crate::config::Config;
use crate::state::{self, Common, Document, ExportState};
use crate::{Layout, Router};
use serde::{Deserialize, Serialize};
use std::io;
use std::net::{TcpListener, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the new process has for each of its answers.
pub const ANSWER_TIME: Duration = Duration::from_secs(10);

/// The `state` message's JSON: what comes with it and after it.
#[derive(Serialize, Deserialize)]
struct Header {
    /// Bytes in the memfd.
    state_len: usize,
    /// The running configuration (JSON): the new process must run the same.
    config: serde_json::Value,
    /// Which sockets follow the memfd: control, metrics, IPFIX.
    metrics: bool,
    export: bool,
    /// Every TUN queue, in the order of the descriptors after the sockets
    /// (in messages of at most [`MAX_FDS`]).
    queues: Vec<Handed>,
}

/// Nanoseconds on `CLOCK_MONOTONIC` (what `Instant` reads on Linux) of `at`.
fn monotonic_ns(at: Instant) -> u64 {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
    });
    now.saturating_sub(at.elapsed().as_nanos() as u64)
}

/// The `Instant` of `ns` on `CLOCK_MONOTONIC` (in the past).
fn instant_of(ns: u64) -> Instant {
    let now_ns = monotonic_ns(Instant::now());
    let ago = Duration::from_nanos(now_ns.saturating_sub(ns));
    Instant::now().checked_sub(ago).unwrap_or_else(Instant::now)
}

/// UNIX milliseconds now.
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What a process knows of its history: when it started, since when its
/// state exists, how many handovers came before it.
#[derive(Clone, Copy, Debug)]
pub struct History {
    /// This process's start (UNIX ms).
    pub started_unix_ms: u64,
    /// The first process's start (UNIX ms).
    pub state_since_unix_ms: u64,
    /// Handovers so far.
    pub upgrades: u64,
}

impl History {
    /// What `sixfold stats` shows of it.
    pub fn process(&self) -> crate::stats::Process {
        crate::stats::Process {
            pid: std::process::id(),
            started: rfc3339(self.started_unix_ms),
            state_since: rfc3339(self.state_since_unix_ms),
            upgrades: self.upgrades,
        }
    }

    /// A process that starts the state.
    pub fn fresh() -> History {
        let now = unix_ms_now();
        History {
            started_unix_ms: now,
            state_since_unix_ms: now,
            upgrades: 0,
        }
    }
}

/// `ms` (UNIX milliseconds) as RFC 3339 in UTC, to the millisecond.
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        ms % 1000
    )
}

/// What a test may make the new process do (`test-hooks` builds only, from
/// `$SIXFOLD_TEST_HANDOVER`): end at a step, or claim another state version.
fn hook(step: &str) {
    #[cfg(feature = "test-hooks")]
    if std::env::var("SIXFOLD_TEST_HANDOVER").is_ok_and(|v| v == step) {
        tracing::warn!(step, "test hook: the new process ends here");
        std::process::exit(86);
    }
    let _ = step;
}

fn claimed_version() -> u32 {
    #[cfg(feature = "test-hooks")]
    if let Some(v) = std::env::var("SIXFOLD_TEST_HANDOVER")
        .ok()
        .and_then(|v| v.strip_prefix("version=").and_then(|n| n.parse().ok()))
    {
        return v;
    }
    state::VERSION
}

impl Supervisor<'_> {
    /// Hands over to `binary` (none: the one this process was started
    /// from): the new process's pid, or why not (and this router goes on).
    pub(super) fn upgrade(&mut self, binary: Option<PathBuf>) -> Result<(u32, Duration), String> {
        let binary = binary.unwrap_or_else(|| self.history_binary.clone());
        let Some(path) = self.path.clone() else {
            return Err("the router runs from no file: nothing to start the new one with".into());
        };
        if self.base.config().fastpath.on() {
            // Its XDP programs and maps are this process's: not handed over yet.
            return Err(
                "the eBPF fast path ([fastpath]) is not handed over yet: restart to upgrade".into(),
            );
        }
        if self.base.config().takeover.is_some() {
            // The fed mappings and the feed's listening socket: not handed over yet.
            return Err(
                "a backup's feed ([takeover]) is not handed over yet: restart to upgrade".into(),
            );
        }
        let (ours, theirs) = fdpass::pair().map_err(|e| format!("socket pair: {e}"))?;
        let fd = theirs
            .inheritable()
            .map_err(|e| format!("socket pair: {e}"))?;
        let mut child = Command::new(&binary)
            .arg("run")
            .arg("--config")
            .arg(&path)
            .arg("--handover-fd")
            .arg(fd.to_string())
            // systemd's WATCHDOG_PID names this process; the new one feeds
            // the watchdog once it is the main process (no PID: its own).
            .env_remove("WATCHDOG_PID")
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        drop(theirs);
        let pid = child.id();
        let _ = ours.set_timeout(Some(ANSWER_TIME));
        let result = self.hand_to(&ours, &mut child);
        if let Err(e) = &result {
            // The new process goes; this one never stopped being the router.
            let _ = child.kill();
            let _ = child.wait();
            tracing::error!(pid, error = %e, "upgrade refused: this router goes on");
        }
        result.map(|paused| (pid, paused))
    }

    /// The handover proper: how long the loops were stopped, or why not.
    fn hand_to(&mut self, channel: &Channel, child: &mut Child) -> Result<Duration, String> {
        let pid = child.id();
        let ended = |child: &mut Child, what: &str, e: io::Error| {
            // A closed channel: the process is ending; its status says how.
            let deadline = Instant::now() + Duration::from_secs(1);
            let mut status = child.try_wait();
            while matches!(status, Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
                status = child.try_wait();
            }
            match status {
                Ok(Some(status)) => format!("the new process ({pid}) ended ({status}) {what}"),
                _ => format!("the new process ({pid}) did not answer {what}: {e}"),
            }
        };
        let (hello, _) = channel
            .recv()
            .map_err(|e| ended(child, "before it asked for the state", e))?;
        let version = hello
            .strip_prefix("hello ")
            .and_then(|v| v.split(' ').next())
            .and_then(|v| v.parse::<u32>().ok());
        if version != Some(state::VERSION) {
            let why = format!(
                "the new binary reads state format {}, this router writes version {}: not upgraded",
                version.map_or_else(
                    || format!("(it said {hello:?})"),
                    |v| format!("version {v}")
                ),
                state::VERSION
            );
            let _ = channel.send(&format!("refused {why}"), &[]);
            return Err(why);
        }
        // Control clients wait in the backlog from here: the process that
        // runs next answers them.
        self.control_hold
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let pause = Instant::now();
        let paused = self.pause_workers();
        let (decide, states, shapers, fragments) = paused.inspect_err(|_| {
            self.control_hold
                .store(false, std::sync::atomic::Ordering::Relaxed);
        })?;
        let export = self.exporter.take().and_then(Exporter::hand_over);
        let sent = self.send_state(channel, (states, shapers), fragments, export.as_ref());
        let answer = sent.and_then(|()| {
            channel
                .recv()
                .map_err(|e| ended(child, "before it said it runs", e))
        });
        let ran = match &answer {
            Ok((text, _)) if text.starts_with("running") => Ok(()),
            Ok((text, _)) => Err(format!(
                "the new process ({pid}): {}",
                text.strip_prefix("refused ").unwrap_or(text)
            )),
            Err(e) => Err(e.clone()),
        };
        match ran {
            Ok(()) => {
                for d in &decide {
                    let _ = d.send(AfterHandover::Exit);
                }
                Ok(pause.elapsed())
            }
            Err(e) => {
                self.resume(decide, export);
                self.control_hold
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Asks every worker for its state between bursts; they wait for the
    /// decision. On a worker that does not answer, every one resumes.
    #[allow(clippy::type_complexity)]
    fn pause_workers(
        &mut self,
    ) -> Result<
        (
            Vec<mpsc::SyncSender<AfterHandover>>,
            Vec<Vec<u8>>,
            Vec<u8>,
            u64,
        ),
        String,
    > {
        let handles = self.loops.handles();
        let (answer, answers) = mpsc::sync_channel(handles.len());
        let mut decide = Vec::new();
        for h in handles {
            let (tx, decision) = mpsc::sync_channel(1);
            if !h.put(Request::Handover(HandoverAsk {
                answer: answer.clone(),
                decision,
            })) {
                self.resume(decide, None);
                return Err("a worker is busy with other questions: try again".into());
            }
            decide.push(tx);
        }
        let mut states = vec![Vec::new(); decide.len()];
        let mut shapers = Vec::new();
        let mut fragments = 0;
        let deadline = Instant::now() + Duration::from_secs(5);
        for _ in 0..decide.len() {
            match answers.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(saved) => {
                    if let Some(slot) = states.get_mut(usize::from(saved.index)) {
                        *slot = saved.state;
                    }
                    if !saved.shapers.is_empty() {
                        shapers = saved.shapers;
                    }
                    fragments = saved.fragments;
                }
                Err(_) => {
                    self.resume(decide, None);
                    return Err("a worker did not stop for the handover within 5 s".into());
                }
            }
        }
        Ok((decide, states, shapers, fragments))
    }

    /// Every worker goes on, with the exporter resumed where it stopped.
    fn resume(
        &mut self,
        decide: Vec<mpsc::SyncSender<AfterHandover>>,
        export: Option<(ExportState, UdpSocket)>,
    ) {
        if let Some((state, socket)) = export {
            let config = &self.base.config().ipfix;
            match Exporter::resume(config, socket, state, Arc::clone(&self.unsent)) {
                Ok(e) => self.exporter = Some(e),
                Err(e) => tracing::error!(error = %e, "the IPFIX exporter did not resume"),
            }
        }
        let sender = self.exporter.as_ref().and_then(Exporter::sender);
        for d in decide {
            let _ = d.send(AfterHandover::Resume(sender.clone()));
        }
    }

    fn send_state(
        &self,
        channel: &Channel,
        (states, shapers): (Vec<Vec<u8>>, Vec<u8>),
        fragments: u64,
        export: Option<&(ExportState, UdpSocket)>,
    ) -> Result<(), String> {
        let document = Document {
            common: Common {
                epoch_monotonic_ns: monotonic_ns(self.epoch),
                state_since_unix_ms: self.history.state_since_unix_ms,
                upgrades: self.history.upgrades,
                export: export.map(|(s, _)| s.clone()),
                fragment_flows_dropped: fragments,
                shapers,
            },
            workers: states,
        }
        .encode();
        let failed = |e: io::Error| format!("sending the state: {e}");
        let memfd = fdpass::memfd_with(&document).map_err(failed)?;
        let handed = self.devices.handed();
        let header = Header {
            state_len: document.len(),
            config: serde_json::to_value(self.base.config()).unwrap_or_default(),
            metrics: self.metrics_listener.is_some(),
            export: export.is_some(),
            queues: handed.iter().map(|(h, _)| *h).collect(),
        };
        let mut first = vec![memfd.as_fd(), self.control_listener.as_fd()];
        first.extend(self.metrics_listener.as_ref().map(AsFd::as_fd));
        first.extend(export.map(|(_, s)| s.as_fd()));
        let text = format!(
            "state {}",
            serde_json::to_string(&header).unwrap_or_default()
        );
        channel.send(&text, &first).map_err(failed)?;
        let fds: Vec<_> = handed.iter().map(|(_, fd)| *fd).collect();
        for chunk in fds.chunks(MAX_FDS) {
            channel.send("queues", chunk).map_err(failed)?;
        }
        tracing::info!(
            bytes = document.len(),
            queues = fds.len(),
            fragment_flows_dropped = fragments,
            "state sent to the new process"
        );
        Ok(())
    }
}

/// What the new process took over, ready to run ([`super::run_taken_over`]).
pub struct TakenOver {
    /// The restored routers, one per worker.
    pub routers: Vec<Router>,
    /// Their epoch (the first process's).
    pub epoch: Instant,
    /// The devices (handed-over queues).
    pub devices: Devices,
    /// The control and metrics sockets.
    pub endpoints: Endpoints,
    /// The exporter, resumed.
    pub exporter: Option<Exporter>,
    /// Its count of refused messages.
    pub unsent: Arc<AtomicU64>,
    /// This process's history.
    pub history: History,
    /// How to tell the old process this one runs.
    pub confirm: Confirm,
}

/// Where the old process waits for `running`.
pub struct Confirm {
    channel: Option<Channel>,
}

impl Confirm {
    /// Says it runs: to the old process (which ends), and to systemd
    /// (`MAINPID=` this process, `READY=1`).
    pub fn confirm(&self, notify: Option<&Notifier>) -> io::Result<()> {
        hook("before-confirm");
        let pid = std::process::id();
        if let Some(c) = &self.channel {
            c.send(&format!("running {pid}"), &[])?;
        }
        if let Some(n) = notify {
            n.send(&format!(
                "MAINPID={pid}\nREADY=1\nSTATUS=took over the running router"
            ));
        }
        Ok(())
    }
}

/// The new process's side: on the inherited descriptor `fd`, asks for the
/// state, checks and restores it for `config` (checked already), and takes
/// the devices and sockets; any failure is told to the old process, which
/// goes on.
pub fn take_over(config: &Config, fd: i32, seed: u64) -> io::Result<TakenOver> {
    let channel = Channel::inherited(fd)?;
    let _ = channel.set_timeout(Some(ANSWER_TIME));
    hook("before-hello");
    channel.send(
        &format!("hello {} {}", claimed_version(), std::process::id()),
        &[],
    )?;
    match receive(config, &channel, seed) {
        Ok(mut t) => {
            t.confirm.channel = Some(channel);
            Ok(t)
        }
        Err(e) => {
            let _ = channel.send(&format!("refused {e}"), &[]);
            Err(e)
        }
    }
}

fn receive(config: &Config, channel: &Channel, seed: u64) -> io::Result<TakenOver> {
    let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let (text, mut fds) = channel.recv()?;
    if let Some(why) = text.strip_prefix("refused ") {
        return Err(io::Error::other(why.to_string()));
    }
    let header: Header = text
        .strip_prefix("state ")
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| bad(format!("not a state message: {:.60?}", text)))?;
    let sockets = 2 + usize::from(header.metrics) + usize::from(header.export);
    if fds.len() != sockets {
        return Err(bad(format!(
            "{} descriptors, {sockets} expected",
            fds.len()
        )));
    }
    let mut queues = Vec::with_capacity(header.queues.len());
    while queues.len() < header.queues.len() {
        let (_, more) = channel.recv()?;
        queues.extend(more);
    }
    hook("after-fds");
    let mut it = fds.drain(..);
    let (memfd, control) = (it.next(), it.next());
    let metrics = header.metrics.then(|| it.next()).flatten();
    let export = header.export.then(|| it.next()).flatten();
    let bytes = fdpass::read_all(
        memfd.ok_or_else(|| bad("no state".into()))?,
        header.state_len,
    )?;
    let doc = Document::decode(&bytes).map_err(|e| bad(e.to_string()))?;
    if serde_json::to_value(config).unwrap_or_default() != header.config {
        return Err(bad(
            "the configuration file changed since the running router last read it: \
                        say `sixfold reload` first (or put the file back), then upgrade"
                .into(),
        ));
    }
    let (routers, epoch) = restore_routers(config, &doc, seed)?;
    let count = routers.len() as u16;
    let layout = Layout::of(config);
    let devices = Devices::adopt(config, &layout, count, &header.queues, queues)?;
    let endpoints = Endpoints::adopted(
        config,
        UnixListener::from(control.ok_or_else(|| bad("no control socket".into()))?),
        metrics.map(TcpListener::from),
    );
    let unsent = Arc::new(AtomicU64::new(0));
    let exporter = match (export, doc.common.export.clone()) {
        (Some(fd), Some(state)) => Some(Exporter::resume(
            &config.ipfix,
            UdpSocket::from(fd),
            state,
            Arc::clone(&unsent),
        )?),
        _ => None,
    };
    if doc.common.fragment_flows_dropped > 0 {
        tracing::warn!(
            datagrams = doc.common.fragment_flows_dropped,
            "IPv4 datagrams in pieces at the handover were dropped (the fragment table is not handed over)"
        );
    }
    Ok(TakenOver {
        routers,
        epoch,
        devices,
        endpoints,
        exporter,
        unsent,
        history: History {
            started_unix_ms: unix_ms_now(),
            state_since_unix_ms: doc.common.state_since_unix_ms,
            upgrades: doc.common.upgrades + 1,
        },
        confirm: Confirm { channel: None },
    })
}

/// The routers of `config`, one per worker of `doc`, with the saved state
/// restored (each worker's in a thread of its own: the pause is the slowest
/// worker's restore, not their sum), and their epoch.
fn restore_routers(
    config: &Config,
    doc: &Document,
    seed: u64,
) -> io::Result<(Vec<Router>, Instant)> {
    let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let count = doc.workers.len() as u16;
    let epoch = instant_of(doc.common.epoch_monotonic_ns);
    let mut routers =
        Router::workers(config.clone(), seed, epoch, count).map_err(|e| bad(e.to_string()))?;
    let restored: Vec<Result<(), state::StateError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = routers
            .iter_mut()
            .zip(&doc.workers)
            .enumerate()
            .map(|(k, (r, s))| scope.spawn(move || r.restore_state(s, k)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(state::StateError::Mismatch(
                        "a worker's restore panicked".into(),
                    ))
                })
            })
            .collect()
    });
    if let Some(e) = restored.into_iter().find_map(Result::err) {
        return Err(bad(e.to_string()));
    }
    Router::relink(&mut routers);
    if let Some(first) = routers.first_mut() {
        first
            .restore_shapers(&doc.common.shapers, Instant::now())
            .map_err(|e| bad(e.to_string()))?;
    }
    Ok((routers, epoch))
}
