//! The NAT under a reload and a stop: new limits, timers and behaviour for
//! what comes next (existing sessions take the new timers), pool addresses
//! added (used at once) or removed (drained), a removed subscriber's
//! sessions and blocks ended, and at the stop every session and block ended
//! and logged.

use super::Nat;
use super::blocks::Blocks;
use super::deterministic::Deterministic;
use super::table::{Allocator, Countdown, Limits};
use crate::config::{Allocation, Config, Filtering, Nat as NatConfig};
use crate::iface::{Shard, SubscriberId};
use crate::layout::Layout;
use std::net::Ipv4Addr;

/// The limits and behaviour of `config` for worker `shard`: its share of the
/// session limit.
pub(super) fn limits(config: &NatConfig, shard: Shard) -> Limits {
    let share = |n: u32| (n / u32::from(shard.count.max(1))).max(1);
    Limits {
        max_sessions: share(config.max_sessions),
        sessions_per_subscriber: config.sessions_per_subscriber,
        ports_per_subscriber: config.ports_per_subscriber,
        preserve: config.port_preservation,
        parity: config.port_parity,
        mapping: config.mapping,
        track_addresses: config.filtering == Filtering::Adf,
    }
}

impl Nat {
    /// Takes `config` (a reload, checked and found applicable), whose
    /// subscribers have the ids of `layout`: its pool (new addresses used at
    /// once, removed ones drained), limits, behaviour for new sessions,
    /// timers (live sessions take them), block settings and log.
    /// `drains` holds the countdown of each address this reload removes
    /// (shared by the workers).
    pub(crate) fn reconfigure(
        &mut self,
        config: &Config,
        layout: &Layout,
        drains: &[(Ipv4Addr, Countdown)],
    ) {
        let n = &config.nat;
        let wanted: Vec<u32> = n.pool_addresses().into_iter().map(u32::from).collect();
        let before = self.table.pool.len();
        for &a in &wanted {
            self.table.add_address(a);
            self.pool.insert(a);
        }
        if self.table.pool.len() > before {
            self.table.respread();
        }
        let gone: Vec<u32> = self
            .table
            .pool
            .iter()
            .copied()
            .filter(|a| !wanted.contains(a))
            .collect();
        for a in gone {
            let countdown = drains
                .iter()
                .find(|(d, _)| u32::from(*d) == a)
                .map(|(_, c)| Countdown::clone(c));
            if let Some(c) = countdown {
                self.table.drain_address(a, c);
            }
        }
        self.table.set_limits(limits(n, self.shard));
        if self.timeouts != n.timeouts {
            self.table.retime(&self.timeouts, &n.timeouts);
            self.held.set_delay(n.timeouts.syn_hold);
            self.timeouts = n.timeouts.clone();
        }
        self.filtering = n.filtering;
        self.hairpin = n.hairpin;
        self.reconfigure_cgn(config, layout);
    }

    /// The allocation settings and the log of `config`: a block size that
    /// changes gets new blocks (no block is in use: [`Nat::blocks_in_use`]
    /// was checked), deterministic mode the ids of `layout`.
    fn reconfigure_cgn(&mut self, config: &Config, layout: &Layout) {
        let (n, x) = (&config.nat, &config.ipfix);
        let blocks = x.enabled() && n.allocation == Allocation::Block;
        let addresses = self.table.pool.len();
        let shard = self.shard;
        match &mut self.table.alloc {
            Allocator::Block(b) if b.size() == n.block_size => {
                b.set_limits(n.max_blocks, n.block_timeout, x.interim);
                b.log(blocks);
            }
            Allocator::Block(b) => {
                *b = Blocks::new(
                    addresses,
                    n.block_size,
                    n.max_blocks,
                    n.block_timeout,
                    x.interim,
                    shard,
                );
                b.log(blocks);
            }
            Allocator::Deterministic(d) => *d = Deterministic::with_layout(config, layout),
            Allocator::Dynamic => {}
        }
        let log = &mut self.table.log;
        log.blocks = blocks;
        log.sessions = x.enabled() && x.sessions;
        log.limits = x.enabled();
        log.mappings = x.enabled() && x.mappings && n.mapping == crate::config::Mapping::Eim;
        log.interim = x.interim;
        // Subscribers a reload appended are covered too (their ranges follow).
        if let Some(feed) = &mut self.feed {
            feed.relayout(config, layout);
        }
    }

    /// Whether a port block is live or held here.
    pub(crate) fn blocks_in_use(&self) -> bool {
        self.table.blocks_in_use()
    }

    /// Ends the sessions and blocks of the subscribers `gone` says a reload
    /// removed (logged as their ends: natEvent 5 or 7, 17).
    pub(crate) fn end_subscribers(&mut self, gone: &dyn Fn(SubscriberId) -> bool) {
        self.table.end_subscribers(gone);
    }

    /// Ends up to `budget` sessions (the router stops), from `*cursor` on;
    /// true once every session and block has ended.
    pub(crate) fn end_some(&mut self, cursor: &mut usize, budget: usize) -> bool {
        self.table.end_some(cursor, budget)
    }

    /// Pool addresses being drained that something still holds: address,
    /// live sessions, live mappings.
    pub(crate) fn draining(&self) -> Vec<(Ipv4Addr, u32, u32)> {
        self.table.draining()
    }

    /// Forgets the addresses the table found drained (they are no longer
    /// ours: a packet to one is no hairpin and no inbound translation).
    pub(super) fn forget_drained(&mut self) {
        for a in self.table.take_freed() {
            self.pool.remove(&a);
        }
    }
}
