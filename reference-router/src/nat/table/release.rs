//! What a reload and a stop ask of the table: ending sessions (a removed
//! subscriber's, or every one), taking new timers, new limits, and pool
//! addresses that come and go. A removed pool address *drains*: nothing new
//! is given it, its sessions live on until they end, and once nothing holds
//! it any more it is logged free (natEvent 15, address binding delete, with
//! the address as the post-NAT address and no inside address: bound to no
//! one).

use super::index::{MappingIndex, SessionIndex, Side};
use super::{Allocator, Limits, NIL, Table};
use crate::config::Timeouts;
use crate::iface::SubscriberId;
use crate::ipfix::NatRecord;
use crate::stats::NatEvent;
use serde::{Deserialize, Serialize};
use sixfold_rewrite::IpProtocol;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

/// The workers that still hold a draining address, counted down as each
/// finds it free: the one that counts to zero logs it, once for the router.
pub(crate) type Countdown = Arc<AtomicU16>;

/// One pool address's use.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct AddressUse {
    /// Live mappings on it.
    pub(crate) mappings: u32,
    /// Live sessions on it.
    pub(crate) sessions: u32,
    /// A reload removed it: no new subscriber or mapping is given it.
    pub(crate) draining: bool,
    /// Found free here.
    pub(crate) freed: bool,
    /// While draining: the workers that have not found it free yet.
    #[serde(with = "crate::state::with::countdown")]
    countdown: Option<Countdown>,
}

