//! IPv6 → IPv4 (RFC 7915 §5): the packet, and the IPv6 packet quoted in an
//! ICMPv6 error, which is translated the same way except for its hop limit (§5.3).

use super::chain::{self, Chain, is_extension_after_fragment};
use super::headers::{
    DF_THRESHOLD, IPV4_HEADER, IPV6_HEADER, Ipv4Fields, illegal_ipv6_source, not_forwardable_ipv4,
    protocol_to_ipv4, write_ipv4,
};
use super::icmp_map::echo_to_icmpv4;
use super::to_ipv6::QuoteWritten;
use super::transport::{
    addresses4, addresses6, check_segment, echo, echo_length, has_pseudo_checksum,
    ports_and_checksum,
};
use super::{Mapping, Result, ToIpv4, TranslateError, Translated, Translator, icmp_error, room};
use crate::error::{Error, Layer, need};
use crate::icmp::{Icmpv6Packet, Icmpv6Type};
use crate::ipv6::Ipv6Packet;
use crate::protocol::IpProtocol;
use crate::rewrite::L4Checksum;
use core::net::Ipv4Addr;
use sixfold_checksum::incremental::Update;
use sixfold_checksum::{Sum, pseudo};

/// RFC 7915 §5.1 lets a translator give IPv4 packets of more than 88 and at most
/// 1280 bytes an Identification (for IPv4 paths that fragment them).
const GENERATED_IDENT: core::ops::RangeInclusive<usize> = 89..=1280;

/// The reported MTU of a packet-too-big is never below the IPv6 minimum (§6).
const MIN_REPORTED_IPV6_MTU: u32 = 1280;

impl Translator {
    /// Translates the IPv6 packet at the start of `packet` into an IPv4 packet in
    /// `out` (RFC 7915 §5), with the addresses and ports of `plan`.
    ///
    /// `out` needs the packet's length (the IPv4 header is 20 bytes shorter; an
    /// ICMP error needs up to 576). On error the contents of `out` are unspecified
    /// and [`TranslateError::reply`] says whether to answer the sender.
    pub fn ipv6_to_ipv4(&self, packet: &[u8], plan: &ToIpv4, out: &mut [u8]) -> Result<Translated> {
        let ip = Ipv6Packet::new_checked(packet)?;
        if illegal_ipv6_source(ip.src_addr()) {
            return Err(TranslateError::IllegalSource(ip.src_addr().into()));
        }
        if not_forwardable_ipv4(plan.outer.dst) {
            return Err(TranslateError::NotRoutable(plan.outer.dst.into()));
        }
        let hop_limit = self.hop_limit(ip.hop_limit(), TranslateError::HopLimitExceeded)?;
        let packet = &packet[..IPV6_HEADER + ip.payload_len()];
        let chain = chain::walk(packet, false)?;
        if let Some(at) = chain.segments_left_at {
            return Err(TranslateError::SegmentsLeft { pointer: at as u32 });
        }
        if let Some(f) = chain.fragment
            && is_extension_after_fragment(f.next)
        {
            return Err(TranslateError::ExtensionAfterFragment(f.next));
        }
        if chain.protocol == IpProtocol::Icmp {
            return Err(TranslateError::ProtocolOfTheOtherFamily(IpProtocol::Icmp));
        }
        let upper = &packet[chain.offset..];
        if chain.has_upper_header() && chain.protocol == IpProtocol::Icmpv6 {
            let icmp = Icmpv6Packet::new_checked(upper)?;
            if icmp.icmp_type().is_error() {
                if chain.is_fragment() {
                    return Err(TranslateError::FragmentedIcmpError);
                }
                return icmp_error::to_ipv4(self, &ip, &chain, hop_limit, plan, out);
            }
        }

        // §5.1: DF only on unfragmented packets above 1260 bytes; §5.1.1: a
        // fragment's fields come from its Fragment Header, with DF clear — an
        // atomic fragment's too (RFC 6946: a whole packet, its Identification kept).
        let len = IPV4_HEADER + upper.len();
        let dont_frag = chain.fragment.is_none() && len > DF_THRESHOLD;
        let ipv4_mtu = usize::from(self.config.ipv4_mtu);
        // A 65535-byte IPv6 payload does not fit an IPv4 datagram (65535 in all).
        if (dont_frag && len > ipv4_mtu) || len > usize::from(u16::MAX) {
            let mtu = (u32::from(self.config.ipv4_mtu) + 20).max(MIN_REPORTED_IPV6_MTU);
            return Err(TranslateError::PacketTooBig { mtu });
        }
        let split = len > ipv4_mtu;
        room(out, len)?;
        let (ident, more_frags, frag_offset) = match chain.fragment {
            Some(f) => (f.fields.ident as u16, f.fields.more, f.fields.offset),
            None => (self.ipv4_ident(len, split, plan.ipv4_ident), false, 0),
        };
        write_ipv4(
            out,
            &Ipv4Fields {
                tos: self.tos(ip.traffic_class()),
                total_len: len as u16,
                ident,
                dont_frag,
                more_frags,
                frag_offset,
                ttl: hop_limit,
                protocol: protocol_to_ipv4(chain.protocol),
                src: plan.outer.src,
                dst: plan.outer.dst,
            },
        );
        out[IPV4_HEADER..len].copy_from_slice(upper);
        if chain.has_upper_header() {
            self.transport_to_ipv4(&ip, &chain, plan, &mut out[IPV4_HEADER..len])?;
        }
        Ok(Translated {
            len,
            fragment_len: split.then_some(ipv4_mtu),
        })
    }

