//! Memory per NAT session: loads a router with about a million sessions
//! (`sixfold_benches::nat_load`) and divides the growth of the process's resident
//! memory (`VmRSS`, so allocator overhead and hash-table headroom count) by the
//! number of sessions. Linux conntrack uses 256 bytes per entry (its slab object).
//!
//! `cargo run --release -p sixfold-benches --bin nat-memory`

use sixfold_benches::{nat_load, rss};
use std::time::Instant;

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
