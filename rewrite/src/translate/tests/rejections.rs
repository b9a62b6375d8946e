//! One test per refusal, each with the exact error.

use super::*;
use crate::error::{Error, Layer};
use crate::icmp::{Icmpv4Type, Icmpv6Type};
use crate::protocol::IpProtocol;
use core::net::IpAddr;

fn err6(p: &[u8], plan: &ToIpv6) -> TranslateError {
    to6(&translator(), p, plan).unwrap_err()
}

fn err4(p: &[u8], plan: &ToIpv4) -> TranslateError {
    to4(&translator(), p, plan).unwrap_err()
}

fn udp4() -> Vec<u8> {
    V4::new(17).build(&[], &udp(53, 40000, b"x", IpAddrs::V4(B4, A4)))
}

fn udp6() -> Vec<u8> {
    ipv6(
        0,
        17,
        64,
        (A6, B6),
        &[],
        &udp(1, 2, b"x", IpAddrs::V6(A6, B6)),
    )
}

#[test]
fn malformed() {
    assert_eq!(
        err6(&udp4()[..19], &plan6()),
        TranslateError::Malformed(Error::Truncated {
            layer: Layer::Ipv4,
            need: 20,
            got: 19
        })
    );
    let v4 = V4::new(17).build(&[], &[0; 30]);
    assert_eq!(
        err4(&v4, &plan4()),
        TranslateError::Malformed(Error::BadVersion(4))
    );
    // A first fragment cut inside its UDP header.
    let cut = V4 {
        flags_offset: 0x2000,
        ..V4::new(17)
    }
    .build(&[], &[0; 4]);
    assert_eq!(
        err6(&cut, &plan6()),
        TranslateError::Malformed(Error::Truncated {
            layer: Layer::Udp,
            need: 8,
            got: 4
        })
    );
}

#[test]
fn bad_ipv4_header_checksum() {
    let mut p = udp4();
    p[10] ^= 1;
    assert_eq!(err6(&p, &plan6()), TranslateError::BadIpv4HeaderChecksum);
}

#[test]
fn illegal_sources() {
    let p = V4 {
        src: Ipv4Addr::LOCALHOST,
        ..V4::new(17)
    }
    .build(&[], &[0; 8]);
    assert_eq!(
        err6(&p, &plan6()),
        TranslateError::IllegalSource(IpAddr::V4(Ipv4Addr::LOCALHOST))
    );
    let p = ipv6(0, 17, 64, (Ipv6Addr::LOCALHOST, B6), &[], &[0; 8]);
    assert_eq!(
        err4(&p, &plan4()),
        TranslateError::IllegalSource(IpAddr::V6(Ipv6Addr::LOCALHOST))
    );
}

#[test]
fn ttl_and_hop_limit_exceeded() {
    let p = V4 {
        ttl: 1,
        ..V4::new(17)
    }
    .build(&[], &udp(1, 2, b"", IpAddrs::V4(B4, A4)));
    assert_eq!(err6(&p, &plan6()), TranslateError::TtlExceeded);
    let p = ipv6(
        0,
        17,
        0,
        (A6, B6),
        &[],
        &udp(1, 2, b"", IpAddrs::V6(A6, B6)),
    );
    assert_eq!(err4(&p, &plan4()), TranslateError::HopLimitExceeded);
}

#[test]
fn unexpired_source_route() {
    let lsrr = [131, 7, 4, 192, 0, 2, 99, 0];
    let p = V4::new(17).build(&lsrr, &udp(1, 2, b"", IpAddrs::V4(B4, A4)));
    assert_eq!(err6(&p, &plan6()), TranslateError::SourceRoute);
}

#[test]
fn routing_header_with_segments_left() {
    // Hop-by-hop (8 bytes) then a routing header: Segments Left at 40 + 8 + 3.
    let mut ext = std::vec![43, 0, 1, 4, 0, 0, 0, 0, 17, 2, 4, 1, 0, 0, 0, 0];
    ext.extend_from_slice(&B6.octets());
    let p = ipv6(0, 0, 64, (A6, B6), &ext, &[0; 8]);
    let e = err4(&p, &plan4());
    assert_eq!(e, TranslateError::SegmentsLeft { pointer: 51 });
}

#[test]
fn extension_after_the_fragment_header() {
    let mut ext = frag_header(60, 0, true, 1).to_vec();
    ext.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
    let p = ipv6(0, 44, 64, (A6, B6), &ext, &[0; 8]);
    assert_eq!(
        err4(&p, &plan4()),
        TranslateError::ExtensionAfterFragment(IpProtocol::Ipv6Opts)
    );
}

