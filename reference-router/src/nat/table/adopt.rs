//! A mapping made from a fed one (`[takeover]`): the public endpoint is the
//! predecessor's, not chosen here; everything else is as for a mapping of
//! this box's own — its subscriber's and the table's session limits hold.

use super::{Full, Key, Mapping, Table};
use crate::iface::SubscriberId;
use crate::stats::NatEvent;

/// One fed mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fed {
    /// Its inside endpoint (protocol, address, port).
    pub(crate) inside: Key,
    pub(crate) out_addr: u32,
    pub(crate) out_port: u16,
    /// The index of `out_addr` in the table's pool.
    pub(crate) pool_index: u32,
    pub(crate) subscriber: SubscriberId,
    pub(crate) expires: u32,
}

impl Table {
    /// The mapping of fed mapping `fed` for its subscriber, created (not yet
    /// used: a session follows); refused where a limit of the subscriber or
    /// the table is reached, or its public endpoint is held already.
    pub(crate) fn adopt(&mut self, fed: &Fed) -> Result<u32, Full> {
        let key = fed.inside;
        let sub: SubscriberId = fed.subscriber;
        let state = *self.subscribers.get(sub);
        let outside = Key::endpoint(key.protocol, fed.out_addr, fed.out_port);
        let full = if self.live_sessions >= self.limits.max_sessions {
            Some(Full::Sessions)
        } else if state.sessions >= self.limits.sessions_per_subscriber {
            Some(Full::SubscriberSessions)
        } else if self.map_outside.get(&outside, &self.mappings).is_some()
            || self.map_inside.get(&key, &self.mappings).is_some()
        {
            Some(Full::Ports)
        } else {
            None
        };
        if let Some(full) = full {
            self.log_limit(NatEvent::QuotaExceeded, sub, &key, Some(fed.pool_index));
            return Err(full);
        }
        debug_assert_eq!(self.mappings.position(fed.out_addr), Some(fed.pool_index));
        let record = Mapping {
            in_addr: key.addr,
            out_addr: fed.out_addr,
            rem_addr: 0,
            in_port: key.port,
            out_port: fed.out_port,
            rem_port: 0,
            protocol: key.protocol,
            subscriber: sub,
            sessions: 0,
        };
        Ok(self.insert_mapping(record, fed.pool_index))
    }
}
