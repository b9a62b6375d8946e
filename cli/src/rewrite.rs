//! `sixfold rewrite`: a tcprewrite for captures, with every checksum patched
//! incrementally (or recomputed with `--fixcsum`, for comparison).
//!
//! Options follow tcprewrite where it has them: `--srcipmap`/`--dstipmap` take
//! `OLD/LEN:NEW/LEN` pairs (IPv6 as `2001:db8::/32:3fff::/20` or in brackets,
//! `[2001:db8::/32]:[3fff::/20]`), comma
//! separated; an address in OLD keeps its host bits under NEW's mask. `--portmap`
//! takes `OLD:NEW` pairs where OLD may be a list (`8000,8080:80`) or a range
//! (`8000-8999:80`), and applies to source and destination ports. `--ttl N|+N|-N`
//! sets, raises or lowers the TTL / hop limit within 1–255. `--mss N` clamps the MSS
//! of SYN segments (tcprewrite 4.4 has no MSS option).

use anyhow::{Context as _, bail};
use clap::Args;
use pcap_file::DataLink;
use pcap_file::TsResolution;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use sixfold::capture::{self, FrameRef};
use sixfold_rewrite::{
    ChecksumState, Ipv4Packet, Ipv6Packet, L4Checksum, Rewrite, Ttl, recompute_checksums,
    transport_checksum_state,
};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub(crate) struct RewriteArgs {
    /// The capture to read (pcap or pcapng).
    #[arg(long = "in", short = 'i', visible_alias = "infile", value_name = "IN")]
    input: PathBuf,
    /// The pcap file to write.
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
    /// TTL / hop limit: N sets it, +N raises it, -N lowers it (kept within 1–255).
    #[arg(long, allow_hyphen_values = true, value_name = "N|+N|-N")]
    ttl: Option<String>,
    /// Clamp the MSS option of TCP SYN segments to at most N.
    #[arg(long, value_name = "N")]
    mss: Option<u16>,
    /// Recompute every checksum from scratch after rewriting (for comparison).
    #[arg(long, short = 'C')]
    fixcsum: bool,
}

/// One `OLD/LEN:NEW/LEN` pair.
#[derive(Clone, Copy, Debug, PartialEq)]
struct NetMap {
    from: (u128, u8),
    to: (u128, u8),
    v6: bool,
}

impl NetMap {
    fn apply(&self, addr: IpAddr) -> Option<IpAddr> {
        let (bits, width) = match (addr, self.v6) {
            (IpAddr::V4(a), false) => (a.to_bits() as u128, 32),
            (IpAddr::V6(a), true) => (a.to_bits(), 128),
            _ => return None,
        };
        let mask = |len: u8| {
            if len == 0 {
                0
            } else {
                (u128::MAX >> (128 - width)) & (u128::MAX << (width - len as u32))
            }
        };
        if bits & mask(self.from.1) != self.from.0 & mask(self.from.1) {
            return None;
        }
        let m = mask(self.to.1);
        let new = (self.to.0 & m) | (bits & !m & (u128::MAX >> (128 - width)));
        Some(if self.v6 {
            IpAddr::V6(Ipv6Addr::from_bits(new))
        } else {
            IpAddr::V4(Ipv4Addr::from_bits(new as u32))
        })
    }
}

fn parse_net(text: &str, option: &str) -> anyhow::Result<(u128, u8, bool)> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let (addr, len) = inner
        .split_once('/')
        .with_context(|| format!("{option}: {text:?} needs a /length"))?;
    let addr: IpAddr = addr
        .parse()
        .with_context(|| format!("{option}: {addr:?} is not an IP address"))?;
    let (bits, width, v6) = match addr {
        IpAddr::V4(a) => (a.to_bits() as u128, 32, false),
        IpAddr::V6(a) => (a.to_bits(), 128, true),
    };
    let len: u8 = len
        .parse()
        .ok()
        .filter(|&l| l <= width)
        .with_context(|| format!("{option}: bad prefix length in {text:?} (0..={width})"))?;
    Ok((bits, len, v6))
}

