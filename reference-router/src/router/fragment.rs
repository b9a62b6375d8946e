//! IPv4 fragments (RFC 791, RFC 4787 REQ-14): a first fragment's translation is
//! remembered by the NAT and applied to the rest of its datagram; fragments that
//! come before their first wait for it; a DF=0 packet too big for the egress link
//! is fragmented here.

use super::{Router, Verdict};
use crate::buf::PacketBuf;
use crate::iface::{Direction, Interface};
use crate::nat::frag::{Applied, FragKey};
use crate::offload;
use crate::stats::DropReason;
use sixfold_rewrite::{IpProtocol, Ipv4Packet, Rewrite, Ttl};
use std::net::IpAddr;

/// The rewrite of a non-first fragment: the addresses its first got, and the TTL.
fn rewrite_later(applied: Applied) -> Rewrite {
    Rewrite {
        src: Some(IpAddr::V4(applied.src.into())),
        dst: Some(IpAddr::V4(applied.dst.into())),
        ttl: Some(Ttl::Sub(1)),
        ..Rewrite::new()
    }
}

impl Router {
    /// A first fragment was translated into `packet` and goes out of `egress`:
    /// the NAT remembers it for the rest of the datagram, and fragments that came
    /// early are translated and queued now.
    pub(super) fn first_fragment(
        &mut self,
        packet: &[u8],
        key: FragKey,
        egress: Interface,
        now: u32,
    ) {
        let ip = Ipv4Packet::new_unchecked(packet);
        let applied = Applied {
            src: u32::from(ip.src_addr()),
            dst: u32::from(ip.dst_addr()),
            egress,
        };
        match self.nat.first_fragment(key, applied, now) {
            Ok(early) => {
                for mut p in early {
                    if rewrite_later(applied).apply(&mut p).is_ok() {
                        self.counters.fragment_translated();
                        self.egress
                            .push(egress, p, Default::default(), &mut self.counters);
                    }
                }
            }
            Err(reason) => self.counters.drop(reason),
        }
    }

    /// A non-first fragment: translated as its first was, or held until the first
    /// comes (and counted at the timeout if it never does).
    pub(super) fn later_fragment(
        &mut self,
        direction: Direction,
        buffer: &mut PacketBuf,
        key: FragKey,
        now: u32,
    ) -> Result<Verdict, DropReason> {
        let Some(applied) = self.nat.fragment_applied(&key) else {
            self.nat.hold_fragment(key, buffer.packet(), now)?;
            return Ok(Verdict::Held);
        };
        if self.is_alias(Some(IpAddr::V4(applied.dst.into()))) {
            // Its first fragment went to a NAT64 session, maybe another worker's.
            return self.nat64_later_fragment(buffer, applied, now);
        }
        let before = self.flow_before(direction, buffer);
        rewrite_later(applied)
            .apply(buffer.packet_mut())
            .map_err(|_| DropReason::Malformed)?;
        self.counters.fragment_translated();
        let protocol = IpProtocol::from(key.protocol);
        let wire = self.count_v4(direction, false, protocol, buffer);
        self.account_v4((direction, applied.egress), before, wire, buffer);
        let mtu = self.links.mtu(applied.egress);
        if buffer.len() > mtu {
            self.fragment(buffer, applied.egress, mtu)?;
        }
        Ok(Verdict::Forward(applied.egress))
    }

    /// Makes the DF=0 packet in the buffer fit `mtu`: a super-packet is first cut
    /// into its segments (in software, as a device would), then whatever is still
    /// too big is fragmented. The first piece stays in the buffer, the rest are
    /// queued for `egress`.
    pub(super) fn fit_mtu(
        &mut self,
        buffer: &mut PacketBuf,
        egress: Interface,
        mtu: usize,
    ) -> Result<(), DropReason> {
        let offload = buffer.offload();
        if !offload.is_super() {
            return self.fragment(buffer, egress, mtu);
        }
        let segments = offload::segment(buffer.packet(), &offload).ok_or(DropReason::Malformed)?;
        self.counters.segmented(segments.len() as u64);
        let mut first = true;
        for seg in segments {
            let mut piece = PacketBuf::from_packet(&seg);
            if piece.len() > mtu {
                self.fragment(&mut piece, egress, mtu)?;
            }
            if first {
                buffer.set_packet(piece.packet());
                first = false;
            } else {
                self.egress.push(
                    egress,
                    piece.packet().to_vec(),
                    Default::default(),
                    &mut self.counters,
                );
            }
        }
        Ok(())
    }

    /// Splits the (DF=0) packet in the buffer into fragments that fit `mtu`: the
    /// first stays in the buffer, the rest are queued for `egress` (RFC 791 §3.2).
    /// Options are copied into every fragment.
    pub(super) fn fragment(
        &mut self,
        buffer: &mut PacketBuf,
        egress: Interface,
        mtu: usize,
    ) -> Result<(), DropReason> {
        let packet = buffer.packet().to_vec();
        let ip = Ipv4Packet::new_unchecked(&packet[..]);
        let header_len = ip.header_len();
        let per = (mtu - header_len) / 8 * 8;
        let payload = ip.payload();
        let (base_offset, more_after) = (ip.frag_offset(), ip.more_frags());
        let mut pieces = Vec::new();
        let mut at = 0;
        while at < payload.len() {
            let end = (at + per).min(payload.len());
            let mut piece = Vec::with_capacity(header_len + end - at);
            piece.extend_from_slice(&packet[..header_len]);
            piece.extend_from_slice(&payload[at..end]);
            let total = piece.len();
            let mut view = Ipv4Packet::new_unchecked(&mut piece[..]);
            // A datagram whose fragments would end beyond offset 65535 is refused.
            view.set_total_len(total)
                .and_then(|()| view.set_frag_offset(base_offset + at))
                .map_err(|_| DropReason::Malformed)?;
            view.set_more_frags(end < payload.len() || more_after);
            view.fill_checksum();
            pieces.push(piece);
            at = end;
        }
        let mut pieces = pieces.into_iter();
        if let Some(first) = pieces.next() {
            buffer.set_packet(&first);
        }
        self.counters.fragments_generated(1);
        for p in pieces {
            self.counters.fragments_generated(1);
            self.egress
                .push(egress, p, Default::default(), &mut self.counters);
        }
        Ok(())
    }
}
