//! IPv4 ↔ IPv6 header translation (SIIT, RFC 7915) with every checksum exact.
//!
//! The translator does the packet work; the caller decides the addresses. A call
//! goes in three steps:
//!
//! 1. [`inspect`] reads what a decision needs: addresses, transport protocol, ports
//!    or ICMP identifier, fragment fields and, for an ICMP error, the quoted
//!    packet ([`crate::QuotedPacket`]).
//! 2. The caller maps the addresses — RFC 6052 and the EAMT for stateless SIIT
//!    ([`crate::addr::Siit`] does all of it), a session table for stateful NAT64
//!    (which also sets new ports or an ICMP identifier, so translation and NAPT
//!    happen in one pass) — into a [`ToIpv6`] or [`ToIpv4`] plan. The packet
//!    quoted in an ICMP error gets its own [`Mapping`]: its addresses are those of
//!    a packet that went the other way, so a NAT64 looks it up in reverse.
//! 3. [`Translator::ipv4_to_ipv6`] / [`Translator::ipv6_to_ipv4`] write the
//!    translated packet into a caller buffer. If [`Translated::fragment_len`] is
//!    set, the packet is larger than the next hop allows and [`Fragments`] splits
//!    it into caller buffers one piece at a time.
//!
//! What is translated (section numbers of RFC 7915):
//! - IP headers (§4.1, §5.1): traffic class ↔ TOS copied or overridden, flow
//!   label 0, IPv4 options dropped (an unexpired source route refused, also
//!   behind a malformed option), IPv6 hop-by-hop, routing (segments left 0) and
//!   destination options skipped, Fragment Header ↔ IPv4 fragment fields (an
//!   atomic fragment, RFC 6946, is a whole packet that keeps its
//!   Identification; any extension header after a Fragment Header, a second
//!   one included, is refused and answered 1/1), DF from the size rules.
//!   Destinations no router forwards (RFC 1812 §5.3.7: 0/8, 127/8, 224/4,
//!   240/4), given or embedded in an IPv6 destination, are refused; an ICMPv4
//!   error from an illegal source is translated (§4.1, for troubleshooting).
//! - TCP, UDP, DCCP and UDP-Lite checksums (§4.5, §5.5): updated incrementally —
//!   the pseudo-headers differ only in the addresses — and equal to a full
//!   recompute. A UDP/IPv4 checksum of 0 is dropped or computed
//!   ([`Config::amend_udp_checksum_zero`]). Offload partial checksums are
//!   supported ([`crate::L4Checksum::Partial`]).
//! - ICMP (§4.2, §4.3, §5.2, §5.3): types and codes per the RFC's tables, echo
//!   checksums adjusted incrementally for the ICMPv6 pseudo-header, errors with
//!   their quoted packet translated (its checksums too), pointers and MTUs
//!   adjusted (§6: a packet-too-big never reports less than 1280), RFC 4884
//!   extensions (marked by a length attribute, whatever their version field)
//!   kept with their length attribute re-computed, errors truncated
//!   to 1280 (ICMPv6) or 576 (ICMPv4) bytes.
//!
//! **Hop limit.** With [`Config::decrement_hop_limit`] (the default) the
//! translator is the router: it decrements the outer TTL / hop limit and refuses
//! a packet that would reach zero with [`TranslateError::TtlExceeded`] /
//! [`TranslateError::HopLimitExceeded`], whose [`TranslateError::reply`] is the
//! time-exceeded error to send. Turn it off when the caller decrements. A quoted
//! packet's TTL is never touched (§4.3).
//!
//! `no_std`, no allocation, no `unsafe`; no input bytes make anything here panic.
//!
//! ```
//! use sixfold_rewrite::translate::{Config, Mapping, ToIpv6, Translator};
//! use sixfold_rewrite::addr::Nat64Prefix;
//! use core::net::Ipv4Addr;
//! // UDP/IPv4 198.51.100.7:53 → 192.0.2.1:40000 with checksums ...
//! let p = [
//!     0x45, 0, 0, 30, 0, 0, 0x40, 0, 64, 17, 0x4e, 0x93, 198, 51, 100, 7, 192, 0, 2, 1,
//!     0, 53, 0x9c, 0x40, 0, 10, 0xac, 0x29, 0xca, 0xfe,
//! ];
//! // ... to IPv6 under 2001:db8:64::/96 for both addresses (stateless SIIT).
//! let pool6 = Nat64Prefix::new("2001:db8:64::".parse().unwrap(), 96).unwrap();
//! let plan = ToIpv6::new(Mapping::new(
//!     pool6.embed(Ipv4Addr::new(198, 51, 100, 7)),
//!     pool6.embed(Ipv4Addr::new(192, 0, 2, 1)),
//! ));
//! let translator = Translator::new(Config::default()).unwrap();
//! let mut out = [0u8; 1500];
//! let t = translator.ipv4_to_ipv6(&p, &plan, &mut out).unwrap();
//! assert_eq!((t.len, t.fragment_len), (50, None));
//! assert_eq!(out[7], 63, "hop limit = TTL - 1");
//! // The UDP checksum now covers the IPv6 pseudo-header, as a recompute would.
//! let sum = sixfold_checksum::pseudo::ipv6(plan.outer.src, plan.outer.dst, 17, 10)
//!     + sixfold_checksum::sum(&out[40..50]);
//! assert_eq!(sum, sixfold_checksum::Sum::NEG_ZERO);
//! ```

