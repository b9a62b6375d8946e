//! IPv6 header view (RFC 8200) with a bounded walk of the extension-header chain.
//!
//! ```text
//! |Version| Traffic Class |           Flow Label                  |
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! |                 Source Address (128)                          |
//! |              Destination Address (128)                        |
//! ```
//!
//! The walk follows hop-by-hop (0), routing (43), fragment (44) and destination
//! options (60) headers, at most [`MAX_EXTENSION_HEADERS`] of them and
//! [`MAX_EXTENSION_BYTES`] bytes in all, so a hostile chain costs a fixed amount. It
//! stops and reports at ESP (50), AH (51) and any other next header.

use crate::error::{Error, Layer, Result, need};
use crate::protocol::IpProtocol;
use core::net::Ipv6Addr;

mod field {
    pub(crate) const PAYLOAD_LEN: usize = 4;
    pub(crate) const NEXT_HEADER: usize = 6;
    pub(crate) const HOP_LIMIT: usize = 7;
    pub(crate) const SRC: usize = 8;
    pub(crate) const DST: usize = 24;
    pub(crate) const HEADER_LEN: usize = 40;
}
pub(crate) use field::{DST, HEADER_LEN, HOP_LIMIT, SRC};

/// At most this many extension headers are walked.
pub const MAX_EXTENSION_HEADERS: usize = 8;
/// At most this many bytes of extension headers are walked.
pub const MAX_EXTENSION_BYTES: usize = 1024;

/// What follows the extension headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UpperLayer {
    /// The upper-layer protocol (or 50/51/unknown where the walk stopped).
    pub protocol: u8,
    /// Offset of the upper-layer header from the start of the IPv6 header.
    pub offset: usize,
    /// The fragment header's offset (bytes) and M flag, if the packet is a fragment.
    pub fragment: Option<(usize, bool)>,
    /// Whether a routing header with segments left > 0 is present: then the final
    /// destination (which the pseudo-header uses) is not the header's destination.
    pub routing_pending: bool,
}

impl UpperLayer {
    /// The upper-layer protocol, by name.
    pub fn ip_protocol(&self) -> IpProtocol {
        IpProtocol::from(self.protocol)
    }

    /// Whether the upper-layer header is in this packet (not a non-first fragment).
    pub fn has_header(&self) -> bool {
        !matches!(self.fragment, Some((offset, _)) if offset != 0)
    }
}

/// A view of an IPv6 packet in a buffer.
///
/// After [`Ipv6Packet::new_checked`] succeeds, no accessor panics: the 40-byte
/// header and `payload_len` bytes are in the buffer. Jumbograms (payload length 0
/// with a hop-by-hop jumbo option) are not supported: they read as empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Packet<B> {
    buffer: B,
}

impl<B: AsRef<[u8]>> Ipv6Packet<B> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: B) -> Ipv6Packet<B> {
        Ipv6Packet { buffer }
    }

    /// Wraps a buffer after checking the version and payload length.
    pub fn new_checked(buffer: B) -> Result<Ipv6Packet<B>> {
        let p = Ipv6Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// Checks what [`Ipv6Packet::new_checked`] checks.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(Layer::Ipv6, HEADER_LEN, b.len())?;
        if b[0] >> 4 != 6 {
            return Err(Error::BadVersion(b[0] >> 4));
        }
        need(Layer::Ipv6, HEADER_LEN + self.payload_len(), b.len())
    }

    /// The buffer.
    pub fn into_inner(self) -> B {
        self.buffer
    }

    /// The traffic class octet (DSCP and ECN, RFC 2474 / RFC 3168).
    pub fn traffic_class(&self) -> u8 {
        let b = self.buffer.as_ref();
        (b[0] << 4) | (b[1] >> 4)
    }

    /// Payload length (extension headers and upper layer).
    pub fn payload_len(&self) -> usize {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::PAYLOAD_LEN], b[field::PAYLOAD_LEN + 1]]) as usize
    }

    /// The first next-header value.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// The first next header, by name.
    pub fn ip_protocol(&self) -> IpProtocol {
        IpProtocol::from(self.next_header())
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), SRC)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), DST)
    }

    /// Walks the extension headers to the upper layer.
    pub fn upper_layer(&self) -> Result<UpperLayer> {
        let b = self.buffer.as_ref();
        walk_extensions(
            &b[..HEADER_LEN + self.payload_len()],
            self.next_header(),
            false,
        )
    }
}

