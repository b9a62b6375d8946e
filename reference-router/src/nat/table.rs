//! The NAT's state: slabs of fixed-size session and mapping records, hash indexes
//! by inside and by outside key, and a timer wheel.
//!
//! A *mapping* is an external address and port bound to an internal endpoint (and,
//! for ADM/APDM, to a remote address or endpoint); a *session* is one flow through a
//! mapping (internal endpoint, remote endpoint). Lookups are one hash probe each way.
//!
//! Expiry: sessions sit in a [`Wheel`] of 1-second slots; each call to
//! [`Table::expire`] does a bounded amount of work, and a session found expired by a
//! lookup before the wheel reached it is freed on the spot, so timing is exact
//! whatever the backlog.

use serde::{Deserialize, Serialize};
mod adopt;
mod allocation;
mod index;
mod limits;
mod mappings;
mod reannounce;
mod record;
mod release;
mod slab;

use super::ports::{self, Ports};
use super::spread::Spread;
use crate::config::Mapping as MappingMode;
use crate::iface::{Shard, SubscriberId};
use crate::persub::PerSubscriber;
use crate::stats::NatEvent;
pub(crate) use crate::wheel::NIL;
use crate::wheel::{self, Wheel};
pub(crate) use adopt::Fed;
pub(crate) use allocation::{Allocator, NatLog};
use foldhash::fast::RandomState;
use index::{MappingIndex, SessionIndex, Side};
pub(crate) use limits::{Full, Limits, SubscriberState};
use mappings::Mappings;
pub(crate) use release::{AddressUse, Countdown};
use slab::Slab;
use std::collections::HashMap;

/// A flow key: protocol, one local endpoint (inside or outside), one remote endpoint.
/// ICMP queries use the identifier as the local port and 0 as the remote one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Key {
    pub(crate) addr: u32,
    pub(crate) rem_addr: u32,
    pub(crate) port: u16,
    pub(crate) rem_port: u16,
    pub(crate) protocol: u8,
}

/// One flow. 36 bytes. Its subscriber is its mapping's
/// ([`Table::session_subscriber`]): ids are 32 bits since subscriber ranges,
/// and a copy here would make the record 40 bytes. Flow accounting's places
/// for it are beside the slab, only when accounting is on ([`Slab`]); its
/// wheel slot is kept in `prev` while it heads the slot's list, the only time
/// the slot is read, and the fast path's two flags beside the TCP state
/// ([`record`]). Saved in the shape of before ([`slab::Saved`]).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(into = "slab::Saved", from = "slab::Saved")]
pub(crate) struct Session {
    pub(crate) in_addr: u32,
    pub(crate) out_addr: u32,
    pub(crate) rem_addr: u32,
    pub(crate) in_port: u16,
    pub(crate) out_port: u16,
    pub(crate) rem_port: u16,
    /// 0 marks a free record.
    pub(crate) protocol: u8,
    /// TCP state flags (`super::tcp`) in the low bits, and the fast path's
    /// ([`Session::tcp`], [`Session::fast`], [`Session::repeated`]).
    flags: u8,
    pub(crate) mapping: u32,
    /// Absolute second at which the session expires.
    pub(crate) expires: u32,
    /// The previous record in its wheel slot's list, or [`record::HEAD`] +
    /// the slot where it heads the list.
    prev: u32,
    next: u32,
}

/// An external endpoint bound to an internal one. 28 bytes: its public
/// address's index in the pool is found from the address ([`Mappings`]),
/// and it is saved in the shape of before, the index in it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mapping {
    pub(crate) in_addr: u32,
    pub(crate) out_addr: u32,
    /// For ADM/APDM: the remote address (and port) the mapping is for.
    pub(crate) rem_addr: u32,
    pub(crate) in_port: u16,
    pub(crate) out_port: u16,
    pub(crate) rem_port: u16,
    pub(crate) protocol: u8,
    pub(crate) subscriber: SubscriberId,
    /// Live sessions on it; while the record is free, the next free one.
    pub(crate) sessions: u32,
}

