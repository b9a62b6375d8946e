//! The ICMP type, code, pointer and MTU tables of RFC 7915 §4.2 and §5.2.

use super::error::TranslateError;
use super::{Config, Result};
use crate::icmp::{
    Icmpv4ParameterProblem, Icmpv4Type, Icmpv4Unreachable, Icmpv6ParameterProblem, Icmpv6Type,
    Icmpv6Unreachable,
};

/// The translated header of an ICMP error: type, code and bytes 4–7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ErrorHeader<T> {
    pub(crate) icmp_type: T,
    pub(crate) code: u8,
    /// Bytes 4–7 (pointer, MTU); the RFC 4884 length is set separately.
    pub(crate) rest: u32,
    /// Whether the translated message has an RFC 4884 length attribute, so ICMP
    /// extensions can follow its quote.
    pub(crate) has_length: bool,
}

/// ICMP echo: the only informational messages that cross (RFC 7915 §4.2, §5.2).
pub(crate) fn echo_to_icmpv6(t: Icmpv4Type) -> Option<Icmpv6Type> {
    match t {
        Icmpv4Type::EchoRequest => Some(Icmpv6Type::EchoRequest),
        Icmpv4Type::EchoReply => Some(Icmpv6Type::EchoReply),
        _ => None,
    }
}

/// The reverse of [`echo_to_icmpv6`].
pub(crate) fn echo_to_icmpv4(t: Icmpv6Type) -> Option<Icmpv4Type> {
    match t {
        Icmpv6Type::EchoRequest => Some(Icmpv4Type::EchoRequest),
        Icmpv6Type::EchoReply => Some(Icmpv4Type::EchoReply),
        _ => None,
    }
}

/// Whether an ICMPv4 message of this type has an RFC 4884 length attribute (byte
/// 5, in 32-bit words): destination unreachable, time exceeded, parameter problem.
pub(crate) fn icmpv4_has_length(t: Icmpv4Type) -> bool {
    matches!(
        t,
        Icmpv4Type::DestUnreachable | Icmpv4Type::TimeExceeded | Icmpv4Type::ParameterProblem
    )
}

/// Whether an ICMPv6 message of this type has an RFC 4884 length attribute (byte
/// 4, in 64-bit words): destination unreachable, time exceeded.
pub(crate) fn icmpv6_has_length(t: Icmpv6Type) -> bool {
    matches!(t, Icmpv6Type::DestUnreachable | Icmpv6Type::TimeExceeded)
}

/// RFC 1191 §7's plateau table: likely MTUs, largest first.
const PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// The largest plateau below `total_len` (68 when none is): the path MTU a
/// router that reports none (MTU 0, pre-RFC 1191) most likely has.
pub(crate) fn plateau_below(total_len: u16) -> u16 {
    PLATEAUS.into_iter().find(|&p| p < total_len).unwrap_or(68)
}

/// RFC 7915 §6: a packet-too-big reports at least 1280, the IPv6 minimum MTU
/// (hosts ignore smaller values, RFC 8201 §4).
const MIN_REPORTED_IPV6_MTU: u32 = 1280;

/// The IPv6 and IPv4 header size difference (RFC 7915 §4.2, §5.2).
const HEADER_GROWTH: u32 = 20;

/// Figure 3 of RFC 7915: an IPv4 header pointer → the IPv6 header field's.
fn pointer_to_ipv6(p: u8) -> Option<u8> {
    Some(match p {
        0 => 0,           // version/IHL → version/traffic class
        1 => 1,           // type of service → traffic class/flow label
        2 | 3 => 4,       // total length → payload length
        8 => 7,           // time to live → hop limit
        9 => 6,           // protocol → next header
        12..=15 => 8,     // source address
        16..=19 => 24,    // destination address
        _ => return None, // identification, flags, offset, checksum, options: n/a
    })
}

/// Figure 6 of RFC 7915: an IPv6 header pointer → the IPv4 header field's.
fn pointer_to_ipv4(p: u32) -> Option<u8> {
    Some(match p {
        0 => 0,           // version/traffic class → version/IHL, type of service
        1 => 1,           // traffic class/flow label → type of service
        4 | 5 => 2,       // payload length → total length
        6 => 9,           // next header → protocol
        7 => 8,           // hop limit → time to live
        8..=23 => 12,     // source address
        24..=39 => 16,    // destination address
        _ => return None, // flow label (2, 3), beyond the fixed header: n/a
    })
}

