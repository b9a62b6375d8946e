//! Runs the `families` bench's known-flow packets through `Router::process`
//! without timing them, for instruction counters that repeat exactly on a busy
//! machine: `valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect=known_flow::run` counts the packets' instructions only (the
//! set-up excluded); divided by the packets, the cost of one.
//!
//! `known-flow ipv4|ipv6 outbound|inbound PACKETS`
//! (`benches/scripts/known-flow-instructions.sh` runs it.)

use sixfold_benches::known_flow::{Known, process};
use sixfold_router::{Direction, PacketBuf, Router};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: known-flow ipv4|ipv6 outbound|inbound PACKETS";
    let [family, dir, count] = args.as_slice() else {
        eprintln!("{usage}");
        std::process::exit(2);
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
    let mut k = Known::new(v6, now);
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
