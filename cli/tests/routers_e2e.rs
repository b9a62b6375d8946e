//! Beyond one box, end to end (needs root and BIRD 2): `sixfold lab --routers N
//! --keep` with two and with three boxes, each a `sixfold run` of its own
//! behind BGP, BFD and the access side's resilient ECMP groups. One world per
//! N, every check in it:
//!
//! - distribution: every box carries subscribers; each subscriber's public
//!   address (as a reflector sees it) lies in the slice of the box its packets
//!   take (found with a TTL-1 ping, answered by that box); endpoint-independent
//!   mapping across two destinations;
//! - failover: box 1's router SIGKILLed; its slice leaves the core's table; a
//!   new connection from each of its subscribers succeeds through a survivor
//!   within 3 s; a UDP iperf3 through a survivor, running across the kill,
//!   loses no more than it did before, and the survivors keep their mappings;
//! - a box coming back: started again, its slice is announced and subscribers
//!   that had not spoken yet land on it.
//!
//! Nothing of the lab is left afterwards.

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/whoami.py");
/// The lab's servers on the core's loopback; its "who am I" TCP port.
const SERVER: &str = "192.0.2.80";
const SERVER_B: &str = "192.0.2.81";
const SERVER_V6: &str = "2001:db8:ffff::80";
const WHOAMI: &str = "3479";
/// The fixed source port each subscriber asks the reflectors from, so a later
/// ask shows whether its mapping survived.
const PORT: &str = "40000";

#[test]
fn two_boxes_spread_fail_over_and_come_back() {
    if !can_run("two_boxes_spread_fail_over_and_come_back") {
        return;
    }
    scale_out("sfr2", 2, &["203.0.113.0/25", "203.0.113.128/25"]);
}

#[test]
fn three_boxes_spread_fail_over_and_come_back() {
    if !can_run("three_boxes_spread_fail_over_and_come_back") {
        return;
    }
    scale_out(
        "sfr3",
        3,
        &["203.0.113.0/26", "203.0.113.64/26", "203.0.113.128/26"],
    );
}

fn sub_v4(k: u16) -> String {
    format!("100.64.1.{k}")
}

fn sub_v6(k: u16) -> String {
    format!("2001:db8:1:{k:x}::2")
}

/// The box (1-based) whose slice holds `addr`, from "a.b.c.d:port".
fn box_of(slices: &[&str], endpoint: &str) -> Option<u16> {
    let addr: std::net::Ipv4Addr = endpoint.split(':').next()?.parse().ok()?;
    slices
        .iter()
        .position(|s| {
            let (net, len) = s.split_once('/').unwrap();
            let net: std::net::Ipv4Addr = net.parse().unwrap();
            let mask = u32::MAX << (32 - len.parse::<u32>().unwrap());
            u32::from(addr) & mask == u32::from(net)
        })
        .map(|i| i as u16 + 1)
}

/// The box whose access address answers a TTL-1 ping from `src`.
fn box_by_ttl(access: &str, src: &str, dst: &str) -> u16 {
    let out = exec(
        access,
        &["ping", "-c", "1", "-W", "1", "-t", "1", "-I", src, dst],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let from = text
        .lines()
        .find_map(|l| l.strip_prefix("From ")?.split_whitespace().next())
        .unwrap_or_else(|| panic!("no time exceeded for {src}: {text}"));
    // Box k's access address is 10.0.k.2 or fd00:a:k::2.
    let k = if from.contains(':') {
        from.split(':')
            .nth(2)
            .and_then(|w| u16::from_str_radix(w, 16).ok())
    } else {
        from.split('.').nth(2).and_then(|w| w.parse().ok())
    };
    k.unwrap_or_else(|| panic!("{from} is no box"))
}

/// The endpoints the reflectors on `servers` see for `src`:[`PORT`].
fn endpoints(access: &str, src: &str, servers: &[&str]) -> Vec<String> {
    let mut args = vec!["python3", SCRIPT, "udp", src, PORT];
    args.extend(servers);
    ok(access, &args).lines().map(str::to_string).collect()
}

fn core_has(core: &str, prefix: &str) -> bool {
    let family = if prefix.contains(':') { "-6" } else { "-4" };
    !ok(core, &["ip", family, "route", "show", "exact", prefix])
        .trim()
        .is_empty()
}

/// The pid of box `k`'s router: the `sixfold` process in its namespace.
fn router_pid(ns: &str) -> i32 {
    let out = Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sixfold")
        })
        .unwrap_or_else(|| panic!("no sixfold process in {ns}"))
}

