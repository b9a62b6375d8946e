//! Runs of an exporter, and what their sequence numbers say is missing.
//!
//! A *run* is one exporting process's life: its Transport Session (source
//! address and port) and observation domain, begun by the start record
//! (systemInitTimeMilliseconds, `Encoder::start` in the router) when the
//! capture has it. RFC 7011 §3.1 counts data records in the sequence number,
//! so every data record has an *ordinal* in its run: a message with sequence
//! `s` whose records could all be counted covers ordinals `s .. s + n`. What no
//! message covers was lost (or cut from the capture), and the record is
//! *unknown* over a time window around it:
//!
//! - the router stamps a record when it happens and hands it to the exporter
//!   within [`SLACK_MS`] (one burst of the worker that made it), so a lost
//!   record's time lies between the latest time before the gap less the slack
//!   and the earliest time after it plus the slack;
//! - before the first record of a run whose start record is missing (the
//!   capture began mid-run), nothing is known;
//! - after the last record: nothing is known from there on less the slack, or
//!   from a later message that shows nothing was lost before it (its sequence
//!   number is the count so far) less [`HEARTBEAT_SLACK_MS`], until the next
//!   run of the exporter begins (the router started empty then) or forever.

use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Longest a record waits between its time and its place in the sequence
/// (the router's burst: milliseconds; a second leaves room).
pub(crate) const SLACK_MS: u64 = 1000;
/// A message's export time is in whole seconds and its records may wait for
/// the exporter's flush (200 ms): a message at export time E shows what came
/// before E less this.
pub(crate) const HEARTBEAT_SLACK_MS: u64 = 2000;

/// Ordinals `start .. end` seen, and the earliest and latest event time among
/// them (none: records without an observation time, e.g. flow records).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    end: u64,
    times: Option<(u64, u64)>,
}

/// One run of an exporter.
#[derive(Debug)]
pub(crate) struct Run {
    /// Index of the exporter (address and observation domain).
    pub(crate) exporter: usize,
    /// Its Transport Session's source.
    pub(crate) source: SocketAddr,
    /// systemInitTimeMilliseconds from its start record.
    pub(crate) init: Option<u64>,
    /// Earliest and latest time seen in it (event times, export times).
    pub(crate) first_seen: u64,
    pub(crate) last_seen: u64,
    covered: BTreeMap<u64, Span>,
    /// The reference for unwrapping sequence numbers (mod 2^32).
    last_seq: Option<u64>,
    /// The message with the latest export time: (its sequence, export time ms).
    heartbeat: Option<(u64, u64)>,
}

/// What a run's sequence numbers say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Completeness {
    /// Data records missing between the first and the last seen.
    pub(crate) missing: u64,
    /// Windows (from, to) in which the record is unknown, in order.
    pub(crate) unknown: Vec<(u64, u64)>,
    /// The same windows unmerged, with the ordinals of what was lost.
    pub(crate) gaps: Vec<Gap>,
}

/// One stretch of lost records: ordinals from `after` up to `before` (none:
/// no bound, the run's tail), times within `from .. to`. Records about one
/// endpoint or block come from one worker, in time order, so a lost record
/// about it lies after that endpoint's last record before `after` and before
/// its first record from `before` on, which narrows the window for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gap {
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) after: u64,
    pub(crate) before: Option<u64>,
}

impl Run {
    pub(crate) fn new(exporter: usize, source: SocketAddr, init: Option<u64>, seen: u64) -> Run {
        Run {
            exporter,
            source,
            init,
            first_seen: seen,
            last_seen: seen,
            covered: BTreeMap::new(),
            last_seq: None,
            heartbeat: None,
        }
    }

    /// When the run began: its start record's time, or else the earliest time
    /// seen (the restart was no later).
    pub(crate) fn start(&self) -> u64 {
        self.init.unwrap_or(self.first_seen)
    }

    /// Whether the start record (ordinal 0) is in the capture: the router
    /// began empty then, so the state at [`Run::start`] is known.
    pub(crate) fn start_seen(&self) -> bool {
        self.init.is_some() && self.covered.first_key_value().is_some_and(|(&s, _)| s == 0)
    }

    pub(crate) fn saw(&mut self, time: u64) {
        self.first_seen = self.first_seen.min(time);
        self.last_seen = self.last_seen.max(time);
    }

    /// The 64-bit ordinal of a message's sequence number (mod 2^32): the one
    /// nearest the run's latest.
    pub(crate) fn ordinal(&mut self, sequence: u32) -> u64 {
        let s = u64::from(sequence);
        let Some(r) = self.last_seq else {
            self.last_seq = Some(s);
            return s;
        };
        let base = r & !0xffff_ffff;
        let best = [base.wrapping_sub(1 << 32), base, base + (1 << 32)]
            .into_iter()
            .map(|b| b.wrapping_add(s))
            .filter(|&o| o < 1 << 63)
            .min_by_key(|&o| o.abs_diff(r))
            .unwrap_or(s);
        self.last_seq = Some(r.max(best));
        best
    }

