//! A strict recogniser for IPv6 carried in UDP (Teredo, AYIYA) and IPv4 protocol 41.
//!
//! A Teredo UDP payload is, in order (RFC 4380 §5.1.1):
//!
//! ```text
//! [ 00 01 | id-len | au-len | client id | auth value | nonce (8) | confirmation (1) ]  optional
//! [ 00 00 | ~port (16) | ~IPv4 (32) ]                                                 optional
//!   IPv6 packet (40-byte header + exactly payload-length bytes)
//! ```
//!
//! A rule that only looks for "first nibble 6" both misses Teredo (an origin
//! indication comes first) and drops ordinary UDP (a DNS query whose id is 0x6xxx).
//! [`recognize`] therefore requires the whole structure: well-formed optional
//! headers, version 6, a payload length that accounts for every remaining byte, a
//! non-zero hop limit, a plausible next header whose own header fits, and — for
//! ICMPv6, UDP and TCP — a correct inner checksum. Ordinary UDP passes all of that
//! with probability far below 2^-32 (tests below show DNS, QUIC and RTP).
//!
//! RFC 6081 trailers after the IPv6 packet are *not* accepted (as in Wireshark and
//! Suricata): such packets are reported as [`NotTeredo::LengthMismatch`], which a
//! blocker may still treat as suspicious.
//!
//! Nothing here allocates or panics; every function is bounded by the input length.

use crate::address::origin_indication;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};
use sixfold_checksum::{Sum, pseudo};

/// The Teredo authentication header (RFC 4380 §5.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authentication<'a> {
    /// The client identifier (often empty).
    pub client_id: &'a [u8],
    /// The authentication value (often empty).
    pub auth_value: &'a [u8],
    /// The nonce, echoed by the server.
    pub nonce: [u8; 8],
    /// The confirmation byte.
    pub confirmation: u8,
}

/// A Teredo origin indication, de-obfuscated: who sent the packet to the server or
/// relay, as that server saw it — the client's NAT-mapped address and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The mapped UDP port.
    pub port: u16,
    /// The mapped IPv4 address.
    pub address: Ipv4Addr,
}

/// What an inner IPv6 packet is, as far as Teredo cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A bubble: next header 59 and payload length 0 (RFC 4380 §2.8).
    Bubble,
    /// An ICMPv6 router solicitation (qualification, RFC 4380 §5.2.1).
    RouterSolicitation,
    /// An ICMPv6 router advertisement (qualification answer).
    RouterAdvertisement,
    /// Anything else: tunnelled data.
    Data,
}

impl Kind {
    /// A short name: `bubble`, `rs`, `ra` or `data`.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Bubble => "bubble",
            Kind::RouterSolicitation => "rs",
            Kind::RouterAdvertisement => "ra",
            Kind::Data => "data",
        }
    }
}

/// The inner IPv6 header's fields that matter here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InnerHeader {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Payload length.
    pub payload_len: u16,
}

/// A recognised Teredo UDP payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TeredoPacket<'a> {
    /// The authentication header, if present.
    pub auth: Option<Authentication<'a>>,
    /// The origin indication, if present.
    pub origin: Option<Origin>,
    /// The inner IPv6 packet's header.
    pub inner: InnerHeader,
    /// Bubble, RS, RA or data.
    pub kind: Kind,
    /// The inner IPv6 packet, header included.
    pub ipv6: &'a [u8],
}

/// Why a UDP payload is not Teredo (or not IPv6 in AYIYA).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotTeredo {
    /// Fewer bytes than the headers announce (`need` bytes, `got` present).
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// The first nibble of what should be the IPv6 header is not 6.
    NotIpv6(u8),
    /// The IPv6 payload length does not account for exactly the bytes that follow.
    LengthMismatch {
        /// 40 + payload length.
        declared: usize,
        /// Bytes actually there.
        actual: usize,
    },
    /// Hop limit 0 on anything but a no-next-header packet.
    ZeroHopLimit,
    /// A next header no Teredo peer sends.
    ImplausibleNextHeader(u8),
    /// The inner upper-layer header does not fit or is malformed.
    BadInnerHeader(u8),
    /// The inner ICMPv6/UDP/TCP checksum is wrong.
    BadInnerChecksum(u8),
}

