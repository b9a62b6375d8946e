//! The record from an operator's nfcapd store, read through Debian's nfdump
//! (`TZ=UTC nfdump -R DIR -o json`, one JSON object per record, read as a
//! stream). nfcapd keeps no IPFIX sequence numbers and no start records, so the
//! record's completeness is unknown: its holdings are never certain. nfdump
//! before 1.7.4 drops the port-range fields (361–364) of IPFIX records, so with
//! such an nfdump block mode is refused, naming the version that reads them;
//! session events (NAT44 4/5, NAT64 6/7) are answered.

use super::runs::Run;
use super::{Event, Record};
use sixfold_router::Config;
use sixfold_router::config::Allocation;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};

/// The first nfdump that reads port ranges from IPFIX.
const READS_BLOCKS: (u32, u32, u32) = (1, 7, 4);

/// nfdump's version, from `nfdump -V` ("nfdump: Version: NSEL-NEL1.7.1").
fn version() -> Result<(u32, u32, u32), String> {
    let out = Command::new("nfdump")
        .arg("-V")
        .output()
        .map_err(|e| format!("nfdump: {e} (Debian: apt-get install nfdump)"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version(&text).ok_or_else(|| format!("nfdump -V said {text:?}: no version in it"))
}

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let v: Vec<u32> = text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    Some((*v.first()?, *v.get(1)?, *v.get(2).unwrap_or(&0)))
}

/// `t_event` ("2026-03-03T14:02:00.5": nfdump prints the milliseconds as a
/// number, not a decimal fraction) in UNIX milliseconds, nfdump run in UTC.
fn event_time(text: &str) -> Option<u64> {
    let (clock, ms) = text.split_once('.')?;
    let secs = super::time::parse(&format!("{clock}Z")).ok()?;
    let ms: u64 = ms.parse().ok().filter(|&m| m < 1000)?;
    Some(secs + ms)
}

/// The event one nfdump JSON record carries, if it is a NAT event; `run`: its
/// exporter's (an nfcapd store keeps no restarts: one run per exporter).
fn event(v: &serde_json::Value, run: usize, place: usize) -> Option<Event> {
    let text = |k: &str| v.get(k).and_then(|x| x.as_str());
    let number = |k: &str| {
        v.get(k).and_then(|x| {
            x.as_u64()
                .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
        })
    };
    // nfdump prints absent addresses as 0.0.0.0 (a NAT44 session's template
    // has no destination: RFC 6888 REQ-12).
    let addr = |k: &str| {
        text(k)
            .and_then(|a| a.parse::<IpAddr>().ok())
            .filter(|a| !a.is_unspecified())
    };
    let nat_event = u8::try_from(number("nat_event_id")?).ok()?;
    let IpAddr::V4(public) = addr("src4_xlt_ip")? else {
        return None;
    };
    let port = |k: &str| number(k).and_then(|p| u16::try_from(p).ok());
    Some(Event {
        time: event_time(text("t_event")?)?,
        run,
        place: (0, place),
        exact: false,
        nat_event,
        inside: addr("src4_addr").or_else(|| addr("src6_addr"))?,
        inside_port: port("src_port"),
        protocol: number("proto").and_then(|p| u8::try_from(p).ok()),
        public,
        ports: port("src_xlt_port").map(|p| (p, p)),
        to: addr("dst6_addr")
            .or_else(|| addr("dst4_addr"))
            .map(|d| (d, addr("dst4_xlt_ip"), port("dst_port").unwrap_or(0))),
    })
}

/// The exporter of one nfdump record: the router's address as nfcapd saw it
/// and its observation domain (`export_sysid`).
fn exporter(v: &serde_json::Value) -> (IpAddr, u32) {
    let ip = ["ip4_router", "ip6_router"]
        .iter()
        .find_map(|k| v.get(*k)?.as_str()?.parse().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let sysid = v.get("export_sysid").and_then(|x| x.as_u64()).unwrap_or(0);
    (ip, u32::try_from(sysid).unwrap_or(u32::MAX))
}

/// Calls `each` with every top-level JSON object in `input` (`nfdump -o json`
/// prints one array of them, pretty-printed): a stream, one object in memory
/// at a time, whatever the line breaks.
fn objects(input: impl BufRead, mut each: impl FnMut(&str)) -> std::io::Result<()> {
    let mut object = String::new();
    let (mut depth, mut in_string, mut escaped) = (0u32, false, false);
    for line in input.lines() {
        for c in line?.chars() {
            if depth > 0 {
                object.push(c);
            }
            if in_string {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_string = true,
                '{' => {
                    if depth == 0 {
                        object.clear();
                        object.push('{');
                    }
                    depth += 1;
                }
                '}' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        each(&object);
                    }
                }
                _ => {}
            }
        }
        if depth > 0 {
            object.push('\n');
        }
    }
    Ok(())
}

