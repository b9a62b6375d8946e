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
//! No state, so any worker translates any packet. Not done: RFC 7757 §4
//! hairpinning (a subscriber to another's EAMT address).

use super::translate::Plan;
use super::{Router, Verdict};
use crate::buf::PacketBuf;
use crate::iface::{Interface, SubscriberId};
use crate::stats::{DropReason, Family};
use sixfold_rewrite::translate;
use std::net::{Ipv4Addr, Ipv6Addr};

impl Router {
    /// Whether an IPv6 packet to `dst` (routed to no subscriber) is SIIT's.
    pub(super) fn is_siit_out(&self, dst: Ipv6Addr) -> bool {
        self.translation
            .siit
            .as_ref()
            .is_some_and(|(m, _)| m.ipv6_to_ipv4(dst).is_some())
    }

    /// The subscriber an IPv4 packet from the WAN to `dst` goes to through
    /// SIIT, if any (never for the NAT's pool, which validation keeps apart).
    pub(super) fn siit_in_subscriber(&self, dst: Ipv4Addr) -> Option<SubscriberId> {
        let (m, _) = self.translation.siit.as_ref()?;
        if self.nat.is_public(dst) {
            return None;
        }
        self.links.route_v6(m.ipv4_to_ipv6(dst)?)
    }

    /// An IPv6 packet from subscriber `sub` to a SIIT destination, its hop limit
    /// checked.
    pub(super) fn siit_out(
        &mut self,
        sub: SubscriberId,
        buffer: &mut PacketBuf,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let ingress = Interface::Subscriber(sub);
        let ident = self.next_ident();
        let (m, base) = self.translation.siit.as_ref().ok_or(DropReason::NoRoute)?;
        let base = *base;
        let planned = translate::inspect(buffer.packet()).and_then(|i| m.plan_to_ipv4(&i, ident));
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

    /// An IPv4 packet from the WAN for subscriber `sub` through SIIT, its TTL
    /// checked.
    pub(super) fn siit_in(
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
