//! NAPT44 (RFC 4787, 5382, 5508, 6888, 7857): decides, per packet, what the packet
//! becomes — the [`sixfold_rewrite::Rewrite`] to apply and the egress interface — and
//! keeps the sessions. The router applies the rewrite (one pass over the header that
//! patches every checksum) after its own checks.
//!
//! Flows are keyed by (protocol, local address, local port, remote address, remote
//! port); ICMP queries use the identifier as the local port and 0 as the remote one
//! (RFC 5508 REQ-1a: query mappings are endpoint-independent).

use serde::{Deserialize, Serialize};
mod adopt;
pub(crate) mod blocks;
mod cgn;
pub(crate) mod deterministic;
mod errors;
mod fast;
mod flow;
pub(crate) mod frag;
pub(crate) mod ports;
mod reload;
mod spread;
pub(crate) mod table;
pub(crate) mod takeover;
pub(crate) use flow::Flow;
pub(crate) use table::Countdown;
pub(crate) mod tcp;

use crate::config::{Filtering, Nat as NatConfig};
use crate::hold::{Released, SynHold};
use crate::iface::{Interface, Shard, SubscriberId};
use crate::ipfix::accounting::FlowKey;
use crate::stats::{DropReason, PortUse};
use foldhash::fast::RandomState;
use frag::{Applied, FragKey, SharedFragments};
use sixfold_rewrite::{Icmpv4Type, IpProtocol, Rewrite};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use table::{Full, Key, Session, Table};

/// What the NAT decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Apply `rewrite` and send out `egress`.
    Translate {
        rewrite: Rewrite,
        egress: Interface,
        hairpin: bool,
        /// The session the packet belongs to (the sender's for a hairpin);
        /// `None` for an ICMP error matched by its quote.
        session: Option<u32>,
    },
    /// Drop silently (counted).
    Drop(DropReason),
    /// No mapping could be created: drop and send ICMP 3/13 back (RFC 5508 REQ-8).
    Refuse(DropReason),
    /// Hairpinned to a public port another worker owns: apply `rewrite` (the way
    /// out) and hand the packet to `worker`, which takes it in as from the WAN.
    Handoff { rewrite: Rewrite, worker: u16 },
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Nat {
    table: Table,
    pool: HashSet<u32, RandomState>,
    /// The lowest and highest pool address: most packets' destinations lie
    /// outside, and two compares are cheaper than the hash probe.
    pool_span: (u32, u32),
    filtering: Filtering,
    hairpin: bool,
    timeouts: crate::config::Timeouts,
    held: SynHold<Key>,
    /// Shared by the workers, and not handed over (see [`crate::state`]).
    #[serde(skip)]
    fragments: SharedFragments,
    /// The second the fragment table's expiry last ran.
    fragments_checked: u32,
    shard: Shard,
    /// The predecessor's mappings (`[takeover]`), fed, until adopted. Not
    /// handed over: an upgrade is refused while `[takeover]` is configured.
    #[serde(skip)]
    feed: Option<takeover::Feed>,
}

/// TCP's protocol byte, as the compact records store it.
const TCP: u8 = IpProtocol::Tcp.number();
const UDP: u8 = IpProtocol::Udp.number();