impl AddressUse {
    /// The countdown's value, while draining.
    pub(crate) fn countdown_value(&self) -> Option<u16> {
        self.countdown
            .as_ref()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Counts down on `shared` (the workers' one) if it counts down at all.
    pub(crate) fn share_countdown(&mut self, shared: &Countdown) {
        if self.countdown.is_some() {
            self.countdown = Some(std::sync::Arc::clone(shared));
        }
    }
}

impl Table {
    /// Whether pool address `index` is being drained.
    pub(crate) fn is_draining(&self, index: u32) -> bool {
        self.addresses_use
            .get(index as usize)
            .is_some_and(|u| u.draining)
    }

    /// Adds public address `addr` to the pool (a reload), or takes it back if
    /// it was draining; returns its index. Then [`Table::respread`].
    pub(crate) fn add_address(&mut self, addr: u32) -> u32 {
        if let Some(i) = self.mappings.position(addr) {
            let u = &mut self.addresses_use[i as usize];
            u.draining = false;
            u.freed = false;
            u.countdown = None;
            self.freed.retain(|&a| a != addr);
            return i;
        }
        self.mappings.add_address(addr, self.pool.len() as u32);
        self.pool.push(addr);
        self.addresses_use.push(AddressUse::default());
        self.ports.add_address();
        if let Allocator::Block(b) = &mut self.alloc {
            b.add_address();
        }
        (self.pool.len() - 1) as u32
    }

    /// Paired pooling's order takes in the addresses added since it was
    /// made (call once after [`Table::add_address`]), keeping the loads.
    pub(crate) fn respread(&mut self) {
        let mut loads = vec![0u32; self.pool.len()];
        let dense = 0..self.subscribers.dense_len() as SubscriberId;
        for sub in dense.chain(self.subscribers.sparse_ids()) {
            if let Some(i) = self.subscribers.get(sub).pool_index {
                loads[i as usize] += 1;
            }
        }
        let (key, shard) = self.spread_key;
        let n = self.pool.len() as u32;
        self.spread.grow(n, key, shard, |i| loads[i as usize]);
    }

    /// Drains pool address `addr` (a reload removed it), `countdown`
    /// shared with the other workers; a no-op for an address not in the
    /// pool or draining already.
    pub(crate) fn drain_address(&mut self, addr: u32, countdown: Countdown) {
        if let Some(i) = self.pool.iter().position(|&a| a == addr)
            && !self.addresses_use[i].draining
        {
            let u = &mut self.addresses_use[i];
            u.draining = true;
            u.countdown = Some(countdown);
        }
    }

    /// The draining addresses that something still holds: (address, live
    /// sessions, live mappings).
    pub(crate) fn draining(&self) -> Vec<(Ipv4Addr, u32, u32)> {
        self.pool
            .iter()
            .zip(&self.addresses_use)
            .filter(|(_, u)| u.draining && !u.freed)
            .map(|(&a, u)| (Ipv4Addr::from(a), u.sessions, u.mappings))
            .collect()
    }

    /// Notes every draining address nothing holds here any more (no
    /// mapping, no port block live or held); the last worker to do so logs
    /// it, once for the router.
    pub(super) fn log_drained(&mut self) {
        for i in 0..self.pool.len() {
            let u = &self.addresses_use[i];
            if !u.draining || u.freed || u.mappings > 0 {
                continue;
            }
            if let Allocator::Block(b) = &self.alloc
                && !b.is_free(i as u32)
            {
                continue;
            }
            self.addresses_use[i].freed = true;
            self.freed.push(self.pool[i]);
            // The last worker to find it free logs it.
            let last = self.addresses_use[i]
                .countdown
                .as_ref()
                .is_none_or(|c| c.fetch_sub(1, Ordering::AcqRel) == 1);
            if last && self.log.limits {
                let public = Ipv4Addr::from(self.pool[i]);
                self.log.records.push(NatRecord::new(
                    NatEvent::AddressBindingDelete,
                    Ipv4Addr::UNSPECIFIED,
                    public,
                ));
            }
        }
    }

    /// The addresses found drained since the last call.
    pub(crate) fn take_freed(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.freed)
    }

    /// Ends every session of a subscriber `gone` says is gone (logged as
    /// deleted, natEvent 5), and releases the port blocks its inside
    /// addresses still hold (natEvent 17).
    pub(crate) fn end_subscribers(&mut self, gone: &dyn Fn(SubscriberId) -> bool) {
        for index in 0..self.sessions.len() as u32 {
            if self.sessions[index as usize].protocol != 0 && gone(self.session_subscriber(index)) {
                self.remove_session(index);
            }
        }
        self.release_blocks(gone);
        // Forget them: a subscriber id is never given again.
        self.subscribers.forget(gone);
    }

    /// Ends up to `budget` sessions from session record `*cursor` on (the
    /// router stops; nothing creates sessions meanwhile); true once every
    /// session and port block is ended.
    pub(crate) fn end_some(&mut self, cursor: &mut usize, budget: usize) -> bool {
        let mut ended = 0;
        while *cursor < self.sessions.len() && ended < budget {
            let index = *cursor as u32;
            if self.sessions[*cursor].protocol != 0 {
                self.remove_session(index);
                ended += 1;
            }
            *cursor += 1;
        }
        if *cursor < self.sessions.len() {
            return false;
        }
        self.release_blocks(&|_| true);
        true
    }

    /// Releases the blocks of subscribers `gone` says are gone that no
    /// mapping holds (natEvent 17).
    fn release_blocks(&mut self, gone: &dyn Fn(SubscriberId) -> bool) {
        let now = self.now;
        if let Allocator::Block(b) = &mut self.alloc {
            b.release_unused(gone, now, &mut self.log.block_events);
            self.log_blocks();
        }
    }

    /// Every live session takes the timers of `new` instead of `old`: its
    /// remaining life moves by the difference of its protocol's (and TCP
    /// state's) idle timeout.
    pub(crate) fn retime(&mut self, old: &Timeouts, new: &Timeouts) {
        for index in 0..self.sessions.len() as u32 {
            let s = self.sessions[index as usize];
            if s.protocol == 0 {
                continue;
            }
            let protocol = IpProtocol::from(s.protocol);
            let before = old.idle(protocol, s.tcp());
            let after = new.idle(protocol, s.tcp());
            if before != after {
                let expires = s.expires.saturating_sub(before).saturating_add(after);
                self.set_expiry(index, expires.max(self.now.saturating_add(1)));
            }
        }
        self.ports.set_reuse_delay(new.port_reuse_delay);
    }

    /// Takes `limits` for what comes next; address-dependent filtering's
    /// index of remotes is built from the live sessions when it is turned on,
    /// and dropped when it is turned off.
    pub(crate) fn set_limits(&mut self, limits: Limits) {
        let track = limits.track_addresses;
        self.limits = limits;
        self.rebuild_addresses(track);
    }

    fn rebuild_addresses(&mut self, track: bool) {
        self.addresses.clear();
        if track {
            for s in self.sessions.iter().filter(|s| s.protocol != 0) {
                *self.addresses.entry((s.mapping, s.rem_addr)).or_default() += 1;
            }
        }
    }

    /// Builds the indexes from the records (a restore: a saved state holds
    /// the records only). A free list that leaves the slab or loops is an
    /// error, not a panic.
    pub(crate) fn rebuild_indexes(&mut self) -> Result<(), String> {
        self.mappings.set_pool(&self.pool);
        self.mappings.check()?;
        let mut free = vec![false; self.mappings.len()];
        let mut m = self.free_mapping;
        while m != NIL {
            match free.get_mut(m as usize) {
                Some(seen) if !*seen => *seen = true,
                _ => return Err(format!("the free mappings' list is broken at {m}")),
            }
            m = self.mappings[m as usize].sessions;
        }
        let live = self.sessions.iter().filter(|s| s.protocol != 0).count();
        self.by_inside = SessionIndex::with_capacity(Side::Inside, live);
        self.by_outside = SessionIndex::with_capacity(Side::Outside, live);
        for (i, s) in self.sessions.iter().enumerate() {
            if s.protocol != 0 {
                self.by_inside.insert(i as u32, &self.sessions);
                self.by_outside.insert(i as u32, &self.sessions);
            }
        }
        let mappings = free.iter().filter(|f| !**f).count();
        self.map_inside = MappingIndex::with_capacity(Side::Inside, mappings);
        self.map_outside = MappingIndex::with_capacity(Side::Outside, mappings);
        for (i, free) in free.iter().enumerate() {
            if !free {
                self.map_inside.insert(i as u32, &self.mappings);
                self.map_outside.insert(i as u32, &self.mappings);
            }
        }
        self.rebuild_addresses(self.limits.track_addresses);
        Ok(())
    }

    /// Whether any port block is live or held (its size cannot change then).
    pub(crate) fn blocks_in_use(&self) -> bool {
        match &self.alloc {
            Allocator::Block(b) => b.in_use(),
            _ => false,
        }
    }
}