/// RFC 7915 §4.2: the ICMPv6 error for an ICMPv4 error of type `t`, `code`, with
/// bytes 4–7 `rest` and quoting a packet whose Total Length is `quote_total_len`.
pub(crate) fn error_to_icmpv6(
    t: Icmpv4Type,
    code: u8,
    rest: [u8; 4],
    quote_total_len: u16,
    config: &Config,
) -> Result<ErrorHeader<Icmpv6Type>> {
    let untranslatable = TranslateError::UntranslatableIcmpv4 { icmp_type: t, code };
    let unreachable = |c: Icmpv6Unreachable| ErrorHeader {
        icmp_type: Icmpv6Type::DestUnreachable,
        code: c.into(),
        rest: 0,
        has_length: true,
    };
    Ok(match t {
        Icmpv4Type::DestUnreachable => match Icmpv4Unreachable::from(code) {
            Icmpv4Unreachable::Net
            | Icmpv4Unreachable::Host
            | Icmpv4Unreachable::SourceRouteFailed
            | Icmpv4Unreachable::NetUnknown
            | Icmpv4Unreachable::HostUnknown
            | Icmpv4Unreachable::SourceHostIsolated
            | Icmpv4Unreachable::NetUnreachableForTos
            | Icmpv4Unreachable::HostUnreachableForTos => unreachable(Icmpv6Unreachable::NoRoute),
            Icmpv4Unreachable::Protocol => ErrorHeader {
                icmp_type: Icmpv6Type::ParameterProblem,
                code: Icmpv6ParameterProblem::UnrecognizedNextHeader.into(),
                rest: 6, // the IPv6 Next Header field
                has_length: false,
            },
            Icmpv4Unreachable::Port => unreachable(Icmpv6Unreachable::Port),
            Icmpv4Unreachable::FragmentationNeeded => ErrorHeader {
                icmp_type: Icmpv6Type::PacketTooBig,
                code: 0,
                rest: mtu_to_ipv6(
                    u16::from_be_bytes([rest[2], rest[3]]),
                    quote_total_len,
                    config,
                ),
                has_length: false,
            },
            Icmpv4Unreachable::NetProhibited
            | Icmpv4Unreachable::HostProhibited
            | Icmpv4Unreachable::AdminProhibited
            | Icmpv4Unreachable::PrecedenceCutoff => {
                unreachable(Icmpv6Unreachable::AdminProhibited)
            }
            Icmpv4Unreachable::HostPrecedenceViolation | Icmpv4Unreachable::Other(_) => {
                return Err(untranslatable);
            }
        },
        Icmpv4Type::TimeExceeded => ErrorHeader {
            icmp_type: Icmpv6Type::TimeExceeded,
            code,
            rest: 0,
            has_length: true,
        },
        Icmpv4Type::ParameterProblem => match Icmpv4ParameterProblem::from(code) {
            Icmpv4ParameterProblem::Pointer | Icmpv4ParameterProblem::BadLength => {
                let pointer = pointer_to_ipv6(rest[0])
                    .ok_or(TranslateError::UntranslatablePointer(rest[0].into()))?;
                ErrorHeader {
                    icmp_type: Icmpv6Type::ParameterProblem,
                    code: Icmpv6ParameterProblem::ErroneousHeaderField.into(),
                    rest: pointer.into(),
                    has_length: false,
                }
            }
            _ => return Err(untranslatable),
        },
        _ => return Err(untranslatable),
    })
}

/// RFC 7915 §4.2 "Fragmentation Needed": min(advertised + 20, IPv6 link MTU,
/// IPv4 link MTU + 20), with the RFC 1191 plateau below the quoted packet's
/// length standing in for an advertised 0, and never below 1280 (§6).
fn mtu_to_ipv6(advertised: u16, quote_total_len: u16, config: &Config) -> u32 {
    let ipv4_mtu = match advertised {
        0 => plateau_below(quote_total_len),
        m => m,
    };
    (u32::from(ipv4_mtu) + HEADER_GROWTH)
        .min(config.ipv6_mtu.into())
        .min(u32::from(config.ipv4_mtu) + HEADER_GROWTH)
        .max(MIN_REPORTED_IPV6_MTU)
}

