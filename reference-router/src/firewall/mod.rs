//! IPv6 simple security (RFC 6092): a stateful filter between the WAN and the
//! subscribers' IPv6 prefixes. Nothing is translated: a flow is (protocol, inside
//! address and port, remote address and port), opened by an outbound packet and
//! kept by the same TCP state machine, timers ([`Wheel`]), SYN hold and limits as
//! the NAT's sessions.
//!
//! What passes from the WAN:
//! - packets of a flow a subscriber opened (and, under `eif`/`adf` filtering, new
//!   flows to an inside endpoint that has sent out, from any remote or from a remote
//!   address it has sent to);
//! - to a subscriber configured `open`, or to one of its `open_ports`;
//! - ICMPv6 errors (destination unreachable, packet too big, time exceeded,
//!   parameter problem) whose quote matches a flow; they never refresh or end it;
//! - echo requests (RFC 4890 §4.3.1), unless `firewall.inbound_echo = false`;
//! - in the default mode, IPsec: ESP and AH in both directions, IKE (UDP port 500)
//!   and HIP, as RFC 6092 asks; `firewall.ipsec = false` subjects them to state
//!   (ESP and AH then by the 3-tuple: inside address, remote address, protocol).
//!
//! Every other unsolicited packet is dropped and counted (`filtered`); an
//! unsolicited TCP SYN is held for `syn_hold` seconds and answered with ICMPv6
//! 1/1 (administratively prohibited) unless the inside host opens the same flow
//! meanwhile (simultaneous open). Non-first fragments carry no ports: one passes
//! inbound when a first fragment between the same two addresses was admitted within
//! the fragment timeout.
//!
//! A `[[subscriber_range]]` with `announce` asks for a route per subscriber
//! prefix while that subscriber has flows here: the firewall notes whose count
//! went from or to zero, and [`Firewall::poll_route_change`] reports the
//! difference from what it reported before (bounded by the subscribers, however
//! many flows come and go between polls).

use crate::config::{Config, Filtering, Timeouts};
use crate::hold::{Released, SynHold};
use crate::iface::SubscriberId;
use crate::ipfix::accounting::FlowKey;
use crate::layout::Layout;
use crate::nat::tcp;
use crate::persub::PerSubscriber;
use crate::stats::DropReason;
use crate::wheel::{self, NIL, Wheel};
use foldhash::fast::RandomState;
use serde::{Deserialize, Serialize};
use sixfold_rewrite::{Icmpv6Type, IpProtocol, L4Header, QuotedPacket};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

mod fast;
pub(crate) use fast::FastFlow6;
mod packet;
mod reload;
mod subscribers;
pub(crate) use packet::{Packet, has_routing_header_0};
use subscribers::{Announcements, Policy, Range};

/// A flow: the inside endpoint, the remote endpoint and the protocol. ICMPv6 echo
/// uses the identifier as the inside port; protocols without ports use 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Key {
    inside: Ipv6Addr,
    remote: Ipv6Addr,
    in_port: u16,
    rem_port: u16,
    #[serde(with = "crate::state::with::protocol")]
    protocol: IpProtocol,
}

impl Key {
    /// The key filtering `mode` admits new inbound flows by.
    fn admission(mut self, mode: Filtering) -> Key {
        if mode == Filtering::Eif {
            self.remote = Ipv6Addr::UNSPECIFIED;
        }
        self.rem_port = 0;
        self
    }
}

/// One flow's state.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Flow {
    key: Key,
    subscriber: SubscriberId,
    /// TCP state flags (`crate::nat::tcp`); 0 marks nothing for other protocols.
    tcp: u8,
    expires: u32,
    prev: u32,
    next: u32,
    slot: u16,
    live: bool,
    /// Installed in the fast path (issue 27): its removal is reported.
    fast: bool,
    /// A packet after its first has passed: a UDP flow is offered to the fast
    /// path then (`fast::fast_offer`). Not in a handed-over state.
    #[serde(skip)]
    repeated: bool,
    /// Where flow accounting keeps the records of the flow's outbound and
    /// inbound packets ([`crate::ipfix::accounting::Accounting::count_at`];
    /// `NIL` none yet): 8 bytes, whether accounting is on or not.
    accounting: [u32; 2],
}

crate::wheel::timed_record!(Flow);

/// Why an outbound packet could not open its flow: dropped, and the subscriber is
/// told with ICMPv6 1/1 (as the NAT answers 3/13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refused(pub(crate) DropReason);

/// IKE (RFC 7296), which RFC 6092 lets in with IPsec.
const IKE_PORT: u16 = 500;

