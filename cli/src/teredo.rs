//! `sixfold teredo ...`: decode, encode, exposure, scan-pcap.

use crate::describe::{parse_addresses, teredo_json, teredo_line};
use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sixfold::capture;
use sixfold_rewrite::{IpProtocol, IpVersion, Ipv4Packet, Ipv6Packet, L4Header};
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

/// The IPv4 packet at the start of `packet`: its header, and its payload up to the
/// total length or the end of what was captured (a snaplen-limited capture).
fn ipv4(packet: &[u8]) -> Option<(Ipv4Packet<&[u8]>, &[u8])> {
    let ip = Ipv4Packet::new_unchecked(packet.get(..20)?);
    let header = ip.header_len();
    if header < 20 || ip.total_len() < header || packet.len() < header {
        return None;
    }
    Some((ip, &packet[header..ip.total_len().min(packet.len())]))
}

/// Prints what one frame holds of transition traffic, counting it by kind.
struct Scan {
    json: bool,
    counts: BTreeMap<&'static str, usize>,
}

impl Scan {
    fn emit(&mut self, what: &'static str, v: Value, line: String) {
        *self.counts.entry(what).or_default() += 1;
        if self.json {
            println!("{v}");
        } else {
            println!("{line}");
        }
    }

    /// Teredo addresses as the source or destination of native IPv6.
    fn ipv6(&mut self, n: u64, ip: &[u8]) {
        let Some(header) = ip.get(..40) else { return };
        let p = Ipv6Packet::new_unchecked(header);
        for (role, addr) in [("src", p.src_addr()), ("dst", p.dst_addr())] {
            if let AddressKind::Teredo(t) = classify(addr) {
                let mut v = teredo_json(&addr.to_string(), &t);
                v["frame"] = json!(n);
                v["role"] = json!(role);
                let line = format!("frame {n}: IPv6 {role} {}", teredo_line(addr, &t));
                self.emit("teredo address (native IPv6)", v, line);
            }
        }
    }

    /// Protocol 41, Teredo and AYIYA over IPv4.
    fn ipv4(&mut self, n: u64, ip: &[u8]) {
        let Some((v4, payload)) = ipv4(ip) else {
            return;
        };
        let (src, dst) = (v4.src_addr(), v4.dst_addr());
        match v4.ip_protocol() {
            IpProtocol::Ipv6 => {
                if let Some((kind, isrc, idst)) = classify_proto41(payload, None) {
                    let v = json!({"frame": n, "mechanism": kind.name(), "outer_src": src.to_string(), "outer_dst": dst.to_string(), "inner_src": isrc.to_string(), "inner_dst": idst.to_string()});
                    let line = format!(
                        "frame {n}: proto-41 {}  {src} → {dst}  inner {isrc} → {idst}",
                        kind.name()
                    );
                    self.emit(kind.name(), v, line);
                }
            }
            IpProtocol::Udp if payload.len() >= 8 && v4.frag_offset() == 0 => {
                let Some((sport, dport)) = L4Header::new(IpProtocol::Udp, payload)
                    .ok()
                    .and_then(|h| h.ports())
                else {
                    return;
                };
                let flow = format!("{src}:{sport} → {dst}:{dport}");
                self.udp(n, &flow, &payload[8..]);
            }
            _ => {}
        }
    }

    fn udp(&mut self, n: u64, flow: &str, payload: &[u8]) {
        if let Ok(p) = recognize(payload) {
            let mut v = json!({
                "frame": n, "mechanism": "teredo", "kind": p.kind.name(), "outer": flow,
                "auth": p.auth.is_some(), "inner_src": p.inner.src.to_string(), "inner_dst": p.inner.dst.to_string(),
            });
            let mut line = format!("frame {n}: teredo {}  {flow}", p.kind.name());
            if let Some(a) = p.auth {
                let nonce: String = a.nonce.iter().map(|b| format!("{b:02x}")).collect();
                line.push_str(&format!(
                    "  auth (id {} B, nonce {nonce})",
                    a.client_id.len()
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
            self.emit("teredo", v, line);
        } else if let Some(a) = recognize_ayiya(payload) {
            let v = json!({"frame": n, "mechanism": "ayiya", "outer": flow, "opcode": a.opcode, "next_header": a.next_header});
            let line = format!(
                "frame {n}: ayiya  {flow}  opcode {} next header {}",
                a.opcode, a.next_header
            );
            self.emit("ayiya", v, line);
        }
    }
}

/// Scans a capture frame by frame (streamed: one frame in memory at a time).
fn scan_pcap(file: &std::path::Path, as_json: bool) -> anyhow::Result<ExitCode> {
    let mut reader = capture::Reader::open(file)?;
    let mut scan = Scan {
        json: as_json,
        counts: BTreeMap::new(),
    };
    let mut n = 0u64;
    while let Some(frame) = reader.next_frame()? {
        n += 1;
        match frame
            .link()
            .ip_offset(frame.data)
            .map(|at| &frame.data[at..])
        {
            Some(ip) if IpVersion::of(ip) == Some(IpVersion::V6) => scan.ipv6(n, ip),
            Some(ip) => scan.ipv4(n, ip),
            None => {}
        }
    }
    if !as_json {
        let summary: Vec<String> = scan
            .counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        println!(
            "{} frames; {}",
            n,
            if summary.is_empty() {
                "no transition traffic found".into()
            } else {
                summary.join(", ")
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
