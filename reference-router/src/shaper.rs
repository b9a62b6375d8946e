//! An egress shaper per link, like a subscriber line: a token bucket at the
//! configured rate in front of two queues, one per address family, with IPv6
//! served first — strictly, or by weight.
//!
//! Strict priority: an IPv4 packet leaves only when no IPv6 packet waits. Weighted:
//! under saturation the bytes sent are in the ratio `ipv6_weight : ipv4_weight`;
//! the family that is served less is served next, and a family that was idle does
//! not bank credit (its count is brought level when the other runs alone).
//! Each queue drops at its tail beyond `queue_bytes`.

use crate::config::{Scheduling, Shaper as ShaperConfig};
use crate::offload::{self, Offload};
use crate::stats::{ShapedTraffic as FamilyCounts, ShaperUse};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The bucket holds this much time's worth of tokens: bursts up to this long are
/// sent at once, so a loop that wakes every millisecond keeps the line full.
const BURST: Duration = Duration::from_millis(4);
/// The smallest bucket: two full-size Ethernet frames. A packet larger than the
/// bucket leaves when the bucket is full (and takes it all).
const MIN_BURST: u64 = 3000;

/// A packet waiting, with what it stands for on the wire.
#[derive(Serialize, Deserialize)]
struct Queued {
    packet: Vec<u8>,
    offload: Offload,
    /// Bytes on the wire (every segment of a super-packet, headers included).
    wire: u64,
    segments: u64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Shaper {
    mbps: u32,
    /// Bytes per second.
    rate: u64,
    burst: u64,
    tokens: u64,
    /// Not in the serde form (an `Instant`): a saved state carries how long
    /// before the save it was ([`Shaper::last_ago`]).
    #[serde(skip, default = "Instant::now")]
    last: Instant,
    scheduling: Scheduling,
    /// Weights, `[ipv4, ipv6]`.
    weights: [u64; 2],
    /// Bytes served per family since they were last brought level.
    served: [u64; 2],
    queues: [VecDeque<Queued>; 2],
    queued: [usize; 2],
    limit: usize,
    counts: [FamilyCounts; 2],
}

impl Shaper {
    /// A shaper sending `mbps` megabits per second.
    pub(crate) fn new(mbps: u32, config: &ShaperConfig, now: Instant) -> Shaper {
        let rate = u64::from(mbps) * 1_000_000 / 8;
        let burst = (rate * BURST.as_micros() as u64 / 1_000_000).max(MIN_BURST);
        Shaper {
            mbps,
            rate,
            burst,
            tokens: burst,
            last: now,
            scheduling: config.scheduling,
            weights: [u64::from(config.ipv4_weight), u64::from(config.ipv6_weight)],
            served: [0; 2],
            queues: [VecDeque::new(), VecDeque::new()],
            queued: [0; 2],
            limit: config.queue_bytes as usize,
            counts: [FamilyCounts::default(); 2],
        }
    }

    /// Takes rate `mbps` and `config`'s scheduling, weights and queue limit
    /// (a reload): what waits stays queued, the bucket keeps its tokens up to
    /// the new burst. The same values twice change nothing.
    pub(crate) fn reconfigure(&mut self, mbps: u32, config: &ShaperConfig) {
        let rate = u64::from(mbps) * 1_000_000 / 8;
        self.mbps = mbps;
        self.rate = rate;
        self.burst = (rate * BURST.as_micros() as u64 / 1_000_000).max(MIN_BURST);
        self.tokens = self.tokens.min(self.burst);
        self.scheduling = config.scheduling;
        self.weights = [u64::from(config.ipv4_weight), u64::from(config.ipv6_weight)];
        self.limit = config.queue_bytes as usize;
    }

    /// Queues `packet` of family `v6`; false when its queue is full (dropped,
    /// counted by its segments).
    pub(crate) fn enqueue(&mut self, v6: bool, packet: &[u8], offload: Offload) -> bool {
        let f = usize::from(v6);
        let (segments, wire) = offload::wire_size(packet, &offload);
        if self.queued[f] + packet.len() > self.limit {
            self.counts[f].dropped += segments;
            return false;
        }
        self.queued[f] += packet.len();
        self.queues[f].push_back(Queued {
            packet: packet.to_vec(),
            offload,
            wire,
            segments,
        });
        true
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        let add = (u128::from(self.rate) * elapsed.as_nanos() / 1_000_000_000) as u64;
        if add > 0 {
            self.tokens = (self.tokens + add).min(self.burst);
            // Keep the remainder: advance `last` by exactly the time `add` stands for.
            self.last += Duration::from_nanos(
                (u128::from(add) * 1_000_000_000 / u128::from(self.rate.max(1))) as u64,
            );
            if self.tokens == self.burst {
                self.last = now;
            }
        }
    }

