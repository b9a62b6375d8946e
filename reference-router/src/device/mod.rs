//! The only module with OS calls: TUN devices (opened inside network namespaces),
//! the I/O loop that feeds a [`Router`], and the control socket `sixfold stats` reads.
//!
//! A TUN is attached in a namespace by entering it, opening `/dev/net/tun` there and
//! returning (`TUNSETIFF` always acts in the caller's namespace; the fd keeps working
//! after the thread goes back). The device lives as long as the fd: when the router
//! exits, its TUNs disappear with their addresses and routes.
//!
//! The loop is single-threaded: `poll(2)` over every TUN and the control socket,
//! then up to [`BURST`] packets per readable device, each through
//! [`Router::process`] and straight out of the egress device; packets the router
//! made itself follow from [`Router::poll_transmit`].

use crate::config::Config;
use crate::{Direction, Interface, PacketBuf, Router, Verdict};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::{CloneFlags, setns};
use sixfold_rewrite::IpProtocol;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddrV4;
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tun_rs::{DeviceBuilder, SyncDevice};

/// Packets read from one device before the loop looks at the others.
pub const BURST: usize = 64;

/// Runs `f` inside network namespace `netns` (a name under `/run/netns`), then
/// returns the thread to the namespace it was in, also when `f` fails.
pub fn in_netns<T>(netns: &str, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let home = File::open("/proc/thread-self/ns/net")?;
    let target = File::open(Path::new("/run/netns").join(netns))
        .map_err(|e| io::Error::new(e.kind(), format!("network namespace {netns:?}: {e}")))?;
    setns(target.as_fd(), CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
    let result = f();
    setns(home.as_fd(), CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
    result
}

/// Opens (creates) TUN `name` with `mtu`, up, in `netns` or the current namespace.
pub fn open_tun(name: &str, netns: Option<&str>, mtu: u16) -> io::Result<SyncDevice> {
    let build = || {
        let dev = DeviceBuilder::new()
            .name(name)
            .mtu(mtu)
            .enable(true)
            .build_sync()?;
        dev.set_nonblocking(true)?;
        Ok(dev)
    };
    let dev = match netns {
        Some(ns) => in_netns(ns, build),
        None => build(),
    };
    dev.map_err(|e: io::Error| io::Error::new(e.kind(), format!("TUN {name:?}: {e}")))
}

/// The router's devices: the WAN and one per subscriber, in configuration order.
pub struct Devices {
    /// The uplink.
    pub wan: SyncDevice,
    /// Subscriber TUNs; index = subscriber id.
    pub subscribers: Vec<SyncDevice>,
}

impl Devices {
    /// Opens every TUN the configuration names.
    pub fn open(config: &Config) -> io::Result<Devices> {
        let wan = open_tun(
            &config.wan.name,
            config.wan.netns.as_deref(),
            config.wan.mtu,
        )?;
        let subscribers = config
            .subscriber
            .iter()
            .map(|s| open_tun(&s.name, s.netns.as_deref(), s.mtu))
            .collect::<io::Result<_>>()?;
        Ok(Devices { wan, subscribers })
    }

    fn device(&self, i: Interface) -> &SyncDevice {
        match i {
            Interface::Wan => &self.wan,
            Interface::Subscriber(s) => &self.subscribers[usize::from(s)],
        }
    }
}

/// Binds the control socket at `path`, replacing a stale one; refuses if a router
/// answers there already.
pub fn control_socket(path: &str) -> io::Result<UnixListener> {
    if Path::new(path).exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{path}: another router is running"),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener =
        UnixListener::bind(path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Answers one control request: `stats` (the snapshot as JSON) or
/// `mapping <tcp|udp|icmp> <addr:port>` (the external endpoint, or `none`).
fn answer(router: &Router, stream: UnixStream) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let reply = match words.next() {
        Some("stats") | None => {
            serde_json::to_string_pretty(&router.snapshot()).map_err(io::Error::other)?
        }
        Some("mapping") => {
            let protocol = match words.next() {
                Some("tcp") => Some(IpProtocol::Tcp),
                Some("udp") => Some(IpProtocol::Udp),
                Some("icmp") => Some(IpProtocol::Icmp),
                _ => None,
            };
            match (
                protocol,
                words.next().and_then(|a| a.parse::<SocketAddrV4>().ok()),
            ) {
                (Some(protocol), Some(inside)) => router
                    .mapping_of(protocol, inside)
                    .map_or_else(|| "none".to_string(), |e| e.to_string()),
                _ => "error: usage: mapping <tcp|udp|icmp> <ipv4:port>".to_string(),
            }
        }
        Some(other) => format!("error: unknown request {other:?}"),
    };
    let mut stream = stream;
    stream.write_all(reply.as_bytes())?;
    stream.write_all(b"\n")
}

fn send(devices: &Devices, to: Interface, packet: &[u8]) {
    match devices.device(to).send(packet) {
        Ok(_) => {}
        // A full TUN queue drops, as a full link would.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => tracing::warn!(?to, error = %e, "TUN write failed"),
    }
}

/// Runs the router over `devices` until `stop` is set.
pub fn run(
    router: &mut Router,
    devices: &Devices,
    control: Option<&UnixListener>,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut buf = PacketBuf::new();
    let order: Vec<Interface> = std::iter::once(Interface::Wan)
        .chain((0..devices.subscribers.len()).map(|s| Interface::Subscriber(s as u16)))
        .collect();
    while !stop.load(Ordering::Relaxed) {
        let mut fds: Vec<PollFd<'_>> = order
            .iter()
            .map(|&i| PollFd::new(devices.device(i).as_fd(), PollFlags::POLLIN))
            .collect();
        if let Some(c) = control {
            fds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
        }
        // A shaped packet due sooner than the idle tick wakes the loop (1 ms
        // granularity: the shaper's bucket holds 4 ms, so the line stays full).
        let wait = router
            .next_wakeup(Instant::now())
            .map_or(100, |d| d.as_micros().div_ceil(1000).min(100) as u16);
        match poll(&mut fds, PollTimeout::from(wait)) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        for (k, &from) in order.iter().enumerate() {
            if !ready[k] {
                continue;
            }
            let direction = match from {
                Interface::Wan => Direction::Inbound,
                Interface::Subscriber(s) => Direction::Outbound(s),
            };
            for _ in 0..BURST {
                let n = match devices.device(from).recv(buf.storage_mut()) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                buf.set_len(n);
                match router.process(direction, &mut buf, Instant::now()) {
                    Verdict::Forward(to) | Verdict::Reply(to) => send(devices, to, buf.packet()),
                    Verdict::Drop(reason) => tracing::trace!(?from, reason = reason.name(), "drop"),
                    Verdict::Held | Verdict::Queued(_) => {}
                }
                while let Some(to) = router.poll_transmit(&mut buf) {
                    send(devices, to, buf.packet());
                }
            }
        }
        router.tick(Instant::now());
        while let Some(to) = router.poll_transmit(&mut buf) {
            send(devices, to, buf.packet());
        }
        if let Some(c) = control
            && ready.last() == Some(&true)
        {
            while let Ok((stream, _)) = c.accept() {
                if let Err(e) = answer(router, stream) {
                    tracing::debug!(error = %e, "control request failed");
                }
            }
        }
    }
    Ok(())
}
