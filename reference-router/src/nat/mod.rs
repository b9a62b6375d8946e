//! NAPT44 (RFC 4787, 5382, 5508, 6888, 7857): decides, per packet, what the packet
//! becomes — the [`sixfold_rewrite::Rewrite`] to apply and the egress interface — and
//! keeps the sessions. The router applies the rewrite (one pass over the header that
//! patches every checksum) after its own checks.
//!
//! Flows are keyed by (protocol, local address, local port, remote address, remote
//! port); ICMP queries use the identifier as the local port and 0 as the remote one
//! (RFC 5508 REQ-1a: query mappings are endpoint-independent).

pub(crate) mod frag;
pub(crate) mod ports;
pub(crate) mod table;
pub(crate) mod tcp;

use crate::config::{Filtering, Nat as NatConfig};
use crate::hold::SynHold;
use crate::router::Interface;
use crate::stats::DropReason;
use foldhash::fast::RandomState;
use sixfold_rewrite::{QuotedPacket, QuotedRewrite, Rewrite};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use table::{Full, Key, Limits, Table};

/// What the NAT decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Apply `rewrite` and send out `egress`.
    Translate {
        rewrite: Rewrite,
        egress: Interface,
        hairpin: bool,
    },
    /// Drop silently (counted).
    Drop(DropReason),
    /// No mapping could be created: drop and send ICMP 3/13 back (RFC 5508 REQ-8).
    Refuse(DropReason),
}

/// The parts of an IPv4 packet the NAT looks at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flow {
    pub(crate) protocol: u8,
    pub(crate) src: u32,
    pub(crate) dst: u32,
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    pub(crate) tcp_flags: u8,
    pub(crate) icmp_type: u8,
}

pub(crate) struct Nat {
    pub(crate) table: Table,
    pool: HashSet<u32, RandomState>,
    filtering: Filtering,
    hairpin: bool,
    timeouts: crate::config::Timeouts,
    held: SynHold<Key>,
    pub(crate) fragments: frag::Fragments,
}