    /// The Identification of an unfragmented packet of `len` bytes (§5.1): the
    /// caller's when the translator splits it or generation is on, else 0.
    pub(crate) fn ipv4_ident(&self, len: usize, split: bool, caller: u16) -> u16 {
        if split || (self.config.generate_ipv4_ident && GENERATED_IDENT.contains(&len)) {
            caller
        } else {
            0
        }
    }

    /// The TOS for an IPv6 traffic class (RFC 7915 §5.1).
    pub(crate) fn tos(&self, traffic_class: u8) -> u8 {
        self.config.tos.unwrap_or(traffic_class)
    }

    /// The TCP/UDP/DCCP/UDP-Lite or ICMPv6 echo header of a first fragment or
    /// whole packet, already copied to `segment` (RFC 7915 §5.2, §5.5).
    fn transport_to_ipv4(
        &self,
        ip: &Ipv6Packet<&[u8]>,
        chain: &Chain,
        plan: &ToIpv4,
        segment: &mut [u8],
    ) -> Result<()> {
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        match chain.protocol {
            IpProtocol::Icmpv6 => {
                let t = Icmpv6Type::from(segment[0]);
                let t4 = echo_to_icmpv4(t).ok_or(TranslateError::UntranslatableIcmpv6 {
                    icmp_type: t,
                    code: segment[1],
                })?;
                let fragmented = chain.is_fragment();
                let len = echo_length(fragmented, plan.icmp_message_len, segment.len())?;
                let removed = pseudo::ipv6(src, dst, IpProtocol::Icmpv6.into(), len);
                echo(
                    segment,
                    t4.into(),
                    plan.outer.icmp_id,
                    Update::new().sum(removed, Sum::ZERO),
                );
            }
            p if has_pseudo_checksum(p) => {
                check_segment(p, segment)?;
                // A UDP checksum of 0 stays 0: over IPv4 that means "none", what a
                // zero-checksum-mode sender (RFC 6936) meant.
                let change = Update::new().sum(
                    addresses6(src, dst),
                    addresses4(plan.outer.src, plan.outer.dst),
                );
                let ports = [plan.outer.src_port, plan.outer.dst_port];
                ports_and_checksum(segment, p, change, ports, plan.l4_checksum);
            }
            _ => {}
        }
        Ok(())
    }

    /// Translates the IPv6 packet quoted in an ICMPv6 error (`quote`, possibly
    /// cut anywhere after its fixed header) into `out`, which may cut it further.
    /// The hop limit is kept; the quote's own checksums are updated where quoted.
    pub(crate) fn quote_to_ipv4(
        &self,
        quote: &[u8],
        map: &Mapping<Ipv4Addr>,
        out: &mut [u8],
    ) -> Result<QuoteWritten> {
        need(Layer::Quote, IPV6_HEADER, quote.len())?;
        if quote[0] >> 4 != 6 {
            return Err(Error::BadVersion(quote[0] >> 4).into());
        }
        let chain = chain::walk(quote, true)?;
        // The fixed header is present; the view's payload is not used.
        let q = Ipv6Packet::new_unchecked(quote);
        let upper_len = q.payload_len().saturating_sub(chain.extension_len());
        let total = (IPV4_HEADER + upper_len).min(u16::MAX.into());
        let (ident, more_frags, frag_offset) = match chain.fragment {
            Some(f) => (f.fields.ident as u16, f.fields.more, f.fields.offset),
            None => (0, false, 0),
        };
        room(out, IPV4_HEADER)?;
        write_ipv4(
            out,
            &Ipv4Fields {
                tos: self.tos(q.traffic_class()),
                total_len: total as u16,
                ident,
                dont_frag: chain.fragment.is_none() && total > DF_THRESHOLD,
                more_frags,
                frag_offset,
                ttl: q.hop_limit(),
                protocol: protocol_to_ipv4(chain.protocol),
                src: map.src,
                dst: map.dst,
            },
        );
        let l4 = quote.get(chain.offset..).unwrap_or_default();
        let n = l4.len().min(out.len() - IPV4_HEADER);
        let segment = &mut out[IPV4_HEADER..IPV4_HEADER + n];
        segment.copy_from_slice(&l4[..n]);
        if chain.has_upper_header() {
            let (src, dst) = (q.src_addr(), q.dst_addr());
            match chain.protocol {
                IpProtocol::Icmpv6 if !segment.is_empty() => {
                    let t4 = echo_to_icmpv4(Icmpv6Type::from(segment[0]))
                        .ok_or(TranslateError::UntranslatableQuote)?;
                    let removed =
                        pseudo::ipv6(src, dst, IpProtocol::Icmpv6.into(), upper_len as u32);
                    echo(
                        segment,
                        t4.into(),
                        map.icmp_id,
                        Update::new().sum(removed, Sum::ZERO),
                    );
                }
                p => {
                    let change =
                        Update::new().sum(addresses6(src, dst), addresses4(map.src, map.dst));
                    let ports = [map.src_port, map.dst_port];
                    ports_and_checksum(segment, p, change, ports, L4Checksum::Complete);
                }
            }
        }
        Ok(QuoteWritten {
            len: IPV4_HEADER + n,
            complete: n == l4.len(),
        })
    }
}
