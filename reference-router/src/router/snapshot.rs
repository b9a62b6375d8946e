//! A [`Snapshot`] of everything the router counts and holds, read from each
//! part through its own methods.

use super::Router;
use crate::iface::{Interface, SubscriberId};
use crate::stats::{DrainingAddress, Snapshot, SubscriberUse};
use std::collections::BTreeSet;

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
        // Every worker lists every `[[subscriber]]` (only the owner has use),
        // and the range subscribers it holds state for, in id order.
        // (A `[[subscriber]]` added by a reload has an id past the ranges' and
        // is kept with theirs: listed once.)
        let ranged: BTreeSet<SubscriberId> = self
            .nat
            .range_subscribers()
            .chain(self.firewall.range_subscribers())
            .chain(self.counters.range_subscribers())
            .filter(|&sub| !self.links.is_entry(sub))
            .collect();
        s.subscribers = self
            .links
            .subscribers()
            .chain(ranged)
            .map(|sub| self.subscriber_use(sub))
            .collect();
        s.shapers = self.egress.usage(|i| match i {
            Interface::Subscriber(sub) => self.links.subscriber_name(sub),
            Interface::Wan => self.links.name(i).to_string(),
        });
        s.datapath = self.datapath.clone();
        s.fastpath = self.fast_use.clone();
        s.nat64_hosts = self.translation.aliases.len() as u64;
        s.ipfix = self.ipfix_use();
        s.takeover = self.nat.takeover_use();
        s.draining = self
            .nat
            .draining()
            .into_iter()
            .map(|(address, sessions, mappings)| DrainingAddress {
                address,
                sessions: u64::from(sessions),
                mappings: u64::from(mappings),
            })
            .collect();
        s
    }

    /// Subscriber `sub`'s use of the NAT and the firewall, and its traffic.
    fn subscriber_use(&self, sub: SubscriberId) -> SubscriberUse {
        let (public_ipv4, ports, sessions) = self.nat.subscriber_use(sub);
        SubscriberUse {
            name: self.links.subscriber_name(sub),
            public_ipv4,
            ports,
            sessions,
            ipv6_flows: self.firewall.subscriber_flows(sub),
            blocks: self.nat.subscriber_blocks(sub),
            traffic: self.counters.subscriber_traffic(sub),
        }
    }
}
