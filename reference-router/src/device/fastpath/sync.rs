//! A worker's side of the fast path: applies its router's changes to the
//! program's maps (removals first), reads the installed sessions' and flows'
//! counts back into the router every [`SYNC_SECONDS`], and gives every one
//! back to the slow path when the fast path is turned off.

use super::attach::{Attached, Shared};
use super::maps::FlowCounts;
use crate::Router;
use crate::fastpath::{FastCounts, FastPathChange, Flow4, Flow6, Nat44, Routed6, SYNC_SECONDS};
use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

/// An installed NAT44 session or IPv6 flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    V4(Nat44),
    V6(Routed6),
}

/// An entry's name: its outbound flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Name {
    V4(Flow4),
    V6(Flow6),
}

impl Entry {
    fn name(&self) -> Name {
        match self {
            Entry::V4(n) => Name::V4(n.outbound.0),
            Entry::V6(f) => Name::V6(f.outbound),
        }
    }

    fn install(&self, fp: &mut Attached) -> io::Result<()> {
        match self {
            Entry::V4(n) => fp.install(n),
            Entry::V6(f) => fp.install6(f),
        }
    }

    fn remove(&self, fp: &mut Attached) -> io::Result<(FlowCounts, FlowCounts)> {
        match self {
            Entry::V4(n) => fp.remove(n),
            Entry::V6(f) => fp.remove6(f),
        }
    }

    fn counts(&self, fp: &mut Attached) -> io::Result<(FlowCounts, FlowCounts)> {
        match self {
            Entry::V4(n) => fp.counts(n),
            Entry::V6(f) => fp.counts6(f),
        }
    }

    fn seen(&self, router: &mut Router, counts: FastCounts, now: Instant) {
        match self {
            Entry::V4(n) => router.fastpath_seen(&n.outbound.0, counts, now),
            Entry::V6(f) => router.fastpath_seen6(&f.outbound, counts, now),
        }
    }

    fn forget(&self, router: &mut Router, now: Instant) {
        match self {
            Entry::V4(n) => router.fastpath_forget(&n.outbound.0, now),
            Entry::V6(f) => router.fastpath_forget6(&f.outbound, now),
        }
    }
}

/// One worker's installed entries and what it last read of each.
pub struct FastFlows {
    shared: Shared,
    installed: HashMap<Name, (Entry, FlowCounts, FlowCounts)>,
    installs: u64,
    failed: u64,
    next_sync: Instant,
    /// Worker 0 reports the program's counters.
    reports_program: bool,
}

fn now_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// What the program counted since `before`, as the router takes it.
fn delta(before: &(FlowCounts, FlowCounts), now: &(FlowCounts, FlowCounts)) -> FastCounts {
    let d = |a: &FlowCounts, b: &FlowCounts| {
        (
            b.packets.saturating_sub(a.packets),
            b.bytes.saturating_sub(a.bytes),
        )
    };
    let last = now.0.last_seen_ns.max(now.1.last_seen_ns);
    let moved = now.0.packets != before.0.packets || now.1.packets != before.1.packets;
    FastCounts {
        outbound: d(&before.0, &now.0),
        inbound: d(&before.1, &now.1),
        idle: (moved && last > 0).then(|| Duration::from_nanos(now_ns().saturating_sub(last))),
    }
}

