//! The router's building blocks, which know nothing of NAT, firewall or
//! translation: the packet buffer ([`buf`]), interfaces, subscriber ids and
//! worker shards ([`iface`]), offload metadata ([`offload`]), per-subscriber
//! tables ([`persub`]) and the timer wheel ([`wheel`]). The features (`nat`,
//! `firewall`, `icmp`, `shaper`, `tunnels`, `ipfix`, `stats`, …) are built on
//! them and `router` composes the features; nothing here imports either.
//! The crate root re-exports each under its old name (`crate::wheel`, …).

pub(crate) mod buf;
pub(crate) mod iface;
pub mod offload;
pub(crate) mod persub;
pub(crate) mod wheel;
