//! Which subscriber id each entry of the configuration has, and how ids stay
//! the same when the configuration changes under a running router.
//!
//! A configuration read at start numbers its subscribers as it always did:
//! the `[[subscriber]]` entries 0, 1, …, then each `[[subscriber_range]]`'s
//! subscribers, range by range ([`Layout::of`]). A reload keeps every id: an
//! entry is the same entry when its `name` is, whatever its place in the file,
//! and keeps its id (a range its block of ids); an entry that is new gets ids
//! never given out before in this process ([`Layout::carry`]), so nothing a
//! removed subscriber left behind — a port in quarantine, a counter, a log
//! entry — can ever be taken for a new one's. Ids own everything keyed by
//! them: the worker that serves a subscriber (`id % workers`), its NAT state,
//! its firewall flows; keeping them is what lets a reload leave every session
//! where it is.

use crate::config::{Config, ConfigError};
use crate::iface::SubscriberId;

/// The ids of a configuration's subscribers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The id of each `[[subscriber]]` entry, in configuration order.
    subscribers: Vec<SubscriberId>,
    /// The first id of each `[[subscriber_range]]` and its number of
    /// subscribers, in configuration order.
    ranges: Vec<(SubscriberId, u32)>,
    /// The next id never given out.
    next: u64,
}

impl Layout {
    /// The ids of `config` read at start: its entries in order.
    pub fn of(config: &Config) -> Layout {
        Layout {
            subscribers: (0..config.subscriber.len() as SubscriberId).collect(),
            ranges: config.ranges().map(|(first, n, _)| (first, n)).collect(),
            next: config.subscriber_count(),
        }
    }

    /// The ids of `new`, replacing `old` (whose ids are these): entries named
    /// as in `old` keep theirs, new ones get ids never given out. Refused only
    /// when the ids run out (after some four billion added subscribers: a
    /// restart numbers them afresh).
    pub fn carry(&self, old: &Config, new: &Config) -> Result<Layout, ConfigError> {
        let mut next = self.next;
        let mut fresh = |n: u64| {
            let first = next;
            next += n;
            (next <= u64::from(SubscriberId::MAX)).then_some(first as SubscriberId)
        };
        let out_of_ids = || ConfigError {
            key: "subscriber".into(),
            line: None,
            problem:
                "this process has given out every subscriber id: restart it to number them afresh"
                    .into(),
        };
        let mut subscribers = Vec::with_capacity(new.subscriber.len());
        for s in &new.subscriber {
            let kept = old.subscriber.iter().position(|o| o.name == s.name);
            subscribers.push(match kept {
                Some(i) => self.subscribers[i],
                None => fresh(1).ok_or_else(out_of_ids)?,
            });
        }
        let mut ranges = Vec::with_capacity(new.subscriber_range.len());
        for r in &new.subscriber_range {
            let kept = old.subscriber_range.iter().position(|o| o.name == r.name);
            ranges.push(match kept {
                // Same name, same size: the entry's other keys are checked apart
                // (a range whose prefixes change is refused).
                Some(i) if u64::from(self.ranges[i].1) == r.len() => self.ranges[i],
                _ => (fresh(r.len()).ok_or_else(out_of_ids)?, r.len() as u32),
            });
        }
        Ok(Layout {
            subscribers,
            ranges,
            next,
        })
    }

    /// The id of `[[subscriber]]` entry `index`.
    pub fn subscriber(&self, index: usize) -> Option<SubscriberId> {
        self.subscribers.get(index).copied()
    }

