//! End to end (needs root): the box of `range_e2e` (an access namespace, the
//! box between two veths, a core namespace: `common::fastbox`) with
//! `[fastpath] mode = "ebpf"` on the box's two veths. Ping (ICMP: always the
//! slow path), UDP over IPv4 and IPv6, and TCP go through; the XDP program
//! forwards the established flows (its counters say so) and the router's
//! counters agree exactly with the datagrams the endpoints counted; `sixfold
//! reload` with `mode = "off"` detaches it and the UDP session goes on, on the
//! slow path, with the same public endpoint.

mod common;
use common::fastbox::*;
use common::*;
use sixfold_router::Snapshot;
use std::time::Duration;

fn udp_total(s: &Snapshot) -> (u64, u64) {
    (s.ipv4.outbound.udp.packets, s.ipv4.inbound.udp.packets)
}

fn udp6_total(s: &Snapshot) -> (u64, u64) {
    (s.ipv6.outbound.udp.packets, s.ipv6.inbound.udp.packets)
}

#[test]
fn the_fast_path_forwards_established_flows_counts_them_and_turns_off_live() {
    if !can_run("the_fast_path_forwards_established_flows_counts_them_and_turns_off_live") {
        return;
    }
    for p in ["ping", "curl", "python3", "ip", "ethtool"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let w = FastBox::build("r27", false);
    let dir = &w.dir;
    std::fs::write(dir.join("index.html"), vec![b'x'; 2_000_000]).unwrap();
    let router = w.start(&w.config("ebpf", "", ""));
    assert!(w.attached(), "not attached");
    let server = format!(
        "python3 -m http.server 8081 --bind 192.0.2.80 --directory {}",
        dir.display()
    );
    let _http = Guard(spawn_in(
        &w.core,
        &server.split_whitespace().collect::<Vec<_>>(),
    ));
    let echo = w.echo();
    std::thread::sleep(Duration::from_millis(800));

    // ICMP takes the slow path (and works).
    ok(
        &w.access,
        &["ping", "-c", "2", "-i", "0.2", "-W", "2", "192.0.2.80"],
    );

    // UDP: 500 datagrams and their echoes on one session.
    let before = w.stats();
    let echoes = w.udp_client(500, 32, "100.64.0.1", "192.0.2.80");
    assert_eq!(echoes, 500, "every datagram echoed");
    std::thread::sleep(Duration::from_millis(2500)); // a counter reading or two
    let after = w.stats();
    let fast = after.fastpath.packets - before.fastpath.packets;
    assert!(
        fast >= 900,
        "the program forwarded only {fast} of 1000 packets: {:?}",
        after.fastpath
    );
    assert!(after.fastpath.attached);
    assert_eq!(after.fastpath.hook.as_deref(), Some("xdp"));
    let (out0, in0) = udp_total(&before);
    let (out1, in1) = udp_total(&after);
    assert_eq!(
        (out1 - out0, in1 - in0),
        (500, 500),
        "the router's counts = the endpoints'"
    );
    assert!(program(&after, "forwarded_ipv4") >= fast);

    // IPv6: 300 datagrams and their echoes through the firewall's flow.
    let v6 = w.stats();
    assert_eq!(
        w.udp_client(300, 32, "2001:db8:1:1::5", "2001:db8:ffff::80"),
        300
    );
    std::thread::sleep(Duration::from_millis(2500));
    let v6_after = w.stats();
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
        &w.access,
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
    let tcp = w.stats();
    assert!(
        tcp.fastpath.packets - after.fastpath.packets > 100,
        "TCP took the slow path: {:?}",
        tcp.fastpath
    );
    assert!(tcp.fastpath.installs >= 2, "{:?}", tcp.fastpath);

    // Off at run time: detached, and the UDP session goes on.
    w.reload(&w.config("off", "", ""));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!w.attached(), "still attached");
    let off = w.stats();
    assert!(
        !off.fastpath.attached && off.fastpath.hook.is_none() && off.fastpath.installed == 0,
        "{:?}",
        off.fastpath
    );
    let sessions = off.sessions_created;
    assert_eq!(w.udp_client(50, 32, "100.64.0.1", "192.0.2.80"), 50);
    let later = w.stats();
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
    let (n, bytes, sources) = echo_report(echo);
    assert_eq!((n, bytes), (850, 850 * 32), "{sources:?}");
    assert_eq!(sources.len(), 2, "one endpoint per family: {sources:?}");
    assert_eq!(sources[0], "2001:db8:1:1::5:40000");
    assert!(sources[1].starts_with("::ffff:203.0.113."), "{sources:?}");

    drop(router);
}
