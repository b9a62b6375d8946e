//! A new configuration applied to a running router's state, whole or not at
//! all, and the router's last act before it stops.
//!
//! A reload is planned once for all workers ([`Reload::plan`]): the new text
//! is parsed and checked whole ([`Config::problems`]), compared key by key
//! with the configuration in force ([`crate::config::diff`]), and refused
//! with every reason if anything cannot apply live. Each worker then checks
//! what only its state can say ([`Router::check_reload`]: a block size with
//! blocks held) and, once every worker has said yes, applies it between two
//! bursts ([`Router::apply_reload`]), which cannot fail: no worker ever runs
//! half a configuration, and no two workers run different ones after the
//! reload. Subscribers keep their ids ([`Layout`]), so every session stays
//! where it is; a removed subscriber's sessions and blocks end, logged.
//!
//! Stopping is two steps the device layer keeps apart: its loops stop
//! between bursts (nothing here), then [`Router::release_all`] ends and logs
//! what the router holds. A handover to a new process stops the loops and
//! hands the state over instead, releasing nothing.

use super::Router;
use super::egress::Shapers;
use super::links::Links;
use super::reply::Replies;
use crate::config::diff::{self, Change};
use crate::config::{Allocation, Config, ConfigError};
use crate::iface::SubscriberId;
use crate::ipfix::accounting::Accounting;
use crate::layout::Layout;
use crate::nat::Countdown;
use crate::nat::deterministic::Deterministic;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::AtomicU16;
use std::time::Instant;

/// What a reload is planned from: the configuration in force, its
/// subscribers' ids, the shapers every worker shares.
#[derive(Clone)]
pub struct ReloadBase {
    config: Config,
    layout: Layout,
    shapers: Shapers,
    workers: u16,
}

impl ReloadBase {
    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Its subscribers' ids.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

/// A reload, planned and found applicable: the new configuration, its ids,
/// what changed.
pub struct Reload {
    config: Config,
    layout: Layout,
    changes: Vec<Change>,
    shapers: Shapers,
    workers: u16,
    /// Ids of the `[[subscriber]]` entries removed.
    removed: Vec<SubscriberId>,
    /// Ranges removed: first id, count.
    removed_ranges: Vec<(SubscriberId, u32)>,
    /// `[nat] block_size` changes (refused by a worker that holds blocks).
    block_size: bool,
    /// Pool addresses removed: they drain, each with the count of workers
    /// that have not found it free yet.
    drains: Vec<(Ipv4Addr, Countdown)>,
}

impl Router {
    /// What a reload of this router (and the workers beside it) is planned
    /// from.
    pub fn reload_base(&self) -> ReloadBase {
        ReloadBase {
            config: self.config.clone(),
            layout: self.layout.clone(),
            shapers: self.egress.shapers().clone(),
            workers: self.shard.count,
        }
    }
}

impl Reload {
    /// Plans a reload from `base` to the configuration in `text` at `now`:
    /// refused with every problem (key, line, what) if the text does not
    /// parse, a value is wrong, or a change cannot apply while the router
    /// runs.
    pub fn plan(base: &ReloadBase, text: &str, now: Instant) -> Result<Reload, Vec<ConfigError>> {
        let config = Config::check_toml(text, Some(base.workers))?;
        let old = &base.config;
        let changes = diff::changes(old, &config);
        let mut refused: Vec<ConfigError> = changes
            .iter()
            .filter_map(|c| Some(c.refused(c.refusal(old)?)))
            .map(|e| e.located(text))
            .collect();
        let layout = match base.layout.carry(old, &config) {
            Ok(l) => l,
            Err(e) => return Err(vec![e]),
        };
        if old.nat.allocation == Allocation::Deterministic
            && config.nat.allocation == Allocation::Deterministic
        {
            let before = Deterministic::with_layout(old, &base.layout);
            let after = Deterministic::with_layout(&config, &layout);
            if !after.extends(&before)
                && let Some(c) = changes.iter().find(|c| c.entry().is_some())
            {
                refused.push(
                    c.refused(
                        "in deterministic mode a subscriber or range may only be added after all the others: this change would renumber inside addresses, moving live port ranges and rewriting what the configuration records (RFC 7422)".into(),
                    )
                    .located(text),
                );
            }
        }
        if !refused.is_empty() {
            return Err(refused);
        }
        let kept: std::collections::HashSet<Ipv4Addr> =
            config.nat.pool_addresses().into_iter().collect();
        let drains = old
            .nat
            .pool_addresses()
            .into_iter()
            .filter(|a| !kept.contains(a))
            .map(|a| (a, Arc::new(AtomicU16::new(base.workers.max(1)))))
            .collect();
        Ok(Reload {
            drains,
            removed: base.layout.removed_subscribers(&layout).collect(),
            removed_ranges: base.layout.removed_ranges(&layout).collect(),
            block_size: old.nat.block_size != config.nat.block_size
                && config.nat.allocation == Allocation::Block,
            shapers: base.shapers.reconfigured(&config, &layout, now),
            workers: base.workers,
            changes,
            config,
            layout,
        })
    }

