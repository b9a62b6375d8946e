//! End to end (needs root), issue 27's "behaviour is the same with the fast
//! path": in the fast path's world (`common::fastbox`, `[fastpath] mode =
//! "ebpf"`), checked by programs nobody here wrote —
//! - coturn's RFC 5780 client (`turnutils_natdiscovery -m -f`) against
//!   coturn's `turnserver` on two addresses and two ports reports the
//!   configured mapping and filtering, the same with the fast path on and off
//!   (`sixfold reload` between), for three configurations;
//! - a SYN flood (hping3, one new source port per SYN) from one subscriber
//!   past `nat.sessions_per_subscriber` creates exactly that many sessions,
//!   counts every excess SYN under `subscriber_session_limit`, and another
//!   subscriber's UDP and TCP go on, on the fast path;
//! - flow accounting over IPFIX (Debian's nfcapd/nfdump) and `sixfold stats`
//!   agree with nft's counts at the endpoints within 0.1%.
//!
//! Each test checks that the traffic it judges went through the program (its
//! counters moved), or the test would say nothing about the fast path.

mod common;
use common::fastbox::*;
use common::nfdump::{nfdump_flows, total};
use common::*;
use sixfold_router::{DropReason, Snapshot};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Waits up to 10 s for `ready` to hold.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Loads the nft `ruleset` in `ns`.
fn nft(ns: &str, ruleset: &str) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), ruleset.as_bytes()).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success(), "nft in {ns}: {ruleset}");
}

/// (packets, bytes) of the named counter `name` of table `inet t` in `ns`.
fn nft_counter(ns: &str, name: &str) -> (u64, u64) {
    let out = ok(ns, &["nft", "-j", "list", "counter", "inet", "t", name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = v["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|o| o.get("counter"))
        .unwrap_or_else(|| panic!("no counter {name} in {out}"));
    (c["packets"].as_u64().unwrap(), c["bytes"].as_u64().unwrap())
}

/// The subscriber `inside/ADDRESS` in `s`.
fn subscriber<'a>(
    s: &'a Snapshot,
    address: &str,
) -> Option<&'a sixfold_router::stats::SubscriberUse> {
    let name = format!("inside/{address}");
    s.subscribers.iter().find(|u| u.name == name)
}

/// Every line `turnutils_natdiscovery` frames as a decision (between two
/// lines of `=`), as the `[nat]` value it names.
fn decisions(out: &str) -> Vec<&'static str> {
    let bar = "========================================";
    let lines: Vec<&str> = out.lines().collect();
    lines
        .windows(3)
        .filter(|w| w[0] == bar && w[2] == bar)
        .map(|w| match w[1] {
            "NAT with Endpoint Independent Mapping!" => "eim",
            "NAT with Address Dependent Mapping!" => "adm",
            "NAT with Address and Port Dependent Mapping!" => "apdm",
            "NAT with Endpoint Independent Filtering!" => "eif",
            "NAT with Address Dependent Filtering!" => "adf",
            "NAT with Address and Port Dependent Filtering!" => "apdf",
            other => panic!("natdiscovery decided {other:?}:\n{out}"),
        })
        .collect()
}

/// RFC 5780 mapping and filtering discovery from subscriber 100.64.0.1
/// against the core's STUN server: `[mapping, filtering]`.
fn discover(w: &FastBox) -> Vec<&'static str> {
    let args = ["turnutils_natdiscovery", "-m", "-f", "-L", "100.64.0.1"];
    let out = ok(&w.access, &[&args[..], &["192.0.2.80"]].concat());
    let found = decisions(&out);
    assert_eq!(
        found.len(),
        2,
        "one mapping, one filtering decision:\n{out}"
    );
    found
}

