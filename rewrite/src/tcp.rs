//! TCP header view (RFC 9293 §3.1), with the option walk and MSS.
//!
//! ```text
//! |          Source Port          |       Destination Port        |
//! |                        Sequence Number                        |
//! |                    Acknowledgment Number                      |
//! |  Data |       |C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//! |           Checksum            |         Urgent Pointer        |
//! |                    Options                    |    Padding    |
//! ```

use crate::error::{Error, Layer, Result, need};

mod field {
    pub(crate) const SRC_PORT: usize = 0;
    pub(crate) const DST_PORT: usize = 2;
    pub(crate) const SEQ: usize = 4;
    pub(crate) const ACK: usize = 8;
    pub(crate) const OFFSET: usize = 12;
    pub(crate) const FLAGS: usize = 13;
    pub(crate) const WINDOW: usize = 14;
    pub(crate) const CHECKSUM: usize = 16;
    pub(crate) const HEADER_LEN: usize = 20;
}
pub(crate) use field::{CHECKSUM, DST_PORT, HEADER_LEN, SRC_PORT};
/// Bytes up to and including the flags.
pub(crate) const FLAGS_END: usize = field::FLAGS + 1;

/// TCP flag bits (in the byte at offset 13).
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// The MSS option's kind (RFC 9293 §3.2).
pub const OPTION_MSS: u8 = 2;

/// A view of a TCP segment. After [`TcpPacket::new_checked`] the 20-byte header and
/// the options the data offset announces are in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpPacket<B> {
    buffer: B,
}

impl<B: AsRef<[u8]>> TcpPacket<B> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: B) -> TcpPacket<B> {
        TcpPacket { buffer }
    }

    /// Wraps a buffer after checking the header and data offset.
    pub fn new_checked(buffer: B) -> Result<TcpPacket<B>> {
        let b = buffer.as_ref();
        need(Layer::Tcp, HEADER_LEN, b.len())?;
        let words = b[field::OFFSET] >> 4;
        if words < 5 {
            return Err(Error::BadTcpHeaderLen(words));
        }
        need(Layer::Tcp, words as usize * 4, b.len())?;
        Ok(TcpPacket { buffer })
    }

    fn u16_at(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(DST_PORT)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        self.u32_at(field::SEQ)
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        self.u32_at(field::ACK)
    }

    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        (self.buffer.as_ref()[field::OFFSET] >> 4) as usize * 4
    }

    /// The flag byte (see [`flags`]).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// Window.
    pub fn window(&self) -> u16 {
        self.u16_at(field::WINDOW)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(CHECKSUM)
    }

    /// The options bytes.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The MSS option: its value's offset from the start of the segment, and the
    /// value. `None` if there is none or the options are malformed before it.
    pub fn mss(&self) -> Option<(usize, u16)> {
        find_mss(self.options()).map(|(at, v)| (HEADER_LEN + at, v))
    }
}

/// Finds the MSS option's value in TCP options bytes: (offset in `options`, value).
pub(crate) fn find_mss(options: &[u8]) -> Option<(usize, u16)> {
    let mut at = 0;
    while at < options.len() {
        match options[at] {
            0 => return None,
            1 => at += 1,
            kind => {
                let len = *options.get(at + 1)? as usize;
                if len < 2 || at + len > options.len() {
                    return None;
                }
                if kind == OPTION_MSS && len == 4 {
                    return Some((
                        at + 2,
                        u16::from_be_bytes([options[at + 2], options[at + 3]]),
                    ));
                }
                at += len;
            }
        }
    }
    None
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<B> {
    /// Sets the source port (raw: the checksum is not updated).
    pub fn set_src_port(&mut self, port: u16) {
        self.buffer.as_mut()[SRC_PORT..SRC_PORT + 2].copy_from_slice(&port.to_be_bytes());
    }

    /// Sets the destination port (raw).
    pub fn set_dst_port(&mut self, port: u16) {
        self.buffer.as_mut()[DST_PORT..DST_PORT + 2].copy_from_slice(&port.to_be_bytes());
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, checksum: u16) {
        self.buffer.as_mut()[CHECKSUM..CHECKSUM + 2].copy_from_slice(&checksum.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: [u8; 28] = [
        0x9c,
        0x40,
        0x00,
        0x50,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0x70,
        flags::SYN,
        0xff,
        0xff,
        0x12,
        0x34,
        0,
        0, //
        0x01,
        0x02,
        0x04,
        0x05,
        0xb4,
        0x01,
        0x01,
        0x00,
    ];

    #[test]
    fn deconstruct() {
        let t = TcpPacket::new_checked(&SYN[..]).unwrap();
        assert_eq!(
            (t.src_port(), t.dst_port(), t.seq_number(), t.header_len()),
            (40000, 80, 1, 28)
        );
        assert_eq!(t.flags(), flags::SYN);
        assert_eq!(t.checksum(), 0x1234);
        // NOP, then MSS 1460 whose value sits at an odd offset (23).
        assert_eq!(t.mss(), Some((23, 1460)));
    }

    #[test]
    fn rejections_and_malformed_options() {
        assert_eq!(
            TcpPacket::new_checked(&SYN[..19]),
            Err(Error::Truncated {
                layer: Layer::Tcp,
                need: 20,
                got: 19
            })
        );
        let mut off = SYN;
        off[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&off[..]),
            Err(Error::BadTcpHeaderLen(4))
        );
        off[12] = 0x80;
        assert_eq!(
            TcpPacket::new_checked(&off[..]),
            Err(Error::Truncated {
                layer: Layer::Tcp,
                need: 32,
                got: 28
            })
        );
        assert_eq!(find_mss(&[2, 9, 0, 0]), None);
        assert_eq!(find_mss(&[3, 0, 2, 4, 1, 1]), None);
        assert_eq!(find_mss(&[0, 2, 4, 5, 0xb4]), None);
        assert_eq!(
            find_mss(&[8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 2, 4, 0x05, 0xb4]),
            Some((12, 1460))
        );
    }
}
