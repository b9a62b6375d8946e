//! IPv4/IPv6 translation as the router forwards it (RFC 7915, over
//! `sixfold-rewrite`'s translator): what a refused translation is counted as,
//! the ICMP error it is answered with, and [`Stateless`] — one packet through
//! `[siit]` exactly as the router would forward it, for `sixfold translate`.

use crate::config::{Config, ConfigError};
use crate::icmp::{self, IcmpError};
use crate::stats::{DropReason, IcmpSent};
use sixfold_rewrite::addr::{self, EamEntry};
use sixfold_rewrite::translate::{self, Fragments, TranslateError, Translated, Translator};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The drop reason a refused translation is counted under.
pub fn drop_reason(e: &TranslateError) -> DropReason {
    match e {
        TranslateError::BadIpv4HeaderChecksum => DropReason::BadIpChecksum,
        TranslateError::BadIcmpChecksum => DropReason::IcmpErrorBadChecksum,
        TranslateError::IllegalSource(_) => DropReason::IllegalSource,
        TranslateError::NotRoutable(_) => DropReason::NotRoutable,
        TranslateError::ExtensionAfterFragment(_) => DropReason::ExtensionAfterFragment,
        TranslateError::TtlExceeded | TranslateError::HopLimitExceeded => DropReason::TtlExceeded,
        TranslateError::SourceRoute => DropReason::SourceRoute,
        TranslateError::SegmentsLeft { .. } => DropReason::SegmentsLeft,
        TranslateError::FragmentationNeeded { .. } | TranslateError::PacketTooBig { .. } => {
            DropReason::TooBig
        }
        TranslateError::UdpChecksumZero { .. } => DropReason::UdpChecksumZero,
        TranslateError::UnmappableAddress { .. } => DropReason::UnmappableAddress,
        TranslateError::UntranslatableIcmpv4 { .. }
        | TranslateError::UntranslatableIcmpv6 { .. }
        | TranslateError::UntranslatablePointer(_)
        | TranslateError::UntranslatableQuote
        | TranslateError::ProtocolOfTheOtherFamily(_)
        | TranslateError::FragmentedIcmpError
        | TranslateError::IcmpLengthUnknown
        | TranslateError::MissingQuoteMapping
        | TranslateError::NotFragmentable => DropReason::Untranslatable,
        _ => DropReason::Malformed,
    }
}

/// Room for a translated packet of any input size: the input's 65535 bytes, an
/// IPv6 header's 20 more and a Fragment Header's 8.
pub(crate) const TRANSLATED_MAX: usize = 65535 + 28;

/// What goes out for `translated` (what the translator wrote): the packet
/// whole, or the fragments of at most `fragment_len` bytes it asks for (RFC 7915
/// §4.1 `lowest-ipv6-mtu`, or the IPv4 link's MTU) — all of them or, if one
/// cannot be made (a fragment that would end past 65535 bytes), none: a
/// datagram is forwarded whole or refused, never in part.
pub(crate) fn pieces(
    translated: &[u8],
    fragment_len: Option<usize>,
) -> Result<Vec<Vec<u8>>, TranslateError> {
    let Some(max) = fragment_len else {
        return Ok(vec![translated.to_vec()]);
    };
    let mut cut = Fragments::new(translated, max)?;
    let mut piece = vec![0u8; max];
    let mut all = Vec::new();
    while let Some(len) = cut.next_into(&mut piece)? {
        all.push(piece[..len].to_vec());
    }
    Ok(all)
}

/// The length an IP packet's header declares (IPv4 total length, IPv6 40 +
/// payload length), if the header is there.
fn ip_len(packet: &[u8]) -> Option<usize> {
    match packet.first()? >> 4 {
        4 => Some(usize::from(u16::from_be_bytes([
            *packet.get(2)?,
            *packet.get(3)?,
        ]))),
        6 => Some(40 + usize::from(u16::from_be_bytes([*packet.get(4)?, *packet.get(5)?]))),
        _ => None,
    }
}

/// What [`Stateless::forward`] did with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forwarded {
    /// Translated and sent as this many packets (fragments, or one).
    Translated(usize),
    /// Refused for this reason and answered with this ICMP error, sent back to
    /// the packet's source.
    Answered(TranslateError, IcmpSent),
}

/// Stateless SIIT as the router forwards it: `[siit]`'s address mapping and
/// translator settings, the egress links' MTUs, TTL / hop limit decremented, and
/// the ICMP errors a router sends about what it refuses (from `[router]`'s
/// `ipv4` / `ipv6`, under RFC 1812 §4.3.2.7 and RFC 4443 §2.4 (e); the rate
/// limit is the router's, not applied here).
pub struct Stateless {
    mapping: addr::Siit<Vec<EamEntry>>,
    translator: Translator,
    /// A hairpin's two passes (RFC 7757 §4): to IPv4 without splitting, then
    /// back to IPv6 without a second hop-limit decrement.
    hairpin: (Translator, Translator),
    ipv4: Ipv4Addr,
    ipv6: Ipv6Addr,
}

/// Why [`Stateless`] did not translate a packet: refused as the router refuses
/// it (and answers, where RFC 7915 says), or — the second pass of a hairpin —
/// dropped without an answer about an IPv4 packet the sender never sent.
enum Refused {
    Answerable(TranslateError),
    Silent(TranslateError),
}

