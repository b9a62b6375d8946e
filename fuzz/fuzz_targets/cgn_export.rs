//! Carrier-grade operations under arbitrary traffic: packets from two
//! subscribers and the WAN at arbitrary times through a router in `block` or
//! `deterministic` mode (by the first byte) with flow accounting and every NAT
//! event exported. No panic; every block record is a whole aligned block of
//! 8 ports; live blocks never overlap; and every IPFIX message the encoder makes
//! of the records is within 1400 bytes with a length field that says so.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sixfold_rewrite::recompute_checksums;
use sixfold_router::ipfix::Record;
use sixfold_router::ipfix::encode::{Encoder, MAX_MESSAGE};
use sixfold_router::stats::NatEvent;
use sixfold_router::{Config, PacketBuf, Router};

#[path = "shared/feed.rs"]
mod feed;
use feed::feed;
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[derive(Arbitrary, Debug)]
struct Input {
    deterministic: bool,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
struct Step {
    from: u8,
    packet: Vec<u8>,
    advance_secs: u16,
}

fuzz_target!(|input: Input| {
    let mode = if input.deterministic {
        "allocation = \"deterministic\"\nblock_size = 8"
    } else {
        "allocation = \"block\"\nblock_size = 8\nmax_blocks = 2\nblock_timeout = 5"
    };
    let config = Config::from_toml(&format!(
        "[nat]\npool = [\"203.0.113.1\"]\nfiltering = \"eif\"\n{mode}\n\
         [ipfix]\ncollector = \"192.0.2.9:4739\"\nsessions = true\naccounting = true\n\
         interim = 3\nidle_timeout = 2\nmax_flows = 16\nqueue = 64\n\
         [[subscriber]]\nname = \"a\"\nipv4 = [\"10.0.0.0/29\"]\nipv6 = [\"2001:db8:1::/48\"]\n\
         [[subscriber]]\nname = \"b\"\nipv4 = [\"192.168.0.1\"]\nipv6 = [\"2001:db8:2::/64\"]\n"
    ))
    .expect("valid");
    let t0 = Instant::now();
    let mut now = t0;
    let mut router = Router::new(config, 7, t0).expect("valid");
    let mut encoder = Encoder::new(1, 0);
    let mut buf = PacketBuf::new();
    for step in input.steps.into_iter().take(64) {
        now += Duration::from_secs(u64::from(step.advance_secs % 200));
        let mut packet = step.packet;
        let _ = recompute_checksums(&mut packet);
        feed(&mut router, step.from % 3, &packet, &mut buf, now);
        while router.poll_transmit(&mut buf).is_some() {}
        let records: Vec<Record> = std::iter::from_fn(|| router.poll_ipfix()).collect();
        for r in &records {
            if let Record::Nat(n) = r
                && matches!(
                    n.event,
                    NatEvent::BlockAllocation | NatEvent::BlockDeallocation
                )
            {
                assert!(
                    !input.deterministic,
                    "{n:?}: deterministic mode logs no block"
                );
                assert_eq!(
                    (n.last_port - n.first_port, (n.first_port - 1024) % 8),
                    (7, 0),
                    "{n:?}"
                );
            }
        }
        let mut ports = HashSet::new();
        for (_, public, first, last) in router.port_blocks() {
            assert!(
                (first..=last).all(|p| ports.insert((public, p))),
                "blocks overlap"
            );
        }
        for m in encoder.data(&records, 0) {
            assert!(m.len() <= MAX_MESSAGE);
            assert_eq!(usize::from(u16::from_be_bytes([m[2], m[3]])), m.len());
        }
    }
});
