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
mod fragment;
mod ipv4;
mod ipv6;
mod links;
mod reply;
mod snapshot;
mod timers;

use crate::buf::PacketBuf;
use crate::config::{Config, ConfigError};
use crate::firewall::Firewall;
use crate::iface::{Direction, Interface};
use crate::nat::Nat;
use crate::stats::{Counters, DropReason};
use egress::Egress;
use links::Links;
use reply::Replies;
use sixfold_rewrite::IpVersion;
use std::time::{Duration, Instant};
use timers::Timers;

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

/// The router.
pub struct Router {
    config: Config,
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
}

impl Router {
    /// A router for `config` (validated here), with `seed` keying the random
    /// choices (port allocation), starting at time `now`.
    pub fn new(config: Config, seed: u64, now: Instant) -> Result<Router, ConfigError> {
        config.validate()?;
        Ok(Router {
            links: Links::new(&config),
            nat: Nat::new(&config.nat, config.subscriber.len(), seed, 0),
            firewall: Firewall::new(&config, 0),
            egress: Egress::new(&config, now),
            replies: Replies::new(&config.router),
            timers: Timers::new(),
            counters: Counters::default(),
            teredo_log: ipv4::TeredoLog::default(),
            six_rd: config.tunnels.six_rd(),
            epoch: now,
            config,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whole seconds since the router started: the clock of every timer.
    fn seconds(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.epoch).as_secs() as u32
    }

    /// Handles one packet from `direction`; see [`Verdict`].
    pub fn process(
        &mut self,
        direction: Direction,
        buffer: &mut PacketBuf,
        now: Instant,
    ) -> Verdict {
        let seconds = self.seconds(now);
        self.run_timers(seconds);
        self.egress.release(now, &mut self.counters);
        if let Direction::Outbound(s) = direction
            && !self.links.has_subscriber(s)
        {
            return self.dropped(DropReason::Malformed);
        }
        let routed = match IpVersion::of(buffer.packet()) {
            Some(IpVersion::V4) => self.ipv4(direction, buffer, seconds),
            Some(IpVersion::V6) => self.ipv6(direction, buffer, seconds),
            None => Err(DropReason::Malformed),
        };
        match routed {
            Ok(Verdict::Forward(to)) => {
                match self
                    .egress
                    .shape(to, buffer.packet(), now, &mut self.counters)
                {
                    Ok(verdict) => verdict,
                    Err(reason) => self.dropped(reason),
                }
            }
            Ok(verdict) => verdict,
            Err(reason) => self.dropped(reason),
        }
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
    /// nothing is queued in a shaper).
    pub fn next_wakeup(&mut self, now: Instant) -> Option<Duration> {
        self.egress.next_wakeup(now)
    }

    /// Runs timers without a packet (the I/O loop calls this when idle).
    pub fn tick(&mut self, now: Instant) {
        let seconds = self.seconds(now);
        self.run_timers(seconds);
        self.egress.release(now, &mut self.counters);
    }
}
