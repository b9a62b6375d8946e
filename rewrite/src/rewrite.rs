//! In-place rewrites that patch every checksum they touch (RFC 1624 eqn. 3).
//!
//! [`Rewrite`] describes new values for addresses, ports, the ICMP query identifier,
//! the TTL / hop limit, an MSS clamp, and the packet quoted in an ICMP error;
//! [`Rewrite::apply`] validates the whole packet first and then writes, so an error
//! leaves the buffer untouched.
//!
//! Every byte is written through one function that also records the change in the
//! [`Update`] of each checksum covering it: the IPv4 header checksum, the TCP / UDP /
//! ICMP checksum (whose pseudo-header changes with the addresses, except ICMPv4's,
//! which has none), and for a quoted packet its own IP and L4 checksums *and* the
//! outer ICMP checksum. Forgetting a checksum is therefore not possible.
//!
//! ±0 (`sixfold_checksum::udp`): a UDP checksum of 0 ("none") stays 0; a UDP checksum
//! that comes out 0 is written 0xFFFF; TCP, ICMP and IPv4 header checksums get exactly
//! what a full recompute writes. With [`L4Checksum::Partial`] (offload), TCP and UDP
//! fields hold the uncomplemented pseudo-header sum and only pseudo-header changes
//! are folded in.
//!
//! Fragments: a non-first fragment has no L4 header, so only the IP header changes;
//! a first fragment's L4 checksum covers the whole datagram, which is not here — a
//! full recompute is impossible, but the incremental update is still exact.

use crate::error::{Error, Layer, Result, need};
use crate::icmp::{self, QUOTE_OFFSET};
use crate::ipv6::walk_extensions;
use crate::{ipv4, ipv6, tcp, udp};
use core::net::IpAddr;
use sixfold_checksum::incremental::{Change, Update};
use sixfold_checksum::offload::PartialChecksum;

/// A change to the TTL (IPv4) or hop limit (IPv6), as tcprewrite's `--ttl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ttl {
    /// Set to this value.
    Set(u8),
    /// Add, saturating at 255.
    Add(u8),
    /// Subtract, saturating at 0.
    Sub(u8),
}

impl Ttl {
    /// The new value for `old`.
    pub const fn apply(self, old: u8) -> u8 {
        match self {
            Ttl::Set(v) => v,
            Ttl::Add(v) => old.saturating_add(v),
            Ttl::Sub(v) => old.saturating_sub(v),
        }
    }
}

/// What the TCP/UDP checksum field holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum L4Checksum {
    /// A complete checksum (the normal case).
    #[default]
    Complete,
    /// An offload partial checksum: the uncomplemented pseudo-header sum (Linux
    /// `CHECKSUM_PARTIAL`, virtio `NEEDS_CSUM`).
    Partial,
}

/// New values for the packet quoted inside an ICMP error (RFC 5508 §4): the quote's
/// addresses and ports are those of the packet that caused the error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct QuotedRewrite {
    /// New source address of the quoted packet.
    pub src: Option<IpAddr>,
    /// New destination address of the quoted packet.
    pub dst: Option<IpAddr>,
    /// New source port (TCP/UDP) of the quoted packet.
    pub src_port: Option<u16>,
    /// New destination port (TCP/UDP) of the quoted packet.
    pub dst_port: Option<u16>,
    /// New identifier of a quoted ICMP query.
    pub icmp_id: Option<u16>,
}

/// New values for a packet. `None` leaves a field alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rewrite {
    /// New source address (must match the packet's family).
    pub src: Option<IpAddr>,
    /// New destination address.
    pub dst: Option<IpAddr>,
    /// New TCP/UDP source port.
    pub src_port: Option<u16>,
    /// New TCP/UDP destination port.
    pub dst_port: Option<u16>,
    /// New ICMP/ICMPv6 query identifier.
    pub icmp_id: Option<u16>,
    /// TTL / hop-limit change.
    pub ttl: Option<Ttl>,
    /// Clamp the MSS option of TCP SYN segments to at most this.
    pub mss: Option<u16>,
    /// What the TCP/UDP checksum field holds.
    pub l4_checksum: L4Checksum,
    /// Changes to the packet quoted in an ICMP error.
    pub quoted: Option<QuotedRewrite>,
}

