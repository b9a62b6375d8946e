//! Properties of the translator:
//!
//! - the incrementally updated TCP/UDP/ICMP checksums equal a recompute from
//!   scratch (`recompute_checksums`), with half the cases forced so that the
//!   translated checksum lands on ±0;
//! - IPv4 → IPv6 → IPv4 and IPv6 → IPv4 → IPv6 give back the very packet where
//!   RFC 7915 loses nothing (no options or extension headers, the DF and
//!   identification the other direction would set, identifications of 16 bits);
//! - arbitrary and mutated packets never panic, and whatever is translated from
//!   a packet with valid checksums has valid checksums.

use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use sixfold_checksum::{Sum, pseudo, sum};
use sixfold_rewrite::addr::Nat64Prefix;
use sixfold_rewrite::translate::{Config, Fragments, Mapping, ToIpv4, ToIpv6, Translator, inspect};
use sixfold_rewrite::{ChecksumState, recompute_checksums, transport_checksum_state};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn pool6() -> Nat64Prefix {
    Nat64Prefix::new("2001:db8:64::".parse().unwrap(), 96).unwrap()
}

/// Not a source RFC 1812 forbids (0/8, 127/8, 224/3).
fn unicast(bits: u32) -> Ipv4Addr {
    let mut o = bits.to_be_bytes();
    if matches!(o[0], 0 | 127 | 224..=255) {
        o[0] = o[0] % 126 + 1;
    }
    Ipv4Addr::from(o)
}

/// One packet's worth of fields, in IPv4 terms.
#[derive(Clone, Debug)]
struct Packet {
    protocol: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    tos: u8,
    ttl: u8,
    ident: u16,
    ports: (u16, u16),
    payload: Vec<u8>,
    /// Choose the last payload word so that the IPv6 checksum is ±0.
    force_zero: bool,
}

impl Arbitrary for Packet {
    fn arbitrary(g: &mut Gen) -> Packet {
        let len = usize::arbitrary(g) % 1200;
        Packet {
            protocol: *g.choose(&[6, 17, 1, 47]).unwrap(),
            src: unicast(u32::arbitrary(g)),
            dst: unicast(u32::arbitrary(g)),
            tos: u8::arbitrary(g),
            ttl: u8::arbitrary(g).max(3),
            ident: u16::arbitrary(g),
            ports: (u16::arbitrary(g), u16::arbitrary(g)),
            payload: (0..len + 2).map(|_| u8::arbitrary(g)).collect(),
            force_zero: bool::arbitrary(g),
        }
    }
}

impl Packet {
    /// The transport segment; ICMP is an echo request of the family (`v6`).
    fn transport(&self, v6: bool) -> Vec<u8> {
        let mut t = match self.protocol {
            6 => {
                let mut h = vec![0u8; 20];
                h[12] = 0x50;
                h[13] = 0x18;
                h
            }
            17 => vec![0u8; 8],
            1 => vec![if v6 { 128 } else { 8 }, 0, 0, 0, 0, 0, 0, 1],
            _ => vec![],
        };
        if self.protocol != 1 && self.protocol != 47 {
            t[..2].copy_from_slice(&self.ports.0.to_be_bytes());
            t[2..4].copy_from_slice(&self.ports.1.to_be_bytes());
        }
        if self.protocol == 1 {
            t[4..6].copy_from_slice(&self.ports.0.to_be_bytes());
        }
        t.extend_from_slice(&self.payload);
        if self.protocol == 17 {
            let len = t.len() as u16;
            t[4..6].copy_from_slice(&len.to_be_bytes());
        }
        if self.force_zero && self.protocol != 47 {
            // The IPv6 pseudo-header plus everything sums to −0 once the last
            // word is chosen: the translated checksum is then 0 (0xFFFF for UDP).
            let n = t.len();
            t[n - 2..].fill(0);
            let (s6, d6) = (pool6().embed(self.src), pool6().embed(self.dst));
            let ph = pseudo::ipv6(
                s6,
                d6,
                if self.protocol == 1 {
                    58
                } else {
                    self.protocol
                },
                n as u32,
            );
            let mut probe = t.clone();
            probe[0] = if self.protocol == 1 { 128 } else { probe[0] };
            let need = (ph + sum(&probe)).checksum();
            let word = Sum::new(need).at_offset(n - 2).get();
            t[n - 2..].copy_from_slice(&word.to_be_bytes());
        }
        if self.protocol == 17 {
            // A fragment keeps this; a whole datagram gets its real checksum.
            t[6..8].copy_from_slice(&0x1234u16.to_be_bytes());
        }
        t
    }

