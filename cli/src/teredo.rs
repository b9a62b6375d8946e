//! `sixfold teredo ...`: decode, encode, exposure, scan-pcap.

use crate::describe::{parse_addresses, teredo_json, teredo_line};
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sixfold::capture;
use sixfold_teredo::exposure::{Knowledge, exposure, hit_probability, probes_for};
use sixfold_teredo::packet::{classify_proto41, recognize, recognize_ayiya};
use sixfold_teredo::{AddressKind, Flags, Prefix, Teredo, classify};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub(crate) enum TeredoCommand {
    /// Decode Teredo addresses (server, NAT-mapped client address and port, flags).
    Decode {
        /// IPv6 addresses.
        #[arg(required = true)]
        addresses: Vec<String>,
        /// One JSON object per address per line.
        #[arg(long)]
        json: bool,
    },
    /// Build a Teredo address from its parts.
    Encode(EncodeArgs),
    /// How many bits an attacker must guess, and the odds of a hit.
    Exposure(ExposureArgs),
    /// Decode every Teredo, AYIYA and protocol-41 packet and every Teredo address in
    /// a capture (pcap or pcapng).
    ScanPcap {
        /// The capture file.
        file: PathBuf,
        /// One JSON object per finding per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub(crate) struct EncodeArgs {
    /// The Teredo server's IPv4 address.
    #[arg(long)]
    server: Ipv4Addr,
    /// The client's public (NAT-mapped) IPv4 address.
    #[arg(long)]
    client: Ipv4Addr,
    /// The client's NAT-mapped UDP port.
    #[arg(long)]
    port: u16,
    /// Set the cone flag (RFC 4380; RFC 5991 says leave it clear).
    #[arg(long)]
    cone: bool,
    /// The twelve random flag bits of RFC 5991, 0..=4095.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=4095))]
    random_bits: u16,
    /// Use the obsolete 3ffe:831f::/32 prefix.
    #[arg(long)]
    legacy: bool,
}

#[derive(Args, Debug)]
pub(crate) struct ExposureArgs {
    /// A Teredo address; without it, both flag styles are shown.
    address: Option<String>,
    /// How many Teredo clients the attacker is probing for (e.g. hosts behind one NAT).
    #[arg(long)]
    hosts: u64,
    /// How many probes the attacker sends (default: report the probes for 50%).
    #[arg(long)]
    probes: Option<u64>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: TeredoCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TeredoCommand::Decode { addresses, json } => decode(&addresses, json),
        TeredoCommand::Encode(args) => {
            let t = Teredo {
                server: args.server,
                flags: Flags::new(args.cone, args.random_bits),
                port: args.port,
                client: args.client,
                prefix: if args.legacy {
                    Prefix::Legacy
                } else {
                    Prefix::Global
                },
            };
            println!("{}", t.encode());
            Ok(ExitCode::SUCCESS)
        }
        TeredoCommand::Exposure(args) => exposure_cmd(&args),
        TeredoCommand::ScanPcap { file, json } => scan_pcap(&file, json),
    }
}

