//! Splitting a translated packet that is larger than the next hop allows (RFC 7915
//! §4.1 for IPv6, RFC 791 §3.2 for IPv4), one piece at a time into caller buffers.
//!
//! The input is what the translator writes when [`super::Translated::fragment_len`]
//! is set: an IPv6 packet with a Fragment Header right after the fixed header, or
//! an IPv4 packet without options and without DF. It may itself be a fragment: the
//! pieces then continue its offset, and only the last keeps its M / MF flag.

use super::headers::{FRAGMENT_HEADER, IPV4_HEADER, IPV6_HEADER};
use super::{Result, TranslateError, room};
use crate::error::Error;
use crate::ipv4::Ipv4Packet;
use crate::ipv6::Ipv6Packet;
use crate::protocol::IpProtocol;

/// Fragment data comes in multiples of 8 bytes, all but the last piece.
const FRAGMENT_UNIT: usize = 8;
/// The largest fragment offset either family encodes (13 bits of 8 bytes).
const MAX_OFFSET: usize = 0x1FFF * FRAGMENT_UNIT;

/// An iterator-like splitter: [`Fragments::next_into`] writes the next piece.
///
/// ```
/// use sixfold_rewrite::translate::Fragments;
/// // A 1500-byte UDP/IPv4 packet without DF, for a 576-byte link.
/// let mut p = vec![0u8; 1500];
/// p[..20].copy_from_slice(&[
///     0x45, 0, 0x05, 0xdc, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
/// ]);
/// let mut pieces = Fragments::new(&p, 576).unwrap();
/// assert_eq!(pieces.remaining(), 3);
/// let mut out = [0u8; 576];
/// let mut sizes = vec![];
/// while let Some(n) = pieces.next_into(&mut out).unwrap() {
///     assert!(sixfold_checksum::verify(&out[..20]));
///     sizes.push(n);
/// }
/// assert_eq!(sizes, [572, 572, 396]); // 552 + 552 + 376 data bytes
/// ```
#[derive(Clone, Debug)]
pub struct Fragments<'a> {
    /// The headers every piece starts with.
    header: &'a [u8],
    /// The data to split.
    data: &'a [u8],
    /// Data bytes already written.
    done: usize,
    /// Data bytes per piece but the last (a multiple of 8).
    chunk: usize,
    /// The packet's own fragment offset and more-fragments flag.
    base_offset: usize,
    more: bool,
    /// Whether a piece was written (a packet without data still gives one).
    started: bool,
}

