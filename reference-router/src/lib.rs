//! The sixfold router: a sans-IO dual-stack router core, and its TUN I/O.
//!
//! - [`Router`]: packets in, [`Verdict`]s out; IPv4 NAT44 of carrier grade
//!   (RFC 4787/5382/5508/6888/7857, behaviour from [`Config`]), native IPv6
//!   routing behind an RFC 6092 stateful firewall, transition-tunnel blocking, and
//!   per-link shapers that serve IPv6 first. No I/O, no clock: time is passed in,
//!   so every behaviour is testable in memory.
//! - [`config`]: the TOML configuration, validated with errors that name the key.
//! - [`stats`]: counters, with a reason for every dropped packet.
//! - `device` (cargo feature `device`, on by default): the only module with OS
//!   calls — TUN devices in network namespaces, the I/O loop around a [`Router`]
//!   and the control socket. Without the feature the crate is the sans-IO core.

#![forbid(unsafe_code)]

mod buf;
pub mod config;
#[cfg(feature = "device")]
pub mod device;
mod firewall;
mod hold;
mod icmp;
mod iface;
mod nat;
mod router;
mod shaper;
pub mod stats;
pub mod tunnels;
mod wheel;

pub use buf::PacketBuf;
pub use config::{Config, ConfigError};
pub use iface::{Direction, Interface, SubscriberId};
pub use router::{Router, Verdict};
pub use stats::{DropReason, IcmpSent, Snapshot};
