//! End to end (needs root): the box of `range_e2e` (an access namespace, the
//! box between two veths, a core namespace) with `[fastpath] mode = "ebpf"`
//! on the box's two veths. Ping (ICMP: always the slow path), UDP over IPv4
//! and IPv6, and TCP go through; the XDP program forwards the established flows (its counters say
//! so) and the router's counters agree exactly with the datagrams the
//! endpoints counted; `sixfold reload` with `mode = "off"` detaches it and the
//! UDP session goes on, on the slow path, with the same public endpoint.
//!
//! The endpoints' veths have GRO on (a frame redirected into a veth needs the
//! peer's NAPI) and transmit checksum offload off: a frame the program
//! redirects leaves as a plain XDP frame, so its L4 checksum must be complete
//! — as it is on frames from a real NIC.

mod common;
use common::*;
use sixfold_router::Snapshot;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ACCESS: &str = "r27-acc";
const BOX: &str = "r27-box";
const CORE: &str = "r27-core";
const SOCKET: &str = "/run/sixfold-r27.sock";

struct World;

fn del_netns(ns: &str) {
    let _ = Command::new("ip")
        .args(["netns", "del", ns])
        .stderr(Stdio::null())
        .status();
}

fn script(ns: &str, lines: &[&str]) {
    for line in lines {
        let args: Vec<&str> = line.split_whitespace().collect();
        ok(ns, &args);
    }
}

impl World {
    fn build() -> World {
        for ns in [ACCESS, BOX, CORE] {
            del_netns(ns);
            let s = Command::new("ip").args(["netns", "add", ns]).status();
            assert!(s.unwrap().success(), "ip netns add {ns}");
        }
        for (end, peer, ns) in [("acc0", "box-acc", ACCESS), ("core0", "box-core", CORE)] {
            let s = Command::new("ip")
                .args([
                    "link", "add", end, "netns", ns, "type", "veth", "peer", "name", peer,
                ])
                .args(["netns", BOX])
                .status();
            assert!(s.unwrap().success(), "veth {end}");
        }
        script(
            ACCESS,
            &[
                "ip link set lo up",
                "ip link set acc0 up",
                "ethtool -K acc0 gro on tx off",
                "ip addr add 100.64.0.1/24 dev acc0",
                "ip addr add 2001:db8:1:1::5/64 dev acc0 nodad",
                "ip route add default via 100.64.0.254",
                "ip -6 route add default via fe80::1 dev acc0",
            ],
        );
        script(
            CORE,
            &[
                "ip link set lo up",
                "ip link set core0 up",
                "ethtool -K core0 gro on tx off",
                "ip addr add 192.0.2.80/24 dev core0",
                "ip addr add 2001:db8:ffff::80/64 dev core0 nodad",
                "ip route add 203.0.113.0/28 via 192.0.2.1",
                "ip -6 route add 2001:db8:1::/48 via 2001:db8:ffff::1",
            ],
        );
        script(
            BOX,
            &[
                "sysctl -qw net.ipv4.ip_forward=1",
                "sysctl -qw net.ipv6.conf.all.forwarding=1",
                "sysctl -qw net.ipv4.conf.all.rp_filter=0",
                "sysctl -qw net.ipv4.conf.default.rp_filter=0",
                "ip link set lo up",
                "ip link set box-acc up",
                "ip link set box-core up",
                "sysctl -qw net.ipv4.conf.box-acc.rp_filter=0",
                "sysctl -qw net.ipv4.conf.box-core.rp_filter=0",
                "ip addr add 100.64.0.254/24 dev box-acc",
                "ip addr add fe80::1/64 dev box-acc nodad",
                "ip -6 route add 2001:db8:1::/48 dev box-acc",
                "ip addr add 192.0.2.1/24 dev box-core",
                "ip addr add 2001:db8:ffff::1/64 dev box-core nodad",
                "ip rule add iif box-acc lookup 100",
                "ip -6 rule add iif box-acc lookup 100",
                "ip rule add iif box-core lookup 110",
                "ip -6 rule add iif box-core lookup 110",
            ],
        );
        World
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for ns in [ACCESS, BOX, CORE] {
            del_netns(ns);
        }
        let _ = std::fs::remove_file(SOCKET);
    }
}

