//! Port blocks (`[nat] allocation = "block"`): an inside address gets the ports
//! of its public address in blocks of `block_size`, one block at a time on
//! demand and at most `max_blocks`, so the log is one record per block instead of
//! one per session (RFC 6888 §5 "port range allocation", REQ-12 to REQ-15;
//! logged as RFC 8158 natEvent 16/17).
//!
//! Blocks are aligned (block `k` holds ports `1024 + k × size` onwards) and lie in
//! this worker's slice of ports 1024–65535 ([`Shard::high_ports`]), so a packet
//! from the WAN still finds its worker by destination port; a worker's slice
//! edges that hold no whole block are not used. A new block is the first free
//! one at or after a random block index (RFC 6056's "simple port randomization",
//! at block granularity: block starts cannot be guessed), and mappings inside a
//! block take a random port of it ([`Ports::allocate_in`]). A block whose last
//! mapping ends is held `block_timeout` seconds before anyone gets it again.
//!
//! Every block is re-announced every `interim` seconds while it lives (Juniper's
//! "interim logging"): an allocation record lost on UDP is then missing for at
//! most that long.

use super::ports::{Ports, Want};
use crate::config::BLOCK_PORTS;
use crate::iface::{Shard, SubscriberId, blocks_in_slice};
use foldhash::fast::RandomState;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// The first port of any block.
const FIRST_PORT: u32 = 1024;

/// One block's state.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
struct Block {
    /// The inside address holding it, and its subscriber (meaningful while
    /// owned).
    inside: u32,
    subscriber: SubscriberId,
    /// Mappings whose port is in the block; 0: free or held.
    mappings: u32,
    /// Until this second the block is held after its release (0: free).
    held_until: u32,
    /// Counts the block's allocations, so a stale interim entry is recognised.
    generation: u32,
}

/// A block handed out or taken back, for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlockEvent {
    /// The inside address, and its subscriber.
    pub(crate) inside: u32,
    pub(crate) subscriber: SubscriberId,
    /// Pool index of the public address.
    pub(crate) pool_index: u32,
    /// First and last port of the block.
    pub(crate) first: u16,
    pub(crate) last: u16,
    /// `true`: allocated (or re-announced); `false`: released.
    pub(crate) allocated: bool,
}

/// Why an inside address got no port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoPort {
    /// It holds `max_blocks` and none has a free port: its quota.
    Quota,
    /// Its public address has no free block in this worker's slice.
    Exhausted,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Blocks {
    size: u32,
    max: u32,
    hold: u32,
    interim: u32,
    /// This worker's blocks: indexes `first..first + count`.
    first: u32,
    count: u32,
    /// Per pool address: its blocks (allocated on first use).
    states: Vec<Option<Box<[Block]>>>,
    /// Per pool address: blocks neither owned nor held.
    free: Vec<u32>,
    /// Per inside address and pool index: its blocks there (one pool
    /// address per inside address, but for a drain: old blocks stay on the
    /// draining address while new ones come from another).
    holders: HashMap<(u32, u32), Vec<u32>, RandomState>,
    /// Released blocks in order of `held_until`.
    held: VecDeque<(u32, u32, u32)>,
    /// Live blocks in order of their next re-announcement: (due, pool index,
    /// block, generation).
    due: VecDeque<(u32, u32, u32, u32)>,
    /// Whether blocks are logged (the interim queue is kept only then).
    logged: bool,
}

impl Blocks {
    /// The blocks of worker `shard` over `addresses` public addresses.
    pub(crate) fn new(
        addresses: usize,
        size: u32,
        max: u32,
        hold: u32,
        interim: u32,
        shard: Shard,
    ) -> Blocks {
        let (lo, _) = shard.high_ports();
        let first = (lo - FIRST_PORT).div_ceil(size);
        let count = blocks_in_slice(shard, size);
        Blocks {
            size,
            max,
            hold,
            interim,
            first,
            count,
            states: (0..addresses).map(|_| None).collect(),
            free: vec![count; addresses],
            holders: HashMap::default(),
            held: VecDeque::new(),
            due: VecDeque::new(),
            logged: false,
        }
    }

    /// Ports per block.
    pub(crate) fn size(&self) -> u32 {
        self.size
    }

    /// Blocks in this worker's slice of one address.
    pub(crate) fn per_address(&self) -> u32 {
        self.count
    }

    /// The most blocks one inside address holds (`max_blocks`).
    pub(crate) fn max_blocks(&self) -> u32 {
        self.max
    }

