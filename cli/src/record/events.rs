//! `sixfold nat events`: the record itself, one line per NAT event in time
//! order (observation time, run, event, inside, public address and ports),
//! with the exporter's runs (restarts) and the windows in which the record is
//! unknown (sequence gaps), so an operator sees why an answer is uncertain.
//! The events printed are held in memory to order them: filter by time,
//! public or inside address to keep a large record small.

use super::answer::{Source, read, subscriber};
use super::time::utc;
use super::{Event, Record};
use sixfold_router::Config;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

/// Which events to print.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    pub(crate) from: Option<u64>,
    pub(crate) to: Option<u64>,
    pub(crate) public: Option<(Ipv4Addr, Option<u16>)>,
    pub(crate) inside: Option<IpAddr>,
}

impl Filter {
    fn wants(&self, e: &Event) -> bool {
        let public = self.public.is_none_or(|(a, port)| {
            e.public == a
                && port.is_none_or(|p| {
                    e.ports
                        .is_some_and(|(first, last)| (first..=last).contains(&p))
                })
        });
        self.time(e.time) && public && self.inside.is_none_or(|i| e.inside == i)
    }

    fn time(&self, t: u64) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|to| t <= to)
    }
}

/// natEvent's name (RFC 8158 §3, IANA "natEvent").
fn name(event: u8) -> &'static str {
    match event {
        3 => "addresses exhausted",
        4 => "NAT44 session create",
        5 => "NAT44 session delete",
        6 => "NAT64 session create",
        7 => "NAT64 session delete",
        8 => "NAT44 BIB create",
        9 => "NAT44 BIB delete",
        10 => "NAT64 BIB create",
        11 => "NAT64 BIB delete",
        12 => "ports exhausted",
        13 => "quota exceeded",
        14 => "address binding create",
        15 => "address binding delete",
        16 => "port block allocation",
        17 => "port block de-allocation",
        18 => "threshold reached",
        _ => "unknown natEvent",
    }
}

/// One event's line.
pub(crate) fn line(config: Option<&Config>, e: &Event) -> String {
    let who = config.map_or(String::new(), |c| format!(" ({})", subscriber(c, e.inside)));
    let inside = match e.inside_port {
        Some(p) if e.inside.is_ipv6() => format!("[{}]:{p}", e.inside),
        Some(p) => format!("{}:{p}", e.inside),
        None => e.inside.to_string(),
    };
    let public = match e.ports {
        Some((a, b)) if a == b => format!("{}:{a}", e.public),
        Some((a, b)) => format!("{} ports {a}-{b}", e.public),
        None => e.public.to_string(),
    };
    let protocol = e
        .protocol
        .map_or(String::new(), |p| format!(" protocol {p}"));
    let to = e.to.map_or(String::new(), |(d, v4, port)| {
        let v4 = v4.map_or(String::new(), |a| format!(" (IPv4 {a})"));
        format!(" to [{d}]:{port}{v4}")
    });
    format!(
        "{} run {} natEvent {} {}: inside {inside}{who} public {public}{protocol}{to}",
        utc(e.time),
        e.run,
        e.nat_event,
        name(e.nat_event)
    )
}

/// The runs and unknown windows, as timed lines.
fn frame(record: &Record, filter: &Filter) -> Vec<(u64, String)> {
    let complete = record.completeness();
    let mut lines = Vec::new();
    for (k, run) in record.runs.iter().enumerate() {
        let (addr, domain) = record.exporters[run.exporter];
        let how = if run.start_seen() {
            "start record"
        } else {
            "first seen: its start is not in the record"
        };
        lines.push((
            run.start(),
            format!(
                "{} run {k} begins: exporter {addr} (from {}) domain {domain} ({how}); last seen {}",
                utc(run.start()),
                run.source,
                utc(run.last_seen)
            ),
        ));
        for &(a, b) in &complete[k].unknown {
            let end = if b == u64::MAX {
                "the end of the record".into()
            } else {
                utc(b)
            };
            lines.push((
                a,
                format!(
                    "{} run {k}: the record is unknown from here to {end}",
                    utc(a)
                ),
            ));
        }
        if complete[k].missing > 0 {
            lines.push((
                run.last_seen,
                format!(
                    "{} run {k}: {} data records missing by the sequence numbers",
                    utc(run.last_seen),
                    complete[k].missing
                ),
            ));
        }
    }
    lines.retain(|(t, _)| filter.time(*t) || filter.from.is_none() && filter.to.is_none());
    lines
}

/// Prints the record's events that pass `filter`, with its runs and gaps.
pub(crate) fn print(
    config: Option<&Config>,
    source: Source,
    filter: &Filter,
) -> anyhow::Result<ExitCode> {
    let record = match read(config, source, |e| filter.wants(e)) {
        Ok(r) => r,
        Err(why) => {
            println!("the record could not be read: {why}");
            return Ok(ExitCode::from(5));
        }
    };
    let mut lines: Vec<(u64, String)> = record
        .events
        .iter()
        .map(|e| (e.time, line(config, e)))
        .collect();
    if record.sequenced {
        lines.extend(frame(&record, filter));
    }
    lines.sort_by_key(|(t, _)| *t);
    for (_, l) in &lines {
        println!("{l}");
    }
    let t = &record.tally;
    println!(
        "{} events; {} messages, {} unreadable, {} damaged, {} duplicate records{}",
        record.events.len(),
        t.messages,
        t.unreadable,
        t.damaged,
        t.duplicates,
        t.cut.as_ref().map_or(String::new(), |c| format!(
            "; the capture is cut short: {c}"
        ))
    );
    Ok(ExitCode::SUCCESS)
}