fn decode(addresses: &[String], as_json: bool) -> anyhow::Result<ExitCode> {
    let (parsed, bad) = parse_addresses(addresses);
    for (text, addr) in parsed {
        let Some(addr) = addr else { continue };
        match (Teredo::decode(addr), as_json) {
            (Some(t), true) => println!("{}", teredo_json(&text, &t)),
            (Some(t), false) => println!("{}", teredo_line(addr, &t)),
            (None, json) => {
                let kind = classify(addr);
                if json {
                    let mut v = crate::describe::describe(&text, addr, &kind);
                    v["teredo"] = json!(false);
                    println!("{v}");
                } else {
                    println!("{addr}  not teredo ({})", kind.name());
                }
            }
        }
    }
    Ok(if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn exposure_cmd(args: &ExposureArgs) -> anyhow::Result<ExitCode> {
    if args.hosts == 0 {
        bail!("--hosts must be at least 1");
    }
    let mut rows: Vec<(String, u32)> = Vec::new();
    match &args.address {
        Some(text) => {
            let addr: Ipv6Addr = text
                .parse()
                .with_context(|| format!("argument {text:?} is not an IPv6 address"))?;
            let Some(t) = Teredo::decode(addr) else {
                bail!(
                    "{addr} is not a Teredo address (it is {})",
                    classify(addr).name()
                );
            };
            rows.push((
                format!("{addr}, NAT address known"),
                exposure(&t, Knowledge::NatAddress).bits(),
            ));
            rows.push((
                format!("{addr}, qualification sniffed"),
                exposure(&t, Knowledge::QualificationSniffed).bits(),
            ));
        }
        None => {
            let style = |flags| Teredo {
                server: Ipv4Addr::UNSPECIFIED,
                flags: Flags(flags),
                port: 0,
                client: Ipv4Addr::UNSPECIFIED,
                prefix: Prefix::Global,
            };
            rows.push((
                "RFC 4380 flags, NAT address known".into(),
                exposure(&style(0x8000), Knowledge::NatAddress).bits(),
            ));
            rows.push((
                "RFC 5991 flags, NAT address known".into(),
                exposure(&style(0x0001), Knowledge::NatAddress).bits(),
            ));
            rows.push((
                "RFC 5991 flags, qualification sniffed".into(),
                exposure(&style(0x0001), Knowledge::QualificationSniffed).bits(),
            ));
        }
    }
    for (what, bits) in rows {
        let k50 = probes_for(args.hosts, bits, 0.5);
        let p = args.probes.map(|k| hit_probability(args.hosts, k, bits));
        if args.json {
            println!(
                "{}",
                json!({ "case": what, "bits": bits, "hosts": args.hosts, "probes": args.probes, "hit_probability": p, "probes_for_50_percent": k50 })
            );
        } else {
            let mut line = format!(
                "{what}: {bits} bits to guess; {} hosts: {} probes for a 50% chance of a hit",
                args.hosts,
                k50.map_or("-".into(), |k| format!("{k:.0}"))
            );
            if let (Some(k), Some(p)) = (args.probes, p) {
                line.push_str(&format!("; {k} probes hit with probability {p:.6}"));
            }
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One IPv4 packet's fields that the scan needs.
struct Ipv4View<'a> {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    payload: &'a [u8],
}

fn ipv4(packet: &[u8]) -> Option<Ipv4View<'_>> {
    let ihl = (*packet.first()? & 0x0F) as usize * 4;
    let total = u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]) as usize;
    if ihl < 20 || total < ihl || packet.len() < ihl {
        return None;
    }
    let end = total.min(packet.len());
    let addr =
        |at: usize| Ipv4Addr::new(packet[at], packet[at + 1], packet[at + 2], packet[at + 3]);
    Some(Ipv4View {
        src: addr(12),
        dst: addr(16),
        protocol: packet[9],
        payload: &packet[ihl..end],
    })
}

fn scan_pcap(file: &std::path::Path, as_json: bool) -> anyhow::Result<ExitCode> {
    let frames = capture::read(file)?;
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let emit =
        |counts: &mut BTreeMap<&'static str, usize>, what: &'static str, v: Value, line: String| {
            *counts.entry(what).or_default() += 1;
            if as_json {
                println!("{v}");
            } else {
                println!("{line}");
            }
        };
    for (i, frame) in frames.iter().enumerate() {
        let n = i + 1;
        let Some(ip) = frame.ip() else { continue };
        if ip[0] >> 4 == 6 {
            if ip.len() >= 40 {
                let addrs = [&ip[8..24], &ip[24..40]]
                    .map(|b| Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap_or([0; 16])));
                for (role, addr) in ["src", "dst"].into_iter().zip(addrs) {
                    if let AddressKind::Teredo(t) = classify(addr) {
                        let mut v = teredo_json(&addr.to_string(), &t);
                        v["frame"] = json!(n);
                        v["role"] = json!(role);
                        emit(
                            &mut counts,
                            "teredo address (native IPv6)",
                            v,
                            format!("frame {n}: IPv6 {role} {}", teredo_line(addr, &t)),
                        );
                    }
                }
            }
            continue;
        }
        let Some(v4) = ipv4(ip) else { continue };
        if v4.protocol == 41 {
            if let Some((kind, src, dst)) = classify_proto41(v4.payload, None) {
                let v = json!({"frame": n, "mechanism": kind.name(), "outer_src": v4.src.to_string(), "outer_dst": v4.dst.to_string(), "inner_src": src.to_string(), "inner_dst": dst.to_string()});
                emit(
                    &mut counts,
                    kind.name(),
                    v,
                    format!(
                        "frame {n}: proto-41 {}  {} → {}  inner {src} → {dst}",
                        kind.name(),
                        v4.src,
                        v4.dst
                    ),
                );
            }
            continue;
        }
        if v4.protocol != 17 || v4.payload.len() < 8 {
            continue;
        }
        let (udp, payload) = v4.payload.split_at(8);
        let sport = u16::from_be_bytes([udp[0], udp[1]]);
        let dport = u16::from_be_bytes([udp[2], udp[3]]);
        let flow = format!("{}:{sport} → {}:{dport}", v4.src, v4.dst);
        if let Ok(p) = recognize(payload) {
            let mut v = json!({
                "frame": n, "mechanism": "teredo", "kind": p.kind.name(), "outer": flow,
                "auth": p.auth.is_some(), "inner_src": p.inner.src.to_string(), "inner_dst": p.inner.dst.to_string(),
            });
            let mut line = format!("frame {n}: teredo {}  {flow}", p.kind.name());
            if let Some(a) = p.auth {
                line.push_str(&format!(
                    "  auth (id {} B, nonce {})",
                    a.client_id.len(),
                    a.nonce
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                ));
            }
            if let Some(o) = p.origin {
                v["origin"] = json!(format!("{}:{}", o.address, o.port));
                line.push_str(&format!("  origin {}:{}", o.address, o.port));
            }
            line.push_str(&format!("  inner {} → {}", p.inner.src, p.inner.dst));
            for addr in [p.inner.src, p.inner.dst] {
                if let Some(t) = Teredo::decode(addr) {
                    line.push_str(&format!("\n    {}", teredo_line(addr, &t)));
                }
            }
            emit(&mut counts, "teredo", v, line);
        } else if let Some(a) = recognize_ayiya(payload) {
            let v = json!({"frame": n, "mechanism": "ayiya", "outer": flow, "opcode": a.opcode, "next_header": a.next_header});
            emit(
                &mut counts,
                "ayiya",
                v,
                format!(
                    "frame {n}: ayiya  {flow}  opcode {} next header {}",
                    a.opcode, a.next_header
                ),
            );
        }
    }
    if !as_json {
        let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!(
            "{} frames; {}",
            frames.len(),
            if summary.is_empty() {
                "no transition traffic found".into()
            } else {
                summary.join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
