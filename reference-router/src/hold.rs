//! Unsolicited inbound TCP SYNs held for a while before they are refused (RFC 5382
//! REQ-4 for the NAT, RFC 6146 §3.5.2.2 for NAT64, RFC 6092's same rule for the
//! IPv6 firewall): an outbound SYN for the same flow within the hold time lets a
//! simultaneous open go ahead and the held SYN is dropped silently; otherwise the
//! router answers it with an ICMP error made from the quote kept here, out of the
//! interface kept with it (the WAN, or the subscriber a hairpinned SYN came from).

use crate::iface::Interface;
use crate::stats::DropReason;
use foldhash::fast::RandomState;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

#[derive(Serialize, Deserialize)]
struct Held {
    /// The start of the SYN, for the ICMP error; empty until the router adds it.
    quote: Vec<u8>,
    /// Where the error goes: the interface the SYN came in on.
    to: Interface,
    release: u32,
}

/// A held SYN whose time is up: its quote, and where the error about it goes.
pub(crate) type Released = (Vec<u8>, Interface);

#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize",
    deserialize = "K: Deserialize<'de> + Eq + std::hash::Hash"
))]
pub(crate) struct SynHold<K> {
    held: HashMap<K, Held, RandomState>,
    /// The flow the last [`SynHold::hold`] held, until its quote is kept.
    last: Option<K>,
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
            last: None,
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
        self.last = None;
        if self.held.contains_key(&key) || self.held.len() >= self.max {
            return DropReason::SynHoldFull;
        }
        let release = now + self.delay;
        self.held.insert(
            key,
            Held {
                quote: Vec::new(),
                to: Interface::Wan,
                release,
            },
        );
        self.order.push_back((release, key));
        self.last = Some(key);
        DropReason::SynHeld
    }

    /// An outbound SYN for `key` came: the held one is dropped without an error.
    pub(crate) fn cancel(&mut self, key: &K) {
        self.held.remove(key);
    }

    /// Keeps `quote` (the held SYN's first bytes) for the error to go out of
    /// `to`, once.
    pub(crate) fn set_quote(&mut self, key: &K, quote: &[u8], to: Interface) {
        if let Some(h) = self.held.get_mut(key)
            && h.quote.is_empty()
        {
            h.quote = quote.to_vec();
            h.to = to;
        }
    }

    /// As [`SynHold::set_quote`] for the SYN the last [`SynHold::hold`] held —
    /// for callers that know the bytes but not the key the flow was held under
    /// (a hairpinned SYN is held under the sender's public endpoint).
    pub(crate) fn set_last_quote(&mut self, quote: &[u8], to: Interface) {
        if let Some(key) = self.last.take() {
            self.set_quote(&key, quote, to);
        }
    }

    /// The held SYNs whose time is up (at most `budget` looked at).
    /// Whether a held SYN's time is up by `now` ([`SynHold::release`] has work).
    #[inline]
    pub(crate) fn due(&self, now: u32) -> bool {
        self.order.front().is_some_and(|&(at, _)| at <= now)
    }

    pub(crate) fn release(&mut self, now: u32, budget: usize) -> Vec<Released> {
        if !self.due(now) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for _ in 0..budget {
            match self.order.front() {
                Some(&(at, key)) if at <= now => {
                    self.order.pop_front();
                    // Cancelled, or held again later: not this entry's turn.
                    if self.held.get(&key).is_some_and(|h| h.release == at) {
                        let h = self.held.remove(&key).expect("present");
                        out.push((h.quote, h.to));
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
        h.set_quote(&1, b"syn-1", Interface::Wan);
        h.set_quote(&1, b"other", Interface::Subscriber(3));
        h.set_quote(&2, b"syn-2", Interface::Wan);
        h.cancel(&2);
        assert!(h.release(15, 8).is_empty());
        assert_eq!(h.release(16, 8), vec![(b"syn-1".to_vec(), Interface::Wan)]);
        assert!(
            h.release(100, 8).is_empty(),
            "the cancelled one never comes"
        );
        assert_eq!(h.hold(3, 100), DropReason::SynHeld);
        // The last SYN held takes the quote of its caller; a refusal takes none.
        h.set_last_quote(b"syn-3", Interface::Subscriber(1));
        assert_eq!(h.hold(3, 101), DropReason::SynHoldFull);
        h.set_last_quote(b"lost", Interface::Wan);
        assert_eq!(
            h.release(106, 8),
            vec![(b"syn-3".to_vec(), Interface::Subscriber(1))]
        );
    }
}
