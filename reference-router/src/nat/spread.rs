//! Paired pooling's choice of public address for a new subscriber (RFC 6888
//! REQ-2, RFC 4787 REQ-2: a subscriber keeps one address for good), in
//! `dynamic` and `block` allocation: the least-loaded address — fewest
//! subscribers — that has room for a full per-subscriber share. A hash of the
//! subscriber cannot spread them: balls in bins pile up (the birthday effect puts
//! two of a handful on one address of 254), and a load is only known once given.
//!
//! Addresses are handed out in a keyed order (an affine permutation of the pool,
//! keyed by the router's seed), each worker starting at its own offset of it, so
//! workers do not pick the same first addresses; among equally loaded
//! addresses the earlier in that order goes first — a round robin that fills
//! every address once before any twice.
//!
//! Cost, per new subscriber (never per packet): O(log n) when the least-loaded
//! address has room — the usual case; when it has not, the walk goes on in load
//! order past the addresses without room (only when the pool runs short of
//! ports). Memory grows with the addresses handed out, not with the pool.
//! Deterministic mode does not use this: RFC 7422's arithmetic places subscribers.

use crate::iface::Shard;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Serialize, Deserialize)]
pub(crate) struct Spread {
    /// Handed-out addresses as (subscribers, position in the order), least
    /// loaded first.
    loads: BTreeSet<(u32, u32)>,
    /// Positions below this have been handed out.
    fresh: u32,
    /// Pool size.
    n: u32,
    /// The permutation: position p is address `(a * (p + offset) + b) mod n`.
    a: u64,
    b: u64,
    offset: u64,
}

fn gcd(mut x: u64, mut y: u64) -> u64 {
    while y != 0 {
        (x, y) = (y, x % y);
    }
    x
}

impl Spread {
    /// A spread over `n` addresses, keyed by `key` (the same for every worker),
    /// for worker `shard`.
    pub(crate) fn new(n: u32, key: u64, shard: Shard) -> Spread {
        let m = u64::from(n.max(1));
        // A multiplier coprime to n makes the map a bijection of 0..n.
        let mut a = (key % m).max(1);
        while gcd(a, m) != 1 {
            a = a % m + 1;
        }
        let count = u64::from(shard.count.max(1));
        Spread {
            loads: BTreeSet::new(),
            fresh: 0,
            n,
            a,
            b: key.rotate_left(32) % m,
            offset: m * u64::from(shard.index) / count,
        }
    }

    /// The address at position `p` of this worker's order.
    fn address(&self, p: u32) -> u32 {
        let m = u64::from(self.n.max(1));
        ((self.a * ((u64::from(p) + self.offset) % m) + self.b) % m) as u32
    }

    /// Counts a new subscriber on the least-loaded address for which `fits`
    /// holds, and returns it; `None` if none does.
    /// The order over `n` addresses (a reload added some), given that
    /// address `i` has `load(i)` subscribers now: the least-loaded go first
    /// again, the new ones (load 0) among them. O(n) per reload.
    pub(crate) fn grow(&mut self, n: u32, key: u64, shard: Shard, load: impl Fn(u32) -> u32) {
        *self = Spread::new(n, key, shard);
        for p in 0..n {
            self.loads.insert((load(self.address(p)), p));
        }
        self.fresh = n;
    }

    pub(crate) fn choose(&mut self, fits: impl Fn(u32) -> bool) -> Option<u32> {
        if self.fresh < self.n {
            let fresh = self.address(self.fresh);
            if fits(fresh) {
                self.loads.insert((1, self.fresh));
                self.fresh += 1;
                return Some(fresh);
            }
        }
        let (load, p) = self
            .loads
            .iter()
            .copied()
            .find(|&(_, p)| fits(self.address(p)))?;
        self.loads.remove(&(load, p));
        self.loads.insert((load + 1, p));
        Some(self.address(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_a_permutation_and_workers_start_apart() {
        for n in [1u32, 2, 3, 254, 256, 1000] {
            let s = Spread::new(n, 0x1234_5678_9abc_def0, Shard::SOLE);
            let mut seen: Vec<u32> = (0..n).map(|p| s.address(p)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
        // Two workers: their first 127 addresses of 254 are all different.
        let w0 = Spread::new(254, 99, Shard { index: 0, count: 2 });
        let w1 = Spread::new(254, 99, Shard { index: 1, count: 2 });
        let first0: Vec<u32> = (0..127).map(|p| w0.address(p)).collect();
        assert!((0..127).all(|p| !first0.contains(&w1.address(p))));
    }

    #[test]
    fn every_address_once_before_any_twice_and_full_ones_are_passed() {
        let mut s = Spread::new(4, 7, Shard::SOLE);
        let mut got: Vec<u32> = (0..4).map(|_| s.choose(|_| true).unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 3]);
        // The first in the order has no room: the next least loaded is taken,
        // then the full one is passed again.
        let full = s.address(0);
        let second = s.choose(|i| i != full).unwrap();
        assert_ne!(second, full);
        assert_eq!(s.loads.iter().filter(|&&(l, _)| l == 2).count(), 1);
        assert_eq!(s.choose(|_| false), None);
        // Loads never differ by more than one while every address has room.
        for _ in 0..1000 {
            s.choose(|i| i != full);
        }
        let loads: Vec<u32> = s.loads.iter().map(|&(l, _)| l).collect();
        let spread = loads.iter().max().unwrap() - loads.iter().min().unwrap();
        assert!(spread > 1, "the full address fell behind: {loads:?}");
        let others: Vec<u32> = s
            .loads
            .iter()
            .filter(|&&(_, p)| s.address(p) != full)
            .map(|&(l, _)| l)
            .collect();
        assert!(others.iter().max().unwrap() - others.iter().min().unwrap() <= 1);
    }
}