/// What [`Rewrite::apply`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Outcome {
    /// Whether any byte changed.
    pub changed: bool,
    /// The packet is a non-first fragment: only the IP header could be rewritten.
    pub no_l4_header: bool,
    /// ([`Rewrite::apply_truncated`]) The transport checksum's field was not in the
    /// captured bytes, so it could not be updated.
    pub l4_checksum_missing: bool,
}

/// Writes `new` at `at` in `buf` and records the change in every checksum
/// `(update, start)` whose covered data begins at `start`.
pub(crate) fn patch(
    buf: &mut [u8],
    at: usize,
    new: &[u8],
    covering: &mut [(&mut Update, usize)],
) -> bool {
    let change = Change::of(&buf[at..at + new.len()], new);
    if !change.is_changed() {
        return false;
    }
    for (update, start) in covering.iter_mut() {
        **update = update.change(at - *start, change);
    }
    buf[at..at + new.len()].copy_from_slice(new);
    true
}

fn u16_at(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}

/// Address bytes for the packet's family, or a family mismatch.
fn octets(addr: Option<IpAddr>, v6: bool) -> Result<Option<[u8; 16]>> {
    match (addr, v6) {
        (None, _) => Ok(None),
        (Some(IpAddr::V4(a)), false) => {
            let mut o = [0u8; 16];
            o[..4].copy_from_slice(&a.octets());
            Ok(Some(o))
        }
        (Some(IpAddr::V6(a)), true) => Ok(Some(a.octets())),
        _ => Err(Error::FamilyMismatch),
    }
}

/// Where the transport header is, and what covers it.
#[derive(Clone, Copy)]
struct Transport {
    protocol: u8,
    /// Absolute offset of the L4 header.
    start: usize,
    /// Absolute end of the IP payload, or of the captured bytes if they end first.
    end: usize,
    /// Whether the IP destination is the pseudo-header's (no pending routing header).
    dst_in_pseudo: bool,
    /// The buffer is a capture's prefix of the packet: rewrite what is there.
    captured: bool,
}

impl Transport {
    /// Whether `len` bytes at `at` (from the L4 header) are present.
    fn has(&self, at: usize, len: usize) -> bool {
        self.start + at + len <= self.end
    }
}

/// The IPv4 header's length, the end of what to rewrite, the protocol and
/// whether the packet is a first fragment; `captured` lets the total length run
/// past the buffer (a capture's snapshot length cut the packet).
fn v4_header(buf: &[u8], captured: bool) -> Result<(usize, usize, u8, bool)> {
    let ip = if captured {
        let ip = ipv4::Ipv4Packet::new_unchecked(buf);
        need(Layer::Ipv4, ipv4::HEADER_LEN, buf.len())?;
        if buf[0] >> 4 != 4 {
            return Err(Error::BadVersion(buf[0] >> 4));
        }
        if buf[0] & 0x0F < 5 {
            return Err(Error::BadHeaderLen(buf[0] & 0x0F));
        }
        need(Layer::Ipv4, ip.header_len(), buf.len())?;
        if ip.total_len() < ip.header_len() {
            return Err(Error::BadTotalLen {
                total: ip.total_len(),
                header: ip.header_len(),
                got: buf.len(),
            });
        }
        ip
    } else {
        ipv4::Ipv4Packet::new_checked(buf)?
    };
    Ok((
        ip.header_len(),
        ip.total_len().min(buf.len()),
        ip.protocol(),
        ip.frag_offset() == 0,
    ))
}

