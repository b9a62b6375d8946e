//! The IPv4 path: header checks, transition-tunnel blocking, anti-spoofing, TTL,
//! then NAT44 (RFC 4787/5382/5508/6888) — out, in, or hairpinned back in — the
//! egress MTU, the rewrite (one pass that patches every checksum), and the
//! fragments of the datagram.

use super::{Router, Verdict};
use crate::buf::PacketBuf;
use crate::icmp::IcmpError;
use crate::iface::{Direction, Interface};
use crate::nat::frag::FragKey;
use crate::nat::{self, Decision, Flow};
use crate::offload;
use crate::stats::{DropReason, Family};
use crate::tunnels::{self, Tunnel};
use serde::{Deserialize, Serialize};
use sixfold_rewrite::{IpProtocol, Ipv4Packet, L4Checksum, L4Header, Rewrite, Ttl};
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddrV4};

/// What the path needs of an IPv4 header, read once.
#[derive(Clone, Copy, Debug)]
pub(super) struct V4Header {
    pub(super) src: Ipv4Addr,
    pub(super) dst: Ipv4Addr,
    pub(super) protocol: IpProtocol,
    ttl: u8,
    dont_frag: bool,
    ident: u16,
    /// Offset 0: the transport header is here.
    first: bool,
    /// More fragments follow, or this is not the first.
    fragmented: bool,
}

impl V4Header {
    fn read(ip: &Ipv4Packet<&[u8]>) -> V4Header {
        V4Header {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            protocol: ip.ip_protocol(),
            ttl: ip.ttl(),
            dont_frag: ip.dont_frag(),
            ident: ip.ident(),
            first: ip.frag_offset() == 0,
            fragmented: ip.is_fragment(),
        }
    }

    /// The key of the datagram this fragment belongs to.
    pub(super) fn frag_key(&self, direction: Direction) -> FragKey {
        FragKey {
            src: u32::from(self.src),
            dst: u32::from(self.dst),
            ident: self.ident,
            protocol: u8::from(self.protocol),
            inbound: !direction.is_outbound(),
        }
    }
}

/// The public endpoint of a packet from the WAN: what brings it to the worker
/// that owns its session — the destination address and port, an echo reply's
/// identifier, or for an ICMP error the source address and port (or query
/// identifier) of the packet it quotes, which the NAT sent. `None` for a later
/// fragment or anything else.
pub(super) fn public_endpoint(packet: &[u8]) -> Option<(Ipv4Addr, u16)> {
    let ip = Ipv4Packet::new_checked(packet).ok()?;
    if ip.frag_offset() != 0 {
        return None;
    }
    let l4 = L4Header::new(ip.ip_protocol(), ip.payload()).ok()?;
    if let Some((_, dport)) = l4.ports() {
        return Some((ip.dst_addr(), dport));
    }
    let (kind, _) = l4.icmp_type_code()?;
    let kind = sixfold_rewrite::Icmpv4Type::from(kind);
    if kind.is_query() {
        return Some((ip.dst_addr(), l4.icmp_ident()?));
    }
    let quote = sixfold_rewrite::QuotedPacket::new(ip.payload().get(8..)?).ok()?;
    let std::net::IpAddr::V4(public) = quote.src_addr() else {
        return None;
    };
    Some((public, quote.src_port().or_else(|| quote.icmp_id())?))
}

/// Teredo flows already logged, so each is logged once (bounded; cleared when full).
#[derive(Default, Serialize, Deserialize)]
pub(super) struct TeredoLog {
    seen: HashSet<(SocketAddrV4, SocketAddrV4)>,
}

/// Teredo flows remembered for log-once.
const TEREDO_LOG_FLOWS: usize = 4096;

