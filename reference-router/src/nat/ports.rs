//! External port allocation: randomised (RFC 6056 §3.3.1, "simple port
//! randomization", with a keyed SipHash stream as the generator), one bitmap per
//! public address and protocol, and a quarantine so that a freed port is not
//! reused for `port_reuse_delay` seconds (RFC 6888 REQ-8).
//!
//! A port is *busy* while a mapping holds it and while it sits in quarantine.
//! Bitmaps are allocated on first use of an address (8 KiB per address and protocol),
//! so a large pool costs memory only for the addresses subscribers were given.

use crate::iface::Shard;
use serde::{Deserialize, Serialize};
use siphasher::sip::SipHasher13;
use sixfold_rewrite::IpProtocol;
use std::collections::VecDeque;
use std::hash::Hasher;

/// Protocols with their own port space: TCP, UDP, ICMP identifiers.
pub(crate) const PROTOCOLS: usize = 3;

/// Index of a translated protocol's port space (TCP, UDP, ICMP identifiers);
/// `protocol` as stored in the compact records.
pub(crate) fn space(protocol: impl Into<IpProtocol>) -> usize {
    match protocol.into() {
        IpProtocol::Tcp => 0,
        IpProtocol::Udp => 1,
        _ => 2,
    }
}

/// The allocation parameters of one request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Want {
    pub(crate) protocol: u8,
    /// The internal port (or ICMP identifier).
    pub(crate) internal: u16,
    /// Try `internal` first.
    pub(crate) preserve: bool,
    /// Keep `internal`'s parity.
    pub(crate) parity: bool,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Ports {
    /// Per address × protocol: one bit per port, set when busy.
    #[serde(with = "crate::state::with::bitmaps")]
    bitmaps: Vec<Option<Box<[u64; 1024]>>>,
    /// Free ports per address × protocol in the allocatable ranges.
    free: Vec<u32>,
    quarantine: VecDeque<(u32, u32, u8, u16)>,
    reuse_delay: u32,
    key: (u64, u64),
    counter: u64,
    shard: Shard,
}

/// The lowest free port in `from..=to` (with the given parity, if any).
fn find_free(map: &[u64; 1024], from: u32, to: u32, parity: Option<u32>) -> Option<u32> {
    let parity_mask = match parity {
        Some(0) => 0x5555_5555_5555_5555,
        Some(_) => 0xaaaa_aaaa_aaaa_aaaa,
        None => u64::MAX,
    };
    for w in from / 64..=to / 64 {
        let mut free = !map[w as usize] & parity_mask;
        if w == from / 64 {
            free &= u64::MAX << (from % 64);
        }
        if w == to / 64 && to % 64 != 63 {
            free &= (1u64 << (to % 64 + 1)) - 1;
        }
        if free != 0 {
            return Some(w * 64 + free.trailing_zeros());
        }
    }
    None
}

/// This worker's slice of ports 1024-65535 for internal ports ≥ 1024, of 1-1023
/// for well-known ones (RFC 4787 REQ-3a); ICMP identifiers use 1024-65535.
fn range(want: &Want, shard: Shard) -> (u32, u32) {
    if IpProtocol::from(want.protocol) != IpProtocol::Icmp && want.internal < 1024 {
        shard.low_ports()
    } else {
        shard.high_ports()
    }
}

impl Ports {
    /// Ports of `addresses` public addresses, this worker's `shard` of each.
    pub(crate) fn new(addresses: usize, reuse_delay: u32, seed: u64, shard: Shard) -> Ports {
        let ((a, b), (c, d)) = (shard.low_ports(), shard.high_ports());
        let slice = (b - a + 1) + (d - c + 1);
        Ports {
            bitmaps: (0..addresses * PROTOCOLS).map(|_| None).collect(),
            free: vec![slice; addresses * PROTOCOLS],
            quarantine: VecDeque::new(),
            reuse_delay,
            key: (seed, seed.rotate_left(32) ^ 0x5158_4f4c_4446_5853),
            counter: 0,
            shard,
        }
    }