impl From<TranslateError> for Refused {
    fn from(e: TranslateError) -> Refused {
        Refused::Answerable(e)
    }
}

impl Stateless {
    /// The translator of `config`'s `[siit]` (which must be there), for egress
    /// links of `mtu4` (IPv4) and `mtu6` (IPv6) bytes.
    pub fn new(config: &Config, mtu4: u16, mtu6: u16) -> Result<Stateless, ConfigError> {
        let missing = |problem: &str| ConfigError {
            key: "siit".into(),
            line: None,
            problem: problem.into(),
        };
        let siit = config
            .siit
            .as_ref()
            .ok_or_else(|| missing("is missing: the translator needs its pool6 or EAMT"))?;
        let translator = Translator::new(siit.translator(mtu4, mtu6)).map_err(|e| ConfigError {
            key: if mtu4 < 68 { "mtu4" } else { "mtu6" }.into(),
            line: None,
            problem: e.to_string(),
        })?;
        let pass = |c: translate::Config| {
            Translator::new(c).map_err(|e| ConfigError {
                key: "mtu6".into(),
                line: None,
                problem: e.to_string(),
            })
        };
        let base = *translator.config();
        let hairpin = (
            pass(translate::Config {
                ipv4_mtu: u16::MAX,
                ..base
            })?,
            pass(translate::Config {
                decrement_hop_limit: false,
                ..base
            })?,
        );
        Ok(Stateless {
            mapping: siit.mapping(0)?,
            translator,
            hairpin,
            ipv4: config.router.ipv4,
            ipv6: config.router.ipv6,
        })
    }

    /// Forwards `packet` (IPv4 or IPv6, by its version): its translation goes to
    /// `emit` (as fragments when the next hop needs them), or the ICMP error the
    /// router answers with; `ident` is the IPv4 Identification for packets that
    /// get none from a Fragment Header. `Err`: dropped without an answer.
    pub fn forward(
        &self,
        packet: &[u8],
        ident: u16,
        emit: &mut dyn FnMut(&[u8]),
    ) -> Result<Forwarded, TranslateError> {
        // Bytes past the IP length (link padding) are not part of the packet.
        let packet = &packet[..ip_len(packet).unwrap_or(packet.len()).min(packet.len())];
        let mut out = vec![0u8; TRANSLATED_MAX];
        let translated = match translate::inspect(packet) {
            Ok(info) if info.dst.is_ipv6() && self.mapping.is_hairpin(&info) => {
                self.hairpin(packet, &info, ident, &mut out)
            }
            _ => self
                .mapping
                .translate(&self.translator, packet, ident, &mut out)
                .map_err(Refused::from),
        };
        match translated.and_then(|t| Ok(pieces(&out[..t.len], t.fragment_len)?)) {
            Ok(all) => {
                for p in &all {
                    emit(p);
                }
                Ok(Forwarded::Translated(all.len()))
            }
            Err(Refused::Silent(e)) => Err(e),
            Err(Refused::Answerable(e)) => self.answer(packet, e, emit),
        }
    }

    /// The ICMP error the router answers refusal `e` of `packet` with, to
    /// `emit`; `Err(e)` if it answers none.
    fn answer(
        &self,
        packet: &[u8],
        e: TranslateError,
        emit: &mut dyn FnMut(&[u8]),
    ) -> Result<Forwarded, TranslateError> {
        let error = e.reply().and_then(IcmpError::of_reply).ok_or(e)?;
        if !error.allowed_about(packet) {
            return Err(e);
        }
        let mut buf = vec![0u8; packet.len().max(1280) + icmp::HEADROOM];
        buf[..packet.len()].copy_from_slice(packet);
        let n = if error.is_v6() {
            icmp::ipv6_error(&mut buf, packet.len(), self.ipv6, error)
        } else {
            icmp::ipv4_error(&mut buf, packet.len(), self.ipv4, error)
        };
        emit(&buf[..n]);
        Ok(Forwarded::Answered(e, error.counter()))
    }

    /// A hairpinned IPv6 packet (RFC 7757 §4, [`addr::Siit::is_hairpin`])
    /// translated to IPv4 and back into `out`, as the router does: too big for
    /// the IPv6 link it leaves by, it gets packet too big (IPv6 is not
    /// fragmented on the way); the way back is never answered.
    fn hairpin(
        &self,
        packet: &[u8],
        info: &translate::Inspection<'_>,
        ident: u16,
        out: &mut [u8],
    ) -> Result<Translated, Refused> {
        let mtu = self.translator.config().ipv6_mtu;
        if packet.len() > usize::from(mtu) {
            return Err(TranslateError::PacketTooBig { mtu: mtu.into() }.into());
        }
        let (there, back) = &self.hairpin;
        let mut mid = vec![0u8; TRANSLATED_MAX];
        let plan = self.mapping.plan_to_ipv4(info, ident)?;
        let n = there.ipv6_to_ipv4(packet, &plan, &mut mid)?.len;
        translate::inspect(&mid[..n])
            .and_then(|i| self.mapping.plan_hairpin(&i))
            .and_then(|plan| back.ipv4_to_ipv6(&mid[..n], &plan, out))
            .map_err(Refused::Silent)
    }
}
