//! ICMP errors with their quoted packets, both ways, byte for byte.

use super::*;

/// IPv4 host B4's port unreachable about a UDP datagram A4 → B4 (which was A6 →
/// B6 before translation) goes back to A6 from B6, its quote translated.
#[test]
fn port_unreachable_to_ipv6_translates_the_quote() {
    let quote4 = V4 {
        ttl: 63,
        src: A4,
        dst: B4,
        ..V4::new(17)
    }
    .build(&[], &udp(40000, 53, b"query", IpAddrs::V4(A4, B4)));
    let input = V4::new(1).build(&[], &icmp4(3, 3, [0; 4], &quote4));
    let plan = error_plan6();
    let quote6 = ipv6(
        0,
        17,
        63,
        (A6, B6),
        &[],
        &udp(40000, 53, b"query", IpAddrs::V6(A6, B6)),
    );
    let want = ipv6(
        0,
        58,
        63,
        (B6, A6),
        &[],
        &icmp6(1, 4, [0; 4], &quote6, (B6, A6)),
    );
    assert_eq!(to6(&translator(), &input, &plan), Ok((want, None)));
}

/// A traceroute hop: time exceeded from IPv6 router B6 about an echo request
/// A6 → B6 whose hop limit ran out; stateful NAT64 also restores the quoted
/// identifier and the IPv4 host's port numbers.
#[test]
fn time_exceeded_to_ipv4_translates_the_quoted_echo() {
    let quote6 = ipv6(
        0,
        58,
        1,
        (A6, B6),
        &[],
        &icmp6(128, 0, [0, 7, 0, 1], b"abcd", (A6, B6)),
    );
    let input = error6(3, 0, [0; 4], &quote6);
    let plan = ToIpv4 {
        quote: Some(Mapping {
            icmp_id: Some(0x0900),
            ..Mapping::new(A4, B4)
        }),
        ..ToIpv4::new(Mapping::new(B4, A4))
    };
    let quote4 = V4 {
        ident: 0,
        flags_offset: 0,
        ttl: 1,
        src: A4,
        dst: B4,
        ..V4::new(1)
    }
    .build(&[], &icmp4(8, 0, [0x09, 0, 0, 1], b"abcd"));
    let want = V4 {
        ident: 0,
        flags_offset: 0,
        ttl: 63,
        ..V4::new(1)
    }
    .build(&[], &icmp4(11, 0, [0; 4], &quote4));
    assert_eq!(to4(&translator(), &input, &plan), Ok((want, None)));
}

/// The classic 28-byte quote (IPv4 header and 8 bytes of TCP): ports are
/// translated, the cut-off checksum is not there to update; the IPv6 quote keeps
/// the original length in its header.
#[test]
fn short_quote_and_fragmented_quote() {
    let full = tcp(40000, 443, &[9; 100], IpAddrs::V4(A4, B4));
    let quote4 = V4 {
        ttl: 5,
        flags_offset: 0x2000, // a first fragment: the quote gets a Fragment Header
        src: A4,
        dst: B4,
        ..V4::new(6)
    }
    .build(&[], &full);
    let input = V4::new(1).build(&[], &icmp4(11, 0, [0; 4], &quote4[..28]));
    let plan = ToIpv6 {
        quote: Some(Mapping {
            src_port: Some(5555),
            ..Mapping::new(A6, B6)
        }),
        ..plan6()
    };
    let (out, _) = to6(&translator(), &input, &plan).unwrap();
    let quote = &out[48..];
    assert_eq!(quote.len(), 40 + 8 + 8);
    assert_eq!(
        &quote[4..8],
        &[0, 128, 44, 5],
        "payload 120 + 8, fragment header, TTL 5"
    );
    assert_eq!(&quote[40..48], &frag_header(6, 0, true, 0x1234));
    assert_eq!(&quote[48..], &[0x15, 0xb3, 0x01, 0xbb, 0, 0, 0x10, 0]);
    let all = pseudo::ipv6(B6, A6, 58, (out.len() - 40) as u32) + sum(&out[40..]);
    assert_eq!(all, Sum::NEG_ZERO, "the outer checksum is complete");
}