fn parse_netmaps(values: &[String], option: &str) -> anyhow::Result<Vec<NetMap>> {
    let mut maps = Vec::new();
    for pair in values.iter().flat_map(|v| v.split(',')) {
        let (from, to) = if let Some(rest) = pair.strip_prefix('[') {
            let (a, b) = rest
                .split_once("]:")
                .with_context(|| format!("{option}: {pair:?} is not [OLD/LEN]:[NEW/LEN]"))?;
            (format!("[{a}]"), b.to_owned())
        } else {
            // OLD's length ends at the first ':' after its '/': unambiguous for
            // IPv6 too (2001:db8:1::/64:2001:db8:99::/64).
            let (a, b) = pair
                .split_once('/')
                .and_then(|(addr, rest)| {
                    let (len, new) = rest.split_once(':')?;
                    Some((format!("{addr}/{len}"), new.to_owned()))
                })
                .with_context(|| {
                    format!(
                        "{option}: {pair:?} is not OLD/LEN:NEW/LEN (e.g. 10.0.0.0/8:192.0.2.0/24, \
                         2001:db8:1::/64:2001:db8:99::/64 or [2001:db8:1::/64]:[2001:db8:99::/64])"
                    )
                })?;
            (a, b)
        };
        let (fb, fl, f6) = parse_net(&from, option)?;
        let (tb, tl, t6) = parse_net(&to, option)?;
        if f6 != t6 {
            bail!("{option}: {pair:?} maps between IPv4 and IPv6");
        }
        maps.push(NetMap {
            from: (fb, fl),
            to: (tb, tl),
            v6: f6,
        });
    }
    Ok(maps)
}

fn parse_portmap(values: &[String]) -> anyhow::Result<BTreeMap<u16, u16>> {
    let port = |t: &str, pair: &str| {
        t.trim()
            .parse::<u16>()
            .with_context(|| format!("--portmap: {t:?} in {pair:?} is not a port (0..=65535)"))
    };
    let mut map = BTreeMap::new();
    for value in values {
        let (olds, new) = value
            .rsplit_once(':')
            .with_context(|| format!("--portmap: {value:?} is not OLD:NEW"))?;
        let new = port(new, value)?;
        for old in olds.split(',') {
            match old.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (port(lo, value)?, port(hi, value)?);
                    if lo > hi {
                        bail!("--portmap: range {old:?} runs backwards");
                    }
                    for p in lo..=hi {
                        map.entry(p).or_insert(new);
                    }
                }
                None => {
                    map.entry(port(old, value)?).or_insert(new);
                }
            }
        }
    }
    Ok(map)
}

/// tcprewrite's `--ttl`: N, +N or -N, results limited to 1–255.
#[derive(Clone, Copy, Debug)]
enum TtlArg {
    Set(u8),
    Add(u8),
    Sub(u8),
}

impl TtlArg {
    fn parse(text: &str) -> anyhow::Result<TtlArg> {
        let num = |t: &str| {
            t.parse::<u8>()
                .with_context(|| format!("--ttl: {text:?} is not N, +N or -N with N in 0..=255"))
        };
        Ok(match text.as_bytes().first() {
            Some(b'+') => TtlArg::Add(num(&text[1..])?),
            Some(b'-') => TtlArg::Sub(num(&text[1..])?),
            _ => TtlArg::Set(num(text)?),
        })
    }

    fn apply(self, old: u8) -> u8 {
        match self {
            TtlArg::Set(v) => v,
            TtlArg::Add(v) => old.saturating_add(v),
            TtlArg::Sub(v) => old.saturating_sub(v).max(1),
        }
    }
}

struct Config {
    src: Vec<NetMap>,
    dst: Vec<NetMap>,
    ports: BTreeMap<u16, u16>,
    ttl: Option<TtlArg>,
    mss: Option<u16>,
    fixcsum: bool,
}

/// The TCP/UDP source and destination ports at the start of `l4`, if present.
fn ports_of(protocol: u8, l4: &[u8]) -> Option<(u16, u16)> {
    match (protocol, l4) {
        (6 | 17, [s0, s1, d0, d1, ..]) => Some((
            u16::from_be_bytes([*s0, *s1]),
            u16::from_be_bytes([*d0, *d1]),
        )),
        _ => None,
    }
}

