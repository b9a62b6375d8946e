//! Unsolicited inbound TCP SYNs held for a while before they are refused (RFC 5382
//! REQ-4 for the NAT, RFC 6092's same rule for the IPv6 firewall): an outbound SYN
//! for the same flow within the hold time lets a simultaneous open go ahead and the
//! held SYN is dropped silently; otherwise the router answers it with an ICMP error
//! made from the quote kept here.

use crate::stats::DropReason;
use foldhash::fast::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

struct Held {
    /// The start of the SYN, for the ICMP error; empty until the router adds it.
    quote: Vec<u8>,
    release: u32,
}

pub(crate) struct SynHold<K> {
    held: HashMap<K, Held, RandomState>,
    /// Release times in arrival order (the hold time is fixed, so this is sorted).
    order: VecDeque<(u32, K)>,
    max: usize,
    delay: u32,
}

impl<K: Hash + Eq + Copy> SynHold<K> {
    /// At most `max` SYNs held at once, each for `delay` seconds.
    pub(crate) fn new(max: usize, delay: u32) -> SynHold<K> {
        SynHold {
            held: HashMap::with_hasher(RandomState::default()),
            order: VecDeque::new(),
            max,
            delay,
        }
    }

    /// SYNs held from now on wait `delay` seconds (a reload). Those held keep
    /// their time; held ones leave in arrival order, so after a shortening a
    /// new one may wait for the older ones, at most the old delay.
    pub(crate) fn set_delay(&mut self, delay: u32) {
        self.delay = delay;
    }

    /// Holds the SYN of flow `key`: the reason the packet is not forwarded.
    pub(crate) fn hold(&mut self, key: K, now: u32) -> DropReason {
        if self.held.contains_key(&key) || self.held.len() >= self.max {
            return DropReason::SynHoldFull;
        }
        let release = now + self.delay;
        self.held.insert(
            key,
            Held {
                quote: Vec::new(),
                release,
            },
        );
        self.order.push_back((release, key));
        DropReason::SynHeld
    }

    /// An outbound SYN for `key` came: the held one is dropped without an error.
    pub(crate) fn cancel(&mut self, key: &K) {
        self.held.remove(key);
    }

    /// Keeps `quote` (the held SYN's first bytes) for the error, once.
    pub(crate) fn set_quote(&mut self, key: &K, quote: &[u8]) {
        if let Some(h) = self.held.get_mut(key)
            && h.quote.is_empty()
        {
            h.quote = quote.to_vec();
        }
    }

    /// Quotes of the held SYNs whose time is up (at most `budget` looked at).
    pub(crate) fn release(&mut self, now: u32, budget: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for _ in 0..budget {
            match self.order.front() {
                Some(&(at, key)) if at <= now => {
                    self.order.pop_front();
                    // Cancelled, or held again later: not this entry's turn.
                    if self.held.get(&key).is_some_and(|h| h.release == at) {
                        let h = self.held.remove(&key).expect("present");
                        out.push(h.quote);
                    }
                }
                _ => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_syns_are_released_on_time_unless_cancelled_and_the_limit_holds() {
        let mut h = SynHold::<u32>::new(2, 6);
        assert_eq!(h.hold(1, 10), DropReason::SynHeld);
        assert_eq!(h.hold(1, 11), DropReason::SynHoldFull, "already held");
        assert_eq!(h.hold(2, 11), DropReason::SynHeld);
        assert_eq!(h.hold(3, 11), DropReason::SynHoldFull, "limit");
        h.set_quote(&1, b"syn-1");
        h.set_quote(&1, b"other");
        h.set_quote(&2, b"syn-2");
        h.cancel(&2);
        assert!(h.release(15, 8).is_empty());
        assert_eq!(h.release(16, 8), vec![b"syn-1".to_vec()]);
        assert!(
            h.release(100, 8).is_empty(),
            "the cancelled one never comes"
        );
        assert_eq!(h.hold(3, 100), DropReason::SynHeld);
    }
}