/// coturn as an RFC 5780 STUN server: 192.0.2.80 and .81, ports 3478 and
/// 3479 (its own configuration file empty: Debian's turns RFC 5780 off).
fn stun_server(w: &FastBox) -> Guard {
    let conf = w.dir.join("turnserver.conf");
    std::fs::write(&conf, "").unwrap();
    let pid = w.dir.join("turnserver.pid");
    let (conf, pid) = (conf.to_str().unwrap(), pid.to_str().unwrap());
    let args = [
        "turnserver",
        "-c",
        conf,
        "--pidfile",
        pid,
        "--stun-only",
        "-L",
        "192.0.2.80",
        "-L",
        "192.0.2.81",
        "-p",
        "3478",
        "--alt-listening-port",
        "3479",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--log-file",
        "stdout",
    ];
    let server = Guard(spawn_in(&w.core, &args));
    wait_for("turnserver listening on 192.0.2.81:3479", || {
        ok(&w.core, &["ss", "-Hunl"]).contains("192.0.2.81:3479")
    });
    server
}

#[test]
fn rfc5780_discovery_reports_the_configured_behaviour_with_the_fast_path_on_and_off() {
    if !can_run("rfc5780_discovery_reports_the_configured_behaviour_with_the_fast_path_on_and_off")
    {
        return;
    }
    for p in ["turnserver", "turnutils_natdiscovery", "ss"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let w = FastBox::build("r27n", false);
    let nat = |m: &str, f: &str| format!("mapping = \"{m}\"\nfiltering = \"{f}\"");
    let _router = w.start(&w.config("ebpf", &nat("eim", "eif"), ""));
    let _server = stun_server(&w);
    for (mapping, filtering) in [("eim", "eif"), ("adm", "adf"), ("apdm", "apdf")] {
        w.reload(&w.config("ebpf", &nat(mapping, filtering), ""));
        wait_for("attached", || w.stats().fastpath.attached);
        let before = w.stats();
        let on = discover(&w);
        std::thread::sleep(Duration::from_millis(1500)); // a counter reading
        let after = w.stats();
        assert_eq!(on, [mapping, filtering], "fast path on");
        // Mapping: three sessions (server, other address, other address and
        // port), each installed at its second packet (the answer). Under
        // address-dependent filtering the answers from another address are
        // dropped and the client sends its request again on the installed
        // session: those the program forwards. Under EIF every answer comes
        // back, no session carries a third packet, and whether the next
        // request beats the install is a race: no packet is required then.
        // (A session of one packet, such as an answer from another address
        // that EIF lets in, is not installed.)
        let installs = after.fastpath.installs - before.fastpath.installs;
        let fast = program(&after, "forwarded_ipv4") - program(&before, "forwarded_ipv4");
        let retries = filtering != "eif";
        assert!(
            installs >= 3 && (fast >= 1 || !retries),
            "{mapping}/{filtering}: {installs} flows installed, {fast} packets forwarded by the program"
        );

        w.reload(&w.config("off", &nat(mapping, filtering), ""));
        wait_for("detached", || !w.stats().fastpath.attached);
        let before = w.stats();
        let off = discover(&w);
        let after = w.stats();
        assert_eq!(off, on, "{mapping}/{filtering}: fast path off vs on");
        assert_eq!(
            (after.fastpath.installs, after.fastpath.packets),
            (before.fastpath.installs, before.fastpath.packets),
            "nothing installed or fast while off"
        );
    }
}

#[test]
fn the_session_limit_holds_under_a_syn_flood_and_others_stay_on_the_fast_path() {
    if !can_run("the_session_limit_holds_under_a_syn_flood_and_others_stay_on_the_fast_path") {
        return;
    }
    for p in ["hping3", "nft", "curl"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    const LIMIT: u64 = 50;
    const SYNS: u64 = 3000;
    let w = FastBox::build("r27s", false);
    std::fs::write(w.dir.join("index.html"), vec![b'x'; 1_000_000]).unwrap();
    let limit = format!("sessions_per_subscriber = {LIMIT}");
    let _router = w.start(&w.config("ebpf", &limit, ""));
    // SYNs as they reach the box, and as they reach the server (which drops
    // them: no RST comes back to end a session early).
    nft(
        &w.boxns,
        "table inet t { counter syn_in {}; chain pre { type filter hook prerouting priority -300; \
         iifname \"box-acc\" tcp dport 7777 counter name syn_in; }; }",
    );
    nft(
        &w.core,
        "table inet t { counter syn_out {}; chain input { type filter hook input priority 0; \
         tcp dport 7777 counter name syn_out drop; }; }",
    );
    let server = format!(
        "python3 -m http.server 8081 --bind 192.0.2.80 --directory {}",
        w.dir.display()
    );
    let _http = Guard(spawn_in(
        &w.core,
        &server.split_whitespace().collect::<Vec<_>>(),
    ));
    let echo = w.echo();
    wait_for("servers listening", || {
        let l = ok(&w.core, &["ss", "-Hlntu"]);
        l.contains(":8081") && l.contains(":9999")
    });
    let before = w.stats();

    // hping3 gives each SYN the next source port: SYNS new sessions asked
    // (from port 20000 on: a SYN from TSP's 3653 is dropped as a tunnel).
    let flood = Command::new("ip")
        .args([
            "netns",
            "exec",
            &w.access,
            "hping3",
            "-q",
            "-S",
            "-a",
            "100.64.0.1",
            "-s",
            "20000",
        ])
        .args([
            "-p",
            "7777",
            "-c",
            &SYNS.to_string(),
            "-i",
            "u300",
            "192.0.2.80",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let (most, echoes, page, flood) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut most = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let s = w.stats();
                most = most.max(subscriber(&s, "100.64.0.1").map_or(0, |u| u.sessions));
                std::thread::sleep(Duration::from_millis(20));
            }
            most
        });
        let echoes = w.udp_client(300, 32, "100.64.0.2", "192.0.2.80");
        let page = ok(
            &w.access,
            &[
                "curl",
                "-sS",
                "--max-time",
                "20",
                "--interface",
                "100.64.0.2",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{size_download}",
                "http://192.0.2.80:8081/index.html",
            ],
        );
        let flood = flood.wait_with_output().unwrap();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (sampler.join().unwrap(), echoes, page, flood)
    });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&flood.stdout),
        String::from_utf8_lossy(&flood.stderr)
    );
    assert!(
        said.contains(&format!("{SYNS} packets transmitted")),
        "hping3: {said}"
    );
    std::thread::sleep(Duration::from_millis(1500)); // a counter reading
    let after = w.stats();

    let offered = nft_counter(&w.boxns, "syn_in").0;
    let passed = nft_counter(&w.core, "syn_out").0;
    assert_eq!(offered, SYNS, "every SYN reached the box");
    let flooder = subscriber(&after, "100.64.0.1").expect("the flooder's sessions");
    assert!(
        most <= LIMIT as u32,
        "the flooder held {most} sessions at once"
    );
    assert_eq!(
        u64::from(flooder.sessions),
        LIMIT,
        "sessions after the flood"
    );
    assert_eq!(passed, LIMIT, "SYNs the server got: one per session");
    let limited = after.drops[DropReason::SubscriberSessionLimit]
        - before.drops[DropReason::SubscriberSessionLimit];
    assert_eq!(
        limited,
        SYNS - LIMIT,
        "excess SYNs counted under subscriber_session_limit; drops {:?}, before {:?}",
        after.drops,
        before.drops
    );

    // The other subscriber: every datagram echoed, the page whole, on the
    // fast path (its UDP both ways, TCP's data and ACKs).
    assert_eq!(echoes, 300);
    assert_eq!(page, "200 1000000");
    let fast = after.fastpath.packets - before.fastpath.packets;
    assert!(
        fast >= 540 + 100,
        "the program forwarded {fast} packets: {:?}",
        after.fastpath
    );
    let other = subscriber(&after, "100.64.0.2").expect("the other subscriber");
    assert!(other.sessions >= 2, "{other:?}");
    let (n, bytes, _) = echo_report(echo);
    assert_eq!((n, bytes), (300, 300 * 32));
}

