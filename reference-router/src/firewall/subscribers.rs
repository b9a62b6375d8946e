//! The firewall's view of subscribers: each one's inbound policy (`open`,
//! `open_ports`), the `[[subscriber_range]]`s whose ids share one, and the
//! announce routes of ranges with `announce` — a route per subscriber prefix
//! while that subscriber has flows here.

use super::Firewall;
use crate::config::{Config, OpenPort};
use crate::iface::{RouteChange, SubscriberId};
use crate::layout::Layout;
use foldhash::fast::RandomState;
use ipnet::Ipv6Net;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// A subscriber's inbound policy.
#[derive(Clone, Debug, Default)]
pub(super) struct Policy {
    pub(super) open: bool,
    pub(super) open_ports: Vec<OpenPort>,
}

/// Each `[[subscriber]]`'s policy in `config`, by its id in `layout`.
pub(super) fn policies(
    config: &Config,
    layout: &Layout,
) -> HashMap<SubscriberId, Policy, RandomState> {
    layout
        .subscribers()
        .map(|(i, id)| {
            let s = &config.subscriber[i];
            let policy = Policy {
                open: s.open,
                open_ports: s.open_ports.clone(),
            };
            (id, policy)
        })
        .collect()
}

/// The ranges of `config`, with their ids in `layout`.
pub(super) fn ranges(config: &Config, layout: &Layout) -> Vec<Range> {
    layout
        .ranges()
        .zip(&config.subscriber_range)
        .map(|((first, count), range)| Range {
            first,
            count,
            policy: Policy {
                open: range.open,
                open_ports: range.open_ports.clone(),
            },
            announce: range.announce.then(|| range.clone()),
        })
        .collect()
}

/// A `[[subscriber_range]]`: its ids, their shared policy, and its subscribers'
/// IPv6 prefixes if it announces them.
#[derive(Clone, Debug)]
pub(super) struct Range {
    pub(super) first: SubscriberId,
    pub(super) count: u32,
    pub(super) policy: Policy,
    pub(super) announce: Option<crate::config::SubscriberRange>,
}

/// Announce routes: subscribers whose flow count left or reached zero since the
/// last poll, and those reported as announced.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Announcements {
    /// Withdrawals of subscribers a reload removed, reported first.
    withdrawn: Vec<RouteChange>,
    dirty: Vec<SubscriberId>,
    marked: HashSet<SubscriberId>,
    announced: HashSet<SubscriberId>,
}

impl Firewall {
    /// Live flows of subscriber `sub`.
    pub(crate) fn subscriber_flows(&self, sub: SubscriberId) -> u32 {
        *self.subscriber_flows.get(sub)
    }

    /// Range subscribers with flows here.
    pub(crate) fn range_subscribers(&self) -> impl Iterator<Item = SubscriberId> + '_ {
        self.subscriber_flows.sparse_ids()
    }

    /// The range subscriber `sub` belongs to.
    fn range_of(&self, sub: SubscriberId) -> Option<&Range> {
        self.ranges
            .iter()
            .find(|r| sub >= r.first && sub - r.first < r.count)
    }

    pub(super) fn policy(&self, sub: SubscriberId) -> &Policy {
        static CLOSED: Policy = Policy {
            open: false,
            open_ports: Vec::new(),
        };
        match self.policies.get(&sub) {
            Some(p) => p,
            None => self.range_of(sub).map_or(&CLOSED, |r| &r.policy),
        }
    }

    /// Notes that `sub`'s flows left or reached zero, if its range announces.
    pub(super) fn mark_announce(&mut self, sub: SubscriberId) {
        let announces = self.range_of(sub).is_some_and(|r| r.announce.is_some());
        let a = &mut self.announcements;
        if announces && a.marked.insert(sub) {
            a.dirty.push(sub);
        }
    }

    /// The IPv6 prefix of an announcing range's subscriber.
    fn announced_prefix(&self, sub: SubscriberId) -> Option<Ipv6Net> {
        let r = self.range_of(sub)?;
        r.announce.as_ref()?.ipv6_of(sub - r.first)
    }

    /// The next change to the announce routes: a subscriber's first flow
    /// announces its prefix, its last flow's end withdraws it.
    pub(crate) fn poll_route_change(&mut self) -> Option<RouteChange> {
        if let Some(change) = self.announcements.withdrawn.pop() {
            return Some(change);
        }
        while let Some(sub) = self.announcements.dirty.pop() {
            self.announcements.marked.remove(&sub);
            let want = *self.subscriber_flows.get(sub) > 0;
            let have = self.announcements.announced.contains(&sub);
            if want == have {
                continue;
            }
            let Some(prefix) = self.announced_prefix(sub) else {
                continue;
            };
            return Some(if want {
                self.announcements.announced.insert(sub);
                RouteChange::Announce(prefix)
            } else {
                self.announcements.announced.remove(&sub);
                RouteChange::Withdraw(prefix)
            });
        }
        None
    }

    /// Withdraws the announced prefixes of the subscribers `gone` says a
    /// reload removed (while their ranges are still known): reported by
    /// [`Firewall::poll_route_change`] first.
    pub(super) fn withdraw_gone(&mut self, gone: &dyn Fn(SubscriberId) -> bool) {
        let subs: Vec<SubscriberId> = self
            .announcements
            .announced
            .iter()
            .copied()
            .filter(|&s| gone(s))
            .collect();
        for sub in subs {
            self.announcements.announced.remove(&sub);
            self.announcements.marked.remove(&sub);
            if let Some(prefix) = self.announced_prefix(sub) {
                self.announcements
                    .withdrawn
                    .push(RouteChange::Withdraw(prefix));
            }
        }
        self.announcements.dirty.retain(|&s| !gone(s));
    }

    /// Withdraws every announced prefix (the router stops): the changes come
    /// out of [`Firewall::poll_route_change`].
    pub(crate) fn withdraw_all(&mut self) -> Vec<RouteChange> {
        let subs: Vec<SubscriberId> = self.announcements.announced.drain().collect();
        subs.into_iter()
            .filter_map(|s| self.announced_prefix(s).map(RouteChange::Withdraw))
            .collect()
    }
}