    /// The family to serve next, if any packet waits.
    fn pick(&mut self) -> Option<usize> {
        match (self.queues[0].is_empty(), self.queues[1].is_empty()) {
            (true, true) => None,
            (false, true) => Some(0),
            (true, false) => Some(1),
            (false, false) => Some(match self.scheduling {
                Scheduling::Strict => 1,
                // served[6] / w6 <= served[4] / w4: IPv6 is behind its share.
                Scheduling::Weighted => usize::from(
                    self.served[1] * self.weights[0] <= self.served[0] * self.weights[1],
                ),
            }),
        }
    }

    /// The next packet the line rate lets out at `now`, whether it is IPv6, and
    /// its offload.
    pub(crate) fn dequeue(&mut self, now: Instant) -> Option<(bool, Vec<u8>, Offload)> {
        self.refill(now);
        let f = self.pick()?;
        let len = self.queues[f].front().map_or(0, |q| q.wire);
        if self.tokens < len.min(self.burst) {
            return None;
        }
        let Queued {
            packet,
            offload,
            segments,
            ..
        } = self.queues[f].pop_front()?;
        self.tokens = self.tokens.saturating_sub(len);
        self.queued[f] -= packet.len();
        self.served[f] += len;
        let other = 1 - f;
        if self.queues[other].is_empty() {
            // The other family is idle: no credit accrues to it.
            self.served[other] = self.served[f] * self.weights[other] / self.weights[f].max(1);
        }
        self.counts[f].packets += segments;
        self.counts[f].bytes += len;
        Some((f == 1, packet, offload))
    }

    /// What it sent and dropped, for the link named `name`.
    pub(crate) fn usage(&self, name: &str) -> ShaperUse {
        ShaperUse {
            name: name.to_string(),
            rate_mbps: self.mbps,
            ipv4: self.counts[0],
            ipv6: self.counts[1],
        }
    }

    /// Whether a packet waits.
    /// How long before `now` the bucket was last filled (for a saved state).
    pub(crate) fn last_ago(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last)
    }

    /// Sets when the bucket was last filled: `ago` before `now` (a restore).
    pub(crate) fn set_last_ago(&mut self, now: Instant, ago: Duration) {
        self.last = now.checked_sub(ago).unwrap_or(now);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queues[0].is_empty() && self.queues[1].is_empty()
    }

