//! What the router gives the IPFIX exporter: NAT events the NAT logged, and
//! flow accounting before the NAT — each forwarded packet counted under the
//! flow the subscriber sees (outbound: as it arrived, before translation;
//! inbound: as it leaves, after translation), per subscriber too. Records wait
//! in a bounded queue the I/O loop drains with [`Router::poll_ipfix`].

use super::Router;
use crate::buf::PacketBuf;
use crate::iface::{Direction, Interface};
use crate::ipfix::Record;
use crate::ipfix::accounting::FlowKey;
use crate::stats::{Family, IpfixUse};
use sixfold_rewrite::{IpProtocol, Ipv4Packet, Ipv6Packet, L4Header, UpperLayer};

/// Records looked at per call by the accounting expiry.
const BUDGET: usize = 64;

/// Source and destination port of a transport header, or for ICMP / ICMPv6
/// 0 and `type × 256 + code` (as NetFlow exporters write them); (0, 0) for
/// anything else or a fragment without its header.
fn ports(protocol: IpProtocol, l4: &[u8]) -> (u16, u16) {
    match L4Header::new(protocol, l4) {
        Ok(h) => h
            .ports()
            .or_else(|| {
                h.icmp_type_code()
                    .map(|(t, c)| (0, u16::from_be_bytes([t, c])))
            })
            .unwrap_or((0, 0)),
        Err(_) => (0, 0),
    }
}

/// The flow of an IPv4 packet (whose header was checked).
pub(super) fn flow_v4(ip: &Ipv4Packet<&[u8]>) -> FlowKey {
    let protocol = ip.ip_protocol();
    let (sport, dport) = if ip.frag_offset() == 0 {
        ports(protocol, ip.payload())
    } else {
        (0, 0)
    };
    FlowKey::v4(
        ip.src_addr(),
        ip.dst_addr(),
        (sport, dport),
        u8::from(protocol),
    )
}

/// The flow of the IPv4 packet in `buffer` (checked already, and still valid
/// after a rewrite).
pub(super) fn flow_of_v4(buffer: &PacketBuf) -> FlowKey {
    flow_v4(&Ipv4Packet::new_unchecked(buffer.packet()))
}

impl Router {
    /// Whether outbound IPv4 packets need their flow read before the NAT.
    pub(super) fn accounting(&self) -> bool {
        self.accounting.is_some()
    }

    /// Counts a forwarded packet (`wire`: its packets and bytes on the wire)
    /// for its subscriber(s) — the sender going out, the receiver coming in,
    /// both for a hairpin — and accounts its flows: `before` the sender's (read
    /// before the NAT), `after` the receiver's (as it leaves).
    fn account(
        &mut self,
        family: Family,
        (direction, egress): (Direction, Interface),
        (before, after): (Option<&FlowKey>, Option<&FlowKey>),
        (packets, bytes): (u64, u64),
    ) {
        self.count_subscribers(family, (direction, egress), (packets, bytes));
        let (second, ms) = self.accounting_time();
        if let Some(acc) = self.accounting.as_mut() {
            if let Some(key) = before {
                acc.count(key, packets, bytes, second, ms);
            }
            if let Some(key) = after {
                acc.count(key, packets, bytes, second, ms);
            }
        }
    }

    /// The second and millisecond flows are counted at.
    fn accounting_time(&self) -> (u32, u64) {
        ((self.clock_ms / 1000) as u32, self.clock_ms)
    }

    /// Counts a forwarded packet for its subscriber(s): the sender going out,
    /// the receiver coming in, both for a hairpin.
    pub(super) fn count_subscribers(
        &mut self,
        family: Family,
        (direction, egress): (Direction, Interface),
        (packets, bytes): (u64, u64),
    ) {
        if let Direction::Outbound(sub) = direction {
            self.counters.subscriber(sub, family, true, packets, bytes);
        }
        if let Interface::Subscriber(sub) = egress {
            self.counters.subscriber(sub, family, false, packets, bytes);
        }
    }

