//! IPv6 transition mechanisms, decoded: Teredo, 6to4, ISATAP, 6rd and NAT64
//! addresses; a strict recogniser for Teredo, AYIYA and protocol-41 packets; and how
//! exposed a Teredo client is.
//!
//! - [`Teredo`]: decode and encode Teredo addresses (RFC 4380 §4, RFC 5991 flags).
//! - [`classify`]: the kind of any IPv6 address, with the IPv4 address it embeds.
//! - [`packet`]: is this UDP payload Teredo (or AYIYA)? Which proto-41 mechanism is
//!   this? Strict enough not to mistake DNS, QUIC or RTP for a tunnel.
//! - [`exposure`]: bits an attacker must guess to reach a Teredo client, and the
//!   odds of hitting one of N clients with k probes.
//!
//! `no_std`, no allocation, no `unsafe`, and nothing here panics on any input.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(fuzzing), warn(missing_docs))]

#[cfg(test)]
extern crate std;

pub mod address;
pub mod classify;
pub mod exposure;
pub mod packet;

pub use address::{FlagStyle, Flags, Prefix, Teredo};
pub use classify::{AddressKind, Context, Nat64Prefix, SixRd, classify, classify_with};
