//! The record from a capture of the IPFIX export, read as a stream: one frame
//! in memory at a time, and only the events the caller wants kept, so a
//! capture of any size is read in bounded memory (the runs' sequence coverage
//! grows with the gaps in it, not with its length).
//!
//! Every UDP datagram (IPv4 or IPv6, any link type the capture reader knows)
//! to the collector's port is read as an IPFIX message, as is any other whose
//! first bytes are an IPFIX header; one to the collector's port that is not
//! readable is counted. A capture cut short (mid-record) is read up to the
//! cut, and the cut is reported.

use super::udp::{NoDatagram, datagram};
use super::{Event, Record, Run};
use crate::ipfix::{Message, Reader, ie};
use sixfold::capture::{CaptureError, Reader as Frames};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

/// Reads the capture at `path`, keeping the events `want` accepts; `port`: the
/// collector's UDP port. An error only when nothing could be read at all.
pub(crate) fn read(
    path: &Path,
    port: u16,
    mut want: impl FnMut(&Event) -> bool,
) -> Result<Record, CaptureError> {
    let mut frames = Frames::open(path)?;
    let mut state = State::default();
    let mut record = Record {
        sequenced: true,
        ..Record::default()
    };
    loop {
        let frame = match frames.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                record.tally.cut = Some(e.to_string());
                break;
            }
        };
        record.tally.frames += 1;
        let Some(ip) = frame
            .link()
            .ip_offset(frame.data)
            .map(|at| &frame.data[at..])
        else {
            continue;
        };
        let d = match datagram(ip) {
            Ok(d) => d,
            Err(NoDatagram::Fragment) => {
                record.tally.fragments += 1;
                continue;
            }
            Err(NoDatagram::NotUdp) => continue,
        };
        let to_collector = d.dst.port() == port;
        if !to_collector && d.payload.get(..2) != Some(&[0, 10]) {
            continue;
        }
        let session = state.session(d.src, d.dst);
        match state.reader.decode(session, d.payload) {
            Ok(m) => state.message(&mut record, d.src, m, &mut want),
            Err(e) if to_collector => {
                record.tally.unreadable += 1;
                let n = record.tally.frames;
                record.note(format!("frame {n}: {e}"));
            }
            Err(_) => {}
        }
    }
    record.finish();
    Ok(record)
}

/// The reader's templates and the runs of each Transport Session.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) reader: Reader,
    sessions: HashMap<(SocketAddr, SocketAddr), u64>,
    streams: HashMap<(SocketAddr, u32), Vec<usize>>,
}

impl State {
    /// The number of the Transport Session from `src` to `dst`.
    pub(crate) fn session(&mut self, src: SocketAddr, dst: SocketAddr) -> u64 {
        let n = self.sessions.len() as u64;
        *self.sessions.entry((src, dst)).or_insert(n)
    }

    /// Takes one decoded message from `src` into `record`.
    pub(crate) fn message(
        &mut self,
        record: &mut Record,
        src: SocketAddr,
        m: Message,
        want: &mut impl FnMut(&Event) -> bool,
    ) {
        record.tally.messages += 1;
        let export_ms = u64::from(m.header.export_secs) * 1000;
        let domain = m.header.domain;
        let init = m.records.iter().find_map(|(_, r)| {
            (r.uint(ie::OBSERVATION_DOMAIN_ID) == Some(u64::from(domain)))
                .then(|| r.uint(ie::SYSTEM_INIT_TIME_MILLISECONDS))
                .flatten()
        });
        let time_of = |r: &crate::ipfix::DataRecord| {
            r.uint(ie::OBSERVATION_TIME_MILLISECONDS)
                .or_else(|| r.uint(ie::SYSTEM_INIT_TIME_MILLISECONDS))
        };
        let counted = m
            .records
            .iter()
            .take(m.counted as usize)
            .filter_map(|(_, r)| time_of(r));
        let times = counted.fold(None, |acc: Option<(u64, u64)>, t| {
            Some(acc.map_or((t, t), |(a, b)| (a.min(t), b.max(t))))
        });
        let earliest = m.records.iter().filter_map(|(_, r)| time_of(r)).min();
        let run = self.run_of(record, src, domain, init, earliest.unwrap_or(export_ms));
        let r = &mut record.runs[run];
        let ordinal = r.ordinal(m.header.sequence);
        r.cover(ordinal, u64::from(m.counted), times, export_ms);
        r.saw(export_ms);
        if let Some((a, b)) = times {
            r.saw(a);
            r.saw(b);
        }
        if !m.problems.is_empty() {
            record.tally.damaged += 1;
            let first = &m.problems[0];
            record.note(format!("message {} from {src}: {first}", m.header.sequence));
        }
        for (i, (offset, r)) in m.records.iter().enumerate() {
            if let Some(mut e) = Event::from_record(r, run, (ordinal, *offset)) {
                e.exact = i < m.counted as usize;
                if want(&e) {
                    record.keep(e);
                }
            }
        }
    }

    /// The run a message of `src` and `domain` belongs to: the one its start
    /// record names, or else the latest of its Transport Session begun by
    /// `time`.
    fn run_of(
        &mut self,
        record: &mut Record,
        src: SocketAddr,
        domain: u32,
        init: Option<u64>,
        time: u64,
    ) -> usize {
        let exporter = match record
            .exporters
            .iter()
            .position(|&x| x == (src.ip(), domain))
        {
            Some(x) => x,
            None => {
                record.exporters.push((src.ip(), domain));
                record.exporters.len() - 1
            }
        };
        let runs = &mut record.runs;
        let cands = self.streams.entry((src, domain)).or_default();
        let found = match init {
            Some(init) => cands
                .iter()
                .copied()
                .find(|&k| runs[k].init == Some(init))
                .or_else(|| {
                    // Its records came before its start record (reordered).
                    let k = cands
                        .iter()
                        .copied()
                        .find(|&k| runs[k].init.is_none() && runs[k].first_seen >= init)?;
                    runs[k].init = Some(init);
                    Some(k)
                }),
            None => cands
                .iter()
                .copied()
                .filter(|&k| runs[k].start() <= time)
                .max_by_key(|&k| runs[k].start())
                .or_else(|| cands.iter().copied().min_by_key(|&k| runs[k].start())),
        };
        found.unwrap_or_else(|| {
            runs.push(Run::new(exporter, src, init, init.unwrap_or(time)));
            cands.push(runs.len() - 1);
            runs.len() - 1
        })
    }
}
