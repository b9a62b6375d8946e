//! ICMP errors (RFC 7915 §4.2–4.3, §5.2–5.3): the header by the tables, the quoted
//! packet translated like a packet of its own (its TTL kept), RFC 4884 extensions
//! kept after it with the length attribute recomputed, the message cut to the
//! size its family allows, and the checksum computed afresh — after the incoming
//! one was verified, so a corrupt error is not laundered into a valid one.

use super::chain::{self, Chain};
use super::headers::{IPV4_HEADER, IPV6_HEADER, Ipv4Fields, Ipv6Fields, write_ipv4, write_ipv6};
use super::icmp_map::{
    ErrorHeader, error_to_icmpv4, error_to_icmpv6, icmpv4_has_length, icmpv6_has_length,
};
use super::{Result, ToIpv4, ToIpv6, TranslateError, Translated, Translator, room};
use crate::icmp::{Icmpv4Type, Icmpv6Type, QUOTE_OFFSET};
use crate::ipv4::Ipv4Packet;
use crate::ipv6::Ipv6Packet;
use crate::protocol::IpProtocol;
use sixfold_checksum::{Sum, pseudo, sum};

/// ICMPv6 errors fit the IPv6 minimum MTU (RFC 4443 §2.4 (c)).
const ICMPV6_ERROR_MAX: usize = 1280;
/// ICMPv4 errors fit 576 bytes (RFC 1812 §4.3.2.3).
const ICMPV4_ERROR_MAX: usize = 576;
/// RFC 4884 §4.1: with extensions, the original datagram is padded to 128 bytes.
const MIN_ORIGINAL_DATAGRAM: usize = 128;
/// Growth of a quoted packet from IPv4 to IPv6: 20 bytes of header and 8 of
/// Fragment Header at most.
const QUOTE_GROWTH: usize = 28;

/// A quote split into the original datagram and the RFC 4884 extension structure.
struct Parts<'a> {
    datagram: &'a [u8],
    extension: Option<&'a [u8]>,
}

/// Splits `quote` at `length` bytes, the RFC 4884 length attribute. A non-zero
/// attribute of at least 128 bytes (§4.1's minimum) with bytes after it marks a
/// compliant message (§5): whatever follows the datagram is the extension,
/// whatever its version field says — §5 reads the version only to guess at
/// messages without the attribute, which this translator does not. Otherwise
/// the whole quote is the datagram, as in a pre-RFC 4884 message.
fn split_extension(quote: &[u8], length: usize) -> Parts<'_> {
    let compliant = length >= MIN_ORIGINAL_DATAGRAM && quote.len() > length;
    if compliant {
        Parts {
            datagram: &quote[..length],
            extension: Some(&quote[length..]),
        }
    } else {
        Parts {
            datagram: quote,
            extension: None,
        }
    }
}

/// An incoming ICMP error's quote, that quote split by the RFC 4884 length
/// attribute (`length`: its byte and unit, if the type has one), and bytes 4–7.
fn incoming(message: &[u8], length: Option<(usize, usize)>) -> (&[u8], Parts<'_>, [u8; 4]) {
    let quote = &message[QUOTE_OFFSET..];
    let length = length.map_or(0, |(at, unit)| usize::from(message[at]) * unit);
    let rest = [message[4], message[5], message[6], message[7]];
    (quote, split_extension(quote, length), rest)
}

/// Appends `extension` after the translated datagram of `written` bytes at
/// `out[start..]`: the datagram zero-padded to a multiple of `unit` and to 128
/// bytes (RFC 4884 §4.1), the extension cut at `out`'s end (RFC 7915 §4.2: "SHOULD
/// be simply truncated"). Returns the message end and the length attribute; when
/// even the padded datagram does not fit, there is no extension (attribute 0).
fn append_extension(
    out: &mut [u8],
    start: usize,
    written: usize,
    extension: &[u8],
    unit: usize,
) -> (usize, u8) {
    let padded = written.next_multiple_of(unit).max(MIN_ORIGINAL_DATAGRAM);
    if start + padded >= out.len() {
        return (start + written, 0);
    }
    out[start + written..start + padded].fill(0);
    let at = start + padded;
    let n = extension.len().min(out.len() - at);
    out[at..at + n].copy_from_slice(&extension[..n]);
    (at + n, (padded / unit) as u8)
}

