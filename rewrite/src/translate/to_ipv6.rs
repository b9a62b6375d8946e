//! IPv4 → IPv6 (RFC 7915 §4): the packet, and the IPv4 packet quoted in an
//! ICMPv4 error, which is translated the same way except for its TTL (§4.3).

use super::headers::{
    FRAGMENT_HEADER, FragmentFields, IPV6_HEADER, Ipv6Fields, illegal_ipv4_source,
    not_forwardable_ipv4, protocol_to_ipv6, source_route_pending, write_fragment_header,
    write_ipv6,
};
use super::icmp_map::echo_to_icmpv6;
use super::transport::{
    UDP_CHECKSUM, addresses4, addresses6, check_segment, echo, echo_length, has_pseudo_checksum,
    ports_and_checksum,
};
use super::{Mapping, Result, ToIpv6, TranslateError, Translated, Translator, icmp_error, room};
use crate::icmp::{Icmpv4Packet, Icmpv4Type};
use crate::ipv4::Ipv4Packet;
use crate::protocol::IpProtocol;
use crate::rewrite::{L4Checksum, quoted_header};
use core::net::Ipv6Addr;
use sixfold_checksum::incremental::Update;
use sixfold_checksum::{Sum, pseudo, sum};

/// What a quote translation wrote.
pub(crate) struct QuoteWritten {
    /// Bytes written.
    pub(crate) len: usize,
    /// Whether all of the quote fit (so an RFC 4884 extension may follow).
    pub(crate) complete: bool,
}

/// IGMP (RFC 3376): single-hop IPv4 group management; RFC 7915 §4.2 drops it.
const IGMP: IpProtocol = IpProtocol::Other(2);

/// The fragment fields of an IPv4 packet that is a fragment (§4.1: they go into
/// the Fragment Header, the identification in its low 16 bits).
fn fragment_fields<B: AsRef<[u8]>>(ip: &Ipv4Packet<B>) -> Option<FragmentFields> {
    ip.is_fragment().then(|| FragmentFields {
        offset: ip.frag_offset(),
        more: ip.more_frags(),
        ident: ip.ident().into(),
    })
}

/// The IPv6 header length, with a Fragment Header if there is one.
fn header_len(fragment: Option<FragmentFields>) -> usize {
    IPV6_HEADER + fragment.map_or(0, |_| FRAGMENT_HEADER)
}

impl Translator {
    /// The refusals RFC 7915 §4.1 makes of an IPv4 packet before translating
    /// it, in the router's order; the hop limit it leaves with.
    fn admit_ipv4(&self, ip: &Ipv4Packet<&[u8]>) -> Result<u8> {
        if !ip.verify_checksum() {
            return Err(TranslateError::BadIpv4HeaderChecksum);
        }
        let protocol = ip.ip_protocol();
        // ICMPv4 errors from sources that are no legal unicast address
        // (127.0.0.1, 0.0.0.0) are translated "for the purpose of
        // troubleshooting"; anything else from them is dropped.
        let icmp_error = ip.frag_offset() == 0
            && protocol == IpProtocol::Icmp
            && ip
                .payload()
                .first()
                .is_some_and(|&t| Icmpv4Type::from(t).is_error());
        if !icmp_error && illegal_ipv4_source(ip.src_addr()) {
            return Err(TranslateError::IllegalSource(ip.src_addr().into()));
        }
        if not_forwardable_ipv4(ip.dst_addr()) {
            return Err(TranslateError::NotRoutable(ip.dst_addr().into()));
        }
        if source_route_pending(ip.options()) {
            return Err(TranslateError::SourceRoute);
        }
        let hop_limit = self.hop_limit(ip.ttl(), TranslateError::TtlExceeded)?;
        if protocol == IpProtocol::Icmpv6 || protocol == IGMP || protocol.is_ipv6_extension() {
            return Err(TranslateError::ProtocolOfTheOtherFamily(protocol));
        }
        Ok(hop_limit)
    }

