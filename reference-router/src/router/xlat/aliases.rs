//! Stand-ins for IPv6 subscriber addresses in the NAT's table, so stateful NAT64
//! (RFC 6146) shares NAT44's pool, port allocator, mapping and filtering
//! behaviour, timers, SYN hold, hairpinning and per-subscriber limits: a NAT64
//! session is a NAT session whose inside address is an *alias* — a 32-bit
//! number in 240.0.0.0/4, which configuration refuses to any subscriber and to
//! the pool (RFC 1112 class E is never a host's) — standing for one IPv6 address.
//!
//! An alias lives while packets use it and is freed once it has been idle
//! longer than any session can live (the longest NAT timeout, the port reuse
//! delay, and a margin for the timer wheel): by then every session and mapping
//! that named it has expired. Freed aliases are found by a sweep that looks at
//! a bounded number of entries per call. The table holds at most `max` aliases,
//! which the session limit bounds: an address without a session needs none.
//!
//! Each worker has its own table and its own part of the space: bits 22–27
//! of an alias name the worker (at most 64), so a worker that meets another's
//! alias (a later IPv4 fragment, which has no port to be steered by) knows
//! whose it is.

use foldhash::fast::RandomState;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::Ipv6Addr;

/// The first alias: 240.0.0.0.
const BASE: u32 = 0xF000_0000;
/// The mask that tells an alias (240.0.0.0/4) from a unicast address.
const CLASS_E: u32 = 0xF000_0000;
/// Bits of an alias below the worker's index.
const SLOT_BITS: u32 = 22;
/// Seconds an alias outlives its sessions' longest possible life, for expiry
/// work the timer wheel has not done yet.
const MARGIN: u32 = 600;

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Slot {
    addr: Ipv6Addr,
    last_used: u32,
    live: bool,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Aliases {
    /// This worker's first alias.
    base: u32,
    by_addr: HashMap<Ipv6Addr, u32, RandomState>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Where the sweep goes on.
    cursor: usize,
    /// Seconds after its last use when no session can name an alias.
    idle: u32,
    max: usize,
}

impl Aliases {
    /// Worker `worker`'s table (below 64) of at most `max` aliases (below
    /// 2^22); sessions live at most `longest` seconds after their last packet.
    pub(crate) fn new(worker: u16, max: usize, longest: u32) -> Aliases {
        Aliases {
            base: BASE | (u32::from(worker) & 0x3F) << SLOT_BITS,
            by_addr: HashMap::with_hasher(RandomState::default()),
            slots: Vec::new(),
            free: Vec::new(),
            cursor: 0,
            idle: longest.saturating_add(MARGIN),
            max: max.min(1 << SLOT_BITS),
        }
    }

    /// Takes a reload's bound (`max` aliases) and sessions' longest life.
    /// A lower bound frees nothing: it stops new aliases until enough expire.
    pub(crate) fn set_limits(&mut self, max: usize, longest: u32) {
        self.max = max.min(1 << SLOT_BITS);
        self.idle = longest.saturating_add(MARGIN);
    }

    /// Whether `a` (an inside address of the NAT's table) is an alias.
    pub(crate) fn is_alias(a: u32) -> bool {
        a & CLASS_E == BASE
    }

    /// The worker whose alias `a` is.
    pub(crate) fn owner(a: u32) -> u16 {
        ((a & !CLASS_E) >> SLOT_BITS) as u16
    }

    /// The alias of `addr`, made if it has none (`None`: the table is full even
    /// after a sweep). Marks it used at `now`.
    pub(crate) fn alias(&mut self, addr: Ipv6Addr, now: u32) -> Option<u32> {
        if let Some(&i) = self.by_addr.get(&addr) {
            self.slots[i as usize].last_used = now;
            return Some(self.base + i);
        }
        if self.by_addr.len() >= self.max {
            self.sweep(now, self.slots.len());
            if self.by_addr.len() >= self.max {
                return None;
            }
        }
        let slot = Slot {
            addr,
            last_used: now,
            live: true,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.by_addr.insert(addr, i);
        Some(self.base + i)
    }

    /// The alias `addr` has, without making one.
    pub(crate) fn find(&self, addr: Ipv6Addr) -> Option<u32> {
        self.by_addr.get(&addr).map(|&i| self.base + i)
    }

    /// The IPv6 address alias `a` stands for, marking it used at `now`.
    pub(crate) fn address(&mut self, a: u32, now: u32) -> Option<Ipv6Addr> {
        let i = a.checked_sub(self.base).filter(|&i| i < 1 << SLOT_BITS)?;
        let slot = self.slots.get_mut(i as usize)?;
        if !slot.live {
            return None;
        }
        slot.last_used = now;
        Some(slot.addr)
    }

    /// The IPv6 address alias `a` stands for, without marking it used (for the
    /// log: a session's deletion must not keep its alias alive).
    pub(crate) fn peek(&self, a: u32) -> Option<Ipv6Addr> {
        let i = a.checked_sub(self.base).filter(|&i| i < 1 << SLOT_BITS)?;
        self.slots
            .get(i as usize)
            .filter(|s| s.live)
            .map(|s| s.addr)
    }

    /// Frees aliases idle past their sessions' life, looking at `budget` entries
    /// (none while no alias is in use: the packet path calls it every time).
    #[inline]
    pub(crate) fn sweep(&mut self, now: u32, budget: usize) {
        if !self.by_addr.is_empty() {
            self.sweep_slots(now, budget);
        }
    }

    fn sweep_slots(&mut self, now: u32, budget: usize) {
        for _ in 0..budget.min(self.slots.len()) {
            if self.cursor >= self.slots.len() {
                self.cursor = 0;
            }
            let i = self.cursor;
            self.cursor += 1;
            let s = self.slots[i];
            if s.live && s.last_used.saturating_add(self.idle) < now {
                self.slots[i].live = false;
                self.by_addr.remove(&s.addr);
                self.free.push(i as u32);
            }
        }
    }

    /// Aliases in use.
    pub(crate) fn len(&self) -> usize {
        self.by_addr.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 1, 1, 0, 0, 0, n)
    }

    #[test]
    fn aliases_are_class_e_stable_and_freed_when_idle() {
        let mut t = Aliases::new(0, 2, 100);
        let x = t.alias(a(1), 10).unwrap();
        assert_eq!(x, 0xF000_0000);
        assert!(Aliases::is_alias(x) && !Aliases::is_alias(0x6440_0001));
        assert_eq!(
            t.alias(a(1), 20),
            Some(x),
            "the same address, the same alias"
        );
        let y = t.alias(a(2), 20).unwrap();
        assert_eq!(y, x + 1);
        assert_eq!(t.alias(a(3), 30), None, "full, and nothing idle");
        assert_eq!(t.address(y, 40), Some(a(2)));
        // a(1) was last used at 20: free after 20 + 100 + 600.
        t.sweep(720, 10);
        assert_eq!(t.len(), 2);
        t.sweep(721, 10);
        assert_eq!((t.len(), t.find(a(1)), t.address(x, 721)), (1, None, None));
        // A full table sweeps before it refuses; the freed slot is reused.
        assert_eq!(t.alias(a(3), 800), Some(x));
        assert_eq!(t.alias(a(4), 800), Some(y), "a(2), idle since 40, swept");
        assert_eq!(t.find(a(2)), None);
        assert_eq!(t.address(0x0A00_0001, 800), None);
        // Worker 5's aliases are its own.
        let mut w = Aliases::new(5, 2, 100);
        let z = w.alias(a(9), 0).unwrap();
        assert_eq!(
            (z, Aliases::owner(z), Aliases::owner(x)),
            (0xF140_0000, 5, 0)
        );
        assert_eq!((w.address(x, 0), t.address(z, 800)), (None, None));
    }
}
