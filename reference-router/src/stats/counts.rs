//! [`Counts`]: one counter per key of a [`CounterKey`] enum, serialised as a map
//! from every key's name to its count.

use super::{CounterKey, DropReason, IcmpSent, NatEvent};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;

/// One count per key of `K`, indexed by the key; serialised as a map from every
/// key's name to its count (zero included).
#[derive(Clone, PartialEq, Eq)]
pub struct Counts<K> {
    counts: Vec<u64>,
    keys: PhantomData<K>,
}

/// Dropped packets by reason.
pub type DropCounts = Counts<DropReason>;
/// ICMP messages the router sent, by kind.
pub type IcmpCounts = Counts<IcmpSent>;
/// NAT events logged over IPFIX, by kind.
pub type NatEventCounts = Counts<NatEvent>;

impl<K: CounterKey> Counts<K> {
    /// All zero.
    pub fn new() -> Counts<K> {
        Counts {
            counts: vec![0; K::ALL.len()],
            keys: PhantomData,
        }
    }

    /// Adds `n` to `key`.
    pub fn add(&mut self, key: K, n: u64) {
        self.counts[key.index()] += n;
    }

    /// Every key with its count, in counter order.
    pub fn iter(&self) -> impl Iterator<Item = (K, u64)> + '_ {
        K::ALL.iter().map(|&k| (k, self.counts[k.index()]))
    }

    /// The keys whose count is not zero.
    pub fn nonzero(&self) -> impl Iterator<Item = (K, u64)> + '_ {
        self.iter().filter(|(_, n)| *n > 0)
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Counts<K>) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }
}

impl<K: CounterKey> Default for Counts<K> {
    fn default() -> Counts<K> {
        Counts::new()
    }
}

impl<K: CounterKey> std::ops::Index<K> for Counts<K> {
    type Output = u64;

    fn index(&self, key: K) -> &u64 {
        &self.counts[key.index()]
    }
}

impl<K: CounterKey> fmt::Debug for Counts<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.nonzero().map(|(k, n)| (k.name(), n)))
            .finish()
    }
}

impl<K: CounterKey> Serialize for Counts<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Sorted by name, as the JSON has always been.
        let mut keys: Vec<K> = K::ALL.to_vec();
        keys.sort_by_key(|k| k.name());
        let mut map = serializer.serialize_map(Some(keys.len()))?;
        for k in keys {
            map.serialize_entry(k.name(), &self[k])?;
        }
        map.end()
    }
}

impl<'de, K: CounterKey> Deserialize<'de> for Counts<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Counts<K>, D::Error> {
        struct CountsVisitor<K>(PhantomData<K>);

        impl<'de, K: CounterKey> Visitor<'de> for CountsVisitor<K> {
            type Value = Counts<K>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from counter names to counts")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Counts<K>, A::Error> {
                let mut counts = Counts::new();
                while let Some((name, n)) = map.next_entry::<String, u64>()? {
                    let key = K::ALL
                        .iter()
                        .find(|k| k.name() == name)
                        .ok_or_else(|| de::Error::custom(format!("unknown counter {name:?}")))?;
                    counts.counts[key.index()] = n;
                }
                Ok(counts)
            }
        }

        deserializer.deserialize_map(CountsVisitor(PhantomData))
    }
}
