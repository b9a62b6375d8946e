//! The session slab, and beside it the places flow accounting keeps for each
//! session — only when accounting is on.
//!
//! A session's two accounting places (where its outbound and inbound flow
//! records are, [`crate::ipfix::accounting::Accounting::count_at`]) were 8 of
//! a 48-byte record whether accounting was on or not. Here they are a vector
//! of their own that grows only as accounting asks for places, so a router
//! without it pays nothing (the record is 36 bytes, `super::record`), and one
//! with it pays the same 8 bytes as before.
//!
//! A place is a hint: `count_at` checks the record it names against the
//! flow's key. A session created in a slot gets fresh places ([`NIL`]).
//!
//! The saved state (`crate::state`) is unchanged: the slab is written as the
//! sequence of 48-byte-shaped records it always was, each with its places
//! (NIL where none), and read back the same way, so a state saved by a binary
//! of before this split still loads.

use super::{NIL, Session};
use crate::wheel::Timed;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::{Deref, DerefMut};

/// The session records and, when accounting is on, their places.
#[derive(Default)]
pub(crate) struct Slab {
    records: Vec<Session>,
    /// Indexed as `records`; shorter where no place was ever asked for
    /// (a missing entry is `[NIL; 2]`).
    places: Vec<[u32; 2]>,
}

impl Deref for Slab {
    type Target = Vec<Session>;
    fn deref(&self) -> &Vec<Session> {
        &self.records
    }
}

impl DerefMut for Slab {
    fn deref_mut(&mut self) -> &mut Vec<Session> {
        &mut self.records
    }
}

impl Slab {
    /// Session `index`'s accounting place for its outbound (`0`) or inbound
    /// (`1`) flow, made (`NIL`) if it was never asked for.
    pub(crate) fn place(&mut self, index: u32, side: usize) -> &mut u32 {
        let i = index as usize;
        if self.places.len() <= i {
            // To the slab's length at once: one growth per slab growth.
            self.places.resize(self.records.len().max(i + 1), [NIL; 2]);
        }
        &mut self.places[i][side]
    }

    /// A new session in slot `index`: no places yet.
    pub(crate) fn forget_places(&mut self, index: u32) {
        if let Some(p) = self.places.get_mut(index as usize) {
            *p = [NIL; 2];
        }
    }

    /// Places kept (for the tests: none without accounting).
    #[cfg(test)]
    pub(crate) fn places_len(&self) -> usize {
        self.places.len()
    }
}

/// A session as a saved state holds it: the record's fields in their order
/// of before the split and the packing ([`super::record`]), the two places
/// last. `repeated` is not saved; `slot` is the head's (another record's
/// slot is never read: 0).
#[derive(Clone, Copy, Serialize, Deserialize)]
pub(super) struct Saved {
    in_addr: u32,
    out_addr: u32,
    rem_addr: u32,
    in_port: u16,
    out_port: u16,
    rem_port: u16,
    protocol: u8,
    tcp: u8,
    mapping: u32,
    expires: u32,
    prev: u32,
    next: u32,
    slot: u16,
    fast: bool,
    accounting: [u32; 2],
}

impl Saved {
    fn of(s: &Session, places: [u32; 2]) -> Saved {
        // As saved before the packing: `prev` NIL where it heads a slot.
        let (prev, _, slot) = s.links();
        Saved {
            in_addr: s.in_addr,
            out_addr: s.out_addr,
            rem_addr: s.rem_addr,
            in_port: s.in_port,
            out_port: s.out_port,
            rem_port: s.rem_port,
            protocol: s.protocol,
            tcp: s.tcp(),
            mapping: s.mapping,
            expires: s.expires,
            prev,
            next: s.next,
            slot,
            fast: s.fast(),
            accounting: places,
        }
    }

    fn session(&self) -> Session {
        let mut s = Session {
            in_addr: self.in_addr,
            out_addr: self.out_addr,
            rem_addr: self.rem_addr,
            in_port: self.in_port,
            out_port: self.out_port,
            rem_port: self.rem_port,
            protocol: self.protocol,
            flags: 0,
            mapping: self.mapping,
            expires: self.expires,
            prev: NIL,
            next: self.next,
        };
        s.unpack((self.prev, self.slot), self.tcp, self.fast);
        s
    }
}

/// A lone session (the fast path's removed ones) saves as one of the slab
/// with no places.
impl From<Session> for Saved {
    fn from(s: Session) -> Saved {
        Saved::of(&s, [NIL; 2])
    }
}