#[test]
fn mtu_errors_both_ways() {
    // Fragmentation needed, next-hop MTU 1400 → packet too big 1420 (§4.2).
    let quote4 = quote4();
    let input = V4::new(1).build(&[], &icmp4(3, 4, [0, 0, 0x05, 0x78], &quote4));
    let plan = error_plan6();
    let (out, _) = to6(&translator(), &input, &plan).unwrap();
    assert_eq!(&out[40..42], &[2, 0]);
    assert_eq!(&out[44..48], &1420u32.to_be_bytes());
    // Packet too big 1280 → fragmentation needed 1260 (§5.2).
    let quote6 = ipv6(0, 17, 64, (A6, B6), &[], &[0; 8]);
    let input = error6(2, 0, 1280u32.to_be_bytes(), &quote6);
    let plan = error_plan4();
    let (out, _) = to4(&translator(), &input, &plan).unwrap();
    assert_eq!(&out[20..22], &[3, 4]);
    assert_eq!(&out[24..28], &[0, 0, 0x04, 0xec]);
    assert!(sixfold_checksum::verify(&out[20..]));
}

#[test]
fn parameter_problems_and_protocol_unreachable() {
    let quote4 = quote4();
    let plan = error_plan6();
    // Pointer 9 (protocol) → 6 (next header).
    let input = V4::new(1).build(&[], &icmp4(12, 0, [9, 0, 0, 0], &quote4));
    let (out, _) = to6(&translator(), &input, &plan).unwrap();
    assert_eq!(&out[40..48], &[4, 0, out[42], out[43], 0, 0, 0, 6]);
    // Protocol unreachable → unrecognized next header, pointer 6.
    let input = V4::new(1).build(&[], &icmp4(3, 2, [0; 4], &quote4));
    let (out, _) = to6(&translator(), &input, &plan).unwrap();
    assert_eq!(&out[40..48], &[4, 1, out[42], out[43], 0, 0, 0, 6]);
    // And back: pointer 24 (destination address) → 16; next header → protocol.
    let quote6 = ipv6(0, 17, 64, (A6, B6), &[], &[0; 8]);
    let plan = error_plan4();
    let input = error6(4, 0, [0, 0, 0, 24], &quote6);
    let (out, _) = to4(&translator(), &input, &plan).unwrap();
    assert_eq!(&out[20..28], &[12, 0, out[22], out[23], 16, 0, 0, 0]);
    let input = error6(4, 1, [0, 0, 0, 6], &quote6);
    let (out, _) = to4(&translator(), &input, &plan).unwrap();
    assert_eq!(&out[20..28], &[3, 2, out[22], out[23], 0, 0, 0, 0]);
}

