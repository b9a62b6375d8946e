//! Stateful NAT64 (RFC 6146) on the NAT's own table: an IPv6 subscriber's
//! address stands in the table as an alias ([`super::aliases`]), so its
//! sessions are NAT sessions — `[nat]`'s pool, port allocator (this worker's
//! slice, as the subscriber's owner), EIM/ADM/APDM, filtering, timers, SYN hold,
//! hairpinning and per-subscriber limits — and the packet is translated (RFC
//! 7915) instead of rewritten, with the new ports in the same pass.
//!
//! - Out (IPv6 to the prefix): the destination's embedded IPv4 address (RFC
//!   6052) is the remote, the session gives the public source; refused
//!   bindings get ICMPv6 address unreachable (RFC 6146 §3.5.1.1), nothing is
//!   evicted. An ICMPv6 error is matched to its session by its quote.
//! - In (IPv4 to the pool): the NAT finds the session as for NAT44 (an ICMPv4
//!   error by its quote); when its inside address is an alias, the packet is
//!   translated to the subscriber's IPv6 address, the source embedded in the
//!   prefix.
//! - Hairpin: to a pool address, the NAT's hairpin gives the peer's session;
//!   an IPv6 peer gets an IPv6 packet from the sender's public endpoint
//!   embedded in the prefix (RFC 6146 §3.8), an IPv4 peer an IPv4 one.

