#![doc = include_str!("../README.md")]
// The sans-IO core has no unsafe code; built with `device`, one module of
// it (device/fdpass.rs: descriptors received over SCM_RIGHTS) needs it, and
// is the only one allowed to.
#![cfg_attr(not(feature = "device"), forbid(unsafe_code))]
#![cfg_attr(feature = "device", deny(unsafe_code))]

mod base;
pub mod config;
#[cfg(feature = "device")]
pub mod device;
pub mod fastpath;
mod firewall;
mod hold;
mod icmp;
pub mod ipfix;
pub mod layout;
mod nat;
mod router;
mod shaper;
pub mod state;
pub mod stats;
pub mod tunnels;

pub use base::offload;
pub(crate) use base::{buf, iface, persub, wheel};
pub use buf::PacketBuf;
pub use config::{Config, ConfigError};
pub use iface::{Direction, Interface, RouteChange, Shard, SubscriberId};
pub use layout::Layout;
pub use nat::deterministic::{Deterministic, PortRange};
pub use offload::Offload;
/// IPv4/IPv6 translation as the router forwards it: its home is
/// `router/xlat/rfc7915.rs`, beside the router's stateful and stateless parts.
pub use router::xlat::rfc7915 as xlat;
pub use router::{Reload, ReloadBase, Router, Verdict};
pub use stats::{DropReason, IcmpSent, Snapshot};
