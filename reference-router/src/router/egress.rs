//! What leaves the router besides the packet in hand: the output queue of packets
//! the router made (ICMP errors on timers, fragments, advertisements) and the
//! egress shapers, one per link with a rate, that serve IPv6 first.

use super::Verdict;
use crate::buf::PacketBuf;
use crate::config::Config;
use crate::iface::Interface;
use crate::offload::Offload;
use crate::shaper::Shaper;
use crate::stats::{Counters, DropReason, ShaperUse};
use sixfold_rewrite::IpVersion;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Most packets the router keeps for [`Egress::pop`]: a bound on what one burst of
/// timers and fragments can make.
const QUEUE_LIMIT: usize = 4096;

pub(super) struct Egress {
    queue: VecDeque<(Interface, Vec<u8>, Offload)>,
    /// Shapers: index 0 the WAN, 1 + k subscriber k.
    shapers: Vec<Option<Shaper>>,
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
    /// The egress of one of `workers` workers: the uplink's rate is shared out
    /// among them (each shapes what it sends); a subscriber's link is shaped by
    /// its owner, at its full rate.
    pub(super) fn new(config: &Config, now: Instant, workers: u16) -> Egress {
        let wan = config
            .wan
            .rate_mbps
            .map(|r| (r / u32::from(workers.max(1))).max(1));
        Egress {
            queue: VecDeque::new(),
            shapers: std::iter::once(wan)
                .chain(config.subscriber.iter().map(|s| s.rate_mbps))
                .map(|rate| rate.map(|mbps| Shaper::new(mbps, &config.shaper, now)))
                .collect(),
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
        let Some(shaper) = self.shapers[index].as_mut() else {
            return Ok(Verdict::Forward(to));
        };
        let was_empty = shaper.is_empty();
        let v6 = IpVersion::of(packet) == Some(IpVersion::V6);
        if !shaper.enqueue(v6, packet, offload) {
            return Err(DropReason::ShaperQueueFull);
        }
        if was_empty {
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
            while let Some((_, packet, offload)) =
                self.shapers[i].as_mut().and_then(|s| s.dequeue(now))
            {
                self.push(to, packet, offload, counters);
            }
            if self.shapers[i].as_ref().is_none_or(Shaper::is_empty) {
                self.busy.swap_remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// How long until a shaped packet is due (`None`: no shaper holds one).
    pub(super) fn next_wakeup(&mut self, now: Instant) -> Option<Duration> {
        let shapers = &mut self.shapers;
        self.busy
            .iter()
            .filter_map(|&i| shapers[i].as_mut()?.wait(now))
            .min()
    }

    /// What each shaper did, named by `name`.
    pub(super) fn usage<'a>(&self, name: impl Fn(Interface) -> &'a str) -> Vec<ShaperUse> {
        self.shapers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some(s.as_ref()?.usage(name(interface_of(i)))))
            .collect()
    }
}
