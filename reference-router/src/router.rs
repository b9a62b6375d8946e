//! The sans-IO router: [`Router::process`] takes one packet, the interface it came
//! from and the time, and says what to do with it. Packets the router makes on its
//! own (held SYNs timing out, fragments of a packet too big for the link, fragments
//! that waited for their first) and packets a link's shaper lets out come out of
//! [`Router::poll_transmit`].
//!
//! IPv4 from a subscriber: anti-spoofing, TTL, NAT44 out (or hairpin back in),
//! MTU. IPv4 from the WAN: NAT44 in. IPv6 either way: routed natively by prefix,
//! hop limit and MTU checked, through the RFC 6092 firewall when it crosses the WAN
//! (no translation). Then, if the egress link has a rate, its shaper (IPv6 first).

use crate::config::{Config, ConfigError};
use crate::firewall::{self, Firewall, Refused};
use crate::icmp::{self, RateLimit};
use crate::nat::frag::{Applied, FragKey};
use crate::nat::{self, Decision, Nat};
use crate::shaper::Shaper;
use crate::stats::{Counters, DropReason, ShaperUse, Snapshot, SubscriberUse};
use crate::tunnels::{self, Tunnel};
use ipnet::Ipv4Net;
use sixfold_rewrite::{Ipv4Packet, Ipv6Packet, Rewrite, Ttl};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::time::{Duration, Instant};

/// A subscriber: the index of its `[[subscriber]]` entry in the configuration.
pub type SubscriberId = u16;

/// An interface of the router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Interface {
    /// The uplink.
    Wan,
    /// A subscriber's TUN.
    Subscriber(SubscriberId),
}

/// Where a packet came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From a subscriber, towards the WAN (or another subscriber).
    Outbound(SubscriberId),
    /// From the WAN.
    Inbound,
}

impl Direction {
    fn interface(self) -> Interface {
        match self {
            Direction::Outbound(s) => Interface::Subscriber(s),
            Direction::Inbound => Interface::Wan,
        }
    }
}

/// What to do with the packet in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The buffer holds the packet, rewritten: send it out of this interface.
    Forward(Interface),
    /// The packet was dropped and the buffer now holds an ICMP message about it:
    /// send that out of this interface (the one the packet came from).
    Reply(Interface),
    /// The packet was dropped.
    Drop(DropReason),
    /// The router keeps the packet (a fragment that came before its first
    /// fragment); it comes out of [`Router::poll_transmit`] once it can be translated.
    Held,
    /// The packet waits in the egress shaper of this interface; it comes out of
    /// [`Router::poll_transmit`] when the link's rate lets it (see
    /// [`Router::next_wakeup`]).
    Queued(Interface),
}

/// A packet buffer with room to grow: the packet is `bytes()[..len()]`, and the
/// router may write a longer ICMP message into it.
#[derive(Clone)]
pub struct PacketBuf {
    storage: Box<[u8]>,
    len: usize,
}

impl Default for PacketBuf {
    fn default() -> PacketBuf {
        PacketBuf::new()
    }
}

impl std::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PacketBuf({} bytes)", self.len)
    }
}

impl PacketBuf {
    /// Room for any IP packet and an ICMP error built over it.
    pub const CAPACITY: usize = 65535 + icmp::HEADROOM;

    /// An empty buffer.
    pub fn new() -> PacketBuf {
        PacketBuf {
            storage: vec![0; PacketBuf::CAPACITY].into_boxed_slice(),
            len: 0,
        }
    }

    /// A buffer holding `packet` (cut at 65535 bytes).
    pub fn from_packet(packet: &[u8]) -> PacketBuf {
        let mut b = PacketBuf::new();
        let n = packet.len().min(65535);
        b.storage[..n].copy_from_slice(&packet[..n]);
        b.len = n;
        b
    }

    /// The packet.
    pub fn packet(&self) -> &[u8] {
        &self.storage[..self.len]
    }

    /// The packet, writable.
    pub fn packet_mut(&mut self) -> &mut [u8] {
        &mut self.storage[..self.len]
    }

    /// Length of the packet.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no packet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All of the storage, to read a packet into (then [`PacketBuf::set_len`]).
    pub fn storage_mut(&mut self) -> &mut [u8] {
        &mut self.storage[..65535]
    }