impl fmt::Display for NotTeredo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotTeredo::Truncated { need, got } => {
                write!(f, "truncated: need {need} bytes, got {got}")
            }
            NotTeredo::NotIpv6(v) => write!(f, "version nibble {v}, not 6"),
            NotTeredo::LengthMismatch { declared, actual } => {
                write!(f, "IPv6 length {declared} but {actual} bytes follow")
            }
            NotTeredo::ZeroHopLimit => f.write_str("hop limit 0"),
            NotTeredo::ImplausibleNextHeader(n) => write!(f, "implausible next header {n}"),
            NotTeredo::BadInnerHeader(n) => write!(f, "malformed inner header (next header {n})"),
            NotTeredo::BadInnerChecksum(n) => write!(f, "bad inner checksum (next header {n})"),
        }
    }
}

impl core::error::Error for NotTeredo {}

const AUTH_TYPE: [u8; 2] = [0x00, 0x01];
const ORIGIN_TYPE: [u8; 2] = [0x00, 0x00];

/// Recognises a Teredo UDP payload, on any port.
///
/// ```
/// use sixfold_teredo::packet::{recognize, Kind};
/// // A bubble: IPv6 header, next header 59, payload length 0.
/// let mut bubble = [0u8; 40];
/// bubble[0] = 0x60;
/// bubble[6] = 59;
/// bubble[7] = 21;
/// bubble[8] = 0xfe;
/// bubble[9] = 0x80;
/// bubble[24..28].copy_from_slice(&[0x20, 0x01, 0, 0]);
/// assert_eq!(recognize(&bubble).unwrap().kind, Kind::Bubble);
/// // A DNS query with id 0x6123 is not Teredo.
/// let dns = [0x61, 0x23, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1];
/// assert!(recognize(&dns).is_err());
/// ```
pub fn recognize(payload: &[u8]) -> Result<TeredoPacket<'_>, NotTeredo> {
    let mut rest = payload;
    let mut auth = None;
    if rest.starts_with(&AUTH_TYPE) {
        let (a, after) = parse_auth(rest)?;
        auth = Some(a);
        rest = after;
    }
    let mut origin = None;
    if rest.starts_with(&ORIGIN_TYPE) {
        let Some((bytes, after)) = rest.split_first_chunk::<8>() else {
            return Err(NotTeredo::Truncated {
                need: 8,
                got: rest.len(),
            });
        };
        if let Some((port, address)) = origin_indication(bytes) {
            origin = Some(Origin { port, address });
        }
        rest = after;
    }
    let inner = validate_ipv6(rest)?;
    let kind = match inner.next_header {
        59 if inner.payload_len == 0 => Kind::Bubble,
        58 => match rest[40] {
            133 => Kind::RouterSolicitation,
            134 => Kind::RouterAdvertisement,
            _ => Kind::Data,
        },
        _ => Kind::Data,
    };
    Ok(TeredoPacket {
        auth,
        origin,
        inner,
        kind,
        ipv6: rest,
    })
}

fn parse_auth(bytes: &[u8]) -> Result<(Authentication<'_>, &[u8]), NotTeredo> {
    let got = bytes.len();
    let [_, _, id_len, au_len, rest @ ..] = bytes else {
        return Err(NotTeredo::Truncated { need: 4, got });
    };
    let need = 4 + *id_len as usize + *au_len as usize + 9;
    if got < need {
        return Err(NotTeredo::Truncated { need, got });
    }
    let (client_id, rest) = rest.split_at(*id_len as usize);
    let (auth_value, rest) = rest.split_at(*au_len as usize);
    let Some((nonce, rest)) = rest.split_first_chunk::<8>() else {
        return Err(NotTeredo::Truncated { need, got });
    };
    let Some((&confirmation, rest)) = rest.split_first() else {
        return Err(NotTeredo::Truncated { need, got });
    };
    Ok((
        Authentication {
            client_id,
            auth_value,
            nonce: *nonce,
            confirmation,
        },
        rest,
    ))
}

/// Validates that `bytes` is exactly one complete, plausible IPv6 packet.
pub fn validate_ipv6(bytes: &[u8]) -> Result<InnerHeader, NotTeredo> {
    let Some(header) = bytes.first_chunk::<40>() else {
        return Err(NotTeredo::Truncated {
            need: 40,
            got: bytes.len(),
        });
    };
    if header[0] >> 4 != 6 {
        return Err(NotTeredo::NotIpv6(header[0] >> 4));
    }
    let payload_len = u16::from_be_bytes([header[4], header[5]]);
    let declared = 40 + payload_len as usize;
    if declared != bytes.len() {
        return Err(NotTeredo::LengthMismatch {
            declared,
            actual: bytes.len(),
        });
    }
    let (next_header, hop_limit) = (header[6], header[7]);
    // Hosts never send hop limit 0, except miredo's bubbles (next header 59), which
    // are never forwarded anyway (seen in the lab capture).
    if hop_limit == 0 && next_header != 59 {
        return Err(NotTeredo::ZeroHopLimit);
    }
    let addr = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&header[at..at + 16]);
        Ipv6Addr::from(a)
    };
    let inner = InnerHeader {
        src: addr(8),
        dst: addr(24),
        next_header,
        hop_limit,
        payload_len,
    };
    validate_upper_layer(&inner, &bytes[40..])?;
    Ok(inner)
}

