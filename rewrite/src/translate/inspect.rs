//! What a caller needs to decide a translation: addresses, transport protocol,
//! ports or ICMP identifier, fragment fields, and the packet quoted in an ICMP error.

use super::Result;
use super::chain;
use super::headers::IPV6_HEADER;
use super::icmp_map::{echo_to_icmpv4, echo_to_icmpv6};
use crate::error::{Error, Layer};
use crate::icmp::{Icmpv4Type, Icmpv6Type, QUOTE_OFFSET};
use crate::ipv4::Ipv4Packet;
use crate::ipv6::Ipv6Packet;
use crate::protocol::IpProtocol;
use crate::quote::QuotedPacket;
use core::net::IpAddr;

/// A packet's fragment fields, from the IPv4 header or the IPv6 Fragment Header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragmentInfo {
    /// Offset of this fragment's data in the datagram, in bytes.
    pub offset: usize,
    /// More fragments follow.
    pub more: bool,
    /// The identification (16 bits for IPv4, 32 for IPv6).
    pub ident: u32,
}

/// The facts about one packet that an address mapping or a NAT64 session lookup
/// decides on. Transport fields are `None` where the packet does not carry them
/// (a non-first fragment, another protocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inspection<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The transport protocol (after IPv6 extension headers).
    pub protocol: IpProtocol,
    /// Fragment fields, if the packet is a fragment (an IPv6 atomic fragment,
    /// offset 0 and M = 0, is not: RFC 6946).
    pub fragment: Option<FragmentInfo>,
    /// TCP/UDP/DCCP/UDP-Lite/SCTP source port.
    pub src_port: Option<u16>,
    /// Destination port.
    pub dst_port: Option<u16>,
    /// ICMP or ICMPv6 type.
    pub icmp_type: Option<u8>,
    /// The identifier of an ICMP echo request or reply.
    pub icmp_id: Option<u16>,
    /// The packet quoted in an ICMP error (whose mapping the plan needs).
    pub quote: Option<QuotedPacket<'a>>,
}

impl Inspection<'_> {
    /// Whether the packet is an ICMP error (and so has a quote).
    pub fn is_icmp_error(&self) -> bool {
        self.quote.is_some()
    }
}

/// Reads `packet` (IPv4 or IPv6, by its version) for planning a translation.
/// Refuses what the translator would refuse as malformed, including an ICMP error
/// whose quote has no complete IP header.
pub fn inspect(packet: &[u8]) -> Result<Inspection<'_>> {
    match packet.first().map(|b| b >> 4) {
        Some(6) => inspect_ipv6(packet),
        _ => inspect_ipv4(packet),
    }
}

fn inspect_ipv4(packet: &[u8]) -> Result<Inspection<'_>> {
    let ip = Ipv4Packet::new_checked(packet)?;
    let fragment = ip.is_fragment().then(|| FragmentInfo {
        offset: ip.frag_offset(),
        more: ip.more_frags(),
        ident: ip.ident().into(),
    });
    let upper = (ip.frag_offset() == 0).then(|| ip.payload());
    transport(
        ip.src_addr().into(),
        ip.dst_addr().into(),
        ip.ip_protocol(),
        fragment,
        upper,
    )
}

fn inspect_ipv6(packet: &[u8]) -> Result<Inspection<'_>> {
    let ip = Ipv6Packet::new_checked(packet)?;
    let packet = &packet[..IPV6_HEADER + ip.payload_len()];
    let chain = chain::walk(packet, false)?;
    // An atomic fragment is a whole packet (RFC 6946), not a fragment.
    let fragment = chain
        .fragment
        .filter(|f| !f.is_atomic())
        .map(|f| FragmentInfo {
            offset: f.fields.offset,
            more: f.fields.more,
            ident: f.fields.ident,
        });
    let upper = chain.has_upper_header().then(|| &packet[chain.offset..]);
    transport(
        ip.src_addr().into(),
        ip.dst_addr().into(),
        chain.protocol,
        fragment,
        upper,
    )
}

/// The transport fields of `upper` (the upper-layer bytes, when present).
fn transport<'a>(
    src: IpAddr,
    dst: IpAddr,
    protocol: IpProtocol,
    fragment: Option<FragmentInfo>,
    upper: Option<&'a [u8]>,
) -> Result<Inspection<'a>> {
    let mut info = Inspection {
        src,
        dst,
        protocol,
        fragment,
        src_port: None,
        dst_port: None,
        icmp_type: None,
        icmp_id: None,
        quote: None,
    };
    let Some(upper) = upper else {
        return Ok(info);
    };
    let u16_at = |at: usize| {
        upper
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    if protocol.has_ports() {
        info.src_port = u16_at(0);
        info.dst_port = u16_at(2);
    }
    // ICMP of the packet's own family only (the other family's number means
    // nothing there, and the translator refuses it).
    let Some(&t) = upper.first() else {
        return Ok(info);
    };
    let (error, echo, layer) = match (protocol, src.is_ipv4()) {
        (IpProtocol::Icmp, true) => {
            let t = Icmpv4Type::from(t);
            (t.is_error(), echo_to_icmpv6(t).is_some(), Layer::Icmpv4)
        }
        (IpProtocol::Icmpv6, false) => {
            let t = Icmpv6Type::from(t);
            (t.is_error(), echo_to_icmpv4(t).is_some(), Layer::Icmpv6)
        }
        _ => return Ok(info),
    };
    info.icmp_type = Some(t);
    if echo {
        info.icmp_id = u16_at(4);
    } else if error {
        let quote = upper.get(QUOTE_OFFSET..).ok_or(Error::Truncated {
            layer,
            need: QUOTE_OFFSET,
            got: upper.len(),
        })?;
        info.quote = Some(QuotedPacket::new(quote)?);
    }
    Ok(info)
}