mod chain;
mod error;
mod fragment;
mod headers;
mod icmp_error;
mod icmp_map;
mod inspect;
mod to_ipv4;
mod to_ipv6;
mod transport;

pub use error::{ConfigError, IcmpReply, TranslateError};
pub use fragment::Fragments;
pub use inspect::{FragmentInfo, Inspection, inspect};

use crate::rewrite::L4Checksum;
use core::net::{Ipv4Addr, Ipv6Addr};

/// Shorthand for the translator's results.
pub type Result<T> = core::result::Result<T, TranslateError>;

/// The translator's settings (the `[siit]` / `[nat64]` knobs that are not
/// address mapping). `Config::default()` is RFC 7915's defaults on 1500-byte links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// RFC 7915 §4.1 `lowest-ipv6-mtu`: IPv4 packets without DF whose translation
    /// is larger are split into IPv6 fragments of at most this size. Default 1280,
    /// at least 1280.
    pub lowest_ipv6_mtu: u16,
    /// The MTU of the link translated IPv6 packets leave by: a DF packet larger
    /// after translation gets "fragmentation needed" (§4.1); it also bounds the
    /// MTU reported in a translated packet-too-big (§4.2). Default 1500.
    pub ipv6_mtu: u16,
    /// The MTU of the link translated IPv4 packets leave by: larger ones are split
    /// into IPv4 fragments, or get "packet too big" when they carry DF (§5.1.1).
    /// Default 1500.
    pub ipv4_mtu: u16,
    /// RFC 7915 §4.5: compute the checksum of UDP/IPv4 datagrams that have none
    /// (field 0) instead of dropping them. Fragments are dropped either way.
    pub amend_udp_checksum_zero: bool,
    /// RFC 7915 §4.1: `None` copies the IPv4 TOS into the IPv6 traffic class;
    /// `Some(v)` writes `v` (the RFC's option is 0, for networks still using TOS
    /// with its old meaning).
    pub traffic_class: Option<u8>,
    /// RFC 7915 §5.1: `None` copies the IPv6 traffic class into the IPv4 TOS;
    /// `Some(v)` writes `v`.
    pub tos: Option<u8>,
    /// RFC 7915 §5.1: give unfragmented IPv4 packets of 89 to 1280 bytes the
    /// caller's [`ToIpv4::ipv4_ident`] instead of 0 (for IPv4 paths that fragment
    /// packets the translator let through without DF).
    pub generate_ipv4_ident: bool,
    /// Decrement the outer TTL / hop limit and refuse packets that would reach 0
    /// (see the module docs). Default on.
    pub decrement_hop_limit: bool,
}

impl Config {
    /// RFC 7915's defaults (what [`Config::default`] gives), usable in `const`
    /// items.
    pub const RFC7915: Config = Config {
        lowest_ipv6_mtu: 1280,
        ipv6_mtu: 1500,
        ipv4_mtu: 1500,
        amend_udp_checksum_zero: false,
        traffic_class: None,
        tos: None,
        generate_ipv4_ident: false,
        decrement_hop_limit: true,
    };
}

impl Default for Config {
    fn default() -> Config {
        Config::RFC7915
    }
}

/// New addresses (and optionally ports or ICMP identifier) for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mapping<A> {
    /// Source address after translation.
    pub src: A,
    /// Destination address after translation.
    pub dst: A,
    /// New TCP/UDP/DCCP/UDP-Lite source port (NAPT); `None` keeps it.
    pub src_port: Option<u16>,
    /// New destination port; `None` keeps it.
    pub dst_port: Option<u16>,
    /// New ICMP echo identifier; `None` keeps it.
    pub icmp_id: Option<u16>,
}