#[derive(Serialize, Deserialize)]
pub(crate) struct Firewall {
    enabled: bool,
    filtering: Filtering,
    inbound_echo: bool,
    ipsec: bool,
    timeouts: Timeouts,
    max_flows: u32,
    flows_per_subscriber: u32,
    flows: Vec<Flow>,
    free: u32,
    index: HashMap<Key, u32, RandomState>,
    /// Flows per admission key (`eif`/`adf` only).
    admits: HashMap<Key, u32, RandomState>,
    wheel: Wheel,
    held: SynHold<Key>,
    /// (remote, inside) pairs with an admitted first fragment → until when their
    /// later fragments pass.
    fragments: HashMap<(Ipv6Addr, Ipv6Addr), u32, RandomState>,
    max_fragment_pairs: usize,
    /// Each `[[subscriber]]`'s inbound policy, by id.
    /// From the configuration (a restore keeps the fresh router's).
    #[serde(skip)]
    policies: HashMap<SubscriberId, Policy, RandomState>,
    #[serde(skip)]
    ranges: Vec<Range>,
    /// Live flows per subscriber.
    subscriber_flows: PerSubscriber<u32>,
    announcements: Announcements,
    /// Workers in all: this one's share of the limits.
    workers: u16,
    live: u32,
    created: u64,
    expired: u64,
    /// Flows removed while installed in the fast path ([`fast`]).
    fast_removed: Vec<Flow>,
}

impl Firewall {
    /// Takes the parts that come from the configuration from `fresh` (a
    /// firewall built from it): its subscribers' policies and its ranges (a
    /// restore; the flows are this one's).
    pub(crate) fn keep_configuration_of(&mut self, fresh: &mut Firewall) {
        self.policies = std::mem::take(&mut fresh.policies);
        self.ranges = std::mem::take(&mut fresh.ranges);
    }

    /// The firewall of one worker (`workers` in all): its share of the flow and
    /// held-SYN limits; the subscribers it serves bring their own flows.
    pub(crate) fn new(config: &Config, layout: &Layout, now: u32, workers: u16) -> Firewall {
        let nat = &config.nat;
        let f = &config.firewall;
        let share = |n: u32| (n / u32::from(workers.max(1))).max(1);
        Firewall {
            enabled: f.enabled,
            filtering: f.filtering,
            inbound_echo: f.inbound_echo,
            ipsec: f.ipsec,
            timeouts: nat.timeouts.clone(),
            max_flows: share(nat.max_sessions),
            flows_per_subscriber: nat.sessions_per_subscriber,
            flows: Vec::new(),
            free: NIL,
            index: HashMap::with_hasher(RandomState::default()),
            admits: HashMap::with_hasher(RandomState::default()),
            wheel: Wheel::new(now),
            held: SynHold::new(share(nat.max_held_syns) as usize, nat.timeouts.syn_hold),
            fragments: HashMap::with_hasher(RandomState::default()),
            max_fragment_pairs: nat.max_fragment_flows as usize,
            policies: subscribers::policies(config, layout),
            ranges: subscribers::ranges(config, layout),
            subscriber_flows: PerSubscriber::new(config.subscriber.len(), 0),
            announcements: Announcements::default(),
            workers,
            live: 0,
            created: 0,
            expired: 0,
            fast_removed: Vec::new(),
        }
    }

    /// Live flows.
    pub(crate) fn live(&self) -> u32 {
        self.live
    }

    /// Flows created since the start.
    pub(crate) fn created(&self) -> u64 {
        self.created
    }

    /// Flows expired since the start.
    pub(crate) fn expired(&self) -> u64 {
        self.expired
    }

    /// Flow `index`'s packets one way as its subscriber sees them (`outbound`:
    /// from the inside endpoint to the remote one; inbound: back), for TCP and
    /// UDP, and the place flow accounting keeps their record at; `None` for
    /// other protocols (an accounted ICMPv6 flow is by type and code, not by the
    /// echo identifier).
    pub(crate) fn accounted(&mut self, index: u32, outbound: bool) -> Option<(FlowKey, &mut u32)> {
        let flow = &mut self.flows[index as usize];
        let k = flow.key;
        if !matches!(k.protocol, IpProtocol::Tcp | IpProtocol::Udp) {
            return None;
        }
        let (inside, remote) = ((k.inside, k.in_port), (k.remote, k.rem_port));
        let ((src, sport), (dst, dport)) = if outbound {
            (inside, remote)
        } else {
            (remote, inside)
        };
        let key = FlowKey::v6(src, dst, (sport, dport), k.protocol.number());
        Some((key, &mut flow.accounting[usize::from(!outbound)]))
    }