/// Per full interval of the iperf3 receiver (the server): (start s, bytes,
/// lost packets, packets). The receiver's last interval can be a sliver of a
/// few milliseconds after the sender stopped: not an interval to compare.
fn received_intervals(json: &str) -> Vec<(f64, u64, u64, u64)> {
    let v: serde_json::Value = serde_json::from_str(json).expect("iperf3 JSON");
    v["server_output_json"]["intervals"]
        .as_array()
        .expect("the server's intervals (--get-server-output)")
        .iter()
        .filter(|i| i["sum"]["seconds"].as_f64().unwrap() >= 0.4)
        .map(|i| {
            let s = &i["sum"];
            (
                s["start"].as_f64().unwrap(),
                s["bytes"].as_u64().unwrap(),
                s["lost_packets"].as_u64().unwrap(),
                s["packets"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn scale_out(prefix: &str, n: u16, slices: &[&str]) {
    for p in ["bird", "birdc", "iperf3", "python3", "ping", "curl"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let subscribers = 4 * n;
    let mut lab = Lab::start(prefix, &["--routers", &n.to_string()]);
    let (access, core) = (lab.ns("access"), lab.ns("core"));

    // Distribution.
    let mut box4 = Vec::new();
    let mut public = Vec::new();
    for k in 1..=subscribers {
        let b = box_by_ttl(&access, &sub_v4(k), SERVER);
        let seen = endpoints(&access, &sub_v4(k), &[SERVER, SERVER_B]);
        assert_eq!(seen[0], seen[1], "sub{k}: not endpoint-independent");
        assert_eq!(
            box_of(slices, &seen[0]),
            Some(b),
            "sub{k} goes through box {b} but is seen as {}",
            seen[0]
        );
        box4.push(b);
        public.push(seen[0].clone());
    }
    let box6: Vec<u16> = (1..=subscribers)
        .map(|k| box_by_ttl(&access, &sub_v6(k), SERVER_V6))
        .collect();
    for b in 1..=n {
        assert!(box4.contains(&b), "no IPv4 subscriber on box {b}: {box4:?}");
        assert!(box6.contains(&b), "no IPv6 subscriber on box {b}: {box6:?}");
    }
    // IPv6 through every box: after a warm-up (the first reply may reach a box
    // before the subscriber's /64 is announced), HTTP works.
    for k in 1..=subscribers {
        let _ = exec(
            &access,
            &["ping", "-c", "1", "-W", "1", "-I", &sub_v6(k), SERVER_V6],
        );
        let prefix6 = format!("2001:db8:1:{k:x}::/64");
        let start = Instant::now();
        while !core_has(&core, &prefix6) {
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "{prefix6} not announced at the core"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        ok(
            &access,
            &[
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "--max-time",
                "5",
                "--interface",
                &sub_v6(k),
                &format!("http://[{SERVER_V6}]:8080/"),
            ],
        );
    }

    // Failover, with a UDP stream through a survivor across it.
    let survivor = (1..=subscribers)
        .find(|&k| box4[usize::from(k - 1)] != 1)
        .unwrap();
    let mut iperf_server = spawn_in(
        &core,
        &[
            "iperf3", "-s", "-1", "-J", "-i", "0.5", "-B", SERVER, "-p", "5416",
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let client = Command::new("ip")
        .args([
            "netns", "exec", &access, "iperf3", "-c", SERVER, "-p", "5416", "-B",
        ])
        .arg(sub_v4(survivor))
        .args([
            "-u",
            "-b",
            "20M",
            "-l",
            "1200",
            "-t",
            "6",
            "-i",
            "0.5",
            "-J",
            "--get-server-output",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let slice1 = slices[0];
    assert!(core_has(&core, slice1));
    let killed = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(router_pid(&lab.ns("r1"))),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let kill_at = 2.5;
    let affected: Vec<(u16, String, String)> = (1..=subscribers)
        .filter(|&k| box4[usize::from(k - 1)] == 1)
        .map(|k| (k, sub_v4(k), SERVER.to_string()))
        .chain(
            (1..=subscribers)
                .filter(|&k| box6[usize::from(k - 1)] == 1)
                .map(|k| (k, sub_v6(k), SERVER_V6.to_string())),
        )
        .collect();
    let reconnects: Vec<_> = affected
        .iter()
        .map(|(k, src, server)| {
            let child = Command::new("ip")
                .args([
                    "netns", "exec", &access, "python3", SCRIPT, "tcp", src, server, WHOAMI, "10",
                ])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (*k, src.clone(), child)
        })
        .collect();
    let mut withdrawn = None;
    while killed.elapsed() < Duration::from_secs(5) {
        if !core_has(&core, slice1) {
            withdrawn = Some(killed.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let withdrawn = withdrawn.expect("box 1's slice still at the core 5 s after the kill");
    for (k, src, child) in reconnects {
        let out = child.wait_with_output().unwrap();
        let took = killed.elapsed();
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success(),
            "sub{k} from {src}: no new connection in 10 s"
        );
        let seconds: f64 = text.split(' ').next().unwrap().parse().unwrap();
        // The script's own clock started after the kill: its figure is a lower bound,
        // the wait here an upper one.
        assert!(
            seconds < 3.0 && took < Duration::from_secs(4),
            "sub{k} from {src}: new connection after {seconds} s (script), {took:?} (here)"
        );
        let seen = text.split(' ').nth(1).unwrap();
        if !src.contains(':') {
            let b = box_of(slices, seen).unwrap_or_else(|| panic!("sub{k} seen as {seen}"));
            assert_ne!(b, 1, "sub{k}'s new connection still through box 1");
        }
        eprintln!(
            "sub{k} from {src}: new connection {seconds:.3} s after the script started, {:.3} s after the kill at most; seen as {seen}",
            took.as_secs_f64()
        );
    }
    let out = client.wait_with_output().unwrap();
    let _ = iperf_server.wait();
    let intervals = received_intervals(&String::from_utf8_lossy(&out.stdout));
    let (before, during): (Vec<_>, Vec<_>) = intervals
        .iter()
        .filter(|i| i.0 >= 0.5)
        .partition(|i| i.0 + 0.5 <= kill_at);
    let lost = |v: &[&(f64, u64, u64, u64)]| v.iter().map(|i| i.2).sum::<u64>();
    let packets = |v: &[&(f64, u64, u64, u64)]| v.iter().map(|i| i.3).sum::<u64>();
    let mean = |v: &[&(f64, u64, u64, u64)]| v.iter().map(|i| i.1).sum::<u64>() / v.len() as u64;
    eprintln!(
        "iperf3 through box {}: before the kill {} of {} packets lost, mean {} B per 0.5 s; from the kill on {} of {} lost, mean {} B, least {} B",
        box4[usize::from(survivor - 1)],
        lost(&before),
        packets(&before),
        mean(&before),
        lost(&during),
        packets(&during),
        mean(&during),
        during.iter().map(|i| i.1).min().unwrap()
    );
    // Noise: what the stream lost before the kill, plus 0.5 % of its packets.
    assert!(
        lost(&during) * 1000
            <= (lost(&before) * 1000 / packets(&before).max(1) + 5) * packets(&during),
        "the survivor's stream lost {} of {} packets from the kill on",
        lost(&during),
        packets(&during)
    );
    // Bytes may shift between neighbouring intervals (the sender is paced on
    // two shared cores); a stall would leave one nearly empty.
    assert!(
        mean(&during) * 100 >= mean(&before) * 95
            && during.iter().all(|i| i.1 * 2 >= mean(&before)),
        "from the kill on the stream carried less than before (mean {} B per 0.5 s): {during:?}",
        mean(&before)
    );
    for k in (1..=subscribers).filter(|&k| box4[usize::from(k - 1)] != 1) {
        let now = endpoints(&access, &sub_v4(k), &[SERVER]);
        assert_eq!(
            now[0],
            public[usize::from(k - 1)],
            "sub{k} lost its mapping"
        );
    }
    eprintln!("box 1's slice withdrawn at the core after {withdrawn:?}");

    // A box coming back.
    let answer = lab.say("start 1");
    assert!(answer.starts_with("started 1"), "{answer}");
    assert!(core_has(&core, slice1));
    let route = ok(&core, &["ip", "route", "show", "exact", slice1]);
    assert!(route.contains("dev r1"), "{route}");
    // Buckets idle for the groups' idle timer (5 s) may move to it.
    std::thread::sleep(Duration::from_secs(6));
    let mut on_first = 0;
    for k in subscribers + 1..=subscribers + 4 * n {
        let b = box_by_ttl(&access, &sub_v4(k), SERVER);
        let seen = endpoints(&access, &sub_v4(k), &[SERVER]);
        assert_eq!(
            box_of(slices, &seen[0]),
            Some(b),
            "newcomer sub{k} seen as {}",
            seen[0]
        );
        on_first += u32::from(b == 1);
    }
    assert!(on_first > 0, "no newcomer landed on the box that came back");

    // `reload K`: box 2 reads its file again, one line per answer.
    let file = lab.config[1].clone();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\nicmp_rate = 1000\n"), "{text}");
    std::fs::write(
        &file,
        text.replace("\nicmp_rate = 1000\n", "\nicmp_rate = 500\n"),
    )
    .unwrap();
    assert_eq!(
        lab.say("reload 2"),
        "reloaded: router.icmp_rate: 1000 -> 500"
    );
    assert_eq!(lab.say("reload 2"), "reloaded: no change");
    assert_eq!(lab.say("reload 1"), "reloaded: no change");
    let answer = lab.say(&format!("reload {}", n + 1));
    assert_eq!(
        answer,
        format!(
            "error: \"reload {}\": say `kill K`, `start K` or `reload K` with K in 1..={n}",
            n + 1
        )
    );

    let status = lab.stop();
    assert!(status.success(), "lab exited with {status}");
    for ns in ["access", "core", "r1"] {
        assert!(
            !Path::new("/run/netns").join(lab.ns(ns)).exists(),
            "{} left behind",
            lab.ns(ns)
        );
    }
    for k in 1..=n {
        let socket = format!("/run/sixfold-{prefix}-r{k}.sock");
        assert!(!Path::new(&socket).exists(), "{socket} left behind");
    }
}

use std::path::Path;
