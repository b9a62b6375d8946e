//! Packets built with etherparse and checked with the internet-checksum crate —
//! neither written here — and a router driven by a fake clock.
#![allow(dead_code, unreachable_pub)]

pub mod nat64;

use etherparse::PacketBuilder;
use sixfold_router::{Config, Direction, Interface, PacketBuf, Router, Verdict};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

pub const SUB0: &str = "100.64.0.10";
pub const SUB1: &str = "100.64.0.20";
pub const PUBLIC: &str = "203.0.113.1";

pub fn ip(s: &str) -> [u8; 4] {
    s.parse::<Ipv4Addr>().unwrap().octets()
}

pub fn udp(src: &str, sport: u16, dst: &str, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(ip(src), ip(dst), 64)
        .udp(sport, dport)
        .write(&mut v, payload)
        .unwrap();
    v
}

pub const SYN: u8 = 0x02;
pub const SYNACK: u8 = 0x12;
pub const ACK: u8 = 0x10;
pub const FIN: u8 = 0x11;
pub const RST: u8 = 0x04;

pub fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> Vec<u8> {
    let mut v = Vec::new();
    let mut b = PacketBuilder::ipv4(ip(src), ip(dst), 64).tcp(sport, dport, 1000, 65535);
    if flags & 0x02 != 0 {
        b = b.syn();
    }
    if flags & 0x10 != 0 {
        b = b.ack(5000);
    }
    if flags & 0x01 != 0 {
        b = b.fin();
    }
    if flags & 0x04 != 0 {
        b = b.rst();
    }
    b.write(&mut v, &[]).unwrap();
    v
}

pub fn echo(src: &str, dst: &str, id: u16, reply: bool) -> Vec<u8> {
    let mut v = Vec::new();
    let b = PacketBuilder::ipv4(ip(src), ip(dst), 64);
    let b = if reply {
        b.icmpv4_echo_reply(id, 1)
    } else {
        b.icmpv4_echo_request(id, 1)
    };
    b.write(&mut v, b"ping").unwrap();
    v
}

/// An ICMPv4 error of `kind`/`code` from `src` to `dst` quoting the first 28 bytes of `about`.
pub fn icmp_error(src: &str, dst: &str, kind: u8, code: u8, about: &[u8]) -> Vec<u8> {
    let quote = &about[..about.len().min(28)];
    let mut icmp = vec![kind, code, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(quote);
    let c = internet_checksum::checksum(&icmp);
    icmp[2..4].copy_from_slice(&c);
    let mut v = Vec::new();
    PacketBuilder::ipv4(ip(src), ip(dst), 64)
        .write(&mut v, etherparse::IpNumber(1), &icmp)
        .unwrap();
    v
}

pub fn src(p: &[u8]) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(p[12], p[13], p[14], p[15]), port(p, 0))
}

pub fn dst(p: &[u8]) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(p[16], p[17], p[18], p[19]), port(p, 2))
}

fn port(p: &[u8], at: usize) -> u16 {
    let ihl = usize::from(p[0] & 15) * 4;
    if p[9] == 1 {
        return u16::from_be_bytes([p[ihl + 4], p[ihl + 5]]);
    }
    u16::from_be_bytes([p[ihl + at], p[ihl + at + 1]])
}