    /// One more public address (a reload added it to the pool).
    pub(crate) fn add_address(&mut self) {
        let ((a, b), (c, d)) = (self.shard.low_ports(), self.shard.high_ports());
        let slice = (b - a + 1) + (d - c + 1);
        self.bitmaps.extend((0..PROTOCOLS).map(|_| None));
        self.free.extend([slice; PROTOCOLS]);
    }

    /// Ports freed from now on wait `delay` seconds (those in quarantine keep
    /// their time).
    pub(crate) fn set_reuse_delay(&mut self, delay: u32) {
        self.reuse_delay = delay;
    }

    /// The next number of the keyed random stream.
    pub(crate) fn random(&mut self) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.key.0, self.key.1);
        h.write_u64(self.counter);
        self.counter += 1;
        h.finish()
    }

    #[cfg(test)]
    fn busy(map: &[u64; 1024], port: u32) -> bool {
        map[(port / 64) as usize] & (1 << (port % 64)) != 0
    }

    /// Free ports of `protocol` on address `addr` (all ranges).
    pub(crate) fn free(&self, addr: u32, protocol: u8) -> u32 {
        self.free[addr as usize * PROTOCOLS + space(protocol)]
    }

    /// A free port on address `addr`, marked busy; `None` if there is none.
    pub(crate) fn allocate(&mut self, addr: u32, want: Want) -> Option<u16> {
        let (lo, hi) = range(&want, self.shard);
        self.allocate_in(addr, want, lo, hi)
    }

    /// A free port of `lo..=hi` on address `addr` (a port block, a deterministic
    /// range), marked busy: random start, first free after it (RFC 6056 §3.3.1).
    pub(crate) fn allocate_in(&mut self, addr: u32, want: Want, lo: u32, hi: u32) -> Option<u16> {
        let slot = addr as usize * PROTOCOLS + space(want.protocol);
        let span = hi - lo + 1;
        let first = if want.preserve && (lo..=hi).contains(&u32::from(want.internal)) {
            u32::from(want.internal)
        } else {
            lo + (self.random() % u64::from(span)) as u32
        };
        let map = self.bitmaps[slot].get_or_insert_with(|| Box::new([0; 1024]));
        // The first free port of the right parity at or after the random start,
        // wrapping around: one word (64 ports) per step, so a nearly full space costs
        // at most 1024 word reads.
        let parity = want.parity.then_some(u32::from(want.internal) & 1);
        let port =
            find_free(map, first, hi, parity).or_else(|| find_free(map, lo, first, parity))?;
        map[(port / 64) as usize] |= 1 << (port % 64);
        // Saturating: a deterministic range may lie outside this worker's slice.
        self.free[slot] = self.free[slot].saturating_sub(1);
        Some(port as u16)
    }

    /// Gives back a port that never carried traffic: free at once, no quarantine.
    pub(crate) fn unused(&mut self, addr: u32, protocol: u8, port: u16) {
        let slot = addr as usize * PROTOCOLS + space(protocol);
        if let Some(map) = self.bitmaps[slot].as_mut() {
            map[usize::from(port / 64)] &= !(1 << (port % 64));
            self.free[slot] += 1;
        }
    }

    /// Puts a port into quarantine until `now + reuse_delay`.
    pub(crate) fn release(&mut self, addr: u32, protocol: u8, port: u16, now: u32) {
        self.quarantine
            .push_back((now.saturating_add(self.reuse_delay), addr, protocol, port));
    }

    /// Returns up to `budget` quarantined ports whose delay is over; the number done.
    /// Whether a quarantined port is due back by `now` ([`Ports::reclaim`] has work).
    #[inline]
    pub(crate) fn due(&self, now: u32) -> bool {
        self.quarantine.front().is_some_and(|&(at, ..)| at <= now)
    }

    pub(crate) fn reclaim(&mut self, now: u32, budget: usize) -> usize {
        let mut done = 0;
        while done < budget {
            match self.quarantine.front() {
                Some(&(at, addr, protocol, port)) if at <= now => {
                    self.quarantine.pop_front();
                    let slot = addr as usize * PROTOCOLS + space(protocol);
                    if let Some(map) = self.bitmaps[slot].as_mut() {
                        map[usize::from(port / 64)] &= !(1 << (port % 64));
                        self.free[slot] += 1;
                    }
                    done += 1;
                }
                _ => break,
            }
        }
        done
    }

    /// Whether `port` is busy (in use or quarantined).
    #[cfg(test)]
    pub(crate) fn is_busy(&self, addr: u32, protocol: u8, port: u16) -> bool {
        self.bitmaps[addr as usize * PROTOCOLS + space(protocol)]
            .as_ref()
            .is_some_and(|m| Ports::busy(m, u32::from(port)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(internal: u16) -> Want {
        Want {
            protocol: 17,
            internal,
            preserve: false,
            parity: false,
        }
    }

    #[test]
    fn ports_are_in_range_unique_and_not_sequential() {
        let mut p = Ports::new(1, 120, 7, Shard::SOLE);
        let mut got: Vec<u16> = (0..1000)
            .map(|_| p.allocate(0, want(40000)).unwrap())
            .collect();
        assert!(got.iter().all(|&x| x >= 1024));
        let sequential = got
            .windows(2)
            .filter(|w| w[1] == w[0].wrapping_add(1))
            .count();
        assert!(sequential < 10, "{sequential} of 999 steps were +1");
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), 1000);
        assert_eq!(p.free(0, 17), 65535 - 1000);
    }

    #[test]
    fn a_worker_allocates_only_in_its_slice() {
        let shard = Shard { index: 1, count: 3 };
        let mut p = Ports::new(1, 120, 9, shard);
        for internal in [53, 40000] {
            for _ in 0..300 {
                let port = p.allocate(0, want(internal)).unwrap();
                assert_eq!(shard.port_owner(port), 1, "{port}");
            }
        }
        let ((a, b), (c, d)) = (shard.low_ports(), shard.high_ports());
        assert_eq!(p.free(0, 17), (b - a + 1) + (d - c + 1) - 600);
    }

    #[test]
    fn well_known_ports_stay_well_known() {
        let mut p = Ports::new(1, 120, 7, Shard::SOLE);
        for _ in 0..100 {
            let port = p.allocate(0, want(53)).unwrap();
            assert!((1..1024).contains(&port), "{port}");
        }
    }

    #[test]
    fn whole_range_then_none_then_quarantine() {
        let mut p = Ports::new(1, 120, 1, Shard::SOLE);
        let ports: Vec<u16> = (1..1024)
            .map(|_| p.allocate(0, want(80)).unwrap())
            .collect();
        assert_eq!(p.allocate(0, want(80)), None);
        p.release(0, 17, ports[5], 1000);
        assert_eq!(p.allocate(0, want(80)), None, "quarantined");
        assert_eq!(p.reclaim(1119, 10), 0);
        assert_eq!(p.reclaim(1120, 10), 1);
        assert_eq!(p.allocate(0, want(80)), Some(ports[5]));
    }

    #[test]
    fn preservation_and_parity() {
        let mut p = Ports::new(1, 120, 3, Shard::SOLE);
        let w = Want {
            protocol: 6,
            internal: 40001,
            preserve: true,
            parity: true,
        };
        assert_eq!(p.allocate(0, w), Some(40001));
        for _ in 0..200 {
            assert_eq!(p.allocate(0, w).unwrap() % 2, 1);
        }
        let even = Want {
            internal: 5000,
            preserve: false,
            ..w
        };
        for _ in 0..200 {
            assert_eq!(p.allocate(0, even).unwrap() % 2, 0);
        }
        assert!(p.is_busy(0, 6, 40001));
        assert!(!p.is_busy(0, 17, 40001));
    }
}
