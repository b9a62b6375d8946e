//! What a `[[subscriber_range]]` costs at start: a router for a /16 range
//! (65,536 subscribers over IPv4, and as many /64s) grows the process's
//! resident memory by about what a router with one `[[subscriber]]` does —
//! per-subscriber state for ranges is made when a subscriber first has some.
//! Then what an active range subscriber costs. One test alone in its binary,
//! so no other test's allocations are counted (Linux `/proc/self/status`).

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
    // One test, so the two measurements never run side by side.
    active_range_subscribers();
}

/// Once its subscribers send, a range costs per active subscriber what its
/// sparse state takes (NAT share and traffic counters, in hash maps), on top
/// of the session: the same sessions on one public address, held by one
/// subscriber or by as many as there are sessions (about 220 B each).
fn active_range_subscribers() {
    use sixfold_benches::nat_load::udp;
    use sixfold_router::{Direction, PacketBuf, Verdict};
    use std::net::Ipv4Addr;
    const N: u32 = 16_384;
    let measure = |text: &str, distinct: bool| {
        let mut router = Router::new(Config::from_toml(text).unwrap(), 1, Instant::now()).unwrap();
        let mut buf = PacketBuf::new();
        let now = Instant::now();
        let before = rss();
        for k in 0..N {
            // N subscribers with a session each, or one subscriber with N.
            let (host, port) = if distinct {
                (k, 10_000)
            } else {
                (0, 10_000 + k as u16)
            };
            let src = Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + host);
            buf.set_packet(&udp(src, port, Ipv4Addr::new(198, 51, 100, 1), 53));
            let sub = router.classify_range(0, buf.packet()).unwrap();
            let v = router.process(Direction::Outbound(sub), &mut buf, now);
            assert!(matches!(v, Verdict::Forward(_)), "{v:?}");
        }
        (rss().saturating_sub(before), router)
    };
    let text = "[router]\nra = false\n[nat]\npool = [\"203.0.113.1\"]\nports_per_subscriber = 64512\n\
                [[subscriber_range]]\nname = \"in\"\nipv4 = \"100.64.0.0/16\"\n";
    let (one, _a) = measure(text, false);
    let (many, _b) = measure(text, true);
    let per = many.saturating_sub(one) / u64::from(N);
    println!(
        "{N} sessions: of one range subscriber {one} B, of {N} range subscribers {many} B: {per} B per active subscriber"
    );
    assert!(per <= 384, "{per} B per active range subscriber");
}