    /// Counts a forwarded TCP or UDP packet of NAT session `s` (now in
    /// `buffer`) as [`Router::account_v4`] does, the session's flow — the
    /// sender's going out, the receiver's coming in — found through the place
    /// the session keeps, without a hash probe or reading the packet. A
    /// hairpin's receiver is another session: its flow is read from `buffer`.
    pub(super) fn account_session_v4(
        &mut self,
        (direction, egress): (Direction, Interface),
        s: u32,
        (packets, bytes): (u64, u64),
        buffer: &PacketBuf,
    ) {
        self.account_session_link((direction, egress), s, (packets, bytes));
        if direction.is_outbound() && matches!(egress, Interface::Subscriber(_)) {
            let (second, ms) = self.accounting_time();
            if let Some(acc) = self.accounting.as_mut() {
                acc.count(&flow_of_v4(buffer), packets, bytes, second, ms);
            }
        }
    }

    /// Counts `(packets, bytes)` of NAT session `s` from `direction` to
    /// `egress` for its subscriber and its flow as the session keeps it (the
    /// sender's going out, the receiver's coming in): all of
    /// [`Router::account_session_v4`] but a hairpin's receiver. The fast
    /// path's counts come in here too.
    pub(super) fn account_session_link(
        &mut self,
        (direction, egress): (Direction, Interface),
        s: u32,
        (packets, bytes): (u64, u64),
    ) {
        self.count_subscribers(Family::V4, (direction, egress), (packets, bytes));
        let (second, ms) = self.accounting_time();
        let Some(acc) = self.accounting.as_mut() else {
            return;
        };
        let outbound = direction.is_outbound();
        let to_subscriber = matches!(egress, Interface::Subscriber(_));
        if (outbound || to_subscriber)
            && let Some((key, at)) = self.nat.accounted(s, outbound)
        {
            *at = acc.count_at(*at, &key, packets, bytes, second, ms);
        }
    }

    /// With accounting, an outbound IPv4 packet's flow as the subscriber sent
    /// it (read before the NAT rewrites the packet in `buffer`).
    pub(super) fn flow_before(&self, direction: Direction, buffer: &PacketBuf) -> Option<FlowKey> {
        (self.accounting() && direction.is_outbound()).then(|| flow_of_v4(buffer))
    }

    /// Counts a forwarded IPv4 packet (now in `buffer`, `wire` on the wire) for
    /// its subscriber(s) and flows: `before` the sender's, the receiver's read
    /// from `buffer` if it goes to a subscriber.
    pub(super) fn account_v4(
        &mut self,
        link: (Direction, Interface),
        before: Option<FlowKey>,
        wire: (u64, u64),
        buffer: &PacketBuf,
    ) {
        let after = (self.accounting() && matches!(link.1, Interface::Subscriber(_)))
            .then(|| flow_of_v4(buffer));
        self.account(Family::V4, link, (before.as_ref(), after.as_ref()), wire);
    }

    /// Counts a forwarded IPv6 packet in `buffer` (upper layer `upper`), the
    /// same flow for sender and receiver: nothing is translated. A TCP or UDP
    /// packet of firewall flow `flow` (which crosses the WAN: one subscriber)
    /// is counted through the place the firewall flow keeps, without a hash
    /// probe or reading the packet.
    pub(super) fn account_v6(
        &mut self,
        link: (Direction, Interface),
        (upper, flow): (Option<UpperLayer>, Option<u32>),
        wire: (u64, u64),
        buffer: &PacketBuf,
    ) {
        if self.accounting.is_none() {
            // Off (the default): the subscribers' counters only.
            self.count_subscribers(Family::V6, link, wire);
            return;
        }
        if let Some(f) = flow
            && self.account_flow_v6(link, f, wire)
        {
            return;
        }
        let flow = self.accounting().then(|| flow_v6(buffer.packet(), upper));
        let sent = flow.as_ref().filter(|_| link.0.is_outbound());
        let received = flow
            .as_ref()
            .filter(|_| matches!(link.1, Interface::Subscriber(_)));
        self.account(Family::V6, link, (sent, received), wire);
    }

