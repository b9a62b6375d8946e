//! Stateless SIIT (RFC 7915) between subscribers and the WAN, with `[siit]`'s
//! address mapping (EAMT first, then the RFC 6052 `pool6`, RFC 7757 §3.3; RFC
//! 6791 sources for errors from untranslatable routers):
//!
//! - out: an IPv6 packet from a subscriber to an address the mapping turns into
//!   IPv4 (not routed to a subscriber) leaves on the WAN translated; its source
//!   must map too (an EAMT entry for the subscriber's address), else it is
//!   refused with ICMPv6 administratively prohibited (RFC 7915 §5.4);
//! - in: an IPv4 packet from the WAN to an address outside the NAT's pool that
//!   the mapping turns into an address routed to a subscriber goes to that
//!   subscriber translated. Like an `open` subscriber, it passes no firewall
//!   state: the EAMT entry publishes the address.
//!
//! - hairpin (RFC 7757 §4): an IPv6 packet from a subscriber to the RFC 6052
//!   form of an EAMT entry's IPv4 address — another subscriber's host, by the
//!   address IPv4 knows it by — is translated to IPv4 and back and goes to that
//!   subscriber, from the sender's RFC 6052 address (an ICMPv6 error about
//!   such a packet the same way); it never leaves on the WAN.
//!
//! No state, so any worker translates any packet.

use super::Plan;
use super::rfc7915;
use crate::buf::PacketBuf;
use crate::icmp::IcmpError;
use crate::iface::{Interface, SubscriberId};
use crate::offload;
use crate::router::{Router, Verdict};
use crate::stats::{DropReason, Family};
use sixfold_rewrite::translate::{self, ToIpv4};
use std::net::{Ipv4Addr, Ipv6Addr};

impl Router {
    /// Whether an IPv6 packet to `dst` (routed to no subscriber) is SIIT's.
    pub(in crate::router) fn is_siit_out(&self, dst: Ipv6Addr) -> bool {
        self.translation
            .siit
            .as_ref()
            .is_some_and(|(m, _)| m.ipv6_to_ipv4(dst).is_some())
    }

    /// The subscriber an IPv4 packet from the WAN to `dst` goes to through
    /// SIIT, if any (never for the NAT's pool, which validation keeps apart).
    pub(in crate::router) fn siit_in_subscriber(&self, dst: Ipv4Addr) -> Option<SubscriberId> {
        let (m, _) = self.translation.siit.as_ref()?;
        if self.nat.is_public(dst) {
            return None;
        }
        self.links.route_v6(m.ipv4_to_ipv6(dst)?)
    }

    /// An IPv6 packet from subscriber `sub` to a SIIT destination, its hop limit
    /// checked.
    pub(in crate::router) fn siit_out(
        &mut self,
        sub: SubscriberId,
        buffer: &mut PacketBuf,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let ingress = Interface::Subscriber(sub);
        let ident = self.next_ident();
        let (m, base) = self.translation.siit.as_ref().ok_or(DropReason::NoRoute)?;
        let base = *base;
        let info = translate::inspect(buffer.packet());
        let hairpin = info.as_ref().is_ok_and(|i| m.is_hairpin(i));
        let planned = info.and_then(|i| m.plan_to_ipv4(&i, ident));
        if hairpin && let Ok(plan) = planned {
            return self.siit_hairpin(sub, buffer, plan, base, now);
        }
        let result = planned.and_then(|plan| {
            self.translate(buffer, Plan::ToIpv4(plan), base, Interface::Wan)
                .map(|()| self.protocol_of(buffer))
        });
        match result {
            Ok(protocol) => {
                self.count_xlat(Family::V4, true, protocol, buffer, false);
                Ok(Verdict::Forward(Interface::Wan))
            }
            Err(e) => self.refused(buffer, ingress, e, now),
        }
    }

    /// A hairpinned packet from subscriber `sub` (see the module docs), `plan`
    /// its way to IPv4: translated there and back to the subscriber the EAMT
    /// entry's IPv6 address is routed to. Too big for that link, it gets packet
    /// too big, as native IPv6 would; the way back is never answered (the
    /// sender did not send the IPv4 packet).
    fn siit_hairpin(
        &mut self,
        sub: SubscriberId,
        buffer: &mut PacketBuf,
        plan: ToIpv4,
        base: translate::Config,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let ingress = Interface::Subscriber(sub);
        let (m, _) = self.translation.siit.as_ref().ok_or(DropReason::NoRoute)?;
        let peer = m
            .ipv4_to_ipv6(plan.outer.dst)
            .and_then(|a| self.links.route_v6(a))
            .ok_or(DropReason::NoRoute)?;
        let egress = Interface::Subscriber(peer);
        let mtu = self.links.mtu(egress);
        if offload::largest_segment(buffer.packet(), &buffer.offload()) > mtu {
            let e = IcmpError::PacketTooBig { mtu: mtu as u32 };
            return self.report(buffer, ingress, e, DropReason::TooBig, now);
        }
        // Out on the peer's link: its MTU keeps the IPv4 packet whole.
        if let Err(e) = self.translate(buffer, Plan::ToIpv4(plan), base, egress) {
            return self.refused(buffer, ingress, e, now);
        }
        let (m, _) = self.translation.siit.as_ref().ok_or(DropReason::NoRoute)?;
        let back = translate::inspect(buffer.packet()).and_then(|i| m.plan_hairpin(&i));
        let continuing = std::mem::replace(&mut self.continuing_hairpin, true);
        let result = back.and_then(|plan| self.translate(buffer, Plan::ToIpv6(plan), base, egress));
        self.continuing_hairpin = continuing;
        result.map_err(|e| rfc7915::drop_reason(&e))?;
        let protocol = self.protocol_of(buffer);
        self.count_xlat(Family::V6, true, protocol, buffer, true);
        Ok(Verdict::Forward(egress))
    }

    /// An IPv4 packet from the WAN for subscriber `sub` through SIIT, its TTL
    /// checked.
    pub(in crate::router) fn siit_in(
        &mut self,
        sub: SubscriberId,
        buffer: &mut PacketBuf,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let egress = Interface::Subscriber(sub);
        let (m, base) = self.translation.siit.as_ref().ok_or(DropReason::NoRoute)?;
        let base = *base;
        let planned = translate::inspect(buffer.packet()).and_then(|i| m.plan_to_ipv6(&i));
        let result = planned.and_then(|plan| {
            self.translate(buffer, Plan::ToIpv6(plan), base, egress)
                .map(|()| self.protocol_of(buffer))
        });
        match result {
            Ok(protocol) => {
                self.count_xlat(Family::V6, false, protocol, buffer, false);
                Ok(Verdict::Forward(egress))
            }
            Err(e) => self.refused(buffer, Interface::Wan, e, now),
        }
    }

    /// The transport protocol of the (translated) packet in the buffer, for the
    /// counters.
    fn protocol_of(&self, buffer: &PacketBuf) -> sixfold_rewrite::IpProtocol {
        translate::inspect(buffer.packet())
            .map(|i| i.protocol)
            .unwrap_or(sixfold_rewrite::IpProtocol::Other(0))
    }
}
