//! A timer wheel of 1-second slots over the records of a slab, shared by the NAT's
//! sessions and the IPv6 firewall's flows so both expire the same way.
//!
//! Each record sits in one slot (a doubly linked list threaded through the records
//! themselves, so a record costs no extra allocation). A packet only writes the
//! record's new expiry time; when the wheel reaches the slot, a record that was
//! refreshed is moved to the slot of its new expiry, the others are handed back to
//! the owner to free. Work per call is bounded; owners also free a record that a
//! lookup finds expired, so timing is exact whatever the backlog.

use serde::{Deserialize, Serialize};
/// "No record": the end of a list.
pub(crate) const NIL: u32 = u32::MAX;
/// Slots: expiries further out than this many seconds wait in the last slot and are
/// moved on when it is reached.
const SLOTS: u32 = 8192;

/// A record that sits in a [`Wheel`]: its expiry and its links.
///
/// The slot matters only for the first record of a slot's list (`prev` NIL):
/// it is where unlinking that record writes the list's new head. A record
/// may keep it only there (the NAT's sessions do: in `prev`, saving the
/// field), so every call that makes a record a list's head passes the slot.
pub(crate) trait Timed {
    /// Absolute second at which the record expires.
    fn expires(&self) -> u32;
    /// (previous, next, slot); the slot is right where previous is NIL.
    fn links(&self) -> (u32, u32, u16);
    fn set_links(&mut self, prev: u32, next: u32, slot: u16);
    /// A new previous record in the list of `slot` (NIL: the record heads it).
    fn set_prev(&mut self, prev: u32, slot: u16);
    fn set_next(&mut self, next: u32);
}

/// Implements [`Timed`] for a record type with fields `expires: u32`, `prev: u32`,
/// `next: u32` and `slot: u16`.
macro_rules! timed_record {
    ($record:ty) => {
        impl $crate::wheel::Timed for $record {
            fn expires(&self) -> u32 {
                self.expires
            }
            fn links(&self) -> (u32, u32, u16) {
                (self.prev, self.next, self.slot)
            }
            fn set_links(&mut self, prev: u32, next: u32, slot: u16) {
                (self.prev, self.next, self.slot) = (prev, next, slot);
            }
            fn set_prev(&mut self, prev: u32, slot: u16) {
                (self.prev, self.slot) = (prev, slot);
            }
            fn set_next(&mut self, next: u32) {
                self.next = next;
            }
        }
    };
}
pub(crate) use timed_record;

/// Puts `record` in the slab `records`: in the first free slot (the free list
/// is threaded through the records' `next` links, headed by `free`), else at
/// the end. Returns its index.
pub(crate) fn place<R: Timed>(records: &mut Vec<R>, free: &mut u32, record: R) -> u32 {
    if *free != NIL {
        let i = *free;
        *free = records[i as usize].links().1;
        records[i as usize] = record;
        i
    } else {
        records.push(record);
        (records.len() - 1) as u32
    }
}