    /// A message at `ordinal` and export time `export_ms`, whose first `n`
    /// records were counted, with event times `times` among them.
    pub(crate) fn cover(
        &mut self,
        ordinal: u64,
        n: u64,
        times: Option<(u64, u64)>,
        export_ms: u64,
    ) {
        if self.heartbeat.is_none_or(|(_, t)| export_ms >= t) {
            self.heartbeat = Some((ordinal, export_ms));
        }
        if n == 0 {
            return;
        }
        let (mut start, mut span) = (
            ordinal,
            Span {
                end: ordinal + n,
                times,
            },
        );
        let join = |a: Option<(u64, u64)>, b: Option<(u64, u64)>| match (a, b) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
        // Merge with what touches it on either side.
        if let Some((&s, &before)) = self.covered.range(..=start).next_back()
            && before.end >= start
        {
            self.covered.remove(&s);
            start = s;
            span = Span {
                end: span.end.max(before.end),
                times: join(span.times, before.times),
            };
        }
        while let Some((&s, &after)) = self.covered.range(start..).next() {
            if s > span.end {
                break;
            }
            self.covered.remove(&s);
            span = Span {
                end: span.end.max(after.end),
                times: join(span.times, after.times),
            };
        }
        self.covered.insert(start, span);
    }

    /// What is missing, and when the record is unknown; `lower`: the earliest
    /// the run can have begun (the exporter's previous run last seen), `next`:
    /// when the exporter's next run began.
    pub(crate) fn completeness(&self, lower: u64, next: Option<u64>) -> Completeness {
        let mut c = Completeness::default();
        let spans: Vec<(u64, Span)> = self.covered.iter().map(|(&s, &x)| (s, x)).collect();
        // Suffix minima of times, for the upper end of each gap's window.
        let mut after = vec![None; spans.len() + 1];
        for i in (0..spans.len()).rev() {
            after[i] = match (spans[i].1.times, after[i + 1]) {
                (Some((lo, _)), Some(a)) => Some(lo.min(a)),
                (Some((lo, _)), None) => Some(lo),
                (None, a) => a,
            };
        }
        let to = |i: usize| after[i].map_or(u64::MAX, |t: u64| t.saturating_add(SLACK_MS));
        let first = spans.first().map_or(u64::MAX, |(s, _)| *s);
        if !self.start_seen() {
            c.gaps.push(Gap {
                from: lower,
                to: to(0),
                after: 0,
                before: Some(first),
            });
        }
        let mut latest: Option<u64> = None;
        for (i, (_, span)) in spans.iter().enumerate() {
            if i > 0 {
                c.missing += spans[i].0 - spans[i - 1].1.end;
                let from = latest.map_or(lower, |t| t.saturating_sub(SLACK_MS));
                c.gaps.push(Gap {
                    from,
                    to: to(i),
                    after: spans[i - 1].1.end,
                    before: Some(spans[i].0),
                });
            }
            latest = latest.max(span.times.map(|t| t.1));
        }
        let end = spans.last().map_or(0, |(_, s)| s.end);
        let mut tail = latest.map_or(lower, |t| t.saturating_sub(SLACK_MS));
        if let Some((seq, at)) = self.heartbeat {
            if seq <= end {
                tail = tail.max(at.saturating_sub(HEARTBEAT_SLACK_MS));
            } else {
                c.missing += seq - end;
            }
        }
        c.gaps.push(Gap {
            from: tail,
            to: next.unwrap_or(u64::MAX),
            after: end,
            before: None,
        });
        // The run ended before the next began (one process at a time per
        // observation domain): none of its records lie after that, so none of
        // its windows reach past it (what the next run's record says about
        // itself is the next run's business).
        // Likewise a run whose start record is seen has nothing before it.
        let floor = if self.start_seen() { self.start() } else { 0 };
        let ceiling = next.unwrap_or(u64::MAX);
        for g in &mut c.gaps {
            (g.from, g.to) = (g.from.max(floor), g.to.min(ceiling));
        }
        c.gaps.retain(|g| g.from < g.to);
        c.unknown = merge(c.gaps.iter().map(|g| (g.from, g.to)).collect());
        c
    }
}

/// Windows in order, overlapping ones merged.
pub(crate) fn merge(mut windows: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    windows.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in windows {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Run {
        Run::new(0, "192.0.2.1:30000".parse().unwrap(), Some(1000), 1000)
    }

    #[test]
    fn a_gap_in_the_sequence_is_an_unknown_window_around_it() {
        let mut r = run();
        r.cover(0, 1, Some((1000, 1000)), 1000);
        r.cover(1, 3, Some((5000, 6000)), 6000);
        // Ordinals 4 and 5 lost; the next message, reordered, comes first.
        r.cover(6, 2, Some((20_000, 21_000)), 21_000);
        r.cover(8, 2, Some((60_000, 61_000)), 61_000);
        assert!(r.start_seen());
        let c = r.completeness(0, Some(100_000));
        assert_eq!(c.missing, 2);
        // Around the gap (the slack either side), and from the last record on
        // until the next run began.
        assert_eq!(c.unknown, [(5000, 21_000), (60_000, 100_000)]);
        // A later message with nothing lost before it moves the tail on.
        r.cover(10, 0, None, 90_000);
        let c = r.completeness(0, None);
        assert_eq!(c.unknown, [(5000, 21_000), (88_000, u64::MAX)]);
        // Without the start record, nothing is known before the first record.
        let mut late = Run::new(0, "192.0.2.1:30000".parse().unwrap(), None, 7000);
        late.cover(40, 1, Some((7000, 7000)), 7000);
        assert_eq!(late.completeness(500, None).unknown, [(500, u64::MAX)]);
        late.cover(41, 1, Some((30_000, 30_000)), 30_000);
        assert_eq!(
            late.completeness(500, None).unknown,
            [(500, 8000), (29_000, u64::MAX)]
        );
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut r = run();
        assert_eq!(r.ordinal(u32::MAX - 1), u64::from(u32::MAX - 1));
        assert_eq!(r.ordinal(3), (1 << 32) + 3);
        // A late message from before the wrap.
        assert_eq!(r.ordinal(u32::MAX), u64::from(u32::MAX));
    }
}
