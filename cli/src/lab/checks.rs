//! What the lab drives through the router and checks: ping, curl, getaddrinfo's
//! choice, the firewall, transition tunnels and a UDP hole punch through the
//! hairpin — each one line of the report.

use super::args::{
    DUAL_STACK_NAME, HTTP_PORT, LabArgs, REFLECTOR_PORT, SERVER_V4, SERVER_V6, subscriber_v4,
    subscriber_v6_host,
};
pub(super) use super::world::stats;
use super::world::{World, first_address, hosts_file, netns_command, slaac_address};
use super::xlat;
use anyhow::{Context, bail};
use sixfold_router::{Config, DropReason, device};
use std::net::{SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Runs one check and prints its line; returns whether it passed.
pub(super) fn check(label: &str, result: anyhow::Result<String>) -> bool {
    match result {
        Ok(detail) => {
            println!("  ok    {label:<44} {detail}");
            true
        }
        Err(e) => {
            println!("  FAIL  {label:<44} {e:#}");
            false
        }
    }
}

pub(super) fn ping(ns: &str, v6: bool, to: &str) -> anyhow::Result<String> {
    let mut c = netns_command(ns, "ping");
    if v6 {
        c.arg("-6");
    }
    let out = c
        .args(["-c", "3", "-i", "0.2", "-W", "2", to])
        .output()
        .context("running ping")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or("no summary")
        .to_string();
    let rtt = text
        .lines()
        .find(|l| l.contains("rtt"))
        .and_then(|l| l.split('=').nth(1))
        .unwrap_or("")
        .trim()
        .to_string();
    if !out.status.success() {
        bail!("{summary}");
    }
    Ok(format!("{summary}; rtt min/avg/max/mdev {rtt}"))
}

pub(super) fn curl(ns: &str, url: &str) -> anyhow::Result<String> {
    curl_with(ns, &[], url)
}

/// `curl` in `ns` with `extra` arguments (`--interface ADDR`); the status line.
pub(super) fn curl_with(ns: &str, extra: &[&str], url: &str) -> anyhow::Result<String> {
    let out = netns_command(ns, "curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "--max-time",
            "5",
            "-w",
            "%{http_code} %{size_download} B in %{time_total} s",
        ])
        .args(extra)
        .arg(url)
        .output()
        .context("running curl")?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || !text.starts_with("200") {
        bail!("{text} {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(format!("HTTP {text}"))
}

/// The lab's "internet" servers in namespace `wan_ns`: the web server on
/// [`HTTP_PORT`] (IPv4 and IPv6) and the UDP reflector on [`SERVER_V4`].
pub(super) fn start_servers(
    prefix: &str,
    wan_ns: &str,
    world: &mut World,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    // A private directory (0700, a fresh name): nobody can plant a link in it.
    let template = std::env::temp_dir().join(format!("sixfold-lab-{prefix}-XXXXXX"));
    let dir = nix::unistd::mkdtemp(&template)
        .with_context(|| format!("creating a private directory like {}", template.display()))?;
    world.files.push(dir.clone());
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join("index.html"))
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, b"hello from the sixfold lab's internet\n")
        })
        .context("writing the lab's web page")?;
    let server = netns_command(wan_ns, "python3")
        .args([
            "-m",
            "http.server",
            &HTTP_PORT.to_string(),
            "--bind",
            "::",
            "--directory",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting python3 -m http.server")?;
    world.children.push(server);
    reflector(wan_ns, SERVER_V4)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let target: SocketAddr = format!("{SERVER_V4}:{HTTP_PORT}").parse()?;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let up = device::in_netns(wan_ns, || {
            Ok(TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_ok())
        })?;
        if up {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the lab's HTTP server did not come up in 10 s")
}

/// A UDP reflector (as STUN) on `addr`:[`REFLECTOR_PORT`] in namespace `ns`:
/// answers each datagram with the sender's address, for the life of the lab.
pub(super) fn reflector(ns: &str, addr: &str) -> anyhow::Result<()> {
    let reflector = device::in_netns(ns, || UdpSocket::bind((addr, REFLECTOR_PORT)))?;
    reflector.set_read_timeout(Some(Duration::from_millis(100)))?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        loop {
            match reflector.recv_from(&mut buf) {
                Ok((_, from)) => {
                    let _ = reflector.send_to(from.to_string().as_bytes(), from);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    });
    Ok(())
}

/// The external endpoint the WAN sees for `socket`, asked of the reflector.
pub(super) fn external(socket: &UdpSocket) -> anyhow::Result<SocketAddrV4> {
    socket.send_to(b"who am i", (SERVER_V4, REFLECTOR_PORT))?;
    let mut buf = [0u8; 64];
    let (n, _) = socket
        .recv_from(&mut buf)
        .context("no answer from the reflector")?;
    Ok(std::str::from_utf8(&buf[..n])?.parse()?)
}

/// UDP hole punching between sub1 and sub2 through their public endpoints.
fn hairpin(args: &LabArgs) -> anyhow::Result<String> {
    let bind = |k: u16, port: u16| -> anyhow::Result<UdpSocket> {
        let s = device::in_netns(&format!("{}-sub{k}", args.prefix), || {
            UdpSocket::bind((subscriber_v4(k).as_str(), port))
        })?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(s)
    };
    let (a, b) = (bind(1, 6666)?, bind(2, 5555)?);
    let (ea, eb) = (external(&a)?, external(&b)?);
    // sub2 opens its mapping towards sub1's endpoint (needed under APDF; under
    // EIF this one already arrives, and is read away).
    b.send_to(b"punch", ea)?;
    a.set_read_timeout(Some(Duration::from_millis(300)))?;
    let mut buf = [0u8; 64];
    let _ = a.recv_from(&mut buf);
    a.set_read_timeout(Some(Duration::from_secs(2)))?;
    a.send_to(b"hello", eb)?;
    let (_, seen) = b
        .recv_from(&mut buf)
        .context("sub2 got nothing through the hairpin")?;
    if seen != SocketAddr::V4(ea) {
        bail!("sub2 saw {seen}, not sub1's external endpoint {ea}");
    }
    Ok(format!(
        "sub1 {}:6666 → {eb} (sub2's public endpoint); sub2 saw {seen}",
        subscriber_v4(1)
    ))
}

/// A Teredo router solicitation as a qualifying client sends it (RFC 4380 §5.2.1:
/// link-local source with the cone bit, all-routers destination).
fn teredo_rs() -> Vec<u8> {
    let src: std::net::Ipv6Addr = "fe80::8000:ffff:ffff:fffe".parse().expect("literal");
    let dst: std::net::Ipv6Addr = "ff02::2".parse().expect("literal");
    let mut p = vec![0x60, 0, 0, 0, 0, 8, 58, 255];
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[133, 0, 0, 0, 0, 0, 0, 0]);
    let c = (sixfold_checksum::pseudo::ipv6(src, dst, 58, 8) + sixfold_checksum::sum(&p[40..]))
        .checksum();
    p[42..44].copy_from_slice(&c.to_be_bytes());
    p
}

/// Sends Teredo from sub1 — to the standard port, and on port 443 behind an origin
/// indication (the evasion a first-nibble rule misses) — and reports how many the
/// router's counters say it blocked.
fn tunnel_attempts(args: &LabArgs, socket: &str) -> anyhow::Result<(u64, String)> {
    let count = || -> anyhow::Result<u64> { Ok(stats(socket)?.drops[DropReason::TunnelTeredo]) };
    let before = count()?;
    let s = device::in_netns(&format!("{}-sub1", args.prefix), || {
        UdpSocket::bind((subscriber_v4(1).as_str(), 0))
    })?;
    let rs = teredo_rs();
    s.send_to(&rs, (SERVER_V4, 3544))?;
    let mut evasive = vec![0, 0, 0x6d ^ 0xff, 0x20 ^ 0xff, !198, !51, !100, !1];
    evasive.extend_from_slice(&rs);
    s.send_to(&evasive, (SERVER_V4, 443))?;
    std::thread::sleep(Duration::from_millis(300));
    let blocked = count()? - before;
    Ok((
        blocked,
        format!(
            "{blocked} of 2 Teredo packets blocked (UDP 3544; port 443 behind an origin indication)"
        ),
    ))
}

/// A TCP connection from the WAN to a listener on sub1's IPv6 address must not get
/// through the router's firewall: the SYN is held (and refused after the hold).
fn unsolicited_v6(args: &LabArgs, socket: &str) -> anyhow::Result<String> {
    let held = || -> anyhow::Result<u64> { Ok(stats(socket)?.drops[DropReason::SynHeld]) };
    let ns = format!("{}-sub1", args.prefix);
    let addr = slaac_address(&ns, "sub1").unwrap_or_else(|| subscriber_v6_host(1));
    let target = SocketAddr::new(addr.parse()?, 8081);
    let _listener = device::in_netns(&ns, || std::net::TcpListener::bind(target))?;
    let before = held()?;
    let attempt = device::in_netns(&format!("{}-wan", args.prefix), || {
        Ok(TcpStream::connect_timeout(
            &target,
            Duration::from_millis(1500),
        ))
    })?;
    let held = held()? - before;
    match attempt {
        Ok(_) => bail!("connected to {target}: the firewall let it in"),
        Err(_) if held >= 1 => Ok(format!(
            "blocked: connect to {target} got no answer in 1.5 s, the router held the SYN"
        )),
        Err(e) => bail!("connect to {target} failed ({e}) but the router held no SYN"),
    }
}

/// `traceroute -6` from `ns` to `to`: the hops, one line.
fn traceroute(ns: &str, to: &str) -> anyhow::Result<String> {
    let out = netns_command(ns, "traceroute")
        .args(["-6", "-n", "-q", "1", "-w", "1", "-m", "8", to])
        .output()
        .context("running traceroute")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let hops: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    if !out.status.success() || hops.last() != Some(&to) {
        bail!(
            "hops {hops:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(format!("{} hops: {}", hops.len(), hops.join(" → ")))
}

/// The IPv6-only subscriber (`--ipv6-only`): DNS64, NAT64 and the CLAT.
fn ipv6_only(args: &LabArgs, world: &mut World) -> anyhow::Result<bool> {
    let k = args.all_subscribers();
    let ns = format!("{}-sub{k}", args.prefix);
    let dev = format!("sub{k}");
    let v6 = slaac_address(&ns, &dev).unwrap_or_else(|| subscriber_v6_host(k));
    println!(
        "sub{k} ({ns}): IPv6-only {v6}; DNS64 [{}]; CLAT (tayga) 192.0.0.1 as {} (464XLAT)",
        xlat::DNS64,
        xlat::clat_address(&v6)?
    );
    hosts_file(&ns, world)?;
    let synthesised = xlat::resolve_aaaa(&ns, xlat::V4ONLY_NAME);
    let mut ok = check(
        &format!("DNS64: AAAA {}", xlat::V4ONLY_NAME),
        synthesised
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .and_then(|a| match a.first() {
                Some(a) => Ok(format!("{a} (synthesised from {SERVER_V4})")),
                None => bail!("no AAAA record"),
            }),
    );
    let target = synthesised.ok().and_then(|a| a.first().copied());
    ok &= check(
        &format!("{} (NAT64)", xlat::url(xlat::V4ONLY_NAME)),
        curl(&ns, &xlat::url(xlat::V4ONLY_NAME)),
    );
    ok &= check(&format!("ping -6 {SERVER_V6}"), ping(&ns, true, SERVER_V6));
    ok &= check(
        &format!("ping {SERVER_V4} (CLAT)"),
        ping(&ns, false, SERVER_V4),
    );
    ok &= check(
        &format!("{} (CLAT)", xlat::url(SERVER_V4)),
        curl(&ns, &xlat::url(SERVER_V4)),
    );
    if let Some(t) = target {
        ok &= check(
            &format!("traceroute -6 {t}"),
            traceroute(&ns, &t.to_string()),
        );
    }
    Ok(ok)
}

/// One dual-stack subscriber's checks: name resolution, ping and HTTP both ways.
fn subscriber(args: &LabArgs, k: u16, world: &mut World) -> anyhow::Result<bool> {
    let mut ok = true;
    let ns = format!("{}-sub{k}", args.prefix);
    let v6 = match slaac_address(&ns, &format!("sub{k}")) {
        Some(a) => format!("{a} (SLAAC from the router's RA)"),
        None => format!("{} (static)", subscriber_v6_host(k)),
    };
    println!(
        "sub{k} ({ns}): IPv4 {} (static, NATed), IPv6 {v6}",
        subscriber_v4(k)
    );
    hosts_file(&ns, world)?;
    ok &= check(
        &format!("getaddrinfo({DUAL_STACK_NAME}) prefers IPv6"),
        first_address(&ns).and_then(|a| {
            if a == SERVER_V6 {
                Ok(format!("first: {a} (RFC 6724)"))
            } else {
                Err(anyhow::anyhow!("first: {a}"))
            }
        }),
    );
    ok &= check(&format!("ping {SERVER_V4}"), ping(&ns, false, SERVER_V4));
    ok &= check(&format!("ping -6 {SERVER_V6}"), ping(&ns, true, SERVER_V6));
    ok &= check(
        &format!("http://{SERVER_V4}:{HTTP_PORT}/"),
        curl(&ns, &format!("http://{SERVER_V4}:{HTTP_PORT}/")),
    );
    ok &= check(
        &format!("http://[{SERVER_V6}]:{HTTP_PORT}/"),
        curl(&ns, &format!("http://[{SERVER_V6}]:{HTTP_PORT}/")),
    );
    Ok(ok)
}

pub(super) fn traffic(
    args: &LabArgs,
    config: &Config,
    world: &mut World,
    stop: &AtomicBool,
) -> anyhow::Result<bool> {
    start_servers(&args.prefix, &format!("{}-wan", args.prefix), world, stop)?;
    let mut ok = true;
    for k in 1..=args.subscribers() {
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        ok &= subscriber(args, k, world)?;
    }
    if args.ipv6_only {
        ok &= ipv6_only(args, world)?;
    }
    println!("IPv6 simple security (RFC 6092):");
    ok &= check(
        "WAN -> sub1, unsolicited TCP over IPv6",
        unsolicited_v6(args, &config.router.control_socket),
    );
    println!(
        "transition tunnels (blocking {}):",
        if args.allow_tunnels { "off" } else { "on" }
    );
    let attempts = tunnel_attempts(args, &config.router.control_socket);
    ok &= check(
        "Teredo from sub1",
        attempts.and_then(|(blocked, text)| match (args.allow_tunnels, blocked) {
            (false, 2) | (true, 0) => Ok(text),
            _ => Err(anyhow::anyhow!(text)),
        }),
    );
    if args.subscribers() >= 2 {
        println!("hairpin (subscriber to subscriber through public addresses):");
        let result = hairpin(args);
        if config.nat.hairpin {
            ok &= check("UDP hole punch sub1 → sub2", result);
        } else {
            // With hairpinning off the punch must fail.
            ok &= check(
                "UDP hole punch sub1 → sub2 (hairpin off: must fail)",
                match result {
                    Ok(r) => Err(anyhow::anyhow!("went through: {r}")),
                    Err(e) => Ok(format!("blocked: {e:#}")),
                },
            );
        }
    }
    Ok(ok)
}
