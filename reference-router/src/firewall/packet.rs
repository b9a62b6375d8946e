//! What the filter reads of an IPv6 packet: its addresses and upper layer, and
//! whether its extension headers hold a type 0 routing header.

use sixfold_rewrite::{IpProtocol, Ipv6Packet, UpperLayer};
use std::net::Ipv6Addr;

/// The parts of an IPv6 packet the filter looks at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Packet<'a> {
    pub(crate) src: Ipv6Addr,
    pub(crate) dst: Ipv6Addr,
    /// The upper-layer protocol (where the extension-header walk stopped).
    pub(crate) protocol: IpProtocol,
    /// The upper-layer header onwards; `None` for a non-first fragment.
    pub(crate) upper: Option<&'a [u8]>,
    /// Whether the packet is a fragment (first or not).
    pub(crate) fragment: bool,
}

impl<'a> Packet<'a> {
    /// The view of IPv6 `packet` whose extension headers walked to `upper`.
    pub(crate) fn new(packet: &'a [u8], upper: UpperLayer, protocol: IpProtocol) -> Packet<'a> {
        let ip = Ipv6Packet::new_unchecked(packet);
        Packet {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            protocol,
            upper: upper
                .has_header()
                .then(|| &packet[upper.offset.min(packet.len())..]),
            fragment: upper.fragment.is_some(),
        }
    }
}

/// Whether IPv6 `packet` carries a type 0 routing header in the extension headers
/// before its upper layer (a walk of at most 8 headers inside the packet).
pub(crate) fn has_routing_header_0(packet: &[u8]) -> bool {
    /// The routing type of a type 0 header (RFC 2460 §4.4, deprecated by RFC 5095).
    const TYPE_0: u8 = 0;
    let first = packet
        .get(6)
        .copied()
        .unwrap_or(IpProtocol::Ipv6NoNxt.number());
    let (mut next, mut at) = (IpProtocol::from(first), 40);
    for _ in 0..sixfold_rewrite::ipv6::MAX_EXTENSION_HEADERS {
        let Some(h) = packet.get(at..at + 8) else {
            return false;
        };
        match next {
            IpProtocol::Ipv6Route if h[2] == TYPE_0 => return true,
            // A non-first fragment: the rest is payload.
            IpProtocol::Ipv6Frag if u16::from_be_bytes([h[2], h[3]]) & 0xfff8 != 0 => {
                return false;
            }
            IpProtocol::Ipv6Frag => at += 8,
            IpProtocol::HopByHop | IpProtocol::Ipv6Route | IpProtocol::Ipv6Opts => {
                at += (usize::from(h[1]) + 1) * 8
            }
            _ => return false,
        }
        next = IpProtocol::from(h[0]);
    }
    false
}
