//! The sans-IO router: [`Router::process`] takes one packet, the interface it came
//! from and the time, and says what to do with it. Packets the router makes on its
//! own (held SYNs timing out, fragments of a packet too big for the link, fragments
//! that waited for their first, router advertisements) and packets a link's shaper
//! lets out come out of [`Router::poll_transmit`].
//!
//! One packet passes each stage once, in order:
//!
//! 1. [`timers`]: work that is due (expiry, held SYNs, advertisements), bounded.
//! 2. [`ipv4`] or [`ipv6`] by version: parse through `sixfold-rewrite`'s views,
//!    tunnel blocking, anti-spoofing, then NAT44 (IPv4) or routing by prefix and the
//!    RFC 6092 firewall (IPv6), TTL / hop limit and MTU — answered by an ICMP error
//!    from [`reply`] where the RFCs ask; IPv4 [`fragment`]s follow their first.
//! 3. [`egress`]: the link's shaper (IPv6 first), if it has a rate.
//!
//! Each stage owns its state: [`links`] the interfaces, the NAT its table, the
//! firewall its flows, [`egress`] the queues; [`snapshot`] reads them all.

mod egress;
mod export;
mod fastpath;
mod fragment;
mod handover;
mod ipv4;
mod ipv6;
mod links;
mod reload;
mod reply;
mod snapshot;
mod timers;
pub(crate) mod xlat;

use crate::buf::PacketBuf;
use crate::config::{Config, ConfigError};
use crate::firewall::Firewall;
use crate::iface::{Direction, Interface, RouteChange, Shard, SubscriberId};
use crate::ipfix::Exports;
use crate::ipfix::accounting::Accounting;
use crate::layout::Layout;
use crate::nat::Nat;
use crate::nat::frag::SharedFragments;
use crate::offload;
use crate::stats::{Counters, Datapath, DropReason};
use egress::Egress;
use links::Links;
pub use reload::{Reload, ReloadBase};
use reply::Replies;
use sixfold_rewrite::{IpVersion, Ipv6Packet};
use std::time::{Duration, Instant};
use timers::Timers;
use xlat::Translation;

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
    /// (Several workers.) The buffer holds a packet hairpinned to a public port
    /// another worker owns, translated on its way out: give it to that worker's
    /// [`Router::process_handoff`].
    Handoff(u16),
}

/// The router.
pub struct Router {
    config: Config,
    /// The ids of the configuration's subscribers (they stay across reloads).
    layout: Layout,
    links: Links,
    nat: Nat,
    firewall: Firewall,
    egress: Egress,
    replies: Replies,
    timers: Timers,
    counters: Counters,
    teredo_log: ipv4::TeredoLog,
    six_rd: Option<sixfold_teredo::SixRd>,
    epoch: Instant,
    shard: Shard,
    /// The packet in hand was handed over by another worker after its way out
    /// of a hairpin: taken in without a second TTL decrement.
    continuing_hairpin: bool,
    datapath: Datapath,
    /// NAT64 and SIIT: their settings, the NAT64 aliases, a buffer.
    translation: Translation,
    /// Records for the IPFIX exporter.
    exports: Exports,
    /// Flow accounting before the NAT (`[ipfix] accounting`).
    accounting: Option<Accounting>,
    /// Milliseconds since the epoch at the call in hand.
    clock_ms: u64,
    /// The instant `clock_ms` was computed for: the I/O loop passes one instant
    /// for a whole burst, and the subtraction is not free.
    clock_at: Instant,
    /// Where [`Router::release_all`] goes on.
    release_cursor: usize,
    /// Fast-path changes for the I/O loop ([`Router::poll_fastpath_change`]).
    fast_changes: std::collections::VecDeque<crate::fastpath::FastPathChange>,
    /// What the fast path carried and its state, for the snapshot.
    fast_use: crate::stats::FastPathUse,
}

impl Router {
    /// A router for `config` (validated here), with `seed` keying the random
    /// choices (port allocation), starting at time `now`.
    pub fn new(config: Config, seed: u64, now: Instant) -> Result<Router, ConfigError> {
        Ok(Router::workers(config, seed, now, 1)?.remove(0))
    }

