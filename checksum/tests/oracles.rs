//! Oracles nobody here wrote: pnet_packet's builders and checksum functions, and
//! scapy's packets (run through Debian's `/usr/bin/python3`).
//!
//! The scapy test skips with a loud message when python3 or scapy is missing, and
//! fails instead when `SIXFOLD_REQUIRE_ORACLES=1` (the README's test command sets it,
//! after installing them).

use pnet_packet::icmp::{self, IcmpTypes, MutableIcmpPacket};
use pnet_packet::icmpv6::{self, Icmpv6Types, MutableIcmpv6Packet};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::{self, MutableIpv4Packet};
use pnet_packet::tcp::{self, MutableTcpPacket};
use pnet_packet::udp::{self, MutableUdpPacket};
use quickcheck::{QuickCheck, TestResult};
use sixfold_checksum::{Sum, checksum, pseudo, sum, udp as sudp, verify};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Sum of `bytes` with the 16-bit field at `at` taken as zero.
fn sum_without(bytes: &[u8], at: usize) -> Sum {
    let mut copy = bytes.to_vec();
    copy[at..at + 2].fill(0);
    sum(&copy)
}

// ---------------------------------------------------------------- pnet_packet

#[test]
fn ipv4_header_matches_pnet() {
    fn prop(src: u32, dst: u32, ttl: u8, id: u16, len: u16) -> bool {
        let mut buf = [0u8; 20];
        let mut p = MutableIpv4Packet::new(&mut buf).unwrap();
        p.set_version(4);
        p.set_header_length(5);
        p.set_total_length(len);
        p.set_identification(id);
        p.set_ttl(ttl);
        p.set_next_level_protocol(IpNextHeaderProtocols::Udp);
        p.set_source(Ipv4Addr::from(src));
        p.set_destination(Ipv4Addr::from(dst));
        let theirs = ipv4::checksum(&p.to_immutable());
        checksum(&buf) == theirs
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(u32, u32, u8, u16, u16) -> bool);
}

#[test]
fn tcp_and_udp_over_ipv4_match_pnet() {
    fn prop(src: u32, dst: u32, sport: u16, dport: u16, payload: Vec<u8>) -> bool {
        let (src, dst) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
        let mut tbuf = vec![0u8; 20 + payload.len()];
        let mut t = MutableTcpPacket::new(&mut tbuf).unwrap();
        t.set_source(sport);
        t.set_destination(dport);
        t.set_data_offset(5);
        t.set_payload(&payload);
        let theirs = tcp::ipv4_checksum(&t.to_immutable(), &src, &dst);
        let ours = (pseudo::ipv4(src, dst, 6, tbuf.len() as u16) + sum(&tbuf)).checksum();

        let ulen = 8 + payload.len() as u16;
        let mut ubuf = vec![0u8; ulen as usize];
        let mut u = MutableUdpPacket::new(&mut ubuf).unwrap();
        u.set_source(sport);
        u.set_destination(dport);
        u.set_length(ulen);
        u.set_payload(&payload);
        let theirs_udp = udp::ipv4_checksum(&u.to_immutable(), &src, &dst);
        let ours_udp = sudp::finish(pseudo::ipv4(src, dst, 17, ubuf.len() as u16) + sum(&ubuf));
        // pnet does not map a computed 0 to 0xFFFF (libpnet#585); that is its bug.
        let udp_ok = ours_udp == theirs_udp || (ours_udp == 0xFFFF && theirs_udp == 0);
        ours == theirs && udp_ok
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(u32, u32, u16, u16, Vec<u8>) -> bool);
}

#[test]
fn tcp_and_icmpv6_over_ipv6_match_pnet() {
    fn prop(src: u128, dst: u128, id: u16, payload: Vec<u8>) -> bool {
        let (src, dst) = (Ipv6Addr::from(src), Ipv6Addr::from(dst));
        let mut tbuf = vec![0u8; 20 + payload.len()];
        let mut t = MutableTcpPacket::new(&mut tbuf).unwrap();
        t.set_source(id);
        t.set_data_offset(5);
        t.set_payload(&payload);
        let theirs = tcp::ipv6_checksum(&t.to_immutable(), &src, &dst);
        let ours = (pseudo::ipv6(src, dst, 6, tbuf.len() as u32) + sum(&tbuf)).checksum();

        let mut ibuf = vec![0u8; 8 + payload.len()];
        let mut i = MutableIcmpv6Packet::new(&mut ibuf).unwrap();
        i.set_icmpv6_type(Icmpv6Types::EchoRequest);
        i.set_payload(&payload);
        let theirs_i = icmpv6::checksum(&i.to_immutable(), &src, &dst);
        let ours_i = (pseudo::ipv6(src, dst, 58, ibuf.len() as u32) + sum(&ibuf)).checksum();
        ours == theirs && ours_i == theirs_i
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(u128, u128, u16, Vec<u8>) -> bool);
}