    /// Sets the packet length after a read (capped at 65535).
    pub fn set_len(&mut self, len: usize) {
        self.len = len.min(65535);
    }
}

/// An ICMP error to send about the packet in the buffer, and why it is dropped.
struct Report {
    kind: (u8, u8),
    rest: u32,
    what: &'static str,
    reason: DropReason,
}

struct Port {
    name: String,
    mtu: usize,
    ipv4: Vec<Ipv4Net>,
}

/// Most ICMP and fragment output a single packet can cause.
const QUEUE_LIMIT: usize = 4096;
/// Timer work done per packet.
const BUDGET: usize = 64;

/// The router.
pub struct Router {
    config: Config,
    nat: Nat,
    firewall: Firewall,
    ports: Vec<Port>,
    wan_mtu: usize,
    /// Subscriber prefixes: per prefix length present (longest first), the upper
    /// 64 bits of each prefix → its subscriber. A lookup is one probe per length.
    v6_routes: Vec<(u8, HashMap<u64, SubscriberId>)>,
    counters: Counters,
    queue: VecDeque<(Interface, Vec<u8>)>,
    rate: RateLimit,
    epoch: Instant,
    six_rd: Option<sixfold_teredo::SixRd>,
    /// Per subscriber: the /64s it is told to configure addresses from.
    ra_prefixes: Vec<Vec<Ipv6Addr>>,
    /// When the next unsolicited router advertisement is due.
    next_ra: u32,
    /// Teredo flows already logged (bounded; cleared when full).
    teredo_logged: HashSet<(u32, u32, u16, u16)>,
    /// Egress shapers: index 0 the WAN, 1 + k subscriber k.
    shapers: Vec<Option<Shaper>>,
    /// Indexes of the shapers with packets waiting: the per-packet work is theirs
    /// only, however many subscribers have a rate.
    busy: Vec<usize>,
}

/// Teredo flows remembered for log-once.
const TEREDO_LOG_FLOWS: usize = 4096;

