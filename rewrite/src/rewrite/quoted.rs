//! The packet quoted in an ICMP error (RFC 792, RFC 4443 §2.4(c)): checked before
//! anything is written, then rewritten through [`patch`] so the quote's own
//! checksums and the outer ICMP checksum follow every byte.

use super::{QuotedRewrite, octets, patch, u16_at};
use crate::error::{Error, Layer, Result, need};
use crate::icmp;
use crate::ipv6::walk_extensions;
use crate::{ipv4, ipv6, tcp, udp};
use sixfold_checksum::incremental::Update;

pub(super) fn is_error(msg_type: u8, v6: bool) -> bool {
    if v6 {
        icmp::is_icmpv6_error(msg_type)
    } else {
        icmp::is_icmpv4_error(msg_type)
    }
}

/// Checks that a quoted packet is long enough for every field the rewrite touches.
pub(super) fn check_quote(quote: &[u8], v6: bool, q: &QuotedRewrite) -> Result<()> {
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
pub(super) fn rewrite_quote(
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
    changed |= quoted_l4(buf, icmp, q + ip_len, end, protocol, v6, rw, pseudo, outer);
    Ok(changed)
}

/// The quoted packet's transport part, from `l4` to `end`: ports or the ICMP
/// identifier, and its checksum when the quote holds it (`pseudo`: the quoted
/// addresses' change). Part of [`rewrite_quote`].
#[allow(clippy::too_many_arguments)]
fn quoted_l4(
    buf: &mut [u8],
    icmp: usize,
    l4: usize,
    end: usize,
    protocol: u8,
    v6: bool,
    rw: &QuotedRewrite,
    pseudo: Update,
    outer: &mut Update,
) -> bool {
    let mut changed = false;
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
    changed
}
