//! What the scale-out lab asks of the world: which box a subscriber's packets
//! take, what public address the internet sees, routes at the core, and a TCP
//! server that tells each connection its source.

use super::plan::{Plan, SERVER_V4_B, access_link};
use crate::lab::world::{World, netns_command};
use crate::lab::{REFLECTOR_PORT, SERVER_V4, SERVER_V6};
use anyhow::{Context, bail};
use sixfold_router::device;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

/// The TCP port of the core's "who am I" server (IPv4 and IPv6).
pub(super) const WHOAMI_PORT: u16 = 3479;

/// Starts a TCP server on [`WHOAMI_PORT`] of [`SERVER_V4`] and [`SERVER_V6`]
/// in the core: it writes each connection's source address and port and closes.
pub(super) fn start_whoami(plan: &Plan, world: &mut World) -> anyhow::Result<()> {
    for addr in [SERVER_V4, SERVER_V6] {
        let at = SocketAddr::new(addr.parse()?, WHOAMI_PORT);
        let listener = device::in_netns(&plan.core(), || TcpListener::bind(at))?;
        listener.set_nonblocking(true)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = std::sync::Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut c, from)) => {
                        let _ = c.write_all(from.to_string().as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        world.threads.push((stop, handle));
    }
    Ok(())
}

/// A new TCP connection from `src` (in the access namespace) to the core's
/// "who am I" server within `timeout`: the source it saw.
pub(super) fn tcp_whoami(
    plan: &Plan,
    src: IpAddr,
    timeout: Duration,
) -> anyhow::Result<SocketAddr> {
    let server: IpAddr = if src.is_ipv4() {
        SERVER_V4.parse()?
    } else {
        SERVER_V6.parse()?
    };
    let mut stream = connect_from(plan, src, SocketAddr::new(server, WHOAMI_PORT), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .context("no answer from the who-am-I server")?;
    Ok(text.trim().parse()?)
}

/// A TCP connection from `src` (in the access namespace) to `to`, made
/// within `timeout`.
pub(super) fn connect_from(
    plan: &Plan,
    src: IpAddr,
    to: SocketAddr,
    timeout: Duration,
) -> anyhow::Result<TcpStream> {
    let mut stream = device::in_netns(&plan.access(), || {
        let socket = nix::sys::socket::socket(
            if src.is_ipv4() {
                nix::sys::socket::AddressFamily::Inet
            } else {
                nix::sys::socket::AddressFamily::Inet6
            },
            nix::sys::socket::SockType::Stream,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        let stream = TcpStream::from(socket);
        Ok(stream)
    })?;
    // Bound to the subscriber's address: the access side hashes on it.
    bind_and_connect(&mut stream, src, to, timeout)?;
    Ok(stream)
}

fn bind_and_connect(
    stream: &mut TcpStream,
    src: IpAddr,
    to: SocketAddr,
    timeout: Duration,
) -> anyhow::Result<()> {
    use nix::sys::socket::{SockaddrStorage, bind, connect};
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    bind(fd, &SockaddrStorage::from(SocketAddr::new(src, 0)))?;
    stream.set_nonblocking(true)?;
    match connect(fd, &SockaddrStorage::from(to)) {
        Ok(()) | Err(nix::errno::Errno::EINPROGRESS) => {}
        Err(e) => bail!("connect from {src}: {e}"),
    }
    let deadline = std::time::Instant::now() + timeout;
    loop {
        // Connected once the peer address is known; refused or unreachable
        // shows as the socket's error.
        if let Some(e) = stream.take_error()? {
            bail!("connect from {src}: {e}");
        }
        if stream.peer_addr().is_ok() {
            stream.set_nonblocking(false)?;
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "connect from {src}: no answer in {} ms",
                timeout.as_millis()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A UDP socket of subscriber `src` in the access namespace.
pub(super) fn udp_socket(plan: &Plan, src: IpAddr) -> anyhow::Result<UdpSocket> {
    let s = device::in_netns(&plan.access(), || UdpSocket::bind(SocketAddr::new(src, 0)))?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    Ok(s)
}

/// The public endpoint the reflector on `server` sees for `socket` (three tries).
pub(super) fn external(socket: &UdpSocket, server: &str) -> anyhow::Result<SocketAddrV4> {
    let mut buf = [0u8; 64];
    for _ in 0..3 {
        socket.send_to(b"who am i", (server, REFLECTOR_PORT))?;
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            // An answer to an earlier try from the other server is skipped.
            if from.ip().to_string() == server {
                return Ok(std::str::from_utf8(&buf[..n])?.parse()?);
            }
        }
    }
    bail!("no answer from the reflector at {server}")
}

/// The endpoints seen by both reflectors: endpoint-independent mapping holds
/// when they are equal.
pub(super) fn external_twice(socket: &UdpSocket) -> anyhow::Result<(SocketAddrV4, SocketAddrV4)> {
    Ok((external(socket, SERVER_V4)?, external(socket, SERVER_V4_B)?))
}

/// The box the access side sends packets from `src` to `dst` through: a ping
/// with a TTL (hop limit) of 1 expires in the first box, whose access address
/// answers with time exceeded. (`ip route get` hashes differently from local
/// sockets, so it cannot tell.)
pub(super) fn box_for(plan: &Plan, src: IpAddr, dst: &str) -> anyhow::Result<u16> {
    let out = netns_command(&plan.access(), "ping")
        .args(["-c", "1", "-W", "1", "-t", "1", "-I", &src.to_string(), dst])
        .output()
        .context("running ping")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let from: Option<IpAddr> = text.lines().find_map(|l| {
        l.strip_prefix("From ")?
            .split_whitespace()
            .next()?
            .trim_end_matches(':')
            .parse()
            .ok()
    });
    from.and_then(|a| {
        plan.boxes().find(|&k| {
            let (_, b4, _, b6) = access_link(k);
            a == IpAddr::V4(b4) || a == IpAddr::V6(b6)
        })
    })
    .with_context(|| {
        format!(
            "no box answered a TTL-1 ping from {src} to {dst}: {}",
            text.trim()
        )
    })
}

/// The core's routes for `prefix` (`ip route show`), one line each; empty when
/// there is none.
pub(super) fn core_routes(plan: &Plan, prefix: &str) -> Vec<String> {
    let family = if prefix.contains(':') { "-6" } else { "-4" };
    std::process::Command::new("ip")
        .args([
            "-n",
            &plan.core(),
            family,
            "-o",
            "route",
            "show",
            "exact",
            prefix,
        ])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the core routes `prefix` through box `k` (among its next hops:
/// in a ring of backups another box announces it too, with a longer path).
pub(super) fn core_through(plan: &Plan, prefix: &str, k: u16) -> bool {
    let dev = format!("dev r{k}");
    core_routes(plan, prefix).iter().any(|l| {
        l.split(" nexthop ")
            .any(|hop| hop.contains(&format!("{dev} ")) || hop.ends_with(&dev))
    })
}

/// `curl` from `src` in the access namespace; the status line.
pub(super) fn curl_from(plan: &Plan, src: IpAddr, url: &str) -> anyhow::Result<String> {
    crate::lab::checks::curl_with(&plan.access(), &["--interface", &src.to_string()], url)
}

/// One ping from `src` to `dst` (waiting 1 s for the answer), running.
pub(super) fn ping_child(
    plan: &Plan,
    src: IpAddr,
    dst: &str,
) -> anyhow::Result<std::process::Child> {
    netns_command(&plan.access(), "ping")
        .args(["-c", "1", "-W", "1", "-I", &src.to_string(), dst])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("running ping")
}
