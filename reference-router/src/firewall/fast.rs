//! The IPv6 firewall's side of the fast path (issue 27), as the NAT's
//! (`crate::nat`'s `fast`): a TCP (established) or UDP flow is offered once;
//! the program's last-seen time refreshes it (plus the reading's slack); a
//! flow removed while installed is reported.

use super::{Firewall, Key};
use crate::fastpath::SYNC_SECONDS;
use crate::iface::SubscriberId;
use crate::nat::tcp;
use sixfold_rewrite::IpProtocol;
use std::net::{Ipv6Addr, SocketAddrV6};

/// A firewall flow as the fast path names it: the subscriber's endpoint, the
/// remote one, the protocol number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FastFlow6 {
    pub(crate) inside: SocketAddrV6,
    pub(crate) remote: SocketAddrV6,
    pub(crate) protocol: u8,
    pub(crate) subscriber: SubscriberId,
}

fn key_of(f: &FastFlow6) -> Key {
    Key {
        inside: *f.inside.ip(),
        remote: *f.remote.ip(),
        in_port: f.inside.port(),
        rem_port: f.remote.port(),
        protocol: IpProtocol::from(f.protocol),
    }
}

fn fast_flow(key: &Key, subscriber: SubscriberId) -> FastFlow6 {
    let at = |a: Ipv6Addr, p| SocketAddrV6::new(a, p, 0, 0);
    FastFlow6 {
        inside: at(key.inside, key.in_port),
        remote: at(key.remote, key.rem_port),
        protocol: key.protocol.number(),
        subscriber,
    }
}

impl Firewall {
    /// Marks flow `index` installed and returns it, if it may use the fast
    /// path now and is not installed yet.
    pub(crate) fn fast_offer(&mut self, index: u32) -> Option<FastFlow6> {
        let flow = &mut self.flows[index as usize];
        // UDP at its second packet, as a NAT session (`nat::fast`).
        let ready = match flow.key.protocol {
            IpProtocol::Tcp => tcp::established(flow.tcp),
            IpProtocol::Udp => std::mem::replace(&mut flow.repeated, true),
            _ => false,
        };
        if flow.fast || !ready || !flow.live {
            return None;
        }
        flow.fast = true;
        Some(fast_flow(&flow.key, flow.subscriber))
    }

    /// Flow `f` refreshed as if its last packet passed at second `last_seen`:
    /// its index, `None` if it is gone.
    pub(crate) fn fast_seen(&mut self, f: &FastFlow6, last_seen: u32, now: u32) -> Option<u32> {
        let index = self.find(&key_of(f), now)?;
        let flow = self.flows[index as usize];
        let expires = last_seen + self.timeout(flow.key.protocol, flow.tcp) + SYNC_SECONDS;
        if expires > flow.expires {
            // Longer: the wheel moves it when it reaches its slot.
            self.flows[index as usize].expires = expires;
        }
        Some(index)
    }

    /// Flow `f` is no longer installed (the fast path was turned off).
    pub(crate) fn fast_forget(&mut self, f: &FastFlow6, now: u32) {
        if let Some(index) = self.find(&key_of(f), now) {
            self.flows[index as usize].fast = false;
        }
    }

    /// The flows removed while installed, since the last call.
    pub(crate) fn fast_removed(&mut self) -> Vec<FastFlow6> {
        std::mem::take(&mut self.fast_removed)
            .iter()
            .map(|f| fast_flow(&f.key, f.subscriber))
            .collect()
    }

    /// The subscriber of flow `index`.
    pub(crate) fn flow_subscriber(&self, index: u32) -> SubscriberId {
        self.flows[index as usize].subscriber
    }
}
