//! A mapping made from a fed one (`[takeover]`): the public endpoint is the
//! predecessor's, not chosen here; everything else is as for a mapping of
//! this box's own — its subscriber's and the table's session limits hold.

use super::{Full, Key, Mapping, Table};
use crate::iface::SubscriberId;
use crate::nat::takeover::Fed;
use crate::stats::NatEvent;

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
        } else if self.map_outside.contains_key(&outside) || self.map_inside.contains_key(&key) {
            Some(Full::Ports)
        } else {
            None
        };
        if let Some(full) = full {
            self.log_limit(NatEvent::QuotaExceeded, sub, &key, Some(fed.pool_index));
            return Err(full);
        }
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
            pool_index: fed.pool_index,
        };
        Ok(self.insert_mapping(record))
    }
}
