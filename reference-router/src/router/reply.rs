//! ICMP errors the router sends back about packets it drops: whether the RFCs and
//! the rate limit allow one, where it comes from, and building it over the packet.

use super::{Router, Verdict};
use crate::buf::PacketBuf;
use crate::config::RouterSection;
use crate::icmp::{self, IcmpError, RateLimit};
use crate::iface::Interface;
use crate::stats::DropReason;
use serde::{Deserialize, Serialize};
use sixfold_rewrite::{Ipv4Packet, Ipv6Packet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Serialize, Deserialize)]
pub(super) struct Replies {
    rate: RateLimit,
    /// Source of ICMPv4 errors to subscribers (an address of the router).
    ipv4: Ipv4Addr,
    /// Source of ICMPv6 errors.
    ipv6: Ipv6Addr,
}

impl Replies {
    /// The replies of one of `workers` workers: its share of the rate.
    pub(super) fn new(config: &RouterSection, workers: u16) -> Replies {
        Replies {
            rate: RateLimit::new(config.icmp_rate / u32::from(workers.max(1))),
            ipv4: config.ipv4,
            ipv6: config.ipv6,
        }
    }
}

impl Router {
    /// Whether `error` may be sent about `packet` now: RFC 1812 / RFC 4443 allow it
    /// and the rate limit has a token (a refusal by the limit is counted).
    fn may_send(&mut self, error: IcmpError, packet: &[u8], now: u32) -> bool {
        if !error.allowed_about(packet) {
            return false;
        }
        if !self.replies.rate.take(now) {
            self.counters.drop(DropReason::IcmpRateLimited);
            return false;
        }
        true
    }

    /// Turns the buffer into `error` about its packet, to be sent out of `to` (the
    /// interface the packet came in on); the packet is dropped for `reason` either
    /// way.
    pub(super) fn report(
        &mut self,
        buffer: &mut PacketBuf,
        to: Interface,
        error: IcmpError,
        reason: DropReason,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        if !self.may_send(error, buffer.packet(), now) {
            return Err(reason);
        }
        let len = buffer.len();
        let n = match self.error_source(buffer.packet(), error, to) {
            IpAddr::V6(from) => icmp::ipv6_error(buffer.whole_mut(), len, from, error),
            IpAddr::V4(from) => icmp::ipv4_error(buffer.whole_mut(), len, from, error),
        };
        buffer.set_built_len(n);
        self.counters.drop(reason);
        self.counters.icmp(error.counter());
        Ok(Verdict::Reply(to))
    }

    /// Where `error` about `packet`, going out of `to`, comes from: a port
    /// unreachable from the address the packet was sent to (the "host" with no
    /// listener, RFC 1122 §3.2.2.1); other ICMPv6 errors from the router's
    /// address; other ICMPv4 errors towards the WAN from a public address,
    /// towards a subscriber from the router's own (RFC 1812 §4.3.2.4).
    fn error_source(&self, packet: &[u8], error: IcmpError, to: Interface) -> IpAddr {
        match (error, to) {
            (IcmpError::PortUnreachable, _) if packet.len() >= 20 => {
                Ipv4Packet::new_unchecked(&packet[..20]).dst_addr().into()
            }
            (IcmpError::Ipv6PortUnreachable, _) if packet.len() >= 40 => {
                Ipv6Packet::new_unchecked(&packet[..40]).dst_addr().into()
            }
            _ if error.is_v6() => self.replies.ipv6.into(),
            (_, Interface::Wan) => self.nat.first_public().unwrap_or(self.replies.ipv4).into(),
            (_, Interface::Subscriber(_)) => self.replies.ipv4.into(),
        }
    }

    /// Sends `error` about `quote` (the start of a packet kept for later: a held
    /// SYN) out of `to`, the interface it came in on.
    pub(super) fn report_later(&mut self, quote: &[u8], error: IcmpError, to: Interface, now: u32) {
        if !self.may_send(error, quote, now) {
            return;
        }
        let mut buf = vec![0u8; 1280.max(quote.len() + icmp::HEADROOM)];
        buf[..quote.len()].copy_from_slice(quote);
        let n = match self.error_source(quote, error, to) {
            IpAddr::V6(from) => icmp::ipv6_error(&mut buf, quote.len(), from, error),
            IpAddr::V4(from) => icmp::ipv4_error(&mut buf, quote.len(), from, error),
        };
        buf.truncate(n);
        self.counters.icmp(error.counter());
        self.egress
            .push(to, buf, Default::default(), &mut self.counters);
    }
}