/// The per-packet rewrite, or why the packet cannot be parsed.
fn plan(ip: &[u8], cfg: &Config) -> Result<Rewrite, sixfold_rewrite::Error> {
    let (src, dst, ttl, ports) = match ip.first().map(|b| b >> 4) {
        Some(6) => {
            let p = Ipv6Packet::new_checked(ip)?;
            let u = p.upper_layer()?;
            let l4 = &ip[u.offset.min(ip.len())..];
            let ports = if u.has_header() {
                ports_of(u.protocol, l4)
            } else {
                None
            };
            (
                IpAddr::V6(p.src_addr()),
                IpAddr::V6(p.dst_addr()),
                p.hop_limit(),
                ports,
            )
        }
        _ => {
            let p = Ipv4Packet::new_checked(ip)?;
            let l4 = p.payload();
            let ports = if p.frag_offset() == 0 {
                ports_of(p.protocol(), l4)
            } else {
                None
            };
            (
                IpAddr::V4(p.src_addr()),
                IpAddr::V4(p.dst_addr()),
                p.ttl(),
                ports,
            )
        }
    };
    let first = |maps: &[NetMap], a: IpAddr| maps.iter().find_map(|m| m.apply(a));
    Ok(Rewrite {
        src: first(&cfg.src, src),
        dst: first(&cfg.dst, dst),
        src_port: ports.and_then(|(s, _)| cfg.ports.get(&s).copied()),
        dst_port: ports.and_then(|(_, d)| cfg.ports.get(&d).copied()),
        ttl: cfg.ttl.map(|t| Ttl::Set(t.apply(ttl))),
        mss: cfg.mss,
        ..Rewrite::new()
    })
}

#[derive(Default)]
struct Counts {
    packets: u64,
    rewritten: u64,
    unchanged: u64,
    fragments: u64,
    partial: u64,
    bad: u64,
    copied: BTreeMap<String, u64>,
}

