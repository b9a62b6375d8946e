//! `sixfold nat lookup`: who had a public address and port, or which public
//! address and ports an inside address has — from the configuration alone in
//! deterministic mode (RFC 7422), from a capture of the IPFIX export otherwise
//! (RFC 8158: port blocks, natEvent 16/17; with `[ipfix] sessions`, NAT44
//! sessions, natEvent 4/5, and an IPv6-only subscriber's NAT64 sessions,
//! natEvent 6/7, which name its IPv6 address).
//!
//! ```text
//! sixfold nat lookup --config router.toml 203.0.113.7:40312
//! sixfold nat lookup --config router.toml 100.64.1.1
//! sixfold nat lookup --config router.toml --ipfix-pcap export.pcap --at 2026-03-03T14:02:00Z 203.0.113.7:40312
//! ```

use crate::ipfix::{DataRecord, Reader, ie};
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
    /// Block or dynamic mode: a pcap of the router's IPFIX export (UDP) to
    /// search for port blocks and sessions (NAT44 and NAT64).
    #[arg(long, value_name = "FILE")]
    ipfix_pcap: Option<PathBuf>,
    /// With --ipfix-pcap: the time to ask about (UNIX seconds, or
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

/// What held a public port in a capture of the export.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Holder {
    /// A port block (natEvent 16/17): its first and last port.
    Block(u64, u64),
    /// A session: natEvent 4/5 (NAT44) or 6/7 (NAT64, with the destination
    /// as the subscriber addressed it and the IPv4 address that stands for):
    /// protocol, inside port, destination.
    Session {
        nat64: bool,
        protocol: u64,
        port: u64,
        to: Option<(IpAddr, Option<IpAddr>, u64)>,
    },
}

/// One holder of the public port: the inside address, from when (0: before
/// the capture) until when (none: to its end).
struct Held {
    inside: IpAddr,
    holder: Holder,
    from: u64,
    until: Option<u64>,
}

/// The holder a record announces (`true`) or ends (`false`), if it covers
/// `public`.
fn holder_of(r: &DataRecord, public: SocketAddrV4) -> Option<(bool, IpAddr, Holder)> {
    let event = r.uint(ie::NAT_EVENT)?;
    if r.addr(ie::POST_NAT_SOURCE_IPV4_ADDRESS)? != IpAddr::V4(*public.ip()) {
        return None;
    }
    let port = u64::from(public.port());
    let holder = match event {
        16 | 17 => {
            let (first, last) = (r.uint(ie::PORT_RANGE_START)?, r.uint(ie::PORT_RANGE_END)?);
            (first..=last)
                .contains(&port)
                .then_some(Holder::Block(first, last))?
        }
        4..=7 if r.uint(ie::POST_NAPT_SOURCE_TRANSPORT_PORT)? == port => Holder::Session {
            nat64: event >= 6,
            protocol: r.uint(ie::PROTOCOL_IDENTIFIER)?,
            port: r.uint(ie::SOURCE_TRANSPORT_PORT)?,
            to: r.dst().map(|d| {
                (
                    d,
                    r.addr(ie::POST_NAT_DESTINATION_IPV4_ADDRESS),
                    r.uint(ie::DESTINATION_TRANSPORT_PORT).unwrap_or(0),
                )
            }),
        },
        _ => return None,
    };
    Some((matches!(event, 4 | 6 | 16), r.src()?, holder))
}

impl Held {
    /// How it reads after "inside ADDR): ".
    fn describe(&self) -> String {
        let until = self
            .until
            .map_or("still held at the end of the capture".to_string(), |u| {
                format!("released {}", utc(u))
            });
        match &self.holder {
            Holder::Block(first, last) => {
                format!(
                    "block {first}-{last}, allocated {}, {until}",
                    utc(self.from)
                )
            }
            Holder::Session {
                nat64,
                protocol,
                port,
                to,
            } => {
                let kind = if *nat64 { "NAT64" } else { "NAT44" };
                let to = to.map_or(String::new(), |(d, v4, dport)| {
                    let v4 = v4.map_or(String::new(), |a| format!(" (IPv4 {a}:{dport})"));
                    format!(" to [{d}]:{dport}{v4}")
                });
                let from = if self.from == 0 {
                    "before the capture".to_string()
                } else {
                    utc(self.from)
                };
                format!(
                    "{kind} session, protocol {protocol}, inside port {port}{to}, created {from}, {until}"
                )
            }
        }
    }
}

