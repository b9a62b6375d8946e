//! The takeover feed (`[takeover]`): the predecessor's endpoint-independent
//! mappings as its IPFIX NAT44 BIB events (natEvent 8 create, 9 delete) tell
//! them, kept *unused* until a packet of one of its established flows arrives
//! here — which happens only once the routing system sends the predecessor's
//! subscribers or its slice to this box, i.e. once the predecessor failed.
//! That arrival is the signal: no other state says the predecessor is gone.
//!
//! What is kept is checked against the predecessor's arithmetic (RFC 7422:
//! its pool is the slice, its inside ranges are this box's): a record whose
//! public endpoint is not inside its inside address's range on the slice is
//! refused, so a fed mapping can never put a subscriber on an address or
//! port that is not its own. Datagrams are taken from the configured source
//! address only. Fed mappings are bounded (the NAT's session limit, this
//! worker's share), counted, and live the idle timer of their protocol from
//! their create (the predecessor re-announces nothing): a 9 ends them
//! sooner, a missing 9 leaves one fed mapping until then, a missing 8 costs
//! that flow only.

use super::deterministic::Deterministic;
use super::table::Key;
use super::tcp;
use crate::config::{Config, Timeouts};
use crate::iface::{Shard, SubscriberId};
use crate::ipfix::decode::{DataRecord, Reader, ie};
use crate::layout::Layout;
use crate::stats::{NatEvent, TakeoverUse};
use foldhash::fast::RandomState;
use sixfold_rewrite::IpProtocol;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Templates the feed's reader keeps at most; beyond, it starts afresh (a
/// predecessor restarting again and again opens a Transport Session each
/// time).
const MAX_TEMPLATES: usize = 256;

/// One fed mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fed {
    /// Its inside endpoint (protocol, address, port).
    pub(crate) inside: Key,
    pub(crate) out_addr: u32,
    pub(crate) out_port: u16,
    /// The index of `out_addr` in the table's pool.
    pub(crate) pool_index: u32,
    pub(crate) subscriber: SubscriberId,
    expires: u32,
}

/// A worker's part of the feed: the fed mappings of the subscribers it owns.
pub(crate) struct Feed {
    /// The predecessor's arithmetic.
    predecessor: Deterministic,
    /// Slice address → its index in the table's pool.
    slice: HashMap<u32, u32, RandomState>,
    from: IpAddr,
    reader: Reader,
    by_inside: HashMap<Key, Fed, RandomState>,
    /// Public endpoint → inside endpoint.
    by_outside: HashMap<Key, Key, RandomState>,
    timers: BTreeSet<(u32, Key)>,
    max: usize,
    timeouts: Timeouts,
    shard: Shard,
    pub(crate) counts: TakeoverUse,
}

/// The fields of a BIB event.
struct Bib {
    event: u8,
    protocol: u8,
    inside: Ipv4Addr,
    in_port: u16,
    public: Ipv4Addr,
    out_port: u16,
}

fn bib(r: &DataRecord) -> Option<Bib> {
    let v4 = |id| match r.addr(id)? {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    };
    Some(Bib {
        event: u8::try_from(r.uint(ie::NAT_EVENT)?).ok()?,
        protocol: u8::try_from(r.uint(ie::PROTOCOL_IDENTIFIER)?).ok()?,
        inside: v4(ie::SOURCE_IPV4_ADDRESS)?,
        in_port: u16::try_from(r.uint(ie::SOURCE_TRANSPORT_PORT)?).ok()?,
        public: v4(ie::POST_NAT_SOURCE_IPV4_ADDRESS)?,
        out_port: u16::try_from(r.uint(ie::POST_NAPT_SOURCE_TRANSPORT_PORT)?).ok()?,
    })
}

impl Feed {
    /// The feed of `config`'s `[takeover]` for worker `shard`, whose table
    /// holds slice address `k` at pool index `first_slice + k`.
    pub(crate) fn new(
        config: &Config,
        layout: &Layout,
        shard: Shard,
        first_slice: u32,
    ) -> Option<Feed> {
        let t = config.takeover.as_ref()?;
        let predecessor = Deterministic::with_layout(&t.predecessor(config), layout);
        let slice = t
            .predecessor(config)
            .nat
            .pool_addresses()
            .into_iter()
            .enumerate()
            .map(|(k, a)| (u32::from(a), first_slice + k as u32))
            .collect();
        let share = (config.nat.max_sessions / u32::from(shard.count.max(1))).max(1);
        Some(Feed {
            predecessor,
            slice,
            from: t.from?,
            reader: Reader::default(),
            by_inside: HashMap::default(),
            by_outside: HashMap::default(),
            timers: BTreeSet::new(),
            max: share as usize,
            timeouts: config.nat.timeouts.clone(),
            shard,
            counts: TakeoverUse::default(),
        })
    }

    /// The predecessor's arithmetic with the subscribers of `config` as
    /// `layout` numbers them (a reload; `[takeover]` itself cannot change).
    pub(crate) fn relayout(&mut self, config: &Config, layout: &Layout) {
        if let Some(t) = &config.takeover {
            self.predecessor = Deterministic::with_layout(&t.predecessor(config), layout);
        }
    }

    /// The slice's addresses, in pool order.
    pub(crate) fn slice_addresses(t: &crate::config::Takeover, config: &Config) -> Vec<u32> {
        t.predecessor(config)
            .nat
            .pool_addresses()
            .into_iter()
            .map(u32::from)
            .collect()
    }

    /// The owner of slice endpoint `(public, port)` by the predecessor's
    /// arithmetic, if any.
    pub(crate) fn owner_of(&self, public: Ipv4Addr, port: u16) -> Option<SubscriberId> {
        self.predecessor
            .owner_of(public, port)
            .map(|r| r.subscriber)
    }