    /// Every changed key, in order.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The new configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Its subscribers' ids.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// What the next reload is planned from, once this one applied.
    pub fn base_after(&self) -> ReloadBase {
        ReloadBase {
            config: self.config.clone(),
            layout: self.layout.clone(),
            shapers: self.shapers.clone(),
            workers: self.workers,
        }
    }

    /// Whether subscriber `sub` is one this reload removes.
    fn removes(&self, sub: SubscriberId) -> bool {
        self.removed.contains(&sub)
            || self
                .removed_ranges
                .iter()
                .any(|&(first, n)| sub >= first && sub - first < n)
    }
}

impl Router {
    /// What this worker's state refuses of `reload`: checked on every worker
    /// between bursts before any applies it.
    pub fn check_reload(&self, reload: &Reload) -> Vec<ConfigError> {
        let mut refused = Vec::new();
        if reload.block_size && self.nat.blocks_in_use() {
            refused.push(ConfigError {
                key: "nat.block_size".into(),
                line: None,
                problem: format!(
                    "cannot change while port blocks are held or waiting out their block_timeout (worker {} holds some): the blocks' size is their identity in the log ({} -> {})",
                    self.shard.index, self.config.nat.block_size, reload.config.nat.block_size
                ),
            });
        }
        refused
    }

    /// Applies `reload` (planned with [`Reload::plan`], checked by every
    /// worker) at `now`: removed subscribers' sessions, blocks and flows end
    /// (natEvent 5 or 7, 17), then every part takes the new configuration —
    /// live sessions keep their ids, mappings and addresses and take the new
    /// timers; limits, behaviour and policies apply to what comes next.
    pub fn apply_reload(&mut self, reload: &Reload, now: Instant) {
        let seconds = self.set_clock(now);
        let gone = |sub: SubscriberId| reload.removes(sub);
        if !reload.removed.is_empty() || !reload.removed_ranges.is_empty() {
            self.nat.end_subscribers(&gone);
            self.firewall.end_subscribers(&gone);
            self.counters.forget_subscribers(&gone);
            // Logged while the aliases still name NAT64 subscribers.
            self.drain_nat_log();
        }
        let (config, layout) = (&reload.config, &reload.layout);
        self.links = Links::new(config, layout);
        self.firewall.reconfigure(config, layout);
        self.egress.set_shapers(reload.shapers.clone());
        reload.shapers.apply(config, layout);
        self.nat.reconfigure(config, layout, &reload.drains);
        self.replies = Replies::new(&config.router, self.shard.count);
        self.translation.reconfigure(config, self.shard);
        self.reconfigure_accounting(config, seconds);
        self.six_rd = config.tunnels.six_rd();
        self.timers.next_ra = self
            .timers
            .next_ra
            .min(seconds.saturating_add(config.router.ra_interval));
        self.config = config.clone();
        self.layout = layout.clone();
        self.drain_nat_log();
    }

    /// Flow accounting turned on, off, or given new limits.
    fn reconfigure_accounting(&mut self, config: &Config, seconds: u32) {
        let x = &config.ipfix;
        let share = (x.max_flows / u32::from(self.shard.count.max(1))).max(1);
        match (&mut self.accounting, x.enabled() && x.accounting) {
            (Some(acc), true) => acc.set_limits(share, x.idle_timeout, x.active_timeout),
            (None, true) => {
                self.accounting = Some(Accounting::new(
                    share,
                    x.idle_timeout,
                    x.active_timeout,
                    seconds,
                ));
            }
            (Some(_), false) => {
                if let Some(mut acc) = self.accounting.take() {
                    acc.flush(&mut self.exports);
                }
            }
            (None, false) => {}
        }
    }

    /// Ends and logs what the router holds, for a stop: every NAT44 session
    /// (natEvent 5, when sessions are logged), NAT64 session (7) and port
    /// block (17), then every accounted flow (a forced end). The records come
    /// out of [`Router::poll_ipfix`]; call again until it returns true, at
    /// most `budget` sessions a call, draining the records between calls so
    /// none is dropped. Call it once the packet loops have stopped: a packet
    /// processed meanwhile would open sessions it does not see.
    pub fn release_all(&mut self, now: Instant, budget: usize) -> bool {
        self.set_clock(now);
        let mut cursor = self.release_cursor;
        let done = self.nat.end_some(&mut cursor, budget);
        self.release_cursor = cursor;
        self.drain_nat_log();
        if done {
            self.flush_ipfix();
        }
        done
    }
}
