//! The firewall under a reload: new settings and policies for what comes
//! next, live flows taking the new timers, and a removed subscriber's flows
//! ended (and its announce route withdrawn).

use super::{Firewall, Key, subscribers};
use crate::config::{Config, Filtering, Timeouts};
use crate::iface::SubscriberId;
use crate::layout::Layout;

impl Firewall {
    /// Takes `config` (a reload), whose subscribers have the ids of `layout`.
    /// Removed subscribers' flows are ended first ([`Firewall::end_subscribers`]).
    pub(crate) fn reconfigure(&mut self, config: &Config, layout: &Layout) {
        let (f, nat) = (&config.firewall, &config.nat);
        let workers = u32::from(self.workers.max(1));
        let share = |n: u32| (n / workers).max(1);
        self.enabled = f.enabled;
        self.inbound_echo = f.inbound_echo;
        self.ipsec = f.ipsec;
        if self.filtering != f.filtering {
            self.filtering = f.filtering;
            self.rebuild_admits();
        }
        if self.timeouts != nat.timeouts {
            self.retime(&nat.timeouts);
            self.held.set_delay(nat.timeouts.syn_hold);
        }
        self.max_flows = share(nat.max_sessions);
        self.flows_per_subscriber = nat.sessions_per_subscriber;
        self.policies = subscribers::policies(config, layout);
        self.ranges = subscribers::ranges(config, layout);
    }

    /// Ends the flows of the subscribers `gone` says a reload removed, and
    /// withdraws their announce routes.
    pub(crate) fn end_subscribers(&mut self, gone: &dyn Fn(SubscriberId) -> bool) {
        for index in 0..self.flows.len() as u32 {
            let flow = &self.flows[index as usize];
            if flow.live && gone(flow.subscriber) {
                self.remove(index);
            }
        }
        self.withdraw_gone(gone);
    }

    /// The admission index of the filtering mode, from the live flows.
    fn rebuild_admits(&mut self) {
        self.admits.clear();
        if self.filtering == Filtering::Apdf {
            return;
        }
        let keys: Vec<Key> = self
            .flows
            .iter()
            .filter(|f| f.live)
            .map(|f| f.key.admission(self.filtering))
            .collect();
        for key in keys {
            *self.admits.entry(key).or_default() += 1;
        }
    }

    /// Every live flow takes the idle timeout of `new` for its protocol and
    /// state instead of the old one.
    fn retime(&mut self, new: &Timeouts) {
        for index in 0..self.flows.len() as u32 {
            let flow = self.flows[index as usize];
            if !flow.live {
                continue;
            }
            let before = self.timeouts.idle(flow.key.protocol, flow.tcp);
            let after = new.idle(flow.key.protocol, flow.tcp);
            let expires = flow.expires.saturating_sub(before).saturating_add(after);
            self.flows[index as usize].expires = expires;
            if expires < flow.expires {
                self.wheel.shortened(&mut self.flows, index);
            }
        }
        self.timeouts = new.clone();
    }
}
