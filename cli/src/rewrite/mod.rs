//! `sixfold rewrite`: a tcprewrite for captures, with every checksum patched
//! incrementally (or recomputed with `--fixcsum`, for comparison).
//!
//! Options follow tcprewrite where it has them: `--srcipmap`/`--dstipmap` take
//! `OLD/LEN:NEW/LEN` pairs (IPv6 as `2001:db8::/32:3fff::/20` or in brackets,
//! `[2001:db8::/32]:[3fff::/20]`), comma separated; an address in OLD keeps its
//! host bits under NEW's mask. `--portmap` takes `OLD:NEW` pairs where OLD may be
//! a list (`8000,8080:80`) or a range (`8000-8999:80`), and applies to source and
//! destination ports. `--ttl N|+N|-N` sets, raises or lowers the TTL / hop limit
//! within 1–255. `--mss N` clamps the MSS of SYN segments (tcprewrite 4.4 has no
//! MSS option).
//!
//! The input is streamed; the output is written beside its target and renamed
//! over it at the end (`sixfold::output`), never over the input. Frames cut short
//! by the capture's snapshot length are rewritten in what was captured
//! (`Rewrite::apply_truncated`). The summary goes to standard error.

mod maps;
mod summary;

use anyhow::Context as _;
use clap::Args;
use maps::{NetMap, TtlArg, check_mss, parse_netmaps, parse_portmap};
use sixfold::capture::{self, CaptureError, FrameRef, PcapWriter};
use sixfold::output::Output;
use sixfold_rewrite::{
    ChecksumState, IpVersion, Ipv4Packet, Ipv6Packet, L4Checksum, L4Header, QuotedPacket, Rewrite,
    Ttl, recompute_checksums, transport_checksum_state,
};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use summary::Summary;

#[derive(Args, Debug)]
pub(crate) struct RewriteArgs {
    /// The capture to read (pcap or pcapng).
    #[arg(long = "in", short = 'i', visible_alias = "infile", value_name = "IN")]
    input: PathBuf,
    /// The pcap file to write (never the input; written in full, then renamed
    /// into place).
    #[arg(
        long = "out",
        short = 'o',
        visible_alias = "outfile",
        value_name = "OUT"
    )]
    output: PathBuf,
    /// Source address map, OLD/LEN:NEW/LEN[,...] (repeatable).
    #[arg(long, short = 'S', value_name = "OLD/LEN:NEW/LEN")]
    srcipmap: Vec<String>,
    /// Destination address map, OLD/LEN:NEW/LEN[,...] (repeatable).
    #[arg(long, short = 'D', value_name = "OLD/LEN:NEW/LEN")]
    dstipmap: Vec<String>,
    /// TCP/UDP port map, OLD:NEW (OLD may be a,b,c or a-b; repeatable).
    #[arg(long, short = 'r', value_name = "OLD:NEW")]
    portmap: Vec<String>,
    /// TTL / hop limit: N (1-255) sets it, +N raises it, -N lowers it (kept within 1-255).
    #[arg(long, allow_hyphen_values = true, value_name = "N|+N|-N")]
    ttl: Option<String>,
    /// Clamp the MSS option of TCP SYN segments to at most N (1-65535).
    #[arg(long, value_name = "N")]
    mss: Option<u16>,
    /// Recompute every checksum from scratch after rewriting (for comparison).
    #[arg(long, short = 'C')]
    fixcsum: bool,
}

struct Config {
    src: Vec<NetMap>,
    dst: Vec<NetMap>,
    ports: BTreeMap<u16, u16>,
    ttl: Option<TtlArg>,
    mss: Option<u16>,
    fixcsum: bool,
}

/// What the plan of a rewrite reads from a packet.
struct Seen {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ports: Option<(u16, u16)>,
}

/// Reads a whole packet through the checked views.
fn seen_whole(ip: &[u8]) -> Result<Seen, sixfold_rewrite::Error> {
    Ok(match IpVersion::of(ip) {
        Some(IpVersion::V6) => {
            let p = Ipv6Packet::new_checked(ip)?;
            let u = p.upper_layer()?;
            let ports = u
                .has_header()
                .then(|| L4Header::new(u.ip_protocol(), &ip[u.offset.min(ip.len())..]).ok())
                .flatten()
                .and_then(|h| h.ports());
            Seen {
                src: IpAddr::V6(p.src_addr()),
                dst: IpAddr::V6(p.dst_addr()),
                ttl: p.hop_limit(),
                ports,
            }
        }
        _ => {
            let p = Ipv4Packet::new_checked(ip)?;
            let ports = (p.frag_offset() == 0)
                .then(|| L4Header::new(p.ip_protocol(), p.payload()).ok())
                .flatten()
                .and_then(|h| h.ports());
            Seen {
                src: IpAddr::V4(p.src_addr()),
                dst: IpAddr::V4(p.dst_addr()),
                ttl: p.ttl(),
                ports,
            }
        }
    })
}

/// Reads a packet the capture cut short, leniently, as an ICMP quote is read:
/// the IP header must be whole, the rest is what it is.
fn seen_captured(ip: &[u8]) -> Result<Seen, sixfold_rewrite::Error> {
    let q = QuotedPacket::new(ip)?;
    // QuotedPacket::new checked that the whole IP header is there.
    let ttl = if q.is_ipv6() {
        Ipv6Packet::new_unchecked(ip).hop_limit()
    } else {
        Ipv4Packet::new_unchecked(ip).ttl()
    };
    Ok(Seen {
        src: q.src_addr(),
        dst: q.dst_addr(),
        ttl,
        ports: q.src_port().zip(q.dst_port()),
    })
}