impl TeredoLog {
    /// Logs once per flow what a dropped Teredo packet would have exposed: at
    /// INFO, since the router did what it was told (a refused packet is
    /// counted, not a warning).
    fn log(&mut self, ip: &Ipv4Packet<&[u8]>, direction: Direction) {
        let ports = L4Header::new(IpProtocol::Udp, ip.payload())
            .ok()
            .and_then(|h| h.ports())
            .unwrap_or((0, 0));
        let from = SocketAddrV4::new(ip.src_addr(), ports.0);
        let to = SocketAddrV4::new(ip.dst_addr(), ports.1);
        if self.seen.len() >= TEREDO_LOG_FLOWS {
            self.seen.clear();
        }
        if !self.seen.insert((from, to)) {
            return;
        }
        let e = tunnels::teredo_exposure(ip.into_inner());
        tracing::info!(
            ?direction,
            %from,
            %to,
            client_public = ?e.client,
            guess_bits = ?e.bits,
            "Teredo blocked: it would have exposed the client's public address and port"
        );
    }
}

impl Router {
    pub(super) fn ipv4(
        &mut self,
        direction: Direction,
        buffer: &mut PacketBuf,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let ip = Ipv4Packet::new_checked(buffer.packet()).map_err(|_| DropReason::Malformed)?;
        if !ip.verify_checksum() {
            return Err(DropReason::BadIpChecksum);
        }
        // Bytes past the total length (link padding) are not part of the packet.
        buffer.truncate(ip.total_len());
        let ip = Ipv4Packet::new_unchecked(buffer.packet());
        let to_pool = self.nat.is_public(ip.dst_addr());
        self.refuse_tunnels(&ip, direction, to_pool)?;
        let header = V4Header::read(&ip);
        let siit = self.check_v4_addresses(direction, &header, to_pool)?;
        let ingress = direction.ingress();
        if header.ttl <= 1 && !self.continuing_hairpin {
            let e = IcmpError::TimeExceeded;
            return self.report(buffer, ingress, e, DropReason::TtlExceeded, now);
        }
        if let Some(sub) = siit {
            return self.siit_in(sub, buffer, now);
        }
        if !header.first {
            return self.later_fragment(direction, buffer, header.frag_key(direction), now);
        }
        let decision = self.nat_decision(direction, &ip, &header, now);
        let (rewrite, egress, hairpin, session) = match decision {
            Decision::Translate {
                rewrite,
                egress,
                hairpin,
                session,
            } if !self.is_alias(rewrite.dst) => (rewrite, egress, hairpin, session),
            other => return self.not_rewritten_here(direction, buffer, &header, other, now),
        };
        // Accounting counts an outbound packet as the subscriber sent it: a TCP
        // or UDP session knows that flow, anything else is read before the
        // rewrite.
        let session =
            session.filter(|_| matches!(header.protocol, IpProtocol::Tcp | IpProtocol::Udp));
        let before = match session {
            Some(_) => None,
            None => self.flow_before(direction, buffer),
        };
        let mtu = self.links.mtu(egress);
        let offload = buffer.offload();
        let too_big = offload::largest_segment(buffer.packet(), &offload) > mtu;
        if too_big && header.dont_frag {
            // RFC 4787 REQ-13, RFC 1191: fragmentation needed, with the next-hop MTU.
            let e = IcmpError::FragmentationNeeded { mtu: mtu as u16 };
            return self.report(buffer, ingress, e, DropReason::TooBig, now);
        }
        self.apply_nat(rewrite, buffer)?;
        if header.fragmented {
            self.first_fragment(buffer.packet(), header.frag_key(direction), egress, now);
        }
        let hairpin = hairpin || self.continuing_hairpin;
        let wire = self.count_v4(direction, hairpin, header.protocol, buffer);
        match session {
            Some(s) => {
                self.account_session_v4((direction, egress), s, wire, buffer);
                if !hairpin && !header.fragmented && !too_big {
                    self.offer_fast(direction, egress, s);
                }
            }
            None => self.account_v4((direction, egress), before, wire, buffer),
        }
        if too_big {
            self.fit_mtu(buffer, egress, mtu)?;
        }
        Ok(Verdict::Forward(egress))
    }

