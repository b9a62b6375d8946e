//! Recomputing checksums from scratch — what `tcprewrite --fixcsum` does, and the
//! baseline the incremental rewrites are compared against.
//!
//! Only possible where the covered data is all there: the IPv4 header always; the
//! TCP/UDP/ICMP checksum only for a packet that is not a fragment. A UDP checksum
//! that computes to 0 is written 0xFFFF (RFC 768); a UDP/IPv4 field of 0 ("none")
//! is recomputed too, as tcprewrite does.

use crate::error::Result;
use crate::icmp;
use crate::{ipv4, ipv6, tcp, udp};
use sixfold_checksum::{Sum, pseudo, sum};

/// Which checksums [`recompute_checksums`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Recomputed {
    /// The IPv4 header checksum.
    pub ip_header: bool,
    /// The TCP, UDP, ICMPv4 or ICMPv6 checksum.
    pub transport: bool,
}

/// The transport checksum of a packet, located: the L4 bytes, where the field is,
/// the pseudo-header sum (none for ICMPv4) and the protocol. `None` when the L4
/// checksum cannot be computed from the bytes present (fragments, truncation,
/// protocols without one).
struct Located {
    start: usize,
    end: usize,
    field: usize,
    pseudo: Option<Sum>,
    protocol: u8,
}

fn locate(buf: &[u8]) -> Result<Option<Located>> {
    let (start, end, protocol, pseudo) = match buf.first().map(|b| b >> 4) {
        Some(4) => {
            let ip = ipv4::Ipv4Packet::new_checked(buf)?;
            if ip.is_fragment() {
                return Ok(None);
            }
            let (s, e, p) = (ip.header_len(), ip.total_len(), ip.protocol());
            (
                s,
                e,
                p,
                (p != 1).then(|| pseudo::ipv4(ip.src_addr(), ip.dst_addr(), p, (e - s) as u16)),
            )
        }
        _ => {
            let ip = ipv6::Ipv6Packet::new_checked(buf)?;
            let u = ip.upper_layer()?;
            let e = ipv6::HEADER_LEN + ip.payload_len();
            if u.fragment.is_some() || u.routing_pending || u.offset > e {
                return Ok(None);
            }
            (
                u.offset,
                e,
                u.protocol,
                Some(pseudo::ipv6(
                    ip.src_addr(),
                    ip.dst_addr(),
                    u.protocol,
                    (e - u.offset) as u32,
                )),
            )
        }
    };
    let v6 = buf[0] >> 4 == 6;
    let (at, min) = match (protocol, v6) {
        (6, _) => (tcp::CHECKSUM, tcp::HEADER_LEN),
        (17, _) => (udp::CHECKSUM, udp::HEADER_LEN),
        (1, false) | (58, true) => (icmp::CHECKSUM, icmp::QUOTE_OFFSET),
        _ => return Ok(None),
    };
    Ok((end - start >= min).then_some(Located {
        start,
        end,
        field: start + at,
        pseudo,
        protocol,
    }))
}

/// Recomputes every checksum of the IP packet at the start of `buf` that can be
/// recomputed from the bytes present.
pub fn recompute_checksums(buf: &mut [u8]) -> Result<Recomputed> {
    let mut done = Recomputed::default();
    if buf.first().is_some_and(|b| b >> 4 == 4) {
        ipv4::Ipv4Packet::new_checked(&mut buf[..])?.fill_checksum();
        done.ip_header = true;
    }
    let Some(l) = locate(buf)? else {
        return Ok(done);
    };
    buf[l.field..l.field + 2].fill(0);
    let total = l.pseudo.unwrap_or(Sum::ZERO) + sum(&buf[l.start..l.end]);
    let c = if l.protocol == 17 {
        sixfold_checksum::udp::finish(total)
    } else {
        total.checksum()
    };
    buf[l.field..l.field + 2].copy_from_slice(&c.to_be_bytes());
    done.transport = true;
    Ok(done)
}

/// What a packet's TCP/UDP/ICMP checksum field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumState {
    /// A correct checksum (or UDP/IPv4's 0, "none").
    Valid,
    /// An offload partial checksum: the uncomplemented pseudo-header sum, as in
    /// captures taken on a sender with TX checksum offload.
    Partial,
    /// Neither.
    Bad,
    /// Not checkable from the bytes present (fragment, truncated, no checksum).
    Unknown,
}

/// Classifies the transport checksum of the IP packet at the start of `buf`.
pub fn transport_checksum_state(buf: &[u8]) -> Result<ChecksumState> {
    let Some(l) = locate(buf)? else {
        return Ok(ChecksumState::Unknown);
    };
    let field = u16::from_be_bytes([buf[l.field], buf[l.field + 1]]);
    if l.protocol == 17 && field == 0 {
        return Ok(if buf[0] >> 4 == 4 {
            ChecksumState::Valid
        } else {
            ChecksumState::Bad
        });
    }
    let pseudo = l.pseudo.unwrap_or(Sum::ZERO);
    Ok(if pseudo + sum(&buf[l.start..l.end]) == Sum::NEG_ZERO {
        ChecksumState::Valid
    } else if l.pseudo.is_some() && l.protocol != 58 && field == pseudo.get() {
        ChecksumState::Partial
    } else {
        ChecksumState::Bad
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sixfold_checksum::verify;

    #[test]
    fn fixes_broken_checksums() {
        let mut p = std::vec![
            0x45, 0, 0, 30, 0, 9, 0, 0, 64, 17, 0xde, 0xad, 10, 0, 0, 2, 198, 51, 100, 7
        ];
        p.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 10, 0xbe, 0xef, 0xca, 0xfe]);
        let done = recompute_checksums(&mut p).unwrap();
        assert_eq!(
            done,
            Recomputed {
                ip_header: true,
                transport: true
            }
        );
        assert!(verify(&p[..20]));
        let ph = pseudo::ipv4([10, 0, 0, 2].into(), [198, 51, 100, 7].into(), 17, 10);
        assert_eq!(ph + sum(&p[20..]), Sum::NEG_ZERO);
        // A non-first fragment: only the header.
        p[6] = 0x01;
        assert_eq!(
            recompute_checksums(&mut p).unwrap(),
            Recomputed {
                ip_header: true,
                transport: false
            }
        );
        assert_eq!(transport_checksum_state(&p), Ok(ChecksumState::Unknown));
    }

    #[test]
    fn classifies_valid_partial_and_bad() {
        let mut p = std::vec![
            0x45, 0, 0, 30, 0, 9, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 198, 51, 100, 7
        ];
        p.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 10, 0, 0, 0xca, 0xfe]);
        assert_eq!(
            transport_checksum_state(&p),
            Ok(ChecksumState::Valid),
            "UDP/IPv4 0 is 'none'"
        );
        recompute_checksums(&mut p).unwrap();
        assert_eq!(transport_checksum_state(&p), Ok(ChecksumState::Valid));
        let ph = pseudo::ipv4([10, 0, 0, 2].into(), [198, 51, 100, 7].into(), 17, 10);
        p[26..28].copy_from_slice(&ph.to_be_bytes());
        assert_eq!(transport_checksum_state(&p), Ok(ChecksumState::Partial));
        p[27] ^= 0x40;
        assert_eq!(transport_checksum_state(&p), Ok(ChecksumState::Bad));
    }
}