    /// The IPv4 packet with every checksum computed from scratch.
    fn ipv4(&self, flags_offset: u16) -> Vec<u8> {
        let l4 = self.transport(false);
        let mut p = vec![0x45, self.tos];
        p.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
        p.extend_from_slice(&self.ident.to_be_bytes());
        p.extend_from_slice(&flags_offset.to_be_bytes());
        p.extend_from_slice(&[self.ttl, self.protocol, 0, 0]);
        p.extend_from_slice(&self.src.octets());
        p.extend_from_slice(&self.dst.octets());
        p.extend_from_slice(&l4);
        recompute_checksums(&mut p).unwrap();
        p
    }
}

fn plan6(p: &Packet) -> ToIpv6 {
    ToIpv6::new(Mapping::new(pool6().embed(p.src), pool6().embed(p.dst)))
}

fn plan4(p: &Packet) -> ToIpv4 {
    ToIpv4::new(Mapping::new(p.src, p.dst))
}

#[test]
fn incremental_equals_recompute() {
    fn prop(p: Packet) -> TestResult {
        let input = p.ipv4(0x4000);
        let mut out = vec![0u8; input.len() + 28];
        let t = Translator::new(Config::default()).unwrap();
        let r = t.ipv4_to_ipv6(&input, &plan6(&p), &mut out).unwrap();
        let got = out[..r.len].to_vec();
        let mut fresh = got.clone();
        recompute_checksums(&mut fresh).unwrap();
        if p.force_zero && p.protocol != 47 {
            let at = 40
                + if p.protocol == 6 {
                    16
                } else if p.protocol == 17 {
                    6
                } else {
                    2
                };
            let want: &[u8] = if p.protocol == 17 {
                &[0xff, 0xff]
            } else {
                &[0, 0]
            };
            assert_eq!(&got[at..at + 2], want, "forced onto ±0");
        }
        // And back: the IPv4 checksums equal a recompute too.
        let mut back = vec![0u8; got.len()];
        let r = t.ipv6_to_ipv4(&got, &plan4(&p), &mut back).unwrap();
        let mut fresh4 = back[..r.len].to_vec();
        recompute_checksums(&mut fresh4).unwrap();
        TestResult::from_bool(got == fresh && back[..r.len] == fresh4[..])
    }
    QuickCheck::new()
        .tests(3000)
        .quickcheck(prop as fn(Packet) -> TestResult);
}

#[test]
fn round_trips_are_lossless() {
    fn prop(p: Packet, fragment: Option<(u16, bool)>) -> bool {
        let t = Translator::new(Config {
            decrement_hop_limit: false,
            ..Config::default()
        })
        .unwrap();
        let len = 20 + p.transport(false).len();
        // What IPv6 → IPv4 writes: DF above 1260 bytes and identification 0
        // without a Fragment Header; DF clear and the identification with one.
        let (p, flags_offset) = match fragment {
            Some((offset, more)) if offset & 0x1FFF != 0 || more => {
                (p, (offset & 0x1FFF) | if more { 0x2000 } else { 0 })
            }
            _ => (
                Packet { ident: 0, ..p },
                if len > 1260 { 0x4000 } else { 0 },
            ),
        };
        let input = p.ipv4(flags_offset);
        let mut v6 = vec![0u8; input.len() + 28];
        // An echo's pseudo-header length goes in and comes out again: any value
        // round-trips a first fragment.
        let plan = ToIpv6 {
            icmp_message_len: Some(1000),
            ..plan6(&p)
        };
        let r = t.ipv4_to_ipv6(&input, &plan, &mut v6).unwrap();
        assert_eq!(r.fragment_len, None);
        let mut v4 = vec![0u8; r.len];
        let plan = ToIpv4 {
            icmp_message_len: Some(1000),
            ..plan4(&p)
        };
        let back = t.ipv6_to_ipv4(&v6[..r.len], &plan, &mut v4).unwrap();
        v4[..back.len] == input[..]
    }
    QuickCheck::new()
        .tests(3000)
        .quickcheck(prop as fn(Packet, Option<(u16, bool)>) -> bool);
}