    /// Applies the NAT's rewrite in one pass, with the TTL taken (a hairpin
    /// handed over by another worker had it taken on the way out) and a partial
    /// checksum (offload) updated as the sum it is.
    fn apply_nat(&self, rewrite: Rewrite, buffer: &mut PacketBuf) -> Result<(), DropReason> {
        let l4_checksum = match buffer.offload().partial {
            Some(_) => L4Checksum::Partial,
            None => L4Checksum::Complete,
        };
        let ttl = (!self.continuing_hairpin).then_some(Ttl::Sub(1));
        let rewrite = Rewrite {
            ttl,
            l4_checksum,
            ..rewrite
        };
        rewrite
            .apply(buffer.packet_mut())
            .map(|_| ())
            .map_err(|_| DropReason::Malformed)
    }

    /// Drops a transition tunnel's packet (counted by mechanism; Teredo logged
    /// once per flow with what it would have exposed). `to_pool`: the
    /// destination is a pool address.
    fn refuse_tunnels(
        &mut self,
        ip: &Ipv4Packet<&[u8]>,
        direction: Direction,
        to_pool: bool,
    ) -> Result<(), DropReason> {
        // To the pool (from the WAN, or a hairpin) the destination port is the
        // NAT's choice and says nothing about the traffic.
        let ports = if to_pool {
            tunnels::Ports::SourceOnly
        } else {
            tunnels::Ports::Both
        };
        let tunnels = &self.config.tunnels;
        match tunnels::ipv4_checked(ip, tunnels, self.six_rd.as_ref(), ports) {
            Some(t) => {
                if t == Tunnel::Teredo {
                    self.teredo_log.log(ip, direction);
                }
                Err(t.reason())
            }
            None => Ok(()),
        }
    }

    /// Anti-spoofing and routability: a subscriber sends from its own addresses to
    /// unicast ones; the WAN sends to the pool, or to an address SIIT maps to a
    /// subscriber (`Some(subscriber)`). `to_pool`: the destination is a pool address.
    fn check_v4_addresses(
        &self,
        direction: Direction,
        header: &V4Header,
        to_pool: bool,
    ) -> Result<Option<crate::iface::SubscriberId>, DropReason> {
        match direction {
            Direction::Outbound(sub) => {
                if !self.links.owns_ipv4(sub, header.src) {
                    return Err(DropReason::Spoofed);
                }
                let dst = header.dst;
                if dst.is_multicast()
                    || dst.is_broadcast()
                    || dst.is_unspecified()
                    || dst.is_loopback()
                {
                    return Err(DropReason::NotRoutable);
                }
                Ok(None)
            }
            Direction::Inbound if to_pool => Ok(None),
            Direction::Inbound => match self.siit_in_subscriber(header.dst) {
                Some(sub) => Ok(Some(sub)),
                None => Err(DropReason::NoRoute),
            },
        }
    }

