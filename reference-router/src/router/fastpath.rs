//! The router's fast-path decisions (issue 27): after it forwarded a packet of
//! a NAT44 session that the in-kernel program may carry, it emits the session
//! for installation; it takes the program's counts back as if it had forwarded
//! those packets itself (counters, per-subscriber counts, IPFIX accounting, the
//! session's idle timer); and it reports sessions that end while installed.
//!
//! A flow may use the fast path when `[fastpath] mode = "ebpf"`, it is TCP
//! (established) or UDP, its subscriber belongs to a `[[subscriber_range]]`,
//! it goes between that subscriber and the WAN (no hairpin), and no shaper
//! applies to it (`[wan] rate_mbps` or the range's `rate_mbps`: a shaped
//! subscriber's flows stay on the slow path, where the shaper is).

use super::Router;
use crate::config::FastPathHook;
use crate::fastpath::{FastCounts, FastPathChange, Flow4, Flow6, Nat44, Routed6};
use crate::firewall::FastFlow6;
use crate::iface::{Direction, Interface};
use crate::nat::table::{Key, Session};
use crate::stats::Family;
use sixfold_rewrite::IpProtocol;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

fn endpoint(addr: u32, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(addr), port)
}

impl Router {
    /// After NAT session `s` forwarded a packet from `direction` to `egress`:
    /// offers the session to the fast path if it may use it.
    pub(super) fn offer_fast(&mut self, direction: Direction, egress: Interface, s: u32) {
        let Some(range) = self.fast_range(direction, egress) else {
            return;
        };
        if let Some(session) = self.nat.fast_offer(s) {
            let change = FastPathChange::Install(nat44(&session, range));
            self.fast_changes.push_back(change);
        }
    }

    /// After IPv6 firewall flow `f` forwarded a packet from `direction` to
    /// `egress`: offers the flow to the fast path if it may use it.
    pub(super) fn offer_fast6(&mut self, direction: Direction, egress: Interface, f: u32) {
        let Some(range) = self.fast_range(direction, egress) else {
            return;
        };
        if let Some(flow) = self.firewall.fast_offer(f) {
            let change = FastPathChange::Install6(routed6(&flow, range));
            self.fast_changes.push_back(change);
        }
    }

    /// The range of the subscriber of a packet from `direction` to `egress`,
    /// if that packet's flow may use the fast path: the fast path is on, the
    /// packet goes between a range subscriber and the WAN, no shaper applies.
    fn fast_range(&self, direction: Direction, egress: Interface) -> Option<usize> {
        if !self.config.fastpath.on() || self.config.wan.rate_mbps.is_some() {
            return None;
        }
        let sub = match (direction, egress) {
            (Direction::Outbound(sub), Interface::Wan) => sub,
            (Direction::Inbound, Interface::Subscriber(sub)) => sub,
            _ => return None,
        };
        let range = self.links.range_index(sub)?;
        self.config.subscriber_range[range]
            .rate_mbps
            .is_none()
            .then_some(range)
    }

    /// The next change to the fast path's flows, for the I/O loop to apply:
    /// removals of sessions and flows that ended come before anything else.
    pub fn poll_fastpath_change(&mut self) -> Option<FastPathChange> {
        for session in self.nat.fast_removed() {
            // The range does not matter for a removal.
            let change = FastPathChange::Remove(nat44(&session, 0));
            self.fast_changes.push_front(change);
        }
        for flow in self.firewall.fast_removed() {
            let change = FastPathChange::Remove6(routed6(&flow, 0));
            self.fast_changes.push_front(change);
        }
        self.fast_changes.pop_front()
    }

    /// The family's forwarding counters and the fast path's own take what the
    /// program forwarded of one flow, both directions.
    fn count_fast(&mut self, family: Family, protocol: IpProtocol, counts: &FastCounts) {
        for (out, (packets, bytes)) in [(true, counts.outbound), (false, counts.inbound)] {
            if packets > 0 {
                self.counters.forward(family, out, protocol, packets, bytes);
                self.fast_use.packets += packets;
                self.fast_use.bytes += bytes;
            }
        }
    }

