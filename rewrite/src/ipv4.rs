//! IPv4 header view (RFC 791).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |Type of Service|          Total Length         |
//! |         Identification        |Flags|      Fragment Offset    |
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! |                       Source Address                          |
//! |                    Destination Address                        |
//! |                    Options                    |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::error::{Error, Layer, Result, need};
use crate::protocol::IpProtocol;
use core::net::Ipv4Addr;
use sixfold_checksum::Sum;

mod field {
    pub(crate) const VER_IHL: usize = 0;
    pub(crate) const TOS: usize = 1;
    pub(crate) const LENGTH: usize = 2;
    pub(crate) const IDENT: usize = 4;
    pub(crate) const FLG_OFF: usize = 6;
    pub(crate) const TTL: usize = 8;
    pub(crate) const PROTOCOL: usize = 9;
    pub(crate) const CHECKSUM: usize = 10;
    pub(crate) const SRC: usize = 12;
    pub(crate) const DST: usize = 16;
    pub(crate) const HEADER_LEN: usize = 20;
}
pub(crate) use field::{CHECKSUM, DST, HEADER_LEN, SRC, TTL};

/// A view of an IPv4 packet in a buffer.
///
/// After [`Ipv4Packet::new_checked`] succeeds, no accessor panics: the header (with
/// options) and `total_len` bytes are in the buffer. The raw setters keep that true,
/// but do not fix the checksum; the rewrites in [`crate::rewrite`] do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Packet<B> {
    buffer: B,
}

impl<B: AsRef<[u8]>> Ipv4Packet<B> {
    /// Wraps a buffer without checking it (accessors may panic on a short buffer).
    pub const fn new_unchecked(buffer: B) -> Ipv4Packet<B> {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer after checking the version, header length and total length.
    pub fn new_checked(buffer: B) -> Result<Ipv4Packet<B>> {
        let p = Ipv4Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// Checks what [`Ipv4Packet::new_checked`] checks.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(Layer::Ipv4, HEADER_LEN, b.len())?;
        if b[0] >> 4 != 4 {
            return Err(Error::BadVersion(b[0] >> 4));
        }
        let ihl = b[0] & 0x0F;
        if ihl < 5 {
            return Err(Error::BadHeaderLen(ihl));
        }
        let header = ihl as usize * 4;
        need(Layer::Ipv4, header, b.len())?;
        let total = u16::from_be_bytes([b[field::LENGTH], b[field::LENGTH + 1]]) as usize;
        if total < header || total > b.len() {
            return Err(Error::BadTotalLen {
                total,
                header,
                got: b.len(),
            });
        }
        Ok(())
    }

    /// The buffer.
    pub fn into_inner(self) -> B {
        self.buffer
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0F) as usize * 4
    }

    /// The type-of-service octet (DSCP and ECN, RFC 2474 / RFC 3168).
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    /// Total length (header and payload) in bytes.
    pub fn total_len(&self) -> usize {
        self.u16_at(field::LENGTH) as usize
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        self.u16_at(field::IDENT)
    }

    /// The don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.u16_at(field::FLG_OFF) & 0x4000 != 0
    }

    /// The more-fragments flag.
    pub fn more_frags(&self) -> bool {
        self.u16_at(field::FLG_OFF) & 0x2000 != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> usize {
        (self.u16_at(field::FLG_OFF) & 0x1FFF) as usize * 8
    }

    /// Whether this packet is a fragment (more fragments follow, or offset ≠ 0).
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The payload's protocol number.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// The payload's protocol, by name.
    pub fn ip_protocol(&self) -> IpProtocol {
        IpProtocol::from(self.protocol())
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[SRC], b[SRC + 1], b[SRC + 2], b[SRC + 3])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[DST], b[DST + 1], b[DST + 2], b[DST + 3])
    }

    /// The options bytes (between the fixed header and the payload).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// Whether the header checksum is right (the header sums to −0).
    pub fn verify_checksum(&self) -> bool {
        sixfold_checksum::verify(&self.buffer.as_ref()[..self.header_len()])
    }

    /// The sum of the header with the checksum field counted as zero.
    pub fn header_sum(&self) -> Sum {
        let h = &self.buffer.as_ref()[..self.header_len()];
        sixfold_checksum::sum(h) - Sum::new(self.checksum())
    }
}

