//! Long TCP transfers across a failover: uploads and downloads between
//! subscribers in the access namespace and a server on the core's loopback,
//! each paced (so the lab's two cores keep BFD alive), each timed on its
//! receiving side. A transfer is *kept* when it is still carrying data 2 s
//! after the kill with no error on either side (a reset, an end, a write that
//! failed); its *gap* is the longest time its receiver got nothing around the
//! kill. The server's side says which source each connection came from: one
//! TCP connection, one source address and port, or it would have broken.

use super::failover::Spread;
use super::plan::{Plan, sub_v4};
use super::probe;
use crate::lab::SERVER_V4;
use crate::lab::checks::check;
use crate::lab::world::World;
use anyhow::Context;
use sixfold_router::device;
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The transfer server's TCP port on [`SERVER_V4`].
pub(super) const PORT: u16 = 5209;
/// Each transfer's pace: this many bytes every [`TICK`] (1.6 MB/s).
const CHUNK: usize = 8192;
const TICK: Duration = Duration::from_millis(5);

/// What a receiver saw: when each read returned data, and how it ended.
#[derive(Default)]
struct Seen {
    reads: Vec<Instant>,
    bytes: u64,
    error: Option<String>,
}

type Shared = Arc<Mutex<Seen>>;

/// Connections the server holds, by transfer id: the source it saw, and (for
/// uploads) what it received.
#[derive(Default)]
struct Server {
    peers: HashMap<u32, SocketAddr>,
    uploads: HashMap<u32, Shared>,
    /// Errors of the server's own writes (downloads), by transfer id.
    write_errors: HashMap<u32, String>,
}

/// The running server and transfers.
pub(super) struct Transfers {
    server: Arc<Mutex<Server>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    list: Vec<Transfer>,
}

/// One transfer: subscriber `k`, which way, the client's local endpoint.
struct Transfer {
    id: u32,
    k: u16,
    upload: bool,
    local: SocketAddr,
    /// The receiving side's record (the client's for a download).
    seen: Shared,
}

/// How one transfer fared.
pub(super) struct Fate {
    pub(super) line: String,
    pub(super) kept: bool,
    /// The longest silence of its receiver from 0.5 s before the kill on.
    pub(super) gap: Duration,
}

fn record(seen: &Shared, n: usize) {
    if let Ok(mut s) = seen.lock() {
        s.reads.push(Instant::now());
        s.bytes += n as u64;
    }
}

fn fail(seen: &Shared, e: String) {
    if let Ok(mut s) = seen.lock() {
        s.error.get_or_insert(e);
    }
}

/// Reads `stream` until `stop`, recording into `seen`.
fn receive(mut stream: TcpStream, seen: &Shared, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf) {
            Ok(0) => return fail(seen, "the connection ended".into()),
            Ok(n) => record(seen, n),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return fail(seen, format!("read: {e}")),
        }
    }
}

/// Writes `stream` at the pace until `stop`; the first error, if any.
fn send(mut stream: TcpStream, stop: &AtomicBool) -> Option<String> {
    let chunk = vec![0x5au8; CHUNK];
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = stream.write_all(&chunk) {
            return Some(format!("write: {e}"));
        }
        std::thread::sleep(TICK);
    }
    None
}

