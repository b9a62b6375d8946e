//! ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) header views.
//!
//! ```text
//! |     Type      |     Code      |          Checksum             |
//! |   Identifier (queries) / unused or MTU (errors)               |
//! |   quoted packet (errors) or data (queries) ...
//! ```
//!
//! ICMPv4's checksum covers only the message; ICMPv6's also covers the IPv6
//! pseudo-header (RFC 4443 §2.3), so an address rewrite must update it.

use crate::error::{Layer, Result, need};

mod types;
pub use types::{
    Icmpv4ParameterProblem, Icmpv4TimeExceeded, Icmpv4Type, Icmpv4Unreachable,
    Icmpv6ParameterProblem, Icmpv6TimeExceeded, Icmpv6Type, Icmpv6Unreachable,
};

pub(crate) const CHECKSUM: usize = 2;
pub(crate) const IDENT: usize = 4;
/// Where the quoted packet starts in an ICMP error.
pub const QUOTE_OFFSET: usize = 8;

macro_rules! icmp_view {
    ($name:ident, $layer:expr, $doc:literal, $ty:ty, $is_error:expr, $is_query:expr) => {
        #[doc = $doc]
        ///
        /// After `new_checked` the 8-byte header is in the buffer.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name<B> {
            buffer: B,
        }

        impl<B: AsRef<[u8]>> $name<B> {
            /// Wraps a buffer without checking it.
            pub const fn new_unchecked(buffer: B) -> $name<B> {
                $name { buffer }
            }

            /// Wraps a buffer after checking that the 8-byte header is there.
            pub fn new_checked(buffer: B) -> Result<$name<B>> {
                need($layer, QUOTE_OFFSET, buffer.as_ref().len())?;
                Ok($name { buffer })
            }

            /// Message type.
            pub fn msg_type(&self) -> u8 {
                self.buffer.as_ref()[0]
            }

            /// Message type, by name.
            pub fn icmp_type(&self) -> $ty {
                <$ty>::from(self.msg_type())
            }

            /// Code.
            pub fn code(&self) -> u8 {
                self.buffer.as_ref()[1]
            }

            /// Checksum field.
            pub fn checksum(&self) -> u16 {
                let b = self.buffer.as_ref();
                u16::from_be_bytes([b[CHECKSUM], b[CHECKSUM + 1]])
            }

            /// The identifier of a query (echo); meaningless for other types.
            pub fn ident(&self) -> u16 {
                let b = self.buffer.as_ref();
                u16::from_be_bytes([b[IDENT], b[IDENT + 1]])
            }

            /// Whether this is an error message that quotes a packet.
            pub fn is_error(&self) -> bool {
                ($is_error)(self.msg_type())
            }

            /// Whether this is a query or reply with an identifier.
            pub fn is_query(&self) -> bool {
                ($is_query)(self.msg_type())
            }

            /// The quoted packet of an error message (may be truncated).
            pub fn quoted(&self) -> &[u8] {
                &self.buffer.as_ref()[QUOTE_OFFSET..]
            }
        }
    };
}

icmp_view!(
    Icmpv4Packet,
    Layer::Icmpv4,
    "A view of an ICMPv4 message.",
    Icmpv4Type,
    is_icmpv4_error,
    is_icmpv4_query
);
icmp_view!(
    Icmpv6Packet,
    Layer::Icmpv6,
    "A view of an ICMPv6 message.",
    Icmpv6Type,
    is_icmpv6_error,
    is_icmpv6_query
);

/// ICMPv4 errors: destination unreachable (3), source quench (4), redirect (5),
/// time exceeded (11), parameter problem (12).
pub const fn is_icmpv4_error(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

/// ICMPv4 messages with an identifier: echo (8/0), timestamp (13/14), information
/// (15/16), address mask (17/18).
pub const fn is_icmpv4_query(t: u8) -> bool {
    matches!(t, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
}

/// ICMPv6 errors: types 0–127 (RFC 4443 §2.1); 1–4 are defined.
pub const fn is_icmpv6_error(t: u8) -> bool {
    t < 128
}

/// ICMPv6 echo request and reply (128/129).
pub const fn is_icmpv6_query(t: u8) -> bool {
    matches!(t, 128 | 129)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn deconstruct() {
        let echo = [8, 0, 0xf7, 0xfe, 0x00, 0x01, 0x00, 0x00];
        let e = Icmpv4Packet::new_checked(&echo[..]).unwrap();
        assert!(e.is_query() && !e.is_error());
        assert_eq!(
            (e.msg_type(), e.code(), e.checksum(), e.ident()),
            (8, 0, 0xf7fe, 1)
        );
        let unreach = [1, 4, 0, 0, 0, 0, 0, 0, 0x60];
        let u = Icmpv6Packet::new_checked(&unreach[..]).unwrap();
        assert!(u.is_error() && !u.is_query());
        assert_eq!(u.quoted(), &[0x60]);
        assert_eq!(
            Icmpv4Packet::new_checked(&echo[..7]),
            Err(Error::Truncated {
                layer: Layer::Icmpv4,
                need: 8,
                got: 7
            })
        );
    }
}