impl FastFlows {
    /// The entries of worker `index`.
    pub fn new(shared: Shared, index: u16) -> FastFlows {
        FastFlows {
            shared,
            installed: HashMap::new(),
            installs: 0,
            failed: 0,
            next_sync: Instant::now(),
            reports_program: index == 0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Attached> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies the router's changes; once a second reads the counts back.
    /// With the fast path off (a reload), gives every entry back first.
    pub fn turn(&mut self, router: &mut Router) {
        if !router.config().fastpath.on() && !self.installed.is_empty() {
            self.release_all(router);
        }
        while let Some(change) = router.poll_fastpath_change() {
            match change {
                FastPathChange::Install(n) => self.install(router, Entry::V4(n)),
                FastPathChange::Install6(f) => self.install(router, Entry::V6(f)),
                FastPathChange::Remove(n) => self.remove(router, Entry::V4(n)),
                FastPathChange::Remove6(f) => self.remove(router, Entry::V6(f)),
            }
        }
        let now = Instant::now();
        if now >= self.next_sync {
            self.next_sync = now + Duration::from_secs(u64::from(SYNC_SECONDS));
            self.sync(router, now);
        }
    }

    fn install(&mut self, router: &mut Router, entry: Entry) {
        let mut fp = self.lock();
        if !fp.is_on() {
            drop(fp);
            entry.forget(router, Instant::now());
            return;
        }
        match entry.install(&mut fp) {
            Ok(()) => {
                let zero = FlowCounts::default();
                drop(fp);
                self.installed.insert(entry.name(), (entry, zero, zero));
                self.installs += 1;
            }
            Err(e) => {
                drop(fp);
                self.failed += 1;
                tracing::debug!(error = %e, "fast path: install");
            }
        }
    }

    /// `entry` ended in the router: out of the maps, its last counts in.
    fn remove(&mut self, router: &mut Router, entry: Entry) {
        let Some((_, out, inb)) = self.installed.remove(&entry.name()) else {
            return;
        };
        let last = entry.remove(&mut self.lock());
        match last {
            Ok(last) => entry.seen(router, delta(&(out, inb), &last), Instant::now()),
            Err(e) => tracing::warn!(error = %e, "fast path: remove"),
        }
    }

    /// Reads every installed entry's counts into the router.
    fn sync(&mut self, router: &mut Router, now: Instant) {
        let mut fp = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let mut seen = Vec::new();
        for (entry, out, inb) in self.installed.values_mut() {
            let Ok(counts) = entry.counts(&mut fp) else {
                continue;
            };
            if counts.0.packets != out.packets || counts.1.packets != inb.packets {
                seen.push((*entry, delta(&(*out, *inb), &counts)));
                (*out, *inb) = counts;
            }
        }
        let attached = fp.is_on().then(|| fp.hook());
        let program = if self.reports_program {
            fp.counters().unwrap_or_default()
        } else {
            Vec::new()
        };
        drop(fp);
        for (entry, counts) in seen {
            entry.seen(router, counts, now);
        }
        let totals = (self.installed.len() as u64, self.installs, self.failed);
        router.fastpath_report(attached, totals, &program);
    }

    /// Every entry back to the slow path: counted, forgotten, removed.
    pub fn release_all(&mut self, router: &mut Router) {
        let now = Instant::now();
        for (_, (entry, out, inb)) in std::mem::take(&mut self.installed) {
            let last = entry.remove(&mut self.lock());
            if let Ok(last) = last {
                entry.seen(router, delta(&(out, inb), &last), now);
            }
            entry.forget(router, now);
        }
        self.sync(router, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(packets: u64, bytes: u64, last_seen_ns: u64) -> FlowCounts {
        FlowCounts {
            packets,
            bytes,
            last_seen_ns,
        }
    }

    #[test]
    fn a_delta_is_what_came_since_and_how_long_ago_the_last_packet_was() {
        let before = (counts(10, 1000, 5), counts(4, 400, 6));
        let last = now_ns() - 2_000_000_000;
        let now = (counts(15, 1500, last), counts(4, 400, 6));
        let d = delta(&before, &now);
        assert_eq!((d.outbound, d.inbound), ((5, 500), (0, 0)));
        let idle = d.idle.unwrap();
        assert!(
            idle >= Duration::from_secs(2) && idle < Duration::from_secs(3),
            "{idle:?}"
        );
        // Nothing new: no last-seen time, so the router's timer is not moved.
        assert_eq!(delta(&now, &now).idle, None);
        assert_eq!(delta(&now, &now).outbound, (0, 0));
    }
}