/// RFC 7915 §5.2: the ICMPv4 error for an ICMPv6 error of type `t`, `code`, with
/// bytes 4–7 `rest`; `quote_fragmented` says whether the quoted packet has a
/// Fragment Header (its IPv4 form is then 28 bytes shorter, not 20).
pub(crate) fn error_to_icmpv4(
    t: Icmpv6Type,
    code: u8,
    rest: [u8; 4],
    quote_fragmented: bool,
    config: &Config,
) -> Result<ErrorHeader<Icmpv4Type>> {
    let untranslatable = TranslateError::UntranslatableIcmpv6 { icmp_type: t, code };
    let unreachable = |c: Icmpv4Unreachable, has_length| ErrorHeader {
        icmp_type: Icmpv4Type::DestUnreachable,
        code: c.into(),
        rest: 0,
        has_length,
    };
    Ok(match t {
        Icmpv6Type::DestUnreachable => match Icmpv6Unreachable::from(code) {
            Icmpv6Unreachable::NoRoute
            | Icmpv6Unreachable::BeyondScope
            | Icmpv6Unreachable::Address => unreachable(Icmpv4Unreachable::Host, true),
            Icmpv6Unreachable::AdminProhibited => {
                unreachable(Icmpv4Unreachable::HostProhibited, true)
            }
            Icmpv6Unreachable::Port => unreachable(Icmpv4Unreachable::Port, true),
            _ => return Err(untranslatable),
        },
        Icmpv6Type::PacketTooBig => ErrorHeader {
            icmp_type: Icmpv4Type::DestUnreachable,
            code: Icmpv4Unreachable::FragmentationNeeded.into(),
            rest: mtu_to_ipv4(u32::from_be_bytes(rest), quote_fragmented, config).into(),
            has_length: false,
        },
        Icmpv6Type::TimeExceeded => ErrorHeader {
            icmp_type: Icmpv4Type::TimeExceeded,
            code,
            rest: 0,
            has_length: true,
        },
        Icmpv6Type::ParameterProblem => match Icmpv6ParameterProblem::from(code) {
            Icmpv6ParameterProblem::ErroneousHeaderField => {
                let p = u32::from_be_bytes(rest);
                let pointer = pointer_to_ipv4(p).ok_or(TranslateError::UntranslatablePointer(p))?;
                ErrorHeader {
                    icmp_type: Icmpv4Type::ParameterProblem,
                    code: Icmpv4ParameterProblem::Pointer.into(),
                    rest: u32::from(pointer) << 24,
                    has_length: false,
                }
            }
            Icmpv6ParameterProblem::UnrecognizedNextHeader => {
                unreachable(Icmpv4Unreachable::Protocol, false)
            }
            _ => return Err(untranslatable),
        },
        _ => return Err(untranslatable),
    })
}

