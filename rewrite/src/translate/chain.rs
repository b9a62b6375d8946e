//! The IPv6 extension-header chain as RFC 7915 §5.1 reads it: hop-by-hop, routing
//! and destination options are skipped, the Fragment Header's fields become IPv4's,
//! and the first other header is the upper layer whose protocol IPv4 carries.
//!
//! Unlike [`crate::Ipv6Packet::upper_layer`] this also reports where the first
//! routing header with Segments Left ≠ 0 sits (for the parameter-problem pointer)
//! and the Fragment Header's identification and next header. The same limits
//! apply ([`crate::ipv6::MAX_EXTENSION_HEADERS`], [`crate::ipv6::MAX_EXTENSION_BYTES`]).

use super::headers::{FRAGMENT_HEADER, FragmentFields, IPV6_HEADER};
use crate::error::{Error, Layer, Result, need};
use crate::ipv6::{MAX_EXTENSION_BYTES, MAX_EXTENSION_HEADERS};
use crate::protocol::IpProtocol;

/// A Fragment Header and what follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fragment {
    pub(crate) fields: FragmentFields,
    /// The Fragment Header's Next Header.
    pub(crate) next: IpProtocol,
}

impl Fragment {
    /// An atomic fragment (offset 0, M = 0): a whole packet that carries a
    /// Fragment Header. RFC 6946 §4: it is processed in isolation, not as part
    /// of a fragmented datagram.
    pub(crate) fn is_atomic(&self) -> bool {
        self.fields.offset == 0 && !self.fields.more
    }
}

/// The extension chain of one IPv6 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chain {
    /// The upper-layer protocol (for a non-first fragment: the Fragment Header's
    /// next header, whose header is in another fragment).
    pub(crate) protocol: IpProtocol,
    /// Where the upper layer (or a non-first fragment's data) starts, from the
    /// start of the IPv6 header.
    pub(crate) offset: usize,
    pub(crate) fragment: Option<Fragment>,
    /// Offset of the Segments Left byte of the first routing header where it is
    /// not zero.
    pub(crate) segments_left_at: Option<usize>,
}

impl Chain {
    /// Whether the packet is part of a fragmented datagram: a Fragment Header
    /// that is not atomic ([`Fragment::is_atomic`]).
    pub(crate) fn is_fragment(&self) -> bool {
        self.fragment.is_some_and(|f| !f.is_atomic())
    }

    /// Whether the upper-layer header is in this packet (not a non-first fragment).
    pub(crate) fn has_upper_header(&self) -> bool {
        self.fragment.is_none_or(|f| f.fields.offset == 0)
    }

    /// Bytes of extension headers between the fixed header and the upper layer.
    pub(crate) fn extension_len(&self) -> usize {
        self.offset - IPV6_HEADER
    }
}

/// IANA "IPv6 Extension Header Types" that RFC 7915 §5.1.1 does not accept after
/// a Fragment Header: all but ESP (50), AH (51) included. Mobility (135), HIP
/// (139), shim6 (140) and the experimental 253/254 have no name in [`IpProtocol`].
pub(crate) fn is_extension_after_fragment(p: IpProtocol) -> bool {
    const MOBILITY: IpProtocol = IpProtocol::Other(135);
    const SHIM6: IpProtocol = IpProtocol::Other(140);
    const EXPERIMENT_1: IpProtocol = IpProtocol::Other(253);
    const EXPERIMENT_2: IpProtocol = IpProtocol::Other(254);
    p.is_ipv6_extension()
        || matches!(
            p,
            IpProtocol::Ah | IpProtocol::Hip | MOBILITY | SHIM6 | EXPERIMENT_1 | EXPERIMENT_2
        )
}