    /// [`Router::fastpath_seen`] for the IPv6 flow whose outbound direction is
    /// `outbound`.
    pub fn fastpath_seen6(&mut self, outbound: &Flow6, counts: FastCounts, now: Instant) {
        let second = self.set_clock(now);
        self.count_fast(Family::V6, IpProtocol::from(outbound.protocol), &counts);
        let flow = fast_flow6(outbound);
        let last_seen = counts
            .idle
            .map_or(0, |idle| second.saturating_sub(idle.as_secs() as u32));
        let Some(f) = self.firewall.fast_seen(&flow, last_seen, second) else {
            return;
        };
        let sub = self.firewall.flow_subscriber(f);
        let links = [
            (Direction::Outbound(sub), Interface::Wan, counts.outbound),
            (
                Direction::Inbound,
                Interface::Subscriber(sub),
                counts.inbound,
            ),
        ];
        for (direction, egress, wire) in links {
            if wire.0 > 0 && !self.account_flow_v6((direction, egress), f, wire) {
                self.count_subscribers(Family::V6, (direction, egress), wire);
            }
        }
    }

    /// [`Router::fastpath_forget`] for an IPv6 flow.
    pub fn fastpath_forget6(&mut self, outbound: &Flow6, now: Instant) {
        let second = self.set_clock(now);
        self.firewall.fast_forget(&fast_flow6(outbound), second);
    }

    /// The program forwarded `counts` of the session whose outbound flow is
    /// `outbound` (as the subscriber sends it): counted as if the router had
    /// forwarded them, and the session's idle timer runs from its last packet.
    /// A session already gone gets its counters all the same (packets the
    /// program forwarded before its removal).
    pub fn fastpath_seen(&mut self, outbound: &Flow4, counts: FastCounts, now: Instant) {
        let second = self.set_clock(now);
        self.count_fast(Family::V4, IpProtocol::from(outbound.protocol), &counts);
        let key = inside_key(outbound);
        let last_seen = counts
            .idle
            .map_or(0, |idle| second.saturating_sub(idle.as_secs() as u32));
        let Some(s) = self.nat.fast_seen(&key, last_seen, second) else {
            return;
        };
        let sub = self.nat.session_subscriber(s);
        let links = [
            (Direction::Outbound(sub), Interface::Wan, counts.outbound),
            (
                Direction::Inbound,
                Interface::Subscriber(sub),
                counts.inbound,
            ),
        ];
        for (direction, egress, wire) in links {
            if wire.0 > 0 {
                self.account_session_link((direction, egress), s, wire);
            }
        }
    }

    /// The I/O loop's part of the fast path's report: the hook the program is
    /// attached on (none: not attached), sessions installed now, installs and
    /// failed installs since the start, and the program's counters (one
    /// worker reports them).
    pub fn fastpath_report(
        &mut self,
        attached: Option<FastPathHook>,
        (installed, installs, failed): (u64, u64, u64),
        program: &[(&str, u64)],
    ) {
        let u = &mut self.fast_use;
        u.attached = attached.is_some();
        u.hook = attached.map(|h| h.name().to_string());
        (u.installed, u.installs, u.install_failed) = (installed, installs, failed);
        u.program = program.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    }

    /// The fast path no longer holds the session of `outbound` (turned off):
    /// the router may offer it again later.
    pub fn fastpath_forget(&mut self, outbound: &Flow4, now: Instant) {
        let second = self.set_clock(now);
        self.nat.fast_forget(&inside_key(outbound), second);
    }
}

fn inside_key(outbound: &Flow4) -> Key {
    Key {
        addr: u32::from(*outbound.src.ip()),
        port: outbound.src.port(),
        rem_addr: u32::from(*outbound.dst.ip()),
        rem_port: outbound.dst.port(),
        protocol: outbound.protocol,
    }
}

fn nat44(s: &Session, range: usize) -> Nat44 {
    let flow = |src, dst| Flow4 {
        protocol: s.protocol,
        src,
        dst,
    };
    let inside = endpoint(s.in_addr, s.in_port);
    let public = endpoint(s.out_addr, s.out_port);
    let remote = endpoint(s.rem_addr, s.rem_port);
    Nat44 {
        outbound: (flow(inside, remote), flow(public, remote)),
        inbound: (flow(remote, public), flow(remote, inside)),
        range,
    }
}

fn routed6(f: &FastFlow6, range: usize) -> Routed6 {
    let flow = |src, dst| Flow6 {
        protocol: f.protocol,
        src,
        dst,
    };
    Routed6 {
        outbound: flow(f.inside, f.remote),
        inbound: flow(f.remote, f.inside),
        range,
    }
}

fn fast_flow6(outbound: &Flow6) -> FastFlow6 {
    FastFlow6 {
        inside: outbound.src,
        remote: outbound.dst,
        protocol: outbound.protocol,
        // Not part of the key.
        subscriber: 0,
    }
}
