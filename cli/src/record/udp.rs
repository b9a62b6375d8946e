//! The UDP datagram of a captured IP packet, IPv4 or IPv6 (an IPFIX collector
//! may listen on either: `collector = "[2001:db8::90]:4739"`). The IP header's
//! own length bounds the datagram, so bytes a link layer adds after it (an
//! Ethernet trailer, padding to 60 bytes) are never read as IPFIX; IPv6
//! extension headers before UDP are stepped over. Fragments are reported, not
//! reassembled: an IPFIX exporter keeps its messages below the path MTU (RFC
//! 7011 §10.3.3).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A UDP datagram: its ends and payload (cut short if the capture was).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Datagram<'a> {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) payload: &'a [u8],
}

/// Why an IP packet gave no datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoDatagram {
    /// Not UDP (or a header cut short before the UDP header).
    NotUdp,
    /// A fragment of a datagram.
    Fragment,
}

const UDP: u8 = 17;

/// The datagram in IP packet `ip`.
pub(crate) fn datagram(ip: &[u8]) -> Result<Datagram<'_>, NoDatagram> {
    match ip.first().map(|b| b >> 4) {
        Some(4) => v4(ip),
        Some(6) => v6(ip),
        _ => Err(NoDatagram::NotUdp),
    }
}

fn v4(ip: &[u8]) -> Result<Datagram<'_>, NoDatagram> {
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ihl < 20 || ip.len() < ihl {
        return Err(NoDatagram::NotUdp);
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let flags_offset = u16::from_be_bytes([ip[6], ip[7]]);
    if flags_offset & 0x3fff != 0 {
        return Err(NoDatagram::Fragment);
    }
    if ip[9] != UDP {
        return Err(NoDatagram::NotUdp);
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    // What follows the packet's own length is the link layer's, not IP's.
    let end = total.clamp(ihl, ip.len());
    udp(&ip[ihl..end], src.into(), dst.into())
}

fn v6(ip: &[u8]) -> Result<Datagram<'_>, NoDatagram> {
    if ip.len() < 40 {
        return Err(NoDatagram::NotUdp);
    }
    let payload_len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let end = (40 + payload_len).min(ip.len());
    let addr = |at: usize| {
        let b: [u8; 16] = ip[at..at + 16].try_into().unwrap_or_default();
        Ipv6Addr::from(b)
    };
    let (src, dst) = (addr(8), addr(24));
    let (mut next, mut at) = (ip[6], 40);
    loop {
        match next {
            UDP => return udp(&ip[at.min(end)..end], src.into(), dst.into()),
            // Hop-by-hop, routing, destination options: (length + 1) × 8 bytes.
            0 | 43 | 60 => {
                let (Some(&n), Some(&len)) = (ip.get(at), ip.get(at + 1)) else {
                    return Err(NoDatagram::NotUdp);
                };
                next = n;
                at += (usize::from(len) + 1) * 8;
            }
            44 => {
                let Some(h) = ip.get(at..at + 8) else {
                    return Err(NoDatagram::NotUdp);
                };
                // An atomic fragment (offset 0, M = 0; RFC 6946) is whole.
                if u16::from_be_bytes([h[2], h[3]]) & 0xfff9 != 0 {
                    return Err(NoDatagram::Fragment);
                }
                next = h[0];
                at += 8;
            }
            _ => return Err(NoDatagram::NotUdp),
        }
    }
}

fn udp(segment: &[u8], src: IpAddr, dst: IpAddr) -> Result<Datagram<'_>, NoDatagram> {
    if segment.len() < 8 {
        return Err(NoDatagram::NotUdp);
    }
    let port = |at: usize| u16::from_be_bytes([segment[at], segment[at + 1]]);
    let len = usize::from(port(4)).clamp(8, segment.len());
    Ok(Datagram {
        src: SocketAddr::new(src, port(0)),
        dst: SocketAddr::new(dst, port(2)),
        payload: &segment[8..len],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp_bytes(payload: &[u8]) -> Vec<u8> {
        let mut u = vec![0x75, 0x30, 0x12, 0x83];
        u.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        u
    }

    #[test]
    fn ipv4_with_a_link_layer_trailer_stops_at_the_packets_length() {
        let u = udp_bytes(b"ipfix");
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 9,
        ];
        p[2..4].copy_from_slice(&(20 + u.len() as u16).to_be_bytes());
        p.extend_from_slice(&u);
        p.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]); // an Ethernet trailer
        let d = datagram(&p).unwrap();
        assert_eq!(d.payload, b"ipfix");
        assert_eq!(d.src, "192.0.2.1:30000".parse().unwrap());
        assert_eq!(d.dst, "192.0.2.9:4739".parse().unwrap());
        // A fragment is not read as a datagram.
        p[6] = 0x20;
        assert_eq!(datagram(&p), Err(NoDatagram::Fragment));
        p[6] = 0x40;
        p[9] = 6;
        assert_eq!(datagram(&p), Err(NoDatagram::NotUdp));
    }

    #[test]
    fn ipv6_after_extension_headers() {
        let u = udp_bytes(b"ipfix");
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        p.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"2001:db8::90".parse::<Ipv6Addr>().unwrap().octets());
        // Destination options (8 bytes), then an atomic fragment header, then UDP.
        p.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        p.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 7]);
        p.extend_from_slice(&u);
        let len = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&len.to_be_bytes());
        p[6] = 60;
        p.extend_from_slice(&[0; 4]); // trailer
        let d = datagram(&p).unwrap();
        assert_eq!(d.payload, b"ipfix");
        assert_eq!(d.dst, "[2001:db8::90]:4739".parse().unwrap());
        // A real fragment (offset 8).
        p[48 + 2..48 + 4].copy_from_slice(&[0, 8]);
        assert_eq!(datagram(&p), Err(NoDatagram::Fragment));
    }
}
