//! `sixfold nat lookup`: who had a public address and port, or which public
//! address and ports an inside address has — from the configuration alone in
//! deterministic mode (RFC 7422), from a capture of the IPFIX export in block
//! mode (the natEvent 16/17 records, RFC 8158).
//!
//! ```text
//! sixfold nat lookup --config router.toml 203.0.113.7:40312
//! sixfold nat lookup --config router.toml 100.64.1.1
//! sixfold nat lookup --config router.toml --ipfix-pcap export.pcap --at 2026-03-03T14:02:00Z 203.0.113.7:40312
//! ```

use crate::ipfix::{Reader, ie};
use crate::run::load;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use sixfold_router::Deterministic;
use sixfold_router::config::Allocation;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub(crate) enum NatCommand {
    /// PUBLIC_ADDR:PORT: which subscriber had it; INSIDE_ADDR: its public
    /// address and ports (deterministic mode). Exit 1 when there is no answer.
    Lookup(LookupArgs),
}

#[derive(Args, Debug)]
pub(crate) struct LookupArgs {
    /// The router's configuration (its [nat] pool, allocation and subscribers).
    #[arg(long)]
    config: PathBuf,
    /// Block mode: a pcap of the router's IPFIX export (UDP) to search.
    #[arg(long, value_name = "FILE")]
    ipfix_pcap: Option<PathBuf>,
    /// Block mode: the time to ask about (UNIX seconds, or
    /// YYYY-MM-DDTHH:MM:SS[.mmm]Z); default: any time in the capture.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// PUBLIC_ADDR:PORT or INSIDE_ADDR.
    target: String,
}