/// The per-packet rewrite, or why the packet cannot be parsed. `captured`: the
/// capture cut the packet short.
fn plan(ip: &[u8], cfg: &Config, captured: bool) -> Result<Rewrite, sixfold_rewrite::Error> {
    let seen = if captured {
        seen_captured(ip)?
    } else {
        seen_whole(ip)?
    };
    let first = |maps: &[NetMap], a: IpAddr| maps.iter().find_map(|m| m.apply(a));
    Ok(Rewrite {
        src: first(&cfg.src, seen.src),
        dst: first(&cfg.dst, seen.dst),
        src_port: seen.ports.and_then(|(s, _)| cfg.ports.get(&s).copied()),
        dst_port: seen.ports.and_then(|(_, d)| cfg.ports.get(&d).copied()),
        ttl: cfg.ttl.map(|t| Ttl::Set(t.apply(seen.ttl))),
        mss: cfg.mss,
        ..Rewrite::new()
    })
}

/// Rewrites the frame in `buf` in place, counting what happened.
fn rewrite_frame(buf: &mut [u8], frame: &FrameRef<'_>, cfg: &Config, s: &mut Summary) {
    let Some(at) = frame.link().ip_offset(buf) else {
        s.not_ip(s.packets, frame.linktype);
        return;
    };
    let ip = &mut buf[at..];
    let captured = frame.is_truncated();
    // Captures from a sender with TX offload hold partial checksums: update those as
    // sums so they stay what they were; a bad one stays exactly as wrong as it was
    // (--fixcsum recomputes both). A frame cut short cannot be judged.
    let state = if captured {
        ChecksumState::Unknown
    } else {
        transport_checksum_state(ip).unwrap_or(ChecksumState::Unknown)
    };
    s.partial += u64::from(state == ChecksumState::Partial);
    s.bad += u64::from(state == ChecksumState::Bad);
    let l4_checksum = if state == ChecksumState::Partial {
        L4Checksum::Partial
    } else {
        L4Checksum::Complete
    };
    let applied = plan(ip, cfg, captured).and_then(|r| {
        let r = Rewrite { l4_checksum, ..r };
        if captured {
            r.apply_truncated(ip)
        } else {
            r.apply(ip)
        }
    });
    match applied {
        Ok(outcome) => {
            let fixed = cfg.fixcsum && !captured && recompute_checksums(ip).is_ok();
            if outcome.changed || fixed {
                s.rewritten += 1;
            } else {
                s.unchanged += 1;
            }
            s.fragments += u64::from(outcome.no_l4_header);
            s.truncated += u64::from(captured);
            s.truncated_l4_missing += u64::from(outcome.l4_checksum_missing);
        }
        Err(e) => s.copied(s.packets, &e),
    }
}

pub(crate) fn run(args: RewriteArgs) -> anyhow::Result<ExitCode> {
    let cfg = Config {
        src: parse_netmaps(&args.srcipmap, "--srcipmap")?,
        dst: parse_netmaps(&args.dstipmap, "--dstipmap")?,
        ports: parse_portmap(&args.portmap)?,
        ttl: args.ttl.as_deref().map(TtlArg::parse).transpose()?,
        mss: check_mss(args.mss)?,
        fixcsum: args.fixcsum,
    };
    // The input is opened first: an unreadable one leaves the output untouched.
    let mut reader = capture::Reader::open(&args.input)?;
    let mut output = Output::create(&args.output, &[&args.input])?;
    let mut s = Summary::default();
    s.fixcsum = cfg.fixcsum;
    let mut buf = Vec::with_capacity(65_536);
    let mut writer: Option<(PcapWriter, u32)> = None;
    let stopped = loop {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        s.packets += 1;
        buf.clear();
        buf.extend_from_slice(frame.data);
        rewrite_frame(&mut buf, &frame, &cfg, &mut s);
        let (w, linktype) = match &mut writer {
            Some(w) => w,
            None => {
                let nanos = !frame.timestamp.subsec_nanos().is_multiple_of(1000);
                let w = PcapWriter::start(output.writer(), frame.linktype, nanos)
                    .with_context(|| format!("writing {}", args.output.display()))?;
                writer.insert((w, frame.linktype))
            }
        };
        if frame.linktype != *linktype {
            anyhow::bail!(
                "frame {} has LINKTYPE {}, but the output pcap already has {} (pcap holds one link type); {} left as it was",
                s.packets,
                frame.linktype,
                linktype,
                args.output.display()
            );
        }
        w.write(output.writer(), frame.timestamp, frame.orig_len, &buf)
            .with_context(|| format!("writing {}", args.output.display()))?;
    };
    if writer.is_none() {
        // No frame: still a valid (empty) pcap.
        PcapWriter::start(output.writer(), capture::LINKTYPE_RAW, false)
            .with_context(|| format!("writing {}", args.output.display()))?;
    }
    output.commit()?;
    eprintln!("{s}");
    finish(stopped, &args.input, s.packets, &args.output)
}

/// How a capture tool that read `input` up to `stopped` (`None`: to its end)
/// and wrote what `frames` frames became to `output` exits: a file cut or
/// unreadable part-way is a failure that says what was written; a capture that
/// could not be read at all is an error.
pub(crate) fn finish(
    stopped: Option<CaptureError>,
    input: &std::path::Path,
    frames: u64,
    output: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    match stopped {
        None => Ok(ExitCode::SUCCESS),
        Some(
            e @ (CaptureError::Truncated { .. }
            | CaptureError::BadRecord { .. }
            | CaptureError::Read { .. }),
        ) => {
            eprintln!(
                "sixfold: {}: {e}; the {frames} frames before it were written to {}",
                input.display(),
                output.display()
            );
            Ok(ExitCode::FAILURE)
        }
        Some(e) => Err(e.into()),
    }
}
