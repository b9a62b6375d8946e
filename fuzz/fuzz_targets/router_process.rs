//! A sequence of arbitrary packets from arbitrary interfaces at arbitrary times
//! through `Router::process`: no panic, and every packet the router forwards or
//! replies with, or emits later, has valid checksums when what came in did (the
//! input's checksums are fixed up first half of the time, so the NAT paths run).
//! Subscriber b has open ports and a 1 Mbit/s shaper; the IPv6 firewall filters by
//! address and keeps IPsec under state, so its stateful paths run too. Subscriber
//! c is IPv6-only behind NAT64 (64:ff9b::/96), and b's 2001:db8:2::80 is
//! published by SIIT as 198.51.100.80, so the translation paths run as well.
//! A fifth source is a subscriber range's TUN (classified by source address,
//! shaped per subscriber, announcing IPv6 prefixes): its announce routes must
//! alternate, announced before withdrawn, never twice.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sixfold_rewrite::recompute_checksums;
use sixfold_router::{Config, Direction, PacketBuf, RouteChange, Router, Verdict};
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
struct Step {
    from: u8,
    packet: Vec<u8>,
    advance_secs: u16,
    fix_checksums: bool,
}

#[path = "shared/valid.rs"]
mod shared;
use shared::valid;
#[path = "shared/feed.rs"]
mod feed;
use feed::{feed, feed_from};

fuzz_target!(|steps: Vec<Step>| {
    let config = Config::from_toml(
        "[nat]\npool = [\"203.0.113.1\"]\nfiltering = \"eif\"\nports_per_subscriber = 8\n\
         [[subscriber]]\nname = \"a\"\nipv4 = [\"10.0.0.0/8\"]\nipv6 = [\"2001:db8:1::/48\"]\nmtu = 1280\n\
         [[subscriber]]\nname = \"b\"\nipv4 = [\"192.168.0.0/16\"]\nipv6 = [\"2001:db8:2::/64\"]\n\
         open_ports = [\"tcp/22\", \"udp/1000-2000\"]\nrate_mbps = 1\n\
         [[subscriber]]\nname = \"c\"\nipv6 = [\"2001:db8:3::/64\"]\n\
         [firewall]\nfiltering = \"adf\"\nipsec = false\n[shaper]\nscheduling = \"weighted\"\n\
         [[subscriber_range]]\nname = \"r\"\nipv4 = \"100.64.0.0/24\"\nipv6 = \"2001:db8:4::/48\"\nipv6_length = 56\n\
         announce = true\nrate_mbps = 1\n\
         [nat64]\nprefix = \"64:ff9b::/96\"\n\
         [siit]\npool6 = \"2001:db8:46::/96\"\n[[siit.eamt]]\nipv6 = \"2001:db8:2::80\"\nipv4 = \"198.51.100.80\"\n",
    )
    .expect("valid");
    let t0 = Instant::now();
    let mut now = t0;
    let mut router = Router::new(config, 7, t0).expect("valid");
    let mut buf = PacketBuf::new();
    let mut announced = HashSet::new();
    for step in steps.into_iter().take(64) {
        now += Duration::from_secs(u64::from(step.advance_secs % 400));
        let mut packet = step.packet;
        if step.fix_checksums {
            let _ = recompute_checksums(&mut packet);
        }
        let input_valid = !packet.is_empty() && valid(&packet);
        let verdict = match step.from % 5 {
            4 => match router.classify_range(0, &packet) {
                Ok(sub) => feed_from(
                    &mut router,
                    Direction::Outbound(sub),
                    &packet,
                    &mut buf,
                    now,
                ),
                Err(_) => continue,
            },
            from => feed(&mut router, from, &packet, &mut buf, now),
        };
        if input_valid && matches!(verdict, Verdict::Forward(_) | Verdict::Reply(_)) {
            assert!(
                valid(buf.packet()),
                "{verdict:?} produced bad checksums: {:02x?}",
                buf.packet()
            );
        }
        while router.poll_transmit(&mut buf).is_some() {
            assert!(!buf.is_empty());
        }
        while let Some(change) = router.poll_route_change() {
            match change {
                RouteChange::Announce(p) => assert!(announced.insert(p), "{p} twice"),
                RouteChange::Withdraw(p) => assert!(announced.remove(&p), "{p} not announced"),
            }
        }
    }
});
