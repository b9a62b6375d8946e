//! A [`Snapshot`] of everything the router counts and holds, read from each
//! part through its own methods.

use super::Router;
use crate::iface::Interface;
use crate::stats::{Snapshot, SubscriberUse};

impl Router {
    /// The counters, sessions, flows and per-subscriber use.
    pub fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot::default();
        self.counters.fill(&mut s);
        s.sessions = u64::from(self.nat.live_sessions());
        s.mappings = u64::from(self.nat.live_mappings());
        s.sessions_created = self.nat.sessions_created();
        s.sessions_expired = self.nat.sessions_expired();
        s.ipv6_flows = u64::from(self.firewall.live());
        s.ipv6_flows_created = self.firewall.created();
        s.ipv6_flows_expired = self.firewall.expired();
        s.subscribers = self
            .links
            .subscribers()
            .map(|sub| {
                // Every worker lists every subscriber; only the owner has use.
                let (public_ipv4, ports, sessions) = self.nat.subscriber_use(usize::from(sub));
                SubscriberUse {
                    name: self.links.name(Interface::Subscriber(sub)).to_string(),
                    public_ipv4,
                    ports,
                    sessions,
                    ipv6_flows: self.firewall.subscriber_flows(usize::from(sub)),
                    blocks: self.nat.subscriber_blocks(usize::from(sub)),
                    traffic: self.counters.subscriber_traffic(sub),
                }
            })
            .collect();
        s.shapers = self.egress.usage(|i| self.links.name(i));
        s.datapath = self.datapath.clone();
        s.nat64_hosts = self.translation.aliases.len() as u64;
        s.ipfix = self.ipfix_use();
        s
    }
}
