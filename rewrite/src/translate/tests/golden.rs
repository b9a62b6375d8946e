//! Whole packets both ways, compared byte for byte with packets built from scratch.

use super::*;
use crate::rewrite::L4Checksum;

#[test]
fn udp_ipv4_to_ipv6() {
    let data = b"hello";
    let input = V4 {
        tos: 0x2e,
        ..V4::new(17)
    }
    .build(&[], &udp(53, 40000, data, IpAddrs::V4(B4, A4)));
    let want = ipv6(
        0x2e,
        17,
        63,
        (B6, A6),
        &[],
        &udp(53, 40000, data, IpAddrs::V6(B6, A6)),
    );
    assert_eq!(
        to6(&translator(), &input, &plan6()),
        Ok((want.clone(), None))
    );
    // IPv4 options are dropped (RFC 7915 §4.1): NOP NOP NOP END.
    let with_options = V4 {
        tos: 0x2e,
        ..V4::new(17)
    }
    .build(&[1, 1, 1, 0], &udp(53, 40000, data, IpAddrs::V4(B4, A4)));
    assert_eq!(
        to6(&translator(), &with_options, &plan6()),
        Ok((want, None))
    );
}

#[test]
fn tcp_ipv6_to_ipv4_with_napt() {
    let input = ipv6(
        0,
        6,
        64,
        (A6, B6),
        &[],
        &tcp(40000, 443, b"GET /", IpAddrs::V6(A6, B6)),
    );
    let plan = ToIpv4 {
        outer: Mapping {
            src_port: Some(1024),
            ..Mapping::new(A4, B4)
        },
        ..plan4()
    };
    let want = V4::translated(6).build(&[], &tcp(1024, 443, b"GET /", IpAddrs::V4(A4, B4)));
    assert_eq!(to4(&translator(), &input, &plan), Ok((want, None)));
}

#[test]
fn echo_both_ways_with_a_new_identifier() {
    let request6 = ipv6(
        0,
        58,
        64,
        (A6, B6),
        &[],
        &icmp6(128, 0, [0x11, 0x11, 0, 1], b"ping", (A6, B6)),
    );
    let mut plan = plan4();
    plan.outer.icmp_id = Some(0x2222);
    let request4 = V4::translated(1).build(&[], &icmp4(8, 0, [0x22, 0x22, 0, 1], b"ping"));
    assert_eq!(to4(&translator(), &request6, &plan), Ok((request4, None)));

    let reply4 = V4::new(1).build(&[], &icmp4(0, 0, [0x22, 0x22, 0, 1], b"pong"));
    let mut plan = plan6();
    plan.outer.icmp_id = Some(0x1111);
    let reply6 = ipv6(
        0,
        58,
        63,
        (B6, A6),
        &[],
        &icmp6(129, 0, [0x11, 0x11, 0, 1], b"pong", (B6, A6)),
    );
    assert_eq!(to6(&translator(), &reply4, &plan), Ok((reply6, None)));
}

/// A 100-byte UDP datagram sent as two IPv4 fragments becomes two IPv6 fragments
/// (RFC 7915 §4.1 Fragment Header) and back (§5.1.1).
#[test]
fn fragments_both_ways() {
    let data: Vec<u8> = (0..92).collect();
    let udp4 = udp(53, 40000, &data, IpAddrs::V4(B4, A4));
    let udp6 = udp(53, 40000, &data, IpAddrs::V6(B6, A6));
    let v4 = |flags_offset, part: &[u8]| {
        V4 {
            ident: 0xabcd,
            flags_offset,
            ..V4::new(17)
        }
        .build(&[], part)
    };
    let v6 = |offset, more, part: &[u8]| {
        ipv6(
            0,
            44,
            63,
            (B6, A6),
            &frag_header(17, offset, more, 0xabcd),
            part,
        )
    };
    let first4 = v4(0x2000, &udp4[..48]);
    let second4 = v4(48 / 8, &udp4[48..]);
    assert_eq!(
        to6(&translator(), &first4, &plan6()),
        Ok((v6(0, true, &udp6[..48]), None))
    );
    assert_eq!(
        to6(&translator(), &second4, &plan6()),
        Ok((v6(48, false, &udp6[48..]), None))
    );

    // And back: the 32-bit identification keeps its low 16 bits, DF is clear.
    let back = |offset, more, part: &[u8]| {
        ipv6(
            0,
            44,
            64,
            (A6, B6),
            &frag_header(17, offset, more, 0x0102_abcd),
            part,
        )
    };
    let udp6 = udp(40000, 53, &data, IpAddrs::V6(A6, B6));
    let udp4 = udp(40000, 53, &data, IpAddrs::V4(A4, B4));
    let want4 = |flags_offset, part: &[u8]| {
        V4 {
            ident: 0xabcd,
            flags_offset,
            ttl: 63,
            src: A4,
            dst: B4,
            ..V4::new(17)
        }
        .build(&[], part)
    };
    assert_eq!(
        to4(&translator(), &back(0, true, &udp6[..48]), &plan4()),
        Ok((want4(0x2000, &udp4[..48]), None))
    );
    assert_eq!(
        to4(&translator(), &back(48, false, &udp6[48..]), &plan4()),
        Ok((want4(6, &udp4[48..]), None))
    );
}