/// From a capture of the export: the port blocks (natEvent 16/17) and the
/// sessions (natEvent 4/5, and 6/7 of IPv6-only subscribers through the NAT64)
/// holding `public`, live at `at` if given.
fn from_capture(
    config: &sixfold_router::Config,
    path: &std::path::Path,
    public: SocketAddrV4,
    at: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let frames =
        sixfold::capture::read(path).with_context(|| format!("--ipfix-pcap {}", path.display()))?;
    let mut reader = Reader::default();
    let mut held: Vec<Held> = Vec::new();
    for f in &frames {
        let Some(payload) = f.ip().and_then(udp_payload) else {
            continue;
        };
        for r in reader.message(payload).unwrap_or_default() {
            let (Some((starts, inside, holder)), Some(time)) = (
                holder_of(&r, public),
                r.uint(ie::OBSERVATION_TIME_MILLISECONDS),
            ) else {
                continue;
            };
            let open = held
                .iter_mut()
                .find(|h| h.inside == inside && h.holder == holder && h.until.is_none());
            match (starts, open) {
                (true, None) => held.push(Held {
                    inside,
                    holder,
                    from: time,
                    until: None,
                }),
                (false, Some(h)) => h.until = Some(time),
                (false, None) => held.push(Held {
                    inside,
                    holder,
                    from: 0,
                    until: Some(time),
                }),
                // A block re-announced while it lives.
                (true, Some(_)) => {}
            }
        }
    }
    let live = |h: &&Held| at.is_none_or(|t| h.from <= t && h.until.is_none_or(|end| t <= end));
    let found: Vec<&Held> = held.iter().filter(live).collect();
    for h in &found {
        let in_range = |inside: IpAddr| {
            config.subscriber_range.iter().find_map(|r| {
                let i = match inside {
                    IpAddr::V4(a) => r.index_v4(a),
                    IpAddr::V6(a) => r.index_v6(a),
                }?;
                Some(r.subscriber_name(i))
            })
        };
        let who = config
            .subscriber
            .iter()
            .find(|s| match h.inside {
                IpAddr::V4(a) => s.ipv4.iter().any(|n| n.contains(&a)),
                IpAddr::V6(a) => s.ipv6.iter().any(|n| n.contains(&a)),
            })
            .map(|s| s.name.clone())
            .or_else(|| in_range(h.inside))
            .unwrap_or_else(|| "a subscriber the configuration does not list".to_string());
        println!("{public} -> {who} (inside {}): {}", h.inside, h.describe());
    }
    if found.is_empty() {
        println!(
            "{public}: no port block or session in {} holds it{}",
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

    fn record(fields: &[(u16, &[u8])]) -> DataRecord {
        DataRecord {
            fields: fields.iter().map(|&(id, b)| (id, b.to_vec())).collect(),
        }
    }

    #[test]
    fn a_nat64_session_answers_with_the_ipv6_address_and_destination() {
        let v6 = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        let (src, dst) = (v6("2001:db8:1:2::2"), v6("2001:db8:64::c000:250"));
        let r = record(&[
            (ie::NAT_EVENT, &[6]),
            (ie::SOURCE_IPV6_ADDRESS, &src),
            (ie::POST_NAT_SOURCE_IPV4_ADDRESS, &[203, 0, 113, 7]),
            (ie::PROTOCOL_IDENTIFIER, &[17]),
            (ie::SOURCE_TRANSPORT_PORT, &5000u16.to_be_bytes()),
            (ie::POST_NAPT_SOURCE_TRANSPORT_PORT, &40312u16.to_be_bytes()),
            (ie::DESTINATION_IPV6_ADDRESS, &dst),
            (ie::POST_NAT_DESTINATION_IPV4_ADDRESS, &[192, 0, 2, 80]),
            (ie::DESTINATION_TRANSPORT_PORT, &53u16.to_be_bytes()),
        ]);
        let public: SocketAddrV4 = "203.0.113.7:40312".parse().unwrap();
        let (starts, inside, holder) = holder_of(&r, public).unwrap();
        assert!(starts);
        assert_eq!(inside, "2001:db8:1:2::2".parse::<IpAddr>().unwrap());
        let h = Held {
            inside,
            holder,
            from: 1_772_546_520_000,
            until: Some(1_772_546_580_000),
        };
        assert_eq!(
            h.describe(),
            "NAT64 session, protocol 17, inside port 5000 to [2001:db8:64::c000:250]:53 \
             (IPv4 192.0.2.80:53), created 2026-03-03T14:02:00.000Z, \
             released 2026-03-03T14:03:00.000Z"
        );
        // Another port, or another public address, is not this session's.
        assert!(holder_of(&r, "203.0.113.7:40313".parse().unwrap()).is_none());
        assert!(holder_of(&r, "203.0.113.8:40312".parse().unwrap()).is_none());
        let mut deleted = r.clone();
        deleted.fields.insert(ie::NAT_EVENT, vec![7]);
        assert!(!holder_of(&deleted, public).unwrap().0);
    }
}