impl From<Saved> for Session {
    fn from(s: Saved) -> Session {
        s.session()
    }
}

impl Serialize for Slab {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let place = |i: usize| self.places.get(i).copied().unwrap_or([NIL; 2]);
        serializer.collect_seq(
            self.records
                .iter()
                .enumerate()
                .map(|(i, s)| Saved::of(s, place(i))),
        )
    }
}

impl<'de> Deserialize<'de> for Slab {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Slab, D::Error> {
        let saved = Vec::<Saved>::deserialize(deserializer)?;
        let records = saved.iter().map(Saved::session).collect();
        let places = if saved.iter().all(|s| s.accounting == [NIL; 2]) {
            Vec::new()
        } else {
            saved.iter().map(|s| s.accounting).collect()
        };
        Ok(Slab { records, places })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The record as it was derived before the split (48 bytes, the places
    /// inside): what a state saved by an older binary holds.
    #[derive(Serialize)]
    struct Before {
        in_addr: u32,
        out_addr: u32,
        rem_addr: u32,
        in_port: u16,
        out_port: u16,
        rem_port: u16,
        protocol: u8,
        tcp: u8,
        mapping: u32,
        expires: u32,
        prev: u32,
        next: u32,
        slot: u16,
        fast: bool,
        accounting: [u32; 2],
    }

    fn before(i: u32, accounting: [u32; 2]) -> Before {
        Before {
            in_addr: 0x6440_0000 + i,
            out_addr: 0xCB00_7101,
            rem_addr: 0xC000_0250,
            in_port: 1024 + i as u16,
            out_port: 40_000 + i as u16,
            rem_port: 53,
            protocol: 17,
            tcp: 0,
            mapping: i,
            expires: 300 + i,
            prev: NIL,
            next: i + 1,
            slot: 7,
            fast: i == 1,
            accounting,
        }
    }

    /// Law: a slab saved is byte for byte what the 48-byte records were
    /// saved as, and a state of those loads back into the same records and
    /// places — with accounting places and without.
    #[test]
    fn saves_and_loads_as_the_records_with_their_places_did() {
        for places in [vec![[NIL; 2]; 3], vec![[NIL; 2], [4, NIL], [9, 2]]] {
            let old: Vec<Before> = (0..3).map(|i| before(i, places[i as usize])).collect();
            let bytes = postcard::to_allocvec(&old).expect("saved");
            let slab: Slab = postcard::from_bytes(&bytes).expect("loads");
            assert_eq!(slab.len(), 3);
            assert_eq!(
                (
                    slab[2].in_port,
                    slab[2].out_port,
                    slab[2].next,
                    slab[1].fast()
                ),
                (1026, 40_002, 3, true)
            );
            // No place kept where the state had none.
            let any = places.iter().any(|p| *p != [NIL; 2]);
            assert_eq!(slab.places_len(), if any { 3 } else { 0 });
            assert_eq!(postcard::to_allocvec(&slab).expect("saved"), bytes);
        }
    }

    /// A lone session (the fast path's removed list) saves as a record with
    /// no places.
    #[test]
    fn a_lone_session_saves_as_a_record_without_places() {
        let slab: Slab =
            postcard::from_bytes(&postcard::to_allocvec(&vec![before(5, [1, 2])]).expect("saved"))
                .expect("loads");
        let lone = postcard::to_allocvec(&slab[0]).expect("saved");
        assert_eq!(
            lone,
            postcard::to_allocvec(&before(5, [NIL; 2])).expect("saved")
        );
    }

    /// Places are made only when asked for, up to the slab's length, and a
    /// slot's new session starts with none.
    #[test]
    fn places_grow_on_demand_and_start_empty() {
        let mut slab: Slab = postcard::from_bytes(
            &postcard::to_allocvec(&(0..4).map(|i| before(i, [NIL; 2])).collect::<Vec<_>>())
                .expect("saved"),
        )
        .expect("loads");
        assert_eq!(slab.places_len(), 0);
        *slab.place(1, 1) = 6;
        assert_eq!(slab.places_len(), 4);
        assert_eq!((*slab.place(1, 0), *slab.place(1, 1)), (NIL, 6));
        slab.forget_places(1);
        assert_eq!(*slab.place(1, 1), NIL);
        // Beyond what the places hold: nothing to forget, no growth.
        let mut empty = Slab::default();
        empty.forget_places(3);
        assert_eq!(empty.places_len(), 0);
    }
}
