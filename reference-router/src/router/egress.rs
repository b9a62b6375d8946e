//! What leaves the router besides the packet in hand: the output queue of packets
//! the router made (ICMP errors on timers, fragments, advertisements) and the
//! egress shapers, one per link with a rate, that serve IPv6 first. A link's
//! shaper is one for all workers (behind a lock only shaped packets take), so
//! its rate holds however the traffic is spread. A `[[subscriber_range]]` with
//! a rate gives each of its subscribers a shaper of that rate, made when the
//! first packet to it is shaped (a /16 costs nothing until its subscribers
//! receive).

use super::Verdict;
use crate::buf::PacketBuf;
use crate::config::Config;
use crate::iface::{Interface, SubscriberId};
use crate::layout::Layout;
use crate::offload::Offload;
use crate::shaper::Shaper;
use crate::stats::{Counters, DropReason, ShaperUse};
use sixfold_rewrite::IpVersion;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most packets the router keeps for [`Egress::pop`]: a bound on what one burst of
/// timers and fragments can make.
const QUEUE_LIMIT: usize = 4096;

type Shared = Arc<Mutex<Shaper>>;

/// A range's shapers: one per subscriber of the range, made on first use.
#[derive(Clone)]
struct RangeShapers {
    first: SubscriberId,
    count: u32,
    mbps: u32,
    made: Arc<Mutex<HashMap<SubscriberId, Shared>>>,
}

/// The links' shapers, shared by the workers: the WAN's, each `[[subscriber]]`'s
/// by id; the ranges' apart.
#[derive(Clone)]
pub(super) struct Shapers {
    wan: Option<Shared>,
    subscribers: HashMap<SubscriberId, Shared>,
    ranges: Vec<RangeShapers>,
    config: crate::config::Shaper,
}

/// The shapers `config` asks for, its subscribers having the ids of `layout`.
pub(super) fn shapers(config: &Config, layout: &Layout, now: Instant) -> Shapers {
    let new = |mbps: u32| Arc::new(Mutex::new(Shaper::new(mbps, &config.shaper, now)));
    Shapers {
        wan: config.wan.rate_mbps.map(new),
        subscribers: layout
            .subscribers()
            .filter_map(|(i, id)| Some((id, new(config.subscriber[i].rate_mbps?))))
            .collect(),
        ranges: range_shapers(config, layout, &[]),
        config: config.shaper.clone(),
    }
}

/// The ranges of `config` with a rate, keeping the shapers `old` made for a
/// range that stays (same ids).
fn range_shapers(config: &Config, layout: &Layout, old: &[RangeShapers]) -> Vec<RangeShapers> {
    layout
        .ranges()
        .zip(&config.subscriber_range)
        .filter_map(|((first, count), range)| {
            let mbps = range.rate_mbps?;
            let made = old
                .iter()
                .find(|r| (r.first, r.count) == (first, count))
                .map_or_else(Arc::default, |r| Arc::clone(&r.made));
            Some(RangeShapers {
                first,
                count,
                mbps,
                made,
            })
        })
        .collect()
}

impl Shapers {
    /// The shapers of `config` (a reload) with the ids of `layout`: a link that
    /// keeps a rate keeps its shaper and what waits in it ([`Shapers::apply`]
    /// gives it the new rate); a link that gets one gets a new shaper. Nothing
    /// shared changes until [`Shapers::apply`].
    pub(super) fn reconfigured(&self, config: &Config, layout: &Layout, now: Instant) -> Shapers {
        let new = |mbps: u32| Arc::new(Mutex::new(Shaper::new(mbps, &config.shaper, now)));
        let keep = |old: Option<&Shared>, rate: Option<u32>| {
            rate.map(|mbps| old.map_or_else(|| new(mbps), Arc::clone))
        };
        Shapers {
            wan: keep(self.wan.as_ref(), config.wan.rate_mbps),
            subscribers: layout
                .subscribers()
                .filter_map(|(i, id)| {
                    let rate = config.subscriber[i].rate_mbps;
                    Some((id, keep(self.subscribers.get(&id), rate)?))
                })
                .collect(),
            ranges: range_shapers(config, layout, &self.ranges),
            config: config.shaper.clone(),
        }
    }

