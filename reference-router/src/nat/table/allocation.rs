//! How a new mapping gets its external address and port — `[nat] allocation`:
//! `dynamic` (a random free port of the subscriber's address, RFC 6056), `block`
//! ([`crate::nat::blocks`]) or `deterministic` ([`crate::nat::deterministic`]) — and what the
//! table logs for IPFIX (RFC 8158 NAT events): blocks, sessions, limits.

use super::{Full, Key, Mapping, Session, Table};
use crate::iface::SubscriberId;
use crate::ipfix::NatRecord;
use crate::nat::blocks::{BlockEvent, Blocks, NoPort};
use crate::nat::deterministic::Deterministic;
use crate::nat::ports::{self, Want};
use crate::persub::PerSubscriber;
use crate::stats::NatEvent;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// How a new mapping gets its port (`[nat] allocation`).
#[derive(Serialize, Deserialize)]
pub(crate) enum Allocator {
    /// A random free port of the subscriber's address.
    Dynamic,
    /// A random free port of one of the inside address's blocks.
    Block(Blocks),
    /// A random free port of the inside address's RFC 7422 range.
    Deterministic(Deterministic),
}

/// What the table logs, and the records waiting for the router to take.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct NatLog {
    pub(crate) blocks: bool,
    pub(crate) sessions: bool,
    pub(crate) limits: bool,
    /// NAT44 BIB create/delete (natEvent 8/9) per endpoint-independent
    /// mapping: what a takeover backup is fed with (`[ipfix] mappings`).
    pub(crate) mappings: bool,
    /// Seconds between re-announcing every live mapping (natEvent 8 again,
    /// `[ipfix] interim`), so a backup that (re)started, or lost a datagram,
    /// is fed every mapping within that time; 0: never.
    pub(crate) interim: u32,
    /// The re-announcement's place in the mapping records, and when the
    /// next round starts.
    pub(in crate::nat) reannounce: (usize, u32),
    pub(crate) records: Vec<NatRecord>,
    pub(in crate::nat) block_events: Vec<BlockEvent>,
    /// Per subscriber: the second its last limit event was logged (one per
    /// second at most: a refused flood must not flood the log).
    pub(in crate::nat) limit_logged: PerSubscriber<u32>,
}

impl Table {
    /// Uses `alloc` for new mappings and logs what `log` asks.
    pub(crate) fn set_allocation(&mut self, mut alloc: Allocator, log: NatLog) {
        if let Allocator::Block(b) = &mut alloc {
            b.log(log.blocks);
        }
        self.alloc = alloc;
        self.log = NatLog {
            limit_logged: PerSubscriber::new(self.subscribers.dense_len(), u32::MAX),
            // The first round one interval from now: creates are logged as they come.
            reannounce: (0, self.now.saturating_add(log.interim)),
            ..log
        };
    }

