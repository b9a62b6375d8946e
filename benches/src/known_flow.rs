//! The known-flow workload of the `families` bench, shared with the `known-flow`
//! driver that instruction-counting tools (callgrind) run: one subscriber, default
//! configuration, 4096 live UDP flows (36 bytes of data; 64-byte IPv4 and 84-byte
//! IPv6 packets), and for each flow its packet out and the external endpoint's
//! reply back in.

use crate::nat_load::{udp, udp6};
use sixfold_router::{Config, Direction, PacketBuf, Router, Verdict};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

const INSIDE4: Ipv4Addr = Ipv4Addr::new(100, 64, 1, 1);
const REMOTE4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const INSIDE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 1, 0, 0, 0, 2);
const REMOTE6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0x80);
/// Live flows of [`Known::new`].
pub const LIVE: u32 = 4096;

/// A router for the workload: the `families` bench's configuration.
pub fn router(now: Instant) -> Router {
    router_with(now, "").expect("valid")
}

/// [`router`] with `extra` (TOML: further sections, e.g. `[tunnels]` or
/// `[ipfix]`) appended to its configuration: what a feature costs.
pub fn router_with(now: Instant, extra: &str) -> Result<Router, String> {
    let config = Config::from_toml(&format!(
        "[router]\nra = false\n[nat]\npool = [\"203.0.113.0/28\"]\n\
         sessions_per_subscriber = 1048576\nports_per_subscriber = 64512\n\
         [[subscriber]]\nname = \"s\"\nipv4 = [\"{INSIDE4}\"]\nipv6 = [\"2001:db8:1:1::/64\"]\n\
         {extra}"
    ))
    .map_err(|e| e.to_string())?;
    Router::new(config, 7, now).map_err(|e| e.to_string())
}

/// Packet `k` of a distinct flow: source port and destination port vary (above
/// the transition-tunnel ports, which the router blocks).
pub fn flow(v6: bool, k: u32) -> Vec<u8> {
    let (sport, dport) = (10_000 + (k % 50_000) as u16, 10_000 + (k / 50_000) as u16);
    if v6 {
        udp6(INSIDE6, sport, REMOTE6, dport)
    } else {
        udp(INSIDE4, sport, REMOTE4, dport)
    }
}

/// Copies `p` into `buf` and runs it through `router`; panics unless it is
/// forwarded (a benchmark of the drop path would say nothing).
pub fn process(router: &mut Router, dir: Direction, p: &[u8], buf: &mut PacketBuf, now: Instant) {
    buf.storage_mut()[..p.len()].copy_from_slice(p);
    buf.set_len(p.len());
    let v = router.process(dir, buf, now);
    assert!(matches!(v, Verdict::Forward(_)), "{v:?}");
    std::hint::black_box(v);
}

/// A router holding [`LIVE`] flows of one family, their packets out and the
/// replies back in.
pub struct Known {
    /// The router, its flows established.
    pub router: Router,
    /// Packet `k` of flow `k`, from the subscriber.
    pub out: Vec<Vec<u8>>,
    /// The reply to `out[k]` as it arrives from the WAN.
    pub back: Vec<Vec<u8>>,
}

impl Known {
    /// Establishes the flows at time `now`.
    pub fn new(v6: bool, now: Instant) -> Known {
        Known::establish(router(now), v6, now)
    }

    /// Establishes the flows through `router` at time `now`.
    pub fn establish(mut router: Router, v6: bool, now: Instant) -> Known {
        let (mut out, mut back) = (Vec::new(), Vec::new());
        for k in 0..LIVE {
            let p = flow(v6, k);
            let mut b = PacketBuf::from_packet(&p);
            let v = router.process(Direction::Outbound(0), &mut b, now);
            assert!(matches!(v, Verdict::Forward(_)), "flow {k}: {v:?}");
            back.push(reply(v6, b.packet()));
            out.push(p);
        }
        Known { router, out, back }
    }
}

/// The external endpoint's answer to `sent` (as it left the router).
fn reply(v6: bool, sent: &[u8]) -> Vec<u8> {
    let port = |o: usize| u16::from_be_bytes([sent[o], sent[o + 1]]);
    if v6 {
        let at = |o: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&sent[o..o + 16]).unwrap());
        udp6(at(24), port(42), at(8), port(40))
    } else {
        let at = |o: usize| Ipv4Addr::new(sent[o], sent[o + 1], sent[o + 2], sent[o + 3]);
        udp(at(16), port(22), at(12), port(20))
    }
}
