//! The mapping slab, and where each pool address sits in the pool.
//!
//! A mapping kept its public address and that address's index in the pool:
//! 4 of a 32-byte record. The index is a function of the address (the pool
//! only grows, and never holds an address twice), so the record keeps the
//! address alone (28 bytes) and the index is found from it when a mapping or
//! session is made or freed — never per packet, which reads the address.
//! Where every flow has its own mapping (RFC 4814 ports, a million of them)
//! that is 4 MB.
//!
//! [`Positions`] finds an address's index in runs of consecutive addresses
//! (a `/24` pool is one run): a binary search over the runs.
//!
//! The saved state (`crate::state`) is unchanged: each mapping is written
//! with its pool index last, as the 32-byte record was, and the index read
//! back is dropped. Positions are built from the pool ([`Mappings::set_pool`]),
//! like the hash indexes on a restore; a mapping whose address is not in the
//! pool is refused there ([`Mappings::check`]), so lookups of a loaded table
//! always find theirs.

use super::Mapping;
use crate::iface::SubscriberId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::{Deref, DerefMut};

/// Consecutive pool addresses at consecutive indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    first: u32,
    /// The index of `first` in the pool.
    index: u32,
    len: u32,
}

impl Run {
    fn index_of(&self, addr: u32) -> Option<u32> {
        let offset = addr.checked_sub(self.first)?;
        (offset < self.len).then_some(self.index + offset)
    }
}

/// The index of each pool address, found from the address.
#[derive(Clone, Debug, Default)]
pub(crate) struct Positions {
    /// By `first`, disjoint.
    runs: Vec<Run>,
    /// The run holding the last index given (where a next address may extend it).
    last: Option<usize>,
}

impl Positions {
    /// The positions of the addresses of `pool`, which holds none twice.
    pub(crate) fn of(pool: &[u32]) -> Positions {
        let mut p = Positions::default();
        for (i, &addr) in pool.iter().enumerate() {
            p.push(addr, i as u32);
        }
        p
    }

    /// `addr`, not in the pool yet, is at `index`, one past the last.
    pub(crate) fn push(&mut self, addr: u32, index: u32) {
        if let Some(l) = self.last {
            let r = &mut self.runs[l];
            if r.first.checked_add(r.len) == Some(addr) && r.index + r.len == index {
                r.len += 1;
                return;
            }
        }
        let at = self.runs.partition_point(|r| r.first < addr);
        self.runs.insert(
            at,
            Run {
                first: addr,
                index,
                len: 1,
            },
        );
        self.last = Some(at);
    }

    /// The index of `addr` in the pool; `None` if it is not in it.
    pub(crate) fn index(&self, addr: u32) -> Option<u32> {
        let after = self.runs.partition_point(|r| r.first <= addr);
        self.runs.get(after.checked_sub(1)?)?.index_of(addr)
    }

    /// Runs kept (for the tests).
    #[cfg(test)]
    fn runs(&self) -> usize {
        self.runs.len()
    }
}

/// The mapping records and the pool positions of their public addresses.
#[derive(Default)]
pub(crate) struct Mappings {
    records: Vec<Mapping>,
    positions: Positions,
}

impl Deref for Mappings {
    type Target = Vec<Mapping>;
    fn deref(&self) -> &Vec<Mapping> {
        &self.records
    }
}

impl DerefMut for Mappings {
    fn deref_mut(&mut self) -> &mut Vec<Mapping> {
        &mut self.records
    }
}

impl Mappings {
    /// No mappings, on the addresses of `pool`.
    pub(crate) fn new(pool: &[u32]) -> Mappings {
        Mappings {
            records: Vec::new(),
            positions: Positions::of(pool),
        }
    }

    /// The positions are those of `pool` (a restore: they are not saved).
    pub(crate) fn set_pool(&mut self, pool: &[u32]) {
        self.positions = Positions::of(pool);
    }

    /// The pool took `addr` at `index` (a reload).
    pub(crate) fn add_address(&mut self, addr: u32, index: u32) {
        self.positions.push(addr, index);
    }