    /// Whether this worker counts what belongs to no subscriber (one does).
    fn counts_datagrams(&self) -> bool {
        self.shard.index == 0
    }

    /// One datagram that arrived at `[takeover] listen` from `source`.
    pub(crate) fn datagram(&mut self, source: SocketAddr, bytes: &[u8], now: u32) {
        let counting = self.counts_datagrams();
        if source.ip() != self.from {
            self.counts.feed_foreign += u64::from(counting);
            return;
        }
        if self.reader.templates() > MAX_TEMPLATES {
            self.reader = Reader::default();
        }
        // One Transport Session per source port (a restart opens a new one).
        let message = match self.reader.decode(u64::from(source.port()), bytes) {
            Ok(m) => m,
            Err(_) => {
                self.counts.feed_unreadable += u64::from(counting);
                return;
            }
        };
        self.counts.feed_messages += u64::from(counting);
        self.counts.feed_unreadable += u64::from(counting) * message.problems.len() as u64;
        for (_, r) in &message.records {
            // Templates' other records (the start record, limits) are not the
            // feed's: only a record with a natEvent is looked at.
            if r.uint(ie::NAT_EVENT).is_none() {
                continue;
            }
            match bib(r) {
                Some(b) => self.apply(&b, now),
                None => self.counts.feed_refused += u64::from(counting),
            }
        }
    }

    /// A BIB event, kept (or ending a fed mapping) if it is this worker's and
    /// lies inside the predecessor's ranges.
    fn apply(&mut self, b: &Bib, now: u32) {
        let range = self.predecessor.range_of(b.inside);
        let owner = range.map(|r| self.shard.owns_subscriber(r.subscriber));
        if owner == Some(false) {
            return;
        }
        if owner.is_none() && !self.counts_datagrams() {
            return;
        }
        let create = b.event == NatEvent::BibCreate.value();
        let delete = b.event == NatEvent::BibDelete.value();
        let ports = matches!(
            IpProtocol::from(b.protocol),
            IpProtocol::Tcp | IpProtocol::Udp | IpProtocol::Icmp
        );
        let fits =
            range.filter(|r| r.public == b.public && (r.first..=r.last).contains(&b.out_port));
        let (Some(r), true, true) = (fits, create || delete, ports) else {
            self.counts.feed_refused += 1;
            return;
        };
        let inside = Key::endpoint(b.protocol, u32::from(b.inside), b.in_port);
        let outside = Key::endpoint(b.protocol, u32::from(b.public), b.out_port);
        if delete {
            match self.by_inside.get(&inside) {
                Some(f) if f.out_addr == outside.addr && f.out_port == outside.port => {
                    self.remove(&inside);
                    self.counts.feed_deleted += 1;
                }
                _ => self.counts.feed_refused += 1,
            }
            return;
        }
        // A newer create replaces what held either endpoint (a missing 9).
        self.remove(&inside);
        if let Some(old) = self.by_outside.get(&outside).copied() {
            self.remove(&old);
        }
        if self.by_inside.len() >= self.max {
            self.counts.feed_overflow += 1;
            return;
        }
        let Some(&pool_index) = self.slice.get(&outside.addr) else {
            self.counts.feed_refused += 1;
            return;
        };
        let established = tcp::SYN_OUT | tcp::SYN_IN;
        let life = self
            .timeouts
            .idle(IpProtocol::from(b.protocol), established);
        let fed = Fed {
            inside,
            out_addr: outside.addr,
            out_port: outside.port,
            pool_index,
            subscriber: r.subscriber,
            expires: now.saturating_add(life),
        };
        self.by_inside.insert(inside, fed);
        self.by_outside.insert(outside, inside);
        self.timers.insert((fed.expires, inside));
        self.counts.feed_created += 1;
    }

    fn remove(&mut self, inside: &Key) -> Option<Fed> {
        let fed = self.by_inside.remove(inside)?;
        self.by_outside
            .remove(&Key::endpoint(inside.protocol, fed.out_addr, fed.out_port));
        self.timers.remove(&(fed.expires, *inside));
        Some(fed)
    }

    /// The fed mapping of inside endpoint `inside`, taken: a session is about
    /// to be created on it.
    pub(crate) fn take_inside(&mut self, inside: &Key) -> Option<Fed> {
        self.remove(inside)
    }

    /// The fed mapping of public endpoint `outside`, taken.
    pub(crate) fn take_outside(&mut self, outside: &Key) -> Option<Fed> {
        let inside = *self.by_outside.get(outside)?;
        self.remove(&inside)
    }

    /// Gives back a fed mapping whose session could not be created (a limit).
    pub(crate) fn put_back(&mut self, fed: Fed) {
        self.by_outside.insert(
            Key::endpoint(fed.inside.protocol, fed.out_addr, fed.out_port),
            fed.inside,
        );
        self.timers.insert((fed.expires, fed.inside));
        self.by_inside.insert(fed.inside, fed);
    }

    /// Ends up to `budget` fed mappings whose timer ran out.
    pub(crate) fn expire(&mut self, now: u32, budget: usize) {
        for _ in 0..budget {
            match self.timers.first().copied() {
                Some((at, inside)) if at <= now => {
                    self.remove(&inside);
                    self.counts.feed_expired += 1;
                }
                _ => break,
            }
        }
    }

    /// Its counters, with the fed mappings kept now.
    pub(crate) fn counts(&self) -> TakeoverUse {
        TakeoverUse {
            fed: self.by_inside.len() as u64,
            ..self.counts.clone()
        }
    }
}
