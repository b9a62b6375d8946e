//! Why a packet was not translated, and the ICMP error RFC 7915 says to answer with.

use crate::error::Error;
use crate::icmp::{
    Icmpv4TimeExceeded, Icmpv4Type, Icmpv4Unreachable, Icmpv6ParameterProblem, Icmpv6TimeExceeded,
    Icmpv6Type, Icmpv6Unreachable,
};
use crate::protocol::IpProtocol;
use core::fmt;
use core::net::IpAddr;

/// Why a packet was not translated. Each variant is one drop reason a router
/// counts; [`TranslateError::reply`] says which ones RFC 7915 answers with an ICMP
/// error (the others are dropped silently).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TranslateError {
    /// The packet, or the packet quoted in it, is malformed.
    Malformed(Error),
    /// The IPv4 header checksum is wrong (RFC 1812 §5.2.2: a router drops it).
    BadIpv4HeaderChecksum,
    /// The ICMP error's checksum is wrong. Errors are re-checksummed from scratch
    /// after their quote is translated, so a corrupt one is refused first rather
    /// than repaired (RFC 7915 §5: "the checksum MUST be evaluated before
    /// translation").
    BadIcmpChecksum,
    /// The output buffer is too short.
    BufferTooSmall {
        /// Bytes the translation needs.
        need: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// A source address no router forwards from: unspecified, loopback,
    /// multicast, broadcast or class E (RFC 7915 §4.1 and §5.1: "SHOULD silently
    /// drop", RFC 1812 §5.3.7).
    IllegalSource(IpAddr),
    /// The IPv4 TTL is 0 or 1 and [`crate::translate::Config::decrement_hop_limit`]
    /// is on: the translator is a router (RFC 7915 §4.1).
    TtlExceeded,
    /// The IPv6 hop limit is 0 or 1 and the translator decrements it (§5.1).
    HopLimitExceeded,
    /// A destination no router forwards to: an IPv4 destination that is
    /// unspecified (0/8), loopback, multicast, reserved or the limited
    /// broadcast — given, or embedded in an IPv6 destination under the RFC
    /// 6052 prefix (RFC 1812 §5.3.7).
    NotRoutable(IpAddr),
    /// An IPv4 loose or strict source route option that is not exhausted, or
    /// options too malformed to show there is none (RFC 7915 §4.1).
    SourceRoute,
    /// A routing header with Segments Left ≠ 0 (RFC 7915 §5.1); `pointer` is the
    /// offset of that byte from the start of the IPv6 header.
    SegmentsLeft {
        /// Offset of the Segments Left field.
        pointer: u32,
    },
    /// The Fragment Header is followed by another extension header — a second
    /// Fragment Header included (RFC 7915 §5.1.1: "SHOULD be dropped"; §5.4:
    /// answered with ICMPv6 communication administratively prohibited).
    ExtensionAfterFragment(IpProtocol),
    /// DF is set and the translated packet exceeds the IPv6 link MTU (RFC 7915
    /// §4.1); `mtu` is the IPv4 packet size that would fit.
    FragmentationNeeded {
        /// The next-hop MTU to report, in IPv4 terms.
        mtu: u16,
    },
    /// The translated IPv4 packet would carry DF and exceeds the IPv4 link MTU
    /// (RFC 7915 §5.1.1); `mtu` is what to report (§6: never below 1280).
    PacketTooBig {
        /// The MTU to report, in IPv6 terms.
        mtu: u32,
    },
    /// UDP over IPv4 without a checksum (field 0): IPv6 requires one (RFC 7915
    /// §4.5). Dropped when `amend_udp_checksum_zero` is off, and always for a
    /// fragment, whose checksum a stateless translator cannot compute.
    UdpChecksumZero {
        /// Whether the datagram was fragmented.
        fragment: bool,
    },
    /// An ICMPv4 type or code with no ICMPv6 counterpart (RFC 7915 §4.2:
    /// "silently drop").
    UntranslatableIcmpv4 {
        /// The type.
        icmp_type: Icmpv4Type,
        /// The code.
        code: u8,
    },
    /// An ICMPv6 type or code with no ICMPv4 counterpart (RFC 7915 §5.2).
    UntranslatableIcmpv6 {
        /// The type.
        icmp_type: Icmpv6Type,
        /// The code.
        code: u8,
    },
    /// A parameter-problem pointer that the RFC 7915 Figure 3 / Figure 6 tables
    /// do not translate ("silently drop").
    UntranslatablePointer(u32),
    /// The packet quoted in an ICMP error is an ICMP error itself or an ICMP type
    /// that cannot be translated (RFC 7915 §4.3: only one level is translated).
    UntranslatableQuote,
    /// A protocol number that means something only in the other family: ICMPv6
    /// (58) or an IPv6 extension header (0, 43, 44, 60) carried by IPv4, ICMPv4
    /// (1) carried by IPv6. RFC 7915 copies protocol numbers, but these would
    /// come out as an ICMP message whose checksum no one computed, or as payload
    /// bytes an IPv6 receiver parses as extension headers (44: a Fragment Header).
    /// IGMP (2) too: single-hop IPv4 group management, which RFC 7915 §4.2 drops.
    ProtocolOfTheOtherFamily(IpProtocol),
    /// An ICMP error that is a fragment: its quote cannot be translated piecewise.
    FragmentedIcmpError,
    /// The first fragment of an ICMP query: the ICMPv6 pseudo-header needs the
    /// whole message's length, which the caller must supply
    /// (`icmp_message_len`) after reassembly or from the last fragment.
    IcmpLengthUnknown,
    /// An ICMP error, but the plan has no mapping for its quoted packet.
    MissingQuoteMapping,
    /// An address the address mapping cannot translate (stateless SIIT:
    /// neither the EAMT nor the RFC 6052 prefix covers it, or RFC 6052 §3.1
    /// forbids it).
    UnmappableAddress {
        /// The address, in the incoming packet's family.
        addr: IpAddr,
        /// Whether it belongs to the packet quoted in an ICMP error.
        quoted: bool,
    },
    /// [`crate::translate::Fragments`] only splits what the translator writes:
    /// IPv4 without options and without DF, IPv6 with a Fragment Header right
    /// after the fixed header.
    NotFragmentable,
    /// The fragment size leaves no room for 8 bytes of data after the headers.
    FragmentSizeTooSmall(usize),
}

