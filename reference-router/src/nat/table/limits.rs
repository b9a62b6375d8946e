//! What the table holds per subscriber, why it refuses, and the limits it is
//! held to (`[nat]`'s per-subscriber and table-wide bounds, the mapping mode).

use crate::config::Mapping as MappingMode;
use crate::nat::ports;
use serde::{Deserialize, Serialize};

/// A subscriber's share of the NAT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SubscriberState {
    /// Pool index of its public address (paired pooling), once assigned.
    pub(crate) pool_index: Option<u32>,
    pub(crate) ports: [u32; ports::PROTOCOLS],
    pub(crate) sessions: u32,
    /// Port blocks held by its inside addresses.
    pub(crate) blocks: u32,
}

/// Why a mapping or session could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Full {
    Ports,
    SubscriberSessions,
    Sessions,
    Pool,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Limits {
    pub(crate) max_sessions: u32,
    pub(crate) sessions_per_subscriber: u32,
    pub(crate) ports_per_subscriber: u32,
    pub(crate) preserve: bool,
    pub(crate) parity: bool,
    pub(crate) mapping: MappingMode,
    pub(crate) track_addresses: bool,
}