/// Bytes 4–7 of the translated header, with the RFC 4884 length at `length_at`.
fn rest_bytes<T>(header: &ErrorHeader<T>, length: u8, length_at: usize) -> [u8; 4] {
    let mut rest = header.rest.to_be_bytes();
    if length != 0 {
        rest[length_at] = length;
    }
    rest
}

/// An ICMPv4 error → ICMPv6 (RFC 7915 §4.2, §4.3). `ip` is the whole packet,
/// not a fragment, with at least the 8-byte ICMP header.
pub(crate) fn to_ipv6(
    tr: &Translator,
    ip: &Ipv4Packet<&[u8]>,
    hop_limit: u8,
    plan: &ToIpv6,
    out: &mut [u8],
) -> Result<Translated> {
    let message = ip.payload();
    if !sixfold_checksum::verify(message) {
        return Err(TranslateError::BadIcmpChecksum);
    }
    let quote_map = plan
        .quote
        .as_ref()
        .ok_or(TranslateError::MissingQuoteMapping)?;
    let t = Icmpv4Type::from(message[0]);
    // RFC 4884 §4.1: ICMPv4's length attribute is byte 5, in 32-bit words.
    let (quote, parts, rest) = incoming(message, icmpv4_has_length(t).then_some((5, 4)));
    let quote_total = quote
        .get(2..4)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let header = error_to_icmpv6(t, message[1], rest, quote_total, tr.config())?;

    let body = IPV6_HEADER + QUOTE_OFFSET;
    let bound = body + quote.len() + QUOTE_GROWTH + MIN_ORIGINAL_DATAGRAM;
    room(out, bound.min(ICMPV6_ERROR_MAX))?;
    let limit = ICMPV6_ERROR_MAX.min(out.len());
    let out = &mut out[..limit];
    let written = tr.quote_to_ipv6(parts.datagram, quote_map, &mut out[body..])?;
    let (end, length) = match parts.extension {
        Some(extension) if header.has_length && written.complete => {
            append_extension(out, body, written.len, extension, 8)
        }
        _ => (body + written.len, 0),
    };
    let (src, dst) = (plan.outer.src, plan.outer.dst);
    write_ipv6(
        out,
        &Ipv6Fields {
            traffic_class: tr.traffic_class(ip.tos()),
            payload_len: (end - IPV6_HEADER) as u16,
            next_header: IpProtocol::Icmpv6,
            hop_limit,
            src,
            dst,
        },
    );
    let icmp = &mut out[IPV6_HEADER..end];
    icmp[0] = header.icmp_type.into();
    icmp[1] = header.code;
    icmp[2..4].fill(0);
    // RFC 4884 §4.1: ICMPv6's length attribute is byte 4, in 64-bit words.
    icmp[4..8].copy_from_slice(&rest_bytes(&header, length, 0));
    let all = pseudo::ipv6(src, dst, IpProtocol::Icmpv6.into(), icmp.len() as u32) + sum(icmp);
    icmp[2..4].copy_from_slice(&all.checksum().to_be_bytes());
    Ok(Translated {
        len: end,
        fragment_len: None,
    })
}

