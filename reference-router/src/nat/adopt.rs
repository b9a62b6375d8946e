//! Sessions created on fed mappings (`[takeover]`, [`super::takeover`]): the
//! first packet of an established flow — a TCP segment without SYN, a UDP
//! datagram — either way, of a fed mapping's inside or public endpoint.
//! Outbound, only from the fed mapping's own subscriber; inbound, the fed
//! mapping says where it goes (a download's data arrives before the
//! subscriber sends anything). The session takes the established TCP timer:
//! the flow was established at the predecessor.

use super::table::{Full, Key};
use super::takeover::Feed;
use super::{Flow, Nat, tcp};
use crate::config::Config;
use crate::iface::SubscriberId;
use crate::layout::Layout;
use crate::stats::TakeoverUse;
use sixfold_rewrite::IpProtocol;
use std::net::SocketAddr;

/// Whether `f` is a packet of an established flow: TCP without SYN (and
/// without RST: a reset ends a flow, it carries none), or UDP.
fn established(f: &Flow) -> bool {
    match f.protocol {
        IpProtocol::Tcp => f.tcp_flags & (tcp::FLAG_SYN | tcp::FLAG_RST) == 0,
        IpProtocol::Udp => true,
        _ => false,
    }
}

impl Nat {
    /// Sets up the feed of `config`'s `[takeover]` (none without it): the
    /// slice's addresses join the table's pool (never given out: only fed
    /// mappings use them) and the public addresses the NAT answers for.
    pub(crate) fn configure_takeover(&mut self, config: &Config, layout: &Layout) {
        let Some(t) = &config.takeover else {
            self.feed = None;
            return;
        };
        let addresses = Feed::slice_addresses(t, config);
        let first = addresses.first().map(|&a| self.table.add_address(a));
        for &a in &addresses[1.min(addresses.len())..] {
            self.table.add_address(a);
        }
        self.pool.extend(addresses.iter().copied());
        for &a in &addresses {
            self.pool_span = (self.pool_span.0.min(a), self.pool_span.1.max(a));
        }
        self.feed = first.and_then(|first| Feed::new(config, layout, self.shard, first));
    }

    /// A datagram that arrived at `[takeover] listen` from `source`.
    pub(crate) fn takeover_datagram(&mut self, source: SocketAddr, bytes: &[u8], now: u32) {
        if let Some(feed) = &mut self.feed {
            feed.datagram(source, bytes, now);
        }
    }

    /// The takeover's counters (zero without `[takeover]`).
    pub(crate) fn takeover_use(&self) -> TakeoverUse {
        self.feed.as_ref().map(Feed::counts).unwrap_or_default()
    }

    /// The subscriber that owns slice endpoint `(public, port)` by the
    /// predecessor's arithmetic, if the takeover covers it.
    pub(crate) fn slice_owner(
        &self,
        public: std::net::Ipv4Addr,
        port: u16,
    ) -> Option<SubscriberId> {
        self.feed.as_ref()?.owner_of(public, port)
    }

    /// A session on the fed mapping of `key`'s inside endpoint for an
    /// outbound packet `f` of subscriber `sub`: `None` if there is none to
    /// adopt (no feed, not established, no fed mapping of this subscriber);
    /// a mid-stream TCP segment with none is counted `takeover.unfed`.
    pub(super) fn adopt_outbound(
        &mut self,
        sub: SubscriberId,
        key: &Key,
        f: &Flow,
        now: u32,
    ) -> Option<Result<u32, Full>> {
        if !established(f) || self.table.has_mapping(key) {
            return None;
        }
        let feed = self.feed.as_mut()?;
        let inside = Key::endpoint(key.protocol, key.addr, key.port);
        let fed = match feed.take_inside(&inside) {
            Some(fed) if fed.subscriber == sub => fed,
            other => {
                if let Some(fed) = other {
                    feed.put_back(fed);
                }
                if f.protocol == IpProtocol::Tcp {
                    feed.counts.unfed += 1;
                }
                return None;
            }
        };
        Some(self.adopt(fed, (key.rem_addr, key.rem_port), f, now, true))
    }

    /// A session on the fed mapping of public endpoint `(f.dst, f.dport)`
    /// for inbound packet `f`: `None` if there is none to adopt.
    pub(super) fn adopt_inbound(&mut self, f: &Flow, now: u32) -> Option<Result<u32, Full>> {
        let feed = self.feed.as_mut()?;
        if !established(f) {
            return None;
        }
        let fed = feed.take_outside(&Key::endpoint(u8::from(f.protocol), f.dst, f.dport))?;
        Some(self.adopt(fed, (f.src, f.sport), f, now, false))
    }

    fn adopt(
        &mut self,
        fed: super::table::Fed,
        (rem_addr, rem_port): (u32, u16),
        f: &Flow,
        now: u32,
        outbound: bool,
    ) -> Result<u32, Full> {
        let protocol = u8::from(f.protocol);
        let result = self.table.adopt(&fed).and_then(|m| {
            let expires = now + self.timeout(protocol, tcp::SYN_OUT | tcp::SYN_IN);
            self.table
                .create_session(m, rem_addr, rem_port, now, expires)
        });
        let feed = self.feed.as_mut().expect("adopting with a feed");
        match result {
            Ok(s) => {
                feed.counts.adopted += 1;
                if protocol == super::TCP {
                    self.table
                        .session_mut(s)
                        .set_tcp(tcp::SYN_OUT | tcp::SYN_IN);
                }
                self.touch(s, f.tcp_flags, outbound, now);
                Ok(s)
            }
            Err(full) => {
                // Kept for a later packet, once the subscriber has room.
                feed.put_back(fed);
                Err(full)
            }
        }
    }
}