impl<A> Mapping<A> {
    /// New addresses; ports and identifier unchanged.
    pub const fn new(src: A, dst: A) -> Mapping<A> {
        Mapping {
            src,
            dst,
            src_port: None,
            dst_port: None,
            icmp_id: None,
        }
    }
}

/// The caller's decisions for translating one IPv4 packet to IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ToIpv6 {
    /// The packet's new addresses and ports.
    pub outer: Mapping<Ipv6Addr>,
    /// For an ICMP error: the quoted packet's new addresses and ports. Required
    /// then ([`TranslateError::MissingQuoteMapping`] otherwise), ignored else.
    pub quote: Option<Mapping<Ipv6Addr>>,
    /// What the TCP/UDP checksum field holds (offload partial sums).
    pub l4_checksum: L4Checksum,
    /// The length of the whole ICMP message when the packet is the first fragment
    /// of an ICMP echo: the ICMPv6 pseudo-header covers it.
    pub icmp_message_len: Option<usize>,
}

impl ToIpv6 {
    /// A plan with these outer addresses and nothing else.
    pub const fn new(outer: Mapping<Ipv6Addr>) -> ToIpv6 {
        ToIpv6 {
            outer,
            quote: None,
            l4_checksum: L4Checksum::Complete,
            icmp_message_len: None,
        }
    }
}

/// The caller's decisions for translating one IPv6 packet to IPv4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ToIpv4 {
    /// The packet's new addresses and ports.
    pub outer: Mapping<Ipv4Addr>,
    /// For an ICMP error: the quoted packet's new addresses and ports.
    pub quote: Option<Mapping<Ipv4Addr>>,
    /// What the TCP/UDP checksum field holds (offload partial sums).
    pub l4_checksum: L4Checksum,
    /// The length of the whole ICMPv6 message when the packet is the first
    /// fragment of an echo (its pseudo-header is taken out of the checksum).
    pub icmp_message_len: Option<usize>,
    /// The IPv4 Identification for a packet without a Fragment Header, used when
    /// the translator splits it into IPv4 fragments (they need one to be
    /// reassembled) or when [`Config::generate_ipv4_ident`] asks for it. A counter
    /// or random value from the caller; RFC 7915 §5.1's default is 0.
    pub ipv4_ident: u16,
}

impl ToIpv4 {
    /// A plan with these outer addresses and nothing else.
    pub const fn new(outer: Mapping<Ipv4Addr>) -> ToIpv4 {
        ToIpv4 {
            outer,
            quote: None,
            l4_checksum: L4Checksum::Complete,
            icmp_message_len: None,
            ipv4_ident: 0,
        }
    }
}

/// What a translation wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Translated {
    /// The translated packet is `out[..len]`.
    pub len: usize,
    /// `Some(n)`: the packet is larger than the next hop takes (RFC 7915 §4.1's
    /// `lowest_ipv6_mtu`, or the IPv4 link MTU) and must be sent as fragments of
    /// at most `n` bytes: [`Fragments::new`]`(&out[..len], n)`.
    pub fragment_len: Option<usize>,
}

/// RFC 7915 translation with one [`Config`]. Cheap to copy; holds no state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Translator {
    config: Config,
}

impl Translator {
    /// A translator; refuses MTUs below the IPv6 (1280) or IPv4 (68) minimum.
    pub const fn new(config: Config) -> core::result::Result<Translator, ConfigError> {
        if config.lowest_ipv6_mtu < 1280 {
            return Err(ConfigError::LowestIpv6Mtu(config.lowest_ipv6_mtu));
        }
        if config.ipv6_mtu < 1280 {
            return Err(ConfigError::Ipv6Mtu(config.ipv6_mtu));
        }
        if config.ipv4_mtu < 68 {
            return Err(ConfigError::Ipv4Mtu(config.ipv4_mtu));
        }
        Ok(Translator { config })
    }

    /// The settings.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The outgoing TTL / hop limit for an incoming `value` (see the module docs).
    fn hop_limit(&self, value: u8, expired: TranslateError) -> Result<u8> {
        if !self.config.decrement_hop_limit {
            return Ok(value);
        }
        if value <= 1 {
            return Err(expired);
        }
        Ok(value - 1)
    }
}

/// `Err(BufferTooSmall)` unless `out` holds `need` bytes.
fn room(out: &[u8], need: usize) -> Result<()> {
    if out.len() < need {
        return Err(TranslateError::BufferTooSmall {
            need,
            got: out.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
