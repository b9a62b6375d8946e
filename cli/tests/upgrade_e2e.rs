//! `sixfold upgrade` end to end (root): the lab's router hands over to a new
//! process twice while an iperf3 TCP stream and a ping every 10 ms cross it —
//! the stream never stalls (no 1 s interval below a tenth of the median, no
//! retransmission timeout in the sender's namespace), at most one ping is lost
//! per upgrade, the counters go on, the sessions are the same, and the IPFIX
//! export (read by tshark) goes on with consecutive sequence numbers and no
//! session logged twice. A new process killed at each step of the handover,
//! or one that reads another state version, leaves the old router forwarding.

mod common;
use common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn stats(socket: &str) -> sixfold_router::Snapshot {
    let answer = sixfold::control::request(socket, "stats").unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

fn in_ns(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(args);
    c
}

/// `ping`'s transmitted and received.
fn ping_counts(out: &Output) -> (u32, u32) {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no ping summary: {text}"));
    let n: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[0], n[1])
}

/// TcpExtTCPTimeouts in namespace `ns` (nstat, absolute).
fn tcp_timeouts(ns: &str) -> u64 {
    let out = in_ns(ns, &["nstat", "-az", "TcpExtTCPTimeouts"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("TcpExtTCPTimeouts"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("nstat: {}", String::from_utf8_lossy(&out.stderr)))
}

fn forwarded(s: &sixfold_router::Snapshot) -> u64 {
    [&s.ipv4, &s.ipv6]
        .iter()
        .flat_map(|f| [&f.outbound, &f.inbound])
        .map(|d| d.tcp.packets + d.udp.packets + d.icmp.packets + d.other.packets)
        .sum()
}

/// Per IPFIX message read by tshark: its sequence number and its data
/// records (every record of a set whose id is 256 or more).
fn sequences(pcap: &Path) -> Vec<(u64, u64)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-d", "udp.port==4739,cflow", "-T", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut seen = Vec::new();
    for f in frames.as_array().unwrap() {
        let Some(cflow) = f["_source"]["layers"]["cflow"].as_object() else {
            continue;
        };
        let seq: u64 = cflow["cflow.sequence"].as_str().unwrap().parse().unwrap();
        // Data sets are named "Set 1 [id=259] (6 flows)" (templates "... (Data
        // Template): ..."): their record count is tshark's.
        let number_after = |text: &str, mark: &str| -> Option<u64> {
            let rest = text.split(mark).nth(1)?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        let records: u64 = cflow
            .keys()
            .filter(|set| set.starts_with("Set ") && set.ends_with(" flows)"))
            .filter(|set| number_after(set, "[id=").is_some_and(|id| id >= 256))
            .filter_map(|set| number_after(set, "] ("))
            .sum();
        seen.push((seq, records));
    }
    seen
}

#[test]
fn two_upgrades_during_traffic_lose_nothing() {
    if !can_run("two_upgrades_during_traffic_lose_nothing") {
        return;
    }
    for p in ["ping", "iperf3", "nstat", "tshark"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let dir = std::env::temp_dir().join(format!("sfupg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("ipfix.pcap");
    // The lab's addressing, with every NAT session logged.
    let config = dir.join("router.toml");
    std::fs::write(
        &config,
        "[router]\nipv6 = \"2001:db8:1::1\"\n[nat]\npool = [\"203.0.113.0/24\"]\n\
         [ipfix]\nsessions = true\n",
    )
    .unwrap();
    let mut lab = Lab::start(
        "sfupg",
        &[
            "--subscribers",
            "1",
            "--config",
            config.to_str().unwrap(),
            "--ipfix-pcap",
            pcap.to_str().unwrap(),
        ],
    );
    let (sub, wan) = (lab.ns("sub1"), lab.ns("wan"));
    let socket = "/run/sixfold-sfupg.sock";
    let first = lab.router_pid();
    let mut server = spawn_in(&wan, &["iperf3", "-s", "-1"]);
    std::thread::sleep(Duration::from_millis(500));
    let timeouts = tcp_timeouts(&sub);
    let ping = in_ns(
        &sub,
        &["ping", "-i", "0.01", "-c", "2000", "-W", "1", "192.0.2.80"],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let iperf = in_ns(
        &sub,
        &["iperf3", "-c", "192.0.2.80", "-t", "20", "-i", "1", "-J"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let before = stats(socket);
    let mut answers = Vec::new();
    let mut at = Vec::new();
    for wait in [0, 5] {
        std::thread::sleep(Duration::from_secs(wait));
        // A session this process logs (its create record goes out through
        // the exporter the next one takes over).
        ok(&sub, &["ping", "-c", "1", "-W", "2", "192.0.2.80"]);
        std::thread::sleep(Duration::from_millis(400));
        let b = stats(socket);
        at.push(format!("{:.1}", started.elapsed().as_secs_f64()));
        let answer = lab.say("upgrade");
        assert!(answer.starts_with("upgraded pid "), "{answer}");
        answers.push(answer);
        let a = stats(socket);
        assert_eq!(
            a.sessions, b.sessions,
            "live sessions before and after an upgrade"
        );
        assert!(forwarded(&a) >= forwarded(&b), "forwarded went back");
        assert!(a.sessions_created >= b.sessions_created);
    }
    let after = stats(socket);
    let ping = ping.wait_with_output().unwrap();
    let iperf = iperf.wait_with_output().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let (sent, received) = ping_counts(&ping);
    let report: serde_json::Value = serde_json::from_slice(&iperf.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&iperf.stderr)));
    let mut rates: Vec<f64> = report["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sum"]["bits_per_second"].as_f64().unwrap())
        .collect();
    let series = rates.clone();
    let lowest = rates.iter().copied().fold(f64::MAX, f64::min);
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    eprintln!(
        "two upgrades during traffic: {answers:?} at {at:?} s; {received}/{sent} pings; \
         iperf3 1 s intervals {:.0}-{:.0} Mbit/s (median {:.0}); sessions {} -> {}",
        lowest / 1e6,
        rates[rates.len() - 1] / 1e6,
        median / 1e6,
        before.sessions,
        after.sessions
    );
    assert!(
        lowest >= median / 10.0,
        "an iperf3 interval at {lowest:.0} bit/s, below a tenth of the median {median:.0}: {series:?}"
    );
    assert_eq!(
        tcp_timeouts(&sub),
        timeouts,
        "a TCP retransmission timeout in {sub}"
    );
    assert!(
        sent - received <= 2,
        "{} pings lost across two upgrades",
        sent - received
    );
    assert!(forwarded(&after) > forwarded(&before));
    assert!(after.sessions_created >= before.sessions_created);
    assert_eq!(after.process.upgrades, before.process.upgrades + 2);
    assert_eq!(after.process.state_since, before.process.state_since);
    assert_ne!(after.process.pid, first);
    assert_ne!(after.process.started, before.process.started);
    // The router still serves, then stops and the export is read.
    ok(&sub, &["ping", "-c", "1", "-W", "2", "192.0.2.80"]);
    assert!(lab.stop().success());
    let messages = sequences(&pcap);
    assert!(messages.len() > 3, "{messages:?}");
    assert_eq!(messages[0].0, 0, "the export starts at 0");
    for pair in messages.windows(2) {
        let ((s0, n0), (s1, _)) = (pair[0], pair[1]);
        assert_eq!(
            s1,
            (s0 + n0) % (1 << 32),
            "sequence numbers not consecutive: {messages:?}"
        );
    }
    // One create and at most one delete per session: the handovers logged
    // nothing (a release and a new create would show twice).
    let mut per_session: HashMap<String, Vec<String>> = HashMap::new();
    let records = nat_records(&pcap);
    assert!(
        records.len() >= 8,
        "creates and deletes of 4 sessions at least: {records:?}"
    );
    for r in records {
        // The session: every field but the event and its time.
        let key: Vec<String> = r
            .iter()
            .filter(|(k, _)| !k.contains("nat_event") && !k.contains("time"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let event = r
            .get("cflow.nat_event")
            .map(|v| v.to_string())
            .unwrap_or_default();
        per_session.entry(key.join(" ")).or_default().push(event);
    }
    for (session, events) in &per_session {
        let creates = events.iter().filter(|e| e.contains("\"1\"")).count();
        assert!(creates <= 1, "{session}: {events:?}");
        assert!(events.len() <= 2, "{session}: {events:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A script that runs the test build of sixfold with `hook` set in its
/// environment (the router starts it as the new binary).
fn hooked(dir: &Path, hook: &str) -> PathBuf {
    let path = dir.join(format!("sixfold-{}", hook.replace('=', "-")));
    std::fs::write(
        &path,
        format!("#!/bin/sh\nSIXFOLD_TEST_HANDOVER={hook} exec {SIXFOLD} \"$@\"\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_new_process_that_fails_at_any_step_leaves_the_old_router_forwarding() {
    if !can_run("a_new_process_that_fails_at_any_step_leaves_the_old_router_forwarding") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sfupk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lab = Lab::start("sfupk", &["--subscribers", "1"]);
    let sub = lab.ns("sub1");
    let socket = "/run/sixfold-sfupk.sock";
    let pid = lab.router_pid();
    let ping = in_ns(
        &sub,
        &["ping", "-i", "0.01", "-c", "800", "-W", "1", "192.0.2.80"],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let before = stats(socket);
    // Each check below pings once more (a new ICMP session): the sessions
    // only grow.
    let mut sessions = before.sessions;
    let cases = [
        ("before-hello", "ended"),
        ("after-fds", "ended"),
        ("before-confirm", "ended"),
        (
            "version=99",
            "the new binary reads state format version 99, this router writes version 1: not upgraded",
        ),
    ];
    for (hook, says) in cases {
        let binary = hooked(&dir, hook);
        let out = Command::new(SIXFOLD)
            .args(["upgrade", "--socket", socket, "--binary"])
            .arg(&binary)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{hook}: {err}");
        assert!(err.contains("refused, the router goes on"), "{hook}: {err}");
        assert!(err.contains(says), "{hook}: {err}");
        let s = stats(socket);
        assert_eq!(s.process.pid, pid, "{hook}: another process answers");
        assert_eq!(s.process.upgrades, 0);
        assert!(
            s.sessions >= sessions,
            "{hook}: sessions {} -> {}",
            sessions,
            s.sessions
        );
        sessions = s.sessions;
        assert!(
            forwarded(&s) > forwarded(&before),
            "{hook}: nothing forwarded"
        );
        ok(&sub, &["ping", "-c", "1", "-W", "2", "192.0.2.80"]);
    }
    let ping = ping.wait_with_output().unwrap();
    let (sent, received) = ping_counts(&ping);
    eprintln!("four refused upgrades: {received}/{sent} pings");
    assert!(sent - received <= 4, "{} pings lost", sent - received);
    // And a good one still works after them.
    let out = Command::new(SIXFOLD)
        .args(["upgrade", "--socket", socket])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with(&format!("upgraded pid {pid} -> ")),
        "{text}"
    );
    ok(&sub, &["ping", "-c", "1", "-W", "2", "192.0.2.80"]);
    assert_eq!(stats(socket).process.upgrades, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Under systemd (played by a socket the test binds): the new process and
/// the old one both name the new pid (`MAINPID=`), the new one says
/// `READY=1`, and nobody says `STOPPING=1`: the service goes on. systemd's
/// `WATCHDOG_PID` names the main process (here a pid that is neither, so the
/// first router does not feed it): the new process, the main one now, does.
#[test]
fn systemd_hears_the_new_main_pid_and_no_stop() {
    if !can_run("systemd_hears_the_new_main_pid_and_no_stop") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sfupn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // Everything said within 2 s (the watchdog, once fed, never goes quiet).
    let read_all = || {
        let mut buf = [0u8; 4096];
        let mut seen = Vec::new();
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            if let Ok(n) = socket.recv(&mut buf) {
                seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        seen
    };
    let lab = Lab::start_env(
        "sfupn",
        &["--subscribers", "1"],
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
            ("WATCHDOG_PID", "1"),
        ],
    );
    let mut lab = lab;
    let first = read_all();
    assert!(first.iter().any(|m| m.contains("READY=1")), "{first:?}");
    assert!(!first.iter().any(|m| m.contains("WATCHDOG=1")), "{first:?}");
    let answer = lab.say("upgrade");
    let new: u32 = answer
        .split(" -> ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{answer}"));
    let seen = read_all();
    let mainpid = format!("MAINPID={new}");
    let naming: Vec<&String> = seen.iter().filter(|m| m.contains(&mainpid)).collect();
    assert_eq!(
        naming.len(),
        2,
        "the new and the old process name {new}: {seen:?}"
    );
    assert!(naming.iter().any(|m| m.contains("READY=1")), "{seen:?}");
    assert!(!seen.iter().any(|m| m.contains("STOPPING=1")), "{seen:?}");
    assert!(
        seen.iter().any(|m| m.contains("WATCHDOG=1")),
        "the new process feeds the watchdog: {seen:?}"
    );
    ok(
        &lab.ns("sub1"),
        &["ping", "-c", "1", "-W", "2", "192.0.2.80"],
    );
    assert!(lab.stop().success());
    let _ = std::fs::remove_dir_all(&dir);
}
