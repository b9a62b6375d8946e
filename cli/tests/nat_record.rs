//! `sixfold nat lookup` and `sixfold nat events` on captures of the router's
//! IPFIX export as collectors store them: the messages are the router's own
//! encoder's, the frames around them every way a capture holds UDP (Ethernet
//! with a trailer, IPv6, Linux cooked v1 and v2, pcapng), each also decoded
//! by tshark where it is installed. Exact output and exit codes.

mod common;
use common::frames::{Link, ends, frames, frames_from, write_pcap, write_pcapng};
use common::{have, nat_records};
use sixfold_router::ipfix::encode::Encoder;
use sixfold_router::ipfix::{NatRecord, Record};
use sixfold_router::stats::NatEvent;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// 2026-03-03T14:00:00Z in UNIX milliseconds.
const T0: u64 = 1_772_546_400_000;
const MIN: u64 = 60_000;

const CONFIG: &str = "\
[nat]
pool = [\"203.0.113.7\"]
allocation = \"block\"
block_size = 128
[ipfix]
collector = \"[2001:db8::90]:4739\"
[[subscriber]]
name = \"alice\"
ipv4 = [\"100.64.1.1\"]
[[subscriber]]
name = \"bob\"
ipv4 = [\"100.64.1.2\"]
";

/// A scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sixfold-record-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sixfold(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sixfold"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A port block event about 100.64.1.`k`: 203.0.113.7 ports 40000-40127.
fn block(event: NatEvent, ms: u64, k: u8) -> Record {
    Record::Nat(NatRecord {
        event,
        time_ms: ms,
        inside: Ipv4Addr::new(100, 64, 1, k),
        outside: Ipv4Addr::new(203, 0, 113, 7),
        protocol: 0,
        inside_port: 0,
        outside_port: 0,
        first_port: 40000,
        last_port: 40127,
        remote: Ipv4Addr::UNSPECIFIED,
        remote_port: 0,
        inside6: Ipv6Addr::UNSPECIFIED,
        remote6: Ipv6Addr::UNSPECIFIED,
    })
}

/// One exporting process's messages, each with its export time (ms).
struct Export {
    encoder: Encoder,
    messages: Vec<(u64, Vec<u8>)>,
}

impl Export {
    /// A process that starts at `ms`: its first message (sequence 0,
    /// templates, the start record).
    fn start(ms: u64) -> Export {
        let mut encoder = Encoder::new(1, ms);
        let first = encoder.start((ms / 1000) as u32);
        // Record times are the router's since its epoch (`ms`).
        Export {
            encoder,
            messages: vec![(ms, first)],
        }
    }

    /// A message with `records` (times in UNIX ms), exported at the last one's
    /// time; `epoch`: the process's start.
    fn send(&mut self, epoch: u64, records: &[Record]) -> &mut Export {
        let at = records.iter().map(|r| match r {
            Record::Nat(n) => n.time_ms,
            Record::Flow(f) => f.end_ms,
        });
        let at = at.max().unwrap();
        let relative: Vec<Record> = records
            .iter()
            .map(|r| match r {
                Record::Nat(n) => Record::Nat(NatRecord {
                    time_ms: n.time_ms - epoch,
                    ..*n
                }),
                other => *other,
            })
            .collect();
        for m in self.encoder.data(&relative, (at / 1000) as u32) {
            self.messages.push((at, m));
        }
        self
    }
}

/// The standard record: alice gets the block at 14:00:10, it is re-announced
/// at 14:03, released at 14:05; bob gets it at 14:06; a last message at 14:10.
fn alice_then_bob() -> Vec<(u64, Vec<u8>)> {
    use NatEvent::{BlockAllocation as A, BlockDeallocation as R};
    let start = T0;
    let mut x = Export::start(start);
    x.send(start, &[block(A, T0 + 10_000, 1)])
        .send(start, &[block(A, T0 + 3 * MIN, 1)])
        .send(start, &[block(R, T0 + 5 * MIN, 1)])
        .send(start, &[block(A, T0 + 6 * MIN, 2)])
        .send(start, &[block(A, T0 + 10 * MIN, 2)]);
    x.messages
}

fn lookup(config: &Path, pcap: &Path, at: &str, target: &str) -> Output {
    sixfold(&[
        "nat",
        "lookup",
        "--config",
        config.to_str().unwrap(),
        "--ipfix-pcap",
        pcap.to_str().unwrap(),
        "--at",
        at,
        target,
    ])
}

/// What tshark decodes of a capture: (natEvent, postNATSourceIPv4Address,
/// portRangeStart) per NAT record.
fn tshark_events(pcap: &Path) -> Vec<(String, String, String)> {
    nat_records(pcap)
        .iter()
        .map(|r| {
            let field = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            (
                field("cflow.nat_event"),
                field("cflow.post_natsource_ipv4_address"),
                field("cflow.port_range_start"),
            )
        })
        .collect()
}

const ALICE_AT_1402: &str = "\
203.0.113.7:40000 -> alice (inside 100.64.1.1): block 40000-40127, allocated 2026-03-03T14:00:10.000Z, \
released 2026-03-03T14:05:00.000Z (certain from 2026-03-03T14:00:10.000Z to 2026-03-03T14:05:00.000Z); \
held for certain at 2026-03-03T14:02:00.000Z
203.0.113.7:40000: one holder at 2026-03-03T14:02:00.000Z, for certain
record: 6 IPFIX messages from 1 exporter(s), 1 run(s) (0 restart(s)), 0 data records missing by the \
sequence numbers, 0 unreadable messages, 0 damaged, 0 fragments not reassembled, 0 duplicate records
around 2026-03-03T14:02:00.000Z: the record is complete
";

#[test]
fn every_way_a_capture_holds_the_export_gives_one_answer() {
    let dir = scratch("links");
    let config = dir.join("router.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let messages = alice_then_bob();
    let cases = [
        (
            "ipv4-ethernet-trailer.pcap",
            Link::Ethernet(4),
            false,
            false,
        ),
        ("ipv6-ethernet.pcap", Link::Ethernet(0), true, false),
        (
            "ipv6-ethernet-trailer.pcapng",
            Link::Ethernet(4),
            true,
            true,
        ),
        ("ipv4-sll.pcap", Link::Sll, false, false),
        ("ipv6-sll2.pcapng", Link::Sll2, true, true),
    ];
    for (name, link, v6, ng) in cases {
        let pcap = dir.join(name);
        let f = frames(&messages, link, v6);
        if ng {
            write_pcapng(&pcap, link.linktype(), &f);
        } else {
            write_pcap(&pcap, link.linktype(), &f);
        }
        let o = lookup(&config, &pcap, "2026-03-03T14:02:00Z", "203.0.113.7:40000");
        assert_eq!(text(&o.stdout), ALICE_AT_1402, "{name}: {o:?}");
        assert_eq!(o.status.code(), Some(0), "{name}");
        // Between alice's release and bob's allocation: nobody (exit 1).
        let o = lookup(
            &config,
            &pcap,
            "2026-03-03T15:05:30+01:00",
            "203.0.113.7:40000",
        );
        assert_eq!(o.status.code(), Some(1), "{name}: {o:?}");
        assert!(
            text(&o.stdout).starts_with(
                "203.0.113.7:40000: no port block or session in the record holds it at \
                 2026-03-03T14:05:30.000Z\n"
            ),
            "{name}: {o:?}"
        );
        // Bob, asked in UNIX seconds with a fraction.
        let o = lookup(&config, &pcap, "1772546820.25", "203.0.113.7:40100");
        assert_eq!(o.status.code(), Some(0), "{name}: {o:?}");
        assert!(
            text(&o.stdout).starts_with("203.0.113.7:40100 -> bob (inside 100.64.1.2)"),
            "{name}: {o:?}"
        );
        // The independent decoder reads the same five events from it.
        if have("tshark") {
            let got = tshark_events(&pcap);
            let want: Vec<(String, String, String)> = ["16", "16", "17", "16", "16"]
                .iter()
                .map(|e| (e.to_string(), "203.0.113.7".into(), "40000".into()))
                .collect();
            assert_eq!(got, want, "{name}: tshark");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The standard record as an IPv4 Ethernet pcap, and the configuration.
fn standard(test: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = scratch(test);
    let config = dir.join("router.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let pcap = dir.join("export.pcap");
    write_pcap(
        &pcap,
        1,
        &frames(&alice_then_bob(), Link::Ethernet(0), false),
    );
    (dir, config, pcap)
}

#[test]
fn a_cut_capture_is_answered_from_what_was_read_with_a_warning() {
    let (dir, config, pcap) = standard("cut");
    // Cut inside the last frame (bob's re-announcement at 14:10).
    let mut bytes = std::fs::read(&pcap).unwrap();
    bytes.truncate(bytes.len() - 30);
    std::fs::write(&pcap, &bytes).unwrap();
    let o = lookup(&config, &pcap, "2026-03-03T14:02:00Z", "203.0.113.7:40000");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let o = lookup(&config, &pcap, "2026-03-03T14:07:00Z", "203.0.113.7:40000");
    assert_eq!(
        text(&o.stdout),
        "203.0.113.7:40000 -> bob (inside 100.64.1.2): block 40000-40127, allocated \
         2026-03-03T14:06:00.000Z, still held at the end of the record (uncertain between \
         2026-03-03T14:06:00.000Z and the end of the record); uncertain at 2026-03-03T14:07:00.000Z
203.0.113.7:40000: a holder is uncertain at 2026-03-03T14:07:00.000Z
record: 5 IPFIX messages from 1 exporter(s), 1 run(s) (0 restart(s)), 0 data records missing by \
         the sequence numbers, 0 unreadable messages, 0 damaged, 0 fragments not reassembled, 0 \
         duplicate records
warning: the capture is cut short (the file ends inside a record, after 5 whole frames); answered \
         from what was read
around 2026-03-03T14:07:00.000Z: the record is unknown between 2026-03-03T14:05:59.000Z and the \
         end of the record
"
        .replace("\n         ", "\n"),
        "{o:?}"
    );
    assert_eq!(o.status.code(), Some(4));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_time_that_is_not_real_is_a_command_line_error() {
    let (dir, config, pcap) = standard("at");
    for (at, why) in [
        ("nan", "not a number of seconds"),
        ("inf", "not a number of seconds"),
        ("1e3", "not a number of seconds"),
        ("2026-02-31T00:00:00Z", "no such day"),
        ("2026-03-03T99:99:99Z", "no such time of day"),
        ("2026-03-03T14:02:00", "not a real time"),
    ] {
        let o = lookup(&config, &pcap, at, "203.0.113.7:40000");
        assert_eq!(o.status.code(), Some(2), "{at}: {o:?}");
        let err = text(&o.stderr);
        assert!(
            err.starts_with(&format!(
                "error: invalid value '{at}' for '--at <TIME>': \"{at}\" is not a real time"
            )) && err.contains(why),
            "{at}: {err}"
        );
        assert_eq!(text(&o.stdout), "");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deterministic_mode_answers_from_the_configuration_even_with_a_capture() {
    // Issue 29 item 12: the configuration is the record in this mode.
    let (dir, _, pcap) = standard("deterministic");
    let config = dir.join("det.toml");
    std::fs::write(
        &config,
        "[nat]\npool = [\"203.0.113.7\"]\nallocation = \"deterministic\"\nblock_size = 16128\n\
         [[subscriber]]\nname = \"alice\"\nipv4 = [\"100.64.1.1\"]\n",
    )
    .unwrap();
    let o = lookup(&config, &pcap, "2026-03-03T14:02:00Z", "203.0.113.7:1024");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(
        text(&o.stdout),
        "203.0.113.7:1024 -> alice (inside 100.64.1.1), whose range is 203.0.113.7 ports \
         1024-17151 (RFC 7422: no log needed)\n"
    );
    assert_eq!(
        text(&o.stderr),
        "note: [nat] allocation = \"deterministic\": the configuration is the record (RFC 7422); \
         the export is not read\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two runs of one exporter: run 0 (14:00) gives alice the block and is
/// killed after 14:03 (no release logged); run 1 (14:20, a new source port)
/// gives bob the block at 14:21 — that message is lost — releases it at 14:25
/// and gives it to alice again at 14:26. Written as an IPv4 Ethernet pcap.
fn two_runs(test: &str) -> (PathBuf, PathBuf, PathBuf) {
    use NatEvent::{BlockAllocation as A, BlockDeallocation as R};
    let dir = scratch(test);
    let config = dir.join("router.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let (one, two) = (T0, T0 + 20 * MIN);
    let mut x = Export::start(one);
    x.send(one, &[block(A, T0 + 10_000, 1)])
        .send(one, &[block(A, T0 + 3 * MIN, 1)]);
    let mut y = Export::start(two);
    y.send(two, &[block(A, T0 + 21 * MIN, 2)]);
    y.messages.pop();
    y.send(two, &[block(R, T0 + 25 * MIN, 2)])
        .send(two, &[block(A, T0 + 26 * MIN, 1)])
        .send(two, &[block(A, T0 + 30 * MIN, 1)]);
    let (src, dst) = ends(false);
    let src2 = SocketAddr::new(src.ip(), 30001);
    let mut f = frames_from(&x.messages, Link::Ethernet(0), src, dst);
    f.extend(frames_from(&y.messages, Link::Ethernet(0), src2, dst));
    let pcap = dir.join("export.pcap");
    write_pcap(&pcap, 1, &f);
    (dir, config, pcap)
}

#[test]
fn two_runs_and_a_lost_allocation_answer_with_their_certainty() {
    let (dir, config, pcap) = two_runs("two-runs");
    let code = |at: &str| {
        lookup(&config, &pcap, at, "203.0.113.7:40000")
            .status
            .code()
    };
    // Alice for certain while run 0 shows her; after its last message she is
    // uncertain until run 1 began, never after it.
    assert_eq!(code("2026-03-03T14:02:00Z"), Some(0));
    assert_eq!(code("2026-03-03T14:10:00Z"), Some(4));
    assert_eq!(code("2026-03-03T14:27:00Z"), Some(0));
    // Bob's allocation is lost: his release proves he had it since the
    // restart at the earliest, not for certain.
    let o = lookup(&config, &pcap, "2026-03-03T14:23:00Z", "203.0.113.7:40000");
    assert_eq!(
        text(&o.stdout),
        "203.0.113.7:40000 -> bob (inside 100.64.1.2): block 40000-40127, allocation not in the \
         record, released 2026-03-03T14:25:00.000Z (uncertain between 2026-03-03T14:20:00.000Z and \
         2026-03-03T14:25:00.000Z); uncertain at 2026-03-03T14:23:00.000Z
203.0.113.7:40000: a holder is uncertain at 2026-03-03T14:23:00.000Z
record: 7 IPFIX messages from 1 exporter(s), 2 run(s) (1 restart(s)), 1 data records missing by \
         the sequence numbers, 0 unreadable messages, 0 damaged, 0 fragments not reassembled, 0 \
         duplicate records
around 2026-03-03T14:23:00.000Z: the record is unknown between 2026-03-03T14:20:00.000Z and \
         2026-03-03T14:25:01.000Z
"
        .replace("\n         ", "\n"),
        "{o:?}"
    );
    assert_eq!(o.status.code(), Some(4));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nat_events_prints_the_record_its_runs_and_gaps() {
    let (dir, config, pcap) = two_runs("events");
    let (c, p) = (config.to_str().unwrap(), pcap.to_str().unwrap());
    let o = sixfold(&["nat", "events", "--config", c, "--ipfix-pcap", p]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let block = "public 203.0.113.7 ports 40000-40127";
    assert_eq!(
        text(&o.stdout),
        format!(
            "\
2026-03-03T14:00:00.000Z run 0 begins: exporter 192.0.2.1 (from 192.0.2.1:30000) domain 1 (start \
             record); last seen 2026-03-03T14:03:00.000Z
2026-03-03T14:00:10.000Z run 0 natEvent 16 port block allocation: inside 100.64.1.1 (alice) {block}
2026-03-03T14:02:59.000Z run 0: the record is unknown from here to 2026-03-03T14:20:00.000Z
2026-03-03T14:03:00.000Z run 0 natEvent 16 port block allocation: inside 100.64.1.1 (alice) {block}
2026-03-03T14:20:00.000Z run 1 begins: exporter 192.0.2.1 (from 192.0.2.1:30001) domain 1 (start \
             record); last seen 2026-03-03T14:30:00.000Z
2026-03-03T14:20:00.000Z run 1: the record is unknown from here to 2026-03-03T14:25:01.000Z
2026-03-03T14:25:00.000Z run 1 natEvent 17 port block de-allocation: inside 100.64.1.2 (bob) {block}
2026-03-03T14:26:00.000Z run 1 natEvent 16 port block allocation: inside 100.64.1.1 (alice) {block}
2026-03-03T14:29:59.000Z run 1: the record is unknown from here to the end of the record
2026-03-03T14:30:00.000Z run 1 natEvent 16 port block allocation: inside 100.64.1.1 (alice) {block}
2026-03-03T14:30:00.000Z run 1: 1 data records missing by the sequence numbers
5 events; 7 messages, 0 unreadable, 0 damaged, 0 duplicate records
"
        )
        .replace("\n             ", "")
    );
    // Filtered by inside address and time, without the configuration.
    let o = sixfold(&[
        "nat",
        "events",
        "--ipfix-pcap",
        p,
        "--inside",
        "100.64.1.1",
        "--public",
        "203.0.113.7:40127",
        "--from",
        "2026-03-03T14:15:00Z",
        "--to",
        "1772548140",
    ]);
    assert_eq!(
        text(&o.stdout),
        format!(
            "\
2026-03-03T14:20:00.000Z run 1 begins: exporter 192.0.2.1 (from 192.0.2.1:30001) domain 1 (start \
             record); last seen 2026-03-03T14:30:00.000Z
2026-03-03T14:20:00.000Z run 1: the record is unknown from here to 2026-03-03T14:25:01.000Z
2026-03-03T14:26:00.000Z run 1 natEvent 16 port block allocation: inside 100.64.1.1 {block}
1 events; 7 messages, 0 unreadable, 0 damaged, 0 duplicate records
"
        )
        .replace("\n             ", "")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_set_that_lies_about_its_length_keeps_the_sets_before_it() {
    let (dir, config, _) = standard("set-lie");
    let mut messages = alice_then_bob();
    // Alice's allocation, then a set that says 256 bytes where 6 remain.
    let m = &mut messages[1].1;
    m.extend_from_slice(&[1, 0, 1, 0, 0xde, 0xad]);
    let len = m.len() as u16;
    m[2..4].copy_from_slice(&len.to_be_bytes());
    let pcap = dir.join("lie.pcap");
    write_pcap(&pcap, 1, &frames(&messages, Link::Ethernet(0), false));
    let o = lookup(&config, &pcap, "2026-03-03T14:02:00Z", "203.0.113.7:40000");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let out = text(&o.stdout);
    assert!(
        out.starts_with("203.0.113.7:40000 -> alice (inside 100.64.1.1)"),
        "{out}"
    );
    assert!(
        out.contains(
            ", 0 unreadable messages, 1 damaged, 0 fragments not reassembled, 0 duplicate records\n\
             unreadable: message 1 from 192.0.2.1:30000: set 256 at byte 45 says 256 bytes, 6 \
             remain: the rest of the message is skipped\n"
        ),
        "{out}"
    );
    if have("tshark") {
        assert_eq!(
            tshark_events(&pcap).len(),
            5,
            "tshark reads alice's record too"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn exit_codes_for_several_holders_and_an_unreadable_record() {
    use NatEvent::BlockAllocation as A;
    let (dir, config, pcap) = standard("exits");
    // Two routers (192.0.2.1, 192.0.2.2) both give out the block at 14:03:
    // both are named for certain, exit 3.
    let mut x = Export::start(T0);
    x.send(T0, &[block(A, T0 + MIN, 1)])
        .send(T0, &[block(A, T0 + 5 * MIN, 1)]);
    let mut y = Export::start(T0);
    y.send(T0, &[block(A, T0 + 2 * MIN, 2)])
        .send(T0, &[block(A, T0 + 5 * MIN, 2)]);
    let (src, dst) = ends(false);
    let mut f = frames_from(&x.messages, Link::Ethernet(0), src, dst);
    let other = "192.0.2.2:30000".parse().unwrap();
    f.extend(frames_from(&y.messages, Link::Ethernet(0), other, dst));
    f.sort_by_key(|(t, _)| *t);
    write_pcap(&pcap, 1, &f);
    let o = lookup(&config, &pcap, "2026-03-03T14:03:00Z", "203.0.113.7:40000");
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    let out = text(&o.stdout);
    assert!(
        out.contains("\n203.0.113.7:40000: 2 holders for certain at 2026-03-03T14:03:00.000Z\n"),
        "{out}"
    );
    // Nothing readable: exit 5, saying why.
    let p = pcap.to_str().unwrap();
    for (bytes, why) in [
        (
            &b"not a capture"[..],
            "not a pcap or pcapng file (no capture magic number)",
        ),
        (
            &[
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0,
            ][..],
            "no IPFIX message in it",
        ),
    ] {
        std::fs::write(&pcap, bytes).unwrap();
        let o = lookup(&config, &pcap, "2026-03-03T14:03:00Z", "203.0.113.7:40000");
        assert_eq!(o.status.code(), Some(5), "{o:?}");
        assert_eq!(
            text(&o.stdout),
            format!("203.0.113.7:40000: the record could not be read: --ipfix-pcap {p}: {why}\n")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_a_time_every_holding_is_listed() {
    let (dir, config, pcap) = standard("all");
    let o = sixfold(&[
        "nat",
        "lookup",
        "--config",
        config.to_str().unwrap(),
        "--ipfix-pcap",
        pcap.to_str().unwrap(),
        "203.0.113.7:40000",
    ]);
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("203.0.113.7:40000 -> alice (inside 100.64.1.1): block 40000-40127, allocated 2026-03-03T14:00:10.000Z, released 2026-03-03T14:05:00.000Z"), "{out}");
    assert!(lines[1].starts_with("203.0.113.7:40000 -> bob (inside 100.64.1.2): block 40000-40127, allocated 2026-03-03T14:06:00.000Z, still held at the end of the record"), "{out}");
    assert_eq!(
        lines[2],
        "203.0.113.7:40000: 2 holders for certain in the whole record (give --at TIME to ask about one time)"
    );
    assert_eq!(o.status.code(), Some(3));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A UDP session event of 100.64.1.`k`:5000, public 203.0.113.7:40000, to
/// 192.0.2.80:7001.
fn session(event: NatEvent, ms: u64, k: u8) -> Record {
    let Record::Nat(mut n) = block(event, ms, k) else {
        unreachable!()
    };
    (n.protocol, n.inside_port, n.outside_port) = (17, 5000, 40000);
    (n.first_port, n.last_port) = (0, 0);
    (n.remote, n.remote_port) = (Ipv4Addr::new(192, 0, 2, 80), 7001);
    Record::Nat(n)
}

#[test]
fn an_nfcapd_store_answers_sessions_never_for_certain_and_refuses_blocks_with_old_nfdump() {
    use NatEvent::{SessionCreate as C, SessionDelete as D};
    for p in ["nfcapd", "nfdump"] {
        if !have(p) {
            assert!(
                std::env::var_os("SIXFOLD_REQUIRE_ORACLES").is_none(),
                "{p} is missing (scripts/test.sh installs it)"
            );
            eprintln!("SKIPPED an_nfcapd_store_answers_sessions: needs {p}");
            return;
        }
    }
    let dir = scratch("nfcapd");
    let config = dir.join("router.toml");
    let dynamic = CONFIG.replace("allocation = \"block\"", "allocation = \"dynamic\"");
    std::fs::write(&config, dynamic).unwrap();
    // Alice's session 14:01:00.005-14:05, bob's from 14:06, exported to a
    // real nfcapd (the router's encoder, over UDP).
    let mut x = Export::start(T0);
    x.send(T0, &[session(C, T0 + MIN + 5, 1)])
        .send(T0, &[session(D, T0 + 5 * MIN, 1)])
        .send(T0, &[session(C, T0 + 6 * MIN + 250, 2)]);
    let messages: Vec<Vec<u8>> = x.messages.into_iter().map(|m| m.1).collect();
    let store = dir.join("nfcapd");
    common::nfcapd_store(&store, &messages);
    let (c, st) = (config.to_str().unwrap(), store.to_str().unwrap());
    let ask = |at: &str| {
        sixfold(&[
            "nat",
            "lookup",
            "--config",
            c,
            "--nfcapd",
            st,
            "--at",
            at,
            "203.0.113.7:40000",
        ])
    };
    let o = ask("2026-03-03T14:02:00Z");
    assert_eq!(
        text(&o.stdout),
        "203.0.113.7:40000 -> alice (inside 100.64.1.1): NAT44 session, protocol 17, inside port \
         5000, created 2026-03-03T14:01:00.005Z, deleted 2026-03-03T14:05:00.000Z (uncertain \
         between the start of the record and 2026-03-03T14:06:00.250Z); uncertain at \
         2026-03-03T14:02:00.000Z
203.0.113.7:40000: a holder is uncertain at 2026-03-03T14:02:00.000Z
record: 3 NAT events from an nfcapd store; its completeness is unknown (nfcapd keeps no IPFIX \
         sequence numbers), so nothing in it is certain
"
        .replace("\n         ", "\n"),
        "{o:?}"
    );
    assert_eq!(o.status.code(), Some(4));
    let o = ask("2026-03-03T14:07:00Z");
    assert_eq!(o.status.code(), Some(4));
    assert!(
        text(&o.stdout).starts_with("203.0.113.7:40000 -> bob (inside 100.64.1.2): NAT44 session"),
        "{o:?}"
    );
    // Before alice's session, after her delete: no one else is named.
    let o = ask("2026-03-03T14:00:30Z");
    assert!(!text(&o.stdout).contains("bob"), "{o:?}");
    // nfcapd keeps no restarts or gaps: `nat events` prints just the events.
    let o = sixfold(&["nat", "events", "--nfcapd", st]);
    assert_eq!(
        text(&o.stdout),
        "\
2026-03-03T14:01:00.005Z run 0 natEvent 4 NAT44 session create: inside 100.64.1.1:5000 public \
         203.0.113.7:40000 protocol 17
2026-03-03T14:05:00.000Z run 0 natEvent 5 NAT44 session delete: inside 100.64.1.1:5000 public \
         203.0.113.7:40000 protocol 17
2026-03-03T14:06:00.250Z run 0 natEvent 4 NAT44 session create: inside 100.64.1.2:5000 public \
         203.0.113.7:40000 protocol 17
3 events; 3 messages, 0 unreadable, 0 damaged, 0 duplicate records
"
        .replace("\n         ", "")
    );
    // Block mode with Debian 12's nfdump (1.7.1), which drops fields 361-364.
    let version = Command::new("nfdump").arg("-V").output().unwrap();
    if text(&version.stdout).contains("1.7.1") {
        std::fs::write(&config, CONFIG).unwrap();
        let o = ask("2026-03-03T14:02:00Z");
        assert_eq!(o.status.code(), Some(5));
        assert_eq!(
            text(&o.stdout),
            "203.0.113.7:40000: the record could not be read: nfdump 1.7.1 drops IPFIX port ranges \
             (fields 361-364), so an nfcapd store cannot answer for port blocks with it: nfdump \
             1.7.4 or later reads them; or give --ipfix-pcap (a capture of the export)\n"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A NAT44 BIB event (natEvent 8/9) of 100.64.1.2:40000 TCP, public
/// 203.0.113.7:3071.
fn bib(event: NatEvent, ms: u64) -> Record {
    Record::Nat(NatRecord {
        protocol: 6,
        inside_port: 40000,
        outside_port: 3071,
        time_ms: ms,
        ..match block(event, ms, 2) {
            Record::Nat(n) => NatRecord {
                first_port: 0,
                last_port: 0,
                ..n
            },
            Record::Flow(_) => unreachable!(),
        }
    })
}

#[test]
fn tshark_decodes_bib_events_field_by_field() {
    if !have("tshark") {
        eprintln!("skipped: no tshark");
        return;
    }
    let dir = scratch("bib");
    let mut x = Export::start(T0);
    x.send(T0, &[bib(NatEvent::BibCreate, T0 + 1_500)])
        .send(T0, &[bib(NatEvent::BibDelete, T0 + 61_250)]);
    let pcap = dir.join("bib.pcap");
    write_pcap(
        &pcap,
        Link::Ethernet(0).linktype(),
        &frames(&x.messages, Link::Ethernet(0), false),
    );
    let fields = [
        "cflow.nat_event",
        "cflow.srcaddr",
        "cflow.srcport",
        "cflow.protocol",
        "cflow.post_natsource_ipv4_address",
        "cflow.post_naptsource_transport_port",
        "cflow.observation_time_milliseconds",
    ];
    let got: Vec<Vec<String>> = nat_records(&pcap)
        .iter()
        .map(|r| {
            fields
                .iter()
                .map(|k| r.get(*k).and_then(|v| v.as_str()).unwrap_or("").to_string())
                .collect()
        })
        .collect();
    let want = |event: &str, time: &str| -> Vec<String> {
        [
            event,
            "100.64.1.2",
            "40000",
            "6",
            "203.0.113.7",
            "3071",
            time,
        ]
        .map(String::from)
        .to_vec()
    };
    assert_eq!(
        got,
        vec![
            want("8", "Mar  3, 2026 14:00:01.500000000 UTC"),
            want("9", "Mar  3, 2026 14:01:01.250000000 UTC"),
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