pub fn sa(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

fn ok(bytes: &[u8]) -> bool {
    internet_checksum::checksum(bytes) == [0, 0]
}

/// Every checksum of an IPv4 packet is right: header, TCP/UDP with pseudo-header,
/// ICMP, and for an ICMP error the quoted IP header.
pub fn assert_checksums(p: &[u8]) {
    if p[0] >> 4 == 6 {
        return assert_checksums_v6(p);
    }
    let ihl = usize::from(p[0] & 15) * 4;
    assert!(ok(&p[..ihl]), "IPv4 header checksum");
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    let l4 = &p[ihl..total];
    let frag = u16::from_be_bytes([p[6], p[7]]);
    if frag & 0x3fff != 0 {
        return; // a fragment: the transport checksum covers the whole datagram
    }
    match p[9] {
        6 | 17 => {
            if p[9] == 17 && l4[6..8] == [0, 0] {
                return;
            }
            let mut pseudo = p[12..20].to_vec();
            pseudo.extend_from_slice(&[0, p[9]]);
            pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            pseudo.extend_from_slice(l4);
            if pseudo.len() % 2 == 1 {
                pseudo.push(0);
            }
            assert!(ok(&pseudo), "transport checksum");
        }
        1 => {
            assert!(ok(l4), "ICMP checksum");
            if matches!(l4[0], 3 | 11 | 12) {
                let q = &l4[8..];
                let qihl = usize::from(q[0] & 15) * 4;
                assert!(ok(&q[..qihl]), "quoted IPv4 header checksum");
            }
        }
        _ => {}
    }
}

pub fn config(extra: &str) -> Config {
    let pool = if extra.contains("pool") {
        String::new()
    } else {
        format!("pool = [\"{PUBLIC}\"]")
    };
    // Router advertisements off unless a test asks: they would fill `transmit()`.
    // A test that sets [router] passes only that section.
    let (router, extra) = if extra.starts_with("[router]") {
        (extra, "")
    } else {
        ("[router]\nra = false", extra)
    };
    let text = format!(
        r#"
        {router}
        [nat]
        {pool}
        {extra}
        [[subscriber]]
        name = "sub1"
        ipv4 = ["{SUB0}"]
        ipv6 = ["2001:db8:1:1::/64"]
        [[subscriber]]
        name = "sub2"
        ipv4 = ["{SUB1}"]
        ipv6 = ["2001:db8:1:2::/64"]
        mtu = 1400
        "#
    );
    Config::from_toml(&text).unwrap()
}

/// A router with a clock the test moves.
pub struct Lab {
    pub router: Router,
    t0: Instant,
    pub now: Duration,
}

impl Lab {
    pub fn new(extra: &str) -> Lab {
        Lab::with(config(extra))
    }

    pub fn with(config: Config) -> Lab {
        let t0 = Instant::now();
        Lab {
            router: Router::new(config, 42, t0).unwrap(),
            t0,
            now: Duration::ZERO,
        }
    }

    pub fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
        self.router.tick(self.t0 + self.now);
    }

    pub fn advance_by(&mut self, d: Duration) {
        self.now += d;
        self.router.tick(self.t0 + self.now);
    }

    /// The lab's clock as the router sees it.
    pub fn instant(&self) -> Instant {
        self.t0 + self.now
    }

    pub fn send(&mut self, dir: Direction, packet: &[u8]) -> (Verdict, Vec<u8>) {
        let mut b = PacketBuf::from_packet(packet);
        let v = self.router.process(dir, &mut b, self.t0 + self.now);
        if matches!(v, Verdict::Forward(_) | Verdict::Reply(_)) {
            assert_checksums(b.packet());
        }
        (v, b.packet().to_vec())
    }

    /// From subscriber `sub` (0-based).
    pub fn out(&mut self, sub: u32, packet: &[u8]) -> (Verdict, Vec<u8>) {
        self.send(Direction::Outbound(sub), packet)
    }

    pub fn inb(&mut self, packet: &[u8]) -> (Verdict, Vec<u8>) {
        self.send(Direction::Inbound, packet)
    }

    /// Sends out and expects it forwarded to the WAN; returns the external source.
    pub fn out_ok(&mut self, sub: u32, packet: &[u8]) -> SocketAddrV4 {
        let (v, p) = self.out(sub, packet);
        assert_eq!(
            v,
            Verdict::Forward(Interface::Wan),
            "outbound packet not forwarded"
        );
        src(&p)
    }

    pub fn transmit(&mut self) -> Vec<(Interface, Vec<u8>)> {
        let mut out = Vec::new();
        let mut b = PacketBuf::new();
        while let Some(i) = self.router.poll_transmit(&mut b) {
            assert_checksums(b.packet());
            out.push((i, b.packet().to_vec()));
        }
        out
    }
}

/// TCP, UDP and ICMPv6 checksums of an IPv6 packet without extension headers.
pub fn assert_checksums_v6(p: &[u8]) {
    let len = usize::from(u16::from_be_bytes([p[4], p[5]]));
    let l4 = &p[40..40 + len];
    if matches!(p[6], 6 | 17 | 58) {
        let mut pseudo = p[8..40].to_vec();
        pseudo.extend_from_slice(&(len as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, p[6]]);
        pseudo.extend_from_slice(l4);
        if pseudo.len() % 2 == 1 {
            pseudo.push(0);
        }
        assert!(ok(&pseudo), "IPv6 transport checksum");
    }
}

pub fn udp6(
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    payload: &[u8],
    hop_limit: u8,
) -> Vec<u8> {
    let a = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
    let mut v = Vec::new();
    PacketBuilder::ipv6(a(src), a(dst), hop_limit)
        .udp(sport, dport)
        .write(&mut v, payload)
        .unwrap();
    v
}

pub fn a6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

/// An IPv6 packet with next header `next` and `payload`, hop limit 64.
pub fn raw6(src: &str, dst: &str, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&a6(src));
    p.extend_from_slice(&a6(dst));
    p.extend_from_slice(payload);
    p
}

/// ICMPv6 error `kind`/`code` from `src` to `dst` quoting `about`.
pub fn icmp6_error(src: &str, dst: &str, kind: u8, code: u8, about: &[u8]) -> Vec<u8> {
    let mut icmp = vec![kind, code, 0, 0, 0, 0, 0x05, 0x00];
    icmp.extend_from_slice(about);
    let mut pseudo = a6(src).to_vec();
    pseudo.extend_from_slice(&a6(dst));
    pseudo.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 58]);
    pseudo.extend_from_slice(&icmp);
    if pseudo.len() % 2 == 1 {
        pseudo.push(0);
    }
    let c = internet_checksum::checksum(&pseudo);
    icmp[2..4].copy_from_slice(&c);
    raw6(src, dst, 58, &icmp)
}