impl<'a, B: AsRef<[u8]> + ?Sized> Ipv6Packet<&'a B> {
    /// The payload (extension headers included), borrowed for the buffer's lifetime.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + self.payload_len()]
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<B> {
    /// Sets the payload length (raw). Refused, leaving the packet as it was, unless
    /// the payload fits in the buffer — so no accessor can panic afterwards.
    pub fn set_payload_len(&mut self, payload: usize) -> Result<()> {
        let got = self.buffer.as_ref().len();
        if HEADER_LEN + payload > got || payload > usize::from(u16::MAX) {
            return Err(Error::BadPayloadLen { payload, got });
        }
        self.buffer.as_mut()[field::PAYLOAD_LEN..field::PAYLOAD_LEN + 2]
            .copy_from_slice(&(payload as u16).to_be_bytes());
        Ok(())
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.buffer.as_mut()[HOP_LIMIT] = hop_limit;
    }

    /// Sets the source address (raw: upper-layer checksums are not updated).
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[SRC..SRC + 16].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address (raw).
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[DST..DST + 16].copy_from_slice(&addr.octets());
    }
}

pub(crate) fn addr_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(a)
}

/// Walks extension headers in `packet` (an IPv6 packet starting with its fixed
/// header). With `lenient`, a chain cut off by the end of `packet` (as in an ICMP
/// quote) ends the walk at the cut instead of failing.
pub(crate) fn walk_extensions(packet: &[u8], first: u8, lenient: bool) -> Result<UpperLayer> {
    let mut protocol = first;
    let mut offset = HEADER_LEN;
    let mut fragment = None;
    let mut routing_pending = false;
    let mut headers = 0;
    loop {
        if !matches!(protocol, 0 | 43 | 44 | 60) {
            return Ok(UpperLayer {
                protocol,
                offset,
                fragment,
                routing_pending,
            });
        }
        if headers == MAX_EXTENSION_HEADERS || offset - HEADER_LEN >= MAX_EXTENSION_BYTES {
            return Err(Error::ExtensionChainTooLong {
                headers,
                bytes: offset - HEADER_LEN,
            });
        }
        let rest = &packet[offset.min(packet.len())..];
        if rest.len() < 8 {
            if lenient {
                return Ok(UpperLayer {
                    protocol,
                    offset,
                    fragment,
                    routing_pending,
                });
            }
            need(Layer::Ipv6Extension, 8, rest.len())?;
        }
        let len = if protocol == 44 {
            8
        } else {
            (rest[1] as usize + 1) * 8
        };
        if rest.len() < len && !lenient {
            need(Layer::Ipv6Extension, len, rest.len())?;
        }
        match protocol {
            44 => {
                let off_flags = u16::from_be_bytes([rest[2], rest[3]]);
                fragment = Some(((off_flags & 0xFFF8) as usize, off_flags & 1 == 1));
            }
            43 => routing_pending |= rest[3] != 0,
            _ => {}
        }
        protocol = rest[0];
        offset += len;
        headers += 1;
        if matches!(fragment, Some((frag_offset, _)) if frag_offset != 0) {
            // A non-first fragment: what follows is the middle of the payload.
            return Ok(UpperLayer {
                protocol,
                offset,
                fragment,
                routing_pending,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(next: u8, ext: &[u8], l4: &[u8]) -> std::vec::Vec<u8> {
        let mut p = std::vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((ext.len() + l4.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(ext);
        p.extend_from_slice(l4);
        p
    }

    #[test]
    fn deconstruct_and_walk() {
        // Hop-by-hop (8 bytes, PadN) then destination options (16 bytes) then UDP.
        let mut ext = std::vec![60, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let p = packet(0, &ext, &[0; 8]);
        let v = Ipv6Packet::new_checked(&p[..]).unwrap();
        assert_eq!(v.payload_len(), 32);
        assert_eq!(v.hop_limit(), 64);
        assert_eq!(v.dst_addr(), "2001:db8::2".parse::<Ipv6Addr>().unwrap());
        let u = v.upper_layer().unwrap();
        assert_eq!(
            u,
            UpperLayer {
                protocol: 17,
                offset: 64,
                fragment: None,
                routing_pending: false
            }
        );
    }

    #[test]
    fn fragments_and_routing() {
        // First fragment: fragment header offset 0, M=1, then TCP.
        let p = packet(44, &[6, 0, 0x00, 0x01, 0, 0, 0, 7], &[0; 20]);
        let u = Ipv6Packet::new_checked(&p[..])
            .unwrap()
            .upper_layer()
            .unwrap();
        assert_eq!(
            (u.protocol, u.offset, u.fragment, u.has_header()),
            (6, 48, Some((0, true)), true)
        );
        // Non-first fragment: offset 1448.
        let p = packet(44, &[6, 0, 0x05, 0xA8, 0, 0, 0, 7], &[0; 20]);
        let u = Ipv6Packet::new_checked(&p[..])
            .unwrap()
            .upper_layer()
            .unwrap();
        assert_eq!((u.fragment, u.has_header()), (Some((1448, false)), false));
        // Routing header (type 4, segments left 1).
        let p = packet(
            43,
            &[
                58, 2, 4, 1, 0, 0, 0, 0, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0,
                0, 0, 0, 0, 0, 0, 0,
            ],
            &[128, 0, 0, 0],
        );
        let u = Ipv6Packet::new_checked(&p[..])
            .unwrap()
            .upper_layer()
            .unwrap();
        assert!(u.routing_pending);
        assert_eq!(u.protocol, 58);
    }

    #[test]
    fn payload_len_setter_keeps_the_view_valid() {
        let mut p = packet(17, &[], &[0; 8]);
        let mut v = Ipv6Packet::new_unchecked(&mut p[..]);
        assert_eq!(
            v.set_payload_len(9),
            Err(Error::BadPayloadLen {
                payload: 9,
                got: 48
            })
        );
        v.set_payload_len(4).unwrap();
        assert_eq!(&p[4..6], &[0, 4]);
        let v = Ipv6Packet::new_checked(&p[..]).unwrap();
        assert_eq!((v.payload_len(), v.ip_protocol()), (4, IpProtocol::Udp));
    }

    #[test]
    fn rejections() {
        let p = packet(59, &[], &[]);
        assert_eq!(
            Ipv6Packet::new_checked(&p[..39]),
            Err(Error::Truncated {
                layer: Layer::Ipv6,
                need: 40,
                got: 39
            })
        );
        let mut v4 = p.clone();
        v4[0] = 0x45;
        assert_eq!(Ipv6Packet::new_checked(&v4[..]), Err(Error::BadVersion(4)));
        let mut long = p.clone();
        long[5] = 1;
        assert_eq!(
            Ipv6Packet::new_checked(&long[..]),
            Err(Error::Truncated {
                layer: Layer::Ipv6,
                need: 41,
                got: 40
            })
        );
        // A destination-options header claiming 16 bytes with 8 present.
        let p = packet(60, &[59, 1, 0, 0, 0, 0, 0, 0], &[]);
        let v = Ipv6Packet::new_checked(&p[..]).unwrap();
        assert_eq!(
            v.upper_layer(),
            Err(Error::Truncated {
                layer: Layer::Ipv6Extension,
                need: 16,
                got: 8
            })
        );
        // Nine hop-by-hop-style headers in a row: too long.
        let ext: std::vec::Vec<u8> = (0..9).flat_map(|_| [60, 0, 1, 4, 0, 0, 0, 0]).collect();
        let p = packet(60, &ext, &[]);
        let v = Ipv6Packet::new_checked(&p[..]).unwrap();
        assert_eq!(
            v.upper_layer(),
            Err(Error::ExtensionChainTooLong {
                headers: 8,
                bytes: 64
            })
        );
    }

    #[test]
    fn traffic_class_spans_two_bytes() {
        // Version 6, traffic class 0xb9, flow label 0xabcde.
        let mut p = packet(59, &[], &[]);
        p[..4].copy_from_slice(&[0x6b, 0x9a, 0xbc, 0xde]);
        assert_eq!(
            Ipv6Packet::new_checked(&p[..]).unwrap().traffic_class(),
            0xb9
        );
    }
}