impl<'a> Fragments<'a> {
    /// Prepares to split `packet` into pieces of at most `max_len` bytes.
    pub fn new(packet: &'a [u8], max_len: usize) -> Result<Fragments<'a>> {
        let v6 = packet.first().is_some_and(|b| b >> 4 == 6);
        let (header_len, end, base_offset, more) = if v6 {
            let ip = Ipv6Packet::new_checked(packet)?;
            let end = IPV6_HEADER + ip.payload_len();
            let header_len = IPV6_HEADER + FRAGMENT_HEADER;
            if ip.ip_protocol() != IpProtocol::Ipv6Frag || end < header_len {
                return Err(TranslateError::NotFragmentable);
            }
            let off_flags = u16::from_be_bytes([packet[42], packet[43]]);
            (
                header_len,
                end,
                usize::from(off_flags & 0xFFF8),
                off_flags & 1 == 1,
            )
        } else {
            let ip = Ipv4Packet::new_checked(packet)?;
            if ip.header_len() != IPV4_HEADER || ip.dont_frag() {
                return Err(TranslateError::NotFragmentable);
            }
            (
                IPV4_HEADER,
                ip.total_len(),
                ip.frag_offset(),
                ip.more_frags(),
            )
        };
        let chunk = max_len.saturating_sub(header_len) / FRAGMENT_UNIT * FRAGMENT_UNIT;
        if chunk == 0 {
            return Err(TranslateError::FragmentSizeTooSmall(max_len));
        }
        Ok(Fragments {
            header: &packet[..header_len],
            data: &packet[header_len..end],
            done: 0,
            chunk,
            base_offset,
            more,
            started: false,
        })
    }

    /// How many pieces are still to come.
    pub fn remaining(&self) -> usize {
        let left = self.data.len() - self.done;
        match (left, self.started) {
            (0, true) => 0,
            (0, false) => 1,
            _ => left.div_ceil(self.chunk),
        }
    }

    /// Writes the next piece into `out` and returns its length, or `None` when
    /// all were written. A piece is at most the `max_len` given to
    /// [`Fragments::new`]; `out` must hold it. Every checksum is right: the IPv4
    /// header's is recomputed, and the payload's checksums are the packet's.
    pub fn next_into(&mut self, out: &mut [u8]) -> Result<Option<usize>> {
        if self.remaining() == 0 {
            return Ok(None);
        }
        let n = self.chunk.min(self.data.len() - self.done);
        let len = self.header.len() + n;
        room(out, len)?;
        let last = self.done + n == self.data.len();
        let offset = self.base_offset + self.done;
        if offset > MAX_OFFSET {
            // A fragment claiming data past the largest datagram.
            return Err(Error::BadFragmentOffset(offset).into());
        }
        let more = !last || self.more;
        out[..self.header.len()].copy_from_slice(self.header);
        out[self.header.len()..len].copy_from_slice(&self.data[self.done..self.done + n]);
        if self.header.len() == IPV4_HEADER {
            let mut ip = Ipv4Packet::new_unchecked(&mut out[..len]);
            // `len` fits the buffer and exceeds the header; `offset` is a multiple
            // of 8 up to MAX_OFFSET: neither setter refuses.
            ip.set_total_len(len)?;
            ip.set_frag_offset(offset)?;
            ip.set_more_frags(more);
            ip.fill_checksum();
        } else {
            let mut ip = Ipv6Packet::new_unchecked(&mut out[..len]);
            ip.set_payload_len(len - IPV6_HEADER)?;
            let off_flags = offset as u16 & 0xFFF8 | u16::from(more);
            out[42..44].copy_from_slice(&off_flags.to_be_bytes());
        }
        self.done += n;
        self.started = true;
        Ok(Some(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// An IPv6 packet with a Fragment Header (offset `offset`, M `more`) and
    /// `data` bytes counting up.
    fn ipv6(offset: u16, more: bool, data: usize) -> Vec<u8> {
        let mut p = std::vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((8 + data) as u16).to_be_bytes());
        p.extend_from_slice(&[44, 63]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[17, 0]);
        p.extend_from_slice(&(offset | u16::from(more)).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0xbe, 0xef]);
        p.extend((0..data).map(|i| i as u8));
        p
    }

    fn all(f: &mut Fragments<'_>) -> Vec<Vec<u8>> {
        let mut out = [0u8; 2000];
        let mut pieces = Vec::new();
        while let Some(n) = f.next_into(&mut out).unwrap() {
            pieces.push(out[..n].to_vec());
        }
        pieces
    }

    #[test]
    fn ipv6_pieces_continue_the_offset() {
        // A fragment at offset 1232 with M=1, 2000 data bytes, into 1280-byte pieces.
        let p = ipv6(1232, true, 2000);
        let mut f = Fragments::new(&p, 1280).unwrap();
        assert_eq!(f.remaining(), 2);
        let pieces = all(&mut f);
        assert_eq!(f.remaining(), 0);
        assert_eq!(pieces.len(), 2);
        // 1280 - 48 = 1232 data bytes, then 768.
        assert_eq!((pieces[0].len(), pieces[1].len()), (1280, 48 + 768));
        assert_eq!(&pieces[0][4..6], &1240u16.to_be_bytes());
        assert_eq!(&pieces[0][40..48], &[17, 0, 0x04, 0xD1, 0, 0, 0xbe, 0xef]);
        // 1232 + 1232 = 2464 = 0x9A0; M stays 1 from the packet itself.
        assert_eq!(&pieces[1][40..48], &[17, 0, 0x09, 0xA1, 0, 0, 0xbe, 0xef]);
        let data: Vec<u8> = pieces.iter().flat_map(|p| p[48..].to_vec()).collect();
        assert_eq!(data, p[48..]);
        // The last piece of a last fragment has M = 0.
        let p = ipv6(0, false, 1300);
        let pieces = all(&mut Fragments::new(&p, 1280).unwrap());
        assert_eq!(&pieces[0][42..44], &[0x00, 0x01]);
        assert_eq!(&pieces[1][42..44], &[0x04, 0xD0]);
    }

    #[test]
    fn a_packet_without_data_is_one_piece() {
        let p = ipv6(0, false, 0);
        let mut f = Fragments::new(&p, 1280).unwrap();
        assert_eq!(f.remaining(), 1);
        let pieces = all(&mut f);
        assert_eq!(pieces, [p]);
    }

    #[test]
    fn rejections() {
        let p = ipv6(0, false, 100);
        assert_eq!(
            Fragments::new(&p, 55).err(),
            Some(TranslateError::FragmentSizeTooSmall(55))
        );
        let mut no_frag = p.clone();
        no_frag[6] = 17;
        assert_eq!(
            Fragments::new(&no_frag, 1280).err(),
            Some(TranslateError::NotFragmentable)
        );
        let mut v4 = std::vec![
            0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2
        ];
        v4.extend_from_slice(&[0; 8]);
        assert_eq!(
            Fragments::new(&v4, 576).err(),
            Some(TranslateError::NotFragmentable),
            "DF"
        );
        v4[6] = 0;
        v4[0] = 0x46;
        v4.splice(20..20, [1, 1, 1, 0]);
        v4[3] = 32;
        assert_eq!(
            Fragments::new(&v4, 576).err(),
            Some(TranslateError::NotFragmentable),
            "options"
        );
        assert!(matches!(
            Fragments::new(&[], 576),
            Err(TranslateError::Malformed(_))
        ));
        let mut f = Fragments::new(&p, 1280).unwrap();
        assert_eq!(
            f.next_into(&mut [0u8; 100]),
            Err(TranslateError::BufferTooSmall {
                need: 148,
                got: 100
            })
        );
    }
}