    /// Keeps the interim queue (blocks are logged).
    pub(crate) fn log(&mut self, on: bool) {
        self.logged = on;
    }

    /// Free blocks on address `addr`.
    pub(crate) fn free(&self, addr: u32) -> u32 {
        self.free[addr as usize]
    }

    /// Blocks `inside` holds.
    #[cfg(test)]
    fn held_by(&self, inside: u32) -> usize {
        self.holders
            .iter()
            .filter(|((i, _), _)| *i == inside)
            .map(|(_, b)| b.len())
            .sum()
    }

    fn ports_of(&self, block: u32) -> (u32, u32) {
        let first = FIRST_PORT + block * self.size;
        (first, first + self.size - 1)
    }

    fn event(&self, b: Block, addr: u32, block: u32, allocated: bool) -> BlockEvent {
        let (first, last) = self.ports_of(block);
        BlockEvent {
            inside: b.inside,
            subscriber: b.subscriber,
            pool_index: addr,
            first: first as u16,
            last: last as u16,
            allocated,
        }
    }

    /// A port for `inside` on address `addr`: in one of its blocks, or in a new
    /// one (reported in `events`).
    pub(crate) fn allocate(
        &mut self,
        ports: &mut Ports,
        (inside, subscriber): (u32, SubscriberId),
        addr: u32,
        want: Want,
        (random, now): (u64, u32),
        events: &mut Vec<BlockEvent>,
    ) -> Result<u16, NoPort> {
        let owned = self
            .holders
            .get(&(inside, addr))
            .map_or(&[][..], Vec::as_slice);
        // The newest block first: the older ones filled up before it came.
        let size = self.size;
        let found = owned.iter().rev().find_map(|&block| {
            let lo = FIRST_PORT + block * size;
            ports
                .allocate_in(addr, want, lo, lo + size - 1)
                .map(|p| (block, p))
        });
        if let Some((block, port)) = found {
            self.use_block(addr, block);
            return Ok(port);
        }
        if owned.len() as u32 >= self.max {
            return Err(NoPort::Quota);
        }
        let block = self.take_free(addr, random).ok_or(NoPort::Exhausted)?;
        let states = self.states[addr as usize].get_or_insert_with(|| {
            vec![Block::default(); (BLOCK_PORTS / self.size) as usize].into_boxed_slice()
        });
        let b = &mut states[block as usize];
        b.inside = inside;
        b.subscriber = subscriber;
        b.generation = b.generation.wrapping_add(1);
        let (generation, owner) = (b.generation, *b);
        self.free[addr as usize] -= 1;
        self.holders.entry((inside, addr)).or_default().push(block);
        if self.logged {
            self.due
                .push_back((now.saturating_add(self.interim), addr, block, generation));
        }
        events.push(self.event(owner, addr, block, true));
        let (lo, hi) = self.ports_of(block);
        // A fresh block may still hold ports in quarantine from its last owner.
        match ports.allocate_in(addr, want, lo, hi) {
            Some(port) => {
                self.use_block(addr, block);
                Ok(port)
            }
            None => Err(NoPort::Exhausted),
        }
    }

    /// The first block of `addr` that is neither owned nor held, at or after a
    /// random one (wrapping).
    fn take_free(&mut self, addr: u32, random: u64) -> Option<u32> {
        if self.count == 0 || self.free[addr as usize] == 0 {
            return None;
        }
        let start = (random % u64::from(self.count)) as u32;
        let states = self.states[addr as usize].as_deref();
        (0..self.count)
            .map(|i| self.first + (start + i) % self.count)
            .find(|&k| {
                states.is_none_or(|s| {
                    s[k as usize].mappings == 0
                        && s[k as usize].held_until == 0
                        && !self.owned(addr, k)
                })
            })
    }

    /// Whether a block with no mappings yet is someone's (just allocated).
    fn owned(&self, addr: u32, block: u32) -> bool {
        let Some(s) = self.states[addr as usize].as_deref() else {
            return false;
        };
        let inside = s[block as usize].inside;
        self.holders
            .get(&(inside, addr))
            .is_some_and(|b| b.contains(&block))
    }

    fn use_block(&mut self, addr: u32, block: u32) {
        if let Some(s) = self.states[addr as usize].as_mut() {
            s[block as usize].mappings += 1;
        }
    }