impl Router {
    /// A router for `config` (validated here), with `seed` keying the random
    /// choices (port allocation), starting at time `now`.
    pub fn new(config: Config, seed: u64, now: Instant) -> Result<Router, ConfigError> {
        config.validate()?;
        let mut v6_routes: Vec<(u8, HashMap<u64, SubscriberId>)> = Vec::new();
        for (i, sub) in config.subscriber.iter().enumerate() {
            for net in &sub.ipv6 {
                let len = net.prefix_len();
                let at = match v6_routes.iter().position(|(l, _)| *l == len) {
                    Some(at) => at,
                    None => {
                        v6_routes.push((len, HashMap::new()));
                        v6_routes.len() - 1
                    }
                };
                v6_routes[at]
                    .1
                    .insert(upper64(net.network()), i as SubscriberId);
            }
        }
        v6_routes.sort_by_key(|r| std::cmp::Reverse(r.0));
        let ports = config
            .subscriber
            .iter()
            .map(|s| Port {
                name: s.name.clone(),
                mtu: usize::from(s.mtu),
                ipv4: s.ipv4.clone(),
            })
            .collect();
        let nat = Nat::new(&config.nat, config.subscriber.len(), seed, 0);
        let firewall = Firewall::new(&config, 0);
        let shapers = std::iter::once(config.wan.rate_mbps)
            .chain(config.subscriber.iter().map(|s| s.rate_mbps))
            .map(|rate| rate.map(|mbps| Shaper::new(mbps, &config.shaper, now)))
            .collect();
        let config_six_rd = config.tunnels.six_rd();
        // SLAAC needs a /64: a delegated shorter prefix is advertised by its first /64.
        let ra_prefixes = config
            .subscriber
            .iter()
            .map(|s| s.ipv6.iter().map(|n| n.network()).collect())
            .collect();
        Ok(Router {
            wan_mtu: usize::from(config.wan.mtu),
            rate: RateLimit::new(config.router.icmp_rate),
            config,
            nat,
            firewall,
            ports,
            v6_routes,
            counters: Counters::new(),
            queue: VecDeque::new(),
            epoch: now,
            six_rd: config_six_rd,
            ra_prefixes,
            next_ra: 0,
            teredo_logged: HashSet::new(),
            shapers,
            busy: Vec::new(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn seconds(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.epoch).as_secs() as u32
    }

    fn mtu(&self, i: Interface) -> usize {
        match i {
            Interface::Wan => self.wan_mtu,
            Interface::Subscriber(s) => self.ports[usize::from(s)].mtu,
        }
    }

    /// Handles one packet from `direction`; see [`Verdict`].
    pub fn process(
        &mut self,
        direction: Direction,
        buffer: &mut PacketBuf,
        now: Instant,
    ) -> Verdict {
        let instant = now;
        let now = self.seconds(now);
        self.timers(now);
        self.release_shaped(instant);
        if let Direction::Outbound(s) = direction
            && usize::from(s) >= self.ports.len()
        {
            return self.dropped(DropReason::Malformed);
        }
        let verdict = match buffer.packet().first().map(|b| b >> 4) {
            Some(4) => self.ipv4(direction, buffer, now),
            Some(6) => self.ipv6(direction, buffer, now),
            _ => Err(DropReason::Malformed),
        };
        match verdict {
            Ok(Verdict::Forward(to)) => self.shape(to, buffer.packet(), instant),
            Ok(v) => v,
            Err(reason) => self.dropped(reason),
        }
    }

    fn shaper_index(to: Interface) -> usize {
        match to {
            Interface::Wan => 0,
            Interface::Subscriber(s) => 1 + usize::from(s),
        }
    }

    /// A forwarded packet through `to`'s shaper, if it has one.
    fn shape(&mut self, to: Interface, packet: &[u8], now: Instant) -> Verdict {
        let index = Self::shaper_index(to);
        let Some(shaper) = self.shapers[index].as_mut() else {
            return Verdict::Forward(to);
        };
        let was_empty = shaper.is_empty();
        let v6 = packet[0] >> 4 == 6;
        if !shaper.enqueue(v6, packet) {
            return self.dropped(DropReason::ShaperQueueFull);
        }
        if was_empty {
            self.busy.push(index);
        }
        self.release_shaped(now);
        Verdict::Queued(to)
    }

    /// Moves what the shapers let out at `now` to the transmit queue.
    fn release_shaped(&mut self, now: Instant) {
        let mut k = 0;
        while k < self.busy.len() {
            let i = self.busy[k];
            let to = match i {
                0 => Interface::Wan,
                s => Interface::Subscriber((s - 1) as SubscriberId),
            };
            while let Some((_, packet)) = self.shapers[i].as_mut().and_then(|s| s.dequeue(now)) {
                self.enqueue(to, packet);
            }
            if self.shapers[i].as_ref().is_none_or(Shaper::is_empty) {
                self.busy.swap_remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// How long the I/O loop may wait before a shaped packet is due (`None`:
    /// nothing is queued in a shaper).
    pub fn next_wakeup(&mut self, now: Instant) -> Option<Duration> {
        let shapers = &mut self.shapers;
        self.busy
            .iter()
            .filter_map(|&i| shapers[i].as_mut()?.wait(now))
            .min()
    }

    fn dropped(&mut self, reason: DropReason) -> Verdict {
        self.counters.drop(reason);
        Verdict::Drop(reason)
    }

    /// Runs timers without a packet (the I/O loop calls this when idle).
    pub fn tick(&mut self, now: Instant) {
        let seconds = self.seconds(now);
        self.timers(seconds);
        self.release_shaped(now);
    }

    /// Writes subscriber `sub`'s router advertisement to all-nodes into `buf`.
    fn advertisement(&self, sub: SubscriberId, buf: &mut [u8]) -> usize {
        let ad = icmp::Advertisement {
            prefixes: &self.ra_prefixes[usize::from(sub)],
            mtu: self.ports[usize::from(sub)].mtu as u32,
            rdnss: &self.config.router.rdnss,
            interval: self.config.router.ra_interval,
        };
        icmp::router_advertisement(buf, ALL_NODES, &ad)
    }

    fn timers(&mut self, now: u32) {
        if self.config.router.ra && now >= self.next_ra {
            // Unsolicited advertisements (RFC 4861 §6.2.4), the first at start.
            self.next_ra = now + self.config.router.ra_interval;
            for sub in 0..self.ports.len() as SubscriberId {
                if self.ra_prefixes[usize::from(sub)].is_empty() {
                    continue;
                }
                let mut buf = vec![0u8; 1280];
                let n = self.advertisement(sub, &mut buf);
                buf.truncate(n);
                self.counters.icmp("router_advertisement");
                self.enqueue(Interface::Subscriber(sub), buf);
            }
        }
        let before = self.nat.table.expired;
        let lost = self.nat.expire(now, BUDGET);
        self.counters.sessions_expired += self.nat.table.expired - before;
        self.counters.drops[DropReason::FragmentTimeout.index()] += lost;
        self.firewall.expire(now, BUDGET);
        for quote in self.firewall.release_held(now, BUDGET) {
            // RFC 6092: no outbound SYN came; administratively prohibited.
            if quote.len() < 40 || !icmp::may_report_v6(&quote, false) || !self.rate.take(now) {
                continue;
            }
            let mut buf = vec![0u8; 1280.max(quote.len() + 48)];
            buf[..quote.len()].copy_from_slice(&quote);
            let n = icmp::ipv6_error(&mut buf, quote.len(), self.config.router.ipv6, 1, 1, 0);
            buf.truncate(n);
            self.counters.icmp("ipv6_admin_prohibited");
            self.enqueue(Interface::Wan, buf);
        }
        for quote in self.nat.release_held(now, BUDGET) {
            // RFC 5382 REQ-4: no outbound SYN came; answer with port unreachable
            // from the address the SYN was sent to.
            if quote.len() < 20 || !self.rate.take(now) {
                continue;
            }
            let mut buf = vec![0u8; quote.len() + icmp::HEADROOM];
            buf[..quote.len()].copy_from_slice(&quote);
            let from = Ipv4Addr::new(quote[16], quote[17], quote[18], quote[19]);
            let n = icmp::ipv4_error(&mut buf, quote.len(), from, 3, 3, 0);
            buf.truncate(n);
            self.counters.icmp("port_unreachable");
            self.enqueue(Interface::Wan, buf);
        }
    }

    fn enqueue(&mut self, to: Interface, packet: Vec<u8>) {
        if self.queue.len() >= QUEUE_LIMIT {
            self.counters.drop(DropReason::QueueFull);
            return;
        }
        self.queue.push_back((to, packet));
    }

    /// A packet the router made on its own, copied into `buffer`, and where it goes.
    pub fn poll_transmit(&mut self, buffer: &mut PacketBuf) -> Option<Interface> {
        let (to, packet) = self.queue.pop_front()?;
        buffer.storage[..packet.len()].copy_from_slice(&packet);
        buffer.len = packet.len();
        Some(to)
    }

    /// Turns the buffer into an ICMP (IPv4) or ICMPv6 error about its packet, if RFC
    /// 1812 / RFC 4443 and the rate limit allow; the packet is dropped either way.
    fn report(
        &mut self,
        buffer: &mut PacketBuf,
        to: Interface,
        report: Report,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let Report {
            kind,
            rest,
            what,
            reason,
        } = report;
        let v6 = buffer.packet()[0] >> 4 == 6;
        let allowed = if v6 {
            icmp::may_report_v6(buffer.packet(), kind.0 == 2)
        } else {
            icmp::may_report_v4(buffer.packet())
        };
        if !allowed {
            return Err(reason);
        }
        if !self.rate.take(now) {
            self.counters.drop(DropReason::IcmpRateLimited);
            return Err(reason);
        }
        let len = buffer.len;
        buffer.len = if v6 {
            icmp::ipv6_error(
                &mut buffer.storage,
                len,
                self.config.router.ipv6,
                kind.0,
                kind.1,
                rest,
            )
        } else {
            let from = match to {
                Interface::Wan => self.nat.first_public(),
                Interface::Subscriber(_) => self.config.router.ipv4,
            };
            icmp::ipv4_error(&mut buffer.storage, len, from, kind.0, kind.1, rest)
        };
        self.counters.drop(reason);
        self.counters.icmp(what);
        Ok(Verdict::Reply(to))
    }

    fn ipv4(
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
        buffer.len = ip.total_len();
        if let Some(t) = tunnels::ipv4(buffer.packet(), &self.config.tunnels, self.six_rd.as_ref())
        {
            if t == Tunnel::Teredo {
                self.log_teredo(buffer.packet(), direction);
            }
            return Err(t.reason());
        }
        let ingress = direction.interface();
        let (src, dst) = nat::addresses(buffer.packet());
        let (src_ip, dst_ip) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
        let outbound = matches!(direction, Direction::Outbound(_));
        if let Direction::Outbound(sub) = direction {
            if !self.ports[usize::from(sub)]
                .ipv4
                .iter()
                .any(|n| n.contains(&src_ip))
            {
                return Err(DropReason::Spoofed);
            }
            if dst_ip.is_multicast()
                || dst_ip.is_broadcast()
                || dst_ip.is_unspecified()
                || dst_ip.is_loopback()
            {
                return Err(DropReason::NotRoutable);
            }
        } else if !self.nat.is_public(dst) {
            return Err(DropReason::NoRoute);
        }
        let ip = Ipv4Packet::new_unchecked(buffer.packet());
        let protocol = ip.protocol();
        let ihl = ip.header_len();
        let ttl = ip.ttl();
        let dont_frag = ip.dont_frag();
        let ident = ip.ident();
        let first = ip.frag_offset() == 0;
        let fragmented = ip.is_fragment();
        if ttl <= 1 {
            return self.report(
                buffer,
                ingress,
                Report {
                    kind: (11, 0),
                    rest: 0,
                    what: "time_exceeded",
                    reason: DropReason::TtlExceeded,
                },
                now,
            );
        }
        if !first {
            return self.later_fragment(
                direction,
                buffer,
                FragKey {
                    src,
                    dst,
                    ident,
                    protocol,
                    inbound: !outbound,
                },
                now,
            );
        }
        let l4 = &buffer.packet()[ihl..];
        let is_error = protocol == 1 && l4.first().is_some_and(|&t| matches!(t, 3 | 11 | 12));
        let decision = if is_error {
            match direction {
                Direction::Outbound(_) => self.nat.outbound_error(dst, l4, now),
                Direction::Inbound => self.nat.inbound_error(dst, l4, now),
            }
        } else {
            let f = nat::flow(protocol, src, dst, l4, outbound)?;
            let d = match direction {
                Direction::Outbound(sub) => self.nat.outbound(sub, &f, now),
                Direction::Inbound => self.nat.inbound(&f, now),
            };
            if d == Decision::Drop(DropReason::SynHeld) {
                self.nat.held_quote(&f, buffer.packet());
            }
            d
        };
        let (rewrite, egress, hairpin) = match decision {
            Decision::Translate {
                rewrite,
                egress,
                hairpin,
            } => (rewrite, egress, hairpin),
            Decision::Drop(reason) => return Err(reason),
            Decision::Refuse(reason) => {
                // RFC 5508 REQ-8 / RFC 6888 REQ-11: no mapping, nothing evicted, 3/13.
                return self.report(
                    buffer,
                    ingress,
                    Report {
                        kind: (3, 13),
                        rest: 0,
                        what: "admin_prohibited",
                        reason,
                    },
                    now,
                );
            }
        };
        let mtu = self.mtu(egress);
        if buffer.len > mtu && dont_frag {
            // RFC 4787 REQ-13, RFC 1191: fragmentation needed, with the next-hop MTU.
            return self.report(
                buffer,
                ingress,
                Report {
                    kind: (3, 4),
                    rest: mtu as u32,
                    what: "fragmentation_needed",
                    reason: DropReason::TooBig,
                },
                now,
            );
        }
        let rewrite = Rewrite {
            ttl: Some(Ttl::Sub(1)),
            ..rewrite
        };
        rewrite
            .apply(buffer.packet_mut())
            .map_err(|_| DropReason::Malformed)?;
        if fragmented {
            // A first fragment: remember what happened for the others.
            let (new_src, new_dst) = nat::addresses(buffer.packet());
            let key = FragKey {
                src,
                dst,
                ident,
                protocol,
                inbound: !outbound,
            };
            let applied = Applied {
                src: new_src,
                dst: new_dst,
                egress,
            };
            match self.nat.fragments.first(key, applied, now) {
                Ok(early) => {
                    for mut p in early {
                        if self.rewrite_fragment(&mut p, applied).is_ok() {
                            self.counters.fragments_translated += 1;
                            self.enqueue(egress, p);
                        }
                    }
                }
                Err(_) => self.counters.drop(DropReason::FragmentLimit),
            }
        }
        self.count_forward(outbound, hairpin, protocol, buffer.len);
        if buffer.len > mtu {
            self.fragment(buffer, egress, mtu);
        }
        Ok(Verdict::Forward(egress))
    }

    /// Logs once per flow what a dropped Teredo packet would have exposed.
    fn log_teredo(&mut self, packet: &[u8], direction: Direction) {
        let (src, dst) = nat::addresses(packet);
        let ihl = usize::from(packet[0] & 0x0f) * 4;
        let ports = packet.get(ihl..ihl + 4).map_or((0, 0), |p| {
            (
                u16::from_be_bytes([p[0], p[1]]),
                u16::from_be_bytes([p[2], p[3]]),
            )
        });
        if self.teredo_logged.len() >= TEREDO_LOG_FLOWS {
            self.teredo_logged.clear();
        }
        if !self.teredo_logged.insert((src, dst, ports.0, ports.1)) {
            return;
        }
        let e = tunnels::teredo_exposure(packet);
        tracing::warn!(
            ?direction,
            from = %std::net::SocketAddrV4::new(src.into(), ports.0),
            to = %std::net::SocketAddrV4::new(dst.into(), ports.1),
            client_public = ?e.client,
            guess_bits = ?e.bits,
            "Teredo blocked: it would have exposed the client's public address and port"
        );
    }

    fn count_forward(&mut self, outbound: bool, hairpin: bool, protocol: u8, len: usize) {
        self.counters.forward(false, outbound, protocol, len);
        if hairpin {
            self.counters.hairpinned += 1;
        }
    }

    fn rewrite_fragment(&self, packet: &mut [u8], applied: Applied) -> Result<(), DropReason> {
        let rewrite = Rewrite {
            src: Some(IpAddr::V4(applied.src.into())),
            dst: Some(IpAddr::V4(applied.dst.into())),
            ttl: Some(Ttl::Sub(1)),
            ..Rewrite::new()
        };
        rewrite
            .apply(packet)
            .map(|_| ())
            .map_err(|_| DropReason::Malformed)
    }

    fn later_fragment(
        &mut self,
        direction: Direction,
        buffer: &mut PacketBuf,
        key: FragKey,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        if let Some(applied) = self.nat.fragments.applied(&key) {
            self.rewrite_fragment(buffer.packet_mut(), applied)?;
            self.counters.fragments_translated += 1;
            self.count_forward(
                matches!(direction, Direction::Outbound(_)),
                false,
                key.protocol,
                buffer.len,
            );
            let mtu = self.mtu(applied.egress);
            if buffer.len > mtu {
                self.fragment(buffer, applied.egress, mtu);
            }
            return Ok(Verdict::Forward(applied.egress));
        }
        self.nat
            .fragments
            .buffer(key, buffer.packet(), now)
            .map_err(|_| DropReason::FragmentLimit)?;
        // Not lost: held until the first fragment comes (or counted at the timeout).
        Ok(Verdict::Held)
    }

    /// Splits the (DF=0) packet in the buffer into fragments that fit `mtu`: the
    /// first stays in the buffer, the rest are queued (RFC 791 §3.2).
    fn fragment(&mut self, buffer: &mut PacketBuf, egress: Interface, mtu: usize) {
        let packet = buffer.packet().to_vec();
        let ihl = usize::from(packet[0] & 0x0f) * 4;
        let per = (mtu - ihl) / 8 * 8;
        let payload = &packet[ihl..];
        let base_offset = usize::from(u16::from_be_bytes([packet[6], packet[7]]) & 0x1fff) * 8;
        let more_after = packet[6] & 0x20 != 0;
        let mut pieces = Vec::new();
        let mut at = 0;
        while at < payload.len() {
            let end = (at + per).min(payload.len());
            let mut p = Vec::with_capacity(ihl + end - at);
            p.extend_from_slice(&packet[..ihl]);
            p.extend_from_slice(&payload[at..end]);
            let total = p.len() as u16;
            p[2..4].copy_from_slice(&total.to_be_bytes());
            let more = end < payload.len() || more_after;
            let off = ((base_offset + at) / 8) as u16 | if more { 0x2000 } else { 0 };
            p[6..8].copy_from_slice(&off.to_be_bytes());
            p[10..12].copy_from_slice(&[0, 0]);
            let c = sixfold_checksum::checksum(&p[..ihl]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
            pieces.push(p);
            at = end;
        }
        let mut pieces = pieces.into_iter();
        if let Some(first) = pieces.next() {
            buffer.storage[..first.len()].copy_from_slice(&first);
            buffer.len = first.len();
        }
        for p in pieces {
            self.counters.fragments_generated += 1;
            self.enqueue(egress, p);
        }
        self.counters.fragments_generated += 1;
    }

    fn route_v6(&self, dst: Ipv6Addr) -> Option<SubscriberId> {
        let upper = upper64(dst);
        self.v6_routes.iter().find_map(|(len, routes)| {
            // Prefixes are at most /64 (validated); a /0 matches everything.
            let mask = u64::MAX.checked_shl(64 - u32::from(*len)).unwrap_or(0);
            routes.get(&(upper & mask)).copied()
        })
    }

    fn ipv6(
        &mut self,
        direction: Direction,
        buffer: &mut PacketBuf,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let ip = Ipv6Packet::new_checked(buffer.packet()).map_err(|_| DropReason::Malformed)?;
        let (src, dst, hop_limit, next) = (
            ip.src_addr(),
            ip.dst_addr(),
            ip.hop_limit(),
            ip.next_header(),
        );
        buffer.len = 40 + ip.payload_len();
        let upper = Ipv6Packet::new_unchecked(buffer.packet())
            .upper_layer()
            .ok();
        let protocol = upper.map_or(next, |u| u.protocol);
        let outbound = matches!(direction, Direction::Outbound(_));
        if let Some(t) = tunnels::ipv6(src, dst, protocol, outbound, &self.config.tunnels) {
            return Err(t.reason());
        }
        if let (Direction::Outbound(sub), Some(u)) = (direction, upper)
            && self.config.router.ra
            && protocol == 58
            && dst == ALL_ROUTERS
            && icmp::is_router_solicitation(buffer.packet(), u.offset)
        {
            // RFC 4861 §6.2.6: answer to all-nodes.
            buffer.len = self.advertisement(sub, &mut buffer.storage);
            self.counters.icmp("router_advertisement");
            return Ok(Verdict::Reply(Interface::Subscriber(sub)));
        }
        if dst.is_multicast()
            || dst.is_unicast_link_local()
            || dst.is_unspecified()
            || dst.is_loopback()
        {
            return Err(DropReason::NotRoutable);
        }
        let ingress = direction.interface();
        let egress = match direction {
            Direction::Outbound(sub) => {
                if self.route_v6(src) != Some(sub) {
                    return Err(DropReason::Ipv6Spoofed);
                }
                self.route_v6(dst)
                    .map_or(Interface::Wan, Interface::Subscriber)
            }
            Direction::Inbound => {
                if self.route_v6(src).is_some() {
                    return Err(DropReason::Ipv6Spoofed);
                }
                Interface::Subscriber(self.route_v6(dst).ok_or(DropReason::NoRoute)?)
            }
        };
        // The firewall sees what crosses the WAN; inbound before anything else, so
        // an unsolicited packet draws no error from the router.
        let crosses_wan = matches!(egress, Interface::Wan) || !outbound;
        if crosses_wan && upper.is_none() {
            // An extension-header chain the walk could not follow: no flow to judge.
            return Err(DropReason::Malformed);
        }
        if crosses_wan && firewall::has_routing_header_0(buffer.packet()) {
            return Err(DropReason::Ipv6RoutingHeader0);
        }
        if let (Interface::Subscriber(sub), false, Some(u)) = (egress, outbound, upper) {
            let p = firewall::Packet::new(buffer.packet(), u, protocol);
            if let Err(reason) = self.firewall.inbound(sub, &p, now) {
                if reason == DropReason::SynHeld {
                    self.firewall.held_quote(&p, buffer.packet());
                }
                return Err(reason);
            }
        }
        if hop_limit <= 1 {
            return self.report(
                buffer,
                ingress,
                Report {
                    kind: (3, 0),
                    rest: 0,
                    what: "ipv6_time_exceeded",
                    reason: DropReason::TtlExceeded,
                },
                now,
            );
        }
        let mtu = self.mtu(egress);
        if buffer.len > mtu {
            // RFC 8200 §5: routers do not fragment IPv6; packet too big (RFC 4443 §3.2).
            return self.report(
                buffer,
                ingress,
                Report {
                    kind: (2, 0),
                    rest: mtu as u32,
                    what: "ipv6_packet_too_big",
                    reason: DropReason::TooBig,
                },
                now,
            );
        }
        if let (Direction::Outbound(sub), true, Some(u)) = (direction, crosses_wan, upper) {
            let p = firewall::Packet::new(buffer.packet(), u, protocol);
            if let Err(Refused(reason)) = self.firewall.outbound(sub, &p, now) {
                return self.report(
                    buffer,
                    ingress,
                    Report {
                        kind: (1, 1),
                        rest: 0,
                        what: "ipv6_admin_prohibited",
                        reason,
                    },
                    now,
                );
            }
        }
        buffer.storage[7] = hop_limit - 1;
        self.counters.forward(
            true,
            matches!(direction, Direction::Outbound(_)),
            protocol,
            buffer.len,
        );
        Ok(Verdict::Forward(egress))
    }

    /// The external endpoint of the mapping of inside endpoint `inside` for
    /// `protocol` (6, 17 or 1 with the identifier as port), under endpoint-independent
    /// mapping; for ADM/APDM the first mapping found for the endpoint.
    pub fn mapping_of(&self, protocol: u8, inside: SocketAddrV4) -> Option<SocketAddrV4> {
        self.nat
            .table
            .external_of(protocol, u32::from(*inside.ip()), inside.port())
            .map(|(a, p)| SocketAddrV4::new(a.into(), p))
    }

    /// The counters, sessions and per-subscriber use.
    pub fn snapshot(&self) -> Snapshot {
        let c = &self.counters;
        let table = &self.nat.table;
        Snapshot {
            drops: crate::stats::DropReason::ALL
                .iter()
                .map(|r| (r.name(), c.drops[r.index()]))
                .collect(),
            ipv4: c.family(false),
            ipv6: c.family(true),
            hairpinned: c.hairpinned,
            icmp_sent: c.icmp_sent.clone(),
            sessions: u64::from(table.live_sessions()),
            mappings: u64::from(table.live_mappings()),
            sessions_created: table.created(),
            sessions_expired: c.sessions_expired,
            ipv6_flows: u64::from(self.firewall.live()),
            ipv6_flows_created: self.firewall.created(),
            ipv6_flows_expired: self.firewall.expired,
            fragments_translated: c.fragments_translated,
            fragments_generated: c.fragments_generated,
            subscribers: self
                .ports
                .iter()
                .zip(&table.subscribers)
                .enumerate()
                .map(|(i, (p, s))| SubscriberUse {
                    name: p.name.clone(),
                    public_ipv4: s.pool_index.map(|i| Ipv4Addr::from(table.pool[i as usize])),
                    ports: ["tcp", "udp", "icmp"].into_iter().zip(s.ports).collect(),
                    sessions: s.sessions,
                    ipv6_flows: self.firewall.subscriber_flows(i),
                })
                .collect(),
            shapers: self
                .shapers
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let s = s.as_ref()?;
                    Some(ShaperUse {
                        name: match i {
                            0 => self.config.wan.name.clone(),
                            k => self.ports[k - 1].name.clone(),
                        },
                        rate_mbps: s.mbps,
                        ipv4: s.counts[0],
                        ipv6: s.counts[1],
                    })
                })
                .collect(),
        }
    }
}

const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

fn upper64(a: Ipv6Addr) -> u64 {
    (u128::from(a) >> 64) as u64
}
