//! Hash indexes of the session and mapping slabs by one of a record's keys
//! (inside or outside) that store only the record's number.
//!
//! A `HashMap<Key, u32>` bucket holds the 16-byte key beside the number: 20
//! bytes and a control byte, and at a million records the table has two
//! million buckets (hashbrown's power-of-two sizing at ≤ 7/8 load), so each
//! index cost up to 42 bytes per record — more than the 48-byte session. Here a
//! bucket is the 4-byte number; a probe compares the key of the record it
//! names, which the lookup reads next anyway. The key is never stored twice.
//! Mappings are indexed the same way: where every flow has its own mapping
//! (random source ports, RFC 4814), their two indexes weighed as much as the
//! sessions'.
//!
//! Contract: a record's number is in the index while the record holds the keys
//! it was inserted with; [`RecordIndex::remove`] takes it out before the
//! record is freed or changed.

use super::{Key, Mapping, Session};
use core::hash::BuildHasher;
use core::marker::PhantomData;
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// Two words, not five fields: the hasher mixes each `write` on its own, and
/// every packet hashes a key.
impl std::hash::Hash for Key {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let addrs = u64::from(self.addr) | u64::from(self.rem_addr) << 32;
        let rest =
            u64::from(self.port) | u64::from(self.rem_port) << 16 | u64::from(self.protocol) << 32;
        state.write_u64(addrs);
        state.write_u64(rest);
    }
}

impl Key {
    /// The key of a local endpoint alone (an endpoint-independent mapping, or the
    /// outside index of any mapping).
    pub(crate) fn endpoint(protocol: u8, addr: u32, port: u16) -> Key {
        Key {
            addr,
            port,
            protocol,
            rem_addr: 0,
            rem_port: 0,
        }
    }
}

/// Which of a session's two keys an index is by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// Inside endpoint and remote endpoint.
    Inside,
    /// Outside (public) endpoint and remote endpoint.
    Outside,
}

/// A record that an index finds by its key on one side.
pub(crate) trait Keyed {
    fn key(&self, side: Side) -> Key;
}

impl Keyed for Session {
    #[inline]
    fn key(&self, side: Side) -> Key {
        let (inside, outside) = self.keys();
        match side {
            Side::Inside => inside,
            Side::Outside => outside,
        }
    }
}

impl Keyed for Mapping {
    #[inline]
    fn key(&self, side: Side) -> Key {
        match side {
            Side::Inside => self.inside_key(),
            Side::Outside => self.outside_key(),
        }
    }
}

/// An index of a slab of `R` records by their key on one side.
pub(crate) struct RecordIndex<R> {
    side: Side,
    table: HashTable<u32>,
    hasher: RandomState,
    records: PhantomData<fn(&R)>,
}

/// The session slab's index on one side.
pub(crate) type SessionIndex = RecordIndex<Session>;
/// The mapping slab's index on one side.
pub(crate) type MappingIndex = RecordIndex<Mapping>;

impl<R: Keyed> RecordIndex<R> {
    pub(crate) fn new(side: Side) -> RecordIndex<R> {
        RecordIndex::with_capacity(side, 0)
    }

    /// An empty index by inside keys (what a restore starts from).
    pub(crate) fn inside() -> RecordIndex<R> {
        RecordIndex::new(Side::Inside)
    }

    /// An empty index by outside keys.
    pub(crate) fn outside() -> RecordIndex<R> {
        RecordIndex::new(Side::Outside)
    }

    /// An empty index of this side with room for `n` records.
    pub(crate) fn with_capacity(side: Side, n: usize) -> RecordIndex<R> {
        RecordIndex {
            side,
            table: HashTable::with_capacity(n),
            hasher: RandomState::default(),
            records: PhantomData,
        }
    }

    /// The record whose key on this side is `key`.
    #[inline]
    pub(crate) fn get(&self, key: &Key, records: &[R]) -> Option<u32> {
        let side = self.side;
        self.table
            .find(self.hasher.hash_one(key), |&i| {
                records[i as usize].key(side) == *key
            })
            .copied()
    }

    /// Indexes record `index` of `records` (already holding its keys) by its
    /// key on this side; a record indexed under the same key before is no
    /// longer found (as a map's insert replaces).
    pub(crate) fn insert(&mut self, index: u32, records: &[R]) {
        let (side, hasher) = (self.side, &self.hasher);
        let key = records[index as usize].key(side);
        let entry = self.table.entry(
            hasher.hash_one(key),
            |&i| records[i as usize].key(side) == key,
            |&i| hasher.hash_one(records[i as usize].key(side)),
        );
        match entry {
            Entry::Occupied(mut e) => *e.get_mut() = index,
            Entry::Vacant(e) => {
                e.insert(index);
            }
        }
    }