    /// The `[[subscriber]]` entries' ids with their index in the configuration.
    pub fn subscribers(&self) -> impl Iterator<Item = (usize, SubscriberId)> + '_ {
        self.subscribers.iter().copied().enumerate()
    }

    /// Each range's first id and its number of subscribers, in configuration
    /// order.
    pub fn ranges(&self) -> impl Iterator<Item = (SubscriberId, u32)> + '_ {
        self.ranges.iter().copied()
    }

    /// The index of the `[[subscriber]]` entry with id `sub`.
    pub fn subscriber_index(&self, sub: SubscriberId) -> Option<usize> {
        self.subscribers.iter().position(|&s| s == sub)
    }

    /// The range (its index) subscriber `sub` belongs to, and its index there.
    pub fn range_of(&self, sub: SubscriberId) -> Option<(usize, u32)> {
        self.ranges
            .iter()
            .position(|&(first, n)| sub >= first && sub - first < n)
            .map(|r| (r, sub - self.ranges[r].0))
    }

    /// Whether `sub` is a subscriber of this layout.
    pub fn has(&self, sub: SubscriberId) -> bool {
        self.subscriber_index(sub).is_some() || self.range_of(sub).is_some()
    }

    /// The `[[subscriber]]` ids of `self` that `new` no longer has.
    pub fn removed_subscribers<'a>(
        &'a self,
        new: &'a Layout,
    ) -> impl Iterator<Item = SubscriberId> + 'a {
        self.subscribers
            .iter()
            .copied()
            .filter(|s| !new.subscribers.contains(s))
    }

    /// The ranges (first id, count) of `self` that `new` no longer has.
    pub fn removed_ranges<'a>(
        &'a self,
        new: &'a Layout,
    ) -> impl Iterator<Item = (SubscriberId, u32)> + 'a {
        self.ranges
            .iter()
            .copied()
            .filter(|r| !new.ranges.contains(r))
    }

    /// Subscriber `sub`'s name in `config` (whose ids these are): its
    /// `[[subscriber]]`'s, or its range's with its address.
    pub fn name(&self, config: &Config, sub: SubscriberId) -> Option<String> {
        if let Some(i) = self.subscriber_index(sub) {
            return Some(config.subscriber.get(i)?.name.clone());
        }
        let (r, i) = self.range_of(sub)?;
        Some(config.subscriber_range.get(r)?.subscriber_name(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(subs: &[&str], ranges: &[(&str, &str)]) -> Config {
        let mut text = String::new();
        for (k, s) in subs.iter().enumerate() {
            text += &format!("[[subscriber]]\nname = \"{s}\"\nipv6 = [\"2001:db8:{k}::/64\"]\n");
        }
        for (name, net) in ranges {
            text += &format!("[[subscriber_range]]\nname = \"{name}\"\nipv6 = \"{net}\"\n");
        }
        Config::from_toml(&text).unwrap()
    }

    #[test]
    fn at_start_ids_follow_the_file() {
        let c = config(&["a", "b"], &[("r", "2001:db8:100::/62")]);
        let l = Layout::of(&c);
        assert_eq!(l.subscribers().collect::<Vec<_>>(), [(0, 0), (1, 1)]);
        assert_eq!(l.ranges().collect::<Vec<_>>(), [(2, 4)]);
        assert_eq!(l.range_of(5), Some((0, 3)));
        assert_eq!(l.range_of(6), None);
        assert_eq!(l.name(&c, 1).as_deref(), Some("b"));
        assert_eq!(l.name(&c, 3).as_deref(), Some("r/2001:db8:100:1::/64"));
    }

    /// The law: an entry named in both files keeps its id; a new one gets an
    /// id no entry of either file had; nothing else moves.
    #[test]
    fn a_reload_keeps_every_id_and_never_reuses_one() {
        let old = config(&["a", "b", "c"], &[("r", "2001:db8:100::/62")]);
        let l0 = Layout::of(&old);
        // b removed, d added before a, the range moved to the front.
        let new = config(&["d", "a", "c"], &[("r", "2001:db8:100::/62")]);
        let l1 = l0.carry(&old, &new).unwrap();
        assert_eq!(
            l1.subscribers().collect::<Vec<_>>(),
            [(0, 7), (1, 0), (2, 2)]
        );
        assert_eq!(l1.ranges().collect::<Vec<_>>(), [(3, 4)]);
        assert_eq!(l0.removed_subscribers(&l1).collect::<Vec<_>>(), [1]);
        assert_eq!(l0.removed_ranges(&l1).count(), 0);
        // b comes back: a new id, not its old one.
        let again = config(&["d", "a", "c", "b"], &[]);
        let l2 = l1.carry(&new, &again).unwrap();
        assert_eq!(l2.subscriber(3), Some(8));
        assert_eq!(l1.removed_ranges(&l2).collect::<Vec<_>>(), [(3, 4)]);
        // A range that changes size is a new range.
        let grown = config(&["d", "a", "c", "b"], &[("r", "2001:db8:100::/61")]);
        let l3 = l2.carry(&again, &grown).unwrap();
        assert_eq!(l3.ranges().collect::<Vec<_>>(), [(9, 8)]);
        assert!(l3.has(16) && !l3.has(17) && !l3.has(1));
    }
}
