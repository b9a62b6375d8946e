//! What the sans-IO core tells the fast path (issue 27) and what it hears
//! back: the router decides which flows an in-kernel program may forward and
//! emits a [`FastPathChange`] for each ([`crate::Router::poll_fastpath_change`]);
//! the I/O loop installs it, reads the program's per-flow counters back into
//! the router ([`crate::Router::fastpath_seen`]) and removes a flow when the
//! router says its session ended. The router stays the one source of truth:
//! sessions, their timers, limits and logs live here; the program holds a copy
//! of each installed session's translation and nothing else.

use std::net::{SocketAddrV4, SocketAddrV6};

/// The I/O loop reads the program's counters into the router at least this
/// often (seconds); the router adds it to an installed session's timeout, so
/// a session never expires sooner than configured for a reading not yet made.
pub const SYNC_SECONDS: u32 = 1;

/// An IPv4 TCP or UDP flow as a packet of it arrives: protocol number, source
/// and destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow4 {
    /// 6 (TCP) or 17 (UDP).
    pub protocol: u8,
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
}

/// An IPv6 TCP or UDP flow as a packet of it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow6 {
    /// 6 (TCP) or 17 (UDP).
    pub protocol: u8,
    /// Source address and port.
    pub src: SocketAddrV6,
    /// Destination address and port.
    pub dst: SocketAddrV6,
}

/// A NAT44 session's two directions: each flow as it arrives and as it leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nat44 {
    /// From the subscriber: (as sent, as translated).
    pub outbound: (Flow4, Flow4),
    /// To the subscriber: (as received from the WAN, as translated back).
    pub inbound: (Flow4, Flow4),
    /// The `[[subscriber_range]]` (index) of the session's subscriber: its
    /// TUN is where the slow path would write the inbound packets.
    pub range: usize,
}

/// An IPv6 flow the RFC 6092 firewall accepted, both directions (routed, not
/// translated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routed6 {
    /// From the subscriber.
    pub outbound: Flow6,
    /// To the subscriber.
    pub inbound: Flow6,
    /// The `[[subscriber_range]]` (index) of the flow's subscriber.
    pub range: usize,
}

/// A change to the fast path's flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastPathChange {
    /// A session the program may forward from now on, both directions.
    Install(Nat44),
    /// The session ended (expired or replaced): remove both directions before
    /// anything else, so that its public port is never forwarded after it.
    Remove(Nat44),
    /// An IPv6 firewall flow the program may forward from now on.
    Install6(Routed6),
    /// The flow expired: remove both directions before anything else.
    Remove6(Routed6),
}

/// What the program counted for one installed session since the last reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FastCounts {
    /// Outbound packets and IP bytes.
    pub outbound: (u64, u64),
    /// Inbound packets and IP bytes.
    pub inbound: (u64, u64),
    /// How long ago the program forwarded the session's last packet (either
    /// direction), if it forwarded any since the session was installed.
    pub idle: Option<std::time::Duration>,
}