impl Rewrite {
    /// A rewrite that changes nothing.
    pub const fn new() -> Rewrite {
        Rewrite {
            src: None,
            dst: None,
            src_port: None,
            dst_port: None,
            icmp_id: None,
            ttl: None,
            mss: None,
            l4_checksum: L4Checksum::Complete,
            quoted: None,
        }
    }

    /// Applies the rewrite to the IPv4 or IPv6 packet at the start of `buf` (bytes
    /// past the IP total length are left alone). On error nothing was written.
    pub fn apply(&self, buf: &mut [u8]) -> Result<Outcome> {
        self.apply_to(buf, false)
    }

    /// Applies the rewrite to the start of a packet that a capture's snapshot
    /// length cut short: the IP length fields may claim more than `buf` holds.
    /// Every field that is present is rewritten, and every checksum whose field is
    /// present is updated incrementally — exactly, although the bytes it covers
    /// are partly missing, since RFC 1624 needs only the old and new values of
    /// what changed. An MSS is clamped only when the whole TCP header is present;
    /// [`Outcome::l4_checksum_missing`] says when the transport checksum was not
    /// captured. The IP header itself must be whole. On error nothing was written.
    pub fn apply_truncated(&self, buf: &mut [u8]) -> Result<Outcome> {
        self.apply_to(buf, true)
    }

    fn apply_to(&self, buf: &mut [u8], captured: bool) -> Result<Outcome> {
        match buf.first().map(|b| b >> 4) {
            Some(4) => self.apply_v4(buf, captured),
            Some(6) => self.apply_v6(buf, captured),
            Some(v) => Err(Error::BadVersion(v)),
            None => Err(Error::Truncated {
                layer: Layer::Ipv4,
                need: 20,
                got: 0,
            }),
        }
    }

