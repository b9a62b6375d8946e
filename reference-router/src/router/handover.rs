//! A worker's state for a handover ([`crate::state`]): [`Router::save_state`]
//! writes what the worker holds, [`Router::restore_state`] puts it into a
//! router the new process built from the same configuration, which keeps what
//! comes from the configuration (its settings, NAT64 and SIIT tables, firewall
//! policies, links, the shared IPv4 fragment table).
//!
//! The law ([`tests`]): a router restored from a saved one decides every later
//! packet as the saved one would.

use super::Router;
use crate::state::{self, StateError};
use crate::stats::Counters;
use crate::{Interface, Offload, Shard};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Instant;

/// What a worker writes (borrowed); [`Saved`] reads the same fields, in the
/// same order.
#[derive(Serialize)]
struct Saving<'a> {
    shard: Shard,
    clock_ms: u64,
    release_cursor: u64,
    nat: &'a crate::nat::Nat,
    firewall: &'a crate::firewall::Firewall,
    egress: &'a VecDeque<(Interface, Vec<u8>, Offload)>,
    replies: &'a super::reply::Replies,
    timers: &'a super::timers::Timers,
    counters: &'a Counters,
    teredo_log: &'a super::ipv4::TeredoLog,
    translation: &'a super::xlat::Translation,
    exports: &'a crate::ipfix::Exports,
    accounting: &'a Option<crate::ipfix::accounting::Accounting>,
}

#[derive(Deserialize)]
struct Saved {
    shard: Shard,
    clock_ms: u64,
    release_cursor: u64,
    nat: crate::nat::Nat,
    firewall: crate::firewall::Firewall,
    egress: VecDeque<(Interface, Vec<u8>, Offload)>,
    replies: super::reply::Replies,
    timers: super::timers::Timers,
    counters: Counters,
    teredo_log: super::ipv4::TeredoLog,
    translation: super::xlat::Translation,
    exports: crate::ipfix::Exports,
    accounting: Option<crate::ipfix::accounting::Accounting>,
}

impl Router {
    /// This worker's state as a section of a state document: everything it
    /// holds but the configuration and the shared IPv4 fragment table.
    pub fn save_state(&self) -> Vec<u8> {
        state::to_bytes(&Saving {
            shard: self.shard,
            clock_ms: self.clock_ms,
            release_cursor: self.release_cursor as u64,
            nat: &self.nat,
            firewall: &self.firewall,
            egress: self.egress.queue(),
            replies: &self.replies,
            timers: &self.timers,
            counters: &self.counters,
            teredo_log: &self.teredo_log,
            translation: &self.translation,
            exports: &self.exports,
            accounting: &self.accounting,
        })
    }

    /// The shared egress shapers' state (tokens, counts, packets waiting),
    /// saved by the worker that reports them (index 0); empty for the others.
    pub fn save_shapers(&self, now: Instant) -> Vec<u8> {
        if self.shard.index == 0 {
            self.egress.save_shapers(now)
        } else {
            Vec::new()
        }
    }

    /// Takes saved shapers' state (from [`Router::save_shapers`]) into the
    /// shapers this router shares with its workers; `now` starts their clocks.
    pub fn restore_shapers(&mut self, bytes: &[u8], now: Instant) -> Result<(), StateError> {
        self.egress.restore_shapers(bytes, now)
    }

    /// Datagrams in pieces in the shared IPv4 fragment table (dropped by a
    /// handover).
    pub fn fragment_flows(&self) -> u64 {
        self.nat.fragment_flows()
    }

    /// Takes the state `section` (worker `index`'s, from
    /// [`Router::save_state`]) into this router, built by the new process
    /// from the same configuration with the saved epoch; nothing changes on
    /// an error. Call [`Router::relink`] on all workers afterwards.
    pub fn restore_state(&mut self, section: &[u8], index: usize) -> Result<(), StateError> {
        let saved: Saved = state::from_bytes(section, 1 + index)?;
        if saved.shard != self.shard {
            return Err(StateError::Mismatch(format!(
                "section {} is worker {} of {}, this is worker {} of {}",
                1 + index,
                saved.shard.index,
                saved.shard.count,
                self.shard.index,
                self.shard.count
            )));
        }
        let mut nat = saved.nat;
        nat.rebuild_indexes().map_err(|why| StateError::Section {
            index: 1 + index,
            why,
        })?;
        nat.share_fragments(self.nat.fragments());
        self.nat = nat;
        let mut firewall = saved.firewall;
        firewall.keep_configuration_of(&mut self.firewall);
        self.firewall = firewall;
        let mut translation = saved.translation;
        translation.nat64 = self.translation.nat64.take();
        translation.siit = self.translation.siit.take();
        self.translation = translation;
        self.egress.restore_queue(saved.egress);
        self.replies = saved.replies;
        self.timers = saved.timers;
        self.counters = saved.counters;
        self.teredo_log = saved.teredo_log;
        self.exports = saved.exports;
        self.accounting = saved.accounting;
        self.clock_ms = saved.clock_ms;
        self.release_cursor = saved.release_cursor as usize;
        Ok(())
    }

    /// Shares again what the workers share and a state holds once per
    /// worker: the countdowns of draining pool addresses.
    pub fn relink(routers: &mut [Router]) {
        let mut nats: Vec<&mut crate::nat::Nat> = routers.iter_mut().map(|r| &mut r.nat).collect();
        crate::nat::Nat::relink_countdowns(&mut nats);
    }

    /// The epoch the router counts its time from.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }
}

#[cfg(test)]
mod tests;