    fn timeout(&self, protocol: IpProtocol, tcp_state: u8) -> u32 {
        self.timeouts.idle(protocol, tcp_state)
    }

    /// The flow key of `p` seen from the inside (`outbound`: the source is inside),
    /// and the TCP flags; `None` for packets that have no flow (ICMPv6 other than
    /// echo).
    fn key(p: &Packet<'_>, outbound: bool) -> Result<Option<(Key, u8)>, DropReason> {
        let (inside, remote) = if outbound {
            (p.src, p.dst)
        } else {
            (p.dst, p.src)
        };
        let mut key = Key {
            inside,
            remote,
            in_port: 0,
            rem_port: 0,
            protocol: p.protocol,
        };
        let Some(l4) = p.upper else {
            return Ok(None);
        };
        let l4 = L4Header::new(p.protocol, l4).map_err(|_| DropReason::Malformed)?;
        if let Some((sport, dport)) = l4.ports() {
            (key.in_port, key.rem_port) = if outbound {
                (sport, dport)
            } else {
                (dport, sport)
            };
        }
        if let (Some((kind, _)), Some(id)) = (l4.icmp_type_code(), l4.icmp_ident()) {
            match Icmpv6Type::from(kind) {
                Icmpv6Type::EchoRequest if outbound => key.in_port = id,
                Icmpv6Type::EchoReply if !outbound => key.in_port = id,
                _ => return Ok(None),
            }
        }
        let flags = l4.tcp_flags().unwrap_or(0);
        Ok(Some((key, flags)))
    }

    fn find(&mut self, key: &Key, now: u32) -> Option<u32> {
        let index = *self.index.get(key)?;
        if self.flows[index as usize].expires <= now {
            self.remove(index);
            return None;
        }
        Some(index)
    }

    fn touch(&mut self, index: u32, flags: u8, outbound: bool, now: u32) {
        let flow = &mut self.flows[index as usize];
        if flow.key.protocol == IpProtocol::Tcp {
            flow.tcp = tcp::next(flow.tcp, flags, outbound);
        }
        let (protocol, state, old) = (flow.key.protocol, flow.tcp, flow.expires);
        let expires = now + self.timeout(protocol, state);
        self.flows[index as usize].expires = expires;
        if expires < old {
            self.expire_earlier(index);
        }
    }

    /// The rare move of [`Firewall::touch`], out of line: inlined, the
    /// wheel's unlink and link cost every packet register saves
    /// (`benches/scripts/known-flow-instructions.sh`).
    #[cold]
    #[inline(never)]
    fn expire_earlier(&mut self, index: u32) {
        self.wheel.shortened(&mut self.flows, index);
    }

    fn create(&mut self, sub: SubscriberId, key: Key, now: u32) -> Result<u32, DropReason> {
        if self.live >= self.max_flows {
            return Err(DropReason::SessionLimit);
        }
        let flows = *self.subscriber_flows.get(sub);
        if flows >= self.flows_per_subscriber {
            return Err(DropReason::SubscriberSessionLimit);
        }
        self.subscriber_flows.update(sub, |n| *n += 1);
        if flows == 0 {
            self.mark_announce(sub);
        }
        let flow = Flow {
            key,
            subscriber: sub,
            tcp: 0,
            expires: now + self.timeout(key.protocol, 0),
            prev: NIL,
            next: NIL,
            slot: 0,
            live: true,
            fast: false,
            repeated: false,
            accounting: [NIL; 2],
        };
        let index = wheel::place(&mut self.flows, &mut self.free, flow);
        self.index.insert(key, index);
        if self.filtering != Filtering::Apdf {
            *self
                .admits
                .entry(key.admission(self.filtering))
                .or_default() += 1;
        }
        self.wheel.link(&mut self.flows, index);
        self.live += 1;
        self.created += 1;
        Ok(index)
    }

    fn remove(&mut self, index: u32) {
        self.wheel.unlink(&mut self.flows, index);
        let flow = self.flows[index as usize];
        self.index.remove(&flow.key);
        if self.filtering != Filtering::Apdf {
            let admission = flow.key.admission(self.filtering);
            if let Some(n) = self.admits.get_mut(&admission) {
                *n -= 1;
                if *n == 0 {
                    self.admits.remove(&admission);
                }
            }
        }
        let left = self.subscriber_flows.update(flow.subscriber, |n| {
            *n -= 1;
            *n
        });
        if left == 0 {
            self.mark_announce(flow.subscriber);
        }
        if flow.fast {
            self.fast_removed.push(flow);
        }
        self.flows[index as usize].live = false;
        wheel::release(&mut self.flows, &mut self.free, index);
        self.live -= 1;
        self.expired += 1;
    }

