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
use super::fdpass::{self, Channel};
use super::tun::{Devices, Handed};
use super::{Endpoints, Notifier};
use crate::config::Config;
use crate::state::{self, Document};
use crate::{Layout, Router};
use serde::{Deserialize, Serialize};
use std::io;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// How long the new process has for each of its answers.
pub const ANSWER_TIME: Duration = Duration::from_secs(10);

/// The `state` message's JSON: what comes with it and after it.
#[derive(Serialize, Deserialize)]
pub(super) struct Header {
    /// Bytes in the memfd.
    pub(super) state_len: usize,
    /// The running configuration (JSON): the new process must run the same.
    pub(super) config: serde_json::Value,
    /// Which sockets follow the memfd: control, metrics, IPFIX.
    pub(super) metrics: bool,
    pub(super) export: bool,
    /// Every TUN queue, in the order of the descriptors after the sockets
    /// (in messages of at most [`MAX_FDS`]).
    pub(super) queues: Vec<Handed>,
}

/// Nanoseconds on `CLOCK_MONOTONIC` (what `Instant` reads on Linux) of `at`.
pub(super) fn monotonic_ns(at: Instant) -> u64 {
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
pub(super) fn hook(step: &str) {
    #[cfg(feature = "test-hooks")]
    if std::env::var("SIXFOLD_TEST_HANDOVER").is_ok_and(|v| v == step) {
        tracing::warn!(step, "test hook: the new process ends here");
        std::process::exit(86);
    }
    let _ = step;
}

pub(super) fn claimed_version() -> u32 {
    #[cfg(feature = "test-hooks")]
    if let Some(v) = std::env::var("SIXFOLD_TEST_HANDOVER")
        .ok()
        .and_then(|v| v.strip_prefix("version=").and_then(|n| n.parse().ok()))
    {
        return v;
    }
    state::VERSION
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