pub(crate) fn run(cmd: NatCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NatCommand::Lookup(args) => lookup(args),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A UNIX time in milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (Howard
/// Hinnant's `civil_from_days`).
fn utc(ms: u64) -> String {
    let (days, rest) = ((ms / 86_400_000) as i64, ms % 86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let s = rest / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        rest % 1000
    )
}

/// `--at` in UNIX milliseconds.
fn parse_time(text: &str) -> anyhow::Result<u64> {
    if let Ok(secs) = text.parse::<f64>() {
        return Ok((secs * 1000.0) as u64);
    }
    let bad =
        || anyhow::anyhow!("--at {text:?}: use UNIX seconds or YYYY-MM-DDTHH:MM:SS[.mmm]Z (UTC)");
    let t = text.strip_suffix('Z').ok_or_else(bad)?;
    let (date, time) = t.split_once('T').ok_or_else(bad)?;
    let n: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let c: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    if n.len() != 3 || c.len() != 3 || !(1..=12).contains(&n[1]) || !(1..=31).contains(&n[2]) {
        return Err(bad());
    }
    let ms: i64 = format!("{frac:0<3}")[..3].parse().map_err(|_| bad())?;
    let secs = days_from_civil(n[0], n[1], n[2]) * 86_400 + c[0] * 3600 + c[1] * 60 + c[2];
    u64::try_from(secs * 1000 + ms).map_err(|_| bad())
}

fn lookup(args: LookupArgs) -> anyhow::Result<ExitCode> {
    let config = load(&args.config)?;
    let names = |sub: u32| {
        config
            .subscriber_name(sub)
            .unwrap_or_else(|| format!("subscriber {sub}"))
    };
    if let Some(path) = &args.ipfix_pcap {
        let public: SocketAddrV4 = args.target.parse().with_context(|| {
            format!("{:?}: with --ipfix-pcap give PUBLIC_ADDR:PORT", args.target)
        })?;
        let at = args.at.as_deref().map(parse_time).transpose()?;
        return from_capture(&config, path, public, at);
    }
    if config.nat.allocation != Allocation::Deterministic {
        bail!(
            "[nat] allocation = \"{}\": only deterministic mode answers from the configuration; \
             give --ipfix-pcap FILE (the router's IPFIX export) and --at TIME",
            format!("{:?}", config.nat.allocation).to_lowercase()
        );
    }
    let d = Deterministic::new(&config);
    if let Ok(public) = args.target.parse::<SocketAddrV4>() {
        return Ok(match d.owner_of(*public.ip(), public.port()) {
            Some(r) => {
                println!(
                    "{public} -> {} (inside {}), whose range is {} ports {}-{} (RFC 7422: no log needed)",
                    names(r.subscriber),
                    r.inside,
                    r.public,
                    r.first,
                    r.last
                );
                ExitCode::SUCCESS
            }
            None => {
                println!("{public}: no inside address has it");
                ExitCode::FAILURE
            }
        });
    }
    let inside: Ipv4Addr = args
        .target
        .parse()
        .with_context(|| format!("{:?}: give PUBLIC_ADDR:PORT or INSIDE_ADDR", args.target))?;
    Ok(match d.range_of(inside) {
        Some(r) => {
            println!(
                "{inside} ({}) -> {} ports {}-{} ({} ports)",
                names(r.subscriber),
                r.public,
                r.first,
                r.last,
                d.ports_per_address()
            );
            ExitCode::SUCCESS
        }
        None => {
            println!("{inside}: no subscriber has this address, or the pool has no room for it");
            ExitCode::FAILURE
        }
    })
}

/// Block mode: the blocks holding `public` in the capture's natEvent 16/17
/// records, live at `at` if given.
fn from_capture(
    config: &sixfold_router::Config,
    path: &std::path::Path,
    public: SocketAddrV4,
    at: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let frames =
        sixfold::capture::read(path).with_context(|| format!("--ipfix-pcap {}", path.display()))?;
    let mut reader = Reader::default();
    // Per (inside, first port): announced from, released at.
    let mut blocks: Vec<(IpAddr, u64, u64, u64, Option<u64>)> = Vec::new();
    for f in &frames {
        let Some(payload) = f.ip().and_then(udp_payload) else {
            continue;
        };
        for r in reader.message(payload).unwrap_or_default() {
            let (Some(event @ (16 | 17)), Some(IpAddr::V4(out))) = (
                r.uint(ie::NAT_EVENT),
                r.addr(ie::POST_NAT_SOURCE_IPV4_ADDRESS),
            ) else {
                continue;
            };
            let (Some(inside), Some(first), Some(last), Some(time)) = (
                r.src(),
                r.uint(ie::PORT_RANGE_START),
                r.uint(ie::PORT_RANGE_END),
                r.uint(ie::OBSERVATION_TIME_MILLISECONDS),
            ) else {
                continue;
            };
            let port = u64::from(public.port());
            if out != *public.ip() || !(first..=last).contains(&port) {
                continue;
            }
            let open = blocks
                .iter_mut()
                .find(|b| b.0 == inside && b.1 == first && b.4.is_none());
            match (event, open) {
                (16, None) => blocks.push((inside, first, last, time, None)),
                (17, Some(b)) => b.4 = Some(time),
                (17, None) => blocks.push((inside, first, last, 0, Some(time))),
                _ => {}
            }
        }
    }
    let live = |b: &&(IpAddr, u64, u64, u64, Option<u64>)| {
        at.is_none_or(|t| b.3 <= t && b.4.is_none_or(|end| t <= end))
    };
    let found: Vec<_> = blocks.iter().filter(live).collect();
    for (inside, first, last, from, until) in &found {
        let in_range = |a: &Ipv4Addr| {
            config
                .subscriber_range
                .iter()
                .find_map(|r| Some(r.subscriber_name(r.index_v4(*a)?)))
        };
        let who = config
            .subscriber
            .iter()
            .find(|s| matches!(inside, IpAddr::V4(a) if s.ipv4.iter().any(|n| n.contains(a))))
            .map(|s| s.name.clone())
            .or_else(|| match inside {
                IpAddr::V4(a) => in_range(a),
                IpAddr::V6(_) => None,
            })
            .unwrap_or_else(|| "a subscriber the configuration does not list".to_string());
        let until = until.map_or("still held at the end of the capture".to_string(), |u| {
            format!("released {}", utc(u))
        });
        println!(
            "{public} -> {who} (inside {inside}): block {first}-{last}, allocated {}, {until}",
            utc(*from)
        );
    }
    if found.is_empty() {
        println!(
            "{public}: no port block in {} holds it{}",
            path.display(),
            at.map_or(String::new(), |t| format!(" at {}", utc(t)))
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The payload of an IPv4 UDP datagram.
fn udp_payload(ip: &[u8]) -> Option<&[u8]> {
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if ip.get(9) != Some(&17) {
        return None;
    }
    ip.get(ihl + 8..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_to_unix_milliseconds() {
        assert_eq!(
            parse_time("2026-03-03T14:02:00Z").unwrap(),
            1_772_546_520_000
        );
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z").unwrap(), 1500);
        assert_eq!(parse_time("1700000000.25").unwrap(), 1_700_000_000_250);
        assert!(parse_time("2026-13-01T00:00:00Z").is_err());
        assert!(parse_time("yesterday").is_err());
        assert_eq!(utc(1_772_546_520_123), "2026-03-03T14:02:00.123Z");
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
