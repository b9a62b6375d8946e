//! `sixfold translate`: a capture through the configured stateless translator
//! (`[siit]`, RFC 7915), exactly as the router forwards it
//! ([`sixfold_router::xlat::Stateless`]): TTL / hop limit decremented, the
//! egress MTUs `--mtu4` / `--mtu6` (1500 by default), the ICMP errors the router
//! sends about what it refuses from `[router]`'s `ipv4` / `ipv6`.
//!
//! The output pcap holds, for each input packet in order, every packet the
//! translator emits: the translation or its fragments, or the ICMP error sent
//! back. Raw IP in, raw IP out; Ethernet in, Ethernet out (the frame's header
//! with the new EtherType, source and destination swapped for an error sent
//! back); any other link type comes out as raw IP. Drops are counted by reason
//! on standard error, with the first frame of each.

use crate::run::load;
use anyhow::Context as _;
use clap::Args;
use sixfold::capture::{self, FrameRef, Link, PcapWriter};
use sixfold::output::Output;
use sixfold_router::xlat::{Forwarded, Stateless};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub(crate) struct TranslateArgs {
    /// Router configuration with a [siit] section (pool6, [[siit.eamt]],
    /// rfc6791_v4, rfc6791_v6, lowest_ipv6_mtu, amend_udp_checksum_zero) and the
    /// [router] addresses ICMP errors come from.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The capture to read (pcap or pcapng; raw IP or Ethernet).
    #[arg(long = "in", value_name = "IN")]
    input: PathBuf,
    /// The pcap file to write (never the input; written in full, then renamed
    /// into place).
    #[arg(long = "out", value_name = "OUT")]
    output: PathBuf,
    /// MTU of the IPv4 link translated packets leave by.
    #[arg(long, default_value_t = 1500, value_name = "N")]
    mtu4: u16,
    /// MTU of the IPv6 link translated packets leave by.
    #[arg(long, default_value_t = 1500, value_name = "N")]
    mtu6: u16,
}

/// What happened to the packets of one run, by outcome and reason.
#[derive(Default)]
struct Summary {
    packets: u64,
    translated: u64,
    pieces: u64,
    /// Per reason: count, and the first frame with its message.
    answered: BTreeMap<String, (u64, String)>,
    dropped: BTreeMap<String, (u64, String)>,
}

impl Summary {
    fn count(map: &mut BTreeMap<String, (u64, String)>, reason: String, example: String) {
        map.entry(reason).or_insert_with(|| (0, example)).0 += 1;
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = |m: &BTreeMap<String, (u64, String)>| m.values().map(|v| v.0).sum::<u64>();
        write!(
            f,
            "{} packets: {} translated (into {} packets), {} answered with an ICMP error, {} dropped",
            self.packets,
            self.translated,
            self.pieces,
            total(&self.answered),
            total(&self.dropped)
        )?;
        for (reason, (n, example)) in &self.answered {
            write!(f, "\n  answered: {n} {reason} (first: {example})")?;
        }
        for (reason, (n, example)) in &self.dropped {
            write!(f, "\n  dropped: {n} {reason} (first: {example})")?;
        }
        Ok(())
    }
}

/// How output frames are framed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    Raw,
    Ethernet,
}

impl Framing {
    fn linktype(self) -> u32 {
        match self {
            Framing::Raw => capture::LINKTYPE_RAW,
            Framing::Ethernet => 1,
        }
    }

    /// `packet` framed for the output: behind the input frame's Ethernet header
    /// (`header`, its EtherType last) with the packet's EtherType, the addresses
    /// swapped for a packet `back` to the sender.
    fn frame(self, header: &[u8], packet: &[u8], back: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(header.len().max(14) + packet.len());
        if self == Framing::Ethernet {
            if header.len() >= 14 {
                out.extend_from_slice(header);
            } else {
                out.extend_from_slice(&[0; 14]);
            }
            let n = out.len();
            let ethertype: u16 = if packet.first().is_some_and(|b| b >> 4 == 6) {
                0x86DD
            } else {
                0x0800
            };
            out[n - 2..].copy_from_slice(&ethertype.to_be_bytes());
            if back {
                let (dst, src) = out.split_at_mut(6);
                dst.swap_with_slice(&mut src[..6]);
            }
        }
        out.extend_from_slice(packet);
        out
    }
}