fn config(mode: &str) -> String {
    format!(
        r#"
[router]
control_socket = "{SOCKET}"
workers = 2
[nat]
pool = ["203.0.113.0/28"]
[wan]
name = "wan"
netns = "{BOX}"
routes = ["203.0.113.0/28", "2001:db8:1::/48"]
route_table = 110
[[subscriber_range]]
name = "inside"
netns = "{BOX}"
ipv4 = "100.64.0.0/24"
ipv6 = "2001:db8:1::/48"
routes = ["0.0.0.0/0", "::/0"]
route_table = 100
[fastpath]
mode = "{mode}"
inside = "box-acc"
outside = "box-core"
netns = "{BOX}"
"#
    )
}

fn stats() -> Snapshot {
    serde_json::from_str(&sixfold::control::request(SOCKET, "stats").unwrap()).unwrap()
}

fn start_router(config: &std::path::Path) -> Child {
    let mut child = Command::new(SIXFOLD)
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sixfold run");
    let deadline = Instant::now() + Duration::from_secs(20);
    while sixfold::control::request(SOCKET, "stats").is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("sixfold run exited: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "sixfold run did not answer in 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// A UDP echo server on 192.0.2.80:9999 that prints, on SIGTERM, how many
/// datagrams it received and from which source endpoints.
const ECHO: &str = r#"
import socket, signal, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 9999))
n, seen = 0, set()
def done(*_):
    print(n, " ".join(sorted(seen)), flush=True); sys.exit(0)
signal.signal(signal.SIGTERM, done)
while True:
    data, peer = s.recvfrom(2048)
    n += 1; seen.add("%s:%d" % peer[:2])
    s.sendto(data, peer)
"#;

/// Sends `count` 32-byte datagrams from SOURCE:40000 to DESTINATION:9999,
/// one in flight at a time (each waits for its echo, 1 s at most); prints the
/// echoes received.
const CLIENT: &str = r#"
import socket, sys
count, source, destination = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET6 if ":" in source else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((source, 40000)); s.settimeout(1.0)
got = 0
for i in range(count):
    s.sendto(b"%032d" % i, (destination, 9999))
    try:
        s.recvfrom(2048); got += 1
    except socket.timeout:
        pass
print(got)
"#;

fn udp_client(count: u32) -> u64 {
    udp_client_on(count, "100.64.0.1", "192.0.2.80")
}

fn udp_client_on(count: u32, source: &str, destination: &str) -> u64 {
    let n = count.to_string();
    let out = ok(ACCESS, &["python3", "-c", CLIENT, &n, source, destination]);
    out.trim().parse().unwrap()
}

fn udp_total(s: &Snapshot) -> (u64, u64) {
    (s.ipv4.outbound.udp.packets, s.ipv4.inbound.udp.packets)
}

fn udp6_total(s: &Snapshot) -> (u64, u64) {
    (s.ipv6.outbound.udp.packets, s.ipv6.inbound.udp.packets)
}

fn program(s: &Snapshot, name: &str) -> u64 {
    s.fastpath.program.get(name).copied().unwrap_or(0)
}

