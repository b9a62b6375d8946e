//! The IPv6 path: routed natively by prefix (no translation). Tunnel blocking,
//! router solicitations answered, anti-spoofing both ways, the RFC 6092 firewall
//! for what crosses the WAN (inbound before anything else, so an unsolicited
//! packet draws no error from the router), hop limit and MTU (routers do not
//! fragment IPv6: packet too big).

use super::{Router, Verdict};
use crate::buf::PacketBuf;
use crate::firewall::{self, Refused};
use crate::icmp::IcmpError;
use crate::icmp::ra;
use crate::iface::{Direction, Interface};
use crate::offload;
use crate::stats::{DropReason, Family, IcmpSent};
use crate::tunnels;
use sixfold_rewrite::{IpProtocol, Ipv6Packet, UpperLayer};

impl Router {
    pub(super) fn ipv6(
        &mut self,
        direction: Direction,
        buffer: &mut PacketBuf,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let ip = Ipv6Packet::new_checked(buffer.packet()).map_err(|_| DropReason::Malformed)?;
        let (src, dst, hop_limit) = (ip.src_addr(), ip.dst_addr(), ip.hop_limit());
        // Bytes past the payload length (link padding) are not part of the packet.
        buffer.truncate(40 + ip.payload_len());
        let ip = Ipv6Packet::new_unchecked(buffer.packet());
        let upper = ip.upper_layer().ok();
        let protocol = upper.map_or(ip.ip_protocol(), |u| u.ip_protocol());
        let outbound = direction.is_outbound();
        if let Some(t) = tunnels::ipv6(src, dst, protocol, outbound, &self.config.tunnels) {
            return Err(t.reason());
        }
        if let Some(reply) = self.answer_solicitation(direction, buffer, upper, protocol) {
            return Ok(reply);
        }
        if dst.is_multicast()
            || dst.is_unicast_link_local()
            || dst.is_unspecified()
            || dst.is_loopback()
        {
            return Err(DropReason::NotRoutable);
        }
        let egress = self.route_v6(direction, src, dst)?;
        if let (Direction::Outbound(sub), Interface::Wan) = (direction, egress)
            && (self.is_nat64(dst) || self.is_siit_out(dst))
        {
            // Translated to IPv4 (RFC 6146, RFC 7915): the NAT's state, not the
            // IPv6 firewall's, and the router's hop limit first.
            if hop_limit <= 1 {
                let e = IcmpError::HopLimitExceeded;
                return self.report(buffer, direction.ingress(), e, DropReason::TtlExceeded, now);
            }
            return if self.is_nat64(dst) {
                self.nat64_out(sub, buffer, now)
            } else {
                self.siit_out(sub, buffer, now)
            };
        }
        let crosses_wan = egress == Interface::Wan || !outbound;
        let ingress = direction.ingress();
        // The firewall flow the packet belongs to, if any.
        let mut flow = None;
        if crosses_wan {
            flow = self.firewall_checks(direction, egress, buffer, upper, protocol, now)?;
        }
        if hop_limit <= 1 {
            let e = IcmpError::HopLimitExceeded;
            return self.report(buffer, ingress, e, DropReason::TtlExceeded, now);
        }
        let mtu = self.links.mtu(egress);
        if offload::largest_segment(buffer.packet(), &buffer.offload()) > mtu {
            // RFC 8200 §5: routers do not fragment IPv6; packet too big (RFC 4443 §3.2).
            let e = IcmpError::PacketTooBig { mtu: mtu as u32 };
            return self.report(buffer, ingress, e, DropReason::TooBig, now);
        }
        if let (Direction::Outbound(sub), true, Some(u)) = (direction, crosses_wan, upper) {
            let p = firewall::Packet::new(buffer.packet(), u, protocol);
            match self.firewall.outbound(sub, &p, now) {
                Ok(f) => flow = f,
                Err(Refused(reason)) => {
                    let e = IcmpError::Ipv6AdminProhibited;
                    return self.report(buffer, ingress, e, reason, now);
                }
            }
        }
        Ipv6Packet::new_unchecked(buffer.packet_mut()).set_hop_limit(hop_limit - 1);
        let (packets, bytes) = offload::wire_size(buffer.packet(), &buffer.offload());
        self.counters
            .forward(Family::V6, outbound, protocol, packets, bytes);
        let wire = (packets, bytes);
        self.account_v6((direction, egress), (upper, flow), wire, buffer);
        if let Some(f) = flow {
            self.offer_fast6(direction, egress, f);
        }
        Ok(Verdict::Forward(egress))
    }

    /// A subscriber's router solicitation, answered to all-nodes (RFC 4861
    /// §6.2.6) — not on a range, whose hosts the access network configures.
    fn answer_solicitation(
        &mut self,
        direction: Direction,
        buffer: &mut PacketBuf,
        upper: Option<UpperLayer>,
        protocol: IpProtocol,
    ) -> Option<Verdict> {
        let (Direction::Outbound(sub), Some(u)) = (direction, upper) else {
            return None;
        };
        let solicits = self.config.router.ra
            && !self.links.is_range(sub)
            && protocol == IpProtocol::Icmpv6
            && ra::is_router_solicitation(buffer.packet(), u.offset);
        if !solicits {
            return None;
        }
        buffer.set_packet(&self.advertisement(sub));
        self.counters.icmp(IcmpSent::RouterAdvertisement);
        Some(Verdict::Reply(Interface::Subscriber(sub)))
    }

    /// Where an IPv6 packet goes, after anti-spoofing: a subscriber sends from its
    /// own prefixes; the WAN from none of them, to one of them.
    fn route_v6(
        &self,
        direction: Direction,
        src: std::net::Ipv6Addr,
        dst: std::net::Ipv6Addr,
    ) -> Result<Interface, DropReason> {
        match direction {
            Direction::Outbound(sub) => {
                if !self.links.owns_ipv6(sub, src) {
                    return Err(DropReason::Ipv6Spoofed);
                }
                Ok(self
                    .links
                    .route_v6(dst)
                    .map_or(Interface::Wan, Interface::Subscriber))
            }
            Direction::Inbound => {
                if self.links.route_v6(src).is_some() {
                    return Err(DropReason::Ipv6Spoofed);
                }
                let sub = self.links.route_v6(dst).ok_or(DropReason::NoRoute)?;
                Ok(Interface::Subscriber(sub))
            }
        }
    }

    /// What the firewall asks of a packet crossing the WAN before anything else:
    /// an upper layer it can find, no type 0 routing header, and — inbound — a
    /// flow that admits it (an unsolicited SYN is held, its quote kept; the
    /// flow returned).
    fn firewall_checks(
        &mut self,
        direction: Direction,
        egress: Interface,
        buffer: &PacketBuf,
        upper: Option<UpperLayer>,
        protocol: IpProtocol,
        now: u32,
    ) -> Result<Option<u32>, DropReason> {
        // An extension-header chain the walk could not follow: no flow to judge.
        let u = upper.ok_or(DropReason::Malformed)?;
        if firewall::has_routing_header_0(buffer.packet()) {
            return Err(DropReason::Ipv6RoutingHeader0);
        }
        if let (Interface::Subscriber(sub), Direction::Inbound) = (egress, direction) {
            let p = firewall::Packet::new(buffer.packet(), u, protocol);
            return match self.firewall.inbound(sub, &p, now) {
                Ok(flow) => Ok(flow),
                Err(reason) => {
                    if reason == DropReason::SynHeld {
                        self.firewall.held_quote(&p, buffer.packet());
                    }
                    Err(reason)
                }
            };
        }
        Ok(None)
    }
}