impl From<Error> for TranslateError {
    fn from(e: Error) -> TranslateError {
        TranslateError::Malformed(e)
    }
}

/// An ICMP error to send back to the source of the packet that was not translated:
/// in the family of that packet, with `rest` the four bytes after the checksum
/// (MTU, pointer). The router applies its usual rules for errors it originates
/// (none about an ICMP error or a non-first fragment, rate limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpReply {
    /// An ICMPv4 error.
    V4 {
        /// The type.
        icmp_type: Icmpv4Type,
        /// The code.
        code: u8,
        /// Bytes 4–7 of the message.
        rest: u32,
    },
    /// An ICMPv6 error.
    V6 {
        /// The type.
        icmp_type: Icmpv6Type,
        /// The code.
        code: u8,
        /// Bytes 4–7 of the message.
        rest: u32,
    },
}

impl TranslateError {
    /// The ICMP error RFC 7915 answers this drop with, if any. Drops the RFC calls
    /// silent return `None`; so do address-mapping failures of a quoted packet
    /// (the packet is an ICMP error, which is never answered).
    pub fn reply(&self) -> Option<IcmpReply> {
        let v4 = |icmp_type, code: u8, rest| IcmpReply::V4 {
            icmp_type,
            code,
            rest,
        };
        let v6 = |icmp_type, code: u8, rest| IcmpReply::V6 {
            icmp_type,
            code,
            rest,
        };
        match *self {
            TranslateError::TtlExceeded => Some(v4(
                Icmpv4Type::TimeExceeded,
                Icmpv4TimeExceeded::Ttl.into(),
                0,
            )),
            TranslateError::HopLimitExceeded => Some(v6(
                Icmpv6Type::TimeExceeded,
                Icmpv6TimeExceeded::HopLimit.into(),
                0,
            )),
            TranslateError::SourceRoute => Some(v4(
                Icmpv4Type::DestUnreachable,
                Icmpv4Unreachable::SourceRouteFailed.into(),
                0,
            )),
            TranslateError::SegmentsLeft { pointer } => Some(v6(
                Icmpv6Type::ParameterProblem,
                Icmpv6ParameterProblem::ErroneousHeaderField.into(),
                pointer,
            )),
            TranslateError::FragmentationNeeded { mtu } => Some(v4(
                Icmpv4Type::DestUnreachable,
                Icmpv4Unreachable::FragmentationNeeded.into(),
                u32::from(mtu),
            )),
            TranslateError::PacketTooBig { mtu } => Some(v6(Icmpv6Type::PacketTooBig, 0, mtu)),
            // RFC 7915 §5.1.1 drops it, §5.4 answers a dropped IPv6 packet with
            // destination unreachable, code 1.
            TranslateError::ExtensionAfterFragment(_) => Some(v6(
                Icmpv6Type::DestUnreachable,
                Icmpv6Unreachable::AdminProhibited.into(),
                0,
            )),
            // RFC 7915 §4.4: a discarded IPv4 packet gets "communication
            // administratively prohibited" unless the RFC says otherwise.
            TranslateError::UdpChecksumZero { .. } => Some(v4(
                Icmpv4Type::DestUnreachable,
                Icmpv4Unreachable::AdminProhibited.into(),
                0,
            )),
            // §4.4 for IPv4, §5.4 for IPv6.
            TranslateError::UnmappableAddress {
                addr,
                quoted: false,
            } => Some(match addr {
                IpAddr::V4(_) => v4(
                    Icmpv4Type::DestUnreachable,
                    Icmpv4Unreachable::AdminProhibited.into(),
                    0,
                ),
                IpAddr::V6(_) => v6(
                    Icmpv6Type::DestUnreachable,
                    Icmpv6Unreachable::AdminProhibited.into(),
                    0,
                ),
            }),
            _ => None,
        }
    }

