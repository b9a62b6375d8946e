//! The control socket `sixfold stats` talks to, served off the data path.
//!
//! One line in, one answer out: `stats` (the snapshot as JSON), `mapping
//! <tcp|udp|icmp> <addr:port>` (the external endpoint, or `none`), or
//! `reload [PATH]` (the router reads PATH, an absolute path — by default the
//! file it runs from — and answers `reloaded PATH`, `unchanged PATH` or
//! `refused PATH`, then one line per changed key or per reason), or `upgrade
//! [PATH]` (the router hands over to a new process of the binary at PATH, by
//! default the one it was started from: `upgraded pid OLD -> NEW in S s` or
//! `refused REASON`; see [`super::handover`]). The server
//! runs in its own thread and each client in a short-lived thread of its own (at
//! most [`MAX_CLIENTS`] at once; more are told `error: busy`); a request is at
//! most [`MAX_REQUEST`] bytes and must come within [`READ_TIMEOUT`], and an
//! answer the client does not read within [`WRITE_TIMEOUT`] is dropped. The
//! packet loops are never waited on: they answer questions ([`Loops`]) between
//! bursts, and a client whose question they do not answer in time is told so.
//!
//! The socket is created with mode 0600 whatever the umask (bound under a
//! temporary name, chmod-ed, then renamed into place), replaces only a stale
//! socket — never a regular file, directory or link — and is removed when the
//! server stops, if it is still the one it made.

use super::loops::Loops;
use sixfold_rewrite::IpProtocol;
use std::fs;
use std::io::{self, Read, Write};
use std::net::SocketAddrV4;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Clients served at once.
pub const MAX_CLIENTS: usize = 8;
/// The longest request line, newline included (a `reload` names a path of up
/// to PATH_MAX).
pub const MAX_REQUEST: usize = 4352;
/// How long a client may take to send its request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a client may take to read its answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Binds the control socket at `path`: refused if a router answers there, or if
/// something other than a socket is there; a stale socket is replaced.
pub fn bind(path: &str) -> io::Result<UnixListener> {
    let target = Path::new(path);
    if let Ok(meta) = fs::symlink_metadata(target) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{path} exists and is not a socket: refusing to replace it (router.control_socket)"
                ),
            ));
        }
        if UnixStream::connect(target).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "{path}: a program answers on this socket (another router?): refusing to take it over (router.control_socket)"
                ),
            ));
        }
        fs::remove_file(target)?;
    }
    // Bound under a temporary name and made 0600 before it appears at `path`, so no
    // client ever finds it with the umask's mode.
    let temp = temp_name(target);
    let _ = fs::remove_file(&temp);
    let listener =
        UnixListener::bind(&temp).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    let made = fs::set_permissions(&temp, fs::Permissions::from_mode(0o600))
        .and_then(|()| fs::rename(&temp, target));
    if let Err(e) = made {
        let _ = fs::remove_file(&temp);
        return Err(io::Error::new(e.kind(), format!("{path}: {e}")));
    }
    listener.set_nonblocking(true)?;
    Ok(listener)
}

