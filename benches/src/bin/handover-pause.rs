//! The handover's pause as a function of the NAT sessions a router holds: what
//! the packet loops wait for in `sixfold upgrade` beyond the fixed cost of
//! passing descriptors — the old worker saves its state (`save_state`), the
//! document is written and read (`Document::encode` / `decode`), the new
//! process builds its router from the configuration and restores the state
//! into it (`Router::new` + `restore_state`). One worker; sessions loaded as
//! in `nat_load` (16 subscribers × 4096 ports × up to 16 destinations).
//!
//! `cargo run --release -p sixfold-benches --bin handover-pause -- [RUNS]`
//! prints a Markdown table: per session count, the median of RUNS (default 5)
//! of each phase's CPU time (`/proc/thread-self/schedstat`: time on a CPU, so
//! the wait for one on a loaded machine is left out) and of their sum, the
//! wall-clock sum too, and the state's size.

use sixfold_benches::nat_load::{self, DESTINATIONS, PORTS, SUBSCRIBERS};
use sixfold_router::state::{Common, Document};
use sixfold_router::{Direction, PacketBuf, Router, Verdict};
use std::time::{Duration, Instant};

/// A router holding `n` sessions.
fn loaded(n: usize, now: Instant) -> Router {
    let mut router = Router::new(nat_load::config(), 1, now).expect("valid");
    let mut made = 0;
    'load: for d in 0..DESTINATIONS {
        for s in 0..SUBSCRIBERS {
            for port in 0..PORTS {
                if made == n {
                    break 'load;
                }
                let p = nat_load::udp(nat_load::inside(s), 10_000 + port, nat_load::remote(d), 53);
                let mut buf = PacketBuf::from_packet(&p);
                let v = router.process(Direction::Outbound(u32::from(s)), &mut buf, now);
                assert!(matches!(v, Verdict::Forward(_)), "{v:?} while loading");
                made += 1;
            }
        }
    }
    router
}

/// Time this thread has spent on a CPU.
fn cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// Runs `f`, returning its value and the CPU time it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = cpu();
    let v = f();
    (v, cpu() - t)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    println!(
        "| sessions | state MB | save ms | encode+decode ms | new router ms | restore ms | pause ms (CPU, sum) | pause ms (wall) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [1_000, 10_000, 100_000, 1_000_000] {
        let now = Instant::now();
        let router = loaded(n, now);
        assert_eq!(router.snapshot().sessions, n as u64);
        let mut phases: [Vec<Duration>; 6] = Default::default();
        let mut size = 0;
        for _ in 0..runs {
            let wall = Instant::now();
            let (section, saved) = timed(|| router.save_state());
            let (doc, coded) = timed(|| {
                let bytes = Document {
                    common: Common::default(),
                    workers: vec![section],
                }
                .encode();
                size = bytes.len();
                Document::decode(&bytes).expect("decodes")
            });
            let (mut fresh, built) =
                timed(|| Router::new(nat_load::config(), 1, now).expect("valid"));
            let ((), restored) =
                timed(|| fresh.restore_state(&doc.workers[0], 0).expect("restores"));
            let wall = wall.elapsed();
            assert_eq!(fresh.snapshot().sessions, n as u64);
            for (p, d) in phases.iter_mut().zip([saved, coded, built, restored]) {
                p.push(d);
            }
            phases[4].push(saved + coded + built + restored);
            phases[5].push(wall);
            drop(fresh);
        }
        let [save, code, build, restore, sum, wall] = phases.map(median);
        println!(
            "| {n} | {:.1} | {} | {} | {} | {} | {} | {} |",
            size as f64 / 1e6,
            ms(save),
            ms(code),
            ms(build),
            ms(restore),
            ms(sum),
            ms(wall)
        );
    }
}