    /// A short, stable name for counters and logs, e.g. `udp_checksum_zero`.
    pub const fn name(&self) -> &'static str {
        match self {
            TranslateError::Malformed(_) => "malformed",
            TranslateError::BadIpv4HeaderChecksum => "bad_ipv4_header_checksum",
            TranslateError::BadIcmpChecksum => "bad_icmp_checksum",
            TranslateError::BufferTooSmall { .. } => "buffer_too_small",
            TranslateError::IllegalSource(_) => "illegal_source",
            TranslateError::TtlExceeded => "ttl_exceeded",
            TranslateError::HopLimitExceeded => "hop_limit_exceeded",
            TranslateError::NotRoutable(_) => "not_routable",
            TranslateError::SourceRoute => "source_route",
            TranslateError::SegmentsLeft { .. } => "segments_left",
            TranslateError::ExtensionAfterFragment(_) => "extension_after_fragment",
            TranslateError::FragmentationNeeded { .. } => "fragmentation_needed",
            TranslateError::PacketTooBig { .. } => "packet_too_big",
            TranslateError::UdpChecksumZero { .. } => "udp_checksum_zero",
            TranslateError::UntranslatableIcmpv4 { .. } => "untranslatable_icmpv4",
            TranslateError::UntranslatableIcmpv6 { .. } => "untranslatable_icmpv6",
            TranslateError::UntranslatablePointer(_) => "untranslatable_pointer",
            TranslateError::UntranslatableQuote => "untranslatable_quote",
            TranslateError::ProtocolOfTheOtherFamily(_) => "protocol_of_the_other_family",
            TranslateError::FragmentedIcmpError => "fragmented_icmp_error",
            TranslateError::IcmpLengthUnknown => "icmp_length_unknown",
            TranslateError::MissingQuoteMapping => "missing_quote_mapping",
            TranslateError::UnmappableAddress { .. } => "unmappable_address",
            TranslateError::NotFragmentable => "not_fragmentable",
            TranslateError::FragmentSizeTooSmall(_) => "fragment_size_too_small",
        }
    }
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TranslateError::Malformed(e) => write!(f, "malformed packet: {e}"),
            TranslateError::BufferTooSmall { need, got } => {
                write!(f, "output buffer too small: need {need} bytes, got {got}")
            }
            TranslateError::IllegalSource(a) => write!(f, "illegal source address {a}"),
            TranslateError::NotRoutable(a) => {
                write!(f, "destination {a} is not forwarded (RFC 1812 5.3.7)")
            }
            TranslateError::SegmentsLeft { pointer } => write!(
                f,
                "routing header with segments left at offset {pointer} (RFC 7915 5.1)"
            ),
            TranslateError::ExtensionAfterFragment(p) => write!(
                f,
                "extension header {p} after the fragment header (RFC 7915 5.1.1)"
            ),
            TranslateError::FragmentationNeeded { mtu } => {
                write!(
                    f,
                    "DF set and too big for the IPv6 link: fragmentation needed, MTU {mtu}"
                )
            }
            TranslateError::PacketTooBig { mtu } => {
                write!(
                    f,
                    "too big for the IPv4 link with DF: packet too big, MTU {mtu}"
                )
            }
            TranslateError::UdpChecksumZero { fragment } => write!(
                f,
                "UDP/IPv4 without a checksum{} (RFC 7915 4.5)",
                if fragment { ", fragmented" } else { "" }
            ),
            TranslateError::UntranslatableIcmpv4 { icmp_type, code } => write!(
                f,
                "ICMPv4 type {} code {code} has no ICMPv6 counterpart (RFC 7915 4.2)",
                u8::from(icmp_type)
            ),
            TranslateError::UntranslatableIcmpv6 { icmp_type, code } => write!(
                f,
                "ICMPv6 type {} code {code} has no ICMPv4 counterpart (RFC 7915 5.2)",
                u8::from(icmp_type)
            ),
            TranslateError::UntranslatablePointer(p) => {
                write!(
                    f,
                    "parameter problem pointer {p} has no counterpart (RFC 7915 4.2/5.2)"
                )
            }
            TranslateError::UnmappableAddress { addr, quoted } => write!(
                f,
                "no address mapping for {}{addr}",
                if quoted { "quoted " } else { "" }
            ),
            TranslateError::ProtocolOfTheOtherFamily(p) => {
                write!(f, "protocol {p} belongs to the other IP family")
            }
            TranslateError::FragmentSizeTooSmall(n) => {
                write!(f, "fragment size {n} leaves no room for data")
            }
            _ => f.write_str(self.simple_message()),
        }
    }
}