/// RFC 7915 §4.1: without DF, a packet whose translation exceeds lowest-ipv6-mtu
/// gets a Fragment Header and is split into pieces of at most 1280 bytes.
#[test]
fn ipv4_without_df_is_split_at_lowest_ipv6_mtu() {
    let data: Vec<u8> = (0..1392).map(|i| i as u8).collect();
    let input = V4 {
        flags_offset: 0,
        ..V4::new(17)
    }
    .build(&[], &udp(53, 40000, &data, IpAddrs::V4(B4, A4)));
    let udp6 = udp(53, 40000, &data, IpAddrs::V6(B6, A6));
    let fragment = |offset, more, part: &[u8]| {
        ipv6(
            0,
            44,
            63,
            (B6, A6),
            &frag_header(17, offset, more, 0x1234),
            part,
        )
    };
    let (whole, fragment_len) = to6(&translator(), &input, &plan6()).unwrap();
    assert_eq!(fragment_len, Some(1280));
    assert_eq!(whole, fragment(0, false, &udp6));
    let mut pieces = Fragments::new(&whole, 1280).unwrap();
    let mut out = [0u8; 1280];
    let n = pieces.next_into(&mut out).unwrap().unwrap();
    assert_eq!(out[..n], fragment(0, true, &udp6[..1232]));
    let n = pieces.next_into(&mut out).unwrap().unwrap();
    assert_eq!(out[..n], fragment(1232, false, &udp6[1232..]));
    assert_eq!(pieces.next_into(&mut out), Ok(None));

    // With DF the same packet fits the 1500-byte IPv6 link whole.
    let df = V4::new(17).build(&[], &udp(53, 40000, &data, IpAddrs::V4(B4, A4)));
    let want = ipv6(0, 17, 63, (B6, A6), &[], &udp6);
    assert_eq!(to6(&translator(), &df, &plan6()), Ok((want, None)));
}

/// RFC 7915 §5.1: DF is set above 1260 bytes; a DF-clear packet larger than the
/// IPv4 link is split there with the caller's Identification.
#[test]
fn ipv6_df_threshold_and_ipv4_split() {
    let at = |len: usize| {
        let data = std::vec![7u8; len - 28];
        ipv6(
            0,
            17,
            64,
            (A6, B6),
            &[],
            &udp(1, 2, &data, IpAddrs::V6(A6, B6)),
        )
    };
    let flags = |p: &[u8]| to4(&translator(), p, &plan4()).map(|(o, _)| (o[6], o.len()));
    assert_eq!(flags(&at(1260)), Ok((0x00, 1260)));
    assert_eq!(flags(&at(1261)), Ok((0x40, 1261)));

    let small_link = Translator::new(Config {
        ipv4_mtu: 576,
        ..Config::default()
    })
    .unwrap();
    let plan = ToIpv4 {
        ipv4_ident: 0x7777,
        ..plan4()
    };
    let (whole, fragment_len) = to4(&small_link, &at(1000), &plan).unwrap();
    assert_eq!(fragment_len, Some(576));
    assert_eq!(&whole[4..8], &[0x77, 0x77, 0, 0], "caller's ident, no DF");
    let mut pieces = Fragments::new(&whole, 576).unwrap();
    let mut out = [0u8; 576];
    let mut got = Vec::new();
    while let Some(n) = pieces.next_into(&mut out).unwrap() {
        assert!(sixfold_checksum::verify(&out[..20]));
        got.push((n, u16::from_be_bytes([out[6], out[7]])));
    }
    // 980 data bytes: 552 (MF, offset 0) + 428 (offset 552 / 8 = 69).
    assert_eq!(got, [(572, 0x2000), (448, 69)]);

    // Without a split the Identification is 0 (§5.1) unless generation is on.
    assert_eq!(to4(&translator(), &at(100), &plan).unwrap().0[4..6], [0, 0]);
    let generating = Translator::new(Config {
        generate_ipv4_ident: true,
        ..Config::default()
    })
    .unwrap();
    assert_eq!(
        to4(&generating, &at(100), &plan).unwrap().0[4..6],
        [0x77, 0x77]
    );
    assert_eq!(
        to4(&generating, &at(88), &plan).unwrap().0[4..6],
        [0, 0],
        "88 bytes: no"
    );
    assert_eq!(to4(&generating, &at(1281), &plan).unwrap().0[4..6], [0, 0]);
}

