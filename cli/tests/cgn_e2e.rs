//! Carrier-grade operations end to end (needs root): the lab's router with two
//! workers in each allocation mode, real TCP connections from two subscribers,
//! and the IPFIX export read by oracles nobody here wrote — tshark for the NAT
//! events (RFC 8158: every connection the WAN saw lies in a block, range or
//! session the export announced for that subscriber at that time; nothing
//! malformed), nfdump for the flow accounting before the NAT (per-subscriber
//! totals equal the router's counters and cover what iperf3 sent, IPv4 and
//! IPv6).

mod common;
use common::nfdump::*;
use common::*;
use sixfold_router::Snapshot;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SERVER: &str = "192.0.2.80";

/// A connection the WAN server saw: when (UNIX seconds), from which public
/// address and port.
type Connection = (f64, String, u16);

/// One lab run: each subscriber's connections (index 0: sub1), the router's
/// counters before it stopped, the capture of its export, its configuration.
struct ModeRun {
    per_sub: Vec<Vec<Connection>>,
    stats: Snapshot,
    pcap: PathBuf,
    config: PathBuf,
}

/// Public ports the export announced for an inside address from a time on: a
/// port block (natEvent 16), or one session's port (natEvent 4).
struct Announced {
    at: f64,
    inside: String,
    public: String,
    first: u16,
    last: u16,
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sixfold-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A lab configuration: `nat` and `ipfix` lines, and the lab's own two
/// subscribers (so `sixfold nat lookup` on this file does the lab's arithmetic).
fn write_config(path: &Path, nat: &str, ipfix: &str) {
    let mut text = format!("[nat]\npool = [\"203.0.113.0/28\"]\n{nat}\n[ipfix]\n{ipfix}\n");
    for k in 1..=2 {
        text += &format!(
            "[[subscriber]]\nname = \"sub{k}\"\nipv4 = [\"100.64.1.{k}/32\"]\nipv6 = [\"2001:db8:1:{k}::/64\"]\n"
        );
    }
    std::fs::write(path, text).unwrap();
}

/// Frames tshark calls malformed, or flags with an error.
fn malformed(pcap: &Path) -> usize {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args([
            "-d",
            "udp.port==4739,cflow",
            "-Y",
            "_ws.malformed || _ws.expert.severity == error",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn stats(prefix: &str) -> Snapshot {
    let socket = format!("/run/sixfold-{prefix}.sock");
    serde_json::from_str(&sixfold::control::request(&socket, "stats").unwrap()).unwrap()
}

/// (time, public address, public port) of each connection the WAN server saw.
fn connections(log: &Path) -> Vec<Connection> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            (
                w[0].parse().unwrap(),
                w[1].to_string(),
                w[2].parse().unwrap(),
            )
        })
        .collect()
}

/// Runs the lab in one mode with two workers, 40 connections from each
/// subscriber; returns the connections per subscriber (index 0: sub1), the
/// router's counters, and the capture of the export.
fn run_mode(prefix: &str, nat: &str, ipfix: &str) -> ModeRun {
    let d = dir(prefix);
    let (config, pcap) = (d.join("router.toml"), d.join("ipfix.pcap"));
    write_config(&config, nat, ipfix);
    let mut lab = Lab::start(
        prefix,
        &[
            "--workers",
            "2",
            "--config",
            config.to_str().unwrap(),
            "--ipfix-pcap",
            pcap.to_str().unwrap(),
        ],
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/connections.py");
    let mut per_sub = Vec::new();
    for k in 1..=2 {
        let log = d.join(format!("sub{k}.log"));
        let log_at = log.to_str().unwrap();
        let wan = lab.ns("wan");
        let mut server = spawn_in(&wan, &["python3", script, "serve", SERVER, "7100", log_at]);
        std::thread::sleep(Duration::from_millis(400));
        ok(
            &lab.ns(&format!("sub{k}")),
            &["python3", script, "connect", SERVER, "7100", "40"],
        );
        std::thread::sleep(Duration::from_millis(200));
        let _ = server.kill();
        let _ = server.wait();
        per_sub.push(connections(&log));
    }
    // Long enough for an interim re-announcement of every block (`interim = 2`).
    std::thread::sleep(Duration::from_millis(2500));
    let s = stats(prefix);
    let status = lab.stop();
    assert!(status.success(), "lab exited with {status}");
    ModeRun {
        per_sub,
        stats: s,
        pcap,
        config,
    }
}

/// Checks that apply in every mode: both subscribers' 40 connections got
/// through two workers (every reply steered to the worker holding its
/// mapping: none was dropped for want of one), and the export is clean.
fn common_checks(mode: &str, run: &ModeRun) {
    let (per_sub, s, pcap) = (&run.per_sub, &run.stats, &run.pcap);
    assert_eq!(s.datapath.workers, 2, "{mode}");
    for (k, conns) in per_sub.iter().enumerate() {
        assert_eq!(conns.len(), 40, "{mode}: sub{}", k + 1);
    }
    let dropped = s.drops[sixfold_router::DropReason::NoMapping];
    assert_eq!(
        dropped, 0,
        "{mode}: replies reached a worker without their mapping"
    );
    assert_eq!(s.ipfix.records_dropped, 0, "{mode}");
    assert_eq!(malformed(pcap), 0, "{mode}: tshark finds malformed IPFIX");
}

/// What the export in `pcap` announced with natEvent `event` (16: blocks,
/// 4: sessions), as tshark decodes it.
fn announced(pcap: &Path, event: &str) -> Vec<Announced> {
    let text = |r: &serde_json::Map<String, serde_json::Value>, f: &str| {
        r[f].as_str()
            .unwrap_or_else(|| panic!("no {f} in {r:?}"))
            .to_string()
    };
    let port = |r: &serde_json::Map<String, serde_json::Value>, f: &str| -> u16 {
        text(r, f).parse().unwrap()
    };
    nat_records(pcap)
        .iter()
        .filter(|r| r["cflow.nat_event"] == event)
        .map(|r| {
            let (first, last) = if event == "16" {
                (
                    port(r, "cflow.port_range_start"),
                    port(r, "cflow.port_range_end"),
                )
            } else {
                let p = port(r, "cflow.post_naptsource_transport_port");
                (p, p)
            };
            Announced {
                at: tshark_time(&text(r, "cflow.observation_time_milliseconds")),
                inside: text(r, "cflow.srcaddr"),
                public: text(r, "cflow.post_natsource_ipv4_address"),
                first,
                last,
            }
        })
        .collect()
}

/// Every connection of subscriber k lies in something `announced` for its
/// inside address before the connection arrived.
fn assert_covered(mode: &str, run: &ModeRun, announced: &[Announced]) {
    for (k, conns) in run.per_sub.iter().enumerate() {
        let inside = format!("100.64.1.{}", k + 1);
        for (t, addr, port) in conns {
            let covered = announced.iter().any(|a| {
                a.inside == inside
                    && a.public == *addr
                    && (a.first..=a.last).contains(port)
                    && a.at <= *t
            });
            assert!(
                covered,
                "{mode}: sub{}: {addr}:{port} at {t} announced nowhere before",
                k + 1
            );
        }
    }
}

/// `sixfold nat lookup --config CONFIG TARGET`'s answer.
fn lookup(config: &Path, target: &str) -> String {
    let out = Command::new(SIXFOLD)
        .args([
            "nat",
            "lookup",
            "--config",
            config.to_str().unwrap(),
            target,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lookup {target}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Skips loudly without root; the programs the tests need are there.
fn ready(test: &str) -> bool {
    if !can_run(test) {
        return false;
    }
    for p in ["tshark", "python3"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    true
}

#[test]
fn block_mode_every_connection_lies_in_a_block_announced_before_it() {
    if !ready("block_mode_every_connection_lies_in_a_block_announced_before_it") {
        return;
    }
    // Block mode: blocks of 16 ports, so 40 connections need three per subscriber.
    let nat = "allocation = \"block\"\nblock_size = 16\nmax_blocks = 8";
    let run = run_mode("sfcgnb", nat, "interim = 2");
    common_checks("block", &run);
    let records = nat_records(&run.pcap);
    let events: Vec<&str> = records
        .iter()
        .map(|r| r["cflow.nat_event"].as_str().unwrap_or(""))
        .collect();
    // No release while the lab ran; the graceful stop then releases every
    // block still held, once each (natEvent 17), after the last allocation.
    let stop = events
        .iter()
        .position(|&e| e == "17")
        .expect("the stop released no block");
    assert!(events[..stop].iter().all(|&e| e == "16"), "{events:?}");
    assert!(events[stop..].iter().all(|&e| e == "17"), "{events:?}");
    let blocks = announced(&run.pcap, "16");
    let held: std::collections::HashSet<(String, u16)> =
        blocks.iter().map(|b| (b.inside.clone(), b.first)).collect();
    let released: Vec<(String, u16)> = records[stop..]
        .iter()
        .map(|r| {
            let port = r["cflow.port_range_start"].as_str().unwrap_or("");
            (
                r["cflow.srcaddr"].as_str().unwrap_or("").to_string(),
                port.parse().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(released.len(), held.len(), "each block released once");
    assert_eq!(
        released
            .into_iter()
            .collect::<std::collections::HashSet<_>>(),
        held
    );
    assert_covered("block", &run, &blocks);
    for k in 1..=2 {
        let inside = format!("100.64.1.{k}");
        let mine: std::collections::HashSet<u16> = blocks
            .iter()
            .filter(|b| b.inside == inside)
            .map(|b| b.first)
            .collect();
        assert!(mine.len() >= 3, "sub{k}: blocks {mine:?}");
    }
    // Interim re-logging: blocks announced again while they live.
    assert!(blocks.len() > 6, "{} block records", blocks.len());
    // The operator's question, answered from the capture.
    for (k, conns) in run.per_sub.iter().enumerate() {
        let (t, addr, port) = &conns[conns.len() / 2];
        let out = Command::new(SIXFOLD)
            .args(["nat", "lookup", "--config", run.config.to_str().unwrap()])
            .args([
                "--ipfix-pcap",
                run.pcap.to_str().unwrap(),
                "--at",
                &t.to_string(),
            ])
            .arg(format!("{addr}:{port}"))
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&out.stdout);
        let want = format!(
            "{addr}:{port} -> sub{} (inside 100.64.1.{}): block ",
            k + 1,
            k + 1
        );
        assert!(
            out.status.success() && answer.starts_with(&want),
            "{answer}"
        );
    }
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join("sixfold-sfcgnb"));
}

#[test]
fn deterministic_mode_every_connection_lies_in_its_range_and_nothing_is_logged() {
    if !ready("deterministic_mode_every_connection_lies_in_its_range_and_nothing_is_logged") {
        return;
    }
    // Deterministic: every connection in the range `sixfold nat lookup` gives,
    // and the lookup the other way names the subscriber; nothing is logged.
    let nat = "allocation = \"deterministic\"\nblock_size = 2016";
    let run = run_mode("sfcgnd", nat, "interim = 2");
    common_checks("deterministic", &run);
    assert!(nat_records(&run.pcap).is_empty(), "RFC 7422: no log");
    for (k, conns) in run.per_sub.iter().enumerate() {
        // "100.64.1.1 (sub1) -> 203.0.113.1 ports 1024-3039 (2016 ports)"
        let line = lookup(&run.config, &format!("100.64.1.{}", k + 1));
        let w: Vec<&str> = line.split_whitespace().collect();
        let (first, last) = w[5].split_once('-').unwrap();
        let range = Announced {
            at: 0.0,
            inside: format!("100.64.1.{}", k + 1),
            public: w[3].to_string(),
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
        };
        assert_eq!(range.last - range.first + 1, 2016, "{line}");
        let (_, addr, port) = &conns[0];
        let answer = lookup(&run.config, &format!("{addr}:{port}"));
        let want = format!("{addr}:{port} -> sub{} (inside 100.64.1.{})", k + 1, k + 1);
        assert!(answer.starts_with(&want), "{answer}");
        let only_mine = ModeRun {
            per_sub: (0..k).map(|_| Vec::new()).chain([conns.clone()]).collect(),
            stats: Snapshot::default(),
            pcap: PathBuf::new(),
            config: PathBuf::new(),
        };
        assert_covered("deterministic", &only_mine, &[range]);
    }
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join("sixfold-sfcgnd"));
}

#[test]
fn dynamic_mode_every_connection_is_a_session_announced_before_it() {
    if !ready("dynamic_mode_every_connection_is_a_session_announced_before_it") {
        return;
    }
    // Dynamic, with per-session events: each connection is a session the
    // export announced (natEvent 4) for that subscriber before it arrived.
    let run = run_mode("sfcgny", "allocation = \"dynamic\"", "sessions = true");
    common_checks("dynamic", &run);
    assert_covered("dynamic", &run, &announced(&run.pcap, "4"));
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join("sixfold-sfcgny"));
}

/// iperf3 from `sub` to the lab's server, 4 MiB each: IPv4 up, IPv4 down
/// (`-R`), IPv6 up, IPv6 down; (payload sent, payload received) of each. The
/// sender may close with bytes still in flight, so what crossed the router
/// lies between the two.
fn iperf_runs(sub: &str) -> [(u64, u64); 4] {
    let mut sent = [(0u64, 0u64); 4];
    for (family, server, slot) in [("-4", SERVER, 0), ("-6", "2001:db8:ffff::80", 2)] {
        for (reverse, k) in [(false, 0), (true, 1)] {
            let mut args = vec!["iperf3", family, "-c", server, "-n", "4M", "-J"];
            if reverse {
                args.push("-R");
            }
            let v: serde_json::Value = serde_json::from_str(&ok(sub, &args)).unwrap();
            let end = &v["end"];
            sent[slot + k] = (
                end["sum_sent"]["bytes"].as_u64().unwrap(),
                end["sum_received"]["bytes"].as_u64().unwrap(),
            );
        }
    }
    sent
}

#[test]
fn accounting_before_the_nat_adds_up_in_nfdump_ipv4_and_ipv6() {
    if !can_run("accounting_before_the_nat_adds_up_in_nfdump_ipv4_and_ipv6") {
        return;
    }
    for p in ["nfcapd", "nfdump", "iperf3"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let d = dir("sfcgna");
    let (config, flows_dir) = (d.join("router.toml"), d.join("nfcapd"));
    std::fs::create_dir_all(&flows_dir).unwrap();
    write_config(
        &config,
        "",
        "collector = \"192.0.2.80:29995\"\nnetns = \"sfcgna-wan\"\naccounting = true\nidle_timeout = 2\ntemplate_refresh = 1",
    );
    let mut lab = Lab::start(
        "sfcgna",
        &[
            "--workers",
            "2",
            "--subscribers",
            "1",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let (sub, wan) = (lab.ns("sub1"), lab.ns("wan"));
    let flows_at = flows_dir.to_str().unwrap();
    let mut nfcapd = spawn_in(
        &wan,
        &[
            "nfcapd", "-b", SERVER, "-p", "29995", "-t", "60", "-w", flows_at,
        ],
    );
    let mut iperf = spawn_in(&wan, &["iperf3", "-s", "-B", "::"]);
    // Templates are re-sent every second: nfcapd has them before any flow ends.
    std::thread::sleep(Duration::from_millis(2500));
    let sent = iperf_runs(&sub);
    std::thread::sleep(Duration::from_millis(1000));
    let s = stats("sfcgna");
    let status = lab.stop();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(500));
    for c in [&mut nfcapd, &mut iperf] {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = c.wait();
    }
    let flows = nfdump_flows(&flows_dir);
    let v4 = |a: &str| a == "100.64.1.1";
    let v6 = |a: &str| a.starts_with("2001:db8:1:1:");
    let got = [
        total(&flows, "src4_addr", v4),
        total(&flows, "dst4_addr", v4),
        total(&flows, "src6_addr", v6),
        total(&flows, "dst6_addr", v6),
    ];
    let t = &s.subscribers[0].traffic;
    let router = [t.ipv4_out, t.ipv4_in, t.ipv6_out, t.ipv6_in].map(|x| (x.packets, x.bytes));
    assert_eq!(
        got, router,
        "nfdump's totals [v4 up, v4 down, v6 up, v6 down] vs the router's"
    );
    assert_eq!((s.ipfix.flows_overflow, s.ipfix.records_dropped), (0, 0));
    // At least what iperf3's receiver got; at most what its sender sent plus
    // headers, ACKs of the other run and the control connection (10%).
    for (k, (bytes, (sent, received))) in got.iter().map(|g| g.1).zip(sent).enumerate() {
        assert!(
            bytes >= received && bytes <= sent + sent / 10,
            "[v4 up, v4 down, v6 up, v6 down][{k}]: {bytes} B accounted; iperf3 sent {sent} B, received {received} B"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// A router in memory with NAT64 and per-session events: an IPv6-only
/// subscriber's UDP exchange through the NAT64 until its session expires, and
/// every record it logged, with the public endpoint it got.
fn nat64_session_records() -> (Vec<sixfold_router::ipfix::Record>, SocketAddrV4) {
    use sixfold_router::{Config, Direction, PacketBuf, Router, Verdict};
    use std::time::Instant;
    let config = Config::from_toml(
        "[router]\nra = false\nipv6 = \"2001:db8:ffff::1\"\n[nat]\npool = [\"203.0.113.1\"]\n\
         [ipfix]\ncollector = \"192.0.2.9:4739\"\nsessions = true\n[nat64]\nprefix = \"2001:db8:64::/96\"\n\
         [[subscriber]]\nname = \"sub2\"\nipv6 = [\"2001:db8:1:2::/64\"]\n",
    )
    .unwrap();
    let t0 = Instant::now();
    let mut router = Router::new(config, 1, t0).unwrap();
    // 2001:db8:1:2::2 port 40000 to 192.0.2.80 port 53 under the prefix.
    let mut p = vec![0x60, 0, 0, 0, 0, 13, 17, 64];
    p.extend_from_slice(&"2001:db8:1:2::2".parse::<Ipv6Addr>().unwrap().octets());
    p.extend_from_slice(
        &"2001:db8:64::c000:250"
            .parse::<Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    p.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 13, 0, 0]);
    p.extend_from_slice(b"query");
    sixfold_rewrite::recompute_checksums(&mut p).unwrap();
    let mut buf = PacketBuf::new();
    buf.storage_mut()[..p.len()].copy_from_slice(&p);
    buf.set_len(p.len());
    let v = router.process(Direction::Outbound(0), &mut buf, t0);
    assert_eq!(v, Verdict::Forward(sixfold_router::Interface::Wan));
    let out = buf.packet();
    let public = SocketAddrV4::new(
        Ipv4Addr::new(out[12], out[13], out[14], out[15]),
        u16::from_be_bytes([out[20], out[21]]),
    );
    let mut records: Vec<_> = std::iter::from_fn(|| router.poll_ipfix()).collect();
    for s in 1..=310 {
        for _ in 0..8 {
            router.tick(t0 + Duration::from_secs(s));
        }
        records.extend(std::iter::from_fn(|| router.poll_ipfix()));
    }
    (records, public)
}

/// `messages` (IPFIX) as a pcap of IPv4/UDP packets from 192.0.2.1 to the
/// collector port, one a second from `start` (UNIX seconds).
fn write_ipfix_pcap(path: &Path, messages: &[Vec<u8>], start: u64) {
    use sixfold::capture::{LINKTYPE_RAW, PcapWriter};
    let mut file = std::fs::File::create(path).unwrap();
    let w = PcapWriter::start(&mut file, LINKTYPE_RAW, false).unwrap();
    for (k, m) in messages.iter().enumerate() {
        let udp_len = 8 + m.len() as u16;
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 9,
        ];
        p[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
        p.extend_from_slice(&[0x75, 0x30, 0x12, 0x83]); // 30000 -> 4739
        p.extend_from_slice(&udp_len.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(m);
        sixfold_rewrite::recompute_checksums(&mut p).unwrap();
        let at = Duration::from_secs(start + k as u64);
        w.write(&mut file, at, p.len() as u32, &p).unwrap();
    }
}

#[test]
fn nat64_session_events_decode_in_tshark_and_nfdump_with_the_ipv6_addresses() {
    // In memory (no root): what the router logs, encoded as the exporter does.
    for p in ["tshark", "nfcapd", "nfdump"] {
        if !have(p) {
            assert!(
                std::env::var_os("SIXFOLD_REQUIRE_ORACLES").is_none(),
                "{p} is missing (scripts/test.sh installs it)"
            );
            eprintln!("SKIPPED nat64_session_events_decode_in_tshark_and_nfdump: needs {p}");
            return;
        }
    }
    use sixfold_router::ipfix::encode::Encoder;
    let (records, public) = nat64_session_records();
    let start = 1_764_000_000;
    let mut encoder = Encoder::new(5, start * 1000);
    let mut messages = vec![encoder.start(start as u32)];
    messages.extend(encoder.data(&records, start as u32 + 400));
    let d = dir("n64c-oracle");
    let pcap = d.join("nat64.pcap");
    write_ipfix_pcap(&pcap, &messages, start);
    assert_eq!(malformed(&pcap), 0, "tshark finds malformed IPFIX");
    // The start message: sequence 0 and the exporter's start time (the restart
    // signal a reader closes an earlier run's holdings at).
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args(["-d", "udp.port==4739,cflow", "-T", "fields"])
        .args([
            "-e",
            "cflow.sys_init_time",
            "-e",
            "cflow.sequence",
            "-c",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Nov 24, 2025 16:00:00.000000000 UTC\t0\n"
    );
    // tshark: natEvent 6 then 7 (the session expired 300 s on), each with the
    // host's IPv6 address, the synthesised destination and the IPv4 ends.
    let got = nat_records(&pcap);
    assert_eq!(got.len(), 2, "{got:#?}");
    for (r, (event, secs)) in got.iter().zip([("6", 0.0), ("7", 300.0)]) {
        let field = |f: &str| r[f].as_str().unwrap_or_else(|| panic!("no {f} in {r:?}"));
        assert_eq!(field("cflow.nat_event"), event);
        assert_eq!(field("cflow.srcaddrv6"), "2001:db8:1:2::2");
        assert_eq!(field("cflow.dstaddrv6"), "2001:db8:64::c000:250");
        assert_eq!(
            field("cflow.post_natsource_ipv4_address"),
            public.ip().to_string()
        );
        assert_eq!(
            field("cflow.post_natdestination_ipv4_address"),
            "192.0.2.80"
        );
        assert_eq!(
            [
                field("cflow.protocol"),
                field("cflow.srcport"),
                field("cflow.post_naptsource_transport_port"),
                field("cflow.dstport"),
                field("cflow.post_naptdestination_transport_port"),
            ],
            ["17", "40000", &public.port().to_string(), "53", "53"]
        );
        let at = tshark_time(field("cflow.observation_time_milliseconds"));
        assert_eq!(at, start as f64 + secs);
        assert!(
            r.values().all(|v| !v.as_str().is_some_and(is_alias)),
            "an alias in {r:?}"
        );
    }
    // nfdump, through nfcapd: the same two events, named as NAT64 ones.
    nfcapd_store(&d.join("nfcapd"), &messages);
    let nf = nfdump_records(&d.join("nfcapd"));
    assert_eq!(nf.len(), 2, "{nf:#?}");
    for (r, (id, name, at)) in nf.iter().zip([
        ("6", "NAT64 session create", "2025-11-24T16:00:00.0"),
        ("7", "NAT64 session delete", "2025-11-24T16:05:00.0"),
    ]) {
        assert_eq!(
            (
                r["nat_event_id"].as_str(),
                r["nat_event"].as_str(),
                r["t_event"].as_str()
            ),
            (Some(id), Some(name), Some(at))
        );
        assert_eq!(
            (r["src6_addr"].as_str(), r["dst6_addr"].as_str()),
            (Some("2001:db8:1:2::2"), Some("2001:db8:64::c000:250"))
        );
        assert_eq!(
            (r["src4_xlt_ip"].as_str(), r["dst4_xlt_ip"].as_str()),
            (Some(public.ip().to_string().as_str()), Some("192.0.2.80"))
        );
        assert_eq!(
            (
                r["proto"].as_u64(),
                r["src_port"].as_u64(),
                r["src_xlt_port"].as_str(),
                r["dst_port"].as_u64(),
                r["dst_xlt_port"].as_str()
            ),
            (
                Some(17),
                Some(40000),
                Some(public.port().to_string().as_str()),
                Some(53),
                Some("53")
            )
        );
        assert!(r.get("src4_addr").is_none(), "no IPv4 source: {r}");
    }
    let _ = std::fs::remove_dir_all(&d);
}