    fn apply_v4(&self, buf: &mut [u8], captured: bool) -> Result<Outcome> {
        let (hl, end, protocol, first) = v4_header(buf, captured)?;
        let src = octets(self.src, false)?;
        let dst = octets(self.dst, false)?;
        let transport = Transport {
            protocol,
            start: hl,
            end,
            dst_in_pseudo: true,
            captured,
        };
        if first {
            self.check_transport(buf, transport, false)?;
        }
        let mut header = Update::new();
        let mut pseudo = Update::new();
        let mut changed = false;
        if let Some(ttl) = self.ttl {
            let new = ttl.apply(buf[ipv4::TTL]);
            changed |= patch(buf, ipv4::TTL, &[new], &mut [(&mut header, 0)]);
        }
        for (addr, at) in [(src, ipv4::SRC), (dst, ipv4::DST)] {
            if let Some(a) = addr {
                changed |= patch(
                    buf,
                    at,
                    &a[..4],
                    &mut [(&mut header, 0), (&mut pseudo, ipv4::SRC)],
                );
            }
        }
        let c = header.apply(u16_at(buf, ipv4::CHECKSUM));
        buf[ipv4::CHECKSUM..ipv4::CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
        if !first {
            return Ok(Outcome {
                changed,
                no_l4_header: true,
                l4_checksum_missing: false,
            });
        }
        self.rewrite_transport(buf, transport, false, pseudo, changed)
    }

    fn apply_v6(&self, buf: &mut [u8], captured: bool) -> Result<Outcome> {
        let (upper, end) = if captured {
            need(Layer::Ipv6, ipv6::HEADER_LEN, buf.len())?;
            let ip = ipv6::Ipv6Packet::new_unchecked(&*buf);
            if buf[0] >> 4 != 6 {
                return Err(Error::BadVersion(buf[0] >> 4));
            }
            let end = (ipv6::HEADER_LEN + ip.payload_len()).min(buf.len());
            (walk_extensions(&buf[..end], ip.next_header(), true)?, end)
        } else {
            let ip = ipv6::Ipv6Packet::new_checked(&*buf)?;
            (ip.upper_layer()?, ipv6::HEADER_LEN + ip.payload_len())
        };
        let src = octets(self.src, true)?;
        let dst = octets(self.dst, true)?;
        let transport = Transport {
            protocol: upper.protocol,
            start: upper.offset,
            end,
            dst_in_pseudo: !upper.routing_pending,
            captured,
        };
        if upper.has_header() {
            self.check_transport(buf, transport, true)?;
        }
        let mut pseudo = Update::new();
        let mut unused = Update::new();
        let mut changed = false;
        if let Some(ttl) = self.ttl {
            let new = ttl.apply(buf[ipv6::HOP_LIMIT]);
            changed |= patch(buf, ipv6::HOP_LIMIT, &[new], &mut []);
        }
        if let Some(a) = src {
            changed |= patch(buf, ipv6::SRC, &a, &mut [(&mut pseudo, ipv6::SRC)]);
        }
        if let Some(a) = dst {
            let target = if transport.dst_in_pseudo {
                &mut pseudo
            } else {
                &mut unused
            };
            changed |= patch(buf, ipv6::DST, &a, &mut [(target, ipv6::SRC)]);
        }
        if !upper.has_header() {
            return Ok(Outcome {
                changed,
                no_l4_header: true,
                l4_checksum_missing: false,
            });
        }
        self.rewrite_transport(buf, transport, true, pseudo, changed)
    }

    /// Everything that could make the transport rewrite fail, checked before any
    /// byte is written.
    fn check_transport(&self, buf: &[u8], t: Transport, v6: bool) -> Result<()> {
        let l4 = &buf[t.start.min(t.end)..t.end];
        match (t.protocol, v6) {
            // A captured prefix: whatever of the header is there is rewritten.
            (6 | 17, _) if t.captured => {}
            (1, false) | (58, true) if t.captured && l4.len() < QUOTE_OFFSET => {}
            (6, _) => {
                tcp::TcpPacket::new_checked(l4)?;
            }
            (17, _) => need(Layer::Udp, udp::HEADER_LEN, l4.len())?,
            (1, false) | (58, true) => {
                let layer = if v6 { Layer::Icmpv6 } else { Layer::Icmpv4 };
                need(layer, QUOTE_OFFSET, l4.len())?;
                if let Some(q) = &self.quoted
                    && is_error(l4[0], v6)
                {
                    check_quote(&l4[QUOTE_OFFSET..], v6, q)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn rewrite_transport(
        &self,
        buf: &mut [u8],
        t: Transport,
        v6: bool,
        pseudo: Update,
        mut changed: bool,
    ) -> Result<Outcome> {
        let s = t.start;
        let mut l4_checksum_missing = false;
        match (t.protocol, v6) {
            (6 | 17, _) => {
                let mut l4 = Update::new();
                for (port, at) in [(self.src_port, 0), (self.dst_port, 2)] {
                    if let Some(p) = port
                        && t.has(at, 2)
                    {
                        changed |= patch(buf, s + at, &p.to_be_bytes(), &mut [(&mut l4, s)]);
                    }
                }
                if t.protocol == 6
                    && let Some(clamp) = self.mss
                    && t.has(0, tcp::HEADER_LEN)
                {
                    let seg = tcp::TcpPacket::new_unchecked(&buf[s..t.end]);
                    // A captured prefix may end inside the options: none are read then.
                    if t.has(0, seg.header_len())
                        && seg.flags() & tcp::flags::SYN != 0
                        && let Some((at, mss)) = seg.mss()
                        && mss > clamp
                    {
                        changed |= patch(buf, s + at, &clamp.to_be_bytes(), &mut [(&mut l4, s)]);
                    }
                }
                let field = if t.protocol == 6 {
                    tcp::CHECKSUM
                } else {
                    udp::CHECKSUM
                };
                if !t.has(field, 2) {
                    l4_checksum_missing = true;
                } else {
                    let at = s + field;
                    let old = u16_at(buf, at);
                    let new = match (self.l4_checksum, t.protocol) {
                        (L4Checksum::Partial, _) => PartialChecksum::from_field(old)
                            .update_pseudo(&pseudo)
                            .to_field(),
                        (L4Checksum::Complete, 17) => {
                            sixfold_checksum::udp::update(old, &pseudo.combine(l4))
                        }
                        (L4Checksum::Complete, _) => pseudo.combine(l4).apply(old),
                    };
                    buf[at..at + 2].copy_from_slice(&new.to_be_bytes());
                }
            }
            (1, false) | (58, true) if !t.has(icmp::CHECKSUM, 2) => {
                // A captured prefix that ends before the ICMP checksum is whole.
                l4_checksum_missing = true;
            }
            (1, false) | (58, true) => {
                let mut message = Update::new();
                let msg_type = buf[s];
                let query = if v6 {
                    icmp::is_icmpv6_query(msg_type)
                } else {
                    icmp::is_icmpv4_query(msg_type)
                };
                if query && let Some(id) = self.icmp_id {
                    if t.has(icmp::IDENT, 2) {
                        changed |= patch(
                            buf,
                            s + icmp::IDENT,
                            &id.to_be_bytes(),
                            &mut [(&mut message, s)],
                        );
                    } else {
                        // Without the old identifier the checksum cannot follow it.
                        l4_checksum_missing = true;
                    }
                }
                if let Some(q) = self.quoted
                    && is_error(msg_type, v6)
                    && t.has(0, QUOTE_OFFSET)
                {
                    changed |=
                        rewrite_quote(buf, s, s + QUOTE_OFFSET, t.end, v6, &q, &mut message)?;
                }
                if !l4_checksum_missing {
                    let total = if v6 { pseudo.combine(message) } else { message };
                    let at = s + icmp::CHECKSUM;
                    let new = total.apply(u16_at(buf, at));
                    buf[at..at + 2].copy_from_slice(&new.to_be_bytes());
                }
            }
            _ => {}
        }
        Ok(Outcome {
            changed,
            no_l4_header: false,
            l4_checksum_missing,
        })
    }
}

fn is_error(msg_type: u8, v6: bool) -> bool {
    if v6 {
        icmp::is_icmpv6_error(msg_type)
    } else {
        icmp::is_icmpv4_error(msg_type)
    }
}

/// Checks that a quoted packet is long enough for every field the rewrite touches.
fn check_quote(quote: &[u8], v6: bool, q: &QuotedRewrite) -> Result<()> {
    let (ip_len, protocol) = quoted_header(quote, v6)?;
    octets(q.src, v6)?;
    octets(q.dst, v6)?;
    let l4 = &quote[ip_len.min(quote.len())..];
    let wants_ports = q.src_port.is_some() || q.dst_port.is_some();
    match protocol {
        6 | 17 if wants_ports => need(Layer::Quote, ip_len + 4, quote.len()),
        1 | 58 if q.icmp_id.is_some() => need(Layer::Quote, ip_len + 6, ip_len + l4.len()),
        _ => Ok(()),
    }
}

/// The quoted IP header's length and upper-layer protocol (lenient: the quote may
/// be cut anywhere after the IP header).
pub(crate) fn quoted_header(quote: &[u8], v6: bool) -> Result<(usize, u8)> {
    if v6 {
        need(Layer::Quote, ipv6::HEADER_LEN, quote.len())?;
        if quote[0] >> 4 != 6 {
            return Err(Error::BadVersion(quote[0] >> 4));
        }
        let upper = walk_extensions(quote, quote[6], true)?;
        let protocol = if upper.has_header() {
            upper.protocol
        } else {
            59
        };
        Ok((upper.offset, protocol))
    } else {
        need(Layer::Quote, ipv4::HEADER_LEN, quote.len())?;
        if quote[0] >> 4 != 4 {
            return Err(Error::BadVersion(quote[0] >> 4));
        }
        let ihl = quote[0] & 0xF;
        if ihl < 5 {
            return Err(Error::BadHeaderLen(ihl));
        }
        need(Layer::Quote, ihl as usize * 4, quote.len())?;
        let first = u16_at(quote, 6) & 0x1FFF == 0;
        Ok((ihl as usize * 4, if first { quote[9] } else { 59 }))
    }
}

/// Rewrites the packet quoted in an ICMP error whose message starts at `icmp` and
/// quote at `q` (absolute offsets), recording every change in the outer ICMP
/// checksum's `outer` update too. Validated by [`check_quote`] beforehand.
fn rewrite_quote(
    buf: &mut [u8],
    icmp: usize,
    q: usize,
    end: usize,
    v6: bool,
    rw: &QuotedRewrite,
    outer: &mut Update,
) -> Result<bool> {
    let (ip_len, protocol) = quoted_header(&buf[q..end], v6)?;
    let mut header = Update::new();
    let mut pseudo = Update::new();
    let mut changed = false;
    let (src_at, dst_at, width) = if v6 {
        (ipv6::SRC, ipv6::DST, 16)
    } else {
        (ipv4::SRC, ipv4::DST, 4)
    };
    for (addr, at) in [(octets(rw.src, v6)?, src_at), (octets(rw.dst, v6)?, dst_at)] {
        if let Some(a) = addr {
            changed |= patch(
                buf,
                q + at,
                &a[..width],
                &mut [
                    (&mut header, q),
                    (&mut pseudo, q + src_at),
                    (&mut *outer, icmp),
                ],
            );
        }
    }
    if !v6 {
        let at = q + ipv4::CHECKSUM;
        let new = header.apply(u16_at(buf, at));
        patch(buf, at, &new.to_be_bytes(), &mut [(&mut *outer, icmp)]);
    }
    let l4 = q + ip_len;
    let avail = end.saturating_sub(l4);
    let mut inner = Update::new();
    match (protocol, v6) {
        (6 | 17, _) => {
            for (port, at) in [(rw.src_port, 0), (rw.dst_port, 2)] {
                if let Some(p) = port {
                    changed |= patch(
                        buf,
                        l4 + at,
                        &p.to_be_bytes(),
                        &mut [(&mut inner, l4), (&mut *outer, icmp)],
                    );
                }
            }
            // The quoted L4 checksum is updated when the quote contains it: the update
            // is exact although the data it covers is mostly not here.
            let at = if protocol == 6 {
                tcp::CHECKSUM
            } else {
                udp::CHECKSUM
            };
            if avail >= at + 2 {
                let old = u16_at(buf, l4 + at);
                let total = pseudo.combine(inner);
                let new = if protocol == 17 {
                    sixfold_checksum::udp::update(old, &total)
                } else {
                    total.apply(old)
                };
                patch(buf, l4 + at, &new.to_be_bytes(), &mut [(&mut *outer, icmp)]);
            }
        }
        (1, false) | (58, true) => {
            let query = avail > 0
                && if v6 {
                    icmp::is_icmpv6_query(buf[l4])
                } else {
                    icmp::is_icmpv4_query(buf[l4])
                };
            if let Some(id) = rw.icmp_id
                && avail >= icmp::IDENT + 2
                && query
            {
                changed |= patch(
                    buf,
                    l4 + icmp::IDENT,
                    &id.to_be_bytes(),
                    &mut [(&mut inner, l4), (&mut *outer, icmp)],
                );
            }
            if avail >= icmp::CHECKSUM + 2 {
                let total = if v6 { pseudo.combine(inner) } else { inner };
                let at = l4 + icmp::CHECKSUM;
                let new = total.apply(u16_at(buf, at));
                patch(buf, at, &new.to_be_bytes(), &mut [(&mut *outer, icmp)]);
            }
        }
        _ => {}
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use sixfold_checksum::{Sum, pseudo, sum, verify};
    use std::vec::Vec;

    /// UDP/IPv4 10.0.0.2:40000 → 198.51.100.7:53 with correct checksums.
    fn udp4(more_frags: bool, frag_offset: u16, udp_checksum: bool) -> Vec<u8> {
        let mut p = std::vec![
            0x45, 0, 0, 30, 0, 9, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 198, 51, 100, 7
        ];
        let flags = (if more_frags { 0x2000 } else { 0 }) | (frag_offset / 8);
        p[6..8].copy_from_slice(&flags.to_be_bytes());
        p.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 10, 0, 0, 0xca, 0xfe]);
        if udp_checksum {
            let c = sixfold_checksum::udp::finish(
                pseudo::ipv4(
                    Ipv4Addr::new(10, 0, 0, 2),
                    Ipv4Addr::new(198, 51, 100, 7),
                    17,
                    10,
                ) + sum(&p[20..]),
            );
            p[26..28].copy_from_slice(&c.to_be_bytes());
        }
        let c = sum(&p[..20]).checksum();
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn nat() -> Rewrite {
        Rewrite {
            src: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1))),
            src_port: Some(1024),
            ttl: Some(Ttl::Sub(1)),
            ..Rewrite::new()
        }
    }

    #[test]
    fn udp_ipv4_no_checksum_stays_zero() {
        let mut p = udp4(false, 0, false);
        nat().apply(&mut p).unwrap();
        assert_eq!(&p[26..28], &[0, 0]);
        assert_eq!(&p[20..22], &1024u16.to_be_bytes());
        assert!(verify(&p[..20]));
    }

    #[test]
    fn non_first_fragment_changes_only_the_ip_header() {
        let mut p = udp4(false, 1480, true);
        let l4_before = p[20..].to_vec();
        let out = nat().apply(&mut p).unwrap();
        assert!(out.changed && out.no_l4_header);
        assert_eq!(
            &p[20..],
            &l4_before[..],
            "payload of a non-first fragment is not a header"
        );
        assert_eq!(&p[12..16], &[203, 0, 113, 1]);
        assert!(verify(&p[..20]));
    }

    #[test]
    fn first_fragment_checksum_is_updated_exactly() {
        // The L4 checksum covers a datagram longer than this fragment; the update is
        // still exact: verify against the checksum of the datagram built afresh.
        let mut p = udp4(true, 0, true);
        nat().apply(&mut p).unwrap();
        let mut fresh = udp4(true, 0, false);
        fresh[12..16].copy_from_slice(&[203, 0, 113, 1]);
        fresh[20..22].copy_from_slice(&1024u16.to_be_bytes());
        let want = sixfold_checksum::udp::finish(
            pseudo::ipv4(
                Ipv4Addr::new(203, 0, 113, 1),
                Ipv4Addr::new(198, 51, 100, 7),
                17,
                10,
            ) + sum(&fresh[20..]),
        );
        assert_eq!(u16::from_be_bytes([p[26], p[27]]), want);
    }

    #[test]
    fn partial_checksum_follows_the_pseudo_header_only() {
        let mut p = udp4(false, 0, false);
        let ph = pseudo::ipv4(
            Ipv4Addr::new(10, 0, 0, 2),
            Ipv4Addr::new(198, 51, 100, 7),
            17,
            10,
        );
        p[26..28].copy_from_slice(&ph.to_be_bytes());
        let r = Rewrite {
            l4_checksum: L4Checksum::Partial,
            ..nat()
        };
        r.apply(&mut p).unwrap();
        let want = pseudo::ipv4(
            Ipv4Addr::new(203, 0, 113, 1),
            Ipv4Addr::new(198, 51, 100, 7),
            17,
            10,
        );
        assert_eq!(
            Sum::from_be_bytes([p[26], p[27]]),
            want,
            "the port change is the device's to sum"
        );
    }

    #[test]
    fn errors_write_nothing() {
        let mut p = udp4(false, 0, true);
        let before = p.clone();
        let r = Rewrite {
            src: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ..Rewrite::new()
        };
        assert_eq!(r.apply(&mut p), Err(Error::FamilyMismatch));
        assert_eq!(p, before);
        // A first fragment too short for its TCP header.
        let mut t = std::vec![
            0x45, 0, 0, 28, 0, 1, 0x20, 0, 64, 6, 0, 0, 10, 0, 0, 2, 10, 0, 0, 3, 0, 80, 0, 80, 0,
            0, 0, 1
        ];
        let before = t.clone();
        assert_eq!(
            nat().apply(&mut t),
            Err(Error::Truncated {
                layer: Layer::Tcp,
                need: 20,
                got: 8
            })
        );
        assert_eq!(t, before);
        assert_eq!(
            nat().apply(&mut []),
            Err(Error::Truncated {
                layer: Layer::Ipv4,
                need: 20,
                got: 0
            })
        );
        assert_eq!(nat().apply(&mut [0x15]), Err(Error::BadVersion(1)));
    }

    #[test]
    fn ipv6_destination_behind_a_routing_header_is_not_in_the_pseudo_header() {
        // Routing header (type 4, segments left 1) then ICMPv6 echo; the pseudo-header
        // uses the final destination from the routing header, so rewriting the IPv6
        // destination must leave the ICMPv6 checksum alone.
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let final_dst: Ipv6Addr = "2001:db8::9".parse().unwrap();
        let mut p = std::vec![0x60, 0, 0, 0, 0, 32, 43, 64];
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&"2001:db8::5".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&[58, 2, 4, 1, 0, 0, 0, 0]);
        p.extend_from_slice(&final_dst.octets());
        p.extend_from_slice(&[128, 0, 0, 0, 0, 7, 0, 1]);
        let c = (pseudo::ipv6(src, final_dst, 58, 8) + sum(&p[64..])).checksum();
        p[66..68].copy_from_slice(&c.to_be_bytes());
        let r = Rewrite {
            dst: Some(IpAddr::V6("2001:db8::6".parse().unwrap())),
            ..Rewrite::new()
        };
        r.apply(&mut p).unwrap();
        assert_eq!(u16::from_be_bytes([p[66], p[67]]), c);
        // While a source rewrite does update it.
        let new_src: Ipv6Addr = "2001:db8::2".parse().unwrap();
        Rewrite {
            src: Some(IpAddr::V6(new_src)),
            ..Rewrite::new()
        }
        .apply(&mut p)
        .unwrap();
        assert_eq!(
            pseudo::ipv6(new_src, final_dst, 58, 8) + sum(&p[64..]),
            Sum::NEG_ZERO
        );
    }

    #[test]
    fn mss_clamp_at_an_odd_offset() {
        // SYN with NOP then MSS 1460: the value sits at TCP offset 23.
        let (s, d) = (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3));
        let mut p = std::vec![
            0x45, 0, 0, 48, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 10, 0, 0, 3
        ];
        p.extend_from_slice(&[
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x70, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        p.extend_from_slice(&[1, 2, 4, 0x05, 0xb4, 1, 1, 0]);
        let c = (pseudo::ipv4(s, d, 6, 28) + sum(&p[20..])).checksum();
        p[36..38].copy_from_slice(&c.to_be_bytes());
        let h = sum(&p[..20]).checksum();
        p[10..12].copy_from_slice(&h.to_be_bytes());
        Rewrite {
            mss: Some(1400),
            ..Rewrite::new()
        }
        .apply(&mut p)
        .unwrap();
        assert_eq!(&p[43..45], &1400u16.to_be_bytes());
        assert_eq!(pseudo::ipv4(s, d, 6, 28) + sum(&p[20..]), Sum::NEG_ZERO);
        // A clamp above the MSS changes nothing.
        let before = p.clone();
        let out = Rewrite {
            mss: Some(9000),
            ..Rewrite::new()
        }
        .apply(&mut p)
        .unwrap();
        assert!(!out.changed);
        assert_eq!(p, before);
    }
}