    /// Gives every shaper its rate and `[shaper]` settings from `config`
    /// (whose ids are `layout`'s). Shapers are shared: every worker applying
    /// the same configuration sets the same values.
    pub(super) fn apply(&self, config: &Config, layout: &Layout) {
        if let (Some(s), Some(mbps)) = (&self.wan, config.wan.rate_mbps) {
            lock(s).reconfigure(mbps, &config.shaper);
        }
        for (i, id) in layout.subscribers() {
            if let (Some(s), Some(mbps)) =
                (self.subscribers.get(&id), config.subscriber[i].rate_mbps)
            {
                lock(s).reconfigure(mbps, &config.shaper);
            }
        }
        for r in &self.ranges {
            for s in r.made.lock().unwrap_or_else(|e| e.into_inner()).values() {
                lock(s).reconfigure(r.mbps, &config.shaper);
            }
        }
    }

    /// The shaper of `to`, if its link has a rate (made now for a range
    /// subscriber's first shaped packet).
    fn of(&self, to: Interface, now: Instant) -> Option<Shared> {
        let Interface::Subscriber(sub) = to else {
            return self.wan.clone();
        };
        if let Some(s) = self.subscribers.get(&sub) {
            return Some(Arc::clone(s));
        }
        let r = self
            .ranges
            .iter()
            .find(|r| sub >= r.first && sub - r.first < r.count)?;
        let mut made = r.made.lock().unwrap_or_else(|e| e.into_inner());
        let s = made
            .entry(sub)
            .or_insert_with(|| Arc::new(Mutex::new(Shaper::new(r.mbps, &self.config, now))));
        Some(Arc::clone(s))
    }

    /// Every shaper made so far, with its interface.
    fn all(&self) -> Vec<(Interface, Shared)> {
        let mut all: Vec<(Interface, Shared)> = self
            .wan
            .iter()
            .map(|s| (Interface::Wan, Arc::clone(s)))
            .collect();
        let mut subs: Vec<_> = self.subscribers.iter().collect();
        subs.sort_by_key(|(sub, _)| **sub);
        all.extend(
            subs.into_iter()
                .map(|(&sub, s)| (Interface::Subscriber(sub), Arc::clone(s))),
        );
        for r in &self.ranges {
            let made = r.made.lock().unwrap_or_else(|e| e.into_inner());
            let mut subs: Vec<_> = made.iter().collect();
            subs.sort_by_key(|(sub, _)| **sub);
            all.extend(
                subs.into_iter()
                    .map(|(&sub, s)| (Interface::Subscriber(sub), Arc::clone(s))),
            );
        }
        all
    }
}

fn lock(s: &Mutex<Shaper>) -> MutexGuard<'_, Shaper> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) struct Egress {
    queue: VecDeque<(Interface, Vec<u8>, Offload)>,
    shapers: Shapers,
    /// Whether this worker reports the shared shapers (one does).
    reports: bool,
    /// The shapers with packets waiting: the per-packet work is theirs only,
    /// however many links have a rate.
    busy: Vec<(Interface, Shared)>,
    /// The interfaces in `busy`: a range can bring many shapers.
    queued: HashSet<Interface>,
}

impl Egress {
    /// A worker's egress over the shared `shapers`; `reports`: this worker
    /// reports them in its snapshot.
    pub(super) fn new(shapers: Shapers, reports: bool) -> Egress {
        Egress {
            queue: VecDeque::new(),
            shapers,
            reports,
            busy: Vec::new(),
            queued: HashSet::new(),
        }
    }

    /// The packets made by timers and fragments, waiting for
    /// [`Egress::pop`] (a handover carries them).
    pub(super) fn queue(&self) -> &VecDeque<(Interface, Vec<u8>, Offload)> {
        &self.queue
    }

    /// Takes the packets of a saved queue (a restore).
    pub(super) fn restore_queue(&mut self, queue: VecDeque<(Interface, Vec<u8>, Offload)>) {
        self.queue = queue;
    }

    /// Every shaper's state (tokens, counts, what waits), by interface: the
    /// shared shapers are saved once, by the worker that reports them.
    pub(super) fn save_shapers(&self, now: Instant) -> Vec<u8> {
        let all: Vec<(Interface, u64, Vec<u8>)> = self
            .shapers
            .all()
            .into_iter()
            .map(|(i, s)| {
                let s = lock(&s);
                let ago = s.last_ago(now).as_nanos() as u64;
                (i, ago, crate::state::to_bytes(&*s))
            })
            .collect();
        crate::state::to_bytes(&all)
    }

