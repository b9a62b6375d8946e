//! ICMPv4 errors through the NAT (RFC 5508): matched to their session by the
//! packet they quote, which is checked (REQ-3) and translated along with the
//! outer header (REQ-4/5), hairpinned flows included (REQ-7). Errors never
//! refresh a session (REQ-6).

use super::table::Key;
use super::{Decision, Nat, v4};
use crate::iface::Interface;
use crate::stats::DropReason;
use sixfold_rewrite::{IpProtocol, Ipv4Packet, QuotedPacket, QuotedRewrite, Rewrite};
use std::net::{IpAddr, Ipv4Addr};

impl Nat {
    /// An ICMP error (`icmp` = the ICMP message) from subscriber `sub` about a packet it
    /// received: the outer source and the quoted destination become the external
    /// endpoint (RFC 5508 REQ-5). Never refreshes (REQ-6).
    pub(crate) fn outbound_error(&mut self, outer_dst: u32, icmp: &[u8], now: u32) -> Decision {
        let key = match quoted_key(icmp, false) {
            Ok(key) => key,
            Err(r) => return Decision::Drop(r),
        };
        let protocol = key.protocol;
        let Some(s) = self.table.find_inside(&key, now) else {
            return Decision::Drop(DropReason::IcmpErrorNoSession);
        };
        let s = *self.table.session(s);
        let mut quoted = QuotedRewrite {
            dst: Some(v4(s.out_addr)),
            ..QuotedRewrite::default()
        };
        set_quoted_port(&mut quoted, protocol, s.out_port, false);
        let mut rewrite = Rewrite {
            src: Some(v4(s.out_addr)),
            quoted: Some(quoted),
            ..Rewrite::new()
        };
        if !self.pool.contains(&outer_dst) {
            return Decision::Translate {
                rewrite,
                egress: Interface::Wan,
                hairpin: false,
                session: None,
            };
        }
        if !self.hairpin {
            return Decision::Drop(DropReason::HairpinOff);
        }
        let owner = self.port_owner(Ipv4Addr::from(key.rem_addr), key.rem_port);
        if owner != self.shard.index {
            // The peer's session is another worker's: it takes the error in as
            // from the WAN, where the quote reads as a packet the NAT sent.
            return Decision::Handoff {
                rewrite,
                worker: owner,
            };
        }
        // About a hairpinned flow (RFC 5508 REQ-7): translate back in for the peer.
        let peer = Key {
            addr: key.rem_addr,
            port: key.rem_port,
            rem_addr: s.out_addr,
            rem_port: s.out_port,
            protocol,
        };
        let Some(peer) = self.table.find_outside(&peer, now) else {
            return Decision::Drop(DropReason::IcmpErrorNoSession);
        };
        let p = *self.table.session(peer);
        if let Some(q) = rewrite.quoted.as_mut() {
            q.src = Some(v4(p.in_addr));
            set_quoted_port(q, protocol, p.in_port, true);
        }
        rewrite.dst = Some(v4(p.in_addr));
        let egress = Interface::Subscriber(self.table.session_subscriber(peer));
        Decision::Translate {
            rewrite,
            egress,
            hairpin: true,
            session: None,
        }
    }

    /// An ICMP error from the WAN to `outer_dst` about a packet the NAT sent out:
    /// back to the internal endpoint, quoted packet reverted (RFC 5508 REQ-4).
    pub(crate) fn inbound_error(&mut self, outer_dst: u32, icmp: &[u8], now: u32) -> Decision {
        let key = match quoted_key(icmp, true) {
            Ok(key) if key.addr == outer_dst => key,
            Ok(_) => return Decision::Drop(DropReason::IcmpErrorBadQuote),
            Err(r) => return Decision::Drop(r),
        };
        let protocol = key.protocol;
        let Some(index) = self.table.find_outside(&key, now) else {
            return Decision::Drop(DropReason::IcmpErrorNoSession);
        };
        let s = *self.table.session(index);
        let mut quoted = QuotedRewrite {
            src: Some(v4(s.in_addr)),
            ..QuotedRewrite::default()
        };
        set_quoted_port(&mut quoted, protocol, s.in_port, true);
        let rewrite = Rewrite {
            dst: Some(v4(s.in_addr)),
            quoted: Some(quoted),
            ..Rewrite::new()
        };
        let egress = Interface::Subscriber(self.table.session_subscriber(index));
        Decision::Translate {
            rewrite,
            egress,
            hairpin: false,
            session: None,
        }
    }
}

fn set_quoted_port(q: &mut QuotedRewrite, protocol: u8, port: u16, source: bool) {
    match (IpProtocol::from(protocol), source) {
        (IpProtocol::Icmp, _) => q.icmp_id = Some(port),
        (_, true) => q.src_port = Some(port),
        (_, false) => q.dst_port = Some(port),
    }
}

/// The quoted packet of an ICMPv4 error, checked per RFC 5508 REQ-3: the ICMP
/// checksum and the quoted IP header checksum must be right; the quoted transport
/// checksum is not checked (the quote is usually cut short).
fn quote(icmp: &[u8]) -> Result<QuotedPacket<'_>, DropReason> {
    if icmp.len() < 8 + 20 || !sixfold_checksum::verify(icmp) {
        return Err(DropReason::IcmpErrorBadChecksum);
    }
    let inner = &icmp[8..];
    let q = QuotedPacket::new(inner).map_err(|_| DropReason::IcmpErrorBadQuote)?;
    if q.is_ipv6() {
        return Err(DropReason::IcmpErrorBadQuote);
    }
    // QuotedPacket::new checked that the whole header (options included) is there.
    let header = Ipv4Packet::new_unchecked(inner).header_len();
    if !sixfold_checksum::verify(&inner[..header]) {
        return Err(DropReason::IcmpErrorBadChecksum);
    }
    Ok(q)
}

/// The NAT's key for the flow of the packet quoted in ICMP error `icmp`. From the
/// WAN the quote is a packet the NAT sent (its source is the NAT's side); from a
/// subscriber it is a packet the subscriber received (its destination is).
fn quoted_key(icmp: &[u8], from_wan: bool) -> Result<Key, DropReason> {
    let q = quote(icmp)?;
    let (protocol, src, sport, dst, dport) =
        quoted_flow(&q, from_wan).ok_or(DropReason::IcmpErrorBadQuote)?;
    Ok(if from_wan {
        Key {
            addr: src,
            port: sport,
            rem_addr: dst,
            rem_port: dport,
            protocol,
        }
    } else {
        Key {
            addr: dst,
            port: dport,
            rem_addr: src,
            rem_port: sport,
            protocol,
        }
    })
}

/// (protocol, source, source port, destination, destination port) of a quoted
/// packet; for a quoted ICMP query the identifier is the port of the side that
/// sent the query (`query_from_source`).
fn quoted_flow(q: &QuotedPacket<'_>, query_from_source: bool) -> Option<(u8, u32, u16, u32, u16)> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (q.src_addr(), q.dst_addr()) else {
        return None;
    };
    let (src, dst) = (u32::from(src), u32::from(dst));
    let p = q.protocol();
    match q.ip_protocol() {
        IpProtocol::Tcp | IpProtocol::Udp => Some((p, src, q.src_port()?, dst, q.dst_port()?)),
        IpProtocol::Icmp => {
            let id = q.icmp_id()?;
            if query_from_source {
                Some((p, src, id, dst, 0))
            } else {
                Some((p, src, 0, dst, id))
            }
        }
        _ => None,
    }
}
