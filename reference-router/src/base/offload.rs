//! Offloaded packets: what the virtio-net header says about the packet behind
//! it (virtio 1.1 §5.1.6; Linux `include/uapi/linux/virtio_net.h`), and what the
//! router needs to handle a *super-packet* — one header block standing for many
//! segments — without splitting it.
//!
//! A TUN opened with `IFF_VNET_HDR` and `TUNSETOFFLOAD` hands the router TCP
//! segments of up to 64 KiB (TSO) and UDP datagram trains (USO) whose transport
//! checksum is *partial* (`NEEDS_CSUM`: the field holds the folded, uncomplemented
//! pseudo-header sum; the device completes it from `csum_start`). The router
//! translates the headers once: addresses and ports, TTL / hop limit, the IPv4
//! header checksum (always complete), and the transport checksum by its state —
//! RFC 1624 for a complete one; for a partial one the address difference is added
//! without complement and port changes need nothing, since ports lie inside the
//! range the device sums (the kernel's `inet_proto_csum_replace4` with
//! `pseudohdr`). The header goes back out with the packet; the receiving kernel
//! segments it, or delivers it whole.
//!
//! [`segment`] does in software what a device does, for the rare packet that
//! must be split here (the egress MTU is below the segment size with DF clear)
//! and for the tests' oracle.

use serde::{Deserialize, Serialize};
use sixfold_checksum::{Sum, pseudo};
use sixfold_rewrite::{IpProtocol, IpVersion, Ipv4Packet, Ipv6Packet, TcpPacket};
use std::fmt;

/// Bytes of the virtio-net header in front of every packet on an offload TUN.
pub const VNET_HDR_LEN: usize = 10;

const F_NEEDS_CSUM: u8 = 1;
const GSO_NONE: u8 = 0;
const GSO_TCPV4: u8 = 1;
const GSO_UDP: u8 = 3;
const GSO_TCPV6: u8 = 4;
const GSO_UDP_L4: u8 = 5;
const GSO_ECN: u8 = 0x80;

/// How a super-packet is to be segmented.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Gso {
    /// One packet.
    #[default]
    None,
    /// TCP over IPv4 (TSO).
    TcpV4,
    /// TCP over IPv6.
    TcpV6,
    /// UDP, IPv4 or IPv6, one datagram per segment (USO).
    UdpL4,
}

/// What the virtio-net header says about the packet behind it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Offload {
    /// Segmentation.
    pub gso: Gso,
    /// The TCP super-packet carries ECN (CWR goes on the first segment only).
    pub ecn: bool,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// `NEEDS_CSUM`: the transport checksum is partial; `(csum_start,
    /// csum_offset)`, from the start of the IP packet.
    pub partial: Option<(u16, u16)>,
}

/// A virtio-net header the router cannot act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffloadError {
    /// A segmentation type the router did not ask for (UFO, or unknown).
    GsoType(u8),
    /// A super-packet without a segment size, or without a partial checksum.
    Inconsistent,
}

impl fmt::Display for OffloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OffloadError::GsoType(t) => write!(f, "virtio-net GSO type {t:#x} not offered"),
            OffloadError::Inconsistent => {
                f.write_str("virtio-net header: a super-packet needs a size and a partial checksum")
            }
        }
    }
}

impl std::error::Error for OffloadError {}

impl Offload {
    /// Reads a virtio-net header (native byte order, as the kernel writes it for
    /// a TUN that has not asked for another). `DATA_VALID` is not kept: the
    /// router's output always lets the receiver check.
    pub fn decode(h: &[u8; VNET_HDR_LEN]) -> Result<Offload, OffloadError> {
        let u16_at = |at: usize| u16::from_ne_bytes([h[at], h[at + 1]]);
        let gso = match h[1] & !GSO_ECN {
            GSO_NONE => Gso::None,
            GSO_TCPV4 => Gso::TcpV4,
            GSO_TCPV6 => Gso::TcpV6,
            GSO_UDP_L4 => Gso::UdpL4,
            t @ GSO_UDP => return Err(OffloadError::GsoType(t)),
            t => return Err(OffloadError::GsoType(t)),
        };
        let partial = (h[0] & F_NEEDS_CSUM != 0).then(|| (u16_at(6), u16_at(8)));
        let off = Offload {
            gso,
            ecn: h[1] & GSO_ECN != 0,
            gso_size: u16_at(4),
            partial,
        };
        if gso != Gso::None && (off.gso_size == 0 || partial.is_none()) {
            return Err(OffloadError::Inconsistent);
        }
        Ok(off)
    }

