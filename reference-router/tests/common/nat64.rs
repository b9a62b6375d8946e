//! NAT64 and SIIT helpers: an IPv6-only router configuration and IPv6 packets
//! built with etherparse.

use super::{PUBLIC, SUB0, a6, udp6};
use etherparse::PacketBuilder;
use sixfold_router::Config;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The IPv6-only subscribers (0 and 1) and a dual-stack one (2).
pub const V6A: &str = "2001:db8:1:3::2";
pub const V6B: &str = "2001:db8:1:4::2";
pub const PREFIX: &str = "2001:db8:64::";
pub const SERVER: &str = "192.0.2.80";

pub fn nat64_config(extra: &str) -> Config {
    with_prefix("2001:db8:64::/96", extra)
}

pub fn with_prefix(prefix: &str, extra: &str) -> Config {
    let text = format!(
        r#"
        [router]
        ra = false
        ipv6 = "2001:db8:ffff::1"
        [nat]
        pool = ["{PUBLIC}"]
        {extra}
        [nat64]
        prefix = "{prefix}"
        [[subscriber]]
        name = "only6a"
        ipv6 = ["2001:db8:1:3::/64"]
        [[subscriber]]
        name = "only6b"
        ipv6 = ["2001:db8:1:4::/64"]
        mtu = 1400
        [[subscriber]]
        name = "dual"
        ipv4 = ["{SUB0}"]
        ipv6 = ["2001:db8:1:5::/64"]
        "#
    );
    Config::from_toml(&text).unwrap()
}

/// `v4` embedded in the network-specific prefix 2001:db8:64::/96 (the lab's:
/// RFC 6052 §3.1 keeps documentation addresses from the Well-Known Prefix).
pub fn embed(v4: &str) -> String {
    let o = v4.parse::<Ipv4Addr>().unwrap().octets();
    format!(
        "{PREFIX}{:x}:{:x}",
        u16::from_be_bytes([o[0], o[1]]),
        u16::from_be_bytes([o[2], o[3]])
    )
}

pub fn udp6_to(src: &str, sport: u16, dst4: &str, dport: u16, hop: u8) -> Vec<u8> {
    udp6(src, sport, &embed(dst4), dport, b"query", hop)
}

pub fn tcp6(src: &str, sport: u16, dst: &str, dport: u16, syn: bool) -> Vec<u8> {
    let mut v = Vec::new();
    let mut b = PacketBuilder::ipv6(a6(src), a6(dst), 64).tcp(sport, dport, 1000, 65535);
    if syn {
        b = b.syn();
    } else {
        b = b.ack(1);
    }
    b.write(&mut v, &[]).unwrap();
    v
}

pub fn echo6(src: &str, dst: &str, id: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(a6(src), a6(dst), 64)
        .icmpv6_echo_request(id, 7)
        .write(&mut v, b"ping")
        .unwrap();
    v
}

pub fn src6(p: &[u8]) -> Ipv6Addr {
    Ipv6Addr::from(<[u8; 16]>::try_from(&p[8..24]).unwrap())
}

pub fn dst6(p: &[u8]) -> Ipv6Addr {
    Ipv6Addr::from(<[u8; 16]>::try_from(&p[24..40]).unwrap())
}

pub fn ports6(p: &[u8]) -> (u16, u16) {
    (
        u16::from_be_bytes([p[40], p[41]]),
        u16::from_be_bytes([p[42], p[43]]),
    )
}

pub fn six(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}