fn temp_name(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// The control server, running until dropped.
pub struct Server {
    stop: Arc<AtomicBool>,
    /// While set, no client is accepted (they wait in the backlog: a
    /// handover's new process may take them).
    hold: Arc<AtomicBool>,
    /// Clients being served.
    clients: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
    inode: Option<u64>,
}

impl Server {
    /// Serves `listener` (bound at `path` by [`bind`]), asking `loops`.
    pub fn start(listener: UnixListener, path: &str, loops: Arc<Loops>) -> Server {
        let stop = Arc::new(AtomicBool::new(false));
        let hold = Arc::new(AtomicBool::new(false));
        let clients = Arc::new(AtomicUsize::new(0));
        let inode = fs::metadata(path).ok().map(|m| m.ino());
        let flags = (Arc::clone(&stop), Arc::clone(&hold), Arc::clone(&clients));
        let thread = std::thread::Builder::new()
            .name("sixfold-control".into())
            .spawn(move || accept_loop(&listener, &loops, &flags))
            .ok();
        Server {
            stop,
            hold,
            clients,
            thread,
            path: PathBuf::from(path),
            inode,
        }
    }
}

impl Server {
    /// Leaves the socket where it is when the server stops (a new process
    /// took it over).
    pub fn keep_path(&mut self) {
        self.inode = None;
    }

    /// The flag that holds new clients back while set.
    pub fn hold(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.hold)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Clients being answered get their answer (an upgrade's is written
        // as the process ends), within a bound.
        let deadline = std::time::Instant::now() + WRITE_TIMEOUT;
        while self.clients.load(Ordering::Acquire) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Only the socket this server made: a new router may have taken the path.
        if fs::symlink_metadata(&self.path).is_ok_and(|m| Some(m.ino()) == self.inode) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

type Flags = (Arc<AtomicBool>, Arc<AtomicBool>, Arc<AtomicUsize>);

fn accept_loop(listener: &UnixListener, loops: &Arc<Loops>, (stop, hold, clients): &Flags) {
    while !stop.load(Ordering::Relaxed) {
        if hold.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                if clients.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
                    clients.fetch_sub(1, Ordering::AcqRel);
                    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
                    let _ = (&stream).write_all(b"error: busy\n");
                    continue;
                }
                let (loops, count) = (Arc::clone(loops), Arc::clone(clients));
                let spawned = std::thread::Builder::new()
                    .name("sixfold-control-client".into())
                    .spawn(move || {
                        if let Err(e) = serve(stream, &loops) {
                            tracing::debug!(error = %e, "control client");
                        }
                        count.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    clients.fetch_sub(1, Ordering::AcqRel);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Reads one request line of at most [`MAX_REQUEST`] bytes.
fn read_request(stream: &UnixStream) -> io::Result<String> {
    let mut line = Vec::with_capacity(64);
    let mut byte = [0u8; 1];
    loop {
        match (&*stream).read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) if line.len() + 1 >= MAX_REQUEST => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request longer than the limit",
                ));
            }
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn serve(stream: UnixStream, loops: &Loops) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let reply = match read_request(&stream) {
        Ok(line) => answer(&line, loops),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            format!("error: a request is at most {MAX_REQUEST} bytes")
        }
        Err(e) => return Err(e),
    };
    let mut stream = stream;
    stream.write_all(reply.as_bytes())?;
    stream.write_all(b"\n")
}

/// The answer to one request line.
fn answer(line: &str, loops: &Loops) -> String {
    let mut words = line.split_whitespace();
    match words.next() {
        Some("stats") | None => match loops.snapshot() {
            Ok(s) => serde_json::to_string_pretty(&s).unwrap_or_else(|e| format!("error: {e}")),
            Err(e) => format!("error: {e}"),
        },
        Some("mapping") => {
            let protocol = match words.next() {
                Some("tcp") => Some(IpProtocol::Tcp),
                Some("udp") => Some(IpProtocol::Udp),
                Some("icmp") => Some(IpProtocol::Icmp),
                _ => None,
            };
            let inside = words.next().and_then(|a| a.parse::<SocketAddrV4>().ok());
            let (Some(protocol), Some(inside)) = (protocol, inside) else {
                return "error: usage: mapping <tcp|udp|icmp> <ipv4:port>".into();
            };
            match loops.mapping(protocol, inside) {
                Ok(found) => found.map_or_else(|| "none".to_string(), |e| e.to_string()),
                Err(e) => format!("error: {e}"),
            }
        }
        Some("upgrade") => {
            let path = line.trim().strip_prefix("upgrade").unwrap_or("").trim();
            let path = (!path.is_empty()).then(|| std::path::PathBuf::from(path));
            if path.as_ref().is_some_and(|p| !p.is_absolute()) {
                return "error: upgrade PATH: the router starts PATH itself: give an absolute path"
                    .into();
            }
            loops
                .upgrade(path)
                .unwrap_or_else(|e| format!("error: {e} (an upgrade may be under way)"))
        }
        Some("reload") => {
            let path = line.trim().strip_prefix("reload").unwrap_or("").trim();
            let path = (!path.is_empty()).then(|| std::path::PathBuf::from(path));
            if path.as_ref().is_some_and(|p| !p.is_absolute()) {
                return "error: reload PATH: the router reads PATH itself, from its own directory: give an absolute path".into();
            }
            loops
                .reload(path)
                .unwrap_or_else(|e| format!("error: {e} (a reload may be under way)"))
        }
        #[cfg(feature = "test-hooks")]
        Some("stall") => {
            let worker = words.next().and_then(|w| w.parse::<usize>().ok());
            let ms = words.next().and_then(|w| w.parse::<u64>().ok());
            match (worker, ms) {
                (Some(w), Some(ms)) if loops.stall(w, Duration::from_millis(ms)) => {
                    format!("stalling worker {w} for {ms} ms")
                }
                _ => "error: usage: stall <worker> <milliseconds>".into(),
            }
        }
        Some(other) => format!("error: unknown request {other:?}"),
    }
}
