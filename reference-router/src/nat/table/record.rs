//! The session record's packed parts: the wheel's links (the slot kept in
//! `prev` while the record heads its slot's list) and the flags byte (TCP
//! state and the fast path's two marks). What keeps the record at 36 bytes.

use super::{NIL, Session};
use crate::wheel::Timed;

/// `prev` at or above this: the record heads the list of slot `prev - HEAD`.
/// A slab index never gets here (4 294 959 103 records of 36 bytes: 154 GB).
pub(super) const HEAD: u32 = NIL - 8192;
/// The TCP state's bits (`crate::nat::tcp`: five flags).
const TCP: u8 = 0x1f;
/// Installed in the fast path (issue 27): its removal is reported
/// ([`super::Table::take_fast_removed`]).
const FAST: u8 = 0x40;
/// A packet after its first has passed: a UDP session is offered to the
/// fast path then, not for a one-packet flow. Not in a handed-over state
/// (its format stays), where it starts again.
const REPEATED: u8 = 0x80;

impl Timed for Session {
    fn expires(&self) -> u32 {
        self.expires
    }
    fn links(&self) -> (u32, u32, u16) {
        if self.prev >= HEAD {
            (NIL, self.next, (self.prev - HEAD) as u16)
        } else {
            (self.prev, self.next, 0)
        }
    }
    fn set_links(&mut self, prev: u32, next: u32, slot: u16) {
        self.set_prev(prev, slot);
        self.next = next;
    }
    fn set_prev(&mut self, prev: u32, slot: u16) {
        self.prev = if prev == NIL {
            HEAD + u32::from(slot)
        } else {
            prev
        };
    }
    fn set_next(&mut self, next: u32) {
        self.next = next;
    }
}

impl Session {
    /// TCP state flags (`crate::nat::tcp`).
    #[inline]
    pub(crate) fn tcp(&self) -> u8 {
        self.flags & TCP
    }

    pub(crate) fn set_tcp(&mut self, state: u8) {
        self.flags = self.flags & !TCP | state & TCP;
    }

    /// Whether it is installed in the fast path.
    #[inline]
    pub(crate) fn fast(&self) -> bool {
        self.flags & FAST != 0
    }

    pub(crate) fn set_fast(&mut self, fast: bool) {
        self.flags = if fast {
            self.flags | FAST
        } else {
            self.flags & !FAST
        };
    }

    /// Marks that a packet after its first passed; whether one had before.
    pub(crate) fn repeat(&mut self) -> bool {
        let before = self.flags & REPEATED != 0;
        self.flags |= REPEATED;
        before
    }

    /// From the saved fields: the head's slot back into `prev`, the flags
    /// into their byte.
    pub(super) fn unpack(&mut self, (prev, slot): (u32, u16), tcp: u8, fast: bool) {
        self.set_prev(prev, slot);
        self.flags = 0;
        self.set_tcp(tcp);
        self.set_fast(fast);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wheel::Wheel;

    /// Law: the packed links behave as separate fields for the wheel — the
    /// head of every slot list keeps its slot through links, unlinks of the
    /// head and of others, and refreshes; expiry comes out exactly as with
    /// a record that stores the slot (the wheel's own tests).
    #[test]
    fn a_wheel_of_packed_sessions_expires_each_at_its_second() {
        let mut rs: Vec<Session> = (0..300u32)
            .map(|i| {
                let mut s = Session::udp_for_test((i, 1), (i, 2), (i, 3));
                s.expires = 10 + i % 7 + if i % 50 == 0 { 9000 } else { 0 };
                s
            })
            .collect();
        let mut w = Wheel::new(0);
        for i in 0..rs.len() as u32 {
            w.link(&mut rs, i);
        }
        // Take out some heads and some in the middle before their time.
        for i in [299u32, 298, 150, 3] {
            w.unlink(&mut rs, i);
        }
        // Refresh some: picked up at their old second, expire at the new one.
        for i in [10u32, 11, 12] {
            rs[i as usize].expires += 100;
        }
        let mut expired = vec![Vec::new(); 10_000];
        for now in 0..9_500u32 {
            let mut work = 0;
            while let Some(i) = w.next_expired(&mut rs, now, &mut work, usize::MAX) {
                w.unlink(&mut rs, i);
                expired[now as usize].push(i);
            }
        }
        for i in 0..300u32 {
            let when: Vec<usize> = (0..expired.len())
                .filter(|&t| expired[t].contains(&i))
                .collect();
            if [299, 298, 150, 3].contains(&i) {
                assert!(when.is_empty(), "{i} was unlinked");
            } else {
                assert_eq!(when, vec![rs[i as usize].expires as usize], "session {i}");
            }
        }
    }

    #[test]
    fn the_flags_keep_apart() {
        let mut s = Session::udp_for_test((1, 1), (2, 2), (3, 3));
        assert!(!s.repeat());
        s.set_fast(true);
        s.set_tcp(0x1f);
        assert!(s.repeat());
        assert_eq!((s.tcp(), s.fast()), (0x1f, true));
        s.set_tcp(0x02);
        s.set_fast(false);
        assert_eq!((s.tcp(), s.fast(), s.repeat()), (0x02, false, true));
    }
}
