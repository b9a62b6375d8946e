//! What a `[[subscriber_range]]` costs at start: a router for a /16 range
//! (65,536 subscribers over IPv4, and as many /64s) grows the process's
//! resident memory by about what a router with one `[[subscriber]]` does —
//! per-subscriber state for ranges is made when a subscriber first has some.
//! Alone in its binary so no other test's allocations are counted (Linux
//! `/proc/self/status`).

use sixfold_benches::rss;
use sixfold_router::{Config, Router};
use std::time::Instant;

/// Resident growth per router while 64 routers for `text` are made, and the
/// routers (kept by the caller, so the next measurement reuses none of their
/// memory).
fn growth(text: &str) -> (u64, Vec<Router>) {
    let config = Config::from_toml(text).unwrap();
    let before = rss();
    let routers: Vec<Router> = (0..64)
        .map(|_| Router::new(config.clone(), 1, Instant::now()).unwrap())
        .collect();
    (rss().saturating_sub(before) / 64, routers)
}

#[test]
fn a_slash_16_range_costs_about_what_one_subscriber_costs_at_start() {
    const BASE: &str = "[router]\nra = false\n[nat]\npool = [\"203.0.113.0/28\"]\n";
    let (base, _a) = growth(BASE);
    let (one, _b) = growth(&format!(
        "{BASE}[[subscriber]]\nname = \"s\"\nipv4 = [\"100.64.0.1\"]\nipv6 = [\"2001:db8:1::/64\"]\n"
    ));
    let (range, _c) = growth(&format!(
        "{BASE}[[subscriber_range]]\nname = \"in\"\nipv4 = \"100.64.0.0/16\"\nipv6 = \"2001:db8:1::/48\"\n"
    ));
    println!(
        "resident memory per router at start: no subscriber {base} B, one [[subscriber]] {one} B, a /16 range {range} B"
    );
    // A dense array of even 4 bytes per subscriber would add 256 KiB.
    assert!(
        range <= one + 16 * 1024,
        "one subscriber {one} B, /16 range {range} B"
    );
}