/// Checks that the first header after the IPv6 header fits, and that ICMPv6, UDP and
/// TCP checksums are right.
fn validate_upper_layer(inner: &InnerHeader, l4: &[u8]) -> Result<(), NotTeredo> {
    let nh = inner.next_header;
    let bad = NotTeredo::BadInnerHeader(nh);
    let checksum_ok = || {
        let ph = pseudo::ipv6(inner.src, inner.dst, nh, l4.len() as u32);
        ph + sixfold_checksum::sum(l4) == Sum::NEG_ZERO
    };
    match nh {
        59 => Ok(()),
        // Hop-by-hop, routing, destination options: (len + 1) × 8 bytes.
        0 | 43 | 60 => match l4.get(1) {
            Some(&len) if l4.len() >= (len as usize + 1) * 8 => Ok(()),
            _ => Err(bad),
        },
        44 if l4.len() >= 8 => Ok(()),
        50 if l4.len() >= 8 => Ok(()),
        51 if l4.len() >= 12 => Ok(()),
        41 => validate_ipv6(l4).map(|_| ()),
        58 if l4.len() >= 4 => {
            if checksum_ok() {
                Ok(())
            } else {
                Err(NotTeredo::BadInnerChecksum(nh))
            }
        }
        17 if l4.len() >= 8 => {
            let udp_len = u16::from_be_bytes([l4[4], l4[5]]) as usize;
            let field = u16::from_be_bytes([l4[6], l4[7]]);
            if udp_len != l4.len() {
                Err(bad)
            } else if field != 0 && checksum_ok() {
                Ok(())
            } else {
                Err(NotTeredo::BadInnerChecksum(nh))
            }
        }
        6 if l4.len() >= 20 => {
            let offset = (l4[12] >> 4) as usize * 4;
            if offset < 20 || offset > l4.len() {
                Err(bad)
            } else if checksum_ok() {
                Ok(())
            } else {
                Err(NotTeredo::BadInnerChecksum(nh))
            }
        }
        6 | 17 | 44 | 50 | 51 | 58 => Err(bad),
        other => Err(NotTeredo::ImplausibleNextHeader(other)),
    }
}

impl TeredoPacket<'_> {
    /// The number of bytes [`TeredoPacket::write`] produces.
    pub fn encoded_len(&self) -> usize {
        let auth = self
            .auth
            .map_or(0, |a| 4 + a.client_id.len() + a.auth_value.len() + 9);
        auth + if self.origin.is_some() { 8 } else { 0 } + self.ipv6.len()
    }

    /// Writes the payload back: authentication, origin indication, IPv6 packet.
    /// Returns the length, or `None` if `out` is too short. For any payload that
    /// [`recognize`] accepted, this reproduces it byte for byte.
    pub fn write(&self, out: &mut [u8]) -> Option<usize> {
        let len = self.encoded_len();
        let out = out.get_mut(..len)?;
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        if let Some(a) = self.auth {
            // Lengths come from slices parsed out of one-byte fields, so they fit.
            put(&[
                0x00,
                0x01,
                a.client_id.len() as u8,
                a.auth_value.len() as u8,
            ]);
            put(a.client_id);
            put(a.auth_value);
            put(&a.nonce);
            put(&[a.confirmation]);
        }
        if let Some(o) = self.origin {
            put(&crate::address::encode_origin_indication(o.port, o.address));
        }
        put(self.ipv6);
        Some(len)
    }
}

