//! IPv4 fragment tracking (RFC 4787 REQ-14): only the first fragment carries the
//! ports, so its translation is remembered per datagram (source, destination,
//! protocol, identification) and applied to the other fragments. Fragments that
//! come before the first are buffered until it arrives.
//!
//! Limits keep a flood of fragments from hurting other traffic (REQ-14a): a bounded
//! number of datagrams tracked, a bounded number of bytes buffered, and a timeout.
//! Unfragmented packets never touch this table.

use crate::iface::Interface;
use foldhash::fast::RandomState;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// The fragment table the workers share: a later fragment carries no port to
/// bring it to the worker that translated its first, so whichever worker it
/// reaches looks it up here. Only fragments take the lock.
#[derive(Clone)]
pub(crate) struct SharedFragments(Arc<Mutex<Fragments>>);

/// An empty table that takes nothing: what a router being restored holds until
/// it is given its workers' shared one (the table is not handed over).
impl Default for SharedFragments {
    fn default() -> SharedFragments {
        SharedFragments::new(0, 0, 0)
    }
}

impl SharedFragments {
    pub(crate) fn new(max_flows: u32, max_bytes: u32, timeout: u32) -> SharedFragments {
        SharedFragments(Arc::new(Mutex::new(Fragments::new(
            max_flows, max_bytes, timeout,
        ))))
    }

    /// The table (a worker that panicked holding it left it consistent: every
    /// method completes its update before it can fail).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Fragments> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub(crate) src: u32,
    pub(crate) dst: u32,
    pub(crate) ident: u16,
    pub(crate) protocol: u8,
    pub(crate) inbound: bool,
}

/// What the first fragment's translation did to the IP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Applied {
    pub(crate) src: u32,
    pub(crate) dst: u32,
    pub(crate) egress: Interface,
}

struct Entry {
    applied: Option<Applied>,
    pending: Vec<Vec<u8>>,
    pending_bytes: usize,
    expires: u32,
}

/// Why a fragment was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Too many datagrams or bytes.
    Limit,
}

pub(crate) struct Fragments {
    map: HashMap<FragKey, Entry, RandomState>,
    order: VecDeque<(u32, FragKey)>,
    bytes: usize,
    max_flows: usize,
    max_bytes: usize,
    timeout: u32,
}

impl Fragments {
    pub(crate) fn new(max_flows: u32, max_bytes: u32, timeout: u32) -> Fragments {
        Fragments {
            map: HashMap::with_hasher(RandomState::default()),
            order: VecDeque::new(),
            bytes: 0,
            max_flows: max_flows as usize,
            max_bytes: max_bytes as usize,
            timeout,
        }
    }

    /// Datagrams whose fragments are held.
    pub(crate) fn flows(&self) -> usize {
        self.map.len()
    }

    fn entry(&mut self, key: FragKey, now: u32) -> Result<&mut Entry, Refused> {
        if !self.map.contains_key(&key) {
            if self.map.len() >= self.max_flows {
                return Err(Refused::Limit);
            }
            let expires = now + self.timeout;
            self.order.push_back((expires, key));
            self.map.insert(
                key,
                Entry {
                    applied: None,
                    pending: Vec::new(),
                    pending_bytes: 0,
                    expires,
                },
            );
        }
        Ok(self.map.get_mut(&key).expect("inserted above"))
    }

    /// Records the first fragment's translation; returns fragments that came early.
    pub(crate) fn first(
        &mut self,
        key: FragKey,
        applied: Applied,
        now: u32,
    ) -> Result<Vec<Vec<u8>>, Refused> {
        let entry = self.entry(key, now)?;
        entry.applied = Some(applied);
        let pending = std::mem::take(&mut entry.pending);
        let bytes = std::mem::take(&mut entry.pending_bytes);
        self.bytes -= bytes;
        Ok(pending)
    }

    /// The translation for a later fragment, if the first one passed.
    pub(crate) fn applied(&self, key: &FragKey) -> Option<Applied> {
        self.map.get(key).and_then(|e| e.applied)
    }

    /// Buffers a fragment that came before the first one.
    pub(crate) fn buffer(&mut self, key: FragKey, packet: &[u8], now: u32) -> Result<(), Refused> {
        if self.bytes + packet.len() > self.max_bytes {
            return Err(Refused::Limit);
        }
        let entry = self.entry(key, now)?;
        // One datagram can hold at most 64 KiB of fragments.
        if entry.pending_bytes + packet.len() > 65535 + 60 * 64 {
            return Err(Refused::Limit);
        }
        entry.pending.push(packet.to_vec());
        entry.pending_bytes += packet.len();
        self.bytes += packet.len();
        Ok(())
    }

    /// Forgets datagrams whose time is up (at most `budget`); returns how many
    /// buffered fragments were dropped with them.
    pub(crate) fn expire(&mut self, now: u32, budget: usize) -> u64 {
        let mut dropped = 0;
        for _ in 0..budget {
            match self.order.front() {
                Some(&(at, key)) if at <= now => {
                    self.order.pop_front();
                    if self.map.get(&key).is_some_and(|e| e.expires <= now) {
                        let e = self.map.remove(&key).expect("present");
                        dropped += e.pending.len() as u64;
                        self.bytes -= e.pending_bytes;
                    }
                }
                _ => break,
            }
        }
        dropped
    }
}