    /// Takes record `index` (still holding its keys) out of the index.
    pub(crate) fn remove(&mut self, index: u32, records: &[R]) {
        let hash = self.hasher.hash_one(records[index as usize].key(self.side));
        if let Ok(e) = self.table.find_entry(hash, |&i| i == index) {
            e.remove();
        }
    }

    /// Records indexed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// The numbers of the records indexed, in no order.
    pub(crate) fn indexes(&self) -> impl Iterator<Item = u32> + '_ {
        self.table.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(in_port: u16, out_port: u16, rem_addr: u32) -> Session {
        Session::udp_for_test(
            (0x6440_0001, in_port),
            (0xCB00_7101, out_port),
            (rem_addr, 53),
        )
    }

    /// Law: the index finds every record by its key on its side, and nothing
    /// else — through the growth of the table (records re-hashed from the
    /// slab) and after removals.
    #[test]
    fn finds_each_record_by_its_key_through_growth_and_removal() {
        let sessions: Vec<Session> = (0..5000u32)
            .map(|i| {
                session(
                    10_000 + (i % 2000) as u16,
                    40_000 + i as u16,
                    0x0A00_0000 + i / 2000,
                )
            })
            .collect();
        let (mut inside, mut outside) = (
            SessionIndex::new(Side::Inside),
            SessionIndex::new(Side::Outside),
        );
        for i in 0..sessions.len() as u32 {
            inside.insert(i, &sessions);
            outside.insert(i, &sessions);
        }
        assert_eq!((inside.len(), outside.len()), (5000, 5000));
        for (i, s) in sessions.iter().enumerate() {
            let (k_in, k_out) = s.keys();
            assert_eq!(inside.get(&k_in, &sessions), Some(i as u32));
            assert_eq!(outside.get(&k_out, &sessions), Some(i as u32));
            // The other side's key is not this side's.
            assert_eq!(inside.get(&k_out, &sessions), None);
        }
        for i in (0..5000u32).step_by(2) {
            inside.remove(i, &sessions);
        }
        assert_eq!(inside.len(), 2500);
        for (i, s) in sessions.iter().enumerate() {
            let want = (i % 2 == 1).then_some(i as u32);
            assert_eq!(inside.get(&s.keys().0, &sessions), want);
        }
        // Removing what is not there changes nothing.
        inside.remove(0, &sessions);
        assert_eq!(inside.len(), 2500);
    }

    fn mapping(in_port: u16, out_port: u16) -> Mapping {
        Mapping {
            in_addr: 0x6440_0001,
            out_addr: 0xCB00_7101,
            rem_addr: 0,
            in_port,
            out_port,
            rem_port: 0,
            protocol: 17,
            subscriber: Default::default(),
            sessions: 1,
        }
    }

    /// Law, for mappings: the inside index finds a mapping by its inside
    /// endpoint and the outside index by its public endpoint, through growth
    /// and removal; `indexes` lists exactly the records indexed.
    #[test]
    fn finds_each_mapping_by_its_endpoints_through_growth_and_removal() {
        let mappings: Vec<Mapping> = (0..3000u16)
            .map(|i| mapping(1024 + i, 60_000 - i))
            .collect();
        let (mut inside, mut outside) = (
            MappingIndex::new(Side::Inside),
            MappingIndex::new(Side::Outside),
        );
        for i in 0..mappings.len() as u32 {
            inside.insert(i, &mappings);
            outside.insert(i, &mappings);
        }
        for i in (0..3000u32).filter(|i| i % 3 == 0) {
            inside.remove(i, &mappings);
            outside.remove(i, &mappings);
        }
        for (i, m) in mappings.iter().enumerate() {
            let want = (i % 3 != 0).then_some(i as u32);
            assert_eq!(
                inside.get(&Key::endpoint(17, m.in_addr, m.in_port), &mappings),
                want
            );
            assert_eq!(
                outside.get(&Key::endpoint(17, m.out_addr, m.out_port), &mappings),
                want
            );
            // The same ports over TCP are another endpoint.
            assert_eq!(
                inside.get(&Key::endpoint(6, m.in_addr, m.in_port), &mappings),
                None
            );
        }
        let mut listed: Vec<u32> = outside.indexes().collect();
        listed.sort_unstable();
        assert_eq!(
            listed,
            (0..3000u32).filter(|i| i % 3 != 0).collect::<Vec<_>>()
        );
    }

    /// As a map's insert: a second record under the same key takes its place.
    #[test]
    fn a_record_under_a_key_already_indexed_replaces_it() {
        let sessions = vec![session(1, 2, 3), session(1, 9, 3)];
        let mut inside = SessionIndex::new(Side::Inside);
        inside.insert(0, &sessions);
        inside.insert(1, &sessions);
        assert_eq!(inside.len(), 1);
        assert_eq!(inside.get(&sessions[0].keys().0, &sessions), Some(1));
    }
}