    /// With accounting, counts `wire` of IPv6 firewall flow `f` on `link` for
    /// its record and its subscriber (true); without, nothing (false).
    pub(super) fn account_flow_v6(
        &mut self,
        link: (Direction, Interface),
        f: u32,
        wire: (u64, u64),
    ) -> bool {
        let (second, ms) = self.accounting_time();
        if let Some(acc) = self.accounting.as_mut()
            && let Some((key, at)) = self.firewall.accounted(f, link.0.is_outbound())
        {
            *at = acc.count_at(*at, &key, wire.0, wire.1, second, ms);
            self.count_subscribers(Family::V6, link, wire);
            return true;
        }
        false
    }

    /// Accounting expiry, into the export queue. (The NAT's log, expiry's events
    /// included, is drained once at the end of each `process` or `tick`.)
    pub(super) fn export_due(&mut self, now: u32) {
        if let Some(acc) = self.accounting.as_mut() {
            acc.expire(now, BUDGET, &mut self.exports);
        }
    }

    /// The NAT's events since the last call, into the export queue; those of an
    /// IPv6-only subscriber name its IPv6 address, not its alias.
    pub(super) fn drain_nat_log(&mut self) {
        if !self.nat.has_log() {
            // Every packet comes here; most log nothing.
            return;
        }
        let prefix = self.translation.nat64.as_ref().map(|n| n.prefix);
        let aliases = &self.translation.aliases;
        self.nat.drain_log(&mut self.exports, self.clock_ms, |r| {
            if let Some(prefix) = prefix {
                super::nat64::unalias(r, aliases, prefix);
            }
        });
    }

    /// The next record for the IPFIX exporter (the I/O loop drains these after
    /// each burst; records that found the queue full are counted in
    /// `ipfix.records_dropped`).
    pub fn poll_ipfix(&mut self) -> Option<Record> {
        let r = self.exports.pop()?;
        self.exports.counts.records_exported += 1;
        Some(r)
    }

    /// Counts a record the I/O loop could not hand to the exporter (its channel
    /// was full).
    pub fn count_ipfix_drop(&mut self) {
        self.exports.counts.records_exported -= 1;
        self.exports.counts.records_dropped += 1;
    }

    /// Exports every accounted flow now (the router is stopping): they come out
    /// of [`Router::poll_ipfix`].
    pub fn flush_ipfix(&mut self) {
        if let Some(acc) = self.accounting.as_mut() {
            acc.flush(&mut self.exports);
        }
        self.drain_nat_log();
    }

    /// The IPFIX part of the snapshot.
    pub(super) fn ipfix_use(&self) -> IpfixUse {
        let mut u = self.exports.counts.clone();
        if let Some(acc) = &self.accounting {
            u.flows = u64::from(acc.live());
            u.flows_overflow = acc.overflow;
        }
        u.blocks = self.nat.live_blocks().len() as u64;
        u
    }

    /// Live port blocks (`[nat] allocation = "block"`): inside address, public
    /// address, first and last port.
    pub fn port_blocks(&self) -> Vec<(std::net::Ipv4Addr, std::net::Ipv4Addr, u16, u16)> {
        self.nat.live_blocks()
    }
}

/// The flow of an IPv6 packet whose upper layer the path found (`upper`).
pub(super) fn flow_v6(packet: &[u8], upper: Option<UpperLayer>) -> FlowKey {
    let ip = Ipv6Packet::new_unchecked(packet);
    let (protocol, (sport, dport)) = match upper {
        Some(u) if u.has_header() => {
            let l4 = packet.get(u.offset..).unwrap_or(&[]);
            (u.protocol, ports(u.ip_protocol(), l4))
        }
        Some(u) => (u.protocol, (0, 0)),
        None => (u8::from(ip.ip_protocol()), (0, 0)),
    };
    FlowKey::v6(ip.src_addr(), ip.dst_addr(), (sport, dport), protocol)
}