    /// Every live port block: (inside address, public address, first, last).
    pub(crate) fn live_blocks(&self) -> Vec<(Ipv4Addr, Ipv4Addr, u16, u16)> {
        match &self.alloc {
            Allocator::Block(b) => b
                .live()
                .into_iter()
                .map(|(inside, addr, first, last)| {
                    (inside.into(), self.pool[addr as usize].into(), first, last)
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Logs limit `event` for `subscriber`'s `inside` address, at most once a
    /// second per subscriber.
    pub(in crate::nat) fn log_limit(
        &mut self,
        event: NatEvent,
        subscriber: SubscriberId,
        key: &Key,
        pool: Option<u32>,
    ) {
        let now = self.now;
        if !self.log.limits || *self.log.limit_logged.get(subscriber) == now {
            return;
        }
        self.log.limit_logged.update(subscriber, |last| *last = now);
        let outside = pool.map_or(Ipv4Addr::UNSPECIFIED, |i| self.pool[i as usize].into());
        self.log.records.push(NatRecord {
            protocol: key.protocol,
            ..NatRecord::new(event, key.addr.into(), outside)
        });
    }

    /// Turns the blocks' events into records, and counts blocks per subscriber.
    pub(in crate::nat) fn log_blocks(&mut self) {
        for e in std::mem::take(&mut self.log.block_events) {
            let event = if e.allocated {
                NatEvent::BlockAllocation
            } else {
                NatEvent::BlockDeallocation
            };
            self.subscribers.update(e.subscriber, |s| {
                if e.allocated && s.blocks < u32::MAX {
                    s.blocks += 1;
                } else if !e.allocated {
                    s.blocks = s.blocks.saturating_sub(1);
                }
            });
            if self.log.blocks {
                self.log.records.push(NatRecord {
                    first_port: e.first,
                    last_port: e.last,
                    ..NatRecord::new(
                        event,
                        e.inside.into(),
                        self.pool[e.pool_index as usize].into(),
                    )
                });
            }
        }
    }

    /// Logs a session's creation or deletion (natEvent 4/5; the router makes
    /// those of an alias 6/7), with its remote.
    pub(in crate::nat) fn log_session(&mut self, s: &Session, event: NatEvent) {
        if self.log.sessions {
            self.log.records.push(NatRecord {
                protocol: s.protocol,
                inside_port: s.in_port,
                outside_port: s.out_port,
                remote: s.rem_addr.into(),
                remote_port: s.rem_port,
                ..NatRecord::new(event, s.in_addr.into(), s.out_addr.into())
            });
        }
    }

    /// Logs a mapping's creation (its first session) or deletion (its last
    /// session ended): natEvent 8/9, inside endpoint to public endpoint.
    pub(in crate::nat) fn log_mapping(&mut self, m: &Mapping, event: NatEvent) {
        if self.log.mappings {
            self.log.records.push(NatRecord {
                protocol: m.protocol,
                inside_port: m.in_port,
                outside_port: m.out_port,
                ..NatRecord::new(event, m.in_addr.into(), m.out_addr.into())
            });
        }
    }

    pub(in crate::nat) fn pool_index_for(
        &mut self,
        subscriber: SubscriberId,
        protocol: u8,
    ) -> Result<u32, Full> {
        if let Some(i) = self.subscribers.get(subscriber).pool_index
            && !self.is_draining(i)
        {
            return Ok(i);
        }
        // Paired pooling (RFC 6888 REQ-2): the subscriber keeps this address for
        // good — the least-loaded one with room for a full share ([`Spread`]),
        // else the least-loaded with any room. Room: free ports for the port
        // limit, or free blocks for `max_blocks`.
        let (spread, alloc, ports, uses) = (
            &mut self.spread,
            &self.alloc,
            &self.ports,
            &self.addresses_use,
        );
        let (room, need): (Box<dyn Fn(u32) -> u32>, u32) = match alloc {
            Allocator::Block(b) => (Box::new(|i| b.free(i)), b.max_blocks().min(b.per_address())),
            _ => (
                Box::new(|i| ports.free(i, protocol)),
                self.limits.ports_per_subscriber,
            ),
        };
        // A draining address (a reload removed it) is given to no one.
        let draining = |i: u32| uses.get(i as usize).is_some_and(|u| u.draining);
        let pick = spread
            .choose(|i| !draining(i) && room(i) >= need)
            .or_else(|| spread.choose(|i| !draining(i) && room(i) > 0))
            .ok_or(Full::Pool)?;
        self.subscribers
            .update(subscriber, |s| s.pool_index = Some(pick));
        Ok(pick)
    }

    /// An external address and port for a new mapping of `key`, by the
    /// allocation mode; a refusal is logged.
    pub(in crate::nat) fn new_port(
        &mut self,
        subscriber: SubscriberId,
        key: &Key,
    ) -> Result<(u32, u16), Full> {
        let want = Want {
            protocol: key.protocol,
            internal: key.port,
            preserve: self.limits.preserve,
            parity: self.limits.parity,
        };
        let space = ports::space(key.protocol);
        let sub = *self.subscribers.get(subscriber);
        if let Allocator::Deterministic(d) = &self.alloc {
            let range = d.range_of(key.addr.into());
            let found = range.and_then(|r| {
                let port =
                    self.ports
                        .allocate_in(r.pool_index, want, r.first.into(), r.last.into())?;
                Some((r.pool_index, port))
            });
            self.subscribers.update(subscriber, |state| {
                state.pool_index = state.pool_index.or(range.map(|r| r.pool_index));
            });
            return found.ok_or_else(|| {
                self.log_limit(
                    NatEvent::QuotaExceeded,
                    subscriber,
                    key,
                    range.map(|r| r.pool_index),
                );
                Full::Ports
            });
        }
        if matches!(self.alloc, Allocator::Dynamic)
            && sub.ports[space] >= self.limits.ports_per_subscriber
        {
            self.log_limit(NatEvent::QuotaExceeded, subscriber, key, sub.pool_index);
            return Err(Full::Ports);
        }
        let pool_index = match self.pool_index_for(subscriber, key.protocol) {
            Ok(i) => i,
            Err(full) => {
                self.log_limit(NatEvent::AddressesExhausted, subscriber, key, None);
                return Err(full);
            }
        };
        let random = self.ports.random();
        let port = match &mut self.alloc {
            Allocator::Block(b) => {
                let got = b.allocate(
                    &mut self.ports,
                    (key.addr, subscriber),
                    pool_index,
                    want,
                    (random, self.now),
                    &mut self.log.block_events,
                );
                self.log_blocks();
                got.map_err(|no| match no {
                    NoPort::Quota => (NatEvent::QuotaExceeded, Full::Ports),
                    NoPort::Exhausted => (NatEvent::PortsExhausted, Full::Pool),
                })
            }
            _ => self
                .ports
                .allocate(pool_index, want)
                .ok_or((NatEvent::PortsExhausted, Full::Pool)),
        };
        port.map(|p| (pool_index, p)).map_err(|(event, full)| {
            self.log_limit(event, subscriber, key, Some(pool_index));
            full
        })
    }
}

impl Table {
    /// The RFC 7422 arithmetic, in deterministic mode.
    pub(crate) fn deterministic(&self) -> Option<&Deterministic> {
        match &self.alloc {
            Allocator::Deterministic(d) => Some(d),
            _ => None,
        }
    }

    /// Whether NAT events wait for [`Table::take_log`].
    #[inline]
    pub(crate) fn has_log(&self) -> bool {
        !self.log.records.is_empty()
    }

    /// Takes the NAT events logged since the last call.
    pub(crate) fn take_log(&mut self) -> std::vec::Drain<'_, NatRecord> {
        self.log.records.drain(..)
    }
}