    /// Translates the IPv4 packet at the start of `packet` into an IPv6 packet in
    /// `out` (RFC 7915 §4), with the addresses and ports of `plan`.
    ///
    /// `out` needs the packet's length plus 28 bytes (the IPv6 header is 20 longer,
    /// a Fragment Header 8 more); an ICMP error needs up to 1280. On error the
    /// contents of `out` are unspecified and [`TranslateError::reply`] says whether
    /// to answer the sender.
    pub fn ipv4_to_ipv6(&self, packet: &[u8], plan: &ToIpv6, out: &mut [u8]) -> Result<Translated> {
        let ip = Ipv4Packet::new_checked(packet)?;
        let hop_limit = self.admit_ipv4(&ip)?;
        let payload = ip.payload();
        let first = ip.frag_offset() == 0;
        if first && ip.ip_protocol() == IpProtocol::Icmp {
            let icmp = Icmpv4Packet::new_checked(payload)?;
            if icmp.icmp_type().is_error() {
                if ip.is_fragment() {
                    return Err(TranslateError::FragmentedIcmpError);
                }
                return icmp_error::to_ipv6(self, &ip, hop_limit, plan, out);
            }
        }

        // §4.1: a Fragment Header when the packet is a fragment, or when DF is
        // clear and the IPv6 packet would exceed lowest-ipv6-mtu (then it is split).
        let fragment = fragment_fields(&ip);
        let whole_len = header_len(fragment) + payload.len();
        let ipv6_mtu = usize::from(self.config.ipv6_mtu);
        if ip.dont_frag() && whole_len > ipv6_mtu {
            // What the IPv4 sender may send: the link MTU less the growth.
            let mtu = (ipv6_mtu + ip.total_len() - whole_len).min(u16::MAX.into());
            return Err(TranslateError::FragmentationNeeded { mtu: mtu as u16 });
        }
        let piece_max = ipv6_mtu.min(self.config.lowest_ipv6_mtu.into());
        let split = !ip.dont_frag() && whole_len > piece_max;
        let fragment = fragment.or(split.then(|| FragmentFields {
            offset: 0,
            more: false,
            ident: ip.ident().into(),
        }));
        let header_len = header_len(fragment);
        let len = header_len + payload.len();
        room(out, len)?;

        let next = protocol_to_ipv6(ip.ip_protocol());
        write_ipv6(
            out,
            &Ipv6Fields {
                traffic_class: self.traffic_class(ip.tos()),
                payload_len: (len - IPV6_HEADER) as u16,
                next_header: if fragment.is_some() {
                    IpProtocol::Ipv6Frag
                } else {
                    next
                },
                hop_limit,
                src: plan.outer.src,
                dst: plan.outer.dst,
            },
        );
        if let Some(f) = fragment {
            write_fragment_header(&mut out[IPV6_HEADER..], next, f);
        }
        out[header_len..len].copy_from_slice(payload);
        if first {
            self.transport_to_ipv6(&ip, plan, &mut out[header_len..len])?;
        }
        Ok(Translated {
            len,
            fragment_len: split.then_some(piece_max),
        })
    }

