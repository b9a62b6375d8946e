//! Zero-copy packet views and in-place rewrites that keep every checksum exact.
//!
//! - Views over borrowed buffers ([`Ipv4Packet`], [`Ipv6Packet`], [`TcpPacket`],
//!   [`UdpPacket`], [`Icmpv4Packet`], [`Icmpv6Packet`]): `new_checked` validates every
//!   length field against the buffer, and after it succeeds no accessor panics.
//!   Raw setters (`set_src_addr`) do not touch checksums. [`QuotedPacket`] is the
//!   lenient view of the truncated packet quoted inside an ICMP error.
//! - [`Rewrite`]: addresses, ports, ICMP identifiers, TTL / hop limit, MSS clamping and
//!   the packet quoted in an ICMP error, each patching every checksum it touches with
//!   RFC 1624 incremental updates, with UDP's ±0 rules and offload partial sums.
//! - [`translate`]: RFC 7915 IPv4 ↔ IPv6 translation (SIIT, and the packet work of
//!   stateful NAT64) into a caller buffer, ICMP and quoted packets included, every
//!   checksum exact; [`translate::Fragments`] splits what a link cannot carry.
//! - [`addr`]: the address mapping around it — RFC 6052 prefixes, the RFC 7757
//!   EAMT, RFC 6791 pools, and [`addr::Siit`] that plans stateless translation.
//!
//! `no_std`, no allocation, no `unsafe`; no input makes anything here panic.
//!
//! ```
//! use sixfold_rewrite::{Rewrite, Ttl};
//! use core::net::{IpAddr, Ipv4Addr};
//! // A UDP/IPv4 packet 10.0.0.2:40000 → 198.51.100.7:53 ...
//! let mut p = [
//!     0x45, 0, 0, 30, 0, 0, 0x40, 0, 64, 17, 0x06, 0x93, 10, 0, 0, 2, 198, 51, 100, 7,
//!     0x9c, 0x40, 0, 53, 0, 10, 0x64, 0x29, 0xca, 0xfe,
//! ];
//! // ... NATed to 203.0.113.1:1024 with the TTL decremented.
//! let nat = Rewrite {
//!     src: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1))),
//!     src_port: Some(1024),
//!     ttl: Some(Ttl::Sub(1)),
//!     ..Rewrite::new()
//! };
//! assert!(sixfold_checksum::verify(&p[..20]));
//! nat.apply(&mut p).unwrap();
//! assert_eq!(&p[12..16], &[203, 0, 113, 1]);
//! assert_eq!(p[8], 63);
//! // Both checksums are exactly what a recompute from scratch gives.
//! assert!(sixfold_checksum::verify(&p[..20]));
//! let pseudo = sixfold_checksum::pseudo::ipv4(Ipv4Addr::new(203, 0, 113, 1), Ipv4Addr::new(198, 51, 100, 7), 17, 10);
//! assert_eq!(pseudo + sixfold_checksum::sum(&p[20..]), sixfold_checksum::Sum::NEG_ZERO);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(fuzzing), warn(missing_docs))]

#[cfg(test)]
extern crate std;

pub mod addr;
pub mod error;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
mod numbered;
pub mod protocol;
pub mod quote;
pub mod recompute;
pub mod rewrite;
pub mod tcp;
pub mod translate;
pub mod udp;

pub use error::{Error, Layer};
pub use icmp::{
    Icmpv4Packet, Icmpv4ParameterProblem, Icmpv4TimeExceeded, Icmpv4Type, Icmpv4Unreachable,
    Icmpv6Packet, Icmpv6ParameterProblem, Icmpv6TimeExceeded, Icmpv6Type, Icmpv6Unreachable,
};
pub use ipv4::Ipv4Packet;
pub use ipv6::{Ipv6Packet, UpperLayer};
pub use protocol::IpProtocol;
pub use quote::QuotedPacket;
pub use recompute::{ChecksumState, Recomputed, recompute_checksums, transport_checksum_state};
pub use rewrite::{L4Checksum, Outcome, QuotedRewrite, Rewrite, Ttl};
pub use tcp::TcpPacket;
pub use udp::UdpPacket;