pub(crate) fn run(args: RewriteArgs) -> anyhow::Result<ExitCode> {
    let cfg = Config {
        src: parse_netmaps(&args.srcipmap, "--srcipmap")?,
        dst: parse_netmaps(&args.dstipmap, "--dstipmap")?,
        ports: parse_portmap(&args.portmap)?,
        ttl: args.ttl.as_deref().map(TtlArg::parse).transpose()?,
        mss: args.mss,
        fixcsum: args.fixcsum,
    };
    let out = File::create(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let mut out = Some(BufWriter::with_capacity(1 << 20, out));
    let mut writer: Option<(PcapWriter<BufWriter<File>>, u32)> = None;
    let mut counts = Counts::default();
    let mut buf = Vec::with_capacity(65_536);
    capture::for_each_frame(&args.input, |frame: FrameRef<'_>| {
        counts.packets += 1;
        buf.clear();
        buf.extend_from_slice(frame.data);
        match frame.link().ip_offset(&buf) {
            None => {
                *counts
                    .copied
                    .entry(format!("not IPv4/IPv6 on LINKTYPE {}", frame.linktype))
                    .or_default() += 1
            }
            Some(at) => {
                let ip = &mut buf[at..];
                // Captures from a sender with TX offload hold partial checksums: update
                // those as sums so they stay what they were; a bad one stays exactly as
                // wrong as it was (--fixcsum recomputes both).
                let state = transport_checksum_state(ip).unwrap_or(ChecksumState::Unknown);
                counts.partial += (state == ChecksumState::Partial) as u64;
                counts.bad += (state == ChecksumState::Bad) as u64;
                let l4_checksum = if state == ChecksumState::Partial {
                    L4Checksum::Partial
                } else {
                    L4Checksum::Complete
                };
                match plan(ip, &cfg).and_then(|r| Rewrite { l4_checksum, ..r }.apply(ip)) {
                    Ok(outcome) => {
                        let fixed = cfg.fixcsum && recompute_checksums(ip).is_ok();
                        if outcome.changed || fixed {
                            counts.rewritten += 1;
                        } else {
                            counts.unchanged += 1;
                        }
                        counts.fragments += outcome.no_l4_header as u64;
                    }
                    Err(e) => *counts.copied.entry(e.to_string()).or_default() += 1,
                }
            }
        }
        let (w, linktype) = match &mut writer {
            Some(w) => w,
            None => {
                let nanos = !frame.timestamp.subsec_nanos().is_multiple_of(1000);
                let header = PcapHeader {
                    datalink: DataLink::from(frame.linktype),
                    ts_resolution: if nanos {
                        TsResolution::NanoSecond
                    } else {
                        TsResolution::MicroSecond
                    },
                    snaplen: 262_144,
                    ..PcapHeader::default()
                };
                let sink = out.take().context("output already in use")?;
                writer.insert((
                    PcapWriter::with_header(sink, header)
                        .context("cannot write the pcap header")?,
                    frame.linktype,
                ))
            }
        };
        if frame.linktype != *linktype {
            bail!(
                "frame {} has LINKTYPE {}, but the output pcap already has {} (pcap holds one link type)",
                counts.packets,
                frame.linktype,
                linktype
            );
        }
        w.write_packet(&PcapPacket::new(frame.timestamp, frame.orig_len, &buf))
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        Ok(())
    })?;
    if let Some((w, _)) = writer {
        use std::io::Write as _;
        w.into_writer()
            .flush()
            .with_context(|| format!("cannot write {}", args.output.display()))?;
    }
    let copied: u64 = counts.copied.values().sum();
    let reasons: Vec<String> = counts
        .copied
        .iter()
        .map(|(why, n)| format!("{n} {why}"))
        .collect();
    let mut notes = String::new();
    if counts.fragments > 0 {
        notes.push_str(&format!(
            "; {} non-first fragments (IP header only)",
            counts.fragments
        ));
    }
    if counts.partial > 0 {
        notes.push_str(&format!(
            "; {} had offload partial checksums (updated as partial sums{})",
            counts.partial,
            if cfg.fixcsum {
                ", then recomputed"
            } else {
                "; --fixcsum recomputes"
            }
        ));
    }
    if counts.bad > 0 {
        notes.push_str(&format!(
            "; {} had bad L4 checksums on input ({})",
            counts.bad,
            if cfg.fixcsum {
                "recomputed"
            } else {
                "kept as wrong as they were; --fixcsum recomputes"
            }
        ));
    }
    println!(
        "{} packets: {} rewritten, {} unchanged, {} copied unparsed{}{}",
        counts.packets,
        counts.rewritten,
        counts.unchanged,
        copied,
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join("; "))
        },
        notes,
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmaps_keep_host_bits() {
        let m = parse_netmaps(&["10.0.0.0/8:192.168.0.0/16".into()], "--srcipmap").unwrap();
        assert_eq!(
            m[0].apply("10.1.2.3".parse().unwrap()),
            Some("192.168.2.3".parse().unwrap())
        );
        assert_eq!(m[0].apply("11.1.2.3".parse().unwrap()), None);
        let m = parse_netmaps(
            &["[2001:db8::/32]:[3fff::/20],0.0.0.0/0:203.0.113.1/32".into()],
            "--srcipmap",
        )
        .unwrap();
        assert_eq!(
            m[0].apply("2001:db8::7".parse().unwrap()),
            // A /20 replaces only the top 20 bits: the rest of "0db8" is host part.
            Some("3fff:db8::7".parse().unwrap())
        );
        assert_eq!(
            m[1].apply("10.9.9.9".parse().unwrap()),
            Some("203.0.113.1".parse().unwrap())
        );
        assert!(parse_netmaps(&["10.0.0.0/8".into()], "--srcipmap").is_err());
        assert!(
            parse_netmaps(&["10.0.0.0/33:1.0.0.0/8".into()], "--srcipmap")
                .unwrap_err()
                .to_string()
                .contains("bad prefix length")
        );
        assert!(parse_netmaps(&["10.0.0.0/8:[2001:db8::/32]".into()], "--srcipmap").is_err());
        // IPv6 without brackets: OLD's /LEN ends at the next ':'.
        let m = parse_netmaps(&["2001:db8:1::/64:2001:db8:99::/64".into()], "--srcipmap").unwrap();
        let b = parse_netmaps(
            &["[2001:db8:1::/64]:[2001:db8:99::/64]".into()],
            "--srcipmap",
        )
        .unwrap();
        assert_eq!(m, b);
        assert_eq!(
            m[0].apply("2001:db8:1::7".parse().unwrap()),
            Some("2001:db8:99::7".parse().unwrap())
        );
        // Without lengths it cannot be split: the error says how to write it.
        let e = parse_netmaps(&["2001:db8::1:2001:db8::2".into()], "--srcipmap").unwrap_err();
        assert!(
            e.to_string().contains("2001:db8:1::/64:2001:db8:99::/64"),
            "{e}"
        );
    }

    #[test]
    fn portmaps_lists_and_ranges() {
        let m = parse_portmap(&[
            "80:8000".into(),
            "8000,8080:80".into(),
            "9000-9002:1".into(),
        ])
        .unwrap();
        assert_eq!(m.get(&80), Some(&8000));
        assert_eq!(m.get(&8000), Some(&80));
        assert_eq!(m.get(&9001), Some(&1));
        let e = parse_portmap(&["88888:80".into()]).unwrap_err().to_string();
        assert!(e.contains("\"88888\""), "{e}");
    }

    #[test]
    fn ttl_like_tcprewrite() {
        assert_eq!(TtlArg::parse("-64").unwrap().apply(64), 1);
        assert_eq!(TtlArg::parse("+7").unwrap().apply(250), 255);
        assert_eq!(TtlArg::parse("10").unwrap().apply(64), 10);
        assert!(TtlArg::parse("-300").is_err());
    }
}