    /// A mapping on `addr`'s `port` ended: the block is released (reported in
    /// `events`) and held when it was its last.
    pub(crate) fn unuse(&mut self, addr: u32, port: u16, now: u32, events: &mut Vec<BlockEvent>) {
        let Some(block) = (u32::from(port).checked_sub(FIRST_PORT)).map(|p| p / self.size) else {
            return;
        };
        let Some(s) = self.states[addr as usize].as_mut() else {
            return;
        };
        let b = &mut s[block as usize];
        b.mappings = b.mappings.saturating_sub(1);
        if b.mappings > 0 {
            return;
        }
        let (inside, owner) = (b.inside, *b);
        let until = now.saturating_add(self.hold).max(1);
        b.held_until = until;
        if let Some(blocks) = self.holders.get_mut(&(inside, addr)) {
            blocks.retain(|&k| k != block);
            if blocks.is_empty() {
                self.holders.remove(&(inside, addr));
            }
        }
        self.held.push_back((until, addr, block));
        events.push(self.event(owner, addr, block, false));
    }

    /// Held blocks whose time is over become free, and live blocks due for
    /// re-announcement are reported (`events`); at most `budget` of each.
    /// Whether a held block or an interim record is due by `now`
    /// ([`Blocks::tick`] has work).
    #[inline]
    pub(crate) fn due(&self, now: u32) -> bool {
        self.held.front().is_some_and(|&(until, ..)| until <= now)
            || self.due.front().is_some_and(|&(at, ..)| at <= now)
    }

    pub(crate) fn tick(&mut self, now: u32, budget: usize, events: &mut Vec<BlockEvent>) {
        for _ in 0..budget {
            match self.held.front() {
                Some(&(until, addr, block)) if until <= now => {
                    self.held.pop_front();
                    if let Some(s) = self.states[addr as usize].as_mut() {
                        let b = &mut s[block as usize];
                        if b.mappings == 0 && b.held_until == until {
                            b.held_until = 0;
                            self.free[addr as usize] += 1;
                        }
                    }
                }
                _ => break,
            }
        }
        for _ in 0..budget {
            match self.due.front() {
                Some(&(at, addr, block, generation)) if at <= now => {
                    self.due.pop_front();
                    let live = self.states[addr as usize]
                        .as_deref()
                        .map(|s| s[block as usize])
                        .filter(|b| b.generation == generation && b.mappings > 0);
                    if let Some(b) = live {
                        events.push(self.event(b, addr, block, true));
                        self.due.push_back((
                            now.saturating_add(self.interim),
                            addr,
                            block,
                            generation,
                        ));
                    }
                }
                _ => break,
            }
        }
    }

    /// One more public address (a reload added it to the pool).
    pub(crate) fn add_address(&mut self) {
        self.states.push(None);
        self.free.push(self.count);
    }

    /// Whether no block of address `addr` is owned or held.
    pub(crate) fn is_free(&self, addr: u32) -> bool {
        self.free.get(addr as usize) == Some(&self.count)
    }

    /// Whether any block is owned or held.
    pub(crate) fn in_use(&self) -> bool {
        !self.holders.is_empty() || !self.held.is_empty()
    }

    /// Takes a reload's `max_blocks`, `block_timeout` and `interim` for what
    /// comes next (blocks held keep their times).
    pub(crate) fn set_limits(&mut self, max: u32, hold: u32, interim: u32) {
        (self.max, self.hold, self.interim) = (max, hold, interim);
    }

    /// Releases (reported in `events`) the blocks no mapping holds any more
    /// of subscribers `gone` says are gone: its sessions were ended (a
    /// reload removed it, or the router stops).
    pub(crate) fn release_unused(
        &mut self,
        gone: &dyn Fn(SubscriberId) -> bool,
        now: u32,
        events: &mut Vec<BlockEvent>,
    ) {
        let mut idle: Vec<(u32, u32)> = Vec::new();
        for (&(_, addr), blocks) in &self.holders {
            let Some(s) = self.states[addr as usize].as_deref() else {
                continue;
            };
            idle.extend(
                blocks
                    .iter()
                    .filter(|&&k| s[k as usize].mappings == 0 && gone(s[k as usize].subscriber))
                    .map(|&k| (addr, k)),
            );
        }
        for (addr, block) in idle {
            // As the last mapping's end would: held, then free.
            if let Some(s) = self.states[addr as usize].as_mut() {
                s[block as usize].mappings = 1;
            }
            let port = (FIRST_PORT + block * self.size) as u16;
            self.unuse(addr, port, now, events);
        }
    }