    /// How long until the head packet may leave (`None`: nothing waits).
    pub(crate) fn wait(&mut self, now: Instant) -> Option<Duration> {
        self.refill(now);
        let f = self.pick()?;
        let len = self.queues[f].front().map_or(0, |q| q.wire);
        let missing = len.min(self.burst).saturating_sub(self.tokens);
        Some(Duration::from_nanos(
            (u128::from(missing) * 1_000_000_000 / u128::from(self.rate.max(1))) as u64,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaper(scheduling: Scheduling, ipv6_weight: u32) -> (Shaper, Instant) {
        let config = ShaperConfig {
            scheduling,
            ipv6_weight,
            ipv4_weight: 1,
            queue_bytes: 1 << 20,
        };
        let t0 = Instant::now();
        (Shaper::new(8, &config, t0), t0)
    }

    /// Keeps both queues full for `secs` seconds in 1 ms steps; bytes sent per family.
    fn saturate(s: &mut Shaper, t0: Instant, secs: u64) -> [u64; 2] {
        let packet = vec![0u8; 1000];
        let mut sent = [0u64; 2];
        for ms in 0..secs * 1000 {
            for v6 in [false, true] {
                while s.queued[usize::from(v6)] < 20_000 {
                    s.enqueue(v6, &packet, Offload::default());
                }
            }
            let now = t0 + Duration::from_millis(ms);
            while let Some((v6, p, _)) = s.dequeue(now) {
                sent[usize::from(v6)] += p.len() as u64;
            }
        }
        sent
    }

    #[test]
    fn the_rate_is_kept_within_the_burst() {
        let (mut s, t0) = shaper(Scheduling::Strict, 1);
        let sent = saturate(&mut s, t0, 10);
        let total = sent[0] + sent[1];
        // 8 Mbit/s = 1,000,000 B/s for 10 s (less the last step), plus the burst.
        assert!(
            (9_990_000..=10_000_000 + s.burst).contains(&total),
            "{total}"
        );
    }

    #[test]
    fn strict_priority_starves_ipv4_while_ipv6_saturates() {
        let (mut s, t0) = shaper(Scheduling::Strict, 1);
        let sent = saturate(&mut s, t0, 2);
        assert_eq!(sent[0], 0, "IPv4 got {sent:?}");
        // Alone, IPv4 has the whole line.
        let (mut s, t0) = shaper(Scheduling::Strict, 1);
        s.enqueue(false, &[0u8; 1000], Offload::default());
        assert!(s.dequeue(t0).is_some_and(|(v6, _, _)| !v6));
    }

    #[test]
    fn weights_split_the_line_and_an_idle_family_banks_no_credit() {
        let (mut s, t0) = shaper(Scheduling::Weighted, 3);
        let sent = saturate(&mut s, t0, 4);
        let share = sent[1] as f64 / (sent[0] + sent[1]) as f64;
        assert!((0.74..=0.76).contains(&share), "IPv6 share {share}");
        // IPv6 alone for a second, then both again: IPv4 does not get a catch-up
        // burst; the split is 3:1 from the first packets on.
        let (mut s, t0) = shaper(Scheduling::Weighted, 3);
        let packet = vec![0u8; 1000];
        for ms in 0..1000 {
            s.enqueue(true, &packet, Offload::default());
            while s.dequeue(t0 + Duration::from_millis(ms)).is_some() {}
        }
        let mut first = Vec::new();
        for _ in 0..40 {
            s.enqueue(true, &packet, Offload::default());
            s.enqueue(false, &packet, Offload::default());
        }
        for ms in 1000..1100 {
            while let Some((v6, _, _)) = s.dequeue(t0 + Duration::from_millis(ms)) {
                first.push(v6);
            }
        }
        let v4 = first.iter().take(40).filter(|v6| !**v6).count();
        assert!(
            (9..=11).contains(&v4),
            "{v4} IPv4 of the first 40: {first:?}"
        );
    }

    #[test]
    fn full_queues_drop_at_the_tail_and_count_it() {
        let config = ShaperConfig {
            queue_bytes: 2500,
            ..ShaperConfig::default()
        };
        let mut s = Shaper::new(1, &config, Instant::now());
        let packet = vec![0u8; 1000];
        assert!(
            s.enqueue(true, &packet, Offload::default())
                && s.enqueue(true, &packet, Offload::default())
        );
        assert!(!s.enqueue(true, &packet, Offload::default()));
        assert!(
            s.enqueue(false, &packet, Offload::default()),
            "each family has its own queue"
        );
        assert_eq!(s.counts[1].dropped, 1);
    }

    #[test]
    fn wait_says_when_the_head_packet_may_leave() {
        let (mut s, t0) = shaper(Scheduling::Strict, 1);
        assert_eq!(s.wait(t0), None);
        // 8 Mbit/s: 1,000,000 B/s, a bucket of 4 ms = 4000 B.
        for _ in 0..5 {
            s.enqueue(true, &[0u8; 1000], Offload::default());
        }
        for _ in 0..4 {
            assert!(s.dequeue(t0).is_some());
        }
        assert!(s.dequeue(t0).is_none(), "the bucket is spent");
        assert_eq!(s.wait(t0), Some(Duration::from_millis(1)));
        assert!(s.dequeue(t0 + Duration::from_millis(1)).is_some());
        // Larger than the bucket: leaves when the bucket is full.
        s.enqueue(true, &[0u8; 9000], Offload::default());
        let t1 = t0 + Duration::from_millis(1);
        assert_eq!(s.wait(t1), Some(Duration::from_millis(4)));
        assert!(s.dequeue(t1 + Duration::from_millis(4)).is_some());
    }
}
