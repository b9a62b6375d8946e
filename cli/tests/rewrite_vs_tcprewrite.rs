//! `sixfold rewrite` against tcprewrite (Debian `tcpreplay`) and tshark on captures
//! made by scapy: Ethernet with a VLAN tag, raw IP and Linux SLL; IPv4 and IPv6;
//! TCP, UDP (with and without checksum), ICMP; fragments.
//!
//! - tshark finds no bad IP/TCP/UDP/ICMP/ICMPv6 checksum in our output;
//! - on Ethernet our IP packets are byte-identical to tcprewrite's except where
//!   tcprewrite is wrong (a UDP checksum that computes to 0 written as 0x0000 instead
//!   of 0xFFFF, RFC 768); tcprewrite also rewrites unicast IPv6 packets' MACs to
//!   multicast ones, so link headers are not compared;
//! - on raw IP and SLL, tcprewrite 4.4.3 rewrites nothing; we rewrite the same IP
//!   packets as on Ethernet.
//!
//! Needs python3 with scapy, tcprewrite and tshark: skips loudly without them, fails
//! instead when SIXFOLD_REQUIRE_ORACLES=1 (the test command installs them).

use sixfold::capture;
use std::path::{Path, PathBuf};
use std::process::Command;

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn tools_or_skip() -> bool {
    let ok = have("tcprewrite", "--version")
        && have("tshark", "--version")
        && Command::new("/usr/bin/python3")
            .args(["-c", "import scapy"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("SIXFOLD_REQUIRE_ORACLES").as_deref() != Ok("1"),
            "SIXFOLD_REQUIRE_ORACLES=1 but tcprewrite, tshark or scapy is missing"
        );
        eprintln!(
            "\n*** SKIPPED: rewrite comparison — needs tcprewrite (tcpreplay), tshark and python3-scapy ***\n"
        );
    }
    ok
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `sixfold rewrite`, which must succeed with nothing on standard output (it
/// may be the capture), and returns its summary from standard error.
fn rewrite(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let summary = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{cmd:?} failed: {summary}");
    assert!(out.stdout.is_empty(), "{cmd:?} wrote to standard output");
    summary
}

fn bad_checksums(file: &Path) -> usize {
    let filter = "ip.checksum.status==0 || tcp.checksum.status==0 || udp.checksum.status==0 || icmp.checksum.status==0 || icmpv6.checksum.status==0";
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file);
    // ICMP and ICMPv6 checksums are always validated; these three need switching on.
    for p in ["ip", "tcp", "udp"] {
        cmd.args(["-o", &format!("{p}.check_checksum:TRUE")]);
    }
    cmd.args(["-Y", filter]);
    run(&mut cmd).lines().count()
}

/// The IP packets of a capture.
fn ip_packets(file: &Path) -> Vec<Vec<u8>> {
    capture::read(file)
        .unwrap()
        .iter()
        .map(|f| f.ip().expect("every frame carries IP").to_vec())
        .collect()
}

/// Whether `ours` and `theirs` differ only in a UDP/IPv4 checksum that tcprewrite
/// wrote as 0x0000 ("no checksum") where a checksum was due, and ours is what a
/// from-scratch recompute writes (RFC 768: a computed 0 is sent as 0xFFFF).
fn tcprewrite_zero_bug(ours: &[u8], theirs: &[u8]) -> bool {
    if ours.len() != theirs.len() || ours[0] >> 4 != 4 || ours[9] != 17 {
        return false;
    }
    let at = (ours[0] & 0xF) as usize * 4 + 6;
    let diff: Vec<usize> = (0..ours.len()).filter(|&i| ours[i] != theirs[i]).collect();
    let mut scratch = ours.to_vec();
    sixfold_rewrite::recompute_checksums(&mut scratch).unwrap();
    diff.iter().all(|&i| i == at || i == at + 1) && theirs[at..at + 2] == [0, 0] && scratch == ours
}

#[test]
fn rewrite_matches_tcprewrite_and_tshark() {
    if !tools_or_skip() {
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("sixfold-rewrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scripts/make_captures.py"
    );
    let n: usize = run(Command::new("/usr/bin/python3")
        .arg(script)
        .arg(&dir)
        .args(["11", "140"]))
    .trim()
    .parse()
    .unwrap();

    let ours_opts = [
        "--srcipmap",
        "10.0.0.0/8:172.16.0.0/12",
        "--dstipmap",
        "198.51.100.0/24:203.0.113.0/24",
        "--portmap",
        "53:5353",
        "--portmap",
        "80:8080",
        "--ttl",
        "-1",
    ];
    let their_opts = [
        "--srcipmap=10.0.0.0/8:172.16.0.0/12",
        "--dstipmap=198.51.100.0/24:203.0.113.0/24",
        "--portmap=53:5353,80:8080",
        "--ttl=-1",
    ];
    let mut ip_level: Vec<Vec<Vec<u8>>> = Vec::new();
    for name in ["ether-vlan", "raw", "sll"] {
        let input = dir.join(format!("{name}.pcap"));
        let ours = dir.join(format!("{name}.ours.pcap"));
        let summary = rewrite(
            Command::new(env!("CARGO_BIN_EXE_sixfold"))
                .args(["rewrite", "--in"])
                .arg(&input)
                .arg("--out")
                .arg(&ours)
                .args(ours_opts),
        );
        assert!(
            summary.starts_with(&format!(
                "{n} packets: {n} rewritten, 0 unchanged, 0 copied unparsed"
            )),
            "{name}: {summary}"
        );
        assert_eq!(
            bad_checksums(&ours),
            0,
            "tshark found bad checksums in our {name} output"
        );
        ip_level.push(ip_packets(&ours));
    }
    assert_eq!(
        ip_level[0], ip_level[1],
        "raw IP and Ethernet give the same IP packets"
    );
    assert_eq!(
        ip_level[0], ip_level[2],
        "SLL and Ethernet give the same IP packets"
    );

    let theirs = dir.join("ether-vlan.theirs.pcap");
    run(Command::new("tcprewrite")
        .arg("-i")
        .arg(dir.join("ether-vlan.pcap"))
        .arg("-o")
        .arg(&theirs)
        .args(their_opts));
    let theirs = ip_packets(&theirs);
    assert_eq!(theirs.len(), n);
    let mut zero_bug = 0;
    for (i, (a, b)) in ip_level[0].iter().zip(&theirs).enumerate() {
        if a != b {
            assert!(
                tcprewrite_zero_bug(a, b),
                "packet {i} differs from tcprewrite's:\n ours   {a:02x?}\n theirs {b:02x?}"
            );
            zero_bug += 1;
        }
    }
    assert_eq!(
        zero_bug, 1,
        "the one datagram built to compute to 0 after the rewrite"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unparsable_frames_are_copied_and_counted() {
    // A raw-IP capture whose second packet claims a 60-byte header in 24 bytes.
    let dir = std::env::temp_dir().join(format!("sixfold-rewrite-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good: Vec<u8> = vec![
        0x45, 0, 0, 20, 0, 1, 0, 0, 64, 59, 0x66, 0xac, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    let bad: Vec<u8> = vec![
        0x4f, 0, 0, 24, 0, 1, 0, 0, 64, 59, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0, 0,
    ];
    let mut pcap = vec![
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101, 0, 0, 0,
    ];
    for p in [&good, &bad] {
        pcap.extend_from_slice(&[0; 8]);
        pcap.extend_from_slice(&(p.len() as u32).to_le_bytes());
        pcap.extend_from_slice(&(p.len() as u32).to_le_bytes());
        pcap.extend_from_slice(p);
    }
    let input = dir.join("in.pcap");
    std::fs::write(&input, &pcap).unwrap();
    let out = dir.join("out.pcap");
    let summary = rewrite(
        Command::new(env!("CARGO_BIN_EXE_sixfold"))
            .args(["rewrite", "--in"])
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .args(["--ttl", "9"]),
    );
    assert_eq!(
        summary.trim(),
        "2 packets: 1 rewritten, 0 unchanged, 1 copied unparsed\n  \
         copied: 1 truncated ipv4 header (first: frame 2: truncated ipv4 header: need 60 bytes, got 24)"
    );
    let frames = capture::read(&out).unwrap();
    assert_eq!(frames[1].data, bad, "copied unchanged");
    assert_eq!(frames[0].data[8], 9);
    assert!(
        sixfold_checksum::verify(&frames[0].data),
        "header checksum patched"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
