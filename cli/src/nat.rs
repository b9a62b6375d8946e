//! `sixfold nat lookup`: who had a public address and port, or which public
//! address and ports an inside address has — from the configuration alone in
//! deterministic mode (RFC 7422: the configuration is the record, whatever
//! else is given), from the record of the IPFIX export otherwise (RFC 8158:
//! port blocks, natEvent 16/17; with `[ipfix] sessions`, NAT44 sessions,
//! natEvent 4/5, and an IPv6-only subscriber's NAT64 sessions, natEvent 6/7,
//! which name its IPv6 address): a capture (`--ipfix-pcap`) or an nfcapd store
//! (`--nfcapd`). `sixfold nat events` prints the record itself. The semantics
//! are `record/holdings.rs`'s; the answer's form and exit codes
//! `record/answer.rs`'s.
//!
//! ```text
//! sixfold nat lookup --config router.toml 203.0.113.7:40312
//! sixfold nat lookup --config router.toml 100.64.1.1
//! sixfold nat lookup --config router.toml --ipfix-pcap export.pcap --at 2026-03-03T14:02:00Z 203.0.113.7:40312
//! sixfold nat events --ipfix-pcap export.pcap --public 203.0.113.7:40312
//! ```

use crate::record::answer::{self, Source};
use crate::record::{events, time};
use crate::run::load;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use sixfold_router::Deterministic;
use sixfold_router::config::Allocation;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::ExitCode;

/// How `sixfold nat lookup` answers from the record, and its exit codes.
const LOOKUP_ABOUT: &str = "\
Which subscriber had PUBLIC_ADDR:PORT (at --at TIME), or which public address and \
ports INSIDE_ADDR has (deterministic mode).

In deterministic mode the configuration is the record (RFC 7422) and is the \
answer, whatever else is given. Otherwise the answer comes from the router's \
IPFIX export (--ipfix-pcap FILE: pcap or pcapng, IPv4 or IPv6 UDP; --nfcapd DIR), \
by these rules:
  - events are ordered by their own time (observationTimeMilliseconds), not by \