impl TranslateError {
    fn simple_message(&self) -> &'static str {
        match self {
            TranslateError::BadIpv4HeaderChecksum => "bad IPv4 header checksum",
            TranslateError::BadIcmpChecksum => "bad ICMP error checksum",
            TranslateError::TtlExceeded => "TTL exceeded in transit",
            TranslateError::HopLimitExceeded => "hop limit exceeded in transit",
            TranslateError::SourceRoute => "unexpired IPv4 source route (RFC 7915 4.1)",
            TranslateError::UntranslatableQuote => {
                "the quoted packet cannot be translated (RFC 7915 4.3)"
            }
            TranslateError::FragmentedIcmpError => "fragmented ICMP error",
            TranslateError::IcmpLengthUnknown => {
                "first fragment of an ICMP query without the message length"
            }
            TranslateError::MissingQuoteMapping => "ICMP error without a mapping for its quote",
            TranslateError::NotFragmentable => "not a packet the translator fragments",
            _ => self.name(),
        }
    }
}

impl core::error::Error for TranslateError {}

/// Why a [`crate::translate::Config`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigError {
    /// `lowest_ipv6_mtu` below 1280, the IPv6 minimum (RFC 8200 §5).
    LowestIpv6Mtu(u16),
    /// `ipv6_mtu` below 1280.
    Ipv6Mtu(u16),
    /// `ipv4_mtu` below 68, the IPv4 minimum (RFC 791).
    Ipv4Mtu(u16),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConfigError::LowestIpv6Mtu(m) => write!(f, "lowest_ipv6_mtu {m} is below 1280"),
            ConfigError::Ipv6Mtu(m) => write!(f, "IPv6 MTU {m} is below 1280"),
            ConfigError::Ipv4Mtu(m) => write!(f, "IPv4 MTU {m} is below 68"),
        }
    }
}