    /// `count` routers for `config` that run side by side, one per worker thread
    /// ([`Shard`]): each serves the subscribers and the public port slices it owns
    /// (see [`Router::steer`]), with its share of the session, held-SYN and ICMP
    /// rate limits; IPv4 fragment state and the links' shapers are shared.
    pub fn workers(
        config: Config,
        seed: u64,
        now: Instant,
        count: u16,
    ) -> Result<Vec<Router>, ConfigError> {
        let count = count.max(1);
        // Every check, those that depend on the workers included (a port
        // block must fit each one's slice of the ports).
        if let Some(e) = config.problems(Some(count)).into_iter().next() {
            return Err(e);
        }
        let n = &config.nat;
        let layout = Layout::of(&config);
        let shapers = egress::shapers(&config, &layout, now);
        let fragments = SharedFragments::new(
            n.max_fragment_flows,
            n.max_fragment_bytes,
            n.timeouts.fragments,
        );
        let x = &config.ipfix;
        let mut routers: Vec<Router> = (0..count)
            .map(|index| {
                let shard = Shard { index, count };
                let worker_seed = seed ^ u64::from(index).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                Router {
                    links: Links::new(&config, &layout),
                    nat: Nat::new(
                        &config.nat,
                        config.subscriber.len(),
                        seed,
                        0,
                        shard,
                        fragments.clone(),
                    ),
                    firewall: Firewall::new(&config, &layout, 0, count),
                    egress: Egress::new(shapers.clone(), index == 0),
                    replies: Replies::new(&config.router, count),
                    timers: Timers::new(),
                    counters: Counters::new(config.subscriber.len()),
                    teredo_log: ipv4::TeredoLog::default(),
                    six_rd: config.tunnels.six_rd(),
                    epoch: now,
                    shard,
                    continuing_hairpin: false,
                    datapath: Datapath::default(),
                    translation: Translation::new(&config, worker_seed, shard),
                    exports: Exports::new(x.queue),
                    accounting: (x.enabled() && x.accounting).then(|| {
                        let share = (x.max_flows / u32::from(count)).max(1);
                        Accounting::new(share, x.idle_timeout, x.active_timeout, 0)
                    }),
                    clock_ms: 0,
                    clock_at: now,
                    release_cursor: 0,
                    fast_changes: Default::default(),
                    fast_use: Default::default(),
                    config: config.clone(),
                    layout: layout.clone(),
                }
            })
            .collect();
        for r in &mut routers {
            r.nat.configure_cgn(&config, &layout, r.shard)?;
        }
        Ok(routers)
    }

    /// Which worker this router is.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// Records how the I/O loop runs (offload, workers), for the snapshot.
    pub fn set_datapath(&mut self, datapath: Datapath) {
        self.datapath = datapath;
    }

    /// Records what the devices granted after a reload opened new ones
    /// (offload, workers), keeping the I/O loop's counts.
    pub fn set_offload(&mut self, granted: &Datapath) {
        let d = &mut self.datapath;
        d.offload = granted.offload;
        d.tso = granted.tso;
        d.uso = granted.uso;
        d.offload_refused = granted.offload_refused.clone();
        d.workers = granted.workers;
    }

    /// Counts a packet the I/O loop dropped before the router saw it (an
    /// unusable virtio-net header: `malformed`; a full hand-off ring).
    pub fn count_drop(&mut self, reason: DropReason) {
        self.counters.drop(reason);
    }

    /// Counts `n` packets the I/O loop lost after the router forwarded them (a
    /// TUN write the kernel refused).
    pub fn count_drops(&mut self, reason: DropReason, n: u64) {
        self.counters.drops(reason, n);
    }

    /// Counts a packet handed to another worker, or lost because its ring was
    /// full.
    pub fn count_handoff(&mut self, delivered: bool) {
        if delivered {
            self.datapath.handoffs += 1;
        } else {
            self.datapath.handoff_full += 1;
            self.counters.drop(DropReason::QueueFull);
        }
    }