    /// A NAT decision other than a NAT44 rewrite to apply here: a NAT64
    /// session's (translated to IPv6), a hand-over to the worker that holds the
    /// hairpin's peer, a drop, or a refusal.
    fn not_rewritten_here(
        &mut self,
        direction: Direction,
        buffer: &mut PacketBuf,
        header: &V4Header,
        decision: Decision,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        match decision {
            Decision::Translate {
                rewrite,
                egress,
                hairpin,
                ..
            } => {
                // A NAT64 session: translated to the subscriber's IPv6 address.
                let fragment = header.fragmented.then(|| header.frag_key(direction));
                let from = (header.src, header.protocol, hairpin);
                self.nat64_in_datagram(buffer, from, (rewrite, egress), fragment, now)
            }
            Decision::Handoff { rewrite, worker } => {
                let before = self.flow_before(direction, buffer);
                let rewrite = Rewrite {
                    ttl: Some(Ttl::Sub(1)),
                    ..rewrite
                };
                rewrite
                    .apply(buffer.packet_mut())
                    .map_err(|_| DropReason::Malformed)?;
                // The receiver's side is counted by the worker it goes to.
                let wire = offload::wire_size(buffer.packet(), &buffer.offload());
                self.account_v4((direction, Interface::Wan), before, wire, buffer);
                Ok(Verdict::Handoff(worker))
            }
            Decision::Drop(DropReason::NoMapping)
                if direction == Direction::Inbound
                    && header.protocol == IpProtocol::Udp
                    && self.translation.nat64.is_some()
                    && !self.continuing_hairpin =>
            {
                // RFC 6146 §3.5.1: an IPv4 UDP packet whose destination
                // transport address no UDP BIB entry holds is discarded. As a
                // NAT64 the router answers it with port unreachable (3/3), from
                // the address it was sent to — what a host without a listener
                // sends (RFC 1122 §3.2.2.1), what peer NAT64s send, and the
                // answer a held TCP SYN gets (§3.5.2.2); rate-limited as every
                // error. Without [nat64] the NAT44 pool stays silent.
                let e = IcmpError::PortUnreachable;
                self.report(buffer, Interface::Wan, e, DropReason::NoMapping, now)
            }
            Decision::Drop(reason) => Err(reason),
            Decision::Refuse(reason) => {
                // RFC 5508 REQ-8 / RFC 6888 REQ-11: no mapping, nothing evicted, 3/13.
                let e = IcmpError::AdminProhibited;
                self.report(buffer, direction.ingress(), e, reason, now)
            }
        }
    }

    /// What the NAT makes of a first fragment or whole packet: an ICMP error is
    /// matched to its session by the quote, anything else by its own flow.
    /// (A `Decision`, not a `Result` of one: the large value is moved once less
    /// per packet, and such moves stall the store buffer.)
    fn nat_decision(
        &mut self,
        direction: Direction,
        ip: &Ipv4Packet<&[u8]>,
        header: &V4Header,
        now: u32,
    ) -> Decision {
        let l4 = ip.payload();
        let error = match header.protocol {
            IpProtocol::Icmp => L4Header::new(IpProtocol::Icmp, l4)
                .ok()
                .and_then(|h| h.icmp_type_code())
                .map(|(kind, _)| sixfold_rewrite::Icmpv4Type::from(kind))
                .filter(|&kind| nat::translates_error(kind)),
            _ => None,
        };
        let dst = u32::from(header.dst);
        if error.is_some() {
            return match direction {
                Direction::Outbound(_) => self.nat.outbound_error(dst, l4, now),
                Direction::Inbound => self.nat.inbound_error(dst, l4, now),
            };
        }
        let flow = match Flow::of(ip, direction.is_outbound()) {
            Ok(flow) => flow,
            Err(reason) => return Decision::Drop(reason),
        };
        let decision = match direction {
            Direction::Outbound(sub) => self.nat.outbound(sub, &flow, now),
            Direction::Inbound => self.nat.inbound(&flow, now),
        };
        if decision == Decision::Drop(DropReason::SynHeld) {
            self.nat.held_quote(ip.into_inner(), direction.ingress());
        }
        decision
    }

    /// Counts a forwarded IPv4 packet: the segments and bytes it stands for
    /// (returned).
    pub(super) fn count_v4(
        &mut self,
        direction: Direction,
        hairpin: bool,
        protocol: IpProtocol,
        buffer: &PacketBuf,
    ) -> (u64, u64) {
        let (packets, bytes) = offload::wire_size(buffer.packet(), &buffer.offload());
        self.counters.forward(
            Family::V4,
            direction.is_outbound(),
            protocol,
            packets,
            bytes,
        );
        if hairpin {
            self.counters.hairpinned(packets);
        }
        (packets, bytes)
    }

    /// The external endpoint of the mapping of inside endpoint `inside` for
    /// `protocol` (TCP, UDP, or ICMP with the identifier as port), under
    /// endpoint-independent mapping; for ADM/APDM the first mapping found for the
    /// endpoint.
    pub fn mapping_of(&self, protocol: IpProtocol, inside: SocketAddrV4) -> Option<SocketAddrV4> {
        self.nat.external_of(protocol, inside)
    }
}
