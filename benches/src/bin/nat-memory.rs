//! Memory per NAT session: loads a router with about a million sessions
//! (`sixfold_benches::nat_load`) and divides the growth of the process's resident
//! memory (`VmRSS`, so allocator overhead and hash-table headroom count) by the
//! number of sessions. Linux conntrack uses 256 bytes per entry (its slab object).
//!
//! `cargo run --release -p sixfold-benches --bin nat-memory`

use sixfold_benches::nat_load;
use std::time::Instant;

/// Resident set size in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

fn main() {
    let now = Instant::now();
    let before = rss();
    // Keep no sample packets: only the router grows.
    let (router, _, _) = nat_load::loaded(now, 1);
    let grown = rss() - before;
    let s = router.snapshot();
    println!("sessions {}, mappings {}", s.sessions, s.mappings);
    println!(
        "resident memory grew {:.1} MiB = {:.0} B per session (Linux conntrack: 256 B per entry)",
        grown as f64 / (1 << 20) as f64,
        grown as f64 / s.sessions as f64
    );
}
