//! The NAT's carrier-grade operations, set up from the whole configuration:
//! the port allocation mode (`[nat] allocation`, with its worker slices), which
//! NAT events are logged for IPFIX (`[ipfix]`), and which worker owns a public
//! address and port — by its slice, or in deterministic mode by RFC 7422's
//! reverse arithmetic.

use super::Nat;
use super::blocks::Blocks;
use super::deterministic::Deterministic;
use super::table::{Allocator, NatLog};
use crate::config::{Allocation, Config, ConfigError};
use crate::iface::{Shard, SubscriberId};
use crate::ipfix::{Exports, NatRecord, Record};
use crate::layout::Layout;
use std::net::Ipv4Addr;

impl Nat {
    /// Sets the allocation mode and the log of `config` for worker `shard`; a
    /// block that does not fit the worker's port slice is refused.
    pub(crate) fn configure_cgn(
        &mut self,
        config: &Config,
        layout: &Layout,
        shard: Shard,
    ) -> Result<(), ConfigError> {
        let n = &config.nat;
        let x = &config.ipfix;
        let alloc = match n.allocation {
            Allocation::Dynamic => Allocator::Dynamic,
            Allocation::Block => {
                let b = Blocks::new(
                    config.nat.pool_addresses().len(),
                    n.block_size,
                    n.max_blocks,
                    n.block_timeout,
                    x.interim,
                    shard,
                );
                if b.per_address() == 0 {
                    let (lo, hi) = shard.high_ports();
                    return Err(ConfigError {
                        key: "nat.block_size".into(),
                        line: None,
                        problem: format!(
                            "{} ports do not fit one worker's ports {lo}-{hi} at {} workers",
                            n.block_size, shard.count
                        ),
                    });
                }
                Allocator::Block(b)
            }
            Allocation::Deterministic => {
                Allocator::Deterministic(Deterministic::with_layout(config, layout))
            }
        };
        let log = NatLog {
            blocks: x.enabled() && n.allocation == Allocation::Block,
            sessions: x.enabled() && x.sessions,
            limits: x.enabled(),
            // A BIB entry is an endpoint-independent mapping (validated).
            mappings: x.enabled() && x.mappings && n.mapping == crate::config::Mapping::Eim,
            interim: x.interim,
            ..NatLog::default()
        };
        self.table.set_allocation(alloc, log);
        self.configure_takeover(config, layout);
        Ok(())
    }

    /// Whether NAT events wait for [`Nat::drain_log`].
    #[inline]
    pub(crate) fn has_log(&self) -> bool {
        self.table.has_log()
    }

    /// Moves the NAT events logged since the last call to `out`, stamped `now_ms`
    /// and passed through `finish` (which puts a NAT64 subscriber's IPv6
    /// address in place of its alias).
    pub(crate) fn drain_log(
        &mut self,
        out: &mut Exports,
        now_ms: u64,
        mut finish: impl FnMut(&mut NatRecord),
    ) {
        for mut r in self.table.take_log() {
            r.time_ms = now_ms;
            finish(&mut r);
            out.push(Record::Nat(r));
        }
    }

    /// The worker that owns public `(address, port)`: in deterministic mode the
    /// owner of the subscriber whose range holds it (RFC 7422's reverse
    /// arithmetic), else the owner of the port's slice.
    pub(crate) fn port_owner(&self, public: Ipv4Addr, port: u16) -> u16 {
        match self.table.deterministic() {
            Some(d) => d
                .owner_of(public, port)
                .map(|r| r.subscriber)
                .or_else(|| self.slice_owner(public, port))
                .map_or(self.shard.index, |sub| self.shard.subscriber_owner(sub)),
            None => self.shard.port_owner(port),
        }
    }

    /// Port blocks subscriber `sub` holds.
    pub(crate) fn subscriber_blocks(&self, sub: SubscriberId) -> u32 {
        self.table.subscriber(sub).blocks
    }

    /// Range subscribers with NAT state (sessions, ports, blocks, or the
    /// public address paired pooling gave them).
    pub(crate) fn range_subscribers(&self) -> impl Iterator<Item = SubscriberId> + '_ {
        self.table.subscribers.sparse_ids()
    }

    /// Live port blocks: (inside, public, first port, last port).
    pub(crate) fn live_blocks(&self) -> Vec<(Ipv4Addr, Ipv4Addr, u16, u16)> {
        self.table.live_blocks()
    }
}