impl Session {
    /// The session's keys in the inside and the outside index.
    pub(super) fn keys(&self) -> (Key, Key) {
        let inside = Key {
            addr: self.in_addr,
            port: self.in_port,
            rem_addr: self.rem_addr,
            rem_port: self.rem_port,
            protocol: self.protocol,
        };
        (
            inside,
            Key {
                addr: self.out_addr,
                port: self.out_port,
                ..inside
            },
        )
    }
}

impl Mapping {
    /// The mapping's key in the inside index (remote fields per mapping mode).
    fn inside_key(&self) -> Key {
        Key {
            addr: self.in_addr,
            port: self.in_port,
            rem_addr: self.rem_addr,
            rem_port: self.rem_port,
            protocol: self.protocol,
        }
    }

    /// The mapping's key in the outside index: its external endpoint.
    fn outside_key(&self) -> Key {
        Key::endpoint(self.protocol, self.out_addr, self.out_port)
    }
}

type Index<K> = HashMap<K, u32, RandomState>;

#[derive(Serialize, Deserialize)]
pub(crate) struct Table {
    sessions: Slab,
    free_session: u32,
    mappings: Mappings,
    free_mapping: u32,
    // The indexes are not in a saved state: a restore builds them from the
    // records ([`Table::rebuild_indexes`]), sized once.
    #[serde(skip, default = "SessionIndex::inside")]
    by_inside: SessionIndex,
    #[serde(skip, default = "SessionIndex::outside")]
    by_outside: SessionIndex,
    #[serde(skip, default = "MappingIndex::inside")]
    map_inside: MappingIndex,
    #[serde(skip, default = "MappingIndex::outside")]
    map_outside: MappingIndex,
    /// (mapping, remote address) → sessions, for address-dependent filtering.
    #[serde(skip)]
    addresses: Index<(u32, u32)>,
    wheel: Wheel,
    pub(super) ports: Ports,
    pub(super) pool: Vec<u32>,
    /// Per pool index: its live mappings and sessions, and whether it drains
    /// (a reload removed it: nothing new is given it).
    pub(super) addresses_use: Vec<AddressUse>,
    /// Drained addresses found free, for the NAT to forget.
    freed: Vec<u32>,
    pub(super) subscribers: PerSubscriber<SubscriberState>,
    pub(super) limits: Limits,
    live_sessions: u32,
    live_mappings: u32,
    expired: u64,
    created: u64,
    /// Paired pooling's choice of address for new subscribers.
    pub(super) spread: Spread,
    /// The spread's key and this worker: a reload that adds addresses makes
    /// it anew.
    pub(super) spread_key: (u64, Shard),
    pub(super) alloc: Allocator,
    pub(super) log: NatLog,
    /// The second of the last [`Table::expire`]: the time of the call in hand.
    pub(super) now: u32,
    /// Sessions removed while installed in the fast path, for the router to
    /// take out of the program's map before their port can be reused.
    fast_removed: Vec<Session>,
}

impl Table {
    pub(crate) fn new(
        pool: Vec<u32>,
        subscribers: usize,
        limits: Limits,
        reuse_delay: u32,
        (seed, pool_key): (u64, u64),
        now: u32,
        shard: Shard,
    ) -> Table {
        let hasher = || RandomState::default();
        let spread = Spread::new(pool.len() as u32, pool_key, shard);
        Table {
            sessions: Slab::default(),
            free_session: NIL,
            mappings: Mappings::new(&pool),
            free_mapping: NIL,
            by_inside: SessionIndex::new(Side::Inside),
            by_outside: SessionIndex::new(Side::Outside),
            map_inside: MappingIndex::new(Side::Inside),
            map_outside: MappingIndex::new(Side::Outside),
            addresses: HashMap::with_hasher(hasher()),
            wheel: Wheel::new(now),
            ports: Ports::new(pool.len(), reuse_delay, seed, shard),
            addresses_use: vec![AddressUse::default(); pool.len()],
            freed: Vec::new(),
            pool,
            subscribers: PerSubscriber::new(subscribers, SubscriberState::default()),
            limits,
            live_sessions: 0,
            live_mappings: 0,
            expired: 0,
            created: 0,
            spread,
            spread_key: (pool_key, shard),
            alloc: Allocator::Dynamic,
            log: NatLog::default(),
            now,
            fast_removed: Vec::new(),
        }
    }

