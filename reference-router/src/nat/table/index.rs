//! A hash index of the session slab by one of the session's keys (inside or
//! outside) that stores only the record's number.
//!
//! A `HashMap<Key, u32>` bucket holds the 16-byte key beside the number: 20
//! bytes and a control byte, and at a million sessions the table has two
//! million buckets (hashbrown's power-of-two sizing at ≤ 7/8 load), so each of
//! the two indexes cost 42 bytes per session — more than the 48-byte record.
//! Here a bucket is the 4-byte number; a probe compares the key of the record
//! it names, which the lookup reads next anyway. The key is never stored twice.
//!
//! Contract: a record's number is in the index while the record holds the keys
//! it was inserted with; [`SessionIndex::remove`] takes it out before the
//! record is freed or changed.

use super::{Key, Session};
use core::hash::BuildHasher;
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

impl Side {
    fn key(self, s: &Session) -> Key {
        let (inside, outside) = s.keys();
        match self {
            Side::Inside => inside,
            Side::Outside => outside,
        }
    }
}

pub(crate) struct SessionIndex {
    side: Side,
    table: HashTable<u32>,
    hasher: RandomState,
}

impl SessionIndex {
    pub(crate) fn new(side: Side) -> SessionIndex {
        SessionIndex {
            side,
            table: HashTable::new(),
            hasher: RandomState::default(),
        }
    }

    /// An empty index by inside keys (what a restore starts from).
    pub(crate) fn inside() -> SessionIndex {
        SessionIndex::new(Side::Inside)
    }

    /// An empty index by outside keys.
    pub(crate) fn outside() -> SessionIndex {
        SessionIndex::new(Side::Outside)
    }

    /// An empty index of this side with room for `n` records.
    pub(crate) fn with_capacity(side: Side, n: usize) -> SessionIndex {
        SessionIndex {
            side,
            table: HashTable::with_capacity(n),
            hasher: RandomState::default(),
        }
    }

    /// The session whose key on this side is `key`.
    #[inline]
    pub(crate) fn get(&self, key: &Key, sessions: &[Session]) -> Option<u32> {
        let side = self.side;
        self.table
            .find(self.hasher.hash_one(key), |&i| {
                side.key(&sessions[i as usize]) == *key
            })
            .copied()
    }

    /// Indexes record `index` of `sessions` (already holding its keys) by its
    /// key on this side; a record indexed under the same key before is no
    /// longer found (as a map's insert replaces).
    pub(crate) fn insert(&mut self, index: u32, sessions: &[Session]) {
        let (side, hasher) = (self.side, &self.hasher);
        let key = side.key(&sessions[index as usize]);
        let entry = self.table.entry(
            hasher.hash_one(key),
            |&i| side.key(&sessions[i as usize]) == key,
            |&i| hasher.hash_one(side.key(&sessions[i as usize])),
        );
        match entry {
            Entry::Occupied(mut e) => *e.get_mut() = index,
            Entry::Vacant(e) => {
                e.insert(index);
            }
        }
    }

    /// Takes record `index` (still holding its keys) out of the index.
    pub(crate) fn remove(&mut self, index: u32, sessions: &[Session]) {
        let hash = self
            .hasher
            .hash_one(self.side.key(&sessions[index as usize]));
        if let Ok(e) = self.table.find_entry(hash, |&i| i == index) {
            e.remove();
        }
    }

    /// Records indexed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
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