capture order;
  - a session's public endpoint is held by an inside endpoint from its first \
create until creates and deletes balance; a block from its allocation until its \
release, its reallocation to another holder, or the exporter's restart (the \
router's start record, sequence number 0);
  - where the record is unknown (a sequence gap, before the capture, after a \
restart without release, after the last message), a holding is reported as \
uncertain between T1 and T2, never as certain; nobody is named on the strength \
of a gap alone;
  - the answer says how complete the record is: data records missing by the \
sequence numbers (RFC 7011 counts data records), unreadable messages, a cut \
capture; an nfcapd store keeps no sequence numbers, so its completeness is \
unknown and its answers are never certain.
Without --at every holding in the record is listed.

Exit status: 0 exactly one holder, for certain; 1 nobody; 3 more than one holder \
for certain; 4 a holder named as uncertain; 5 the record could not be read at \
all; 2 a command-line error (a --at that is not a real time is one).";

#[derive(Subcommand, Debug)]
pub(crate) enum NatCommand {
    /// PUBLIC_ADDR:PORT: which subscriber had it; INSIDE_ADDR: its public
    /// address and ports (deterministic mode). Exit 0 one holder for
    /// certain, 1 nobody, 3 several, 4 uncertain, 5 unreadable record.
    #[command(long_about = LOOKUP_ABOUT)]
    Lookup(LookupArgs),
    /// The record's NAT events one per line, in time order, with the
    /// exporter's restarts and the gaps in its sequence numbers.
    Events(EventsArgs),
}

/// Where the record is.
#[derive(Args, Debug)]
pub(crate) struct RecordArgs {
    /// A capture (pcap or pcapng) of the router's IPFIX export.
    #[arg(long, value_name = "FILE", conflicts_with = "nfcapd")]
    ipfix_pcap: Option<PathBuf>,
    /// An nfcapd store (read with nfdump -R DIR -o json).
    #[arg(long, value_name = "DIR")]
    nfcapd: Option<PathBuf>,
}

impl RecordArgs {
    fn source(&self) -> Option<Source<'_>> {
        match (&self.ipfix_pcap, &self.nfcapd) {
            (Some(p), _) => Some(Source::Capture(p)),
            (None, Some(d)) => Some(Source::Nfcapd(d)),
            (None, None) => None,
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct LookupArgs {
    /// The router's configuration (its [nat] pool, allocation and subscribers).
    #[arg(long)]
    config: PathBuf,
    #[command(flatten)]
    record: RecordArgs,
    /// The time to ask about: RFC 3339 with any offset, or UNIX seconds (with
    /// a fraction); default: every holding in the record.
    #[arg(long, value_name = "TIME", value_parser = time::parse)]
    at: Option<u64>,
    /// Only sessions of this protocol (tcp, udp, icmp or a number); blocks
    /// serve every protocol.
    #[arg(long, value_name = "PROTOCOL", value_parser = parse_protocol)]
    protocol: Option<u8>,
    /// PUBLIC_ADDR:PORT or INSIDE_ADDR.
    target: String,
}

#[derive(Args, Debug)]
pub(crate) struct EventsArgs {
    #[command(flatten)]
    record: RecordArgs,
    /// The router's configuration, for the collector's port and the
    /// subscribers' names.
    #[arg(long)]
    config: Option<PathBuf>,
    /// From this time on (RFC 3339 or UNIX seconds).
    #[arg(long, value_name = "TIME", value_parser = time::parse)]
    from: Option<u64>,
    /// Up to this time.
    #[arg(long, value_name = "TIME", value_parser = time::parse)]
    to: Option<u64>,
    /// Only events about this public address (and port).
    #[arg(long, value_name = "ADDR[:PORT]")]
    public: Option<String>,
    /// Only events about this inside address.
    #[arg(long, value_name = "ADDR")]
    inside: Option<std::net::IpAddr>,
}

fn parse_protocol(text: &str) -> Result<u8, String> {
    match text.to_ascii_lowercase().as_str() {
        "tcp" => Ok(6),
        "udp" => Ok(17),
        "icmp" => Ok(1),
        n => n
            .parse()
            .map_err(|_| format!("{text:?}: give tcp, udp, icmp or a protocol number (0-255)")),
    }
}

pub(crate) fn run(cmd: NatCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NatCommand::Lookup(args) => lookup(args),
        NatCommand::Events(args) => {
            let config = args.config.as_deref().map(load).transpose()?;
            let Some(source) = args.record.source() else {
                bail!("give --ipfix-pcap FILE or --nfcapd DIR");
            };
            let public = match args.public.as_deref() {
                None => None,
                Some(p) => Some(match p.parse::<SocketAddrV4>() {
                    Ok(a) => (*a.ip(), Some(a.port())),
                    Err(_) => (
                        p.parse::<Ipv4Addr>()
                            .with_context(|| format!("--public {p:?}: give ADDR or ADDR:PORT"))?,
                        None,
                    ),
                }),
            };
            let filter = events::Filter {
                from: args.from,
                to: args.to,
                public,
                inside: args.inside,
            };
            events::print(config.as_ref(), source, &filter)
        }
    }
}

fn lookup(args: LookupArgs) -> anyhow::Result<ExitCode> {
    let config = load(&args.config)?;
    let names = |sub: u32| {
        config
            .subscriber_name(sub)
            .unwrap_or_else(|| format!("subscriber {sub}"))
    };
    if config.nat.allocation != Allocation::Deterministic {
        let Some(source) = args.record.source() else {
            bail!(
                "[nat] allocation = \"{}\": only deterministic mode answers from the configuration; \
                 give --ipfix-pcap FILE (the router's IPFIX export) or --nfcapd DIR, and --at TIME",
                format!("{:?}", config.nat.allocation).to_lowercase()
            );
        };
        let public: SocketAddrV4 = args
            .target
            .parse()
            .with_context(|| format!("{:?}: with a record give PUBLIC_ADDR:PORT", args.target))?;
        return answer::lookup(&config, source, public, args.protocol, args.at);
    }
    if args.record.source().is_some() {
        eprintln!(
            "note: [nat] allocation = \"deterministic\": the configuration is the record (RFC 7422); \
             the export is not read"
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