/// One input frame through the translator; what it emits goes to `out`.
fn translate_frame(
    frame: &FrameRef<'_>,
    framing: Framing,
    translator: &Stateless,
    ident: u16,
    s: &mut Summary,
    out: &mut Vec<Vec<u8>>,
) {
    let n = s.packets;
    let link = frame.link();
    let Some(at) = link.ip_offset(frame.data) else {
        let why = format!("not IPv4/IPv6 on LINKTYPE {}", frame.linktype);
        Summary::count(&mut s.dropped, "not_ip".into(), format!("frame {n}: {why}"));
        return;
    };
    let header = if link == Link::Ethernet {
        &frame.data[..at]
    } else {
        &[][..]
    };
    let packet = &frame.data[at..];
    let mut emitted = Vec::new();
    let result = translator.forward(packet, ident, &mut |p: &[u8]| emitted.push(p.to_vec()));
    let back = matches!(result, Ok(Forwarded::Answered(..)));
    out.extend(emitted.iter().map(|p| framing.frame(header, p, back)));
    match result {
        Ok(Forwarded::Translated(pieces)) => {
            s.translated += 1;
            s.pieces += pieces as u64;
        }
        Ok(Forwarded::Answered(e, sent)) => Summary::count(
            &mut s.answered,
            format!("{} -> {}", e.name(), sent.name()),
            format!("frame {n}: {e}"),
        ),
        Err(e) => Summary::count(
            &mut s.dropped,
            e.name().to_string(),
            format!("frame {n}: {e}"),
        ),
    }
}

pub(crate) fn run(args: TranslateArgs) -> anyhow::Result<ExitCode> {
    let config = load(&args.config)?;
    let translator = Stateless::new(&config, args.mtu4, args.mtu6).map_err(|e| {
        let flag = match e.key.as_str() {
            "mtu4" => "--mtu4",
            "mtu6" => "--mtu6",
            _ => "",
        };
        if flag.is_empty() {
            anyhow::anyhow!("{}: {e}", args.config.display())
        } else {
            anyhow::anyhow!(
                "{flag} {}: {}",
                if flag == "--mtu4" {
                    args.mtu4
                } else {
                    args.mtu6
                },
                e.problem
            )
        }
    })?;
    // The input is opened first: an unreadable one leaves the output untouched.
    let mut reader = capture::Reader::open(&args.input)?;
    let mut output = Output::create(&args.output, &[&args.input])?;
    let writing = || format!("writing {}", args.output.display());
    let mut s = Summary::default();
    let mut writer: Option<(PcapWriter, Framing)> = None;
    let mut pending = Vec::new();
    let stopped = loop {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        s.packets += 1;
        let (w, framing) = match writer {
            Some(w) => w,
            None => {
                let framing = match frame.link() {
                    Link::Ethernet => Framing::Ethernet,
                    _ => Framing::Raw,
                };
                let nanos = !frame.timestamp.subsec_nanos().is_multiple_of(1000);
                let w = PcapWriter::start(output.writer(), framing.linktype(), nanos)
                    .with_context(writing)?;
                *writer.insert((w, framing))
            }
        };
        // RFC 7915 §5.1: an Identification for IPv4 packets that get none from a
        // Fragment Header, counting like a router's.
        let ident = s.packets as u16;
        pending.clear();
        translate_frame(&frame, framing, &translator, ident, &mut s, &mut pending);
        write_all(&w, output.writer(), frame.timestamp, &pending).with_context(writing)?;
    };
    if writer.is_none() {
        // No frame: still a valid (empty) pcap.
        PcapWriter::start(output.writer(), capture::LINKTYPE_RAW, false).with_context(writing)?;
    }
    output.commit()?;
    eprintln!("{s}");
    crate::rewrite::finish(stopped, &args.input, s.packets, &args.output)
}

fn write_all(
    w: &PcapWriter,
    out: &mut impl std::io::Write,
    timestamp: Duration,
    frames: &[Vec<u8>],
) -> std::io::Result<()> {
    frames
        .iter()
        .try_for_each(|f| w.write(out, timestamp, f.len() as u32, f))
}