/// Whether `got` is within 0.1% of `want`.
fn within_a_thousandth(got: u64, want: u64) -> bool {
    got.abs_diff(want) * 1000 <= want
}

#[test]
fn ipfix_accounting_and_stats_match_the_endpoints_with_the_fast_path_on() {
    if !can_run("ipfix_accounting_and_stats_match_the_endpoints_with_the_fast_path_on") {
        return;
    }
    for p in ["nfcapd", "nfdump", "nft"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    const COUNT: u64 = 2000;
    const PAYLOAD: u64 = 200;
    let w = FastBox::build("r27i", false);
    let flows_dir = w.dir.join("nfcapd");
    std::fs::create_dir_all(&flows_dir).unwrap();
    let mut nfcapd = Guard(spawn_in(
        &w.core,
        &[
            "nfcapd",
            "-b",
            "192.0.2.80",
            "-p",
            "4739",
            "-t",
            "60",
            "-w",
            flows_dir.to_str().unwrap(),
        ],
    ));
    let ipfix = format!(
        "[ipfix]\ncollector = \"192.0.2.80:4739\"\nnetns = \"{}\"\naccounting = true\ntemplate_refresh = 1",
        w.boxns
    );
    let mut router = w.start(&w.config("ebpf", "", &ipfix));
    // IP packets and bytes (nft counts from the IP header on) of the flow as
    // the server receives it (after the NAT) and as the subscriber receives
    // the echoes.
    nft(
        &w.core,
        "table inet t { counter up {}; chain input { type filter hook input priority 0; \
         ip saddr 203.0.113.0/28 udp dport 9999 counter name up; }; }",
    );
    nft(
        &w.access,
        "table inet t { counter down {}; chain input { type filter hook input priority 0; \
         ip daddr 100.64.0.1 udp sport 9999 counter name down; }; }",
    );
    let echo = w.echo();
    wait_for("echo server", || {
        ok(&w.core, &["ss", "-Hlnu"]).contains(":9999")
    });
    std::thread::sleep(Duration::from_millis(1500)); // templates reach nfcapd
    let before = w.stats();
    let size = u32::try_from(PAYLOAD).unwrap();
    let count = u32::try_from(COUNT).unwrap();
    assert_eq!(w.udp_client(count, size, "100.64.0.1", "192.0.2.80"), COUNT);
    std::thread::sleep(Duration::from_millis(1500)); // a counter reading
    let s = w.stats();
    let fast = s.fastpath.packets - before.fastpath.packets;
    assert!(
        fast >= COUNT * 2 * 9 / 10,
        "the program forwarded {fast} of {} packets",
        2 * COUNT
    );
    assert!(router.stop().success(), "graceful stop");
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&nfcapd.0, nix::sys::signal::Signal::SIGTERM);
    let _ = nfcapd.0.wait();

    let (n, bytes, _) = echo_report(echo);
    assert_eq!((n, bytes), (COUNT, COUNT * PAYLOAD), "the server's socket");
    let ip = COUNT * (20 + 8 + PAYLOAD);
    let endpoints = [nft_counter(&w.core, "up"), nft_counter(&w.access, "down")];
    assert_eq!(
        endpoints,
        [(COUNT, ip), (COUNT, ip)],
        "nft at the endpoints"
    );
    let flows = nfdump_flows(&flows_dir);
    let mine = |a: &str| a == "100.64.0.1";
    let ipfix = [
        total(&flows, "src4_addr", mine),
        total(&flows, "dst4_addr", mine),
    ];
    let t = subscriber(&s, "100.64.0.1")
        .expect("the subscriber")
        .traffic;
    let stats = [
        (t.ipv4_out.packets, t.ipv4_out.bytes),
        (t.ipv4_in.packets, t.ipv4_in.bytes),
    ];
    eprintln!("IP packets, bytes [up, down]: nft {endpoints:?}, IPFIX {ipfix:?}, stats {stats:?}");
    for (k, dir) in ["up", "down"].iter().enumerate() {
        let (want, got, counted) = (endpoints[k], ipfix[k], stats[k]);
        for (what, (p, b)) in [("IPFIX", got), ("stats", counted)] {
            assert!(
                within_a_thousandth(p, want.0) && within_a_thousandth(b, want.1),
                "{dir}: {what} {p} packets {b} bytes, the endpoint {} packets {} bytes",
                want.0,
                want.1
            );
        }
    }
}
