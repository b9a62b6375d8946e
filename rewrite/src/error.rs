//! What can be wrong with a packet, said precisely enough to count and to act on.

use core::fmt;

/// The protocol layer an [`Error`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// The IPv4 header.
    Ipv4,
    /// The IPv6 fixed header.
    Ipv6,
    /// An IPv6 extension header.
    Ipv6Extension,
    /// The TCP header.
    Tcp,
    /// The UDP header.
    Udp,
    /// The DCCP generic header (RFC 4340 §5.1).
    Dccp,
    /// The ICMPv4 header.
    Icmpv4,
    /// The ICMPv6 header.
    Icmpv6,
    /// The packet quoted inside an ICMP error.
    Quote,
}

impl Layer {
    /// A short lowercase name, e.g. `ipv4`.
    pub const fn name(self) -> &'static str {
        match self {
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Ipv6Extension => "ipv6-extension",
            Layer::Tcp => "tcp",
            Layer::Udp => "udp",
            Layer::Dccp => "dccp",
            Layer::Icmpv4 => "icmpv4",
            Layer::Icmpv6 => "icmpv6",
            Layer::Quote => "icmp-quote",
        }
    }
}

/// Why a packet was not accepted or a rewrite not applied. Nothing was written when
/// a rewrite returns an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before the `layer` header (or the bytes it announces) does.
    Truncated {
        /// The layer whose bytes are missing.
        layer: Layer,
        /// Bytes needed from the start of that layer.
        need: usize,
        /// Bytes present from the start of that layer.
        got: usize,
    },
    /// The IP version nibble is not the one expected (4 or 6).
    BadVersion(u8),
    /// The IPv4 header length (IHL, in 32-bit words) is below 5.
    BadHeaderLen(u8),
    /// The IPv4 total length is shorter than its header or longer than the buffer.
    BadTotalLen {
        /// The total length field.
        total: usize,
        /// The header length.
        header: usize,
        /// Bytes in the buffer.
        got: usize,
    },
    /// The TCP data offset is below 5 words or beyond the segment.
    BadTcpHeaderLen(u8),
    /// The UDP length field is below 8 or beyond the datagram.
    BadUdpLen(u16),
    /// More IPv6 extension headers, or more bytes of them, than this crate walks
    /// (a hostile chain must not cost more than a fixed amount).
    ExtensionChainTooLong {
        /// Headers walked before giving up.
        headers: usize,
        /// Bytes walked before giving up.
        bytes: usize,
    },
    /// An IPv4 address was asked for on an IPv6 packet, or the other way round.
    FamilyMismatch,
    /// An IPv4 fragment offset (bytes) that is not a multiple of 8 below 65536.
    BadFragmentOffset(usize),
    /// An IPv6 payload length that does not fit the buffer.
    BadPayloadLen {
        /// The payload length asked for.
        payload: usize,
        /// Bytes in the buffer.
        got: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Truncated { layer, need, got } => write!(
                f,
                "truncated {} header: need {need} bytes, got {got}",
                layer.name()
            ),
            Error::BadVersion(v) => write!(f, "bad IP version {v}"),
            Error::BadHeaderLen(ihl) => {
                write!(f, "bad IPv4 header length {ihl} (words; minimum 5)")
            }
            Error::BadTotalLen { total, header, got } => {
                write!(
                    f,
                    "bad IPv4 total length {total} (header {header} bytes, buffer {got} bytes)"
                )
            }
            Error::BadTcpHeaderLen(off) => write!(f, "bad TCP data offset {off} (words)"),
            Error::BadUdpLen(len) => write!(f, "bad UDP length {len}"),
            Error::ExtensionChainTooLong { headers, bytes } => {
                write!(
                    f,
                    "IPv6 extension chain too long ({headers} headers, {bytes} bytes)"
                )
            }
            Error::FamilyMismatch => {
                f.write_str("address family does not match the packet's IP version")
            }
            Error::BadFragmentOffset(offset) => write!(
                f,
                "bad IPv4 fragment offset {offset} (bytes; a multiple of 8 below 65536)"
            ),
            Error::BadPayloadLen { payload, got } => write!(
                f,
                "bad IPv6 payload length {payload} (buffer {got} bytes with the 40-byte header)"
            ),
        }
    }
}

impl core::error::Error for Error {}

/// Shorthand for this crate's results.
pub type Result<T> = core::result::Result<T, Error>;

/// `Ok(())` if `got >= need`, else a [`Error::Truncated`] for `layer`.
#[inline]
pub(crate) const fn need(layer: Layer, need: usize, got: usize) -> Result<()> {
    if got >= need {
        Ok(())
    } else {
        Err(Error::Truncated { layer, need, got })
    }
}