    pub(crate) fn session(&self, index: u32) -> &Session {
        &self.sessions[index as usize]
    }

    /// The subscriber of session `index` (its mapping's).
    pub(crate) fn session_subscriber(&self, index: u32) -> SubscriberId {
        let m = self.sessions[index as usize].mapping;
        self.mappings[m as usize].subscriber
    }

    pub(crate) fn session_mut(&mut self, index: u32) -> &mut Session {
        &mut self.sessions[index as usize]
    }

    /// Where flow accounting keeps session `index`'s outbound (`inbound`
    /// false) or inbound flow record ([`Slab::place`]).
    pub(crate) fn accounting_place(&mut self, index: u32, inbound: bool) -> &mut u32 {
        self.sessions.place(index, usize::from(inbound))
    }

    /// The public address at `pool_index`.
    pub(crate) fn public_address(&self, pool_index: u32) -> u32 {
        self.pool[pool_index as usize]
    }

    /// Subscriber `sub`'s address, ports and sessions.
    pub(crate) fn subscriber(&self, sub: SubscriberId) -> SubscriberState {
        *self.subscribers.get(sub)
    }

    /// Sessions expired since the start.
    pub(crate) fn expired(&self) -> u64 {
        self.expired
    }

    /// The fast-path sessions removed since the last call.
    pub(crate) fn take_fast_removed(&mut self) -> Vec<Session> {
        std::mem::take(&mut self.fast_removed)
    }

    pub(crate) fn live_sessions(&self) -> u32 {
        self.live_sessions
    }

    /// Sessions created since the start.
    pub(crate) fn created(&self) -> u64 {
        self.created
    }

    /// The external `(address, port)` of a mapping of inside endpoint `(addr, port)`.
    pub(crate) fn external_of(&self, protocol: u8, addr: u32, port: u16) -> Option<(u32, u16)> {
        let key = Key::endpoint(protocol, addr, port);
        if let Some(m) = self.map_inside.get(&key, &self.mappings) {
            let m = &self.mappings[m as usize];
            return Some((m.out_addr, m.out_port));
        }
        // ADM/APDM: any mapping of the endpoint (a walk; for tools, not the data path).
        self.map_inside
            .indexes()
            .map(|m| &self.mappings[m as usize])
            .find(|m| m.protocol == protocol && m.in_addr == addr && m.in_port == port)
            .map(|m| (m.out_addr, m.out_port))
    }

    pub(crate) fn live_mappings(&self) -> u32 {
        self.live_mappings
    }

    /// A live session for `key` (inside or outside), freeing it first if it expired.
    fn live(&mut self, found: Option<u32>, now: u32) -> Option<u32> {
        let index = found?;
        if self.sessions[index as usize].expires <= now {
            self.remove_session(index);
            return None;
        }
        Some(index)
    }

    pub(crate) fn find_inside(&mut self, key: &Key, now: u32) -> Option<u32> {
        let found = self.by_inside.get(key, &self.sessions);
        self.live(found, now)
    }

    pub(crate) fn find_outside(&mut self, key: &Key, now: u32) -> Option<u32> {
        let found = self.by_outside.get(key, &self.sessions);
        self.live(found, now)
    }

    /// The mapping key of an outbound flow under the configured mapping behaviour.
    fn mapping_key(&self, key: &Key) -> Key {
        match self.limits.mapping {
            MappingMode::Eim => Key {
                rem_addr: 0,
                rem_port: 0,
                ..*key
            },
            MappingMode::Adm => Key {
                rem_port: 0,
                ..*key
            },
            MappingMode::Apdm => *key,
        }
    }

    /// Whether outbound flow `key` has a mapping already.
    pub(crate) fn has_mapping(&self, key: &Key) -> bool {
        self.map_inside
            .get(&self.mapping_key(key), &self.mappings)
            .is_some()
    }

    /// The mapping that owns external `(protocol, addr, port)`.
    pub(crate) fn find_mapping_outside(&self, protocol: u8, addr: u32, port: u16) -> Option<u32> {
        self.map_outside
            .get(&Key::endpoint(protocol, addr, port), &self.mappings)
    }