    /// Counts a wait of the I/O loop for packets (a `poll(2)` that may sleep).
    pub fn count_wakeup(&mut self) {
        self.datapath.wakeups += 1;
    }

    /// Counts `n` packets the I/O loop read.
    pub fn count_reads(&mut self, n: u64) {
        self.datapath.packets_read += n;
    }

    /// Counts `n` system calls the I/O loop made to read or write packets.
    pub fn count_io_calls(&mut self, n: u64) {
        self.datapath.io_calls += n;
    }

    /// Counts a super-packet the I/O loop wrote whole (`true`) or cut into
    /// segments itself.
    pub fn count_super_packet(&mut self, whole: bool) {
        if whole {
            self.datapath.super_packets_whole += 1;
        } else {
            self.datapath.super_packets_segmented += 1;
        }
    }

    /// Counts an announce route the I/O loop could not apply.
    pub fn count_route_failure(&mut self) {
        self.datapath.route_failures += 1;
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sets the clock of the call in hand (milliseconds, for IPFIX records);
    /// returns it in whole seconds, the clock of every timer.
    fn set_clock(&mut self, now: Instant) -> u32 {
        if now == self.clock_at {
            return (self.clock_ms / 1000) as u32;
        }
        self.clock_at = now;
        let since = now.saturating_duration_since(self.epoch);
        self.clock_ms = since.as_millis() as u64;
        since.as_secs() as u32
    }

    /// Handles one packet from `direction`; see [`Verdict`].
    pub fn process(
        &mut self,
        direction: Direction,
        buffer: &mut PacketBuf,
        now: Instant,
    ) -> Verdict {
        let seconds = self.set_clock(now);
        self.run_timers(seconds);
        self.egress.release(now, &mut self.counters);
        let verdict = self.route(direction, buffer, now, seconds);
        self.drain_nat_log();
        verdict
    }

    /// [`Router::process`] after the timers: the packet's way through.
    fn route(
        &mut self,
        direction: Direction,
        buffer: &mut PacketBuf,
        now: Instant,
        seconds: u32,
    ) -> Verdict {
        if let Direction::Outbound(s) = direction
            && !self.links.has_subscriber(s)
        {
            return self.dropped(DropReason::Malformed);
        }
        if !offload::partial_matches(buffer.packet(), &buffer.offload()) {
            // A partial checksum the device would finish in the wrong place.
            return self.dropped(DropReason::Malformed);
        }
        let routed = match IpVersion::of(buffer.packet()) {
            Some(IpVersion::V4) => self.ipv4(direction, buffer, seconds),
            Some(IpVersion::V6) => self.ipv6(direction, buffer, seconds),
            None => Err(DropReason::Malformed),
        };
        match routed {
            Ok(Verdict::Forward(to)) => {
                match self.egress.shape(
                    to,
                    buffer.packet(),
                    buffer.offload(),
                    now,
                    &mut self.counters,
                ) {
                    Ok(verdict) => verdict,
                    Err(reason) => self.dropped(reason),
                }
            }
            Ok(verdict) => verdict,
            Err(reason) => self.dropped(reason),
        }
    }

    /// Handles a packet another worker handed over ([`Verdict::Handoff`]): a
    /// hairpinned packet on its way back in, as from the WAN.
    pub fn process_handoff(&mut self, buffer: &mut PacketBuf, now: Instant) -> Verdict {
        self.continuing_hairpin = true;
        let v = self.process(Direction::Inbound, buffer, now);
        self.continuing_hairpin = false;
        v
    }

    /// The worker a packet read from `direction` belongs to: a subscriber's
    /// owner; from the WAN, the owner of the destination port's slice (IPv4; for
    /// an ICMP error, of the quoted source port; for a query reply, of its
    /// identifier) — in deterministic mode the owner of the subscriber whose
    /// range holds it — or of the destination prefix's subscriber (IPv6). A later IPv4
    /// fragment, or a packet no worker could judge, stays where it is.
    pub fn steer(&self, direction: Direction, packet: &[u8]) -> u16 {
        if self.shard.count <= 1 {
            return 0;
        }
        let here = self.shard.index;
        match direction {
            Direction::Outbound(sub) => self.shard.subscriber_owner(sub),
            Direction::Inbound => match IpVersion::of(packet) {
                Some(IpVersion::V4) => ipv4::public_endpoint(packet)
                    .map_or(here, |(addr, port)| self.nat.port_owner(addr, port)),
                Some(IpVersion::V6) => Ipv6Packet::new_checked(packet)
                    .ok()
                    .and_then(|ip| self.links.route_v6(ip.dst_addr()))
                    .map_or(here, |sub| self.shard.subscriber_owner(sub)),
                None => here,
            },
        }
    }

    /// The subscriber of `[[subscriber_range]]` number `range` a packet read
    /// from its TUN belongs to, by its source address: then process it (or
    /// [`Router::steer`] it) as [`Direction::Outbound`] from that subscriber. A
    /// source outside the range, or link-local, is spoofed (`spoofed`,
    /// `ipv6_spoofed`); the drop is counted here.
    pub fn classify_range(
        &mut self,
        range: usize,
        packet: &[u8],
    ) -> Result<SubscriberId, DropReason> {
        self.links
            .classify_range(range, packet)
            .inspect_err(|&reason| {
                self.counters.drop(reason);
            })
    }

    /// The `[[subscriber_range]]` (its index) subscriber `sub` belongs to, if
    /// any: a packet for it goes out of that range's TUN.
    pub fn range_of(&self, sub: SubscriberId) -> Option<usize> {
        self.links.range_index(sub)
    }

    /// The next change to the announce routes of `[[subscriber_range]]`s with
    /// `announce` (a subscriber's first IPv6 flow here, its last one's expiry),
    /// for the I/O loop to apply in `[wan] route_table` via the WAN TUN.
    pub fn poll_route_change(&mut self) -> Option<RouteChange> {
        self.firewall.poll_route_change()
    }

    /// Every announce route still in place, withdrawn (the router stops).
    pub fn withdraw_routes(&mut self) -> Vec<RouteChange> {
        self.firewall.withdraw_all()
    }

    fn dropped(&mut self, reason: DropReason) -> Verdict {
        self.counters.drop(reason);
        Verdict::Drop(reason)
    }

    /// A packet the router made on its own, or a shaper let out, copied into
    /// `buffer`, and where it goes.
    pub fn poll_transmit(&mut self, buffer: &mut PacketBuf) -> Option<Interface> {
        self.egress.pop(buffer)
    }

    /// How long the I/O loop may wait before a shaped packet is due (`None`:
    /// nothing is queued in a shaper) — or not at all (zero) while expiry is
    /// behind, its budget per round spent: an idle router then drains the
    /// backlog round after round instead of one budget per poll timeout.
    pub fn next_wakeup(&mut self, now: Instant) -> Option<Duration> {
        let seconds = self.set_clock(now);
        if self.nat.expiry_behind(seconds) || self.firewall.expiry_behind(seconds) {
            return Some(Duration::ZERO);
        }
        self.egress.next_wakeup(now)
    }

    /// Runs timers without a packet (the I/O loop calls this when idle).
    pub fn tick(&mut self, now: Instant) {
        let seconds = self.set_clock(now);
        self.run_timers(seconds);
        self.egress.release(now, &mut self.counters);
        self.drain_nat_log();
    }

    /// A datagram that arrived at `[takeover] listen` from `source`: the
    /// predecessor's NAT44 BIB events (IPFIX), kept for the subscribers this
    /// worker owns (every worker is given every datagram); from any other
    /// source, counted and ignored. Nothing without `[takeover]`.
    pub fn takeover_feed(&mut self, source: std::net::SocketAddr, datagram: &[u8], now: Instant) {
        let seconds = self.set_clock(now);
        self.nat.takeover_datagram(source, datagram, seconds);
    }
}