    /// The index of `addr` in the pool, if it is in it.
    pub(crate) fn position(&self, addr: u32) -> Option<u32> {
        self.positions.index(addr)
    }

    /// The pool index of mapping `m`'s public address.
    pub(crate) fn pool_index(&self, m: u32) -> u32 {
        self.index_of(&self.records[m as usize])
    }

    fn index_of(&self, record: &Mapping) -> u32 {
        self.positions
            .index(record.out_addr)
            .expect("a mapping's public address is in the pool: made from it, checked on restore")
    }

    /// Every record's public address (a free record's too: it is saved) is
    /// in the pool of [`Mappings::set_pool`]; the first that is not, as an
    /// error.
    pub(crate) fn check(&self) -> Result<(), String> {
        match self
            .records
            .iter()
            .position(|r| self.positions.index(r.out_addr).is_none())
        {
            Some(i) => Err(format!(
                "mapping {i}'s public address {} is not in the pool",
                std::net::Ipv4Addr::from(self.records[i].out_addr)
            )),
            None => Ok(()),
        }
    }
}

/// A mapping as a saved state holds it: the 32-byte record's fields in their
/// order, the pool index last.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct Saved {
    in_addr: u32,
    out_addr: u32,
    rem_addr: u32,
    in_port: u16,
    out_port: u16,
    rem_port: u16,
    protocol: u8,
    subscriber: SubscriberId,
    sessions: u32,
    pool_index: u32,
}

impl Serialize for Mappings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.records.iter().map(|m| Saved {
            in_addr: m.in_addr,
            out_addr: m.out_addr,
            rem_addr: m.rem_addr,
            in_port: m.in_port,
            out_port: m.out_port,
            rem_port: m.rem_port,
            protocol: m.protocol,
            subscriber: m.subscriber,
            sessions: m.sessions,
            pool_index: self.index_of(m),
        }))
    }
}

