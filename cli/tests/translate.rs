//! `sixfold translate` against packets scapy builds from RFC 7915 (the input
//! and, independently, every packet the translator must emit, checksums
//! computed by scapy): byte for byte, in order, raw IP and Ethernet; the drop
//! summary on standard error; tshark finds no bad checksum; flags and
//! configuration errors named.
//!
//! Needs python3 with scapy and tshark: skips loudly without them, fails when
//! SIXFOLD_REQUIRE_ORACLES=1 (the test command installs them).

use sixfold::capture;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SIXFOLD: &str = env!("CARGO_BIN_EXE_sixfold");

fn tools_or_skip() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("/usr/bin/python3")
            .args(["-c", "import scapy"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("SIXFOLD_REQUIRE_ORACLES").as_deref() != Ok("1"),
            "SIXFOLD_REQUIRE_ORACLES=1 but tshark or scapy is missing"
        );
        eprintln!("\n*** SKIPPED: translate vs scapy — needs tshark and python3-scapy ***\n");
    }
    ok
}

/// A fresh directory with the cases written into it; how many packets each
/// input makes.
fn cases(tag: &str) -> (PathBuf, Vec<usize>) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/translate_cases.py"
    );
    written_by(script, tag)
}

/// A fresh directory `script` writes its cases into; how many packets each
/// input makes.
fn written_by(script: &str, tag: &str) -> (PathBuf, Vec<usize>) {
    let dir = std::env::temp_dir().join(format!("sixfold-translate-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counts = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (dir, counts)
}

fn translate(dir: &Path, input: &str, output: &str, extra: &[&str]) -> Output {
    translate_with(dir, "siit.toml", input, output, extra)
}

fn translate_with(dir: &Path, config: &str, input: &str, output: &str, extra: &[&str]) -> Output {
    Command::new(SIXFOLD)
        .arg("translate")
        .arg("--config")
        .arg(dir.join(config))
        .arg("--in")
        .arg(dir.join(input))
        .arg("--out")
        .arg(dir.join(output))
        .args(extra)
        .output()
        .unwrap()
}

/// What the summary on standard error must say about the cases.
const SUMMARY: &str = "10 packets: 6 translated (into 7 packets), 3 answered with an ICMP error, 1 dropped
  answered: 1 hop_limit_exceeded -> ipv6_time_exceeded (first: frame 8: hop limit exceeded in transit)
  answered: 1 ttl_exceeded -> time_exceeded (first: frame 5: TTL exceeded in transit)
  answered: 1 unmappable_address -> admin_prohibited (first: frame 7: no address mapping for 203.0.113.9)
  dropped: 1 untranslatable_icmpv4 (first: frame 9: ICMPv4 type 13 code 0 has no ICMPv6 counterpart (RFC 7915 4.2))
";

fn bad_checksums(file: &Path) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ])
        .args(["-o", "tcp.check_checksum:TRUE", "-Y"])
        .arg(
            "ip.checksum.status==0 or udp.checksum.status==0 or tcp.checksum.status==0 \
             or icmp.checksum.status==0 or icmpv6.checksum.status==0",
        )
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn raw_ip_in_raw_ip_out_byte_for_byte_as_scapy_builds_it() {
    if !tools_or_skip() {
        return;
    }
    let (dir, counts) = cases("raw");
    assert_eq!(counts, [1, 1, 1, 1, 1, 2, 1, 1, 0, 1]);
    let out = translate(&dir, "in.pcap", "out.pcap", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert_eq!(String::from_utf8_lossy(&out.stderr), SUMMARY);
    let got = capture::read(&dir.join("out.pcap")).unwrap();
    let want = capture::read(&dir.join("expected.pcap")).unwrap();
    let inputs = capture::read(&dir.join("in.pcap")).unwrap();
    assert_eq!(got.len(), want.len());
    // Each output carries its input's timestamp: the order and grouping hold.
    let mut of_input = counts
        .iter()
        .enumerate()
        .flat_map(|(i, &n)| std::iter::repeat_n(i, n));
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.linktype, capture::LINKTYPE_RAW);
        assert_eq!(g.data, w.data, "packet {k}");
        assert_eq!(
            g.timestamp,
            inputs[of_input.next().unwrap()].timestamp,
            "packet {k}"
        );
    }
    assert_eq!(bad_checksums(&dir.join("out.pcap")), "");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ethernet_in_ethernet_out_with_the_ethertype_swapped_and_errors_sent_back() {
    if !tools_or_skip() {
        return;
    }
    let (dir, counts) = cases("eth");
    let out = translate(&dir, "in-eth.pcap", "out-eth.pcap", &[]);
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.starts_with("11 packets: 6 translated"), "{summary}");
    assert!(
        summary.contains("dropped: 1 not_ip (first: frame 11: not IPv4/IPv6 on LINKTYPE 1)"),
        "{summary}"
    );
    let got = capture::read(&dir.join("out-eth.pcap")).unwrap();
    let want = capture::read(&dir.join("expected.pcap")).unwrap();
    assert_eq!(got.len(), want.len());
    let answers = [4usize, 7, 8]; // the ICMP errors the router sends back
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.linktype, 1);
        assert_eq!(&g.data[14..], &w.data[..], "packet {k}");
        let ethertype = if w.data[0] >> 4 == 6 {
            [0x86, 0xDD]
        } else {
            [0x08, 0x00]
        };
        assert_eq!(g.data[12..14], ethertype, "packet {k}");
        let (dst, src) = if answers.contains(&k) { (1, 2) } else { (2, 1) };
        assert_eq!(
            g.data[..12],
            [2, 0, 0, 0, 0, dst, 2, 0, 0, 0, 0, src],
            "packet {k}"
        );
    }
    assert_eq!(counts.iter().sum::<usize>(), got.len());
    assert_eq!(bad_checksums(&dir.join("out-eth.pcap")), "");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn egress_mtus_and_bad_arguments() {
    if !tools_or_skip() {
        return;
    }
    let (dir, _) = cases("mtu");
    // An IPv4 link of 1280: the 1400-byte IPv6 packet (1380 as IPv4, DF) gets
    // packet too big with 1300 (RFC 7915 5.1.1, 6: the IPv4 MTU + 20).
    let out = translate(&dir, "in.pcap", "out.pcap", &["--mtu4", "1280"]);
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.contains("answered: 1 packet_too_big -> ipv6_packet_too_big (first: frame 10: too big for the IPv4 link with DF: packet too big, MTU 1300)"),
        "{summary}"
    );
    let last = capture::read(&dir.join("out.pcap")).unwrap().pop().unwrap();
    assert_eq!((last.data[40], last.data[41]), (2, 0));
    assert_eq!(last.data[44..48], 1300u32.to_be_bytes());
    let out = translate(&dir, "in.pcap", "out.pcap", &["--mtu6", "1000"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "sixfold: --mtu6 1000: IPv6 MTU 1000 is below 1280\n"
    );
    std::fs::write(
        dir.join("siit.toml"),
        "[nat]\npool = [\"192.0.2.1\"]\n[nat64]\nprefix = \"64:ff9b::/96\"\n",
    )
    .unwrap();
    let out = translate(&dir, "in.pcap", "out.pcap", &[]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("siit: is missing"), "{e}");
    std::fs::write(dir.join("siit.toml"), "[siit]\npool6 = \"64:ff9b::/95\"\n").unwrap();
    let e =
        String::from_utf8_lossy(&translate(&dir, "in.pcap", "out.pcap", &[]).stderr).into_owned();
    assert!(e.contains("siit.pool6 (line 2)"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the router would forward, no more: a fragment the router drops leaves
/// nothing behind (not its first piece), an EAM hairpin comes back as IPv6, a
/// destination no router forwards is dropped, an atomic fragment is a whole
/// packet.
#[test]
fn corners_emit_exactly_what_the_router_forwards() {
    if !tools_or_skip() {
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/translate_corners.py"
    );
    let (dir, counts) = written_by(script, "corners");
    assert_eq!(counts, [0, 1, 0, 1]);
    let out = translate_with(&dir, "corners.toml", "corners.pcap", "out.pcap", &[]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "4 packets: 2 translated (into 2 packets), 0 answered with an ICMP error, 2 dropped
  dropped: 1 malformed (first: frame 1: malformed packet: bad IPv4 fragment offset 66760 (bytes; a multiple of 8 below 65536))
  dropped: 1 not_routable (first: frame 3: destination 127.0.0.1 is not forwarded (RFC 1812 5.3.7))
"
    );
    let got = capture::read(&dir.join("out.pcap")).unwrap();
    let want = capture::read(&dir.join("corners-expected.pcap")).unwrap();
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.data, w.data, "packet {k}");
    }
    assert_eq!(bad_checksums(&dir.join("out.pcap")), "");
    let _ = std::fs::remove_dir_all(&dir);
}
