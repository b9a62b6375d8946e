//! A worker's side of the fast path: applies its router's changes to the
//! program's maps (removals first), reads the installed sessions' counts back
//! into the router every [`SYNC_SECONDS`], and gives every session back to
//! the slow path when the fast path is turned off.

use super::attach::Shared;
use super::maps::FlowCounts;
use crate::Router;
use crate::fastpath::{FastCounts, FastPathChange, Flow4, Nat44, SYNC_SECONDS};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One worker's installed sessions and what it last read of each.
pub struct FastFlows {
    shared: Shared,
    installed: HashMap<Flow4, (Nat44, FlowCounts, FlowCounts)>,
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
    /// The flows of worker `index`.
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

    /// Applies the router's changes; once a second reads the counts back.
    /// With the fast path off (a reload), gives every session back first.
    pub fn turn(&mut self, router: &mut Router) {
        if !router.config().fastpath.on() && !self.installed.is_empty() {
            self.release_all(router);
        }
        while let Some(change) = router.poll_fastpath_change() {
            self.apply(router, change);
        }
        let now = Instant::now();
        if now >= self.next_sync {
            self.next_sync = now + Duration::from_secs(u64::from(SYNC_SECONDS));
            self.sync(router, now);
        }
    }

    fn apply(&mut self, router: &mut Router, change: FastPathChange) {
        let mut fp = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        match change {
            FastPathChange::Install(nat) => {
                if !fp.is_on() {
                    drop(fp);
                    router.fastpath_forget(&nat.outbound.0, Instant::now());
                    return;
                }
                match fp.install(&nat) {
                    Ok(()) => {
                        let zero = FlowCounts::default();
                        self.installed.insert(nat.outbound.0, (nat, zero, zero));
                        self.installs += 1;
                    }
                    Err(e) => {
                        self.failed += 1;
                        tracing::debug!(error = %e, "fast path: install");
                    }
                }
            }
            FastPathChange::Remove(nat) => {
                let Some((_, before_out, before_in)) = self.installed.remove(&nat.outbound.0)
                else {
                    return;
                };
                match fp.remove(&nat) {
                    Ok(last) => {
                        drop(fp);
                        let counts = delta(&(before_out, before_in), &last);
                        router.fastpath_seen(&nat.outbound.0, counts, Instant::now());
                    }
                    Err(e) => tracing::warn!(error = %e, "fast path: remove"),
                }
            }
        }
    }

    /// Reads every installed session's counts into the router.
    fn sync(&mut self, router: &mut Router, now: Instant) {
        let mut fp = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let mut seen = Vec::new();
        for (key, (nat, out, inb)) in self.installed.iter_mut() {
            let Ok(counts) = fp.counts(nat) else { continue };
            if counts.0.packets != out.packets || counts.1.packets != inb.packets {
                seen.push((*key, delta(&(*out, *inb), &counts)));
                (*out, *inb) = counts;
            }
        }
        let attached = fp.is_on();
        let program = if self.reports_program {
            fp.counters().unwrap_or_default()
        } else {
            Vec::new()
        };
        drop(fp);
        for (key, counts) in seen {
            router.fastpath_seen(&key, counts, now);
        }
        let totals = (self.installed.len() as u64, self.installs, self.failed);
        router.fastpath_report(attached, totals, &program);
    }

    /// Every session back to the slow path: counted, forgotten, removed.
    pub fn release_all(&mut self, router: &mut Router) {
        let now = Instant::now();
        for (key, (nat, out, inb)) in std::mem::take(&mut self.installed) {
            let last = {
                let mut fp = self.shared.lock().unwrap_or_else(|p| p.into_inner());
                fp.remove(&nat)
            };
            if let Ok(last) = last {
                router.fastpath_seen(&key, delta(&(out, inb), &last), now);
            }
            router.fastpath_forget(&key, now);
        }
        self.sync(router, now);
    }
}
