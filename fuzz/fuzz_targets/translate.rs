//! Arbitrary packets through the RFC 7915 translator with arbitrary settings and
//! plans (addresses by RFC 6052, plus NAPT ports and identifiers): nothing
//! panics; every IPv4 header written is valid; output translated from a packet
//! whose checksums were all valid has valid checksums; and the fragments of a
//! split packet fit the size asked for and carry exactly its data, in order.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sixfold_rewrite::addr::Nat64Prefix;
use sixfold_rewrite::translate::{
    Config, Fragments, Mapping, ToIpv4, ToIpv6, TranslateError, Translated, Translator, inspect,
};
use sixfold_rewrite::{
    ChecksumState, Error, L4Checksum, recompute_checksums, transport_checksum_state,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[path = "shared/valid.rs"]
mod shared;
use shared::valid;

#[derive(Arbitrary, Debug)]
struct Input {
    packet: Vec<u8>,
    fix_checksums: bool,
    lowest_ipv6_mtu: u16,
    ipv6_mtu: u16,
    ipv4_mtu: u16,
    amend_udp_checksum_zero: bool,
    generate_ipv4_ident: bool,
    decrement_hop_limit: bool,
    traffic_class: Option<u8>,
    tos: Option<u8>,
    ports: (Option<u16>, Option<u16>),
    icmp_id: Option<u16>,
    quote_ports: (Option<u16>, Option<u16>),
    quote_icmp_id: Option<u16>,
    ipv4_ident: u16,
    icmp_message_len: Option<u16>,
    partial: bool,
}

const POOL6: Nat64Prefix =
    match Nat64Prefix::new(Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0, 0), 96) {
        Ok(p) => p,
        Err(_) => panic!("a valid prefix"),
    };

fn to6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(a) => POOL6.embed(a),
        IpAddr::V6(a) => a,
    }
}

fn to4(a: IpAddr) -> Ipv4Addr {
    match a {
        IpAddr::V6(a) => POOL6.extract(a).unwrap_or(Ipv4Addr::new(192, 0, 2, 1)),
        IpAddr::V4(a) => a,
    }
}

fn mapping<A>(
    src: A,
    dst: A,
    ports: (Option<u16>, Option<u16>),
    icmp_id: Option<u16>,
) -> Mapping<A> {
    Mapping {
        src_port: ports.0,
        dst_port: ports.1,
        icmp_id,
        ..Mapping::new(src, dst)
    }
}

fn translate(
    input: &Input,
    t: &Translator,
    p: &[u8],
    out: &mut [u8],
) -> Result<Translated, TranslateError> {
    let info = inspect(p)?;
    let l4_checksum = if input.partial {
        L4Checksum::Partial
    } else {
        L4Checksum::Complete
    };
    let icmp_message_len = input.icmp_message_len.map(usize::from);
    if info.src.is_ipv4() {
        let plan = ToIpv6 {
            outer: mapping(to6(info.src), to6(info.dst), input.ports, input.icmp_id),
            quote: info.quote.map(|q| {
                mapping(
                    to6(q.src_addr()),
                    to6(q.dst_addr()),
                    input.quote_ports,
                    input.quote_icmp_id,
                )
            }),
            l4_checksum,
            icmp_message_len,
        };
        t.ipv4_to_ipv6(p, &plan, out)
    } else {
        let plan = ToIpv4 {
            outer: mapping(to4(info.src), to4(info.dst), input.ports, input.icmp_id),
            quote: info.quote.map(|q| {
                mapping(
                    to4(q.src_addr()),
                    to4(q.dst_addr()),
                    input.quote_ports,
                    input.quote_icmp_id,
                )
            }),
            l4_checksum,
            icmp_message_len,
            ipv4_ident: input.ipv4_ident,
        };
        t.ipv6_to_ipv4(p, &plan, out)
    }
}

fuzz_target!(|input: Input| {
    let mut p = input.packet.clone();
    if input.fix_checksums {
        let _ = recompute_checksums(&mut p);
    }
    // Only a packet whose every checksum could be computed (not a fragment) is
    // known good; an atomic IPv6 fragment becomes a whole IPv4 packet whose
    // unknown checksum the translation rightly carries over.
    let checkable = !input.partial && transport_checksum_state(&p) == Ok(ChecksumState::Valid);
    let config = Config {
        lowest_ipv6_mtu: input.lowest_ipv6_mtu.max(1280),
        ipv6_mtu: input.ipv6_mtu.max(1280),
        ipv4_mtu: input.ipv4_mtu.max(68),
        amend_udp_checksum_zero: input.amend_udp_checksum_zero,
        traffic_class: input.traffic_class,
        tos: input.tos,
        generate_ipv4_ident: input.generate_ipv4_ident,
        decrement_hop_limit: input.decrement_hop_limit,
    };
    let t = Translator::new(config).expect("MTUs clamped to the minimums");
    let mut out = vec![0u8; p.len() + 1400];
    let r = match translate(&input, &t, &p, &mut out) {
        Ok(r) => r,
        Err(e) => {
            let _ = (e.reply(), e.name(), e.to_string());
            return;
        }
    };
    let translated = &out[..r.len];
    assert!(
        translated[0] >> 4 != 4 || sixfold_checksum::verify(&translated[..20]),
        "a written IPv4 header has a bad checksum: {translated:02x?}"
    );
    if checkable {
        assert!(
            valid(translated),
            "translation broke a checksum:\n in  {p:02x?}\n out {translated:02x?}"
        );
    }
    let Some(max) = r.fragment_len else { return };
    let mut pieces = Fragments::new(translated, max).expect("the translator's own output splits");
    let header = if translated[0] >> 4 == 4 { 20 } else { 48 };
    let mut piece = vec![0u8; max];
    let mut data = Vec::new();
    loop {
        let n = match pieces.next_into(&mut piece) {
            Ok(Some(n)) => n,
            Ok(None) => break,
            // A fragment whose data runs past the largest datagram (65535 bytes)
            // has no offset for its last pieces.
            Err(TranslateError::Malformed(Error::BadFragmentOffset(_))) => return,
            Err(e) => panic!("splitting the translator's output failed: {e}"),
        };
        assert!(n <= max);
        assert!(piece[0] >> 4 != 4 || sixfold_checksum::verify(&piece[..20]));
        data.extend_from_slice(&piece[header..n]);
    }
    assert_eq!(
        data,
        &translated[header..],
        "the pieces carry the packet's data"
    );
});