/// RFC 7915 §5.2 "Packet Too Big": min(advertised − 20, IPv4 link MTU, IPv6 link
/// MTU − 20), taking 28 off instead of 20 when the quoted packet has a Fragment
/// Header; at least 68 (RFC 791), at most 65535.
fn mtu_to_ipv4(advertised: u32, quote_fragmented: bool, config: &Config) -> u16 {
    let shrink = HEADER_GROWTH + if quote_fragmented { 8 } else { 0 };
    let mtu = advertised
        .saturating_sub(shrink)
        .min(config.ipv4_mtu.into())
        .min(u32::from(config.ipv6_mtu) - HEADER_GROWTH)
        .max(68);
    mtu.min(u16::MAX.into()) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ipv6_mtu: u16, ipv4_mtu: u16) -> Config {
        Config {
            ipv6_mtu,
            ipv4_mtu,
            ..Config::default()
        }
    }

    fn to6(t: u8, code: u8) -> Result<(u8, u8, u32)> {
        error_to_icmpv6(t.into(), code, [0; 4], 1500, &Config::default())
            .map(|h| (h.icmp_type.into(), h.code, h.rest))
    }

    fn to4(t: u8, code: u8) -> Result<(u8, u8, u32)> {
        error_to_icmpv4(t.into(), code, [0; 4], false, &Config::default())
            .map(|h| (h.icmp_type.into(), h.code, h.rest))
    }

    /// RFC 7915 §4.2's destination-unreachable code table, every code.
    #[test]
    fn icmpv4_unreachable_codes() {
        let no_route = Ok((1, 0, 0));
        let prohibited = Ok((1, 1, 0));
        let want = [
            no_route,         // 0 net
            no_route,         // 1 host
            Ok((4, 1, 6)),    // 2 protocol → parameter problem, pointer 6
            Ok((1, 4, 0)),    // 3 port
            Ok((2, 0, 1500)), // 4 fragmentation needed, MTU 0 → 1492 + 20 → link 1500
            no_route,         // 5 source route failed
            no_route,         // 6
            no_route,         // 7
            no_route,         // 8
            prohibited,       // 9
            prohibited,       // 10
            no_route,         // 11
            no_route,         // 12
            prohibited,       // 13
            Err(TranslateError::UntranslatableIcmpv4 {
                icmp_type: Icmpv4Type::DestUnreachable,
                code: 14,
            }), // 14 host precedence violation: drop
            prohibited,       // 15 precedence cutoff
        ];
        for (code, want) in want.into_iter().enumerate() {
            assert_eq!(to6(3, code as u8), want, "code {code}");
        }
        assert!(to6(3, 16).is_err());
    }

    #[test]
    fn icmpv4_other_types() {
        assert_eq!(to6(11, 0), Ok((3, 0, 0)));
        assert_eq!(to6(11, 1), Ok((3, 1, 0)));
        for t in [4, 5, 6, 8, 0, 9, 10, 13, 14, 15, 16, 17, 18, 42] {
            assert!(to6(t, 0).is_err(), "type {t}");
        }
        // Parameter problem: pointer table (Figure 3), codes 0 and 2 only.
        let pp = |code, pointer: u8| {
            error_to_icmpv6(
                Icmpv4Type::ParameterProblem,
                code,
                [pointer, 0, 0, 0],
                0,
                &Config::default(),
            )
            .map(|h| (h.icmp_type, h.code, h.rest))
        };
        for (p4, p6) in [
            (0, 0),
            (1, 1),
            (2, 4),
            (3, 4),
            (8, 7),
            (9, 6),
            (12, 8),
            (15, 8),
            (16, 24),
            (19, 24),
        ] {
            assert_eq!(
                pp(0, p4),
                Ok((Icmpv6Type::ParameterProblem, 0, p6)),
                "pointer {p4}"
            );
            assert_eq!(
                pp(2, p4),
                Ok((Icmpv6Type::ParameterProblem, 0, p6)),
                "pointer {p4}"
            );
        }
        for p4 in [4, 5, 6, 7, 10, 11, 20, 255] {
            assert_eq!(
                pp(0, p4),
                Err(TranslateError::UntranslatablePointer(p4.into()))
            );
        }
        assert!(matches!(
            pp(1, 0),
            Err(TranslateError::UntranslatableIcmpv4 { code: 1, .. })
        ));
    }

    #[test]
    fn icmpv6_error_types() {
        let want = [
            (0, Ok((3, 1, 0))),
            (1, Ok((3, 10, 0))),
            (2, Ok((3, 1, 0))),
            (3, Ok((3, 1, 0))),
            (4, Ok((3, 3, 0))),
        ];
        for (code, w) in want {
            assert_eq!(to4(1, code), w, "unreachable code {code}");
        }
        for code in 5..8 {
            assert!(to4(1, code).is_err());
        }
        assert_eq!(to4(3, 0), Ok((11, 0, 0)));
        assert_eq!(to4(3, 1), Ok((11, 1, 0)));
        assert_eq!(
            to4(4, 1),
            Ok((3, 2, 0)),
            "unrecognized next header → protocol unreachable"
        );
        assert!(to4(4, 2).is_err(), "unrecognized option: drop");
        for t in [128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 5, 127] {
            assert!(to4(t, 0).is_err(), "type {t}");
        }
        let pp = |pointer: u32| {
            error_to_icmpv4(
                Icmpv6Type::ParameterProblem,
                0,
                pointer.to_be_bytes(),
                false,
                &Config::default(),
            )
            .map(|h| h.rest >> 24)
        };
        for (p6, p4) in [
            (0, 0),
            (1, 1),
            (4, 2),
            (5, 2),
            (6, 9),
            (7, 8),
            (8, 12),
            (23, 12),
            (24, 16),
            (39, 16),
        ] {
            assert_eq!(pp(p6), Ok(p4), "pointer {p6}");
        }
        for p6 in [2, 3, 40, 0x0100_0000] {
            assert_eq!(pp(p6), Err(TranslateError::UntranslatablePointer(p6)));
        }
    }

    #[test]
    fn mtus() {
        // 4 → 6: advertised 1400 + 20 = 1420 under 1500/1500 links.
        let c = config(1500, 1500);
        assert_eq!(mtu_to_ipv6(1400, 1500, &c), 1420);
        assert_eq!(
            mtu_to_ipv6(1480, 1500, &config(1500, 1400)),
            1420,
            "IPv4 link + 20"
        );
        assert_eq!(
            mtu_to_ipv6(9000, 9000, &config(1500, 9000)),
            1500,
            "IPv6 link"
        );
        assert_eq!(mtu_to_ipv6(576, 1500, &c), 1280, "never below 1280");
        // MTU 0: the plateau below the quoted length, plus 20.
        assert_eq!(mtu_to_ipv6(0, 1500, &config(9000, 9000)), 1492 + 20);
        assert_eq!(mtu_to_ipv6(0, 1492, &c), 1280, "1006 + 20 → 1280");
        assert_eq!(plateau_below(1500), 1492);
        assert_eq!(plateau_below(65535), 32000);
        assert_eq!(plateau_below(69), 68);
        assert_eq!(plateau_below(68), 68);
        // 6 → 4.
        assert_eq!(mtu_to_ipv4(1400, false, &c), 1380);
        assert_eq!(
            mtu_to_ipv4(1400, true, &c),
            1372,
            "a Fragment Header is 8 more"
        );
        assert_eq!(
            mtu_to_ipv4(1500, false, &config(1500, 1400)),
            1400,
            "IPv4 link"
        );
        assert_eq!(
            mtu_to_ipv4(9000, false, &config(1400, 9000)),
            1380,
            "IPv6 link - 20"
        );
        assert_eq!(mtu_to_ipv4(40, false, &c), 68);
        assert_eq!(mtu_to_ipv4(u32::MAX, false, &config(65535, 65535)), 65515);
        assert_eq!(
            error_to_icmpv4(
                Icmpv6Type::PacketTooBig,
                0,
                1400u32.to_be_bytes(),
                false,
                &c
            )
            .map(|h| (h.icmp_type, h.code, h.rest)),
            Ok((Icmpv4Type::DestUnreachable, 4, 1380))
        );
        assert_eq!(
            error_to_icmpv6(Icmpv4Type::DestUnreachable, 4, [0, 0, 0x05, 0x78], 1500, &c)
                .map(|h| h.rest),
            Ok(1420)
        );
    }

    #[test]
    fn echo_and_length_attributes() {
        assert_eq!(
            echo_to_icmpv6(Icmpv4Type::EchoRequest),
            Some(Icmpv6Type::EchoRequest)
        );
        assert_eq!(
            echo_to_icmpv6(Icmpv4Type::EchoReply),
            Some(Icmpv6Type::EchoReply)
        );
        assert_eq!(echo_to_icmpv6(Icmpv4Type::Timestamp), None);
        assert_eq!(
            echo_to_icmpv4(Icmpv6Type::EchoRequest),
            Some(Icmpv4Type::EchoRequest)
        );
        assert_eq!(
            echo_to_icmpv4(Icmpv6Type::EchoReply),
            Some(Icmpv4Type::EchoReply)
        );
        assert_eq!(echo_to_icmpv4(Icmpv6Type::NeighborSolicitation), None);
        assert!(icmpv4_has_length(Icmpv4Type::ParameterProblem));
        assert!(!icmpv4_has_length(Icmpv4Type::Redirect));
        assert!(icmpv6_has_length(Icmpv6Type::TimeExceeded));
        assert!(!icmpv6_has_length(Icmpv6Type::PacketTooBig));
    }
}