    /// Whether mapping `m` has a session with remote address `addr`.
    pub(crate) fn has_address(&self, m: u32, addr: u32) -> bool {
        self.addresses.contains_key(&(m, addr))
    }

    /// Finds or creates the mapping for outbound flow `key` of `subscriber`.
    pub(crate) fn mapping_for(&mut self, subscriber: SubscriberId, key: &Key) -> Result<u32, Full> {
        let mkey = self.mapping_key(key);
        if let Some(m) = self.map_inside.get(&mkey, &self.mappings) {
            return Ok(m);
        }
        // A mapping is only worth creating if its session can be: a refused flow
        // must not hold (or quarantine) a port.
        let sub = *self.subscribers.get(subscriber);
        let quota = if self.live_sessions >= self.limits.max_sessions {
            Some(Full::Sessions)
        } else if sub.sessions >= self.limits.sessions_per_subscriber {
            Some(Full::SubscriberSessions)
        } else {
            None
        };
        if let Some(full) = quota {
            self.log_limit(NatEvent::QuotaExceeded, subscriber, key, sub.pool_index);
            return Err(full);
        }
        let (pool_index, port) = self.new_port(subscriber, key)?;
        let record = Mapping {
            in_addr: key.addr,
            out_addr: self.pool[pool_index as usize],
            rem_addr: mkey.rem_addr,
            in_port: key.port,
            out_port: port,
            rem_port: mkey.rem_port,
            protocol: key.protocol,
            subscriber,
            sessions: 0,
        };
        Ok(self.insert_mapping(record, pool_index))
    }

    /// Puts `record` into the slab and both indexes, counted for its
    /// subscriber and its public address (at `pool_index`); its index.
    fn insert_mapping(&mut self, record: Mapping, pool_index: u32) -> u32 {
        let index = if self.free_mapping != NIL {
            let i = self.free_mapping;
            self.free_mapping = self.mappings[i as usize].sessions;
            self.mappings[i as usize] = record;
            i
        } else {
            self.mappings.push(record);
            (self.mappings.len() - 1) as u32
        };
        self.map_inside.insert(index, &self.mappings);
        self.map_outside.insert(index, &self.mappings);
        let space = ports::space(record.protocol);
        self.subscribers
            .update(record.subscriber, |s| s.ports[space] += 1);
        self.addresses_use[pool_index as usize].mappings += 1;
        self.live_mappings += 1;
        index
    }

    /// Creates a session of mapping `m` with remote endpoint `(rem_addr, rem_port)`.
    pub(crate) fn create_session(
        &mut self,
        m: u32,
        rem_addr: u32,
        rem_port: u16,
        now: u32,
        expires: u32,
    ) -> Result<u32, Full> {
        let map = self.mappings[m as usize];
        if self.live_sessions >= self.limits.max_sessions {
            self.release_if_unused(m, now);
            let key = Key::endpoint(map.protocol, map.in_addr, map.in_port);
            let pool = Some(self.mappings.pool_index(m));
            self.log_limit(NatEvent::QuotaExceeded, map.subscriber, &key, pool);
            return Err(Full::Sessions);
        }
        if self.subscribers.get(map.subscriber).sessions >= self.limits.sessions_per_subscriber {
            self.release_if_unused(m, now);
            let key = Key::endpoint(map.protocol, map.in_addr, map.in_port);
            let pool = Some(self.mappings.pool_index(m));
            self.log_limit(NatEvent::QuotaExceeded, map.subscriber, &key, pool);
            return Err(Full::SubscriberSessions);
        }
        let record = Session {
            in_addr: map.in_addr,
            out_addr: map.out_addr,
            rem_addr,
            in_port: map.in_port,
            out_port: map.out_port,
            rem_port,
            protocol: map.protocol,
            flags: 0,
            mapping: m,
            expires,
            prev: NIL,
            next: NIL,
        };
        let index = wheel::place(&mut self.sessions, &mut self.free_session, record);
        self.sessions.forget_places(index);
        self.by_inside.insert(index, &self.sessions);
        self.by_outside.insert(index, &self.sessions);
        if self.limits.track_addresses {
            *self.addresses.entry((m, rem_addr)).or_default() += 1;
        }
        self.mappings[m as usize].sessions += 1;
        if self.mappings[m as usize].sessions == 1 {
            self.log_mapping(&map, NatEvent::BibCreate);
        }
        let at = self.mappings.pool_index(m);
        self.addresses_use[at as usize].sessions += 1;
        self.subscribers.update(map.subscriber, |s| s.sessions += 1);
        self.live_sessions += 1;
        self.created += 1;
        self.wheel.link(&mut self.sessions, index);
        self.log_session(&record, NatEvent::SessionCreate);
        Ok(index)
    }