    /// A packet from subscriber `sub` to the WAN: opens or refreshes its flow
    /// (returned; `None` for packets that have none).
    pub(crate) fn outbound(
        &mut self,
        sub: SubscriberId,
        p: &Packet<'_>,
        now: u32,
    ) -> Result<Option<u32>, Refused> {
        if !self.enabled {
            return Ok(None);
        }
        let Some((key, flags)) = Self::key(p, true).map_err(Refused)? else {
            // Echo replies, errors about inbound packets, later fragments: no flow.
            return Ok(None);
        };
        let index = match self.find(&key, now) {
            Some(i) => i,
            None => self.create(sub, key, now).map_err(Refused)?,
        };
        self.touch(index, flags, true, now);
        if key.protocol == IpProtocol::Tcp && tcp::opens(flags) {
            // Simultaneous open: the held inbound SYN is dropped silently.
            self.held.cancel(&key);
        }
        Ok(Some(index))
    }

    /// A packet from the WAN to subscriber `sub`'s prefix: passes in the flow
    /// returned, or in none (`None`: ICMPv6, IPsec, an open port, a later
    /// fragment).
    pub(crate) fn inbound(
        &mut self,
        sub: SubscriberId,
        p: &Packet<'_>,
        now: u32,
    ) -> Result<Option<u32>, DropReason> {
        if !self.enabled {
            return Ok(None);
        }
        if self.ipsec
            && matches!(
                p.protocol,
                IpProtocol::Esp | IpProtocol::Ah | IpProtocol::Hip
            )
        {
            return Ok(None);
        }
        if p.protocol == IpProtocol::Icmpv6 && p.upper.is_some() {
            return self.inbound_icmp(p, now).map(|()| None);
        }
        let Some((key, flags)) = Self::key(p, false)? else {
            return self.later_fragment(p, now).map(|()| None);
        };
        let flow = self.admit(sub, &key, flags, now)?;
        if p.fragment {
            self.remember_fragments(p, now);
        }
        Ok(flow)
    }

    /// Whether the flow of an inbound packet may pass (refreshing or creating
    /// it): in which flow, `None` if its subscriber's policy lets it in without.
    fn admit(
        &mut self,
        sub: SubscriberId,
        key: &Key,
        flags: u8,
        now: u32,
    ) -> Result<Option<u32>, DropReason> {
        if let Some(index) = self.find(key, now) {
            self.touch(index, flags, false, now);
            return Ok(Some(index));
        }
        let s = self.policy(sub);
        let ported = matches!(key.protocol, IpProtocol::Tcp | IpProtocol::Udp);
        if s.open
            || (ported
                && s.open_ports
                    .iter()
                    .any(|o| o.protocol == key.protocol && o.contains(key.in_port)))
            || (self.ipsec && key.protocol == IpProtocol::Udp && key.in_port == IKE_PORT)
        {
            return Ok(None);
        }
        let syn = key.protocol == IpProtocol::Tcp && tcp::opens(flags);
        let opens = key.protocol != IpProtocol::Tcp || syn;
        if self.filtering != Filtering::Apdf
            && opens
            && ported
            && self.admits.contains_key(&key.admission(self.filtering))
        {
            let index = self.create(sub, *key, now)?;
            self.touch(index, flags, false, now);
            return Ok(Some(index));
        }
        if syn {
            return Err(self.held.hold(*key, now));
        }
        Err(DropReason::Filtered)
    }

    /// ICMPv6 from the WAN: echo requests (if allowed), echo replies of a flow,
    /// errors about a flow.
    fn inbound_icmp(&mut self, p: &Packet<'_>, now: u32) -> Result<(), DropReason> {
        let icmp = p.upper.unwrap_or_default();
        if icmp.len() < 8 {
            return Err(DropReason::Malformed);
        }
        let kind = Icmpv6Type::from(icmp[0]);
        match kind {
            Icmpv6Type::EchoRequest if self.inbound_echo => Ok(()),
            Icmpv6Type::EchoReply => {
                let key = Self::key(p, false)?.ok_or(DropReason::Malformed)?.0;
                match self.find(&key, now) {
                    Some(index) => {
                        self.touch(index, 0, false, now);
                        Ok(())
                    }
                    None => Err(DropReason::Filtered),
                }
            }
            Icmpv6Type::DestUnreachable
            | Icmpv6Type::PacketTooBig
            | Icmpv6Type::TimeExceeded
            | Icmpv6Type::ParameterProblem => self.inbound_error(p, icmp, now),
            Icmpv6Type::EchoRequest => Err(DropReason::Filtered),
            _ => Err(DropReason::UnsupportedIcmp),
        }
    }