    /// Puts saved shapers' state into this configuration's shapers (a range
    /// subscriber's made now); this worker releases what waits in them.
    pub(super) fn restore_shapers(
        &mut self,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(), crate::state::StateError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let all: Vec<(Interface, u64, Vec<u8>)> = crate::state::from_bytes(bytes, 0)?;
        for (to, ago, saved) in all {
            let mut shaper: Shaper = crate::state::from_bytes(&saved, 0)?;
            shaper.set_last_ago(now, Duration::from_nanos(ago));
            let Some(shared) = self.shapers.of(to, now) else {
                // The link has no rate in this configuration (it is the same
                // file, so this is not reached): what waited goes out at once.
                continue;
            };
            let waiting = !shaper.is_empty();
            *lock(&shared) = shaper;
            if waiting && self.queued.insert(to) {
                self.busy.push((to, shared));
            }
        }
        Ok(())
    }

    /// The shared shapers (a reload plans the next ones from them).
    pub(super) fn shapers(&self) -> &Shapers {
        &self.shapers
    }

    /// Shapes with `shapers` from now on (a reload). Packets waiting in a
    /// shaper that is no more still leave at its rate.
    pub(super) fn set_shapers(&mut self, shapers: Shapers) {
        self.shapers = shapers;
    }

    /// Queues a packet for `to` (dropped, and counted, when the queue is full).
    pub(super) fn push(
        &mut self,
        to: Interface,
        packet: Vec<u8>,
        offload: Offload,
        counters: &mut Counters,
    ) {
        if self.queue.len() >= QUEUE_LIMIT {
            counters.drop(DropReason::QueueFull);
            return;
        }
        self.queue.push_back((to, packet, offload));
    }

    /// The next queued packet, copied into `buffer` with its offload, and its
    /// interface.
    pub(super) fn pop(&mut self, buffer: &mut PacketBuf) -> Option<Interface> {
        let (to, packet, offload) = self.queue.pop_front()?;
        buffer.set_packet(&packet);
        buffer.set_offload(offload);
        Some(to)
    }

    /// A forwarded packet through `to`'s shaper, if the link has one: forwarded at
    /// once otherwise, else queued (or refused when its family's queue is full).
    pub(super) fn shape(
        &mut self,
        to: Interface,
        packet: &[u8],
        offload: Offload,
        now: Instant,
        counters: &mut Counters,
    ) -> Result<Verdict, DropReason> {
        let Some(shaper) = self.shapers.of(to, now) else {
            return Ok(Verdict::Forward(to));
        };
        let v6 = IpVersion::of(packet) == Some(IpVersion::V6);
        if !lock(&shaper).enqueue(v6, packet, offload) {
            return Err(DropReason::ShaperQueueFull);
        }
        if self.queued.insert(to) {
            self.busy.push((to, shaper));
        }
        self.release(now, counters);
        Ok(Verdict::Queued(to))
    }

    /// Moves what the shapers let out at `now` to the output queue.
    #[inline]
    pub(super) fn release(&mut self, now: Instant, counters: &mut Counters) {
        if self.busy.is_empty() {
            // Every packet comes here; a shaper rarely holds anything.
            return;
        }
        self.release_busy(now, counters);
    }

    fn release_busy(&mut self, now: Instant, counters: &mut Counters) {
        let mut k = 0;
        while k < self.busy.len() {
            let (to, shaper) = self.busy[k].clone();
            let mut s = lock(&shaper);
            while let Some((_, packet, offload)) = s.dequeue(now) {
                self.push(to, packet, offload, counters);
            }
            if s.is_empty() {
                self.busy.swap_remove(k);
                self.queued.remove(&to);
            } else {
                k += 1;
            }
        }
    }

    /// How long until a shaped packet is due (`None`: no shaper holds one).
    pub(super) fn next_wakeup(&mut self, now: Instant) -> Option<Duration> {
        self.busy
            .iter()
            .filter_map(|(_, s)| lock(s).wait(now))
            .min()
    }

    /// What each shaper did, named by `name`.
    pub(super) fn usage(&self, name: impl Fn(Interface) -> String) -> Vec<ShaperUse> {
        if !self.reports {
            return Vec::new();
        }
        self.shapers
            .all()
            .into_iter()
            .map(|(i, s)| lock(&s).usage(&name(i)))
            .collect()
    }
}
