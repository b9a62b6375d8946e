//! Work that is due at a time rather than on a packet: expiry of NAT sessions,
//! fragment state and firewall flows; held SYNs whose time is up (answered with an
//! ICMP error); unsolicited router advertisements. Each packet and each idle tick
//! runs it with a bounded budget, so no packet waits behind a backlog.

use super::Router;
use crate::icmp::IcmpError;
use crate::icmp::ra::{self, Advertisement};
use crate::iface::{Interface, SubscriberId};
use crate::stats::{DropReason, IcmpSent};
use serde::{Deserialize, Serialize};

/// Records looked at per call, per kind of work.
const BUDGET: usize = 64;

#[derive(Serialize, Deserialize)]
pub(super) struct Timers {
    /// When the next unsolicited router advertisement is due (0: at start).
    pub(super) next_ra: u32,
}

impl Timers {
    pub(super) fn new() -> Timers {
        Timers { next_ra: 0 }
    }
}

impl Router {
    pub(super) fn run_timers(&mut self, now: u32) {
        self.advertise_if_due(now);
        let lost = self.nat.expire(now, BUDGET);
        self.counters.drops(DropReason::FragmentTimeout, lost);
        self.firewall.expire(now, BUDGET);
        self.translation.aliases.sweep(now, BUDGET);
        self.export_due(now);
        for (quote, to) in self.firewall.release_held(now, BUDGET) {
            // RFC 6092: no outbound SYN came; administratively prohibited.
            if quote.len() >= 40 {
                self.report_later(&quote, IcmpError::Ipv6AdminProhibited, to, now);
            }
        }
        for (quote, to) in self.nat.release_held(now, BUDGET) {
            // RFC 5382 REQ-4, RFC 6146 §3.5.2.2: no outbound SYN came; port
            // unreachable, from the address the SYN was sent to, in the family
            // it was sent in (an IPv6-only subscriber's hairpinned SYN).
            let error = match quote.first().map(|b| b >> 4) {
                Some(4) if quote.len() >= 20 => IcmpError::PortUnreachable,
                Some(6) if quote.len() >= 40 => IcmpError::Ipv6PortUnreachable,
                _ => continue,
            };
            self.report_later(&quote, error, to, now);
        }
    }

    /// Unsolicited advertisements into every subscriber link with a prefix
    /// (RFC 4861 §6.2.4), the first at start.
    fn advertise_if_due(&mut self, now: u32) {
        if !self.config.router.ra || now < self.timers.next_ra {
            return;
        }
        self.timers.next_ra = now + self.config.router.ra_interval;
        for sub in self.links.subscribers() {
            if self.links.slaac_prefixes(sub).is_empty() || !self.shard.owns_subscriber(sub) {
                continue;
            }
            let ad = self.advertisement(sub);
            self.counters.icmp(IcmpSent::RouterAdvertisement);
            self.egress.push(
                Interface::Subscriber(sub),
                ad,
                Default::default(),
                &mut self.counters,
            );
        }
    }

    /// Subscriber `sub`'s router advertisement.
    pub(super) fn advertisement(&self, sub: SubscriberId) -> Vec<u8> {
        let ad = Advertisement {
            prefixes: self.links.slaac_prefixes(sub),
            mtu: self.links.mtu(Interface::Subscriber(sub)) as u32,
            rdnss: &self.config.router.rdnss,
            interval: self.config.router.ra_interval,
            pref64: self.pref64(),
        };
        ra::router_advertisement(&ad)
    }
}