/// Returns slot `index` of `records` to the free list headed by `free` (the
/// record is already out of the wheel).
pub(crate) fn release<R: Timed>(records: &mut [R], free: &mut u32, index: u32) {
    records[index as usize].set_next(*free);
    *free = index;
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Wheel {
    slots: Vec<u32>,
    /// The next second the wheel has to process.
    cursor: u32,
}

impl Wheel {
    pub(crate) fn new(now: u32) -> Wheel {
        Wheel {
            slots: vec![NIL; SLOTS as usize],
            cursor: now,
        }
    }

    /// Puts record `index` into the slot of its expiry.
    pub(crate) fn link<T: Timed>(&mut self, records: &mut [T], index: u32) {
        let at = records[index as usize]
            .expires()
            .min(self.cursor + SLOTS - 1)
            .max(self.cursor);
        let slot = (at % SLOTS) as usize;
        let head = self.slots[slot];
        records[index as usize].set_links(NIL, head, slot as u16);
        if head != NIL {
            records[head as usize].set_prev(index, slot as u16);
        }
        self.slots[slot] = index;
    }

    /// Takes record `index` out of its slot.
    pub(crate) fn unlink<T: Timed>(&mut self, records: &mut [T], index: u32) {
        let (prev, next, slot) = records[index as usize].links();
        if prev == NIL {
            self.slots[usize::from(slot)] = next;
        } else {
            records[prev as usize].set_next(next);
        }
        if next != NIL {
            records[next as usize].set_prev(prev, slot);
        }
    }

    /// After a record's expiry moved earlier: to its new slot now (a later expiry is
    /// picked up when the wheel reaches the current slot).
    pub(crate) fn shortened<T: Timed>(&mut self, records: &mut [T], index: u32) {
        self.unlink(records, index);
        self.link(records, index);
    }

    /// Whether [`Wheel::next_expired`] has anything to look at by `now`: the
    /// packet path asks first, so a wheel that is up to date costs a compare.
    #[inline]
    pub(crate) fn due(&self, now: u32) -> bool {
        self.cursor <= now
    }

    /// Advances towards `now` until a record whose time is up is found (returned,
    /// still linked: the owner frees it and unlinks it), or `*work` reaches `budget`.
    pub(crate) fn next_expired<T: Timed>(
        &mut self,
        records: &mut [T],
        now: u32,
        work: &mut usize,
        budget: usize,
    ) -> Option<u32> {
        while self.cursor <= now && *work < budget {
            let slot = (self.cursor % SLOTS) as usize;
            let index = self.slots[slot];
            *work += 1;
            if index == NIL {
                self.cursor += 1;
                continue;
            }
            if records[index as usize].expires() <= now {
                return Some(index);
            }
            // Refreshed: to the slot of its expiry, which is after `cursor`.
            self.unlink(records, index);
            self.link(records, index);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    struct R {
        expires: u32,
        prev: u32,
        next: u32,
        slot: u16,
    }

    timed_record!(R);

    fn drain(w: &mut Wheel, rs: &mut [R], now: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut work = 0;
        while let Some(i) = w.next_expired(rs, now, &mut work, usize::MAX) {
            w.unlink(rs, i);
            out.push(i);
        }
        out
    }

    #[test]
    fn records_expire_at_their_second_refreshed_ones_later_and_far_ones_wrap() {
        let expiries = [5, 3, 5, 20_000];
        let mut rs: Vec<R> = expiries
            .iter()
            .map(|&expires| R {
                expires,
                prev: NIL,
                next: NIL,
                slot: 0,
            })
            .collect();
        let mut w = Wheel::new(0);
        for i in 0..rs.len() as u32 {
            w.link(&mut rs, i);
        }
        assert_eq!(drain(&mut w, &mut rs, 2), Vec::<u32>::new());
        assert_eq!(drain(&mut w, &mut rs, 3), vec![1]);
        rs[0].expires = 9; // refreshed: picked up at 5, moved to 9
        let mut at5 = drain(&mut w, &mut rs, 5);
        at5.sort();
        assert_eq!(at5, vec![2]);
        assert_eq!(drain(&mut w, &mut rs, 8), Vec::<u32>::new());
        assert_eq!(drain(&mut w, &mut rs, 9), vec![0]);
        // Beyond the wheel's span: parked in the last slot, moved on, freed on time.
        assert_eq!(drain(&mut w, &mut rs, 19_999), Vec::<u32>::new());
        assert_eq!(drain(&mut w, &mut rs, 20_000), vec![3]);
    }

    #[test]
    fn work_is_bounded_per_call() {
        let mut rs = vec![
            R {
                expires: 1,
                prev: NIL,
                next: NIL,
                slot: 0,
            };
            10
        ];
        let mut w = Wheel::new(0);
        for i in 0..10 {
            w.link(&mut rs, i);
        }
        let mut work = 0;
        let mut freed = 0;
        while let Some(i) = w.next_expired(&mut rs, 1, &mut work, 4) {
            w.unlink(&mut rs, i);
            freed += 1;
        }
        // Slot 0 (empty) and three records.
        assert_eq!((work, freed), (4, 3));
    }
}