#[test]
fn extension_headers_are_skipped() {
    // Hop-by-hop (PadN), routing header with segments left 0, destination options.
    let ext = [
        43, 0, 1, 4, 0, 0, 0, 0, //
        60, 0, 4, 0, 0, 0, 0, 0, //
        6, 0, 1, 4, 0, 0, 0, 0,
    ];
    let input = ipv6(
        0,
        0,
        64,
        (A6, B6),
        &ext,
        &tcp(1, 2, b"x", IpAddrs::V6(A6, B6)),
    );
    let want = V4::translated(6).build(&[], &tcp(1, 2, b"x", IpAddrs::V4(A4, B4)));
    assert_eq!(to4(&translator(), &input, &plan4()), Ok((want, None)));
}

#[test]
fn traffic_class_tos_and_hop_limit_settings() {
    let t = Translator::new(Config {
        traffic_class: Some(0),
        tos: Some(0x20),
        decrement_hop_limit: false,
        ..Config::default()
    })
    .unwrap();
    let input = V4 {
        tos: 0xb8,
        ..V4::new(17)
    }
    .build(&[], &udp(1, 2, b"", IpAddrs::V4(B4, A4)));
    let (out, _) = to6(&t, &input, &plan6()).unwrap();
    assert_eq!((&out[..2], out[7]), (&[0x60, 0x00][..], 64));
    let input = ipv6(
        0xb8,
        17,
        1,
        (A6, B6),
        &[],
        &udp(1, 2, b"", IpAddrs::V6(A6, B6)),
    );
    let (out, _) = to4(&t, &input, &plan4()).unwrap();
    assert_eq!(
        (out[1], out[8]),
        (0x20, 1),
        "TTL 1 passes when the caller decrements"
    );
    // Copied by default: traffic class 0xb8 (EF) → TOS 0xb8.
    let (out, _) = to4(
        &Translator::new(Config {
            decrement_hop_limit: false,
            ..Config::default()
        })
        .unwrap(),
        &input,
        &plan4(),
    )
    .unwrap();
    assert_eq!(out[1], 0xb8);
}

/// RFC 7915 §4.5 option 2: a UDP/IPv4 checksum of 0 is computed for IPv6.
#[test]
fn udp_checksum_zero_amended() {
    let t = Translator::new(Config {
        amend_udp_checksum_zero: true,
        ..Config::default()
    })
    .unwrap();
    let mut datagram = udp(53, 40000, b"no checksum", IpAddrs::V4(B4, A4));
    datagram[6..8].fill(0);
    let input = V4::new(17).build(&[], &datagram);
    let want = ipv6(
        0,
        17,
        63,
        (B6, A6),
        &[],
        &udp(53, 40000, b"no checksum", IpAddrs::V6(B6, A6)),
    );
    assert_eq!(to6(&t, &input, &plan6()), Ok((want, None)));
}

