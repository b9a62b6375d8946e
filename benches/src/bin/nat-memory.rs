//! Memory per NAT session: the growth of the process's resident memory
//! (`VmRSS`, so allocator overhead and hash-table headroom count) divided by
//! the number of sessions, in two shapes:
//!
//! - `shared` (the default): about a million sessions over 65,536 mappings
//!   (`sixfold_benches::nat_load`: 16 per mapping), one worker;
//! - `cgn`: `benches/scripts/cgn-load.sh`'s shape without the lab — a
//!   `[[subscriber_range]]` of 10,000 subscribers, two workers, and 1 M UDP
//!   flows with RFC 4814 pseudorandom source ports, so every flow is its own
//!   endpoint-independent mapping. Each packet is classified and steered to
//!   its worker as the packet loops do. `SESSIONS` sets the count.
//!
//! Linux conntrack uses 256 bytes per entry (its slab object).
//!
//! `cargo run --release -p sixfold-benches --bin nat-memory [shared|cgn]`

use sixfold_benches::nat_load::{self, udp};
use sixfold_benches::rss;
use sixfold_router::{Config, Direction, PacketBuf, Router, Verdict};
use std::net::Ipv4Addr;
use std::time::Instant;

/// Subscribers in the `cgn` shape (cgn-load.sh's default).
const SUBSCRIBERS: u32 = 10_000;
/// Workers in the `cgn` shape (one per core on the project's machine).
const WORKERS: u16 = 2;

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

fn shared() {
    let now = Instant::now();
    let before = rss();
    // Keep no sample packets: only the router grows.
    let (router, _, _) = nat_load::loaded(now, 1);
    let grown = rss() - before;
    let s = router.snapshot();
    println!("sessions {}, mappings {}", s.sessions, s.mappings);
    println!(
        "resident memory grew {:.1} MiB = {:.0} B per session (Linux conntrack: 256 B per entry)",
        mib(grown),
        grown as f64 / s.sessions as f64
    );
}

/// cgn-load.sh's router configuration (its `start_router`), sized for `sessions`.
fn cgn_config(sessions: u64) -> Config {
    let want = sessions + sessions / 4 + 65536;
    let text = format!(
        "[router]\nra = false\n[nat]\npool = [\"203.0.113.0/24\"]\nmax_sessions = {want}\n\
         [nat.timeouts]\nudp = 120\n[[subscriber_range]]\nname = \"cgin\"\nipv4 = \"100.64.0.0/16\"\n"
    );
    Config::from_toml(&text).expect("valid")
}

/// xorshift64*: trafgen's `drnd` stands in for RFC 4814's pseudorandom ports.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) % u64::from(n)) as u32
    }
}

fn cgn() {
    let sessions: u64 = std::env::var("SESSIONS")
        .ok()
        .map(|s| s.parse().expect("SESSIONS: a number"))
        .unwrap_or(1_000_000);
    let now = Instant::now();
    let start = rss();
    let mut routers = Router::workers(cgn_config(sessions), 3, now, WORKERS).expect("valid");
    let empty = rss();
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let server = Ipv4Addr::new(192, 0, 2, 80);
    let mut buf = PacketBuf::new();
    let mut sent = 0u64;
    let first = u32::from(Ipv4Addr::new(100, 64, 0, 1));
    while sent < sessions {
        let src = Ipv4Addr::from(first + random.below(SUBSCRIBERS));
        let sport = 1024 + random.below(65535 - 1024 + 1) as u16;
        let dport = 1 + random.below(49151) as u16;
        buf.set_packet(&udp(src, sport, server, dport));
        let sub = routers[0]
            .classify_range(0, buf.packet())
            .expect("in range");
        let owner = routers[0].steer(Direction::Outbound(sub), buf.packet());
        // As in the lab, a few land on a tunnel's port (Teredo, AYIYA) and
        // are dropped: the table holds what was forwarded.
        let v = routers[usize::from(owner)].process(Direction::Outbound(sub), &mut buf, now);
        assert!(
            matches!(v, Verdict::Forward(_) | Verdict::Drop(_)),
            "{v:?} while loading"
        );
        sent += 1;
    }
    let full = rss();
    let (live, mappings) = routers.iter().fold((0, 0), |(s, m), r| {
        let x = r.snapshot();
        (s + x.sessions, m + x.mappings)
    });
    println!(
        "cgn shape: {SUBSCRIBERS} subscribers, {WORKERS} workers, {sent} flows: sessions {live}, mappings {mappings}"
    );
    println!(
        "empty routers {:.1} MiB; resident memory grew {:.1} MiB with the sessions = {:.0} B per session; \
         whole process {:.1} MiB = {:.1} M sessions per GB",
        mib(empty - start),
        mib(full - empty),
        (full - empty) as f64 / live as f64,
        mib(full),
        live as f64 / full as f64 * 1e3
    );
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        None | Some("shared") => shared(),
        Some("cgn") => cgn(),
        Some(other) => {
            eprintln!("nat-memory: unknown shape {other:?} (shared, cgn)");
            std::process::exit(2);
        }
    }
}