#[test]
fn ipv6_round_trip_is_lossless() {
    fn prop(p: Packet, tc: u8, fragment: Option<(u16, bool, u16)>) -> bool {
        let t = Translator::new(Config {
            decrement_hop_limit: false,
            ..Config::default()
        })
        .unwrap();
        let (s6, d6) = (pool6().embed(p.src), pool6().embed(p.dst));
        // An atomic fragment (offset 0, M 0) does not survive IPv4 (RFC 8021).
        let fragment = fragment.filter(|&(offset, more, _)| offset << 3 != 0 || more);
        let mut l4 = p.transport(true);
        l4.truncate(1232);
        let ext = match fragment {
            Some((offset, more, ident)) => {
                let next = if p.protocol == 1 { 58 } else { p.protocol };
                let mut h = vec![next, 0];
                h.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
                h.extend_from_slice(&u32::from(ident).to_be_bytes());
                h
            }
            None => vec![],
        };
        let next = match (fragment, p.protocol) {
            (Some(_), _) => 44,
            (None, 1) => 58,
            (None, n) => n,
        };
        let mut packet = vec![0x60 | tc >> 4, tc << 4, 0, 0];
        packet.extend_from_slice(&((ext.len() + l4.len()) as u16).to_be_bytes());
        packet.extend_from_slice(&[next, p.ttl]);
        packet.extend_from_slice(&s6.octets());
        packet.extend_from_slice(&d6.octets());
        packet.extend_from_slice(&ext);
        packet.extend_from_slice(&l4);
        recompute_checksums(&mut packet).unwrap();
        let mut v4 = vec![0u8; packet.len()];
        let plan = ToIpv4 {
            icmp_message_len: Some(l4.len()),
            ..plan4(&p)
        };
        let r = t.ipv6_to_ipv4(&packet, &plan, &mut v4).unwrap();
        let mut v6 = vec![0u8; packet.len()];
        let plan = ToIpv6 {
            icmp_message_len: Some(l4.len()),
            ..plan6(&p)
        };
        let back = t.ipv4_to_ipv6(&v4[..r.len], &plan, &mut v6).unwrap();
        v6[..back.len] == packet[..]
    }
    QuickCheck::new()
        .tests(3000)
        .quickcheck(prop as fn(Packet, u8, Option<(u16, bool, u16)>) -> bool);
}

/// Whether every checksum `packet` carries that can be checked is right.
fn checksums_valid(packet: &[u8]) -> bool {
    if packet[0] >> 4 == 4 && !sixfold_checksum::verify(&packet[..20]) {
        return false;
    }
    !matches!(
        transport_checksum_state(packet),
        Ok(ChecksumState::Bad) | Err(_)
    )
}

/// A plausible input: a valid packet of either family (or an ICMP error around
/// one), then `flips` of its bytes changed, then — if `fix` — its checksums
/// recomputed so that only the structure is wrong.
#[derive(Clone, Debug)]
struct Mangled {
    packet: Vec<u8>,
    fix: bool,
    config: Config,
    fragment_len: usize,
}

impl Arbitrary for Mangled {
    fn arbitrary(g: &mut Gen) -> Mangled {
        let p = Packet::arbitrary(g);
        let mut packet = p.ipv4(*g.choose(&[0x4000, 0, 0x2000, 0x00b9]).unwrap());
        if bool::arbitrary(g) {
            // An ICMP error quoting it (cut), from either family.
            let cut = usize::arbitrary(g) % packet.len();
            let mut m = vec![
                *g.choose(&[3, 11, 12]).unwrap(),
                u8::arbitrary(g) % 16,
                0,
                0,
            ];
            m.extend_from_slice(&[u8::arbitrary(g), u8::arbitrary(g), 0x05, 0x78]);
            m.extend_from_slice(&packet[..cut.max(20)]);
            packet = Packet {
                protocol: 1,
                payload: vec![],
                force_zero: false,
                ..p.clone()
            }
            .ipv4(0);
            packet.truncate(20);
            packet.extend_from_slice(&m);
            let total = packet.len() as u16;
            packet[2..4].copy_from_slice(&total.to_be_bytes());
            recompute_checksums(&mut packet).unwrap();
        }
        if bool::arbitrary(g) {
            let t = Translator::new(Config::default()).unwrap();
            let mut out = vec![0u8; packet.len() + 1300];
            let plan = ToIpv6 {
                quote: Some(Mapping::new(pool6().embed(p.dst), pool6().embed(p.src))),
                ..plan6(&p)
            };
            if let Ok(r) = t.ipv4_to_ipv6(&packet, &plan, &mut out) {
                packet = out[..r.len].to_vec();
            }
        }
        for _ in 0..usize::arbitrary(g) % 4 {
            let at = usize::arbitrary(g) % packet.len();
            packet[at] = u8::arbitrary(g);
        }
        if bool::arbitrary(g) {
            let cut = usize::arbitrary(g) % (packet.len() + 1);
            packet.truncate(cut);
        }
        Mangled {
            packet,
            fix: bool::arbitrary(g),
            config: Config {
                lowest_ipv6_mtu: *g.choose(&[1280, 1400]).unwrap(),
                ipv4_mtu: *g.choose(&[68, 576, 1500]).unwrap(),
                amend_udp_checksum_zero: bool::arbitrary(g),
                generate_ipv4_ident: bool::arbitrary(g),
                decrement_hop_limit: bool::arbitrary(g),
                ..Config::default()
            },
            fragment_len: usize::arbitrary(g) % 1600,
        }
    }
}