    /// An ICMPv6 error about a packet a subscriber sent: passes if the quote (whose
    /// source is the inside host) matches a live flow; never refreshes it.
    fn inbound_error(&mut self, p: &Packet<'_>, icmp: &[u8], now: u32) -> Result<(), DropReason> {
        if p.fragment || crate::icmp::icmpv6_checksum(p.src, p.dst, icmp) != 0 {
            return Err(DropReason::IcmpErrorBadChecksum);
        }
        let q = QuotedPacket::new(&icmp[8..]).map_err(|_| DropReason::IcmpErrorBadQuote)?;
        let (IpAddr::V6(src), IpAddr::V6(dst)) = (q.src_addr(), q.dst_addr()) else {
            return Err(DropReason::IcmpErrorBadQuote);
        };
        if src != p.dst {
            return Err(DropReason::IcmpErrorBadQuote);
        }
        let protocol = q.ip_protocol();
        let (in_port, rem_port) = match protocol {
            p if p.has_ports() => (
                q.src_port().ok_or(DropReason::IcmpErrorBadQuote)?,
                q.dst_port().ok_or(DropReason::IcmpErrorBadQuote)?,
            ),
            IpProtocol::Icmpv6 => (q.icmp_id().ok_or(DropReason::IcmpErrorBadQuote)?, 0),
            _ => (0, 0),
        };
        let key = Key {
            inside: src,
            remote: dst,
            in_port,
            rem_port,
            protocol,
        };
        match self.find(&key, now) {
            Some(_) => Ok(()),
            None => Err(DropReason::IcmpErrorNoSession),
        }
    }

    fn remember_fragments(&mut self, p: &Packet<'_>, now: u32) {
        let pair = (p.src, p.dst);
        if self.fragments.len() >= self.max_fragment_pairs && !self.fragments.contains_key(&pair) {
            self.fragments.retain(|_, until| *until > now);
            if self.fragments.len() >= self.max_fragment_pairs {
                return;
            }
        }
        self.fragments.insert(pair, now + self.timeouts.fragments);
    }

    fn later_fragment(&mut self, p: &Packet<'_>, now: u32) -> Result<(), DropReason> {
        match self.fragments.get(&(p.src, p.dst)) {
            Some(&until) if until > now => Ok(()),
            _ => Err(DropReason::FragmentOrphan),
        }
    }

    /// Keeps the start of the SYN just held (as much as an ICMPv6 error quotes,
    /// RFC 4443 §2.4 (c)), for the error to the WAN.
    pub(crate) fn held_quote(&mut self, p: &Packet<'_>, packet: &[u8]) {
        if let Ok(Some((key, _))) = Self::key(p, false) {
            let quote = &packet[..packet.len().min(crate::icmp::V6_QUOTE)];
            self.held
                .set_quote(&key, quote, crate::iface::Interface::Wan);
        }
    }

    /// Held SYNs whose time is up: ICMPv6 1/1 goes back to their senders.
    pub(crate) fn release_held(&mut self, now: u32, budget: usize) -> Vec<Released> {
        self.held.release(now, budget)
    }

    /// Expiry work that is due (bounded by `budget`).
    /// Whether the wheel has not yet walked every second up to `now`.
    pub(crate) fn expiry_behind(&self, now: u32) -> bool {
        self.wheel.due(now)
    }

    pub(crate) fn expire(&mut self, now: u32, budget: usize) {
        if !self.wheel.due(now) {
            return;
        }
        let mut work = 0;
        while let Some(index) = self
            .wheel
            .next_expired(&mut self.flows, now, &mut work, budget)
        {
            self.remove(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_keys_follow_the_filtering_mode() {
        let key = Key {
            inside: "2001:db8:1::2".parse().unwrap(),
            remote: "2001:db8:ffff::80".parse().unwrap(),
            in_port: 40000,
            rem_port: 443,
            protocol: IpProtocol::Tcp,
        };
        let eif = key.admission(Filtering::Eif);
        assert_eq!(
            (eif.remote, eif.in_port, eif.rem_port),
            (Ipv6Addr::UNSPECIFIED, 40000, 0)
        );
        let adf = key.admission(Filtering::Adf);
        assert_eq!((adf.remote, adf.rem_port), (key.remote, 0));
    }

    #[test]
    fn flow_records_stay_small() {
        // 60: a 32-bit subscriber id (ranges) took the 56 of a 16-bit one; 68:
        // the places of the flow's two accounting records.
        assert_eq!(std::mem::size_of::<Flow>(), 68);
    }
}