    /// A mapping created for a session that then could not be created is freed.
    fn release_if_unused(&mut self, m: u32, now: u32) {
        if self.mappings[m as usize].sessions == 0 {
            self.remove_mapping(m, now, false);
        }
    }

    /// Sets a session's expiry; a shorter one moves it in the wheel now, a longer one
    /// is picked up when the wheel reaches its current slot.
    pub(crate) fn set_expiry(&mut self, index: u32, expires: u32) {
        let old = self.sessions[index as usize].expires;
        self.sessions[index as usize].expires = expires;
        if expires < old {
            self.expire_earlier(index);
        }
    }

    /// The rare move of [`Table::set_expiry`], out of line: inlined, the
    /// packed links' unlink and link cost every packet ~10 instructions of
    /// register saves (`benches/scripts/known-flow-instructions.sh`).
    #[cold]
    #[inline(never)]
    fn expire_earlier(&mut self, index: u32) {
        self.wheel.shortened(&mut self.sessions, index);
    }

    fn remove_session(&mut self, index: u32) {
        self.wheel.unlink(&mut self.sessions, index);
        let s = self.sessions[index as usize];
        self.by_inside.remove(index, &self.sessions);
        self.by_outside.remove(index, &self.sessions);
        if self.limits.track_addresses
            && let Some(n) = self.addresses.get_mut(&(s.mapping, s.rem_addr))
        {
            *n -= 1;
            if *n == 0 {
                self.addresses.remove(&(s.mapping, s.rem_addr));
            }
        }
        let m = s.mapping;
        let sub = self.mappings[m as usize].subscriber;
        self.subscribers.update(sub, |s| s.sessions -= 1);
        let at = self.mappings.pool_index(m);
        self.addresses_use[at as usize].sessions -= 1;
        self.mappings[m as usize].sessions -= 1;
        if self.mappings[m as usize].sessions == 0 {
            // The port's quarantine counts from the session's expiry.
            self.remove_mapping(m, s.expires, true);
        }
        if s.fast() {
            self.fast_removed.push(s);
        }
        self.sessions[index as usize].protocol = 0;
        wheel::release(&mut self.sessions, &mut self.free_session, index);
        self.live_sessions -= 1;
        self.expired += 1;
        self.log_session(&s, NatEvent::SessionDelete);
    }

    /// Frees mapping `m`; its port goes into quarantine if it carried traffic.
    fn remove_mapping(&mut self, m: u32, now: u32, used: bool) {
        let map = self.mappings[m as usize];
        let at = self.mappings.pool_index(m);
        self.map_inside.remove(m, &self.mappings);
        self.map_outside.remove(m, &self.mappings);
        if used {
            // Only a mapping that had a session was logged created.
            self.log_mapping(&map, NatEvent::BibDelete);
            self.ports.release(at, map.protocol, map.out_port, now);
        } else {
            self.ports.unused(at, map.protocol, map.out_port);
        }
        if let Allocator::Block(b) = &mut self.alloc {
            b.unuse(
                at,
                map.out_port,
                self.now.max(now),
                &mut self.log.block_events,
            );
            self.log_blocks();
        }
        let space = ports::space(map.protocol);
        self.subscribers
            .update(map.subscriber, |s| s.ports[space] -= 1);
        self.addresses_use[at as usize].mappings -= 1;
        self.mappings[m as usize].sessions = self.free_mapping;
        self.free_mapping = m;
        self.live_mappings -= 1;
    }

    /// Advances the wheel towards `now`, touching at most `budget` slots and sessions.
    /// Runs before every packet: each part asks first whether it has work by
    /// `now`, which costs a compare when it has none.
    /// Whether the wheel has not yet walked every second up to `now`.
    pub(crate) fn expiry_behind(&self, now: u32) -> bool {
        self.wheel.due(now)
    }