#[test]
fn dccp_and_other_protocols() {
    // DCCP (RFC 4340): a 16-byte generic header, checksum at bytes 6-7.
    let dccp = |addrs| {
        let mut h = std::vec![
            0x13, 0x88, 0x00, 0x50, 4, 0, 0, 0, 0x0e, 0, 0, 0, 0, 0, 0, 1
        ];
        let c = (pseudo_of(addrs, 33, h.len()) + sum(&h)).checksum();
        h[6..8].copy_from_slice(&c.to_be_bytes());
        h
    };
    let input = V4::new(33).build(&[], &dccp(IpAddrs::V4(B4, A4)));
    let want = ipv6(0, 33, 63, (B6, A6), &[], &dccp(IpAddrs::V6(B6, A6)));
    assert_eq!(to6(&translator(), &input, &plan6()), Ok((want, None)));
    // GRE (47) has no pseudo-header: copied as is (RFC 7915 §4.5: forwarded).
    let gre = [0, 0, 0x08, 0, 1, 2, 3, 4];
    let input = V4::new(47).build(&[], &gre);
    assert_eq!(
        to6(&translator(), &input, &plan6()),
        Ok((ipv6(0, 47, 63, (B6, A6), &[], &gre), None))
    );
}

/// Offload partial checksums (virtio NEEDS_CSUM) hold the pseudo-header sum: the
/// translation swaps one family's for the other's and leaves ports to the device.
#[test]
fn partial_checksum_follows_the_pseudo_header() {
    let mut datagram = udp(53, 40000, b"offload", IpAddrs::V4(B4, A4));
    let partial4 = pseudo::ipv4(B4, A4, 17, datagram.len() as u16);
    datagram[6..8].copy_from_slice(&partial4.to_be_bytes());
    let input = V4::new(17).build(&[], &datagram);
    let plan = ToIpv6 {
        l4_checksum: L4Checksum::Partial,
        ..plan6()
    };
    let (out, _) = to6(&translator(), &input, &plan).unwrap();
    let partial6 = pseudo::ipv6(B6, A6, 17, datagram.len() as u32);
    assert_eq!(Sum::from_be_bytes([out[46], out[47]]), partial6);
}

#[test]
fn inspection() {
    let p = V4 {
        flags_offset: 0x2000,
        ..V4::new(17)
    }
    .build(&[], &udp(53, 40000, b"x", IpAddrs::V4(B4, A4)));
    let i = inspect(&p).unwrap();
    assert_eq!(
        (i.src, i.dst, i.protocol),
        (B4.into(), A4.into(), crate::IpProtocol::Udp)
    );
    assert_eq!(
        (i.src_port, i.dst_port, i.icmp_id, i.quote),
        (Some(53), Some(40000), None, None)
    );
    assert_eq!(
        i.fragment,
        Some(FragmentInfo {
            offset: 0,
            more: true,
            ident: 0x1234
        })
    );
    let p = ipv6(
        0,
        44,
        64,
        (A6, B6),
        &frag_header(58, 8, false, 9),
        &[1, 2, 3],
    );
    let i = inspect(&p).unwrap();
    assert_eq!(
        (i.protocol, i.src_port, i.icmp_type),
        (crate::IpProtocol::Icmpv6, None, None)
    );
    assert_eq!(
        i.fragment,
        Some(FragmentInfo {
            offset: 8,
            more: false,
            ident: 9
        })
    );
    let echo = ipv6(
        0,
        58,
        64,
        (A6, B6),
        &[],
        &icmp6(128, 0, [0xbe, 0xef, 0, 1], b"", (A6, B6)),
    );
    let i = inspect(&echo).unwrap();
    assert_eq!(
        (i.icmp_type, i.icmp_id, i.is_icmp_error()),
        (Some(128), Some(0xbeef), false)
    );
}

#[test]
fn config_validation() {
    for (config, err) in [
        (
            Config {
                lowest_ipv6_mtu: 1279,
                ..Config::default()
            },
            ConfigError::LowestIpv6Mtu(1279),
        ),
        (
            Config {
                ipv6_mtu: 1200,
                ..Config::default()
            },
            ConfigError::Ipv6Mtu(1200),
        ),
        (
            Config {
                ipv4_mtu: 67,
                ..Config::default()
            },
            ConfigError::Ipv4Mtu(67),
        ),
    ] {
        assert_eq!(Translator::new(config), Err(err));
    }
    assert_eq!(translator().config(), &Config::default());
}