/// Walks the chain of `packet` (an IPv6 packet from its fixed header, cut at its
/// payload length). `lenient` accepts a chain cut short by the end of `packet`,
/// as in an ICMP quote: the walk ends at the cut. A second Fragment Header ends
/// the walk there: `fragment` stays the first, whose next header (44) no
/// translator accepts (RFC 7915 §5.1.1), and nothing after it is read as headers.
pub(crate) fn walk(packet: &[u8], lenient: bool) -> Result<Chain> {
    need(Layer::Ipv6, IPV6_HEADER, packet.len())?;
    let mut chain = Chain {
        protocol: IpProtocol::from(packet[6]),
        offset: IPV6_HEADER,
        fragment: None,
        segments_left_at: None,
    };
    let mut headers = 0;
    while chain.protocol.is_ipv6_extension() && chain.has_upper_header() {
        if chain.protocol == IpProtocol::Ipv6Frag && chain.fragment.is_some() {
            break;
        }
        let walked = chain.offset - IPV6_HEADER;
        if headers == MAX_EXTENSION_HEADERS || walked >= MAX_EXTENSION_BYTES {
            return Err(Error::ExtensionChainTooLong {
                headers,
                bytes: walked,
            });
        }
        let rest = packet.get(chain.offset..).unwrap_or_default();
        let len = match (chain.protocol, rest.get(1)) {
            (IpProtocol::Ipv6Frag, _) => FRAGMENT_HEADER,
            (_, Some(&units)) => (usize::from(units) + 1) * 8,
            (_, None) => FRAGMENT_HEADER,
        };
        if rest.len() < len.max(FRAGMENT_HEADER) {
            if lenient {
                return Ok(chain);
            }
            need(Layer::Ipv6Extension, len, rest.len())?;
        }
        let next = IpProtocol::from(rest[0]);
        match chain.protocol {
            IpProtocol::Ipv6Frag => {
                let off_flags = u16::from_be_bytes([rest[2], rest[3]]);
                chain.fragment = Some(Fragment {
                    fields: FragmentFields {
                        offset: usize::from(off_flags & 0xFFF8),
                        more: off_flags & 1 == 1,
                        ident: u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]),
                    },
                    next,
                });
            }
            IpProtocol::Ipv6Route if rest[3] != 0 && chain.segments_left_at.is_none() => {
                chain.segments_left_at = Some(chain.offset + 3);
            }
            _ => {}
        }
        chain.protocol = next;
        chain.offset += len;
        headers += 1;
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn packet(first: u8, ext: &[u8], tail: usize) -> Vec<u8> {
        let mut p = std::vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((ext.len() + tail) as u16).to_be_bytes());
        p.extend_from_slice(&[first, 64]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(ext);
        p.resize(p.len() + tail, 0);
        p
    }

    #[test]
    fn skips_options_and_reads_the_fragment_header() {
        // Hop-by-hop (8), destination options (8), fragment (offset 1448, M=1,
        // ident 0x01020304), then a non-first fragment's UDP data.
        let ext = [
            60, 0, 1, 4, 0, 0, 0, 0, //
            44, 0, 1, 4, 0, 0, 0, 0, //
            17, 0, 0x05, 0xA9, 1, 2, 3, 4,
        ];
        let c = walk(&packet(0, &ext, 16), false).unwrap();
        assert_eq!(c.protocol, IpProtocol::Udp);
        assert_eq!((c.offset, c.extension_len()), (64, 24));
        assert!(!c.has_upper_header());
        assert_eq!(
            c.fragment,
            Some(Fragment {
                fields: FragmentFields {
                    offset: 1448,
                    more: true,
                    ident: 0x0102_0304
                },
                next: IpProtocol::Udp
            })
        );
        assert_eq!(c.segments_left_at, None);
    }

    #[test]
    fn first_fragment_walks_on_and_routing_is_located() {
        // Routing header (type 4, segments left 2) at offset 40: SL at 43.
        let mut ext = std::vec![44, 2, 4, 2, 0, 0, 0, 0];
        ext.extend_from_slice(&[0; 16]);
        ext.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 9]); // fragment, offset 0, M=0
        let c = walk(&packet(43, &ext, 20), false).unwrap();
        assert_eq!(c.segments_left_at, Some(43));
        assert_eq!((c.protocol, c.offset), (IpProtocol::Tcp, 72));
        assert!(c.has_upper_header());
        // Segments left 0: nothing to report.
        ext[3] = 0;
        let c = walk(&packet(43, &ext, 20), false).unwrap();
        assert_eq!(c.segments_left_at, None);
    }

    #[test]
    fn a_second_fragment_header_ends_the_walk_and_atomic_ones_are_told_apart() {
        // Fragment (offset 0, M=1, ident 5) then fragment (offset 0, M=0), UDP.
        let ext = [44, 0, 0, 1, 0, 0, 0, 5, 17, 0, 0, 0, 0, 0, 0, 5];
        let c = walk(&packet(44, &ext, 16), false).unwrap();
        let f = c.fragment.unwrap();
        assert_eq!((f.next, f.fields.more), (IpProtocol::Ipv6Frag, true));
        assert_eq!((c.protocol, c.offset), (IpProtocol::Ipv6Frag, 48));
        assert!(is_extension_after_fragment(f.next));
        assert!(c.is_fragment());
        // The second header alone is an atomic fragment: a whole packet.
        let c = walk(&packet(44, &ext[8..], 16), false).unwrap();
        assert!(c.fragment.unwrap().is_atomic());
        assert!(!c.is_fragment() && c.has_upper_header());
        assert_eq!((c.protocol, c.offset), (IpProtocol::Udp, 48));
    }

    #[test]
    fn extension_after_fragment_is_recognised() {
        assert!(is_extension_after_fragment(IpProtocol::Ipv6Opts));
        assert!(is_extension_after_fragment(IpProtocol::Ah));
        assert!(is_extension_after_fragment(IpProtocol::Other(135)));
        assert!(!is_extension_after_fragment(IpProtocol::Esp));
        assert!(!is_extension_after_fragment(IpProtocol::Tcp));
    }

    #[test]
    fn truncation_strict_and_lenient() {
        // A destination-options header claiming 16 bytes with 8 present.
        let p = packet(60, &[59, 1, 0, 0, 0, 0, 0, 0], 0);
        assert_eq!(
            walk(&p, false),
            Err(Error::Truncated {
                layer: Layer::Ipv6Extension,
                need: 16,
                got: 8
            })
        );
        let c = walk(&p, true).unwrap();
        assert_eq!((c.protocol, c.offset), (IpProtocol::Ipv6Opts, 40));
        // A chain of nine headers is refused either way.
        let ext: Vec<u8> = (0..9).flat_map(|_| [60, 0, 1, 4, 0, 0, 0, 0]).collect();
        assert_eq!(
            walk(&packet(60, &ext, 0), true),
            Err(Error::ExtensionChainTooLong {
                headers: 8,
                bytes: 64
            })
        );
        assert_eq!(
            walk(&[0x60; 39], true),
            Err(Error::Truncated {
                layer: Layer::Ipv6,
                need: 40,
                got: 39
            })
        );
    }
}