/// RFC 4884: the quote is padded to 128 bytes, the extension follows, and the
/// length attribute counts the padded datagram in the family's units.
#[test]
fn icmp_extensions_keep_their_length_attribute() {
    // An ICMPv4 time exceeded with a 128-byte original datagram (32 words) and a
    // 12-byte extension structure (version 2, one object).
    // Identification 0 and DF clear: what an IPv6 quote without a Fragment
    // Header translates back to.
    let header = V4 {
        ident: 0,
        flags_offset: 0,
        src: A4,
        dst: B4,
        ..V4::new(17)
    };
    let mut datagram = header.build(&[], &udp(1, 2, &[5; 20], IpAddrs::V4(A4, B4)));
    datagram.resize(128, 0);
    let extension = [0x20, 0, 0x12, 0x34, 0, 8, 1, 1, 0xc0, 0, 2, 1];
    let mut body = datagram.clone();
    body.extend_from_slice(&extension);
    let input = V4::new(1).build(&[], &icmp4(11, 0, [0, 32, 0, 0], &body));
    let plan = error_plan6();
    let (out, _) = to6(&translator(), &input, &plan).unwrap();
    // 148 bytes translated (128 + 20) → padded to 152 = 19 × 8.
    assert_eq!(out[44], 19);
    assert_eq!(out.len(), 48 + 152 + 12);
    assert_eq!(&out[48 + 152..], &extension);
    assert!(out[48 + 148..48 + 152].iter().all(|&b| b == 0));
    let all = pseudo::ipv6(B6, A6, 58, (out.len() - 40) as u32) + sum(&out[40..]);
    assert_eq!(all, Sum::NEG_ZERO);

    // And back: the 152-byte IPv6 datagram becomes 132 bytes (33 words).
    let quote6 = &out[48..];
    let input = error6(3, 0, [19, 0, 0, 0], quote6);
    let plan = error_plan4();
    let (back, _) = to4(&translator(), &input, &plan).unwrap();
    assert_eq!(back[25], 33);
    assert_eq!(&back[28 + 132..], &extension);
    assert_eq!(
        &back[28..28 + 128],
        &datagram[..],
        "the IPv4 datagram again, padding and all"
    );
    assert!(sixfold_checksum::verify(&back[20..]));
}

/// ICMPv6 errors are cut to 1280 bytes, ICMPv4 errors to 576.
#[test]
fn errors_are_cut_to_the_minimum_size() {
    let big4 = V4 {
        src: A4,
        dst: B4,
        ..V4::new(17)
    }
    .build(&[], &[1; 1400]);
    let input = V4::new(1).build(&[], &icmp4(3, 3, [0; 4], &big4));
    let plan = error_plan6();
    let (out, _) = to6(&translator(), &input, &plan).unwrap();
    assert_eq!(out.len(), 1280);
    assert_eq!(&out[4..6], &1240u16.to_be_bytes());
    let all = pseudo::ipv6(B6, A6, 58, 1240) + sum(&out[40..]);
    assert_eq!(all, Sum::NEG_ZERO);

    let big6 = ipv6(0, 17, 64, (A6, B6), &[], &[1; 1000]);
    let input = error6(1, 4, [0; 4], &big6);
    let plan = error_plan4();
    let (out, _) = to4(&translator(), &input, &plan).unwrap();
    assert_eq!(out.len(), 576);
    assert_eq!(&out[2..4], &576u16.to_be_bytes());
    assert_eq!(
        &out[28 + 2..28 + 4],
        &1020u16.to_be_bytes(),
        "the quote's own length stays"
    );
    assert!(sixfold_checksum::verify(&out[..20]) && sixfold_checksum::verify(&out[20..]));
}

/// On an IPv4 link below 576 bytes the translated error goes out in fragments,
/// with the caller's identification.
#[test]
fn an_error_larger_than_the_ipv4_link_is_split() {
    let t = Translator::new(Config {
        ipv4_mtu: 200,
        ..Config::default()
    })
    .unwrap();
    let big6 = ipv6(0, 17, 64, (A6, B6), &[], &[1; 1000]);
    let input = error6(1, 4, [0; 4], &big6);
    let plan = ToIpv4 {
        ipv4_ident: 0x6666,
        ..error_plan4()
    };
    let (out, fragment_len) = to4(&t, &input, &plan).unwrap();
    assert_eq!((out.len(), fragment_len), (576, Some(200)));
    assert_eq!(&out[4..8], &[0x66, 0x66, 0, 0]);
    let mut pieces = Fragments::new(&out, 200).unwrap();
    assert_eq!(pieces.remaining(), 4, "556 bytes in 176-byte pieces");
    let mut piece = [0u8; 200];
    while let Some(n) = pieces.next_into(&mut piece).unwrap() {
        assert!(n <= 200 && sixfold_checksum::verify(&piece[..20]));
    }
}