#[test]
fn fragmentation_needed() {
    // 1481 bytes with DF: 1501 as IPv6 on a 1500 link. 1480 would fit.
    let p = V4::new(17).build(&[], &udp(1, 2, &[0; 1453], IpAddrs::V4(B4, A4)));
    assert_eq!(
        err6(&p, &plan6()),
        TranslateError::FragmentationNeeded { mtu: 1480 }
    );
}

#[test]
fn packet_too_big() {
    let t = Translator::new(Config {
        ipv4_mtu: 1400,
        ..Config::default()
    })
    .unwrap();
    let p = ipv6(
        0,
        17,
        64,
        (A6, B6),
        &[],
        &udp(1, 2, &[0; 1400], IpAddrs::V6(A6, B6)),
    );
    assert_eq!(
        to4(&t, &p, &plan4()),
        Err(TranslateError::PacketTooBig { mtu: 1420 })
    );
    let t = Translator::new(Config {
        ipv4_mtu: 576,
        ..Config::default()
    })
    .unwrap();
    assert_eq!(
        to4(&t, &p, &plan4()),
        Err(TranslateError::PacketTooBig { mtu: 1280 }),
        "§6"
    );
}

#[test]
fn udp_checksum_zero() {
    let mut d = udp(53, 40000, b"x", IpAddrs::V4(B4, A4));
    d[6..8].fill(0);
    let p = V4::new(17).build(&[], &d);
    assert_eq!(
        err6(&p, &plan6()),
        TranslateError::UdpChecksumZero { fragment: false }
    );
    let amending = Translator::new(Config {
        amend_udp_checksum_zero: true,
        ..Config::default()
    })
    .unwrap();
    let first = V4 {
        flags_offset: 0x2000,
        ..V4::new(17)
    }
    .build(&[], &d);
    assert_eq!(
        to6(&amending, &first, &plan6()),
        Err(TranslateError::UdpChecksumZero { fragment: true }),
        "a fragment's checksum cannot be computed"
    );
}

#[test]
fn untranslatable_icmp() {
    let timestamp = V4::new(1).build(&[], &icmp4(13, 0, [0, 1, 0, 1], &[0; 12]));
    assert_eq!(
        err6(&timestamp, &plan6()),
        TranslateError::UntranslatableIcmpv4 {
            icmp_type: Icmpv4Type::Timestamp,
            code: 0
        }
    );
    let ns = ipv6(
        0,
        58,
        255,
        (A6, B6),
        &[],
        &icmp6(135, 0, [0; 4], &B6.octets(), (A6, B6)),
    );
    assert_eq!(
        err4(&ns, &plan4()),
        TranslateError::UntranslatableIcmpv6 {
            icmp_type: Icmpv6Type::NeighborSolicitation,
            code: 0
        }
    );
    // An error type the tables drop: ICMPv4 redirect.
    let quote = quote4();
    let redirect = V4::new(1).build(&[], &icmp4(5, 1, [192, 0, 2, 9], &quote));
    let plan = error_plan6();
    assert_eq!(
        err6(&redirect, &plan),
        TranslateError::UntranslatableIcmpv4 {
            icmp_type: Icmpv4Type::Redirect,
            code: 1
        }
    );
}

#[test]
fn untranslatable_pointer() {
    let quote = quote4();
    let p = V4::new(1).build(&[], &icmp4(12, 0, [10, 0, 0, 0], &quote));
    let plan = error_plan6();
    assert_eq!(err6(&p, &plan), TranslateError::UntranslatablePointer(10));
}

#[test]
fn untranslatable_quote() {
    // An ICMP error quoting an ICMP error.
    let inner = V4 {
        src: A4,
        dst: B4,
        ..V4::new(1)
    }
    .build(&[], &icmp4(3, 3, [0; 4], &[]));
    let p = V4::new(1).build(&[], &icmp4(11, 0, [0; 4], &inner));
    let plan = error_plan6();
    assert_eq!(err6(&p, &plan), TranslateError::UntranslatableQuote);
}