#[test]
fn no_input_panics_and_outputs_check() {
    fn prop(m: Mangled) -> bool {
        let mut packet = m.packet;
        // Valid means every checksum was computed: a fragment's transport
        // checksum cannot be, and an atomic fragment turns into a whole IPv4
        // packet whose (unknown) checksum the translation carries over.
        let valid_before = m.fix
            && recompute_checksums(&mut packet).is_ok()
            && transport_checksum_state(&packet) == Ok(ChecksumState::Valid);
        let t = Translator::new(m.config).unwrap();
        let mut out = vec![0u8; packet.len() + 1400];
        let addr6 = |a: IpAddr| match a {
            IpAddr::V4(a) => pool6().embed(a),
            IpAddr::V6(a) => a,
        };
        let addr4 = |a: IpAddr| match a {
            IpAddr::V6(a) => pool6().extract(a).unwrap_or(Ipv4Addr::new(192, 0, 2, 1)),
            IpAddr::V4(a) => a,
        };
        let info = inspect(&packet);
        let result = match &info {
            Ok(i) if i.src.is_ipv4() => {
                let plan = ToIpv6 {
                    quote: i
                        .quote
                        .map(|q| Mapping::new(addr6(q.src_addr()), addr6(q.dst_addr()))),
                    ..ToIpv6::new(Mapping::new(addr6(i.src), addr6(i.dst)))
                };
                t.ipv4_to_ipv6(&packet, &plan, &mut out)
            }
            Ok(i) => {
                let plan = ToIpv4 {
                    quote: i
                        .quote
                        .map(|q| Mapping::new(addr4(q.src_addr()), addr4(q.dst_addr()))),
                    ipv4_ident: 0x5151,
                    ..ToIpv4::new(Mapping::new(addr4(i.src), addr4(i.dst)))
                };
                t.ipv6_to_ipv4(&packet, &plan, &mut out)
            }
            Err(_) => {
                // Refused by inspection: the translators must refuse it too.
                let plan = ToIpv6::new(Mapping::new(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST));
                let a = t.ipv4_to_ipv6(&packet, &plan, &mut out);
                let plan = ToIpv4::new(Mapping::new(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST));
                let b = t.ipv6_to_ipv4(&packet, &plan, &mut out);
                if a.is_ok() || b.is_ok() {
                    eprintln!("inspect {info:?} but {a:?} {b:?}: {packet:02x?}");
                }
                return a.is_err() && b.is_err();
            }
        };
        let Ok(r) = result else {
            let _ = result.unwrap_err().reply();
            return true;
        };
        let translated = &out[..r.len];
        // The IPv4 header is always written whole: its checksum is always right.
        let header_ok = translated[0] >> 4 != 4 || sixfold_checksum::verify(&translated[..20]);
        if !header_ok || (valid_before && !checksums_valid(translated)) {
            eprintln!("bad checksums: {packet:02x?}\n -> {translated:02x?}");
            return false;
        }
        // Any fragment size: pieces never panic, and every piece checks.
        if let Ok(mut pieces) = Fragments::new(translated, m.fragment_len) {
            let mut piece = vec![0u8; m.fragment_len.max(1)];
            while let Ok(Some(n)) = pieces.next_into(&mut piece) {
                if piece[0] >> 4 == 4 && !sixfold_checksum::verify(&piece[..20])
                    || n > m.fragment_len
                {
                    eprintln!("bad piece of {n}: {translated:02x?}");
                    return false;
                }
            }
        }
        true
    }
    QuickCheck::new()
        .tests(20_000)
        .quickcheck(prop as fn(Mangled) -> bool);
}

#[test]
fn arbitrary_bytes_never_panic() {
    fn prop(bytes: Vec<u8>, v6: bool, fragment_len: u16) -> bool {
        let mut packet = bytes;
        if let Some(b) = packet.first_mut() {
            *b = (*b & 0x0F) | if v6 { 0x60 } else { 0x45 };
        }
        let t = Translator::new(Config::default()).unwrap();
        let mut out = vec![0u8; 2000];
        let _ = inspect(&packet);
        let _ = t.ipv4_to_ipv6(
            &packet,
            &ToIpv6::new(Mapping::new(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST)),
            &mut out,
        );
        let _ = t.ipv6_to_ipv4(
            &packet,
            &ToIpv4::new(Mapping::new(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST)),
            &mut out,
        );
        if let Ok(mut f) = Fragments::new(&packet, fragment_len.into()) {
            while let Ok(Some(_)) = f.next_into(&mut out) {}
        }
        true
    }
    QuickCheck::new()
        .tests(20_000)
        .quickcheck(prop as fn(Vec<u8>, bool, u16) -> bool);
}
