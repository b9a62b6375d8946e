//! Writes a capture of a busy router's IPFIX export, for measuring what
//! `sixfold nat lookup` needs to read one (README, "Who had this address and
//! port at this time?"): the router's own encoder, 20,000 subscribers opening
//! and closing UDP sessions on 203.0.113.0/24 at 2,000 events a second from
//! 2026-03-03T14:00:00Z, as raw IPv4/UDP frames to 192.0.2.90:4739, until the
//! file has the size asked for. One session is the question: 100.64.200.1:5555
//! holds 203.0.113.7:40000 for 60 s in the middle of the capture (no other
//! session uses that port); the program prints the `--at` to ask and the
//! answer.
//!
//! `cargo run --release -p sixfold-benches --bin ipfix-capture -- OUT MEGABYTES`

use sixfold_router::ipfix::encode::{Encoder, Template};
use sixfold_router::ipfix::{NatRecord, Record};
use sixfold_router::stats::NatEvent;
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, Ipv6Addr};

/// 2026-03-03T14:00:00Z, UNIX milliseconds.
const T0: u64 = 1_772_546_400_000;
/// Events a simulated second: a create every millisecond, and as many deletes.
const PER_SECOND: u64 = 2000;
/// Records per message handed to the encoder (it splits at 1400 bytes).
const BATCH: usize = 30;

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn session(
    event: NatEvent,
    ms: u64,
    inside: Ipv4Addr,
    port: u16,
    public: (Ipv4Addr, u16),
) -> Record {
    Record::Nat(NatRecord {
        event,
        time_ms: ms,
        inside,
        outside: public.0,
        protocol: 17,
        inside_port: port,
        outside_port: public.1,
        first_port: 0,
        last_port: 0,
        remote: Ipv4Addr::new(192, 0, 2, 80),
        remote_port: 53,
        inside6: Ipv6Addr::UNSPECIFIED,
        remote6: Ipv6Addr::UNSPECIFIED,
    })
}

/// One pcap record: raw IPv4/UDP 192.0.2.1:30000 → 192.0.2.90:4739 carrying
/// `message`, at `ms`.
fn frame(out: &mut impl Write, ms: u64, message: &[u8]) -> std::io::Result<usize> {
    let udp_len = 8 + message.len() as u16;
    let mut ip = [
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 90,
    ];
    ip[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
    let sum: u32 = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    let sum = (sum & 0xffff) + (sum >> 16);
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let len = (20 + udp_len) as u32;
    let mut header = [0u8; 16];
    header[0..4].copy_from_slice(&((ms / 1000) as u32).to_le_bytes());
    header[4..8].copy_from_slice(&(((ms % 1000) * 1000) as u32).to_le_bytes());
    header[8..12].copy_from_slice(&len.to_le_bytes());
    header[12..16].copy_from_slice(&len.to_le_bytes());
    out.write_all(&header)?;
    out.write_all(&ip)?;
    out.write_all(&[0x75, 0x30, 0x12, 0x83])?;
    out.write_all(&udp_len.to_be_bytes())?;
    out.write_all(&[0, 0])?;
    out.write_all(message)?;
    Ok(16 + len as usize)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(mb)) = (args.get(1), args.get(2).and_then(|m| m.parse::<u64>().ok()))
    else {
        eprintln!("usage: ipfix-capture OUT MEGABYTES");
        std::process::exit(2);
    };
    let size = mb << 20;
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    // pcap header: LINKTYPE_RAW (101), microseconds.
    let mut header = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    header.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    header.extend_from_slice(&65535u32.to_le_bytes());
    header.extend_from_slice(&101u32.to_le_bytes());
    out.write_all(&header)?;
    let mut written = header.len();
    let target = (Ipv4Addr::new(203, 0, 113, 7), 40000u16);
    let holder = (Ipv4Addr::new(100, 64, 200, 1), 5555u16);
    let mut encoder = Encoder::new(1, T0);
    written += frame(&mut out, T0, &encoder.start((T0 / 1000) as u32))?;
    // The question sits in the middle: the second at which about half the
    // size is written (records and their share of the headers).
    let record = Template::of(&session(NatEvent::SessionCreate, 0, holder.0, 0, target));
    let per_second = PER_SECOND * (record.record_len() as u64 + 3);
    let middle_ms = size / 2 / per_second * 1000;
    let mut rng = Rng(0x5eed);
    // Live sessions (inside, port, public), deleted in creation order.
    let mut live = std::collections::VecDeque::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut ms = 0u64;
    while (written as u64) < size {
        ms += 1;
        let inside = Ipv4Addr::from(0x6440_0000 + rng.below(20_000) as u32);
        let port = 1024 + rng.below(60_000) as u16;
        let mut public = (
            Ipv4Addr::from(0xcb00_7100 + rng.below(256) as u32),
            1024 + rng.below(64_512) as u16,
        );
        if public == target {
            public.1 += 1;
        }
        batch.push(session(NatEvent::SessionCreate, ms, inside, port, public));
        live.push_back((inside, port, public));
        if live.len() > 100_000 {
            let (i, p, pb) = live.pop_front().unwrap_or((inside, port, public));
            batch.push(session(NatEvent::SessionDelete, ms, i, p, pb));
        }
        if ms == middle_ms {
            batch.push(session(
                NatEvent::SessionCreate,
                ms,
                holder.0,
                holder.1,
                target,
            ));
        }
        if ms == middle_ms + 60_000 {
            batch.push(session(
                NatEvent::SessionDelete,
                ms,
                holder.0,
                holder.1,
                target,
            ));
        }
        if batch.len() >= BATCH {
            for m in encoder.data(&batch, ((T0 + ms) / 1000) as u32) {
                written += frame(&mut out, T0 + ms, &m)?;
            }
            batch.clear();
        }
    }
    out.flush()?;
    let at = T0 + middle_ms + 30_000;
    println!(
        "{written} bytes, {} data records, simulated {} s; ask: --at {}.{:03} 203.0.113.7:40000 \
         (answer: {}:{} for certain)",
        encoder.sequence(),
        ms / 1000,
        at / 1000,
        at % 1000,
        holder.0,
        holder.1
    );
    Ok(())
}