#[test]
fn bad_icmp_checksum() {
    let quote = quote4();
    let mut p = V4::new(1).build(&[], &icmp4(3, 3, [0; 4], &quote));
    let last = p.len() - 1;
    p[last] ^= 0x40;
    let plan = error_plan6();
    assert_eq!(err6(&p, &plan), TranslateError::BadIcmpChecksum);
    let quote6 = ipv6(0, 17, 64, (A6, B6), &[], &[0; 8]);
    let mut p = error6(1, 4, [0; 4], &quote6);
    p[45] ^= 1;
    let plan = error_plan4();
    assert_eq!(err4(&p, &plan), TranslateError::BadIcmpChecksum);
}

#[test]
fn protocol_of_the_other_family() {
    let icmpv6_in_ipv4 = V4::new(58).build(&[], &icmp4(128, 0, [0, 1, 0, 1], b""));
    assert_eq!(
        err6(&icmpv6_in_ipv4, &plan6()),
        TranslateError::ProtocolOfTheOtherFamily(IpProtocol::Icmpv6)
    );
    let icmpv4_in_ipv6 = ipv6(0, 1, 64, (A6, B6), &[], &icmp4(8, 0, [0, 1, 0, 1], b""));
    assert_eq!(
        err4(&icmpv4_in_ipv6, &plan4()),
        TranslateError::ProtocolOfTheOtherFamily(IpProtocol::Icmp)
    );
    let igmp = V4::new(2).build(&[], &[0x11, 0x64, 0xee, 0x9b, 0, 0, 0, 0]);
    assert_eq!(
        err6(&igmp, &plan6()),
        TranslateError::ProtocolOfTheOtherFamily(IpProtocol::Other(2))
    );
    // IPv4 "protocol 44" would reach IPv6 receivers as a Fragment Header.
    let fake_fragment = V4::new(44).build(&[], &[17, 0, 0, 1, 0, 0, 0, 1]);
    assert_eq!(
        err6(&fake_fragment, &plan6()),
        TranslateError::ProtocolOfTheOtherFamily(IpProtocol::Ipv6Frag)
    );
}

#[test]
fn fragmented_icmp_error() {
    let quote = quote4();
    let p = V4 {
        flags_offset: 0x2000,
        ..V4::new(1)
    }
    .build(&[], &icmp4(3, 3, [0; 4], &quote));
    let plan = error_plan6();
    assert_eq!(err6(&p, &plan), TranslateError::FragmentedIcmpError);
}

#[test]
fn icmp_length_unknown_then_supplied() {
    let whole = icmp4(8, 0, [0, 1, 0, 1], &[7; 100]);
    let first = V4 {
        flags_offset: 0x2000,
        ..V4::new(1)
    }
    .build(&[], &whole[..56]);
    assert_eq!(err6(&first, &plan6()), TranslateError::IcmpLengthUnknown);
    let plan = ToIpv6 {
        icmp_message_len: Some(whole.len()),
        ..plan6()
    };
    let (out, _) = to6(&translator(), &first, &plan).unwrap();
    let whole6 = icmp6(128, 0, [0, 1, 0, 1], &[7; 100], (B6, A6));
    assert_eq!(
        &out[48..],
        &whole6[..56],
        "the first piece of the whole message's ICMPv6 form"
    );
}

#[test]
fn missing_quote_mapping() {
    let quote = quote4();
    let p = V4::new(1).build(&[], &icmp4(3, 3, [0; 4], &quote));
    assert_eq!(err6(&p, &plan6()), TranslateError::MissingQuoteMapping);
}

#[test]
fn buffer_too_small() {
    let p = udp6();
    let mut out = [0u8; 40];
    assert_eq!(
        translator().ipv6_to_ipv4(&p, &plan4(), &mut out[..20]),
        Err(TranslateError::BufferTooSmall { need: 29, got: 20 })
    );
    let p = udp4();
    assert_eq!(
        translator().ipv4_to_ipv6(&p, &plan6(), &mut out),
        Err(TranslateError::BufferTooSmall { need: 49, got: 40 })
    );
}

#[test]
fn unmappable_addresses() {
    use crate::addr::{Eamt, Nat64Prefix, Siit};
    let siit = Siit {
        pool6: Some(Nat64Prefix::WELL_KNOWN),
        eamt: Eamt::new(&[][..]).unwrap(),
        rfc6791_v4: None,
        rfc6791_v6: None,
    };
    let mut out = [0u8; 1600];
    // 198.51.100.7 is TEST-NET-2: not under the Well-Known Prefix (RFC 6052 §3.1).
    assert_eq!(
        siit.translate(&translator(), &udp4(), 0, &mut out),
        Err(TranslateError::UnmappableAddress {
            addr: B4.into(),
            quoted: false
        })
    );
}
