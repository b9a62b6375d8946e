//! `sixfold lab --ipfix`: an IPFIX collector in the WAN namespace (a UDP socket
//! on 192.0.2.90:4739, the router exporting to it from that namespace), which
//! keeps every message it receives; when the lab ends it prints the port
//! blocks and a per-subscriber volume table decoded from them, and with
//! `--ipfix-pcap FILE` saves them as a pcap (raw IPv4/UDP, so tshark decodes it
//! with `-d udp.port==4739,cflow`) — also on SIGTERM under `--keep`.

use crate::ipfix::{DataRecord, Reader, ie};
use anyhow::Context;
use sixfold::capture::{LINKTYPE_RAW, PcapWriter};
use sixfold::output::Output;
use sixfold_router::Config;
use sixfold_router::device;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The collector's address, on the WAN namespace's loopback.
pub(super) const COLLECTOR: SocketAddrV4 =
    SocketAddrV4::new(std::net::Ipv4Addr::new(192, 0, 2, 90), 4739);
/// Messages kept at most (the rest are counted, not kept).
const KEPT: usize = 200_000;

/// Points `config`'s export at the lab's collector, reached from the WAN
/// namespace of the lab with `prefix`, with flow accounting on.
pub(super) fn export_here(config: &mut Config, prefix: &str) {
    config.ipfix.collector = Some(COLLECTOR.into());
    config.ipfix.netns = Some(format!("{prefix}-wan"));
    config.ipfix.source = None;
    config.ipfix.accounting = true;
}

/// One message as received: when (UNIX time), from where, the bytes.
pub(super) struct Received {
    at: Duration,
    from: SocketAddr,
    bytes: Vec<u8>,
}

type Inbox = Arc<Mutex<(Vec<Received>, u64)>>;

/// The running collector.
pub(super) struct Collector {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    inbox: Inbox,
}

impl Collector {
    /// Listens on [`COLLECTOR`] inside namespace `ns`.
    pub(super) fn start(ns: &str) -> anyhow::Result<Collector> {
        let socket = device::in_netns(ns, || UdpSocket::bind(COLLECTOR))
            .with_context(|| format!("the IPFIX collector on {COLLECTOR} in {ns}"))?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let inbox: Inbox = Arc::default();
        let (flag, kept) = (Arc::clone(&stop), Arc::clone(&inbox));
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    let at = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default();
                    let mut inbox = kept.lock().unwrap_or_else(|e| e.into_inner());
                    if inbox.0.len() < KEPT {
                        inbox.0.push(Received {
                            at,
                            from,
                            bytes: buf[..n].to_vec(),
                        });
                    } else {
                        inbox.1 += 1;
                    }
                }
            }
        });
        Ok(Collector {
            stop,
            thread: Some(thread),
            inbox,
        })
    }

    /// Stops listening (after a moment for the last messages in flight); what
    /// it received, and how many more it could not keep.
    pub(super) fn finish(&mut self) -> (Vec<Received>, u64) {
        std::thread::sleep(Duration::from_millis(300));
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut inbox.0), inbox.1)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An IPv4/UDP packet from `from` to the collector carrying `payload`, every
/// checksum right.
fn udp_packet(from: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let (src, dst) = (*from.ip(), *COLLECTOR.ip());
    let udp_len = 8 + payload.len() as u16;
    let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    p[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let c = sixfold_checksum::sum(&p[..20]).checksum();
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&from.port().to_be_bytes());
    p.extend_from_slice(&COLLECTOR.port().to_be_bytes());
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    let c = (sixfold_checksum::pseudo::ipv4(src, dst, 17, udp_len)
        + sixfold_checksum::sum(&p[20..]))
    .checksum();
    // RFC 768: a computed 0 is sent as all ones.
    let c = if c == 0 { 0xffff } else { c };
    p[26..28].copy_from_slice(&c.to_be_bytes());
    p
}

/// Saves `messages` to `path` as a pcap of IPv4/UDP packets.
pub(super) fn write_pcap(path: &Path, messages: &[Received]) -> anyhow::Result<()> {
    let mut out =
        Output::create(path, &[]).with_context(|| format!("--ipfix-pcap {}", path.display()))?;
    let w = PcapWriter::start(out.writer(), LINKTYPE_RAW, false)?;
    for m in messages {
        let SocketAddr::V4(from) = m.from else {
            continue;
        };
        let p = udp_packet(from, &m.bytes);
        w.write(out.writer(), m.at, p.len() as u32, &p)?;
    }
    out.commit()
        .with_context(|| format!("--ipfix-pcap {}", path.display()))?;
    Ok(())
}

/// A UNIX time in milliseconds as `HH:MM:SS.mmm` UTC.
fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600 % 24,
        s / 60 % 60,
        s % 60,
        ms % 1000
    )
}

