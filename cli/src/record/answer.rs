//! `sixfold nat lookup`'s answer from the record: the holdings of a public
//! endpoint at a time (or all of them), each line naming the subscriber, what
//! it held and how certain that is, then how complete the record is; and the
//! exit code (0 exactly one holder for certain, 1 nobody, 3 more than one for
//! certain, 4 a holder named as uncertain, 5 the record could not be read at
//! all).

use super::holdings::{Holding, Status, holdings};
use super::time::utc;
use super::{Kind, Record, capture, nfdump};
use sixfold_router::Config;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddrV4};
use std::path::Path;
use std::process::ExitCode;

/// Where the record is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source<'a> {
    Capture(&'a Path),
    Nfcapd(&'a Path),
}

/// The collector's port: the configured collector's, or IPFIX's (4739).
pub(crate) fn collector_port(config: Option<&Config>) -> u16 {
    config
        .and_then(|c| c.ipfix.collector)
        .map_or(sixfold_router::ipfix::encode::PORT, |c| c.port())
}

/// Reads the record from `source`, keeping what `want` accepts; `Err` with the
/// reason when nothing could be read.
pub(crate) fn read(
    config: Option<&Config>,
    source: Source,
    want: impl FnMut(&super::Event) -> bool,
) -> Result<Record, String> {
    let record = match source {
        Source::Capture(path) => capture::read(path, collector_port(config), want)
            .map_err(|e| format!("--ipfix-pcap {}: {e}", path.display()))?,
        Source::Nfcapd(dir) => nfdump::read(dir, config, want)?,
    };
    if record.tally.messages == 0 {
        let what = match source {
            Source::Capture(p) => format!("--ipfix-pcap {}: no IPFIX message in it", p.display()),
            Source::Nfcapd(d) => format!(
                "--nfcapd {}: no NAT event in it ({} records nfdump printed could not be read)",
                d.display(),
                record.tally.unreadable
            ),
        };
        return Err(what);
    }
    Ok(record)
}

/// The subscriber an inside address belongs to, by the configuration.
pub(crate) fn subscriber(config: &Config, inside: IpAddr) -> String {
    let in_range = || {
        config.subscriber_range.iter().find_map(|r| {
            let i = match inside {
                IpAddr::V4(a) => r.index_v4(a),
                IpAddr::V6(a) => r.index_v6(a),
            }?;
            Some(r.subscriber_name(i))
        })
    };
    config
        .subscriber
        .iter()
        .find(|s| match inside {
            IpAddr::V4(a) => s.ipv4.iter().any(|n| n.contains(&a)),
            IpAddr::V6(a) => s.ipv6.iter().any(|n| n.contains(&a)),
        })
        .map(|s| s.name.clone())
        .or_else(in_range)
        .unwrap_or_else(|| "a subscriber the configuration does not list".to_string())
}

fn when(t: u64, open: &str) -> String {
    match t {
        0 => "the start of the record".into(),
        u64::MAX => open.into(),
        t => utc(t),
    }
}

/// What a holding is, e.g. "block 9984-10111, allocated T, released T".
pub(crate) fn describe(h: &Holding) -> String {
    let (start, end) = match h.kind {
        Kind::Block => (("allocated", "allocation"), ("released", "release")),
        _ => (("created", "creation"), ("deleted", "deletion")),
    };
    let began = h
        .began
        .map_or(format!("{} not in the record", start.1), |t| {
            format!("{} {}", start.0, utc(t))
        });
    let open = h.segments.last().is_some_and(|s| s.to == u64::MAX);
    let ended = match h.ended {
        Some(t) if !open => format!("{} {}", end.0, utc(t)),
        _ if open => "still held at the end of the record".to_string(),
        _ => format!("{} not in the record", end.1),
    };
    let what = match h.kind {
        Kind::Block => format!("block {}-{}", h.ports.0, h.ports.1),
        kind => {
            let name = if kind == Kind::Nat64 {
                "NAT64"
            } else {
                "NAT44"
            };
            let to = h.to.map_or(String::new(), |(d, v4, dport)| {
                let v4 = v4.map_or(String::new(), |a| format!(" (IPv4 {a}:{dport})"));
                format!(" to [{d}]:{dport}{v4}")
            });
            format!(
                "{name} session, protocol {}, inside port {}{to}",
                h.protocol.unwrap_or(0),
                h.inside_port.unwrap_or(0)
            )
        }
    };
    let parts: Vec<String> = h
        .segments
        .iter()
        .map(|s| {
            let (a, b) = (when(s.from, ""), when(s.to, "the end of the record"));
            match s.status {
                Status::Certain => format!("certain from {a} to {b}"),
                _ => format!("uncertain between {a} and {b}"),
            }
        })
        .collect();
    format!("{what}, {began}, {ended} ({})", parts.join("; "))
}

/// What the record says of its own completeness, around `at` if given.
fn completeness(record: &Record, at: Option<u64>) -> Vec<String> {
    let t = &record.tally;
    let c = record.completeness();
    let missing: u64 = c.iter().map(|c| c.missing).sum();
    let restarts = record.runs.len().saturating_sub(record.exporters.len());
    let mut lines = vec![if record.sequenced {
        format!(
            "record: {} IPFIX messages from {} exporter(s), {} run(s) ({restarts} restart(s)), \
             {missing} data records missing by the sequence numbers, {} unreadable messages, \
             {} damaged, {} fragments not reassembled, {} duplicate records",
            t.messages,
            record.exporters.len(),
            record.runs.len(),
            t.unreadable,
            t.damaged,
            t.fragments,
            t.duplicates
        )
    } else {
        format!(
            "record: {} NAT events from an nfcapd store; its completeness is unknown (nfcapd keeps \
             no IPFIX sequence numbers), so nothing in it is certain",
            t.messages
        )
    }];
    if let Some(cut) = &t.cut {
        lines.push(format!(
            "warning: the capture is cut short ({cut}); answered from what was read"
        ));
    }
    lines.extend(t.notes.iter().map(|n| format!("unreadable: {n}")));
    if let Some(at) = at
        && record.sequenced
    {
        let unknown: Vec<(u64, u64)> = c
            .iter()
            .flat_map(|c| c.unknown.iter().copied())
            .filter(|&(a, b)| a <= at && at < b)
            .collect();
        if unknown.is_empty() {
            lines.push(format!("around {}: the record is complete", utc(at)));
        } else {
            for (a, b) in unknown {
                lines.push(format!(
                    "around {}: the record is unknown between {} and {}",
                    utc(at),
                    when(a, ""),
                    when(b, "the end of the record")
                ));
            }
        }
    }
    lines
}

/// The answer for `public` (of `protocol`) at `at` (or at any time).
pub(crate) fn lookup(
    config: &Config,
    source: Source,
    public: SocketAddrV4,
    protocol: Option<u8>,
    at: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let record = match read(Some(config), source, |e| {
        e.covers(*public.ip(), public.port(), protocol)
    }) {
        Ok(r) => r,
        Err(why) => {
            println!("{public}: the record could not be read: {why}");
            return Ok(ExitCode::from(5));
        }
    };
    let all = holdings(&record);
    let shown: Vec<(&Holding, Status)> = all
        .iter()
        .filter_map(|h| {
            let status = match at {
                Some(t) => h.at(t),
                None => h
                    .segments
                    .iter()
                    .map(|s| s.status)
                    .max()
                    .unwrap_or(Status::No),
            };
            (status != Status::No).then_some((h, status))
        })
        .collect();
    let mut per_inside: BTreeMap<IpAddr, Status> = BTreeMap::new();
    for (h, status) in &shown {
        let s = per_inside.entry(h.inside).or_insert(Status::No);
        *s = (*s).max(*status);
        let who = subscriber(config, h.inside);
        let verdict = match (at, status) {
            (Some(t), Status::Certain) => format!("held for certain at {}", utc(t)),
            (Some(t), _) => format!("uncertain at {}", utc(t)),
            (None, _) => "in the record".to_string(),
        };
        println!(
            "{public} -> {who} (inside {}): {}; {verdict}",
            h.inside,
            describe(h)
        );
    }
    let certain = per_inside
        .values()
        .filter(|&&s| s == Status::Certain)
        .count();
    let uncertain = per_inside.len() - certain;
    // Without a time the holders are those of the whole record, one after
    // another: the summary says so.
    let at_text = at.map_or(
        " in the whole record (give --at TIME to ask about one time)".into(),
        |t| format!(" at {}", utc(t)),
    );
    let (code, summary) = match (certain, uncertain) {
        (0, 0) => (
            1,
            format!("{public}: no port block or session in the record holds it{at_text}"),
        ),
        (1, 0) => (0, format!("{public}: one holder{at_text}, for certain")),
        (c, _) if c > 1 => (3, format!("{public}: {c} holders for certain{at_text}")),
        _ => (4, format!("{public}: a holder is uncertain{at_text}")),
    };
    println!("{summary}");
    for line in completeness(&record, at) {
        println!("{line}");
    }
    Ok(ExitCode::from(code))
}
