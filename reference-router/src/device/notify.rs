//! The systemd notification protocol (`sd_notify(3)`), spoken by a process a
//! `Type=notify` unit runs: datagrams of `KEY=value` lines to the Unix socket
//! named by `$NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace).
//! The router says `READY=1` once its devices are up and its loops run,
//! `RELOADING=1` (with `MONOTONIC_USEC`) and `READY=1` around a reload,
//! `STOPPING=1`, `STATUS=…`, and `WATCHDOG=1` while its packet loops make
//! progress, when `$WATCHDOG_USEC` asks for it.
//!
//! Without `$NOTIFY_SOCKET` nothing is sent. A datagram that cannot be sent
//! (systemd gone) is logged once and otherwise ignored: the router's work
//! does not depend on being watched.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A sender of notifications to systemd (or whoever set `$NOTIFY_SOCKET`).
pub struct Notifier {
    socket: UnixDatagram,
    to: SocketAddr,
    /// How often systemd wants `WATCHDOG=1`, if it does.
    watchdog: Option<Duration>,
    warned: AtomicBool,
}

impl Notifier {
    /// The notifier `$NOTIFY_SOCKET` asks for (none when unset), with the
    /// watchdog interval of `$WATCHDOG_USEC` when `$WATCHDOG_PID` is unset or
    /// this process. A socket name that is not usable is an error.
    pub fn from_env() -> io::Result<Option<Notifier>> {
        let Some(name) = std::env::var_os("NOTIFY_SOCKET") else {
            return Ok(None);
        };
        let name = name.to_string_lossy().into_owned();
        let to = match name.strip_prefix('@') {
            Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name.as_bytes()),
            None => SocketAddr::from_pathname(&name),
        }
        .map_err(|e| io::Error::new(e.kind(), format!("NOTIFY_SOCKET={name:?}: {e}")))?;
        let ours = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && ours)
            .map(Duration::from_micros);
        Ok(Some(Notifier {
            socket: UnixDatagram::unbound()?,
            to,
            watchdog,
            warned: AtomicBool::new(false),
        }))
    }

    /// How often systemd wants to hear `WATCHDOG=1`, if it does.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Sends `lines` (`KEY=value`, one per line) in one datagram.
    pub fn send(&self, lines: &str) {
        if let Err(e) = self.socket.send_to_addr(lines.as_bytes(), &self.to)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(error = %e, "systemd notification not sent (NOTIFY_SOCKET)");
        }
    }

    /// `READY=1` with a status line.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    /// `RELOADING=1` with the monotonic clock (systemd ≥ 253 checks it).
    pub fn reloading(&self) {
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading",
            monotonic_usec()
        ));
    }

    /// `STOPPING=1`.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping: releasing sessions");
    }

    /// `STATUS=` alone.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={status}"));
    }

    /// `WATCHDOG=1`.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }
}

/// `CLOCK_MONOTONIC` in microseconds.
fn monotonic_usec() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test plays systemd: its socket receives the datagrams in order.
    #[test]
    fn datagrams_reach_the_socket_in_order() {
        let dir = std::env::temp_dir().join(format!("sixfold-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let systemd = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            socket: UnixDatagram::unbound().unwrap(),
            to: SocketAddr::from_pathname(&path).unwrap(),
            watchdog: None,
            warned: AtomicBool::new(false),
        };
        n.ready("up");
        n.reloading();
        n.watchdog();
        n.stopping();
        let mut buf = [0u8; 256];
        let mut got = Vec::new();
        for _ in 0..4 {
            let k = systemd.recv(&mut buf).unwrap();
            got.push(String::from_utf8_lossy(&buf[..k]).into_owned());
        }
        assert_eq!(got[0], "READY=1\nSTATUS=up");
        assert!(
            got[1].starts_with("RELOADING=1\nMONOTONIC_USEC="),
            "{}",
            got[1]
        );
        let usec: u64 = got[1].lines().nth(1).unwrap()[15..].parse().unwrap();
        assert!(usec > 0);
        assert_eq!(got[2], "WATCHDOG=1");
        assert_eq!(got[3], "STOPPING=1\nSTATUS=stopping: releasing sessions");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