    /// The header to write in front of `packet`: `hdr_len` computed from the
    /// packet itself (never trusted from the one that came in).
    pub fn encode(&self, packet: &[u8]) -> [u8; VNET_HDR_LEN] {
        let mut h = [0u8; VNET_HDR_LEN];
        let gso = match self.gso {
            Gso::None => GSO_NONE,
            Gso::TcpV4 => GSO_TCPV4,
            Gso::TcpV6 => GSO_TCPV6,
            Gso::UdpL4 => GSO_UDP_L4,
        };
        h[1] = gso | if self.ecn { GSO_ECN } else { 0 };
        if self.gso != Gso::None {
            let hdr_len = headers_len(packet).unwrap_or(0) as u16;
            h[2..4].copy_from_slice(&hdr_len.to_ne_bytes());
            h[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        }
        if let Some((start, offset)) = self.partial {
            h[0] = F_NEEDS_CSUM;
            h[6..8].copy_from_slice(&start.to_ne_bytes());
            h[8..10].copy_from_slice(&offset.to_ne_bytes());
        }
        h
    }

    /// Whether this stands for more than one packet on the wire.
    pub fn is_super(&self) -> bool {
        self.gso != Gso::None
    }
}

/// The length of the IP and transport headers of `packet` (IPv4 options and
/// IPv6 extension headers included; TCP options included): what every segment
/// repeats.
pub fn headers_len(packet: &[u8]) -> Option<usize> {
    let (l4, protocol) = match IpVersion::of(packet)? {
        IpVersion::V4 => {
            let ip = Ipv4Packet::new_checked(packet).ok()?;
            (ip.header_len(), ip.ip_protocol())
        }
        IpVersion::V6 => {
            let u = Ipv6Packet::new_checked(packet).ok()?.upper_layer().ok()?;
            (u.offset, u.ip_protocol())
        }
    };
    match protocol {
        IpProtocol::Tcp => Some(l4 + TcpPacket::new_checked(packet.get(l4..)?).ok()?.header_len()),
        IpProtocol::Udp => Some(l4 + 8).filter(|&n| n <= packet.len()),
        _ => None,
    }
}

/// The segments a super-packet stands for on the wire: how many, and their bytes
/// in all (each with its own copy of the headers).
pub fn wire_size(packet: &[u8], off: &Offload) -> (u64, u64) {
    if !off.is_super() {
        return (1, packet.len() as u64);
    }
    let Some(h) = headers_len(packet) else {
        return (1, packet.len() as u64);
    };
    let payload = packet.len().saturating_sub(h);
    let n = payload.div_ceil(usize::from(off.gso_size).max(1)).max(1);
    (n as u64, (packet.len() + (n - 1) * h) as u64)
}

/// The largest IP packet among the segments: what must fit the egress MTU.
pub fn largest_segment(packet: &[u8], off: &Offload) -> usize {
    if !off.is_super() {
        return packet.len();
    }
    match headers_len(packet) {
        Some(h) => packet.len().min(h + usize::from(off.gso_size)),
        None => packet.len(),
    }
}

/// Checks that a partial checksum's offsets are where the packet's transport
/// checksum is (TCP or UDP right after the IP headers).
pub fn partial_matches(packet: &[u8], off: &Offload) -> bool {
    let Some((start, offset)) = off.partial else {
        return true;
    };
    let (l4, protocol) = match IpVersion::of(packet) {
        Some(IpVersion::V4) => match Ipv4Packet::new_checked(packet) {
            Ok(ip) => (ip.header_len(), ip.ip_protocol()),
            Err(_) => return false,
        },
        Some(IpVersion::V6) => match Ipv6Packet::new_checked(packet).map(|p| p.upper_layer()) {
            Ok(Ok(u)) => (u.offset, u.ip_protocol()),
            _ => return false,
        },
        None => return false,
    };
    let field = match protocol {
        IpProtocol::Tcp => 16,
        IpProtocol::Udp => 6,
        _ => return false,
    };
    usize::from(start) == l4 && usize::from(offset) == field && l4 + field + 2 <= packet.len()
}

/// The transport checksum of segment `seg` (headers and payload, the field
/// holding what the super-packet's held) as the device completes it.
///
/// - Partial (`seed` is the field's sum: the pseudo-header over the super-packet's
///   transport length `total`): the device adjusts the seed to the segment's
///   length (as Linux `tcp_gso_segment` does), sums from the transport header on
///   and stores the complement — so a seed that does not match the addresses
///   gives a wrong checksum, as on a real device.
/// - Complete (`seed` is `None`): computed from scratch over the pseudo-header,
///   UDP's 0 → 0xFFFF; an IPv4 UDP field of 0 ("no checksum") stays 0.
fn finish_transport(seg: &mut [u8], l4: usize, protocol: IpProtocol, seed: Option<(Sum, usize)>) {
    let field = l4 + if protocol == IpProtocol::Tcp { 16 } else { 6 };
    let len = seg.len() - l4;
    let v6 = IpVersion::of(seg) == Some(IpVersion::V6);
    if seed.is_none() && !v6 && protocol == IpProtocol::Udp && seg[field..field + 2] == [0, 0] {
        return;
    }
    seg[field..field + 2].copy_from_slice(&[0, 0]);
    let head = match seed {
        Some((seed, total)) => seed - Sum::new(total as u16) + Sum::new(len as u16),
        None if v6 => {
            let ip = Ipv6Packet::new_unchecked(&seg[..40]);
            pseudo::ipv6(ip.src_addr(), ip.dst_addr(), u8::from(protocol), len as u32)
        }
        None => {
            let ip = Ipv4Packet::new_unchecked(&seg[..20]);
            pseudo::ipv4(ip.src_addr(), ip.dst_addr(), u8::from(protocol), len as u16)
        }
    };
    let sum: Sum = head + sixfold_checksum::sum(&seg[l4..]);
    let c = if protocol == IpProtocol::Udp {
        sixfold_checksum::udp::finish(sum)
    } else {
        sum.checksum()
    };
    seg[field..field + 2].copy_from_slice(&c.to_be_bytes());
}

/// Splits a super-packet into the packets it stands for, as a device would
/// (Linux `tcp_gso_segment`, `__udp_gso_segment`): the headers repeated; IPv4
/// identification counting up and the header checksum recomputed; IP lengths,
/// the TCP sequence number and the UDP length per segment; CWR on the first TCP
/// segment only, FIN and PSH on the last only; every transport checksum complete
/// (from a partial one's seed, as a device would).
/// A packet that is not a super-packet comes back as one, its partial checksum
/// (if any) completed. `None` if the headers do not parse.
pub fn segment(packet: &[u8], off: &Offload) -> Option<Vec<Vec<u8>>> {
    if !off.is_super() && off.partial.is_none() {
        return Some(vec![packet.to_vec()]);
    }
    let h = headers_len(packet)?;
    let v6 = IpVersion::of(packet)? == IpVersion::V6;
    let (l4, protocol) = if v6 {
        let u = Ipv6Packet::new_checked(packet).ok()?.upper_layer().ok()?;
        (u.offset, u.ip_protocol())
    } else {
        let ip = Ipv4Packet::new_checked(packet).ok()?;
        (ip.header_len(), ip.ip_protocol())
    };
    let field = l4 + if protocol == IpProtocol::Tcp { 16 } else { 6 };
    let seed = match off.partial {
        Some(_) => Some((
            Sum::from_be_bytes(packet.get(field..field + 2)?.try_into().ok()?),
            packet.len() - l4,
        )),
        None => None,
    };
    let payload = &packet[h..];
    let size = match off.gso {
        Gso::None => payload.len().max(1),
        _ => usize::from(off.gso_size),
    };
    let n = payload.len().div_ceil(size).max(1);
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let chunk = &payload[(k * size).min(payload.len())..((k + 1) * size).min(payload.len())];
        let mut seg = Vec::with_capacity(h + chunk.len());
        seg.extend_from_slice(&packet[..h]);
        seg.extend_from_slice(chunk);
        let total = seg.len();
        if v6 {
            Ipv6Packet::new_unchecked(&mut seg[..])
                .set_payload_len(total - 40)
                .ok()?;
        } else {
            let mut ip = Ipv4Packet::new_unchecked(&mut seg[..]);
            ip.set_total_len(total).ok()?;
            let ident = ip.ident().wrapping_add(k as u16);
            ip.set_ident(ident);
            ip.fill_checksum();
        }
        match protocol {
            IpProtocol::Tcp => {
                let seq = u32::from_be_bytes(seg[l4 + 4..l4 + 8].try_into().ok()?)
                    .wrapping_add((k * size) as u32);
                seg[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
                let flags = &mut seg[l4 + 13];
                if k > 0 {
                    *flags &= !0x80; // CWR
                }
                if k + 1 < n {
                    *flags &= !(0x01 | 0x08); // FIN, PSH
                }
            }
            _ => {
                let len = (total - l4) as u16;
                seg[l4 + 4..l4 + 6].copy_from_slice(&len.to_be_bytes());
            }
        }
        finish_transport(&mut seg, l4, protocol, seed);
        out.push(seg);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_byte_exact() {
        // NEEDS_CSUM, TCPv4 with ECN, hdr_len 52, gso_size 1448, csum 20+16.
        let mut raw = [0u8; VNET_HDR_LEN];
        raw[0] = 1;
        raw[1] = 0x81;
        raw[2..4].copy_from_slice(&52u16.to_ne_bytes());
        raw[4..6].copy_from_slice(&1448u16.to_ne_bytes());
        raw[6..8].copy_from_slice(&20u16.to_ne_bytes());
        raw[8..10].copy_from_slice(&16u16.to_ne_bytes());
        let off = Offload::decode(&raw).unwrap();
        assert_eq!(
            off,
            Offload {
                gso: Gso::TcpV4,
                ecn: true,
                gso_size: 1448,
                partial: Some((20, 16)),
            }
        );
        assert!(off.is_super());
        // A plain packet: all zero.
        assert_eq!(Offload::decode(&[0; 10]).unwrap(), Offload::default());
        assert_eq!(Offload::default().encode(&[0x45]), [0; 10]);
    }

    #[test]
    fn headers_the_router_does_not_take() {
        let mut raw = [0u8; VNET_HDR_LEN];
        raw[1] = 3; // UFO
        assert_eq!(Offload::decode(&raw), Err(OffloadError::GsoType(3)));
        raw[1] = 9;
        assert_eq!(Offload::decode(&raw), Err(OffloadError::GsoType(9)));
        raw[1] = 1; // TSO without a size or a partial checksum
        assert_eq!(Offload::decode(&raw), Err(OffloadError::Inconsistent));
    }
}
