//! Runs the `families` bench's known-flow packets through `Router::process`
//! without timing them, for instruction counters that repeat exactly on a busy
//! machine: `valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect=known_flow::run` counts the packets' instructions only (the
//! set-up excluded); divided by the packets, the cost of one.
//!
//! `known-flow ipv4|ipv6 outbound|inbound PACKETS [EXTRA.toml]` — EXTRA's sections
//! are added to the configuration (what a feature costs: `[tunnels]` all off,
//! `[ipfix]` accounting on, …).
//! (`benches/scripts/known-flow-instructions.sh` runs it.)

use sixfold_benches::known_flow::{Known, process, router_with};
use sixfold_router::{Direction, PacketBuf, Router};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: known-flow ipv4|ipv6 outbound|inbound PACKETS [EXTRA.toml]";
    let (family, dir, count, extra) = match args.as_slice() {
        [f, d, c] => (f, d, c, String::new()),
        [f, d, c, path] => match std::fs::read_to_string(path) {
            Ok(extra) => (f, d, c, extra),
            Err(e) => {
                eprintln!("reading {path}: {e}");
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let v6 = match family.as_str() {
        "ipv4" => false,
        "ipv6" => true,
        other => {
            eprintln!("family {other:?}: want ipv4 or ipv6; {usage}");
            std::process::exit(2);
        }
    };
    let inbound = match dir.as_str() {
        "outbound" => false,
        "inbound" => true,
        other => {
            eprintln!("direction {other:?}: want outbound or inbound; {usage}");
            std::process::exit(2);
        }
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("packet count {count:?}: want a whole number; {usage}");
        std::process::exit(2);
    };
    let now = Instant::now();
    let router = match router_with(now, &extra) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("configuration with the extra sections: {e}");
            std::process::exit(2);
        }
    };
    let mut k = Known::establish(router, v6, now);
    let (packets, direction) = if inbound {
        (&k.back, Direction::Inbound)
    } else {
        (&k.out, Direction::Outbound(0))
    };
    let mut buf = PacketBuf::new();
    run(&mut k.router, direction, packets, &mut buf, count, now);
}

/// The measured part (callgrind `--toggle-collect=known_flow::run`): `count`
/// packets, round-robin over the flows.
#[inline(never)]
fn run(
    router: &mut Router,
    direction: Direction,
    packets: &[Vec<u8>],
    buf: &mut PacketBuf,
    count: usize,
    now: Instant,
) {
    for i in 0..count {
        process(router, direction, &packets[i % packets.len()], buf, now);
    }
}