impl<'a, B: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a B> {
    /// The payload (up to the total length), borrowed for the buffer's lifetime.
    pub fn payload(&self) -> &'a [u8] {
        let (start, end) = (self.header_len(), self.total_len());
        &self.buffer.as_ref()[start..end]
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<B> {
    /// Sets the TTL (raw: the checksum is not updated).
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Sets the source address (raw).
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[SRC..SRC + 4].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address (raw).
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[DST..DST + 4].copy_from_slice(&addr.octets());
    }

    /// Sets the total length (raw). Refused, leaving the packet as it was, unless
    /// the header fits in it and it fits in the buffer — so no accessor can panic
    /// afterwards.
    pub fn set_total_len(&mut self, total: usize) -> Result<()> {
        let (header, got) = (self.header_len(), self.buffer.as_ref().len());
        if total < header || total > got || total > usize::from(u16::MAX) {
            return Err(Error::BadTotalLen { total, header, got });
        }
        self.set_u16(field::LENGTH, total as u16);
        Ok(())
    }

    /// Sets the identification (raw).
    pub fn set_ident(&mut self, ident: u16) {
        self.set_u16(field::IDENT, ident);
    }

    /// Sets the don't-fragment flag (raw).
    pub fn set_dont_frag(&mut self, dont_frag: bool) {
        self.set_flag(0x4000, dont_frag);
    }

    /// Sets the more-fragments flag (raw).
    pub fn set_more_frags(&mut self, more_frags: bool) {
        self.set_flag(0x2000, more_frags);
    }

    /// Sets the fragment offset in bytes (raw). Refused unless it is a multiple of
    /// 8 below 65536.
    pub fn set_frag_offset(&mut self, offset: usize) -> Result<()> {
        if !offset.is_multiple_of(8) || offset > 0x1FFF * 8 {
            return Err(Error::BadFragmentOffset(offset));
        }
        let flags = self.u16_at(field::FLG_OFF) & 0xE000;
        self.set_u16(field::FLG_OFF, flags | (offset / 8) as u16);
        Ok(())
    }

    fn set_flag(&mut self, bit: u16, on: bool) {
        let old = self.u16_at(field::FLG_OFF);
        self.set_u16(field::FLG_OFF, if on { old | bit } else { old & !bit });
    }

    fn set_u16(&mut self, at: usize, value: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the header checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        self.buffer.as_mut()[CHECKSUM..CHECKSUM + 2].copy_from_slice(&checksum.to_be_bytes());
    }

    /// Recomputes the header checksum from scratch.
    pub fn fill_checksum(&mut self) {
        let c = self.header_sum().checksum();
        self.set_checksum(c);
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), self.total_len());
        &mut self.buffer.as_mut()[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20-byte header: 192.0.2.1 → 198.51.100.2, UDP, TTL 64, total 28, DF.
    const HEADER: [u8; 28] = [
        0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 192, 0, 2, 1, 198,
        51, 100, 2, //
        0x04, 0xd2, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00,
    ];

    fn packet() -> [u8; 28] {
        let mut p = HEADER;
        let mut v = Ipv4Packet::new_unchecked(&mut p[..]);
        v.fill_checksum();
        p
    }

    #[test]
    fn deconstruct() {
        let bytes = packet();
        let p = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 28);
        assert_eq!(p.ident(), 0x1234);
        assert!(p.dont_frag() && !p.more_frags() && !p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(198, 51, 100, 2));
        assert_eq!(p.payload(), &HEADER[20..]);
        assert!(p.verify_checksum());
        // 4500+001c+1234+4000+4011+c000+0201+c633+6402 = 0x2_c397 → 0xc399; ~ = 0x3c66
        assert_eq!(p.checksum(), 0x3c66);
    }

    #[test]
    fn construct_fragment_fields_byte_exact() {
        let mut b = packet();
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_ident(0xbeef);
        p.set_dont_frag(false);
        p.set_more_frags(true);
        p.set_frag_offset(1480).unwrap();
        p.set_total_len(24).unwrap();
        p.fill_checksum();
        // Identification, flags+offset (MF, 1480 / 8 = 185 = 0x00b9) and length.
        assert_eq!(&b[2..8], &[0x00, 0x18, 0xbe, 0xef, 0x20, 0xb9]);
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum() && p.more_frags() && !p.dont_frag());
        assert_eq!(
            (p.frag_offset(), p.total_len(), p.ip_protocol()),
            (1480, 24, IpProtocol::Udp)
        );
    }

    #[test]
    fn setters_refuse_what_would_break_the_view() {
        let mut b = packet();
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        assert_eq!(
            p.set_total_len(29),
            Err(Error::BadTotalLen {
                total: 29,
                header: 20,
                got: 28
            })
        );
        assert_eq!(
            p.set_total_len(19),
            Err(Error::BadTotalLen {
                total: 19,
                header: 20,
                got: 28
            })
        );
        assert_eq!(p.set_frag_offset(7), Err(Error::BadFragmentOffset(7)));
        assert_eq!(
            p.set_frag_offset(65536),
            Err(Error::BadFragmentOffset(65536))
        );
        assert_eq!(b, packet(), "a refused setter leaves the packet as it was");
    }

    #[test]
    fn rejections() {
        let b = packet();
        assert_eq!(
            Ipv4Packet::new_checked(&b[..19]),
            Err(Error::Truncated {
                layer: Layer::Ipv4,
                need: 20,
                got: 19
            })
        );
        let mut v6 = b;
        v6[0] = 0x65;
        assert_eq!(Ipv4Packet::new_checked(&v6[..]), Err(Error::BadVersion(6)));
        let mut ihl = b;
        ihl[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&ihl[..]),
            Err(Error::BadHeaderLen(4))
        );
        let mut opts = b;
        opts[0] = 0x4F;
        assert_eq!(
            Ipv4Packet::new_checked(&opts[..]),
            Err(Error::Truncated {
                layer: Layer::Ipv4,
                need: 60,
                got: 28
            })
        );
        let mut total = b;
        total[3] = 29;
        assert_eq!(
            Ipv4Packet::new_checked(&total[..]),
            Err(Error::BadTotalLen {
                total: 29,
                header: 20,
                got: 28
            })
        );
        total[3] = 19;
        assert_eq!(
            Ipv4Packet::new_checked(&total[..]),
            Err(Error::BadTotalLen {
                total: 19,
                header: 20,
                got: 28
            })
        );
    }

    #[test]
    fn trailing_bytes_are_not_payload() {
        let mut b = packet().to_vec();
        b.extend_from_slice(&[0xEE; 6]); // Ethernet padding
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.payload().len(), 8);
    }

    #[test]
    fn tos_octet() {
        let mut b = packet();
        b[1] = 0xb9; // DSCP 46 (EF) and ECN 01 (ECT(1))
        assert_eq!(Ipv4Packet::new_checked(&b[..]).unwrap().tos(), 0xb9);
    }
}