impl Transfers {
    /// Starts the server in the core (a thread of the lab's world).
    pub(super) fn start(plan: &Plan, world: &mut World) -> anyhow::Result<Transfers> {
        let at = SocketAddr::new(SERVER_V4.parse()?, PORT);
        let listener = device::in_netns(&plan.core(), || TcpListener::bind(at))?;
        listener.set_nonblocking(true)?;
        let server = Arc::new(Mutex::new(Server::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (srv, halt) = (Arc::clone(&server), Arc::clone(&stop));
        let handle = std::thread::spawn(move || serve(&listener, &srv, &halt));
        world.threads.push((Arc::clone(&stop), handle));
        Ok(Transfers {
            server,
            stop,
            threads: Vec::new(),
            list: Vec::new(),
        })
    }

    /// Starts an upload or a download from subscriber `k` at `src`.
    pub(super) fn add(
        &mut self,
        plan: &Plan,
        k: u16,
        src: IpAddr,
        upload: bool,
    ) -> anyhow::Result<()> {
        let id = self.list.len() as u32;
        let to = SocketAddr::new(SERVER_V4.parse()?, PORT);
        let mut stream = probe::connect_from(plan, src, to, Duration::from_secs(3))
            .with_context(|| format!("transfer from sub{k}"))?;
        let mut hello = vec![if upload { b'U' } else { b'D' }];
        hello.extend_from_slice(&id.to_be_bytes());
        stream.write_all(&hello)?;
        let local = stream.local_addr()?;
        let seen: Shared = if upload {
            // The server records it; wait until it has.
            let deadline = Instant::now() + Duration::from_secs(3);
            loop {
                if let Some(s) = self
                    .server
                    .lock()
                    .ok()
                    .and_then(|s| s.uploads.get(&id).cloned())
                {
                    break s;
                }
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "the server did not take upload {id}"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        } else {
            Arc::new(Mutex::new(Seen::default()))
        };
        let (s, stop) = (Arc::clone(&seen), Arc::clone(&self.stop));
        self.threads.push(std::thread::spawn(move || {
            if upload {
                if let Some(e) = send(stream, &stop) {
                    fail(&s, e);
                }
            } else {
                receive(stream, &s, &stop);
            }
        }));
        self.list.push(Transfer {
            id,
            k,
            upload,
            local,
            seen,
        });
        Ok(())
    }

    /// Transfers started.
    pub(super) fn count(&self) -> usize {
        self.list.len()
    }

    /// How each transfer fared around a kill at `kill`: kept if its receiver
    /// got data between 1.5 and 2.5 s after it and nothing failed (call at
    /// 2.5 s or later).
    pub(super) fn fates(&self, kill: Instant) -> Vec<Fate> {
        let server = self.server.lock().ok();
        self.list
            .iter()
            .map(|t| {
                let seen = t.seen.lock().ok();
                let reads: Vec<Instant> = seen.as_ref().map(|s| s.reads.clone()).unwrap_or_default();
                let window = (kill + Duration::from_millis(1500), kill + Duration::from_millis(2500));
                let carrying = reads.iter().any(|&r| r >= window.0 && r <= window.1);
                let error = seen
                    .as_ref()
                    .and_then(|s| s.error.clone())
                    .or_else(|| server.as_ref().and_then(|s| s.write_errors.get(&t.id).cloned()));
                let from = kill.checked_sub(Duration::from_millis(500)).unwrap_or(kill);
                let mut last = from;
                let mut gap = Duration::ZERO;
                for &r in reads.iter().filter(|&&r| r >= from && r <= window.1) {
                    gap = gap.max(r.duration_since(last));
                    last = r;
                }
                gap = gap.max(window.1.saturating_duration_since(last).min(
                    Instant::now().saturating_duration_since(last),
                ));
                let peer = server.as_ref().and_then(|s| s.peers.get(&t.id).copied());
                let kept = carrying && error.is_none();
                let line = format!(
                    "sub{} {} from {}, seen by the server as {}: {} B received, longest silence {:.3} s{}",
                    t.k,
                    if t.upload { "upload" } else { "download" },
                    t.local,
                    peer.map_or("?".to_string(), |p| p.to_string()),
                    seen.as_ref().map_or(0, |s| s.bytes),
                    gap.as_secs_f64(),
                    match &error {
                        Some(e) => format!(", {e}"),
                        None if !carrying => ", no data 1.5-2.5 s after the kill".to_string(),
                        None => String::new(),
                    }
                );
                Fate { line, kept, gap }
            })
            .collect()
    }

    /// Stops every transfer (the server stays until the world goes).
    pub(super) fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Accepts connections until `stop`: each says `U` or `D` and its id.
fn serve(listener: &TcpListener, server: &Arc<Mutex<Server>>, stop: &Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok((mut c, peer)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        let _ = c.set_nonblocking(false);
        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
        let mut hello = [0u8; 5];
        if c.read_exact(&mut hello).is_err() {
            continue;
        }
        let id = u32::from_be_bytes([hello[1], hello[2], hello[3], hello[4]]);
        let (srv, halt) = (Arc::clone(server), Arc::clone(stop));
        if let Ok(mut s) = server.lock() {
            s.peers.insert(id, peer);
        }
        if hello[0] == b'U' {
            let seen: Shared = Arc::default();
            if let Ok(mut s) = server.lock() {
                s.uploads.insert(id, Arc::clone(&seen));
            }
            std::thread::spawn(move || receive(c, &seen, &halt));
        } else {
            std::thread::spawn(move || {
                if let Some(e) = send(c, &halt)
                    && let Ok(mut s) = srv.lock()
                {
                    s.write_errors.insert(id, e);
                }
            });
        }
    }
}

/// An upload and a download (IPv4) from every subscriber of box 1, carrying
/// data for a second before the kill.
pub(super) fn start_transfers(
    plan: &Plan,
    world: &mut World,
    spread: &Spread,
) -> anyhow::Result<Transfers> {
    let mut t = Transfers::start(plan, world)?;
    for s in spread.subs.iter().filter(|s| s.box4 == 1) {
        for upload in [true, false] {
            t.add(plan, s.k, IpAddr::V4(sub_v4(s.k)), upload)?;
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    Ok(t)
}

/// The transfers 2 s after the kill at `start`: one check each (in a ring
/// of backups each must be kept; without one, the survivor gives the
/// subscribers new ports and they break, which is reported, not failed),
/// and the longest silence of a kept one. Returns whether all passed, how
/// many were kept and how many were open at the kill.
pub(super) fn check_transfers(
    plan: &Plan,
    transfers: Transfers,
    start: Instant,
) -> (bool, usize, usize) {
    std::thread::sleep(
        (start + Duration::from_millis(2600)).saturating_duration_since(Instant::now()),
    );
    let fates = transfers.fates(start);
    let open = transfers.count();
    transfers.stop();
    let mut ok = true;
    println!(
        "  transfers of {}'s subscribers across the kill (server {}:{}):",
        plan.r(1),
        crate::lab::SERVER_V4,
        PORT
    );
    for f in &fates {
        let verdict = if f.kept {
            Ok(f.line.clone())
        } else {
            Err(anyhow::anyhow!("{}", f.line))
        };
        if plan.takeover {
            ok &= check("kept", verdict);
        } else {
            println!("  {} {}", if f.kept { "kept" } else { "broken" }, f.line);
        }
    }
    let carried = fates.iter().filter(|f| f.kept).count();
    if let Some(gap) = fates.iter().filter(|f| f.kept).map(|f| f.gap).max() {
        println!(
            "  longest silence of a kept transfer around the kill: {:.3} s",
            gap.as_secs_f64()
        );
    }
    (ok, carried, open)
}
