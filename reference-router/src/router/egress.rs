//! What leaves the router besides the packet in hand: the output queue of packets
//! the router made (ICMP errors on timers, fragments, advertisements) and the
//! egress shapers, one per link with a rate, that serve IPv6 first. A link's
//! shaper is one for all workers (behind a lock only shaped packets take), so
//! its rate holds however the traffic is spread.

use super::Verdict;
use crate::buf::PacketBuf;
use crate::config::Config;
use crate::iface::Interface;
use crate::offload::Offload;
use crate::shaper::Shaper;
use crate::stats::{Counters, DropReason, ShaperUse};
use sixfold_rewrite::IpVersion;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most packets the router keeps for [`Egress::pop`]: a bound on what one burst of
/// timers and fragments can make.
const QUEUE_LIMIT: usize = 4096;

/// The links' shapers, shared by the workers: index 0 the WAN, 1 + k subscriber k.
pub(super) type Shapers = Vec<Option<Arc<Mutex<Shaper>>>>;

/// The shapers `config` asks for.
pub(super) fn shapers(config: &Config, now: Instant) -> Shapers {
    std::iter::once(config.wan.rate_mbps)
        .chain(config.subscriber.iter().map(|s| s.rate_mbps))
        .map(|rate| rate.map(|mbps| Arc::new(Mutex::new(Shaper::new(mbps, &config.shaper, now)))))
        .collect()
}

fn lock(s: &Mutex<Shaper>) -> MutexGuard<'_, Shaper> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) struct Egress {
    queue: VecDeque<(Interface, Vec<u8>, Offload)>,
    shapers: Shapers,
    /// Whether this worker reports the shared shapers (one does).
    reports: bool,
    /// Indexes of the shapers with packets waiting: the per-packet work is theirs
    /// only, however many links have a rate.
    busy: Vec<usize>,
}

fn shaper_index(to: Interface) -> usize {
    match to {
        Interface::Wan => 0,
        Interface::Subscriber(s) => 1 + usize::from(s),
    }
}

fn interface_of(index: usize) -> Interface {
    match index {
        0 => Interface::Wan,
        k => Interface::Subscriber((k - 1) as u16),
    }
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
        }
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
        let index = shaper_index(to);
        let Some(shaper) = self.shapers[index].as_ref() else {
            return Ok(Verdict::Forward(to));
        };
        let v6 = IpVersion::of(packet) == Some(IpVersion::V6);
        if !lock(shaper).enqueue(v6, packet, offload) {
            return Err(DropReason::ShaperQueueFull);
        }
        if !self.busy.contains(&index) {
            self.busy.push(index);
        }
        self.release(now, counters);
        Ok(Verdict::Queued(to))
    }

    /// Moves what the shapers let out at `now` to the output queue.
    pub(super) fn release(&mut self, now: Instant, counters: &mut Counters) {
        let mut k = 0;
        while k < self.busy.len() {
            let i = self.busy[k];
            let to = interface_of(i);
            let Some(shaper) = self.shapers[i].clone() else {
                self.busy.swap_remove(k);
                continue;
            };
            let mut s = lock(&shaper);
            while let Some((_, packet, offload)) = s.dequeue(now) {
                self.push(to, packet, offload, counters);
            }
            if s.is_empty() {
                self.busy.swap_remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// How long until a shaped packet is due (`None`: no shaper holds one).
    pub(super) fn next_wakeup(&mut self, now: Instant) -> Option<Duration> {
        let shapers = &self.shapers;
        self.busy
            .iter()
            .filter_map(|&i| lock(shapers[i].as_ref()?).wait(now))
            .min()
    }

    /// What each shaper did, named by `name`.
    pub(super) fn usage<'a>(&self, name: impl Fn(Interface) -> &'a str) -> Vec<ShaperUse> {
        if !self.reports {
            return Vec::new();
        }
        self.shapers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some(lock(s.as_ref()?).usage(name(interface_of(i)))))
            .collect()
    }
}