use super::Plan;
use super::aliases::Aliases;
use super::rfc7915;
use crate::buf::PacketBuf;
use crate::icmp::IcmpError;
use crate::iface::{Direction, Interface, SubscriberId};
use crate::ipfix::NatRecord;
use crate::nat::frag::{Applied, FragKey};
use crate::nat::{Decision, Flow};
use crate::offload;
use crate::router::{Router, Verdict};
use crate::stats::{DropReason, Family, NatEvent};
use sixfold_rewrite::addr::Nat64Prefix;
use sixfold_rewrite::translate::{self, Mapping, ToIpv4, ToIpv6, TranslateError};
use sixfold_rewrite::{
    Icmpv4Type, Icmpv6Type, IpProtocol, Ipv6Packet, L4Checksum, L4Header, QuotedPacket,
    QuotedRewrite, Rewrite, Ttl,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What an ICMPv6 error's quote says, read before the packet is translated.
#[derive(Clone, Copy, Debug)]
struct Quote {
    src: IpAddr,
    dst: IpAddr,
    protocol: IpProtocol,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    icmp_id: Option<u16>,
}

impl Quote {
    fn of(q: &QuotedPacket<'_>) -> Quote {
        Quote {
            src: q.src_addr(),
            dst: q.dst_addr(),
            protocol: q.ip_protocol(),
            src_port: q.src_port(),
            dst_port: q.dst_port(),
            icmp_id: q.icmp_id(),
        }
    }
}

fn v4(a: Option<IpAddr>) -> Option<Ipv4Addr> {
    match a? {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

/// The NAT's flow of an IPv6 packet from `alias` to `remote`: TCP, UDP, or an
/// ICMPv6 echo request as an ICMP one (one identifier space, RFC 6146 §3.5.3).
fn flow(packet: &[u8], alias: u32, remote: Ipv4Addr) -> Result<Flow, DropReason> {
    let ip = Ipv6Packet::new_checked(packet).map_err(|_| DropReason::Malformed)?;
    let u = ip.upper_layer().map_err(|_| DropReason::Malformed)?;
    let protocol = match u.ip_protocol() {
        IpProtocol::Tcp => IpProtocol::Tcp,
        IpProtocol::Udp => IpProtocol::Udp,
        IpProtocol::Icmpv6 => IpProtocol::Icmp,
        _ => return Err(DropReason::UnsupportedProtocol),
    };
    let bytes = packet.get(u.offset..).ok_or(DropReason::Malformed)?;
    let l4 = L4Header::new(u.ip_protocol(), bytes).map_err(|_| DropReason::Malformed)?;
    if !l4.header_complete() {
        return Err(DropReason::Malformed);
    }
    let mut f = Flow::from_l4(protocol, alias, u32::from(remote), &l4);
    if let (Some((kind, _)), Some(id)) = (l4.icmp_type_code(), l4.icmp_ident()) {
        f.icmp_type = match Icmpv6Type::from(kind) {
            Icmpv6Type::EchoRequest => Icmpv4Type::EchoRequest,
            Icmpv6Type::EchoReply => Icmpv4Type::EchoReply,
            _ => return Err(DropReason::UnsupportedIcmp),
        };
        f.sport = id;
    }
    Ok(f)
}

/// A NAT event about alias `r.inside` made about the IPv6 address it stands
/// for (RFC 8158): a session's becomes natEvent 6/7 with the subscriber's
/// address and the remote embedded in `prefix` (RFC 6052), a limit keeps its
/// event; either way `inside` becomes `0.0.0.0`, so no alias leaves the router.
/// An alias already freed (it outlives its sessions, so this is not expected)
/// leaves `::`. Events about other inside addresses are left as they are.
pub(in crate::router) fn unalias(r: &mut NatRecord, aliases: &Aliases, prefix: Nat64Prefix) {
    let alias = u32::from(r.inside);
    if !Aliases::is_alias(alias) {
        return;
    }
    r.inside6 = aliases.peek(alias).unwrap_or(Ipv6Addr::UNSPECIFIED);
    r.inside = Ipv4Addr::UNSPECIFIED;
    let session = match r.event {
        NatEvent::SessionCreate => Some(NatEvent::Nat64SessionCreate),
        NatEvent::SessionDelete => Some(NatEvent::Nat64SessionDelete),
        _ => None,
    };
    if let Some(event) = session {
        r.event = event;
        r.remote6 = prefix.embed(r.remote);
    }
}

/// The IPv4 side of a translation plan from the NAT's rewrite: the public
/// source and its port or identifier.
fn to_ipv4(rewrite: &Rewrite, src: Ipv4Addr, dst: Ipv4Addr, ident: u16) -> ToIpv4 {
    let mut plan = ToIpv4::new(Mapping {
        src_port: rewrite.src_port,
        dst_port: rewrite.dst_port,
        icmp_id: rewrite.icmp_id,
        ..Mapping::new(src, dst)
    });
    plan.ipv4_ident = ident;
    plan
}

impl Router {
    fn nat64_prefix(&self) -> Option<(Nat64Prefix, translate::Config)> {
        let n = self.translation.nat64.as_ref()?;
        Some((n.prefix, n.settings))
    }

    /// Whether `addr` (a NAT rewrite's destination) stands for an IPv6 address.
    pub(in crate::router) fn is_alias(&self, addr: Option<IpAddr>) -> bool {
        self.translation.nat64.is_some() && v4(addr).is_some_and(|a| Aliases::is_alias(a.into()))
    }

    /// Whether an IPv6 packet to `dst` from a subscriber is NAT64's.
    pub(in crate::router) fn is_nat64(&self, dst: Ipv6Addr) -> bool {
        self.translation
            .nat64
            .as_ref()
            .is_some_and(|n| n.prefix.prefix().contains(dst))
    }

    /// Drops a packet the translator refused for `e`, answering where RFC 7915
    /// says to (back out of `ingress`).
    pub(in crate::router) fn refused(
        &mut self,
        buffer: &mut PacketBuf,
        ingress: Interface,
        e: TranslateError,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let reason = rfc7915::drop_reason(&e);
        match e.reply().and_then(IcmpError::of_reply) {
            Some(error) => self.report(buffer, ingress, error, reason, now),
            None => Err(reason),
        }
    }

    /// An IPv6 packet from subscriber `sub` to the NAT64 prefix, its hop limit
    /// checked.
    pub(in crate::router) fn nat64_out(
        &mut self,
        sub: SubscriberId,
        buffer: &mut PacketBuf,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let ingress = Interface::Subscriber(sub);
        let (prefix, base) = self.nat64_prefix().ok_or(DropReason::NoRoute)?;
        let info = translate::inspect(buffer.packet()).map_err(|e| rfc7915::drop_reason(&e))?;
        let (IpAddr::V6(src), IpAddr::V6(dst)) = (info.src, info.dst) else {
            return Err(DropReason::Malformed);
        };
        let Some(remote) = prefix.extract(dst).filter(|&a| prefix.allows(a)) else {
            // RFC 6052 §3.1: no non-global IPv4 address under the Well-Known Prefix.
            let e = TranslateError::UnmappableAddress {
                addr: info.dst,
                quoted: false,
            };
            return self.refused(buffer, ingress, e, now);
        };
        let quote = info.quote.as_ref().map(Quote::of);
        let fragment = info.fragment.map(|f| (f.offset > 0, (src, dst, f.ident)));
        if let Some(quote) = quote {
            return self.nat64_out_error(sub, buffer, quote, prefix, remote, now);
        }
        if let Some((true, datagram)) = fragment {
            return self.nat64_out_later(buffer, datagram, (ingress, base), now);
        }
        let Some(alias) = self.translation.aliases.alias(src, now) else {
            let e = IcmpError::Ipv6AddressUnreachable;
            return self.report(buffer, ingress, e, DropReason::SessionLimit, now);
        };
        let f = flow(buffer.packet(), alias, remote)?;
        match self.nat.outbound(sub, &f, now) {
            Decision::Translate {
                rewrite,
                egress: Interface::Wan,
                ..
            } => {
                let out = v4(rewrite.src).ok_or(DropReason::Malformed)?;
                let plan = to_ipv4(&rewrite, out, remote, self.next_ident());
                if let Err(e) = self.translate(buffer, Plan::ToIpv4(plan), base, Interface::Wan) {
                    return self.refused(buffer, ingress, e, now);
                }
                if let Some((_, datagram)) = fragment {
                    self.translation
                        .fragments
                        .first(datagram, (out, remote), now);
                }
                self.count_xlat(Family::V4, true, f.protocol, buffer, false);
                Ok(Verdict::Forward(Interface::Wan))
            }
            Decision::Translate {
                rewrite, egress, ..
            } => {
                let ends = (ingress, egress, f.protocol);
                self.nat64_hairpin(buffer, rewrite, ends, (prefix, base), now)
            }
            Decision::Handoff { rewrite, worker } => {
                // The peer's session is another worker's: it takes the packet
                // in as IPv4 from the WAN, translated on its way out here.
                let out = v4(rewrite.src).ok_or(DropReason::Malformed)?;
                let plan = to_ipv4(&rewrite, out, remote, self.next_ident());
                if let Err(e) = self.translate(buffer, Plan::ToIpv4(plan), base, Interface::Wan) {
                    return self.refused(buffer, ingress, e, now);
                }
                Ok(Verdict::Handoff(worker))
            }
            Decision::Drop(reason) => Err(self.nat64_dropped(buffer, ingress, reason)),
            Decision::Refuse(reason) => {
                // RFC 6146 §3.5.1.1: no binding can be made; nothing is evicted.
                let e = IcmpError::Ipv6AddressUnreachable;
                self.report(buffer, ingress, e, reason, now)
            }
        }
    }

    /// A subscriber's packet the NAT dropped for `reason`: a SYN held for
    /// another subscriber's public endpoint (a hairpin) keeps its quote, so the
    /// port unreachable, if it comes, goes back to the sender in IPv6.
    fn nat64_dropped(
        &mut self,
        buffer: &PacketBuf,
        ingress: Interface,
        reason: DropReason,
    ) -> DropReason {
        if reason == DropReason::SynHeld {
            self.nat.held_quote(buffer.packet(), ingress);
        }
        reason
    }

    /// A later fragment of a subscriber's datagram: the IPv4 addresses its first
    /// fragment got (RFC 6146 §3.4), or dropped if that did not pass (yet).
    fn nat64_out_later(
        &mut self,
        buffer: &mut PacketBuf,
        datagram: (Ipv6Addr, Ipv6Addr, u32),
        (ingress, base): (Interface, translate::Config),
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let (out, remote) = self
            .translation
            .fragments
            .later(&datagram, now)
            .ok_or(DropReason::FragmentOrphan)?;
        let plan = ToIpv4::new(Mapping::new(out, remote));
        if let Err(e) = self.translate(buffer, Plan::ToIpv4(plan), base, Interface::Wan) {
            return self.refused(buffer, ingress, e, now);
        }
        self.counters.fragment_translated();
        self.count_xlat(Family::V4, true, IpProtocol::Other(0), buffer, false);
        Ok(Verdict::Forward(Interface::Wan))
    }

    /// An IPv4 packet for a NAT64 session (see [`Router::nat64_in`]); the first
    /// fragment (`fragment`: its datagram's key) of a datagram is remembered
    /// for the rest.
    pub(in crate::router) fn nat64_in_datagram(
        &mut self,
        buffer: &mut PacketBuf,
        from: (Ipv4Addr, IpProtocol, bool),
        (rewrite, egress): (Rewrite, Interface),
        fragment: Option<FragKey>,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let verdict = self.nat64_in(buffer, from, rewrite, egress, now)?;
        if let (Some(key), Some(alias)) = (fragment, v4(rewrite.dst)) {
            let applied = Applied {
                src: u32::from(from.0),
                dst: u32::from(alias),
                egress,
            };
            if verdict == Verdict::Forward(egress) {
                self.nat64_first_fragment(key, applied, now);
            }
        }
        Ok(verdict)
    }

    /// The first fragment of an IPv4 datagram was translated for a NAT64
    /// session (`applied`: its IPv4 source, the alias, the egress): the shared
    /// fragment table remembers it for the rest, and those that came early are
    /// translated and queued now.
    fn nat64_first_fragment(&mut self, key: FragKey, applied: Applied, now: u32) {
        match self.nat.first_fragment(key, applied, now) {
            Ok(early) => {
                for p in early {
                    let mut piece = PacketBuf::from_packet(&p);
                    if self.nat64_later(&mut piece, applied, now).is_ok() {
                        self.egress.push(
                            applied.egress,
                            piece.packet().to_vec(),
                            Default::default(),
                            &mut self.counters,
                        );
                    }
                }
            }
            Err(reason) => self.counters.drop(reason),
        }
    }

    /// A later fragment of an IPv4 datagram whose first went to a NAT64 session
    /// as `applied`: translated here if the session is this worker's, else handed
    /// to its worker with the TTL taken (a fragment has no port to be steered by).
    pub(in crate::router) fn nat64_later_fragment(
        &mut self,
        buffer: &mut PacketBuf,
        applied: Applied,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let owner = Aliases::owner(applied.dst);
        if owner == self.shard.index || self.shard.count <= 1 {
            return self.nat64_later(buffer, applied, now);
        }
        let ttl = Rewrite {
            ttl: Some(Ttl::Sub(1)),
            ..Rewrite::new()
        };
        ttl.apply(buffer.packet_mut())
            .map_err(|_| DropReason::Malformed)?;
        Ok(Verdict::Handoff(owner))
    }

    /// A later fragment of an IPv4 datagram whose first went to this worker's
    /// NAT64 session `applied`: translated to the subscriber's address, no ports.
    fn nat64_later(
        &mut self,
        buffer: &mut PacketBuf,
        applied: Applied,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let (prefix, base) = self.nat64_prefix().ok_or(DropReason::NoRoute)?;
        let src = Ipv4Addr::from(applied.src);
        let dst = self
            .translation
            .aliases
            .address(applied.dst, now)
            .ok_or(DropReason::FragmentOrphan)?;
        let plan = ToIpv6::new(Mapping::new(prefix.embed(src), dst));
        if let Err(e) = self.translate(buffer, Plan::ToIpv6(plan), base, applied.egress) {
            return self.refused(buffer, Interface::Wan, e, now);
        }
        self.counters.fragment_translated();
        self.count_xlat(Family::V6, false, IpProtocol::Other(0), buffer, false);
        Ok(Verdict::Forward(applied.egress))
    }

    /// A subscriber's packet to a public address, and the peer's session found
    /// by the NAT's hairpin (`rewrite` holds both ends): to an IPv6 peer as IPv6
    /// from the sender's public endpoint embedded in the prefix, to an IPv4 peer
    /// as IPv4.
    fn nat64_hairpin(
        &mut self,
        buffer: &mut PacketBuf,
        rewrite: Rewrite,
        (ingress, egress, protocol): (Interface, Interface, IpProtocol),
        (prefix, base): (Nat64Prefix, translate::Config),
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let out = v4(rewrite.src).ok_or(DropReason::Malformed)?;
        let peer = v4(rewrite.dst).ok_or(DropReason::Malformed)?;
        if Aliases::is_alias(u32::from(peer)) {
            let peer6 = self
                .translation
                .aliases
                .address(u32::from(peer), now)
                .ok_or(DropReason::NoMapping)?;
            let r = Rewrite {
                src: Some(IpAddr::V6(prefix.embed(out))),
                dst: Some(IpAddr::V6(peer6)),
                ttl: Some(Ttl::Sub(1)),
                l4_checksum: match buffer.offload().partial {
                    Some(_) => L4Checksum::Partial,
                    None => L4Checksum::Complete,
                },
                ..rewrite
            };
            r.apply(buffer.packet_mut())
                .map_err(|_| DropReason::Malformed)?;
            self.count_xlat(Family::V6, true, protocol, buffer, true);
            return Ok(Verdict::Forward(egress));
        }
        let plan = to_ipv4(&rewrite, out, peer, self.next_ident());
        if let Err(e) = self.translate(buffer, Plan::ToIpv4(plan), base, egress) {
            return self.refused(buffer, ingress, e, now);
        }
        self.count_xlat(Family::V4, true, protocol, buffer, true);
        Ok(Verdict::Forward(egress))
    }

    /// An ICMPv6 error from subscriber `sub` about a packet it received through
    /// the NAT64 (its quote: from the remote's embedded address to the
    /// subscriber): to the remote, from the session's public endpoint, the quote
    /// translated back (RFC 6146 §3.5.3, RFC 7915 §5.3). Never refreshes.
    fn nat64_out_error(
        &mut self,
        sub: SubscriberId,
        buffer: &mut PacketBuf,
        q: Quote,
        prefix: Nat64Prefix,
        to: Ipv4Addr,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let base = self.nat64_prefix().ok_or(DropReason::NoRoute)?.1;
        let (IpAddr::V6(qsrc), IpAddr::V6(qdst)) = (q.src, q.dst) else {
            return Err(DropReason::IcmpErrorBadQuote);
        };
        let remote = prefix.extract(qsrc).ok_or(DropReason::IcmpErrorBadQuote)?;
        let alias = self
            .translation
            .aliases
            .find(qdst)
            .ok_or(DropReason::IcmpErrorNoSession)?;
        let protocol = match q.protocol {
            IpProtocol::Icmpv6 => IpProtocol::Icmp,
            p => p,
        };
        let (inside, rem) = match protocol {
            IpProtocol::Tcp | IpProtocol::Udp => (q.dst_port, q.src_port),
            IpProtocol::Icmp => (q.icmp_id, Some(0)),
            _ => (None, None),
        };
        let (Some(port), Some(rem_port)) = (inside, rem) else {
            return Err(DropReason::IcmpErrorBadQuote);
        };
        let (out, out_port) = self
            .nat
            .inside_session(protocol, (alias, port), (u32::from(remote), rem_port), now)
            .ok_or(DropReason::IcmpErrorNoSession)?;
        let out = Ipv4Addr::from(out);
        let mut quote = Mapping::new(remote, out);
        if protocol == IpProtocol::Icmp {
            quote.icmp_id = Some(out_port);
        } else {
            quote.dst_port = Some(out_port);
        }
        let mut plan = ToIpv4::new(Mapping::new(out, to));
        plan.quote = Some(quote);
        if let Err(e) = self.translate(buffer, Plan::ToIpv4(plan), base, Interface::Wan) {
            return self.refused(buffer, Interface::Subscriber(sub), e, now);
        }
        if self.nat.is_public(to) {
            // About a hairpinned flow: back in as from the WAN, to the peer.
            return self.hairpin_in(buffer, now);
        }
        self.count_xlat(Family::V4, true, IpProtocol::Icmp, buffer, false);
        Ok(Verdict::Forward(Interface::Wan))
    }

    /// A translated IPv4 packet to a public address: taken in as from the WAN
    /// here, or handed to the worker that owns its port.
    fn hairpin_in(&mut self, buffer: &mut PacketBuf, now: u32) -> Result<Verdict, DropReason> {
        let owner = crate::router::ipv4::public_endpoint(buffer.packet())
            .map_or(self.shard.index, |(addr, port)| {
                self.nat.port_owner(addr, port)
            });
        if owner != self.shard.index {
            return Ok(Verdict::Handoff(owner));
        }
        let before = self.continuing_hairpin;
        self.continuing_hairpin = true;
        let v = self.ipv4(Direction::Inbound, buffer, now);
        self.continuing_hairpin = before;
        v
    }

    /// An IPv4 packet the NAT matched to a session whose inside address is an
    /// alias: `rewrite` (what NAT44 would have written) becomes the plan of its
    /// translation to the subscriber's IPv6 address, the IPv4 source (the
    /// rewrite's, for a hairpinned packet) embedded in the prefix; an ICMPv4
    /// error's quote the same way back. `hairpin`: it came from a subscriber.
    fn nat64_in(
        &mut self,
        buffer: &mut PacketBuf,
        (src, protocol, hairpin): (Ipv4Addr, IpProtocol, bool),
        rewrite: Rewrite,
        egress: Interface,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let (prefix, base) = self.nat64_prefix().ok_or(DropReason::NoRoute)?;
        let alias = v4(rewrite.dst).map_or(0, u32::from);
        let dst = self
            .translation
            .aliases
            .address(alias, now)
            .ok_or(DropReason::NoMapping)?;
        let src = v4(rewrite.src).unwrap_or(src);
        let error = rewrite.quoted.is_some();
        let embedded = prefix.allows(src).then(|| prefix.embed(src));
        let src6 = match embedded {
            Some(a) => a,
            // An error from a router whose address the prefix may not carry
            // (RFC 6052 §3.1): from the router's own, as RFC 6791 allows.
            None if error => self.config.router.ipv6,
            None => return Err(DropReason::UnmappableAddress),
        };
        let mut plan = ToIpv6::new(Mapping {
            src_port: rewrite.src_port,
            dst_port: rewrite.dst_port,
            icmp_id: rewrite.icmp_id,
            ..Mapping::new(src6, dst)
        });
        if let Some(q) = rewrite.quoted {
            plan.quote = Some(self.quote_to_ipv6(buffer.packet(), &q, dst, prefix)?);
        }
        if let Err(e) = self.translate(buffer, Plan::ToIpv6(plan), base, egress) {
            return self.refused(buffer, Interface::Wan, e, now);
        }
        let hairpin = hairpin || self.continuing_hairpin;
        self.count_xlat(Family::V6, false, protocol, buffer, hairpin);
        Ok(Verdict::Forward(egress))
    }

    /// The IPv6 mapping of the packet an ICMPv4 error quotes (a packet the NAT64
    /// sent): its source is the subscriber, its destination the remote.
    fn quote_to_ipv6(
        &self,
        packet: &[u8],
        q: &QuotedRewrite,
        inside: Ipv6Addr,
        prefix: Nat64Prefix,
    ) -> Result<Mapping<Ipv6Addr>, DropReason> {
        let info = translate::inspect(packet).map_err(|e| rfc7915::drop_reason(&e))?;
        let quoted = info.quote.ok_or(DropReason::IcmpErrorBadQuote)?;
        let IpAddr::V4(remote) = quoted.dst_addr() else {
            return Err(DropReason::IcmpErrorBadQuote);
        };
        if !prefix.allows(remote) {
            return Err(DropReason::UnmappableAddress);
        }
        Ok(Mapping {
            src_port: q.src_port,
            dst_port: q.dst_port,
            icmp_id: q.icmp_id,
            ..Mapping::new(inside, prefix.embed(remote))
        })
    }

    /// Counts a translated packet as forwarded in its new family.
    pub(in crate::router) fn count_xlat(
        &mut self,
        family: Family,
        outbound: bool,
        protocol: IpProtocol,
        buffer: &PacketBuf,
        hairpin: bool,
    ) {
        let (packets, bytes) = offload::wire_size(buffer.packet(), &buffer.offload());
        self.counters
            .forward(family, outbound, protocol, packets, bytes);
        if hairpin {
            self.counters.hairpinned(packets);
        }
    }
}
