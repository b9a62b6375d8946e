//! Capture files built by hand around UDP payloads (the router's IPFIX
//! messages): IPv4/IPv6 with their checksums, Ethernet (with a trailer),
//! Linux cooked v1/v2, written as pcap or pcapng.

use sixfold::capture::PcapWriter;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

pub fn sum(data: &[u8]) -> u32 {
    data.chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

pub fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// The UDP datagram `src` → `dst` with `payload`, in its IP packet.
pub fn ip_udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut udp = Vec::new();
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let (mut ip, pseudo) = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = vec![0x45, 0];
            h.extend_from_slice(&((20 + udp.len()) as u16).to_be_bytes());
            h.extend_from_slice(&[0, 1, 0x40, 0, 64, 17, 0, 0]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let c = fold(sum(&h));
            h[10..12].copy_from_slice(&c.to_be_bytes());
            let pseudo = sum(&h[12..20]) + 17 + udp.len() as u32;
            (h, pseudo)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&(udp.len() as u16).to_be_bytes());
            h.extend_from_slice(&[17, 64]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let pseudo = sum(&h[8..40]) + 17 + udp.len() as u32;
            (h, pseudo)
        }
        _ => panic!("mixed families"),
    };
    let c = fold(pseudo + sum(&udp));
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&udp);
    ip
}

pub fn ethertype(ip: &[u8]) -> [u8; 2] {
    if ip[0] >> 4 == 6 {
        [0x86, 0xdd]
    } else {
        [0x08, 0x00]
    }
}

/// How the capture holds each datagram.
#[derive(Clone, Copy, Debug)]
pub enum Link {
    /// Ethernet, with this many bytes of trailer after the IP packet.
    Ethernet(usize),
    /// Linux cooked capture v1 (`tcpdump -i any`).
    Sll,
    /// Linux cooked capture v2.
    Sll2,
}

impl Link {
    pub fn linktype(self) -> u32 {
        match self {
            Link::Ethernet(_) => 1,
            Link::Sll => 113,
            Link::Sll2 => 276,
        }
    }

    pub fn frame(self, ip: &[u8]) -> Vec<u8> {
        let mac = [0x02, 0, 0, 0, 0, 1];
        let mut f = Vec::new();
        match self {
            Link::Ethernet(trailer) => {
                f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2]);
                f.extend_from_slice(&mac);
                f.extend_from_slice(&ethertype(ip));
                f.extend_from_slice(ip);
                f.extend(std::iter::repeat_n(0xee, trailer));
            }
            Link::Sll => {
                f.extend_from_slice(&[0, 4, 0, 1, 0, 6]);
                f.extend_from_slice(&mac);
                f.extend_from_slice(&[0, 0]);
                f.extend_from_slice(&ethertype(ip));
                f.extend_from_slice(ip);
            }
            Link::Sll2 => {
                f.extend_from_slice(&ethertype(ip));
                f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 4, 6]);
                f.extend_from_slice(&mac);
                f.extend_from_slice(&[0, 0]);
                f.extend_from_slice(ip);
            }
        }
        f
    }
}

/// The exporter (192.0.2.1 or 2001:db8::1, port 30000) and the collector.
pub fn ends(v6: bool) -> (SocketAddr, SocketAddr) {
    if v6 {
        (
            "[2001:db8::1]:30000".parse().unwrap(),
            "[2001:db8::90]:4739".parse().unwrap(),
        )
    } else {
        (
            "192.0.2.1:30000".parse().unwrap(),
            "192.0.2.90:4739".parse().unwrap(),
        )
    }
}

/// Frames of `messages` as `link` holds them, with their times (ms).
pub fn frames(messages: &[(u64, Vec<u8>)], link: Link, v6: bool) -> Vec<(u64, Vec<u8>)> {
    let (src, dst) = ends(v6);
    frames_from(messages, link, src, dst)
}

pub fn frames_from(
    messages: &[(u64, Vec<u8>)],
    link: Link,
    src: SocketAddr,
    dst: SocketAddr,
) -> Vec<(u64, Vec<u8>)> {
    messages
        .iter()
        .map(|(t, m)| (*t, link.frame(&ip_udp(src, dst, m))))
        .collect()
}

pub fn write_pcap(path: &Path, linktype: u32, frames: &[(u64, Vec<u8>)]) {
    let mut out = Vec::new();
    let w = PcapWriter::start(&mut out, linktype, false).unwrap();
    for (t, f) in frames {
        w.write(&mut out, Duration::from_millis(*t), f.len() as u32, f)
            .unwrap();
    }
    std::fs::write(path, out).unwrap();
}

/// pcapng: a section header, one interface, an enhanced packet block per
/// frame (microsecond timestamps).
pub fn write_pcapng(path: &Path, linktype: u32, frames: &[(u64, Vec<u8>)]) {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let len = (12 + body.len().div_ceil(4) * 4) as u32;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.resize(out.len() + (4 - body.len() % 4) % 4, 0);
        out.extend_from_slice(&len.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut shb = vec![];
    shb.extend_from_slice(&0x1a2b_3c4d_u32.to_le_bytes());
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    let mut idb = (linktype as u16).to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0]);
    idb.extend_from_slice(&262_144u32.to_le_bytes());
    block(&mut out, 1, &idb);
    for (t, f) in frames {
        let us = t * 1000;
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&((us >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(us as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(f);
        block(&mut out, 6, &epb);
    }
    std::fs::write(path, out).unwrap();
}
