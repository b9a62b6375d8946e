//! A router loaded with about a million live NAT sessions, and packets that hit
//! them, for the core benchmark and the bytes-per-session measurement.
//!
//! 16 subscribers × 4096 internal UDP ports (the default per-subscriber limit) × 16
//! destinations = 1,048,576 sessions over 65,536 mappings, pool 203.0.113.0/28.

use sixfold_checksum::{pseudo, sum};
use sixfold_router::{Config, Direction, PacketBuf, Router, Verdict};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

/// Subscribers in the loaded router.
pub const SUBSCRIBERS: u16 = 16;
/// Internal ports per subscriber.
pub const PORTS: u16 = 4096;
/// Destinations per internal port.
pub const DESTINATIONS: u16 = 16;

/// Appends a UDP header and 36 bytes of payload to the IP header in `p`, with
/// the checksum over `pseudo`.
fn with_udp(mut p: Vec<u8>, sport: u16, dport: u16, pseudo: sixfold_checksum::Sum) -> Vec<u8> {
    let at = p.len();
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&44u16.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.resize(at + 44, 0x42);
    let c = (pseudo + sum(&p[at..])).checksum();
    p[at + 6..at + 8].copy_from_slice(&c.to_be_bytes());
    p
}

/// An 84-byte UDP/IPv6 packet (36 bytes of payload, as [`udp`]), checksum right.
pub fn udp6(src: Ipv6Addr, sport: u16, dst: Ipv6Addr, dport: u16) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0, 0, 44, 17, 64];
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    with_udp(p, sport, dport, pseudo::ipv6(src, dst, 17, 44))
}

/// A 64-byte UDP/IPv4 packet (36 bytes of payload), checksums right.
pub fn udp(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 64, 0, 1, 0, 0, 64, 17, 0, 0];
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let mut p = with_udp(p, sport, dport, pseudo::ipv4(src, dst, 17, 44));
    let c = sum(&p[..20]).checksum();
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

/// Subscriber `s`'s address.
pub fn inside(s: u16) -> Ipv4Addr {
    Ipv4Addr::new(100, 64, 1, s as u8 + 1)
}

/// Destination `d`.
pub fn remote(d: u16) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, d as u8 + 1)
}

/// The configuration: defaults, with room for the load.
pub fn config() -> Config {
    let mut text = String::from("[nat]\npool = [\"203.0.113.0/28\"]\nmax_sessions = 1100000\n");
    for s in 0..SUBSCRIBERS {
        text += &format!(
            "[[subscriber]]\nname = \"s{s}\"\nipv4 = [\"{}\"]\n",
            inside(s)
        );
    }
    Config::from_toml(&text).expect("valid")
}

/// Packets with the interface they arrive on.
pub type Packets = Vec<(Direction, Vec<u8>)>;

/// The loaded router, at time `now`, plus for a sample of `sample` sessions spread
/// over the table: the outbound packets and the inbound replies that hit them.
pub fn loaded(now: Instant, sample: usize) -> (Router, Packets, Packets) {
    let mut router = Router::new(config(), 1, now).expect("valid");
    let mut out = Vec::new();
    let mut back = Vec::new();
    let step = (usize::from(SUBSCRIBERS) * usize::from(PORTS) * usize::from(DESTINATIONS)
        / sample.max(1))
    .max(1);
    let mut n = 0usize;
    for s in 0..SUBSCRIBERS {
        for port in 0..PORTS {
            for d in 0..DESTINATIONS {
                let p = udp(inside(s), 10_000 + port, remote(d), 53);
                let mut buf = PacketBuf::from_packet(&p);
                let v = router.process(Direction::Outbound(u32::from(s)), &mut buf, now);
                assert!(matches!(v, Verdict::Forward(_)), "{v:?} while loading");
                if n.is_multiple_of(step) {
                    out.push((Direction::Outbound(u32::from(s)), p));
                    let public = &buf.packet()[12..16];
                    let public = Ipv4Addr::new(public[0], public[1], public[2], public[3]);
                    let mapped = u16::from_be_bytes([buf.packet()[20], buf.packet()[21]]);
                    back.push((Direction::Inbound, udp(remote(d), 53, public, mapped)));
                }
                n += 1;
            }
        }
    }
    (router, out, back)
}