/// The name of the subscriber whose addresses hold `a`.
fn subscriber_of(config: &Config, a: IpAddr) -> Option<String> {
    config.subscriber.iter().find_map(|s| {
        let mine = match a {
            IpAddr::V4(v4) => s.ipv4.iter().any(|n| n.contains(&v4)),
            IpAddr::V6(v6) => s.ipv6.iter().any(|n| n.contains(&v6)),
        };
        mine.then(|| s.name.clone())
    })
}

/// Per subscriber: [IPv4 up, IPv4 down, IPv6 up, IPv6 down] as (packets, bytes).
type Volumes = BTreeMap<String, [(u64, u64); 4]>;

fn volume(config: &Config, records: &[DataRecord]) -> Volumes {
    let mut v = Volumes::new();
    for r in records.iter().filter(|r| r.uint(ie::NAT_EVENT).is_none()) {
        let (Some(packets), Some(bytes)) = (
            r.uint(ie::PACKET_DELTA_COUNT),
            r.uint(ie::OCTET_DELTA_COUNT),
        ) else {
            continue;
        };
        for (addr, up) in [(r.src(), true), (r.dst(), false)] {
            let Some(a) = addr else { continue };
            if let Some(name) = subscriber_of(config, a) {
                let slot = usize::from(a.is_ipv6()) * 2 + usize::from(!up);
                let e = &mut v.entry(name).or_default()[slot];
                (e.0, e.1) = (e.0 + packets, e.1 + bytes);
            }
        }
    }
    v
}

/// Per (subscriber, NAT44 or NAT64): sessions created and deleted.
fn sessions(
    config: &Config,
    records: &[DataRecord],
) -> BTreeMap<(String, &'static str), (u64, u64)> {
    let mut counts = BTreeMap::new();
    for r in records {
        let Some(event @ 4..=7) = r.uint(ie::NAT_EVENT) else {
            continue;
        };
        let name = r
            .src()
            .and_then(|a| subscriber_of(config, a))
            .unwrap_or_else(|| "?".into());
        let kind = if event >= 6 { "NAT64" } else { "NAT44" };
        let e: &mut (u64, u64) = counts.entry((name, kind)).or_default();
        if event % 2 == 0 {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    counts
}

/// Prints what the collector received: port blocks and volume per subscriber.
pub(super) fn report(config: &Config, messages: &[Received], lost: u64) {
    let mut reader = Reader::default();
    let mut records = Vec::new();
    let mut bad = 0;
    for m in messages {
        match reader.message(&m.bytes) {
            Some(r) => records.extend(r),
            None => bad += 1,
        }
    }
    println!(
        "IPFIX (collector {COLLECTOR} in the WAN namespace): {} messages ({bad} unreadable, {lost} not kept), {} data records",
        messages.len(),
        records.len()
    );
    println!("  port blocks (natEvent 16 allocated / re-announced, 17 released):");
    let mut any = false;
    for r in &records {
        let Some(event @ (16 | 17)) = r.uint(ie::NAT_EVENT) else {
            continue;
        };
        any = true;
        let who = r.src().map_or("-".into(), |a| a.to_string());
        let name = r
            .src()
            .and_then(|a| subscriber_of(config, a))
            .unwrap_or_default();
        println!(
            "    {} {:<11} {who} ({name}) -> {} ports {}-{}",
            clock(r.uint(ie::OBSERVATION_TIME_MILLISECONDS).unwrap_or(0)),
            if event == 16 { "allocated" } else { "released" },
            r.addr(ie::POST_NAT_SOURCE_IPV4_ADDRESS)
                .map_or("-".into(), |a| a.to_string()),
            r.uint(ie::PORT_RANGE_START).unwrap_or(0),
            r.uint(ie::PORT_RANGE_END).unwrap_or(0),
        );
    }
    if !any {
        println!("    none ([nat] allocation = {:?})", config.nat.allocation);
    }
    println!("  volume per subscriber (flow accounting before the NAT), packets/bytes:");
    println!(
        "    {:<8} {:>16} {:>16} {:>16} {:>16}",
        "", "IPv4 up", "IPv4 down", "IPv6 up", "IPv6 down"
    );
    for (name, v) in volume(config, &records) {
        let cell = |(p, b): (u64, u64)| format!("{p}/{b}");
        println!(
            "    {name:<8} {:>16} {:>16} {:>16} {:>16}",
            cell(v[0]),
            cell(v[1]),
            cell(v[2]),
            cell(v[3])
        );
    }
    let sessions = sessions(config, &records);
    if !sessions.is_empty() {
        println!(
            "  sessions ([ipfix] sessions: natEvent 4/5 NAT44, 6/7 NAT64 by IPv6 address), created/deleted:"
        );
        for ((name, kind), (created, deleted)) in sessions {
            println!("    {name:<8} {kind} {created}/{deleted}");
        }
    }
    let limits: Vec<String> = records
        .iter()
        .filter_map(|r| match r.uint(ie::NAT_EVENT)? {
            e @ (3 | 12 | 13) => Some(format!("{e}")),
            _ => None,
        })
        .collect();
    if !limits.is_empty() {
        println!("  limit events (natEvent): {}", limits.join(", "));
    }
}