/// An AYIYA ("Anything In Anything", SixXS) header, recognised by its shape:
///
/// ```text
/// | IDLen:4 | IDType:4 | SigLen:4 | HshMeth:4 | AutMeth:4 | OpCode:4 | NextHeader:8 |
/// | Epoch time (32) | Identity (2^IDLen bytes) | Signature (4·SigLen bytes) | payload
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ayiya<'a> {
    /// Identity type (0 none, 1 integer, 2 ASCII string).
    pub identity_type: u8,
    /// The identity.
    pub identity: &'a [u8],
    /// Hash method (0 none, 1 MD5, 2 SHA-1).
    pub hash_method: u8,
    /// The signature.
    pub signature: &'a [u8],
    /// Authentication method (0 none, 1 shared secret, 2 public key).
    pub auth_method: u8,
    /// Operation (0 no-op, 1 forward, 2–4 echo, 5 MOTD, 6–7 query).
    pub opcode: u8,
    /// Next header: 41 (IPv6) or 59 (none).
    pub next_header: u8,
    /// Sender's time, seconds since 1970.
    pub epoch: u32,
    /// What follows: a complete IPv6 packet when `next_header` is 41.
    pub payload: &'a [u8],
}

/// Recognises an AYIYA payload: every field in range, and a complete, plausible IPv6
/// packet after it when the next header is 41 (empty payload for 59).
pub fn recognize_ayiya(payload: &[u8]) -> Option<Ayiya<'_>> {
    let (head, rest) = payload.split_first_chunk::<8>()?;
    let (id_len_log, identity_type) = (head[0] >> 4, head[0] & 0xF);
    let (sig_words, hash_method) = (head[1] >> 4, head[1] & 0xF);
    let (auth_method, opcode) = (head[2] >> 4, head[2] & 0xF);
    let next_header = head[3];
    if identity_type > 2 || hash_method > 2 || auth_method > 2 || opcode > 7 || id_len_log > 8 {
        return None;
    }
    let id_len = 1usize << id_len_log;
    let sig_len = sig_words as usize * 4;
    if rest.len() < id_len + sig_len {
        return None;
    }
    let (identity, rest) = rest.split_at(id_len);
    let (signature, rest) = rest.split_at(sig_len);
    let ok = match next_header {
        41 => validate_ipv6(rest).is_ok(),
        59 => rest.is_empty(),
        _ => false,
    };
    ok.then_some(Ayiya {
        identity_type,
        identity,
        hash_method,
        signature,
        auth_method,
        opcode,
        next_header,
        epoch: u32::from_be_bytes([head[4], head[5], head[6], head[7]]),
        payload: rest,
    })
}

/// Which IPv6-in-IPv4 mechanism a protocol-41 packet belongs to, by its inner
/// addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto41Kind {
    /// 6to4 (RFC 3056): an inner address in 2002::/16.
    SixToFour,
    /// ISATAP (RFC 5214): an inner interface id `0000:5efe` / `0200:5efe`.
    Isatap,
    /// 6rd (RFC 5969): an inner address in the configured 6rd domain.
    SixRd,
    /// A configured 6in4 tunnel (RFC 4213): none of the above.
    SixInFour,
}

impl Proto41Kind {
    /// A short name: `6to4`, `isatap`, `6rd` or `6in4`.
    pub const fn name(self) -> &'static str {
        match self {
            Proto41Kind::SixToFour => "6to4",
            Proto41Kind::Isatap => "isatap",
            Proto41Kind::SixRd => "6rd",
            Proto41Kind::SixInFour => "6in4",
        }
    }
}

/// Names the mechanism of an IPv4 protocol-41 payload (the inner IPv6 packet) by
/// its addresses: 6rd (if `six_rd` is given and matches), then 6to4, then ISATAP,
/// else 6in4. `None` if the payload does not start with an IPv6 header; the length
/// is not checked, so truncated packets and ICMP quotes still get a name.
pub fn classify_proto41(
    inner: &[u8],
    six_rd: Option<&crate::classify::SixRd>,
) -> Option<(Proto41Kind, Ipv6Addr, Ipv6Addr)> {
    let header = inner.first_chunk::<40>()?;
    if header[0] >> 4 != 6 {
        return None;
    }
    let mut src = [0u8; 16];
    src.copy_from_slice(&header[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&header[24..40]);
    let (src, dst) = (Ipv6Addr::from(src), Ipv6Addr::from(dst));
    let either = |f: &dyn Fn(Ipv6Addr) -> bool| f(src) || f(dst);
    let kind = if six_rd.is_some_and(|d| either(&|a| d.extract(a).is_some())) {
        Proto41Kind::SixRd
    } else if either(&|a| crate::classify::six_to_four(a).is_some()) {
        Proto41Kind::SixToFour
    } else if either(&|a| crate::classify::isatap_ipv4(a).is_some()) {
        Proto41Kind::Isatap
    } else {
        Proto41Kind::SixInFour
    };
    Some((kind, src, dst))
}