    /// Every live block: (inside, pool index, first port, last port).
    pub(crate) fn live(&self) -> Vec<(u32, u32, u16, u16)> {
        let mut all: Vec<(u32, u32, u16, u16)> = self
            .holders
            .iter()
            .flat_map(|(&(inside, addr), blocks)| {
                blocks.iter().map(move |&b| {
                    let first = FIRST_PORT + b * self.size;
                    (inside, addr, first as u16, (first + self.size - 1) as u16)
                })
            })
            .collect();
        all.sort_unstable();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> Want {
        Want {
            protocol: 17,
            internal: 5000,
            preserve: false,
            parity: false,
        }
    }

    /// Seven blocks of 8192 ports (1024-58367) on one address; one per inside
    /// address at most.
    fn seven() -> (Blocks, Ports) {
        let mut b = Blocks::new(1, 8192, 1, 60, 30, Shard::SOLE);
        b.log(true);
        (b, Ports::new(1, 120, 5, Shard::SOLE))
    }

    #[test]
    fn allocation_release_hold_exhaustion_and_interim() {
        let (mut b, mut ports) = seven();
        assert_eq!(b.per_address(), 7);
        let mut events = Vec::new();
        let mut got = Vec::new();
        for inside in 1..=7u32 {
            let port = b
                .allocate(
                    &mut ports,
                    (inside, inside),
                    0,
                    want(),
                    (inside.into(), 10),
                    &mut events,
                )
                .unwrap();
            got.push(port);
            let e = events.pop().unwrap();
            assert!(e.allocated && e.inside == inside);
            assert_eq!((u32::from(e.first) - 1024) % 8192, 0, "aligned");
            assert_eq!(u32::from(e.last) - u32::from(e.first), 8191);
            assert!((e.first..=e.last).contains(&port));
            // A second mapping of the same address stays in its block.
            let again = b
                .allocate(
                    &mut ports,
                    (inside, inside),
                    0,
                    want(),
                    (99, 10),
                    &mut events,
                )
                .unwrap();
            assert!((e.first..=e.last).contains(&again));
            assert!(events.is_empty());
            assert_eq!(b.held_by(inside), 1);
        }
        assert_eq!(b.free(0), 0);
        let eighth = b.allocate(&mut ports, (8, 8), 0, want(), (1, 10), &mut events);
        assert_eq!(eighth, Err(NoPort::Exhausted));
        // Inside 3's two mappings end at 20: its block is released and held 60 s.
        let block3 = b.live().into_iter().find(|l| l.0 == 3).unwrap();
        b.unuse(0, got[2], 20, &mut events);
        assert!(events.is_empty(), "one mapping is left");
        let second = (block3.2..=block3.3)
            .find(|&p| ports.is_busy(0, 17, p) && p != got[2])
            .unwrap();
        b.unuse(0, second, 20, &mut events);
        assert_eq!(events.len(), 1);
        assert!(!events[0].allocated && events[0].inside == 3);
        events.clear();
        assert_eq!(b.held_by(3), 0);
        // Interim at 40 and 70 for the six live blocks (due 10 + 30 = 40, then 70).
        for t in [39, 40, 69, 70, 79] {
            b.tick(t, 64, &mut events);
        }
        assert_eq!(events.len(), 12);
        assert!(events.iter().all(|e| e.allocated && e.inside != 3));
        events.clear();
        assert_eq!(
            b.allocate(&mut ports, (8, 8), 0, want(), (1, 79), &mut events),
            Err(NoPort::Exhausted),
            "held until 80"
        );
        b.tick(80, 64, &mut events);
        assert_eq!(b.free(0), 1);
        let port = b
            .allocate(&mut ports, (8, 8), 0, want(), (1, 80), &mut events)
            .unwrap();
        assert!((block3.2..=block3.3).contains(&port), "the one free block");
        assert_eq!(events[0].inside, 8);
    }

    #[test]
    fn a_full_last_block_is_the_quota() {
        let (mut b, mut ports) = seven();
        let mut events = Vec::new();
        let mut refused = None;
        for n in 0..=8192 {
            match b.allocate(&mut ports, (8, 8), 0, want(), (1, 80), &mut events) {
                Ok(_) => continue,
                Err(e) => {
                    refused = Some((n, e));
                    break;
                }
            }
        }
        assert_eq!(
            refused,
            Some((8192, NoPort::Quota)),
            "8192 ports, then none"
        );
        assert_eq!(events.len(), 1);
    }
}