    pub(crate) fn expire(&mut self, now: u32, budget: usize) {
        // Drained pool addresses are looked for once a second, not on every
        // packet: the look walks the whole pool (16 addresses: 28 of a known
        // IPv6 flow's ~1380 instructions).
        let new_second = now != self.now;
        self.now = now;
        if let Allocator::Block(b) = &mut self.alloc
            && b.due(now)
        {
            b.tick(now, budget, &mut self.log.block_events);
            self.log_blocks();
        }
        if self.wheel.due(now) {
            let mut work = 0;
            while let Some(index) =
                self.wheel
                    .next_expired(&mut self.sessions, now, &mut work, budget)
            {
                self.remove_session(index);
            }
        }
        if self.ports.due(now) {
            self.ports.reclaim(now, budget);
        }
        if new_second {
            self.log_drained();
        }
        // A round of re-announcements goes on at every call until done.
        if new_second || self.log.reannounce.0 > 0 {
            self.reannounce_mappings(budget);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test records for this module and its children (the indexes).
    impl Session {
        /// A live UDP record from `inside` through `outside` to `remote`, in no
        /// wheel slot (for the indexes' tests).
        pub(in crate::nat::table) fn udp_for_test(
            inside: (u32, u16),
            outside: (u32, u16),
            remote: (u32, u16),
        ) -> Session {
            Session {
                in_addr: inside.0,
                out_addr: outside.0,
                rem_addr: remote.0,
                in_port: inside.1,
                out_port: outside.1,
                rem_port: remote.1,
                protocol: 17,
                flags: 0,
                mapping: 0,
                expires: 0,
                prev: NIL,
                next: NIL,
            }
        }
    }

    fn table() -> Table {
        let limits = Limits {
            max_sessions: 1 << 20,
            sessions_per_subscriber: 1 << 20,
            ports_per_subscriber: 64512,
            preserve: false,
            parity: false,
            mapping: MappingMode::Eim,
            track_addresses: false,
        };
        let shard = Shard { index: 0, count: 1 };
        Table::new(vec![0xCB00_7101], 1, limits, 120, (7, 9), 0, shard)
    }

    /// A flow of subscriber 0 from `port` to 192.0.2.80:53.
    fn flow(table: &mut Table, port: u16) -> u32 {
        let key = Key {
            addr: 0x6440_0001,
            port,
            rem_addr: 0xC000_0250,
            rem_port: 53,
            protocol: 17,
        };
        let m = table.mapping_for(0, &key).expect("a port");
        table
            .create_session(m, key.rem_addr, 53, 0, 300)
            .expect("room")
    }

    /// Without flow accounting no session has places; with it, a session
    /// made in a freed slot starts with none, whatever its predecessor had.
    #[test]
    fn accounting_places_exist_only_when_asked_for() {
        let mut t = table();
        let first: Vec<u32> = (0..100).map(|p| flow(&mut t, 2000 + p)).collect();
        t.expire(400, 1000);
        assert_eq!(t.live_sessions(), 0);
        let again = flow(&mut t, 5000);
        assert_eq!(t.sessions.places_len(), 0);
        assert!(first.contains(&again));
        *t.accounting_place(again, false) = 17;
        *t.accounting_place(again, true) = 18;
        assert_eq!(t.sessions.places_len(), t.sessions.len());
        t.expire(800, 1000);
        let third = flow(&mut t, 6000);
        assert_eq!(third, again, "the freed slot is reused");
        assert_eq!(
            (
                *t.accounting_place(third, false),
                *t.accounting_place(third, true)
            ),
            (NIL, NIL)
        );
    }

    #[test]
    fn records_stay_small() {
        // Part of the bytes-per-session figure in docs/performance.md.
        // 48 while the places of the session's two accounting records were
        // in it (now beside the slab, only with accounting on), 40 while its
        // wheel slot and the fast path's flags had bytes of their own.
        assert_eq!(size_of::<Session>(), 36);
        // 32 while it kept its address's pool index too (`mappings`).
        assert_eq!(size_of::<Mapping>(), 28);
    }
}