impl core::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn replies_follow_rfc7915() {
        assert_eq!(
            TranslateError::FragmentationNeeded { mtu: 1480 }.reply(),
            Some(IcmpReply::V4 {
                icmp_type: Icmpv4Type::DestUnreachable,
                code: 4,
                rest: 1480
            })
        );
        assert_eq!(
            TranslateError::PacketTooBig { mtu: 1280 }.reply(),
            Some(IcmpReply::V6 {
                icmp_type: Icmpv6Type::PacketTooBig,
                code: 0,
                rest: 1280
            })
        );
        assert_eq!(
            TranslateError::SegmentsLeft { pointer: 43 }.reply(),
            Some(IcmpReply::V6 {
                icmp_type: Icmpv6Type::ParameterProblem,
                code: 0,
                rest: 43
            })
        );
        assert_eq!(
            TranslateError::SourceRoute.reply(),
            Some(IcmpReply::V4 {
                icmp_type: Icmpv4Type::DestUnreachable,
                code: 5,
                rest: 0
            })
        );
        assert_eq!(
            TranslateError::TtlExceeded.reply(),
            Some(IcmpReply::V4 {
                icmp_type: Icmpv4Type::TimeExceeded,
                code: 0,
                rest: 0
            })
        );
        assert_eq!(
            TranslateError::HopLimitExceeded.reply(),
            Some(IcmpReply::V6 {
                icmp_type: Icmpv6Type::TimeExceeded,
                code: 0,
                rest: 0
            })
        );
        for p in [IpProtocol::Ipv6Opts, IpProtocol::Ipv6Frag] {
            assert_eq!(
                TranslateError::ExtensionAfterFragment(p).reply(),
                Some(IcmpReply::V6 {
                    icmp_type: Icmpv6Type::DestUnreachable,
                    code: 1,
                    rest: 0
                })
            );
        }
        let unmappable = |addr, quoted| TranslateError::UnmappableAddress { addr, quoted };
        assert_eq!(
            unmappable(IpAddr::V6(Ipv6Addr::LOCALHOST), false).reply(),
            Some(IcmpReply::V6 {
                icmp_type: Icmpv6Type::DestUnreachable,
                code: 1,
                rest: 0
            })
        );
        assert_eq!(
            unmappable(IpAddr::V4(Ipv4Addr::LOCALHOST), false).reply(),
            Some(IcmpReply::V4 {
                icmp_type: Icmpv4Type::DestUnreachable,
                code: 13,
                rest: 0
            })
        );
        assert_eq!(
            unmappable(IpAddr::V4(Ipv4Addr::LOCALHOST), true).reply(),
            None
        );
        assert_eq!(
            TranslateError::UdpChecksumZero { fragment: true }.reply(),
            Some(IcmpReply::V4 {
                icmp_type: Icmpv4Type::DestUnreachable,
                code: 13,
                rest: 0
            })
        );
        for silent in [
            TranslateError::UntranslatablePointer(2),
            TranslateError::UntranslatableQuote,
            TranslateError::BadIcmpChecksum,
            TranslateError::IllegalSource(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            TranslateError::NotRoutable(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ] {
            assert_eq!(silent.reply(), None, "{silent}");
        }
    }

    #[test]
    fn messages_name_the_cause() {
        assert_eq!(
            std::format!("{}", TranslateError::UdpChecksumZero { fragment: true }),
            "UDP/IPv4 without a checksum, fragmented (RFC 7915 4.5)"
        );
        assert_eq!(
            std::format!("{}", TranslateError::BufferTooSmall { need: 68, got: 60 }),
            "output buffer too small: need 68 bytes, got 60"
        );
        assert_eq!(
            std::format!("{}", TranslateError::TtlExceeded),
            "TTL exceeded in transit"
        );
        assert_eq!(
            TranslateError::MissingQuoteMapping.name(),
            "missing_quote_mapping"
        );
        assert_eq!(
            std::format!("{}", ConfigError::Ipv4Mtu(60)),
            "IPv4 MTU 60 is below 68"
        );
    }
}