/// Reads the store in `dir` through nfdump, keeping the events `want`
/// accepts; refuses block mode with an nfdump that drops port ranges.
pub(crate) fn read(
    dir: &Path,
    config: Option<&Config>,
    mut want: impl FnMut(&Event) -> bool,
) -> Result<Record, String> {
    let v = version()?;
    if config.is_some_and(|c| c.nat.allocation == Allocation::Block) && v < READS_BLOCKS {
        return Err(format!(
            "nfdump {}.{}.{} drops IPFIX port ranges (fields 361-364), so an nfcapd store cannot \
             answer for port blocks with it: nfdump 1.7.4 or later reads them; or give \
             --ipfix-pcap (a capture of the export)",
            v.0, v.1, v.2
        ));
    }
    let mut child = Command::new("nfdump")
        .env("TZ", "UTC")
        .arg("-R")
        .arg(dir)
        .args(["-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("nfdump: {e}"))?;
    let mut record = Record::default();
    let stdout = child.stdout.take().ok_or("nfdump: no output")?;
    let mut place = 0;
    objects(BufReader::new(stdout), |object| {
        place += 1;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(object) else {
            record.tally.unreadable += 1;
            return;
        };
        let x = exporter(&v);
        let known = record.exporters.iter().position(|&e| e == x);
        let run = known.unwrap_or(record.exporters.len());
        let Some(e) = event(&v, run, place) else {
            return;
        };
        if known.is_none() {
            record.exporters.push(x);
            let source = SocketAddr::new(x.0, 0);
            record.runs.push(Run::new(run, source, None, e.time));
        }
        record.tally.messages += 1;
        record.runs[run].saw(e.time);
        if want(&e) {
            record.keep(e);
        }
    })
    .map_err(|e| format!("nfdump's output: {e}"))?;
    let status = child.wait().map_err(|e| format!("nfdump: {e}"))?;
    if !status.success() {
        let mut err = String::new();
        if let Some(mut s) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut s, &mut err);
        }
        return Err(format!(
            "nfdump -R {} failed: {}",
            dir.display(),
            err.trim()
        ));
    }
    record.finish();
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_times_as_nfdump_prints_them() {
        assert_eq!(
            parse_version("nfdump: Version: NSEL-NEL1.7.1"),
            Some((1, 7, 1))
        );
        assert_eq!(parse_version("nfdump: Version: 1.7.4-b2"), Some((1, 7, 4)));
        assert!(parse_version("nfdump: Version: 1.7.1").unwrap() < READS_BLOCKS);
        // 5 ms is printed ".5", 500 ms ".500".
        assert_eq!(event_time("2025-11-24T16:00:00.5"), Some(1_764_000_000_005));
        assert_eq!(
            event_time("2025-11-24T16:00:00.500"),
            Some(1_764_000_000_500)
        );
        assert_eq!(event_time("2025-11-24T16:00:00"), None);
    }

    #[test]
    fn a_nat64_record_as_nfdump_prints_it() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"nat_event_id":"6","nat_event":"NAT64 session create","t_event":"2025-11-24T16:00:00.0",
            "src6_addr":"2001:db8:1:2::2","dst6_addr":"2001:db8:64::c000:250","src4_xlt_ip":"203.0.113.7",
            "dst4_xlt_ip":"192.0.2.80","proto":17,"src_port":40000,"src_xlt_port":"40312","dst_port":53}"#,
        )
        .unwrap();
        let e = event(&v, 0, 3).unwrap();
        assert_eq!((e.nat_event, e.time), (6, 1_764_000_000_000));
        assert_eq!(e.inside, "2001:db8:1:2::2".parse::<IpAddr>().unwrap());
        assert_eq!(
            (e.inside_port, e.protocol, e.ports),
            (Some(40000), Some(17), Some((40312, 40312)))
        );
        assert!(e.covers("203.0.113.7".parse().unwrap(), 40312, Some(17)));
    }
}
