#![doc = include_str!("../README.md")]
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
pub mod transport;
pub mod udp;

pub use error::{Error, Layer};
pub use icmp::{
    Icmpv4Packet, Icmpv4ParameterProblem, Icmpv4TimeExceeded, Icmpv4Type, Icmpv4Unreachable,
    Icmpv6Packet, Icmpv6ParameterProblem, Icmpv6TimeExceeded, Icmpv6Type, Icmpv6Unreachable,
};
pub use ipv4::Ipv4Packet;
pub use ipv6::{Ipv6Packet, UpperLayer};
pub use protocol::{IpProtocol, IpVersion};
pub use quote::QuotedPacket;
pub use recompute::{ChecksumState, Recomputed, recompute_checksums, transport_checksum_state};
pub use rewrite::{L4Checksum, Outcome, QuotedRewrite, Rewrite, Ttl};
pub use tcp::TcpPacket;
pub use transport::L4Header;
pub use udp::UdpPacket;
