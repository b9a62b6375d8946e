//! Paired pooling's spread (RFC 6888 REQ-2) through `Router::process`: a new
//! subscriber gets the least-loaded public address with room, in `dynamic` and
//! `block` allocation, with one worker or several.

mod common;

use common::{Lab, src, udp};
use sixfold_router::{Config, Direction, Interface, PacketBuf, Router, Verdict};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Instant;

/// A /24 pool (254 addresses) and a range of 1,024 subscribers.
fn range_config(nat: &str) -> Config {
    Config::from_toml(&format!(
        "[router]\nra = false\n[nat]\npool = [\"198.51.100.0/24\"]\n{nat}\n\
         [[subscriber_range]]\nname = \"inside\"\nipv4 = \"100.64.0.0/22\"\n"
    ))
    .unwrap()
}

#[test]
fn a_thousand_subscribers_spread_evenly_over_a_slash_24() {
    for mode in ["", "allocation = \"block\""] {
        let mut lab = Lab::with(range_config(mode));
        let mut per_address: HashMap<Ipv4Addr, u32> = HashMap::new();
        for k in 1..=1000u32 {
            let inside = Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + k);
            let p = udp(&inside.to_string(), 5000, "192.0.2.80", 53, b"q");
            let sub = lab.router.classify_range(0, &p).unwrap();
            let (v, out) = lab.out(sub, &p);
            assert_eq!(v, Verdict::Forward(Interface::Wan), "{mode} {inside}");
            *per_address.entry(*src(&out).ip()).or_default() += 1;
        }
        let mean = 1000.0 / 254.0;
        let most = *per_address.values().max().unwrap();
        let least = *per_address.values().min().unwrap();
        // The bound: no address holds more than twice the mean plus
        // one. Least-loaded-first gives more: every address used, loads
        // differing by one at most.
        assert!(f64::from(most) <= 2.0 * mean + 1.0, "{mode}: {most}");
        assert_eq!(per_address.len(), 254, "{mode}");
        assert_eq!((least, most), (3, 4), "{mode}");
    }
}

#[test]
fn two_workers_put_their_first_subscribers_on_different_addresses() {
    let text = "[router]\nra = false\n[nat]\npool = [\"198.51.100.0/24\"]\n\
                [[subscriber]]\nname = \"sub1\"\nipv4 = [\"100.64.0.10\"]\n\
                [[subscriber]]\nname = \"sub2\"\nipv4 = [\"100.64.0.20\"]\n";
    let now = Instant::now();
    for seed in 0..32u64 {
        let mut workers = Router::workers(Config::from_toml(text).unwrap(), seed, now, 2).unwrap();
        let mut public = Vec::new();
        for (sub, inside) in [(0u32, "100.64.0.10"), (1, "100.64.0.20")] {
            let p = udp(inside, 5000, "192.0.2.80", 53, b"q");
            let direction = Direction::Outbound(sub);
            let owner = usize::from(workers[0].steer(direction, &p));
            let mut buf = PacketBuf::from_packet(&p);
            let v = workers[owner].process(direction, &mut buf, now);
            assert_eq!(v, Verdict::Forward(Interface::Wan));
            public.push(*src(buf.packet()).ip());
        }
        assert_ne!(public[0], public[1], "seed {seed}");
    }
}