impl<'de> Deserialize<'de> for Mappings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Mappings, D::Error> {
        let saved = Vec::<Saved>::deserialize(deserializer)?;
        Ok(Mappings {
            records: saved
                .into_iter()
                .map(|s| Mapping {
                    in_addr: s.in_addr,
                    out_addr: s.out_addr,
                    rem_addr: s.rem_addr,
                    in_port: s.in_port,
                    out_port: s.out_port,
                    rem_port: s.rem_port,
                    protocol: s.protocol,
                    subscriber: s.subscriber,
                    sessions: s.sessions,
                })
                .collect(),
            positions: Positions::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::{QuickCheck, TestResult};

    /// Law: in a pool of distinct addresses, in any order and grown one
    /// address at a time, every address is found at its index, and an
    /// address not in the pool is not found.
    #[test]
    fn every_pool_address_is_found_at_its_index() {
        fn law(picks: Vec<(u8, u8)>, probes: Vec<u8>) -> TestResult {
            // Addresses near each other and near both ends of the space, so
            // that runs form, touch and break.
            let at = |block: u8, offset: u8| {
                let base = [0, 0x6440_0000, 0xCB00_7100, u32::MAX - 39][usize::from(block % 4)];
                base + u32::from(offset % 40)
            };
            let mut pool: Vec<u32> = Vec::new();
            for (block, offset) in picks {
                let addr = at(block, offset);
                if !pool.contains(&addr) {
                    pool.push(addr);
                }
            }
            let mut grown = Positions::default();
            for (i, &a) in pool.iter().enumerate() {
                grown.push(a, i as u32);
            }
            let whole = Positions::of(&pool);
            for (i, &a) in pool.iter().enumerate() {
                if whole.index(a) != Some(i as u32) || grown.index(a) != Some(i as u32) {
                    return TestResult::failed();
                }
            }
            for p in probes {
                for addr in [at(p, p / 4), u32::from(p), u32::MAX - u32::from(p)] {
                    let want = pool.iter().position(|&a| a == addr).map(|i| i as u32);
                    if whole.index(addr) != want {
                        return TestResult::failed();
                    }
                }
            }
            TestResult::passed()
        }
        QuickCheck::new()
            .tests(500)
            .quickcheck(law as fn(Vec<(u8, u8)>, Vec<u8>) -> TestResult);
    }

    /// A pool of prefixes is a run per prefix, whatever their order.
    #[test]
    fn a_pool_of_prefixes_is_a_run_each() {
        let mut pool: Vec<u32> = (0..256).map(|i| 0xCB00_7100 + i).collect();
        pool.extend((0..16).map(|i| 0xC633_6400 + i));
        pool.extend((0..4).map(|i| 0x0A00_0000 + i));
        let p = Positions::of(&pool);
        assert_eq!(p.runs(), 3);
        assert_eq!(p.index(0xCB00_71FF), Some(255));
        assert_eq!(p.index(0xC633_6400), Some(256));
        assert_eq!(p.index(0x0A00_0003), Some(275));
        assert_eq!(p.index(0x0A00_0004), None);
        assert_eq!(p.index(0xCB00_70FF), None);
    }

    /// The record as it was derived before (32 bytes, the pool index in
    /// it): what a state saved by an older binary holds.
    #[derive(Serialize)]
    struct Before {
        in_addr: u32,
        out_addr: u32,
        rem_addr: u32,
        in_port: u16,
        out_port: u16,
        rem_port: u16,
        protocol: u8,
        subscriber: SubscriberId,
        sessions: u32,
        pool_index: u32,
    }

    /// Law: mappings saved are byte for byte what the 32-byte records were
    /// saved as, and a state of those loads back into the same records,
    /// whose pool indexes are found from their addresses.
    #[test]
    fn saves_and_loads_as_the_records_with_their_pool_index_did() {
        let pool = [0xCB00_7101, 0xCB00_7102, 0xC633_6407];
        let old: Vec<Before> = (0..3u32)
            .map(|i| Before {
                in_addr: 0x6440_0000 + i,
                out_addr: pool[2 - i as usize],
                rem_addr: if i == 1 { 0xC000_0250 } else { 0 },
                in_port: 1024 + i as u16,
                out_port: 40_000 + i as u16,
                rem_port: if i == 1 { 53 } else { 0 },
                protocol: [6, 17, 1][i as usize],
                subscriber: 70_000 + i,
                sessions: i * 3,
                pool_index: 2 - i,
            })
            .collect();
        let bytes = postcard::to_allocvec(&old).expect("saved");
        let mut mappings: Mappings = postcard::from_bytes(&bytes).expect("loads");
        mappings.set_pool(&pool);
        assert_eq!(mappings.check(), Ok(()));
        assert_eq!(mappings.len(), 3);
        assert_eq!(
            (
                mappings[1].in_port,
                mappings[1].rem_addr,
                mappings[1].subscriber
            ),
            (1025, 0xC000_0250, 70_001)
        );
        assert_eq!(
            (0..3).map(|m| mappings.pool_index(m)).collect::<Vec<_>>(),
            [2, 1, 0]
        );
        assert_eq!(postcard::to_allocvec(&mappings).expect("saved"), bytes);
    }

    /// A state whose mapping is on an address the pool does not hold is
    /// refused by name, not a panic later.
    #[test]
    fn a_mapping_off_the_pool_is_refused() {
        let old = vec![Before {
            in_addr: 0x6440_0001,
            out_addr: 0xCB00_7109,
            rem_addr: 0,
            in_port: 1024,
            out_port: 40_000,
            rem_port: 0,
            protocol: 17,
            subscriber: 0,
            sessions: 1,
            pool_index: 0,
        }];
        let mut mappings: Mappings =
            postcard::from_bytes(&postcard::to_allocvec(&old).expect("saved")).expect("loads");
        mappings.set_pool(&[0xCB00_7101]);
        assert_eq!(
            mappings.check(),
            Err("mapping 0's public address 203.0.113.9 is not in the pool".to_string())
        );
    }
}