#[test]
fn icmpv4_matches_pnet() {
    fn prop(id: u16, payload: Vec<u8>) -> TestResult {
        let mut buf = vec![0u8; 8 + payload.len()];
        let mut p = MutableIcmpPacket::new(&mut buf).unwrap();
        p.set_icmp_type(IcmpTypes::EchoRequest);
        p.set_payload(&payload);
        buf[4..6].copy_from_slice(&id.to_be_bytes());
        let p = MutableIcmpPacket::new(&mut buf).unwrap();
        let theirs = icmp::checksum(&p.to_immutable());
        TestResult::from_bool(checksum(&buf) == theirs)
    }
    QuickCheck::new()
        .tests(2000)
        .quickcheck(prop as fn(u16, Vec<u8>) -> TestResult);
}

// ---------------------------------------------------------------- scapy

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Runs the scapy generator, or explains why it cannot.
fn scapy_packets(seed: u32, count: u32) -> Option<String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/oracles/scapy_packets.py"
    );
    let python = ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import scapy"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let required = std::env::var("SIXFOLD_REQUIRE_ORACLES").is_ok_and(|v| v == "1");
    let Some(python) = python else {
        assert!(
            !required,
            "SIXFOLD_REQUIRE_ORACLES=1 but no python3 with scapy was found"
        );
        eprintln!(
            "\n*** SKIPPED: scapy oracle — no python3 with scapy (apt-get install python3-scapy) ***\n"
        );
        return None;
    };
    let out = Command::new(python)
        .args([script, &seed.to_string(), &count.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scapy script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn scapy_packets_agree() {
    let Some(lines) = scapy_packets(1071, 800) else {
        return;
    };
    let mut checked = 0;
    let mut udp_zero = 0;
    for line in lines.lines() {
        let (kind, packet) = line.split_once(' ').unwrap();
        let p = hex(packet);
        let (l4, pseudo_sum, proto) = if kind.starts_with("ip4") {
            let ihl = (p[0] & 0x0F) as usize * 4;
            assert_eq!(
                sum_without(&p[..ihl], 10).checksum(),
                be16(&p, 10),
                "{kind} IPv4 header: {packet}"
            );
            assert!(verify(&p[..ihl]));
            let src = Ipv4Addr::from(<[u8; 4]>::try_from(&p[12..16]).unwrap());
            let dst = Ipv4Addr::from(<[u8; 4]>::try_from(&p[16..20]).unwrap());
            let l4 = &p[ihl..];
            (l4, pseudo::ipv4(src, dst, p[9], l4.len() as u16), p[9])
        } else {
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&p[8..24]).unwrap());
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&p[24..40]).unwrap());
            let l4 = &p[40..];
            (l4, pseudo::ipv6(src, dst, p[6], l4.len() as u32), p[6])
        };
        let (field_at, expected) = match proto {
            6 => (16, (pseudo_sum + sum_without(l4, 16)).checksum()),
            17 => (6, sudp::finish(pseudo_sum + sum_without(l4, 6))),
            1 => (2, sum_without(l4, 2).checksum()),
            58 => (2, (pseudo_sum + sum_without(l4, 2)).checksum()),
            other => panic!("unexpected protocol {other}"),
        };
        assert_eq!(expected, be16(l4, field_at), "{kind}: {packet}");
        if proto == 17 {
            let network = if kind.starts_with("ip4") {
                sudp::Network::Ipv4
            } else {
                sudp::Network::Ipv6
            };
            assert_eq!(
                sudp::verify(network, be16(l4, 6), pseudo_sum + sum(l4)),
                Ok(sudp::Verified::Correct)
            );
        }
        if kind.ends_with("zero") {
            assert_eq!(
                be16(l4, 6),
                0xFFFF,
                "a computed 0 goes out as 0xFFFF: {packet}"
            );
            udp_zero += 1;
        }
        checked += 1;
    }
    assert_eq!(checked, 800);
    assert_eq!(udp_zero, 200);
}