const ECHO_REQUEST: u8 = 8;
const ECHO_REPLY: u8 = 0;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn v4(a: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

/// The ports of a TCP/UDP header or the query fields of an ICMP header in `l4`
/// (`outbound` decides which side an ICMP identifier belongs to).
pub(crate) fn flow(
    protocol: u8,
    src: u32,
    dst: u32,
    l4: &[u8],
    outbound: bool,
) -> Result<Flow, DropReason> {
    let mut f = Flow {
        protocol,
        src,
        dst,
        sport: 0,
        dport: 0,
        tcp_flags: 0,
        icmp_type: 0,
    };
    match protocol {
        6 | 17 => {
            let need = if protocol == 6 { 20 } else { 8 };
            if l4.len() < need {
                return Err(DropReason::Malformed);
            }
            f.sport = be16(l4, 0);
            f.dport = be16(l4, 2);
            if protocol == 6 {
                f.tcp_flags = l4[13];
            }
        }
        1 => {
            if l4.len() < 8 {
                return Err(DropReason::Malformed);
            }
            f.icmp_type = l4[0];
            let id = be16(l4, 4);
            if outbound { f.sport = id } else { f.dport = id }
        }
        _ => return Err(DropReason::UnsupportedProtocol),
    }
    Ok(f)
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
    pub(crate) fn new(config: &NatConfig, subscribers: usize, seed: u64, now: u32) -> Nat {
        let pool: Vec<u32> = config.pool_addresses().into_iter().map(u32::from).collect();
        let limits = Limits {
            max_sessions: config.max_sessions,
            sessions_per_subscriber: config.sessions_per_subscriber,
            ports_per_subscriber: config.ports_per_subscriber,
            preserve: config.port_preservation,
            parity: config.port_parity,
            mapping: config.mapping,
            track_addresses: config.filtering == Filtering::Adf,
        };
        let t = &config.timeouts;
        Nat {
            pool: pool.iter().copied().collect(),
            table: Table::new(pool, subscribers, limits, t.port_reuse_delay, seed, now),
            filtering: config.filtering,
            hairpin: config.hairpin,
            timeouts: t.clone(),
            held: SynHold::new(config.max_held_syns as usize, t.syn_hold),
            fragments: frag::Fragments::new(
                config.max_fragment_flows,
                config.max_fragment_bytes,
                t.fragments,
            ),
        }
    }

    pub(crate) fn is_public(&self, addr: u32) -> bool {
        self.pool.contains(&addr)
    }

    /// The first pool address: the source of errors the router sends to the WAN.
    pub(crate) fn first_public(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.table.pool[0])
    }

    fn timeout(&self, protocol: u8, tcp_state: u8) -> u32 {
        self.timeouts.idle(protocol, tcp_state)
    }

    /// Refreshes session `s` for a packet with `flags` (RFC 4787 REQ-6: outbound
    /// refresh; inbound refreshes too).
    fn touch(&mut self, s: u32, flags: u8, outbound: bool, now: u32) {
        let session = self.table.session_mut(s);
        let protocol = session.protocol;
        if protocol == 6 {
            session.tcp = tcp::next(session.tcp, flags, outbound);
        }
        let state = session.tcp;
        let expires = now + self.timeout(protocol, state);
        self.table.set_expiry(s, expires);
    }

    /// A packet from subscriber `sub`.
    pub(crate) fn outbound(&mut self, sub: u16, f: &Flow, now: u32) -> Decision {
        if f.protocol == 1 && f.icmp_type != ECHO_REQUEST {
            return Decision::Drop(DropReason::UnsupportedIcmp);
        }
        let key = Key {
            addr: f.src,
            port: f.sport,
            rem_addr: f.dst,
            rem_port: f.dport,
            protocol: f.protocol,
        };
        let syn = f.protocol == 6 && tcp::opens(f.tcp_flags);
        let s = match self.table.find_inside(&key, now) {
            Some(s) => s,
            None => {
                if f.protocol == 6 && f.tcp_flags & tcp::FLAG_SYN == 0 {
                    // Mid-stream TCP with no state: nothing to translate to.
                    return Decision::Drop(DropReason::NoMapping);
                }
                let m = match self.table.mapping_for(sub, &key) {
                    Ok(m) => m,
                    Err(full) => return Decision::Refuse(refused(full)),
                };
                let expires = now + self.timeout(f.protocol, 0);
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
                protocol: 6,
            };
            self.held.cancel(&held);
        }
        let mut rewrite = Rewrite {
            src: Some(v4(session.out_addr)),
            ..Rewrite::new()
        };
        if f.protocol == 1 {
            rewrite.icmp_id = Some(session.out_port);
        } else {
            rewrite.src_port = Some(session.out_port);
        }
        if !self.is_public(f.dst) {
            return Decision::Translate {
                rewrite,
                egress: Interface::Wan,
                hairpin: false,
            };
        }
        if !self.hairpin {
            return Decision::Drop(DropReason::HairpinOff);
        }
        // Hairpin (RFC 4787 REQ-9, RFC 5382 REQ-8): back in as if from the WAN, with
        // the sender's external address and port as the source the peer sees.
        let back = Flow {
            src: session.out_addr,
            sport: session.out_port,
            ..*f
        };
        match self.inbound_session(&back, now) {
            Ok(peer) => {
                let p = *self.table.session(peer);
                rewrite.dst = Some(v4(p.in_addr));
                rewrite.dst_port = Some(p.in_port);
                let egress = Interface::Subscriber(p.subscriber);
                Decision::Translate {
                    rewrite,
                    egress,
                    hairpin: true,
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
            protocol: f.protocol,
        };
        if let Some(s) = self.table.find_outside(&key, now) {
            self.touch(s, f.tcp_flags, false, now);
            return Ok(s);
        }
        let syn = f.protocol == 6 && tcp::opens(f.tcp_flags);
        let mapping = self.table.find_mapping_outside(f.protocol, f.dst, f.dport);
        let admitted = match (mapping, self.filtering) {
            (None, _) => false,
            (Some(_), Filtering::Eif) => true,
            (Some(m), Filtering::Adf) => self.table.has_address(m, f.src),
            (Some(_), Filtering::Apdf) => false,
        };
        // A new inbound TCP flow starts with a SYN; ICMP replies never open one.
        let opens = match f.protocol {
            6 => syn,
            17 => true,
            _ => false,
        };
        match mapping {
            Some(m) if admitted && opens => {
                let expires = now + self.timeout(f.protocol, 0);
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

    /// Keeps the quote of the SYN just held (the router has the bytes).
    pub(crate) fn held_quote(&mut self, f: &Flow, packet: &[u8]) {
        let key = Key {
            addr: f.dst,
            port: f.dport,
            rem_addr: f.src,
            rem_port: f.sport,
            protocol: 6,
        };
        let ihl = usize::from(packet[0] & 0x0f) * 4;
        self.held
            .set_quote(&key, &packet[..packet.len().min(ihl + 20)]);
    }

    /// Held SYNs whose time is up and for which no outbound SYN came: their quotes,
    /// for ICMP port unreachable (RFC 5382 REQ-4).
    pub(crate) fn release_held(&mut self, now: u32, budget: usize) -> Vec<Vec<u8>> {
        self.held.release(now, budget)
    }

    /// A packet from the WAN to a pool address.
    pub(crate) fn inbound(&mut self, f: &Flow, now: u32) -> Decision {
        if f.protocol == 1 && f.icmp_type != ECHO_REPLY {
            return Decision::Drop(DropReason::UnsupportedIcmp);
        }
        match self.inbound_session(f, now) {
            Ok(s) => {
                let session = *self.table.session(s);
                let mut rewrite = Rewrite {
                    dst: Some(v4(session.in_addr)),
                    ..Rewrite::new()
                };
                if f.protocol == 1 {
                    rewrite.icmp_id = Some(session.in_port);
                } else {
                    rewrite.dst_port = Some(session.in_port);
                }
                let egress = Interface::Subscriber(session.subscriber);
                Decision::Translate {
                    rewrite,
                    egress,
                    hairpin: false,
                }
            }
            Err(reason) => Decision::Drop(reason),
        }
    }

    /// An ICMP error (`icmp` = the ICMP message) from subscriber `sub` about a packet it
    /// received: the outer source and the quoted destination become the external
    /// endpoint (RFC 5508 REQ-5). Never refreshes (REQ-6).
    pub(crate) fn outbound_error(&mut self, outer_dst: u32, icmp: &[u8], now: u32) -> Decision {
        let key = match quoted_key(icmp, false) {
            Ok(key) => key,
            Err(r) => return Decision::Drop(r),
        };
        let protocol = key.protocol;
        let Some(s) = self.table.find_inside(&key, now) else {
            return Decision::Drop(DropReason::IcmpErrorNoSession);
        };
        let s = *self.table.session(s);
        let mut quoted = QuotedRewrite {
            dst: Some(v4(s.out_addr)),
            ..QuotedRewrite::default()
        };
        set_quoted_port(&mut quoted, protocol, s.out_port, false);
        let mut rewrite = Rewrite {
            src: Some(v4(s.out_addr)),
            quoted: Some(quoted),
            ..Rewrite::new()
        };
        if !self.is_public(outer_dst) {
            return Decision::Translate {
                rewrite,
                egress: Interface::Wan,
                hairpin: false,
            };
        }
        if !self.hairpin {
            return Decision::Drop(DropReason::HairpinOff);
        }
        // About a hairpinned flow (RFC 5508 REQ-7): translate back in for the peer.
        let peer = Key {
            addr: key.rem_addr,
            port: key.rem_port,
            rem_addr: s.out_addr,
            rem_port: s.out_port,
            protocol,
        };
        let Some(p) = self.table.find_outside(&peer, now) else {
            return Decision::Drop(DropReason::IcmpErrorNoSession);
        };
        let p = *self.table.session(p);
        if let Some(q) = rewrite.quoted.as_mut() {
            q.src = Some(v4(p.in_addr));
            set_quoted_port(q, protocol, p.in_port, true);
        }
        rewrite.dst = Some(v4(p.in_addr));
        let egress = Interface::Subscriber(p.subscriber);
        Decision::Translate {
            rewrite,
            egress,
            hairpin: true,
        }
    }

    /// An ICMP error from the WAN to `outer_dst` about a packet the NAT sent out:
    /// back to the internal endpoint, quoted packet reverted (RFC 5508 REQ-4).
    pub(crate) fn inbound_error(&mut self, outer_dst: u32, icmp: &[u8], now: u32) -> Decision {
        let key = match quoted_key(icmp, true) {
            Ok(key) if key.addr == outer_dst => key,
            Ok(_) => return Decision::Drop(DropReason::IcmpErrorBadQuote),
            Err(r) => return Decision::Drop(r),
        };
        let protocol = key.protocol;
        let Some(s) = self.table.find_outside(&key, now) else {
            return Decision::Drop(DropReason::IcmpErrorNoSession);
        };
        let s = *self.table.session(s);
        let mut quoted = QuotedRewrite {
            src: Some(v4(s.in_addr)),
            ..QuotedRewrite::default()
        };
        set_quoted_port(&mut quoted, protocol, s.in_port, true);
        let rewrite = Rewrite {
            dst: Some(v4(s.in_addr)),
            quoted: Some(quoted),
            ..Rewrite::new()
        };
        let egress = Interface::Subscriber(s.subscriber);
        Decision::Translate {
            rewrite,
            egress,
            hairpin: false,
        }
    }

    /// Work that is due: expiry (bounded by `budget`).
    pub(crate) fn expire(&mut self, now: u32, budget: usize) -> u64 {
        self.table.expire(now, budget);
        self.fragments.expire(now, budget)
    }
}

fn set_quoted_port(q: &mut QuotedRewrite, protocol: u8, port: u16, source: bool) {
    match (protocol, source) {
        (1, _) => q.icmp_id = Some(port),
        (_, true) => q.src_port = Some(port),
        (_, false) => q.dst_port = Some(port),
    }
}

/// The quoted packet of an ICMPv4 error, checked per RFC 5508 REQ-3: the ICMP
/// checksum and the quoted IP header checksum must be right; the quoted transport
/// checksum is not checked (the quote is usually cut short).
fn quote(icmp: &[u8]) -> Result<QuotedPacket<'_>, DropReason> {
    if icmp.len() < 8 + 20 || !sixfold_checksum::verify(icmp) {
        return Err(DropReason::IcmpErrorBadChecksum);
    }
    let inner = &icmp[8..];
    let q = QuotedPacket::new(inner).map_err(|_| DropReason::IcmpErrorBadQuote)?;
    if q.is_ipv6() {
        return Err(DropReason::IcmpErrorBadQuote);
    }
    let ihl = usize::from(inner[0] & 0x0f) * 4;
    if inner.len() < ihl || !sixfold_checksum::verify(&inner[..ihl]) {
        return Err(DropReason::IcmpErrorBadChecksum);
    }
    Ok(q)
}

/// The NAT's key for the flow of the packet quoted in ICMP error `icmp`. From the
/// WAN the quote is a packet the NAT sent (its source is the NAT's side); from a
/// subscriber it is a packet the subscriber received (its destination is).
fn quoted_key(icmp: &[u8], from_wan: bool) -> Result<Key, DropReason> {
    let q = quote(icmp)?;
    let (protocol, src, sport, dst, dport) =
        quoted_flow(&q, from_wan).ok_or(DropReason::IcmpErrorBadQuote)?;
    Ok(if from_wan {
        Key {
            addr: src,
            port: sport,
            rem_addr: dst,
            rem_port: dport,
            protocol,
        }
    } else {
        Key {
            addr: dst,
            port: dport,
            rem_addr: src,
            rem_port: sport,
            protocol,
        }
    })
}

/// (protocol, source, source port, destination, destination port) of a quoted
/// packet; for a quoted ICMP query the identifier is the port of the side that
/// sent the query (`query_from_source`).
fn quoted_flow(q: &QuotedPacket<'_>, query_from_source: bool) -> Option<(u8, u32, u16, u32, u16)> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (q.src_addr(), q.dst_addr()) else {
        return None;
    };
    let (src, dst) = (u32::from(src), u32::from(dst));
    match q.protocol() {
        p @ (6 | 17) => Some((p, src, q.src_port()?, dst, q.dst_port()?)),
        1 => {
            let id = q.icmp_id()?;
            if query_from_source {
                Some((1, src, id, dst, 0))
            } else {
                Some((1, src, 0, dst, id))
            }
        }
        _ => None,
    }
}

/// Fields of the IPv4 header at `ip` the NAT needs.
pub(crate) fn addresses(ip: &[u8]) -> (u32, u32) {
    (be32(ip, 12), be32(ip, 16))
}