/// An ICMPv6 error → ICMPv4 (RFC 7915 §5.2, §5.3). `ip` is not a fragment; its
/// upper layer at `chain.offset` has at least the 8-byte ICMPv6 header.
pub(crate) fn to_ipv4(
    tr: &Translator,
    ip: &Ipv6Packet<&[u8]>,
    chain: &Chain,
    hop_limit: u8,
    plan: &ToIpv4,
    out: &mut [u8],
) -> Result<Translated> {
    let message = &ip.payload()[chain.extension_len()..];
    let (src6, dst6) = (ip.src_addr(), ip.dst_addr());
    let ph = pseudo::ipv6(src6, dst6, IpProtocol::Icmpv6.into(), message.len() as u32);
    if ph + sum(message) != Sum::NEG_ZERO {
        return Err(TranslateError::BadIcmpChecksum);
    }
    let quote_map = plan
        .quote
        .as_ref()
        .ok_or(TranslateError::MissingQuoteMapping)?;
    let t = Icmpv6Type::from(message[0]);
    // RFC 4884 §4.1: ICMPv6's length attribute is byte 4, in 64-bit words.
    let (quote, parts, rest) = incoming(message, icmpv6_has_length(t).then_some((4, 8)));
    let quote_fragmented = chain::walk(quote, true).is_ok_and(|c| c.fragment.is_some());
    let header = error_to_icmpv4(t, message[1], rest, quote_fragmented, tr.config())?;

    let body = IPV4_HEADER + QUOTE_OFFSET;
    let bound = body + quote.len() + MIN_ORIGINAL_DATAGRAM;
    room(out, bound.min(ICMPV4_ERROR_MAX))?;
    let limit = ICMPV4_ERROR_MAX.min(out.len());
    let out = &mut out[..limit];
    let written = tr.quote_to_ipv4(parts.datagram, quote_map, &mut out[body..])?;
    let (end, length) = match parts.extension {
        Some(extension) if header.has_length && written.complete => {
            append_extension(out, body, written.len, extension, 4)
        }
        _ => (body + written.len, 0),
    };
    // An IPv4 link below 576 bytes takes the error in fragments. An atomic
    // fragment's Identification is kept (§5.1.1).
    let ipv4_mtu = usize::from(tr.config().ipv4_mtu);
    let split = end > ipv4_mtu;
    let ident = match chain.fragment {
        Some(f) => f.fields.ident as u16,
        None => tr.ipv4_ident(end, split, plan.ipv4_ident),
    };
    write_ipv4(
        out,
        &Ipv4Fields {
            tos: tr.tos(ip.traffic_class()),
            total_len: end as u16,
            ident,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
            ttl: hop_limit,
            protocol: IpProtocol::Icmp,
            src: plan.outer.src,
            dst: plan.outer.dst,
        },
    );
    let icmp = &mut out[IPV4_HEADER..end];
    icmp[0] = header.icmp_type.into();
    icmp[1] = header.code;
    icmp[2..4].fill(0);
    // RFC 4884 §4.1: ICMPv4's length attribute is byte 5, in 32-bit words.
    icmp[4..8].copy_from_slice(&rest_bytes(&header, length, 1));
    let c = sixfold_checksum::checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Ok(Translated {
        len: end,
        fragment_len: split.then_some(ipv4_mtu),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_split_needs_a_compliant_message() {
        let mut quote = [0u8; 140];
        quote[128] = 0x20; // version 2
        let p = split_extension(&quote, 128);
        assert_eq!(
            (p.datagram.len(), p.extension.map(<[u8]>::len)),
            (128, Some(12))
        );
        // RFC 4884 §5: with the length attribute, the version is not read.
        for version in [0x10, 0x00, 0xF0] {
            quote[128] = version;
            let p = split_extension(&quote, 128);
            assert_eq!(p.extension.map(<[u8]>::len), Some(12), "{version:#x}");
        }
        // No attribute, one below 128, or nothing after the datagram: none.
        quote[128] = 0x20;
        for length in [124, 140, 0] {
            let p = split_extension(&quote, length);
            assert_eq!(
                (p.datagram.len(), p.extension.is_none()),
                (140, true),
                "{length}"
            );
        }
    }

    #[test]
    fn extension_appended_after_padding() {
        let mut out = [0xEEu8; 300];
        let ext = [0x20, 0, 0xAB, 0xCD, 0, 8, 1, 1, 9, 9, 9, 9];
        // 100 translated bytes at offset 48 → padded to 128; 128 / 8 = 16.
        let (end, length) = append_extension(&mut out, 48, 100, &ext, 8);
        assert_eq!((end, length), (48 + 128 + 12, 16));
        assert!(out[148..176].iter().all(|&b| b == 0));
        assert_eq!(&out[176..188], &ext);
        // 130 bytes in 32-bit words: padded to 132, length 33.
        let (end, length) = append_extension(&mut out, 28, 130, &ext, 4);
        assert_eq!((end, length), (28 + 132 + 12, 33));
        // Cut at the end of the buffer.
        let (end, length) = append_extension(&mut out[..170], 28, 130, &ext, 4);
        assert_eq!((end, length), (170, 33));
        // No room for even the padded datagram: no extension.
        let (end, length) = append_extension(&mut out[..150], 28, 100, &ext, 4);
        assert_eq!((end, length), (128, 0));
    }
}