fn v4(a: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

/// Whether the NAT translates ICMPv4 error `kind` (RFC 5508 REQ-4/5). Every RFC
/// 792 error type is an error (`Icmpv4Type::is_error`), but two are not passed:
/// Source Quench is deprecated (RFC 6633: hosts must ignore it) and a Redirect
/// concerns the sender's own link, which no host behind the NAT shares with a
/// router on the far side (RFC 1122 §3.2.2.2: hosts accept redirects only from
/// their first hop). Both are dropped as `unsupported_icmp`.
pub(crate) fn translates_error(kind: Icmpv4Type) -> bool {
    kind.is_error() && !matches!(kind, Icmpv4Type::SourceQuench | Icmpv4Type::Redirect)
}

fn refused(full: Full) -> DropReason {
    match full {
        Full::Ports => DropReason::PortLimit,
        Full::SubscriberSessions => DropReason::SubscriberSessionLimit,
        Full::Sessions => DropReason::SessionLimit,
        Full::Pool => DropReason::PoolExhausted,
    }
}

impl Nat {
    /// The NAT of worker `shard`: its slice of the ports, its share of the
    /// session limit, the fragment table shared by all. `seed` is the router's:
    /// the order of the pool's addresses is keyed by it (the same for every
    /// worker, each from its own offset); the port stream by the worker's.
    pub(crate) fn new(
        config: &NatConfig,
        subscribers: usize,
        seed: u64,
        now: u32,
        shard: Shard,
        fragments: SharedFragments,
    ) -> Nat {
        let worker_seed = seed ^ u64::from(shard.index).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let pool: Vec<u32> = config.pool_addresses().into_iter().map(u32::from).collect();
        let share = |n: u32| (n / u32::from(shard.count.max(1))).max(1);
        let limits = reload::limits(config, shard);
        let t = &config.timeouts;
        Nat {
            pool: pool.iter().copied().collect(),
            pool_span: (
                pool.iter().copied().min().unwrap_or(u32::MAX),
                pool.iter().copied().max().unwrap_or(0),
            ),
            table: Table::new(
                pool,
                subscribers,
                limits,
                t.port_reuse_delay,
                (worker_seed, seed),
                now,
                shard,
            ),
            filtering: config.filtering,
            hairpin: config.hairpin,
            timeouts: t.clone(),
            held: SynHold::new(share(config.max_held_syns) as usize, t.syn_hold),
            fragments,
            fragments_checked: u32::MAX,
            shard,
            feed: None,
        }
    }

    /// Whether `addr` is one of the pool's public addresses.
    /// The shared IPv4 fragment table.
    pub(crate) fn fragments(&self) -> SharedFragments {
        self.fragments.clone()
    }

    /// Builds what a saved state leaves out (the table's indexes).
    pub(crate) fn rebuild_indexes(&mut self) -> Result<(), String> {
        self.table.rebuild_indexes()
    }

    /// Uses `fragments`, the workers' shared table (after a restore).
    pub(crate) fn share_fragments(&mut self, fragments: SharedFragments) {
        self.fragments = fragments;
    }

    /// Datagrams in pieces in the shared fragment table.
    pub(crate) fn fragment_flows(&self) -> u64 {
        self.fragments.lock().flows() as u64
    }

    /// Makes the workers' NATs share one countdown per draining pool address
    /// again (a state holds each worker's copy of its value).
    pub(crate) fn relink_countdowns(nats: &mut [&mut Nat]) {
        let addresses = nats.first().map_or(0, |n| n.table.addresses_use.len());
        for index in 0..addresses {
            let value = nats.iter().find_map(|n| {
                n.table
                    .addresses_use
                    .get(index)
                    .and_then(|u| u.countdown_value())
            });
            if let Some(v) = value {
                let shared = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(v));
                for n in nats.iter_mut() {
                    if let Some(u) = n.table.addresses_use.get_mut(index) {
                        u.share_countdown(&shared);
                    }
                }
            }
        }
    }

    pub(crate) fn is_public(&self, addr: Ipv4Addr) -> bool {
        let a = u32::from(addr);
        (self.pool_span.0..=self.pool_span.1).contains(&a) && self.pool.contains(&a)
    }

    /// The first pool address: the source of errors the router sends to the
    /// WAN (none when the pool is empty: nobody is translated to IPv4).
    pub(crate) fn first_public(&self) -> Option<Ipv4Addr> {
        self.table.pool.first().map(|&a| Ipv4Addr::from(a))
    }

    fn timeout(&self, protocol: u8, tcp_state: u8) -> u32 {
        self.timeouts.idle(IpProtocol::from(protocol), tcp_state)
    }

    /// Live sessions.
    pub(crate) fn live_sessions(&self) -> u32 {
        self.table.live_sessions()
    }

    /// Live mappings.
    pub(crate) fn live_mappings(&self) -> u32 {
        self.table.live_mappings()
    }

    /// Sessions created since the start.
    pub(crate) fn sessions_created(&self) -> u64 {
        self.table.created()
    }

    /// Sessions expired since the start.
    pub(crate) fn sessions_expired(&self) -> u64 {
        self.table.expired()
    }

    /// Subscriber `sub`'s public address (once it has one), ports in use per
    /// protocol, and sessions.
    pub(crate) fn subscriber_use(&self, sub: SubscriberId) -> (Option<Ipv4Addr>, PortUse, u32) {
        let s = self.table.subscriber(sub);
        let ports = PortUse {
            tcp: s.ports[ports::space(IpProtocol::Tcp)],
            udp: s.ports[ports::space(IpProtocol::Udp)],
            icmp: s.ports[ports::space(IpProtocol::Icmp)],
        };
        let public = s
            .pool_index
            .map(|i| Ipv4Addr::from(self.table.public_address(i)));
        (public, ports, s.sessions)
    }

    /// The external endpoint of inside endpoint `inside` for `protocol` (TCP, UDP,
    /// or ICMP with the identifier as port); for ADM/APDM the first mapping found.
    pub(crate) fn external_of(
        &self,
        protocol: IpProtocol,
        inside: SocketAddrV4,
    ) -> Option<SocketAddrV4> {
        self.table
            .external_of(u8::from(protocol), u32::from(*inside.ip()), inside.port())
            .map(|(a, p)| SocketAddrV4::new(a.into(), p))
    }

    /// Refreshes session `s` for a packet with `flags` (RFC 4787 REQ-6: outbound
    /// refresh; inbound refreshes too).
    fn touch(&mut self, s: u32, flags: u8, outbound: bool, now: u32) {
        let session = self.table.session_mut(s);
        let protocol = session.protocol;
        if protocol == TCP {
            session.set_tcp(tcp::next(session.tcp(), flags, outbound));
        }
        let state = session.tcp();
        let expires = now + self.timeout(protocol, state);
        self.table.set_expiry(s, expires);
    }

    /// A packet from subscriber `sub`.
    pub(crate) fn outbound(&mut self, sub: SubscriberId, f: &Flow, now: u32) -> Decision {
        if f.protocol == IpProtocol::Icmp && f.icmp_type != Icmpv4Type::EchoRequest {
            return Decision::Drop(DropReason::UnsupportedIcmp);
        }
        let key = Key {
            addr: f.src,
            port: f.sport,
            rem_addr: f.dst,
            rem_port: f.dport,
            protocol: f.key_byte(),
        };
        let syn = f.protocol == IpProtocol::Tcp && tcp::opens(f.tcp_flags);
        let s = match self.table.find_inside(&key, now) {
            Some(s) => s,
            None if let Some(adopted) = self.adopt_outbound(sub, &key, f, now) => match adopted {
                Ok(s) => s,
                Err(full) => return Decision::Refuse(refused(full)),
            },
            None => {
                if f.protocol == IpProtocol::Tcp && f.tcp_flags & tcp::FLAG_SYN == 0 {
                    // Mid-stream TCP with no state: nothing to translate to.
                    return Decision::Drop(DropReason::NoMapping);
                }
                let m = match self.table.mapping_for(sub, &key) {
                    Ok(m) => m,
                    Err(full) => return Decision::Refuse(refused(full)),
                };
                let expires = now + self.timeout(f.key_byte(), 0);
                match self.table.create_session(m, f.dst, f.dport, now, expires) {
                    Ok(s) => s,
                    Err(full) => return Decision::Refuse(refused(full)),
                }
            }
        };
        self.touch(s, f.tcp_flags, true, now);
        let session = *self.table.session(s);
        if syn {
            // RFC 5382 REQ-4: an outbound SYN within the hold time silently drops
            // the held inbound one (simultaneous open goes ahead).
            let held = Key {
                addr: session.out_addr,
                port: session.out_port,
                rem_addr: f.dst,
                rem_port: f.dport,
                protocol: TCP,
            };
            self.held.cancel(&held);
        }
        let mut rewrite = Rewrite {
            src: Some(v4(session.out_addr)),
            ..Rewrite::new()
        };
        if f.protocol == IpProtocol::Icmp {
            rewrite.icmp_id = Some(session.out_port);
        } else {
            rewrite.src_port = Some(session.out_port);
        }
        if !self.pool.contains(&f.dst) {
            return Decision::Translate {
                rewrite,
                egress: Interface::Wan,
                hairpin: false,
                session: Some(s),
            };
        }
        self.hairpin(f, (s, &session), rewrite, now)
    }

    /// A subscriber's packet to a public address of the pool, translated out by
    /// `rewrite`: back in as if from the WAN (RFC 4787 REQ-9, RFC 5382 REQ-8), with
    /// the sender's external address and port as the source the peer sees.
    fn hairpin(
        &mut self,
        f: &Flow,
        (s, session): (u32, &Session),
        rewrite: Rewrite,
        now: u32,
    ) -> Decision {
        if !self.hairpin {
            return Decision::Drop(DropReason::HairpinOff);
        }
        // An ICMP query carries no destination port to find the owner by: it is
        // answered where it is, as with one worker.
        let owner = self.port_owner(Ipv4Addr::from(f.dst), f.dport);
        if f.protocol != IpProtocol::Icmp && owner != self.shard.index {
            return Decision::Handoff {
                rewrite,
                worker: owner,
            };
        }
        let back = Flow {
            src: session.out_addr,
            sport: session.out_port,
            ..*f
        };
        match self.inbound_session(&back, now) {
            Ok(peer) => {
                let p = *self.table.session(peer);
                Decision::Translate {
                    rewrite: Rewrite {
                        dst: Some(v4(p.in_addr)),
                        dst_port: Some(p.in_port),
                        ..rewrite
                    },
                    egress: Interface::Subscriber(self.table.session_subscriber(peer)),
                    hairpin: true,
                    session: Some(s),
                }
            }
            Err(reason) => Decision::Drop(reason),
        }
    }

    /// The session an inbound flow belongs to, created if filtering admits it.
    fn inbound_session(&mut self, f: &Flow, now: u32) -> Result<u32, DropReason> {
        let key = Key {
            addr: f.dst,
            port: f.dport,
            rem_addr: f.src,
            rem_port: f.sport,
            protocol: f.key_byte(),
        };
        if let Some(s) = self.table.find_outside(&key, now) {
            self.touch(s, f.tcp_flags, false, now);
            return Ok(s);
        }
        let syn = f.protocol == IpProtocol::Tcp && tcp::opens(f.tcp_flags);
        let mapping = self
            .table
            .find_mapping_outside(f.key_byte(), f.dst, f.dport);
        if mapping.is_none()
            && let Some(adopted) = self.adopt_inbound(f, now)
        {
            return adopted.map_err(refused);
        }
        let admitted = match (mapping, self.filtering) {
            (None, _) => false,
            (Some(_), Filtering::Eif) => true,
            (Some(m), Filtering::Adf) => self.table.has_address(m, f.src),
            (Some(_), Filtering::Apdf) => false,
        };
        // A new inbound TCP flow starts with a SYN; ICMP replies never open one.
        let opens = match f.protocol {
            IpProtocol::Tcp => syn,
            IpProtocol::Udp => true,
            _ => false,
        };
        match mapping {
            Some(m) if admitted && opens => {
                let expires = now + self.timeout(f.key_byte(), 0);
                let s = self
                    .table
                    .create_session(m, f.src, f.sport, now, expires)
                    .map_err(refused)?;
                self.touch(s, f.tcp_flags, false, now);
                Ok(s)
            }
            _ if syn => Err(self.held.hold(key, now)),
            Some(_) => Err(DropReason::Filtered),
            None => Err(DropReason::NoMapping),
        }
    }

    /// Keeps the start of the SYN just held — `packet`, as the router received
    /// it, as much as its ICMP error may quote (RFC 1812 §4.3.2.3: 576 bytes in
    /// all; RFC 4443 §2.4 (c): 1280 for an IPv6 SYN) — for the error to go out
    /// of `to`, the interface it came in on.
    pub(crate) fn held_quote(&mut self, packet: &[u8], to: Interface) {
        let most = match packet.first().map(|b| b >> 4) {
            Some(6) => crate::icmp::V6_QUOTE,
            _ => crate::icmp::V4_QUOTE,
        };
        self.held
            .set_last_quote(&packet[..packet.len().min(most)], to);
    }

    /// Held SYNs whose time is up and for which no outbound SYN came: their quotes
    /// and where the port unreachable about each goes (RFC 5382 REQ-4, RFC 6146
    /// §3.5.2.2).
    pub(crate) fn release_held(&mut self, now: u32, budget: usize) -> Vec<Released> {
        self.held.release(now, budget)
    }

    /// A packet from the WAN to a pool address.
    pub(crate) fn inbound(&mut self, f: &Flow, now: u32) -> Decision {
        if f.protocol == IpProtocol::Icmp && f.icmp_type != Icmpv4Type::EchoReply {
            return Decision::Drop(DropReason::UnsupportedIcmp);
        }
        match self.inbound_session(f, now) {
            Ok(s) => {
                let session = *self.table.session(s);
                let mut rewrite = Rewrite {
                    dst: Some(v4(session.in_addr)),
                    ..Rewrite::new()
                };
                if f.protocol == IpProtocol::Icmp {
                    rewrite.icmp_id = Some(session.in_port);
                } else {
                    rewrite.dst_port = Some(session.in_port);
                }
                let egress = Interface::Subscriber(self.table.session_subscriber(s));
                Decision::Translate {
                    rewrite,
                    egress,
                    hairpin: false,
                    session: Some(s),
                }
            }
            Err(reason) => Decision::Drop(reason),
        }
    }

    /// Session `s`'s TCP or UDP flow one way as its subscriber sees it
    /// (`outbound`: from the inside endpoint to the remote one; inbound: back)
    /// and the place flow accounting keeps its record at; `None` for ICMP, whose
    /// accounted flow is by type and code, not by the session's identifier.
    pub(crate) fn accounted(&mut self, s: u32, outbound: bool) -> Option<(FlowKey, &mut u32)> {
        let session = *self.table.session(s);
        if session.protocol != TCP && session.protocol != UDP {
            return None;
        }
        let inside = (Ipv4Addr::from(session.in_addr), session.in_port);
        let remote = (Ipv4Addr::from(session.rem_addr), session.rem_port);
        let ((src, sport), (dst, dport)) = if outbound {
            (inside, remote)
        } else {
            (remote, inside)
        };
        let key = FlowKey::v4(src, dst, (sport, dport), session.protocol);
        Some((key, self.table.accounting_place(s, !outbound)))
    }

    /// Whether sessions due to expire by `now` are still waiting (the last
    /// [`Nat::expire`] ran out of budget).
    pub(crate) fn expiry_behind(&self, now: u32) -> bool {
        self.table.expiry_behind(now)
    }

    /// Work that is due: expiry (bounded by `budget`). Returns how many buffered
    /// fragments were dropped because their first fragment never came.
    pub(crate) fn expire(&mut self, now: u32, budget: usize) -> u64 {
        self.table.expire(now, budget);
        if let Some(feed) = &mut self.feed {
            feed.expire(now, budget);
        }
        self.forget_drained();
        // The shared fragment table is looked at once a second (its timeouts are
        // in seconds), not under a lock on every packet.
        if now == self.fragments_checked {
            return 0;
        }
        self.fragments_checked = now;
        self.fragments.lock().expire(now, budget.saturating_mul(64))
    }

    /// A first fragment was translated as `applied`: remember it for the rest of
    /// the datagram, and return the fragments that came before it.
    pub(crate) fn first_fragment(
        &mut self,
        key: FragKey,
        applied: Applied,
        now: u32,
    ) -> Result<Vec<Vec<u8>>, DropReason> {
        self.fragments
            .lock()
            .first(key, applied, now)
            .map_err(|_| DropReason::FragmentLimit)
    }

    /// How the first fragment of `key`'s datagram was translated, if it passed.
    pub(crate) fn fragment_applied(&self, key: &FragKey) -> Option<Applied> {
        self.fragments.lock().applied(key)
    }

    /// Keeps a fragment that came before its first until the first comes (or the
    /// fragment timeout).
    pub(crate) fn hold_fragment(
        &mut self,
        key: FragKey,
        packet: &[u8],
        now: u32,
    ) -> Result<(), DropReason> {
        self.fragments
            .lock()
            .buffer(key, packet, now)
            .map_err(|_| DropReason::FragmentLimit)
    }

    /// The external endpoint `(address, port)` of the live session of inside
    /// endpoint `(addr, port)` with remote `(rem_addr, rem_port)` — for NAT64,
    /// whose ICMPv6 errors quote an IPv6 packet the NAT44 code cannot read.
    /// Never refreshes the session (RFC 5508 REQ-6, RFC 6146 §3.5.3).
    pub(crate) fn inside_session(
        &mut self,
        protocol: IpProtocol,
        (addr, port): (u32, u16),
        (rem_addr, rem_port): (u32, u16),
        now: u32,
    ) -> Option<(u32, u16)> {
        let key = Key {
            addr,
            port,
            rem_addr,
            rem_port,
            protocol: u8::from(protocol),
        };
        let s = self.table.find_inside(&key, now)?;
        let s = self.table.session(s);
        Some((s.out_addr, s.out_port))
    }
}
