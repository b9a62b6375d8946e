//! End to end in network namespaces (needs root): the `sixfold` binary runs the lab
//! world, real programs (ping, curl against `python3 -m http.server`, iperf3) talk
//! through the router, the kernel of every namespace validates every checksum
//! (`InCsumErrors` must not move) and tshark on the receiving side finds no bad one.
//!
//! Without root these tests say so and pass, unless `SIXFOLD_REQUIRE_ORACLES` is set
//! (the test command sets it), where missing root is a failure.

mod common;
use common::*;
use sixfold_router::{DropReason, Snapshot};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn real_traffic_through_the_router_keeps_every_checksum() {
    if !can_run("real_traffic_through_the_router_keeps_every_checksum") {
        return;
    }
    // The default: offloaded super-packets, a worker per CPU (two here).
    traffic_keeps_every_checksum("sfe2e", &["--workers", "2"], true);
}

#[test]
fn real_traffic_without_offload_keeps_every_checksum() {
    if !can_run("real_traffic_without_offload_keeps_every_checksum") {
        return;
    }
    traffic_keeps_every_checksum("sfe2n", &["--offload", "off", "--workers", "1"], false);
}

/// ping, curl and iperf3 (TCP both ways, UDP) over IPv4 and IPv6 through the lab
/// started with `args`: every kernel's `InCsumErrors` stays, and tshark on both
/// TUNs finds no bad checksum among what the router wrote.
fn traffic_keeps_every_checksum(prefix: &str, args: &[&str], offload: bool) {
    for p in ["ping", "curl", "iperf3", "tshark", "python3"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let mut lab = Lab::start(prefix, args);
    let (sub, wan) = (lab.ns("sub1"), lab.ns("wan"));
    let before: Vec<u64> = [&sub, &wan].iter().map(|ns| csum_errors(ns)).collect();
    let dir = std::env::temp_dir().join(format!("sixfold-{prefix}"));
    std::fs::create_dir_all(&dir).unwrap();
    let (cap_wan, cap_sub) = (dir.join("wan.pcapng"), dir.join("sub.pcapng"));
    let _ = std::fs::remove_file(&cap_wan);
    let _ = std::fs::remove_file(&cap_sub);
    let mut tw = capture(&wan, "wan", &cap_wan);
    let mut ts = capture(&sub, "sub1", &cap_sub);

    let mut iperf = Command::new("ip")
        .args(["netns", "exec", &wan, "iperf3", "-s", "-B", "::"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::fs::write(dir.join("index.html"), vec![b'x'; 100_000]).unwrap();
    let mut http = Command::new("ip")
        .args([
            "netns",
            "exec",
            &wan,
            "python3",
            "-m",
            "http.server",
            "8081",
            "--bind",
            "::",
            "--directory",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));

    ok(
        &sub,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.80"],
    );
    ok(
        &sub,
        &[
            "ping",
            "-6",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
            "2001:db8:ffff::80",
        ],
    );
    for url in [
        "http://192.0.2.80:8081/index.html",
        "http://[2001:db8:ffff::80]:8081/index.html",
    ] {
        let got = ok(
            &sub,
            &[
                "curl",
                "-sS",
                "--max-time",
                "10",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{size_download}",
                url,
            ],
        );
        assert_eq!(got, "200 100000", "{url}");
    }
    for (server, family) in [("192.0.2.80", "-4"), ("2001:db8:ffff::80", "-6")] {
        // Bounded by bytes: the test binary's router is a debug build.
        for mode in [
            &["-n", "20M"][..],
            &["-R", "-n", "20M"][..],
            &["-u", "-b", "40M", "-t", "1"][..],
        ] {
            let mut args = vec!["iperf3", family, "-c", server, "-J"];
            args.extend_from_slice(mode);
            let out = ok(&sub, &args);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            let end = &v["end"];
            let bytes = end["sum_received"]["bytes"]
                .as_u64()
                .or_else(|| end["sum"]["bytes"].as_u64())
                .unwrap_or(0);
            assert!(
                bytes > 1_000_000,
                "iperf3 {args:?} moved only {bytes} bytes"
            );
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    interrupt_all(&mut [&mut iperf, &mut http, &mut tw, &mut ts]);
    let after: Vec<u64> = [&sub, &wan].iter().map(|ns| csum_errors(ns)).collect();
    assert_eq!(before, after, "kernel InCsumErrors moved in [sub1, wan]");
    let to_wan = "ip.src==203.0.113.0/24 or ipv6.src==2001:db8:1:1::/64";
    let to_sub = "ip.dst==100.64.1.1 or ipv6.dst==2001:db8:1:1::/64";
    assert_no_bad_checksums(&[(cap_wan.as_path(), to_wan), (cap_sub.as_path(), to_sub)]);
    let stats = Command::new(SIXFOLD)
        .args(["stats", "--socket", &format!("/run/sixfold-{prefix}.sock")])
        .output()
        .unwrap();
    assert!(stats.status.success());
    let s: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(s["datapath"]["offload"], offload, "{}", s["datapath"]);
    assert!(s["ipv4"]["outbound"]["tcp"]["packets"].as_u64().unwrap() > 1000);
    assert!(s["ipv6"]["outbound"]["tcp"]["packets"].as_u64().unwrap() > 1000);
    assert!(s["ipv4"]["outbound"]["icmp"]["packets"].as_u64().unwrap() >= 3);
    assert_eq!(s["drops"]["bad_ip_checksum"], 0);
    assert_eq!(s["drops"]["malformed"], 0);
    // iperf3's TCP came as super-packets with offload, and left whole: every
    // TUN of the lab takes offload, so none was cut in software.
    let d = &s["datapath"];
    let whole = d["super_packets_whole"].as_u64().unwrap();
    assert_eq!(whole > 100, offload, "{d}");
    assert_eq!(d["super_packets_segmented"], 0, "{d}");
    assert!(d["packets_read"].as_u64().unwrap() > d["wakeups"].as_u64().unwrap());
    let status = lab.stop();
    assert!(status.success(), "lab exited with {status}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// TCP between two subscribers through their public endpoints (the hairpin),
/// with two workers: each subscriber's ports are in its own worker's slice, so
/// every packet crosses from one worker to the other on the way — and the bytes
/// arrive whole.
#[test]
fn tcp_hairpins_across_workers() {
    if !can_run("tcp_hairpins_across_workers") {
        return;
    }
    let mut lab = Lab::start(
        "sfhair",
        &["--workers", "2", "--filtering", "eif", "--subscribers", "2"],
    );
    let (sub1, sub2, wan) = (lab.ns("sub1"), lab.ns("sub2"), lab.ns("wan"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/hairpin_tcp.py");
    let mut sink = Command::new("ip")
        .args(["netns", "exec", &wan, "python3", "-c"])
        .arg("import socket\ns=socket.create_server(('192.0.2.80', 7070))\nwhile True: s.accept()")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut server = Command::new("ip")
        .args([
            "netns",
            "exec",
            &sub2,
            "python3",
            script,
            "serve",
            "100.64.1.2",
            "7000",
        ])
        .args(["192.0.2.80", "7070"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "mapped");
    let socket = format!("/run/sixfold-{}.sock", lab.prefix);
    let public = sixfold::control::request(&socket, "mapping tcp 100.64.1.2:7000").unwrap();
    let public: std::net::SocketAddrV4 = public.trim().parse().unwrap();
    let sent = ok(
        &sub1,
        &[
            "python3",
            script,
            "send",
            &public.ip().to_string(),
            &public.port().to_string(),
            "20000000",
        ],
    );
    let got = lines.next().unwrap().unwrap();
    assert_eq!(got, sent.trim(), "bytes through the hairpin");
    let _ = server.wait();
    let _ = sink.kill();
    let _ = sink.wait();
    let s: Snapshot =
        serde_json::from_str(&sixfold::control::request(&socket, "stats").unwrap()).unwrap();
    assert_eq!(s.datapath.workers, 2);
    assert!(s.hairpinned > 100, "hairpinned {}", s.hairpinned);
    assert!(
        s.datapath.handoffs > 100,
        "hand-offs {}",
        s.datapath.handoffs
    );
    assert_eq!(s.datapath.handoff_full, 0);
    let status = lab.stop();
    assert!(status.success());
}

#[test]
fn lab_runs_and_leaves_nothing_behind() {
    if !can_run("lab_runs_and_leaves_nothing_behind") {
        return;
    }
    let out = Command::new(SIXFOLD)
        .args(["lab", "--prefix", "sflab", "--subscribers", "3"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sixfold lab failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Five checks per subscriber, the firewall, Teredo, the hairpin.
    assert_eq!(text.matches("  ok ").count(), 3 * 5 + 3, "{text}");
    assert!(text.contains("traffic split: IPv6 "), "{text}");
    assert!(text.contains("hairpinned: "), "{text}");
    assert!(
        text.contains("transition-tunnel packets blocked: teredo 2"),
        "{text}"
    );
    let left = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(!left.contains("sflab-"), "namespaces left behind: {left}");
    assert!(!Path::new("/run/sixfold-sflab.sock").exists());
    // Hairpin off: the punch fails, which the lab reports as expected.
    let out = Command::new(SIXFOLD)
        .args([
            "lab",
            "--prefix",
            "sflab",
            "--hairpin",
            "off",
            "--filtering",
            "eif",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("blocked:"), "{text}");
    assert!(text.contains("hairpin_off"), "{text}");
    // Tunnels allowed: the same Teredo packets go through.
    let out = Command::new(SIXFOLD)
        .args([
            "lab",
            "--prefix",
            "sflab",
            "--subscribers",
            "1",
            "--allow-tunnels",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("0 of 2 Teredo packets blocked"), "{text}");
}

#[test]
fn sigterm_and_sigint_tear_the_world_down() {
    if !can_run("sigterm_and_sigint_tear_the_world_down") {
        return;
    }
    let mut lab = Lab::start("sfsig", &["--subscribers", "1"]);
    let list = || {
        String::from_utf8_lossy(
            &Command::new("ip")
                .args(["netns", "list"])
                .output()
                .unwrap()
                .stdout,
        )
        .into_owned()
    };
    assert!(list().contains("sfsig-sub1") && list().contains("sfsig-wan"));
    assert!(Path::new("/run/sixfold-sfsig.sock").exists());
    assert!(lab.stop().success());
    assert!(!list().contains("sfsig-"), "left: {}", list());
    assert!(!Path::new("/run/sixfold-sfsig.sock").exists());
    let mut lab = Lab::start("sfsig", &["--subscribers", "1"]);
    let pid = nix::unistd::Pid::from_raw(lab.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    assert!(lab.child.wait().unwrap().success());
    assert!(!list().contains("sfsig-"), "left: {}", list());
}

/// A daemon started in a namespace by `ip netns exec` (which execs it, so the
/// child's PID is the daemon's): SIGTERM and wait on drop. miredo takes more than a
/// second to exit and its own children go with it.
struct Daemon(Child);

impl Daemon {
    fn start(ns: &str, args: &[&str], log: &Path) -> Daemon {
        let log = std::fs::File::create(log).unwrap();
        Daemon(
            Command::new("ip")
                .args(["netns", "exec", ns])
                .args(args)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

/// The Teredo address miredo configured on `teredo` in `ns`, if it qualified.
fn teredo_address(ns: &str) -> Option<std::net::Ipv6Addr> {
    let out = exec(ns, &["ip", "-6", "-o", "addr", "show", "dev", "teredo"]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|w| w.split('/').next()?.parse::<std::net::Ipv6Addr>().ok())
        .find(|a| a.segments()[0] == 0x2001 && a.segments()[1] == 0)
}

/// The UDP port miredo's client socket is bound to in `ns`.
fn miredo_port(ns: &str) -> u16 {
    let out = ok(ns, &["ss", "-uanpH"]);
    out.lines()
        .filter(|l| l.contains("\"miredo\""))
        .find_map(|l| {
            l.split_whitespace()
                .nth(3)?
                .rsplit(':')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no miredo socket in {ns}: {out}"))
}

/// Real Teredo (Debian's miredo client and miredo-server) through the router: with
/// blocking on, the client never qualifies and the router counts what it dropped;
/// with `--allow-tunnels` the same setup qualifies at once, and the Teredo address
/// the server handed out spells exactly the router's NAT mapping of the client's
/// socket — proof that the router, not the setup, stops it, and of what leaks.
#[test]
fn real_miredo_qualifies_only_when_tunnels_are_allowed() {
    if !can_run("real_miredo_qualifies_only_when_tunnels_are_allowed") {
        return;
    }
    for p in ["miredo", "miredo-server", "ss"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let dir = std::env::temp_dir().join("sixfold-miredo");
    std::fs::create_dir_all(&dir).unwrap();
    // miredo-server also listens on the next address (.11): both must be local.
    std::fs::write(dir.join("server.conf"), "ServerBindAddress 192.0.2.10\n").unwrap();
    std::fs::write(
        dir.join("client.conf"),
        "RelayType client\nInterfaceName teredo\nServerAddress 192.0.2.10\n",
    )
    .unwrap();
    let path = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    let run = |extra: &[&str], wait: Duration| {
        let lab = Lab::start("sfmiredo", &[&["--subscribers", "1"], extra].concat());
        let (sub, wan) = (lab.ns("sub1"), lab.ns("wan"));
        for a in ["192.0.2.10/32", "192.0.2.11/32"] {
            ok(&wan, &["ip", "addr", "add", a, "dev", "lo"]);
        }
        let _server = Daemon::start(
            &wan,
            &[
                "miredo-server",
                "-f",
                "-c",
                &path("server.conf"),
                "-p",
                &path("server.pid"),
            ],
            &dir.join("server.log"),
        );
        let _client = Daemon::start(
            &sub,
            &[
                "miredo",
                "-f",
                "-c",
                &path("client.conf"),
                "-p",
                &path("client.pid"),
            ],
            &dir.join("client.log"),
        );
        let start = std::time::Instant::now();
        let mut address = None;
        while start.elapsed() < wait && address.is_none() {
            std::thread::sleep(Duration::from_millis(250));
            address = teredo_address(&sub);
        }
        let port = miredo_port(&sub);
        let socket = format!("/run/sixfold-{}.sock", lab.prefix);
        let stats = sixfold::control::request(&socket, "stats").unwrap();
        let stats: Snapshot = serde_json::from_str(&stats).unwrap();
        let mapping =
            sixfold::control::request(&socket, &format!("mapping udp 100.64.1.1:{port}")).unwrap();
        (address, stats.drops[DropReason::TunnelTeredo], mapping)
    };

    // Blocking on (the default): miredo sends its router solicitations every few
    // seconds; none gets through in 12 s, while the allowed run below qualifies in ~1 s.
    let (address, dropped, _) = run(&[], Duration::from_secs(12));
    assert_eq!(
        address, None,
        "miredo qualified through the blocking router"
    );
    assert!(dropped >= 2, "router dropped {dropped} Teredo packets");

    let (address, dropped, mapping) = run(&["--allow-tunnels"], Duration::from_secs(20));
    let address = address.expect("miredo did not qualify with tunnels allowed");
    assert_eq!(dropped, 0);
    let teredo = sixfold_teredo::Teredo::decode(address).unwrap();
    assert_eq!(teredo.server, std::net::Ipv4Addr::new(192, 0, 2, 10));
    let external = std::net::SocketAddrV4::new(teredo.client, teredo.port);
    assert_eq!(
        mapping.trim(),
        external.to_string(),
        "Teredo address {address}"
    );
}

/// Bytes the WAN shaper has sent, (IPv4, IPv6), from the lab's router.
fn wan_shaped(socket: &str) -> (u64, u64) {
    let stats: Snapshot =
        serde_json::from_str(&sixfold::control::request(socket, "stats").unwrap()).unwrap();
    let wan = &stats.shapers[0];
    assert_eq!(wan.name, "wan", "{stats:?}");
    (wan.ipv4.bytes, wan.ipv6.bytes)
}

/// Both families saturate a 40 Mbit/s uplink at once (iperf3 TCP, sub1 → WAN):
/// under strict priority IPv6 gets at least 90% of what the shaper sends while both
/// run, and the line stays full. "While both run" is from the launch to the first
/// client's end, read from the router's counters: a starved IPv4 client may connect
/// only once IPv6 is done and then run its own five seconds alone.
#[test]
fn ipv6_gets_the_line_under_strict_priority() {
    if !can_run("ipv6_gets_the_line_under_strict_priority") {
        return;
    }
    assert!(
        have("iperf3"),
        "iperf3 is missing (scripts/test.sh installs it)"
    );
    let lab = Lab::start("sfprio", &["--subscribers", "1", "--wan-rate", "40"]);
    let (sub, wan) = (lab.ns("sub1"), lab.ns("wan"));
    let socket = format!("/run/sixfold-{}.sock", lab.prefix);
    let servers: Vec<Daemon> = ["5301", "5302"]
        .iter()
        .map(|port| {
            Daemon::start(
                &wan,
                &["iperf3", "-s", "-1", "-p", port],
                &std::env::temp_dir().join(format!("sixfold-iperf-{port}.log")),
            )
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (done, first) = mpsc::channel();
    let client = |server: &str, port: &str| {
        let (sub, server, port) = (sub.clone(), server.to_owned(), port.to_owned());
        let done = done.clone();
        std::thread::spawn(move || {
            let out = exec(&sub, &["iperf3", "-c", &server, "-p", &port, "-t", "5"]);
            let _ = done.send(());
            out
        })
    };
    let before = wan_shaped(&socket);
    let t0 = std::time::Instant::now();
    let clients = [
        client("192.0.2.80", "5301"),
        client("2001:db8:ffff::80", "5302"),
    ];
    first.recv_timeout(Duration::from_secs(30)).unwrap();
    let after = wan_shaped(&socket);
    let seconds = t0.elapsed().as_secs_f64();
    for c in clients {
        let out = c.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(servers);
    let (v4, v6) = ((after.0 - before.0) as f64, (after.1 - before.1) as f64);
    let share = v6 / (v4 + v6);
    assert!(
        share >= 0.9,
        "IPv6 got {share:.3} of the bytes ({v6} B IPv6, {v4} B IPv4)"
    );
    let mbps = (v4 + v6) * 8.0 / seconds / 1e6;
    assert!(mbps >= 30.0, "the line was not full: {mbps:.1} Mbit/s");
}