    /// The TCP/UDP/DCCP/UDP-Lite or ICMP echo header of a first fragment or whole
    /// packet, already copied to `segment` (RFC 7915 §4.2, §4.5).
    fn transport_to_ipv6(
        &self,
        ip: &Ipv4Packet<&[u8]>,
        plan: &ToIpv6,
        segment: &mut [u8],
    ) -> Result<()> {
        let (src, dst) = (plan.outer.src, plan.outer.dst);
        match ip.ip_protocol() {
            IpProtocol::Icmp => {
                let t = Icmpv4Type::from(segment[0]);
                let t6 = echo_to_icmpv6(t).ok_or(TranslateError::UntranslatableIcmpv4 {
                    icmp_type: t,
                    code: segment[1],
                })?;
                let len = echo_length(ip.is_fragment(), plan.icmp_message_len, segment.len())?;
                let added = pseudo::ipv6(src, dst, IpProtocol::Icmpv6.into(), len);
                echo(
                    segment,
                    t6.into(),
                    plan.outer.icmp_id,
                    Update::new().sum(Sum::ZERO, added),
                );
            }
            p if has_pseudo_checksum(p) => {
                check_segment(p, segment)?;
                let udp_zero = p == IpProtocol::Udp
                    && plan.l4_checksum == L4Checksum::Complete
                    && segment[UDP_CHECKSUM..UDP_CHECKSUM + 2] == [0, 0];
                if udp_zero && (ip.more_frags() || !self.config.amend_udp_checksum_zero) {
                    return Err(TranslateError::UdpChecksumZero {
                        fragment: ip.more_frags(),
                    });
                }
                let change = Update::new().sum(
                    addresses4(ip.src_addr(), ip.dst_addr()),
                    addresses6(src, dst),
                );
                let ports = [plan.outer.src_port, plan.outer.dst_port];
                ports_and_checksum(segment, p, change, ports, plan.l4_checksum);
                if udp_zero {
                    // §4.5 option 2: compute the checksum IPv6 requires.
                    let all = pseudo::ipv6(src, dst, p.into(), segment.len() as u32) + sum(segment);
                    let c = sixfold_checksum::udp::finish(all);
                    segment[UDP_CHECKSUM..UDP_CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The traffic class for an IPv4 TOS (RFC 7915 §4.1).
    pub(crate) fn traffic_class(&self, tos: u8) -> u8 {
        self.config.traffic_class.unwrap_or(tos)
    }

    /// Translates the IPv4 packet quoted in an ICMPv4 error (`quote`, possibly
    /// cut anywhere after its header) into `out`, which may cut it further. The
    /// TTL is kept; the quote's own checksums are updated where they are quoted.
    pub(crate) fn quote_to_ipv6(
        &self,
        quote: &[u8],
        map: &Mapping<Ipv6Addr>,
        out: &mut [u8],
    ) -> Result<QuoteWritten> {
        let (ihl, _) = quoted_header(quote, false)?;
        // The header is present (checked above); the view's payload is not used.
        let q = Ipv4Packet::new_unchecked(quote);
        let fragment = fragment_fields(&q);
        let header_len = header_len(fragment);
        room(out, header_len)?;
        let next = protocol_to_ipv6(q.ip_protocol());
        let payload_len = q.total_len().saturating_sub(ihl) + (header_len - IPV6_HEADER);
        write_ipv6(
            out,
            &Ipv6Fields {
                traffic_class: self.traffic_class(q.tos()),
                payload_len: payload_len.min(u16::MAX.into()) as u16,
                next_header: if fragment.is_some() {
                    IpProtocol::Ipv6Frag
                } else {
                    next
                },
                hop_limit: q.ttl(),
                src: map.src,
                dst: map.dst,
            },
        );
        if let Some(f) = fragment {
            write_fragment_header(&mut out[IPV6_HEADER..], next, f);
        }
        let l4 = &quote[ihl..];
        let n = l4.len().min(out.len() - header_len);
        let segment = &mut out[header_len..header_len + n];
        segment.copy_from_slice(&l4[..n]);
        if q.frag_offset() == 0 {
            match q.ip_protocol() {
                IpProtocol::Icmp if !segment.is_empty() => {
                    let t6 = echo_to_icmpv6(Icmpv4Type::from(segment[0]))
                        .ok_or(TranslateError::UntranslatableQuote)?;
                    let len = q.total_len().saturating_sub(ihl) as u32;
                    let added = pseudo::ipv6(map.src, map.dst, IpProtocol::Icmpv6.into(), len);
                    echo(
                        segment,
                        t6.into(),
                        map.icmp_id,
                        Update::new().sum(Sum::ZERO, added),
                    );
                }
                p => {
                    let change = Update::new().sum(
                        addresses4(q.src_addr(), q.dst_addr()),
                        addresses6(map.src, map.dst),
                    );
                    let ports = [map.src_port, map.dst_port];
                    ports_and_checksum(segment, p, change, ports, L4Checksum::Complete);
                }
            }
        }
        Ok(QuoteWritten {
            len: header_len + n,
            complete: n == l4.len(),
        })
    }
}
