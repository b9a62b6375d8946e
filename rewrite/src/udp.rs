//! UDP header view (RFC 768).
//!
//! ```text
//! |          Source Port          |       Destination Port        |
//! |            Length             |           Checksum            |
//! ```

use crate::error::{Error, Layer, Result, need};

mod field {
    pub(crate) const SRC_PORT: usize = 0;
    pub(crate) const DST_PORT: usize = 2;
    pub(crate) const LENGTH: usize = 4;
    pub(crate) const CHECKSUM: usize = 6;
    pub(crate) const HEADER_LEN: usize = 8;
}
pub(crate) use field::{CHECKSUM, DST_PORT, HEADER_LEN, SRC_PORT};

/// A view of a UDP datagram. After [`UdpPacket::new_checked`] the header is in the
/// buffer and the length field is between 8 and the buffer's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpPacket<B> {
    buffer: B,
}

impl<B: AsRef<[u8]>> UdpPacket<B> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: B) -> UdpPacket<B> {
        UdpPacket { buffer }
    }

    /// Wraps a buffer after checking the header and length field.
    pub fn new_checked(buffer: B) -> Result<UdpPacket<B>> {
        let b = buffer.as_ref();
        need(Layer::Udp, HEADER_LEN, b.len())?;
        let len = u16::from_be_bytes([b[field::LENGTH], b[field::LENGTH + 1]]);
        if (len as usize) < HEADER_LEN || len as usize > b.len() {
            return Err(Error::BadUdpLen(len));
        }
        Ok(UdpPacket { buffer })
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(DST_PORT)
    }

    /// Length field (header and data).
    pub fn len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }

    /// Whether the length field says there is no data.
    pub fn is_empty(&self) -> bool {
        self.len() as usize == HEADER_LEN
    }

    /// Checksum field (0: none was computed, see `sixfold_checksum::udp`).
    pub fn checksum(&self) -> u16 {
        self.u16_at(CHECKSUM)
    }
}

impl<'a, B: AsRef<[u8]> + ?Sized> UdpPacket<&'a B> {
    /// The data, up to the length field.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.len() as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deconstruct_and_reject() {
        let d = [
            0x04, 0xd2, 0x00, 0x35, 0x00, 0x0a, 0xbe, 0xef, 0xca, 0xfe, 0xee,
        ];
        let u = UdpPacket::new_checked(&d[..]).unwrap();
        assert_eq!(
            (u.src_port(), u.dst_port(), u.len(), u.checksum()),
            (1234, 53, 10, 0xbeef)
        );
        assert_eq!(u.payload(), &[0xca, 0xfe]);
        assert_eq!(
            UdpPacket::new_checked(&d[..7]),
            Err(Error::Truncated {
                layer: Layer::Udp,
                need: 8,
                got: 7
            })
        );
        let mut bad = d;
        bad[5] = 7;
        assert_eq!(UdpPacket::new_checked(&bad[..]), Err(Error::BadUdpLen(7)));
        bad[5] = 12;
        assert_eq!(UdpPacket::new_checked(&bad[..]), Err(Error::BadUdpLen(12)));
    }
}
