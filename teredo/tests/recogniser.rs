//! The recogniser against ordinary UDP that must pass (DNS with ids 0x6000–0x6fff,
//! QUIC short and long headers, RTP) and Teredo that naive rules miss (origin
//! indication first, any port). `../shared/reference/router.md` §5.7.

use quickcheck::{QuickCheck, TestResult};
use sixfold_checksum::{pseudo, sum};
use sixfold_teredo::address::encode_origin_indication;
use sixfold_teredo::packet::{Kind, recognize, recognize_ayiya};
use std::net::{Ipv4Addr, Ipv6Addr};

/// A complete IPv6 ICMPv6 echo request with a correct checksum.
fn icmpv6_echo(src: Ipv6Addr, dst: Ipv6Addr, data: &[u8]) -> Vec<u8> {
    let len = 8 + data.len();
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p.extend_from_slice(&[58, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[128, 0, 0, 0, 0x12, 0x34, 0, 1]);
    p.extend_from_slice(data);
    let c = (pseudo::ipv6(src, dst, 58, len as u32) + sum(&p[40..])).checksum();
    p[42..44].copy_from_slice(&c.to_be_bytes());
    p
}

fn dns_query(id: u16, name: &[&str]) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 28, 0, 1]);
    q
}

#[test]
fn dns_ids_0x6000_to_0x6fff_are_not_teredo() {
    // Names of every length that could make the "payload length" (QDCOUNT = 1)
    // line up: 41 bytes total is the dangerous one.
    let names: Vec<Vec<String>> = (1..=40)
        .map(|n| vec!["a".repeat(n), "example".into()])
        .collect();
    for id in 0x6000..=0x6FFF {
        for name in &names {
            let labels: Vec<&str> = name.iter().map(String::as_str).collect();
            let q = dns_query(id, &labels);
            assert!(
                recognize(&q).is_err(),
                "DNS query id {id:#x}, {} bytes",
                q.len()
            );
            // A response: QR bit, ANCOUNT 1.
            let mut r = q.clone();
            r[2] |= 0x80;
            r[7] = 1;
            r.extend_from_slice(&[0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
            r.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            assert!(recognize(&r).is_err(), "DNS response id {id:#x}");
        }
    }
}

#[test]
fn quic_and_rtp_are_not_teredo() {
    fn prop(first: u8, rest: Vec<u8>) -> TestResult {
        // QUIC short header: 0b01xx_xxxx (0x40–0x7F), so 0x60–0x6F looks like
        // version 6; long header 0b11xx_xxxx; RTP version 2 (0x80–0xBF).
        let mut quic_short = vec![0x40 | (first & 0x3F)];
        quic_short.extend_from_slice(&rest);
        let mut quic_long = vec![0xC0 | (first & 0x3F), 0, 0, 0, 1];
        quic_long.extend_from_slice(&rest);
        let mut rtp = vec![0x80 | (first & 0x3F), 96];
        rtp.extend_from_slice(&rest);
        TestResult::from_bool(
            recognize(&quic_short).is_err()
                && recognize(&quic_long).is_err()
                && recognize(&rtp).is_err(),
        )
    }
    QuickCheck::new()
        .tests(20_000)
        .quickcheck(prop as fn(u8, Vec<u8>) -> TestResult);
}

#[test]
fn origin_indication_before_ipv6_is_caught() {
    let src: Ipv6Addr = "2001:0:cb00:710a:1408:52d4:34ff:8efe".parse().unwrap();
    let dst: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let inner = icmpv6_echo(src, dst, b"evasion");
    let mut payload = encode_origin_indication(44331, Ipv4Addr::new(203, 0, 113, 1)).to_vec();
    payload.extend_from_slice(&inner);
    let p = recognize(&payload).unwrap();
    assert_eq!(p.kind, Kind::Data);
    assert_eq!(p.origin.unwrap().port, 44331);
    // Plain encapsulation too (any port: the recogniser never sees ports).
    assert_eq!(recognize(&inner).unwrap().kind, Kind::Data);
}

#[test]
fn broken_inner_packets_are_rejected() {
    let src: Ipv6Addr = "2001:0:cb00:710a:1408:52d4:34ff:8efe".parse().unwrap();
    let mut p = icmpv6_echo(src, "2001:db8::2".parse().unwrap(), b"x");
    p[43] ^= 1; // checksum
    assert!(recognize(&p).is_err());
    p[43] ^= 1;
    p.push(0); // trailing byte: length no longer matches
    assert!(recognize(&p).is_err());
    p.pop();
    p[7] = 0; // hop limit 0 on data
    assert!(recognize(&p).is_err());
    assert!(recognize(&[]).is_err());
    assert!(recognize(&[0, 1, 5, 5]).is_err());
    assert!(recognize(&[0, 0, 1]).is_err());
}

#[test]
fn ayiya_by_shape() {
    let inner = icmpv6_echo(
        "2001:db8::1".parse().unwrap(),
        "2001:db8::2".parse().unwrap(),
        b"ayiya",
    );
    // IDLen 4 (16 bytes) / IDType 1, SigLen 5 (20 bytes) / SHA-1, AutMeth 1 / forward, NH 41.
    let mut a = vec![0x41, 0x52, 0x11, 41, 0x5f, 0x00, 0x00, 0x00];
    a.extend_from_slice(&[7; 16]);
    a.extend_from_slice(&[9; 20]);
    a.extend_from_slice(&inner);
    let parsed = recognize_ayiya(&a).unwrap();
    assert_eq!(
        (
            parsed.identity.len(),
            parsed.signature.len(),
            parsed.payload.len()
        ),
        (16, 20, inner.len())
    );
    a[3] = 17;
    assert!(recognize_ayiya(&a).is_none());
    assert!(recognize_ayiya(&dns_query(0x4152, &["x"])).is_none());
}