#[test]
fn the_fast_path_forwards_established_flows_counts_them_and_turns_off_live() {
    if !can_run("the_fast_path_forwards_established_flows_counts_them_and_turns_off_live") {
        return;
    }
    for p in ["ping", "curl", "python3", "ip", "ethtool"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let dir = std::env::temp_dir().join("sixfold-r27");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), vec![b'x'; 2_000_000]).unwrap();
    let _ = std::fs::remove_file(SOCKET);
    let world = World::build();
    let path = dir.join("box.toml");
    std::fs::write(&path, config("ebpf")).unwrap();
    let mut router = start_router(&path);
    let links = ok(BOX, &["ip", "-d", "link", "show", "box-acc"]);
    assert!(links.contains("xdp"), "not attached: {links}");
    let server = format!(
        "python3 -m http.server 8081 --bind 192.0.2.80 --directory {}",
        dir.display()
    );
    let mut http = spawn_in(CORE, &server.split_whitespace().collect::<Vec<_>>());
    let mut echo = Command::new("ip")
        .args(["netns", "exec", CORE, "python3", "-c", ECHO])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));

    // ICMP takes the slow path (and works).
    ok(
        ACCESS,
        &["ping", "-c", "2", "-i", "0.2", "-W", "2", "192.0.2.80"],
    );

    // UDP: 500 datagrams and their echoes on one session.
    let before = stats();
    let echoes = udp_client(500);
    assert_eq!(echoes, 500, "every datagram echoed");
    std::thread::sleep(Duration::from_millis(2500)); // a counter reading or two
    let after = stats();
    let fast = after.fastpath.packets - before.fastpath.packets;
    assert!(
        fast >= 900,
        "the program forwarded only {fast} of 1000 packets: {:?}",
        after.fastpath
    );
    assert!(after.fastpath.attached);
    let (out0, in0) = udp_total(&before);
    let (out1, in1) = udp_total(&after);
    assert_eq!(
        (out1 - out0, in1 - in0),
        (500, 500),
        "the router's counts = the endpoints'"
    );
    assert!(program(&after, "forwarded_ipv4") >= fast);

    // IPv6: 300 datagrams and their echoes through the firewall's flow.
    let v6 = stats();
    assert_eq!(
        udp_client_on(300, "2001:db8:1:1::5", "2001:db8:ffff::80"),
        300
    );
    std::thread::sleep(Duration::from_millis(2500));
    let v6_after = stats();
    let (o0, i0) = udp6_total(&v6);
    let (o1, i1) = udp6_total(&v6_after);
    assert_eq!(
        (o1 - o0, i1 - i0),
        (300, 300),
        "the router's IPv6 counts = the endpoints'"
    );
    let fast6 = program(&v6_after, "forwarded_ipv6");
    assert!(
        fast6 >= 500,
        "the program forwarded {fast6} of 600 IPv6 packets"
    );
    let after = v6_after;

    // TCP: 2 MB over HTTP, its ACKs and data on the fast path.
    let got = ok(
        ACCESS,
        &[
            "curl",
            "-sS",
            "--max-time",
            "20",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}",
            "http://192.0.2.80:8081/index.html",
        ],
    );
    assert_eq!(got, "200 2000000");
    std::thread::sleep(Duration::from_millis(1500));
    let tcp = stats();
    assert!(
        tcp.fastpath.packets - after.fastpath.packets > 100,
        "TCP took the slow path: {:?}",
        tcp.fastpath
    );
    assert!(tcp.fastpath.installs >= 2, "{:?}", tcp.fastpath);

    // Off at run time: detached, and the UDP session goes on.
    std::fs::write(&path, config("off")).unwrap();
    let out = Command::new(SIXFOLD)
        .args(["reload", "--socket", SOCKET])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reload: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(1500));
    let links = ok(BOX, &["ip", "-d", "link", "show", "box-acc"]);
    assert!(!links.contains("prog/xdp"), "still attached: {links}");
    let off = stats();
    assert!(
        !off.fastpath.attached && off.fastpath.installed == 0,
        "{:?}",
        off.fastpath
    );
    let sessions = off.sessions_created;
    assert_eq!(udp_client(50), 50);
    let later = stats();
    assert_eq!(later.sessions_created, sessions, "the UDP session was kept");
    assert_eq!(
        later.fastpath.packets, off.fastpath.packets,
        "nothing fast once off"
    );
    let (out2, in2) = udp_total(&later);
    let (out_off, in_off) = udp_total(&off);
    assert_eq!((out2 - out_off, in2 - in_off), (50, 50));

    // The server saw one public endpoint for all 550 IPv4 datagrams (and the
    // subscriber's own address for the 300 IPv6 ones).
    let _ = Command::new("kill").arg(echo.id().to_string()).status();
    let mut text = String::new();
    std::io::Read::read_to_string(echo.stdout.as_mut().unwrap(), &mut text).unwrap();
    let _ = echo.wait();
    let mut words = text.split_whitespace();
    assert_eq!(words.next(), Some("850"), "{text}");
    let sources: Vec<&str> = words.collect();
    assert_eq!(sources.len(), 2, "one endpoint per family: {text}");
    assert_eq!(sources[0], "2001:db8:1:1::5:40000", "{text}");
    assert!(sources[1].starts_with("::ffff:203.0.113."), "{text}");

    let _ = router.kill();
    let _ = router.wait();
    let _ = http.kill();
    let _ = http.wait();
    drop(world);
    let _ = std::fs::remove_dir_all(&dir);
}
