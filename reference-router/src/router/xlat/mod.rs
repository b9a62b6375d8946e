//! Translation's home in the router (RFC 7915): stateful NAT64 ([`nat64`], with
//! the [`aliases`] its IPv6 subscribers stand as in the NAT's table), stateless
//! SIIT ([`siit`]), what a refused translation is counted and answered as
//! ([`rfc7915`], public as `sixfold_router::xlat`), and here what NAT64 and SIIT
//! share: their configuration, the buffer a packet is translated into (swapped
//! with the packet's, so nothing is copied back), and [`Router::translate`] —
//! one packet through RFC 7915 to its egress link, a super-packet's headers
//! translated once where its segments fit the link (TCPv4 ↔ TCPv6 GSO, UDP stays
//! USO, partial checksums updated as sums), cut into segments in software
//! where they do not, fragments queued.

pub(crate) mod aliases;
pub(super) mod nat64;
pub mod rfc7915;
mod siit;

use super::Router;
use crate::buf::PacketBuf;
use crate::config::{self, Config};
use crate::iface::Interface;
use crate::offload::{self, Gso, Offload};
use aliases::Aliases;
use foldhash::fast::RandomState;
use serde::{Deserialize, Serialize};
use sixfold_rewrite::addr::{EamEntry, Nat64Prefix, Siit};
use sixfold_rewrite::translate::{self, ToIpv4, ToIpv6, TranslateError, Translated, Translator};
use sixfold_rewrite::{IpVersion, L4Checksum};
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The NAT64 prefix and translator settings.
pub(super) struct Nat64Setup {
    pub(super) prefix: Nat64Prefix,
    pub(super) settings: translate::Config,
}

/// The translation state of one worker.
#[derive(Serialize, Deserialize)]
pub(super) struct Translation {
    /// From the configuration (a restore keeps the fresh router's).
    #[serde(skip)]
    pub(super) nat64: Option<Nat64Setup>,
    #[serde(skip)]
    pub(super) siit: Option<(Siit<Vec<EamEntry>>, translate::Config)>,
    pub(super) aliases: Aliases,
    /// The buffer a packet is translated into, then swapped with the packet's.
    #[serde(skip)]
    scratch: PacketBuf,
    /// IPv4 Identification for translated packets that get none from a Fragment
    /// Header (RFC 7915 §5.1), counting.
    ident: u16,
    /// NAT64: subscribers' fragmented datagrams whose first fragment passed.
    pub(super) fragments: Fragments6,
}

/// A fragmented IPv6 datagram from a subscriber (source, destination,
/// identification): its later fragments carry no ports, so they take the IPv4
/// addresses its first fragment was given (RFC 6146 §3.4), within the fragment
/// timeout; at most `max` datagrams are tracked.
#[derive(Serialize, Deserialize)]
pub(super) struct Fragments6 {
    map: HashMap<(Ipv6Addr, Ipv6Addr, u32), (Ipv4Addr, Ipv4Addr, u32), RandomState>,
    max: usize,
    timeout: u32,
}

impl Fragments6 {
    /// Remembers the IPv4 addresses `(src, dst)` of datagram `key` at `now`.
    pub(super) fn first(
        &mut self,
        key: (Ipv6Addr, Ipv6Addr, u32),
        v4: (Ipv4Addr, Ipv4Addr),
        now: u32,
    ) {
        if self.map.len() >= self.max && !self.map.contains_key(&key) {
            self.map.retain(|_, e| e.2 > now);
            if self.map.len() >= self.max {
                return;
            }
        }
        self.map.insert(key, (v4.0, v4.1, now + self.timeout));
    }

    /// The IPv4 addresses of datagram `key`, if its first fragment passed in time.
    pub(super) fn later(
        &self,
        key: &(Ipv6Addr, Ipv6Addr, u32),
        now: u32,
    ) -> Option<(Ipv4Addr, Ipv4Addr)> {
        self.map.get(key).filter(|e| e.2 > now).map(|e| (e.0, e.1))
    }
}

/// Worker `shard`'s share of the aliases (its share of the session limit)
/// and the longest a session lives after its last packet, port quarantine
/// included.
fn alias_limits(config: &Config, shard: crate::iface::Shard) -> (usize, u32) {
    let t = &config.nat.timeouts;
    let longest = [t.udp, t.tcp_established, t.tcp_transitory, t.icmp]
        .into_iter()
        .max()
        .unwrap_or(0)
        .saturating_add(t.port_reuse_delay);
    let share = (config.nat.max_sessions / u32::from(shard.count.max(1))).max(1);
    (share as usize, longest)
}

impl Translation {
    /// The translation `config` asks for, for worker `shard` (its share of the
    /// aliases, its part of their space); `seed` keys the RFC 6791 choices.
    pub(super) fn new(config: &Config, seed: u64, shard: crate::iface::Shard) -> Translation {
        let nat64 = config.nat64.as_ref().and_then(|n| {
            Some(Nat64Setup {
                prefix: config::nat64_prefix(n.prefix).ok()?,
                settings: translate::Config {
                    lowest_ipv6_mtu: n.lowest_ipv6_mtu,
                    amend_udp_checksum_zero: n.amend_udp_checksum_zero,
                    ..translate::Config::default()
                },
            })
        });
        let siit = config.siit.as_ref().and_then(|s| {
            let settings = s.translator(1500, 1500);
            Some((s.mapping(seed).ok()?, settings))
        });
        let t = &config.nat.timeouts;
        let (share, longest) = alias_limits(config, shard);
        Translation {
            nat64,
            siit,
            aliases: Aliases::new(shard.index, share, longest),
            scratch: PacketBuf::new(),
            ident: 0,
            fragments: Fragments6 {
                map: HashMap::with_hasher(RandomState::default()),
                max: config.nat.max_fragment_flows as usize,
                timeout: t.fragments,
            },
        }
    }

    /// Takes a reload's limits (the session limit and timers bound the
    /// aliases); the translators' own settings cannot change live.
    pub(super) fn reconfigure(&mut self, config: &Config, shard: crate::iface::Shard) {
        let (share, longest) = alias_limits(config, shard);
        self.aliases.set_limits(share, longest);
    }

    fn next_ident(&mut self) -> u16 {
        self.ident = self.ident.wrapping_add(1);
        self.ident
    }
}

/// RFC 7915's defaults; checked when this compiles.
const FALLBACK: Translator = match Translator::new(translate::Config::RFC7915) {
    Ok(t) => t,
    Err(_) => panic!("RFC 7915's defaults are a valid translator"),
};

/// A translation plan either way.
#[derive(Clone, Copy, Debug)]
pub(super) enum Plan {
    ToIpv4(ToIpv4),
    ToIpv6(ToIpv6),
}

impl Plan {
    fn with_checksum(mut self, c: L4Checksum) -> Plan {
        match &mut self {
            Plan::ToIpv4(p) => p.l4_checksum = c,
            Plan::ToIpv6(p) => p.l4_checksum = c,
        }
        self
    }

    fn run(&self, t: &Translator, packet: &[u8], out: &mut [u8]) -> translate::Result<Translated> {
        match self {
            Plan::ToIpv4(p) => t.ipv6_to_ipv4(packet, p, out),
            Plan::ToIpv6(p) => t.ipv4_to_ipv6(packet, p, out),
        }
    }

    fn makes_ipv6(&self) -> bool {
        matches!(self, Plan::ToIpv6(_))
    }
}

/// The offload of a translated super-packet: TCP's GSO type follows the family
/// (UDP's USO is the same for both), the partial checksum's start moves to the
/// new transport header, the field's offset in it stays.
fn translated_offload(off: Offload, packet: &[u8]) -> Offload {
    let gso = match (off.gso, IpVersion::of(packet)) {
        (Gso::TcpV4 | Gso::TcpV6, Some(IpVersion::V6)) => Gso::TcpV6,
        (Gso::TcpV4 | Gso::TcpV6, _) => Gso::TcpV4,
        (g, _) => g,
    };
    // The translator writes a bare header: 20 bytes of IPv4, 40 of IPv6.
    let l4 = if IpVersion::of(packet) == Some(IpVersion::V6) {
        40
    } else {
        20
    };
    Offload {
        gso,
        partial: off.partial.map(|(_, field)| (l4, field)),
        ..off
    }
}

impl Router {
    /// The translator for a packet out of a link of `mtu` bytes; `decrement`:
    /// the router takes one off the TTL / hop limit here (not for a hairpinned
    /// packet another worker already took it from).
    fn translator(
        &self,
        base: translate::Config,
        to_ipv6: bool,
        mtu: usize,
        big: bool,
    ) -> Translator {
        let mtu = if big { u16::MAX } else { mtu.min(65535) as u16 };
        let mut c = base;
        if to_ipv6 {
            c.ipv6_mtu = mtu.max(1280);
        } else {
            c.ipv4_mtu = mtu.max(68);
        }
        if big {
            c.lowest_ipv6_mtu = u16::MAX;
        }
        c.decrement_hop_limit = !self.continuing_hairpin;
        // Every MTU is at least the minimum Translator::new asks (the lowest
        // IPv6 MTU is validated with the configuration).
        Translator::new(c).unwrap_or(FALLBACK)
    }

    /// The prefix router advertisements carry as PREF64 (RFC 8781): NAT64's,
    /// else SIIT's `pool6`.
    pub(super) fn pref64(&self) -> Option<Nat64Prefix> {
        let t = &self.translation;
        t.nat64
            .as_ref()
            .map(|n| n.prefix)
            .or_else(|| t.siit.as_ref().and_then(|(m, _)| m.pool6))
    }

    /// The IPv4 Identification a translated packet may need.
    pub(super) fn next_ident(&mut self) -> u16 {
        self.translation.next_ident()
    }

    /// Translates the packet in `buffer` by `plan` for `egress` (whose MTU the
    /// translator applies): the translation, or its first piece, replaces the
    /// packet; further pieces (fragments, segments) are queued for `egress`.
    /// On error the buffer still holds the packet, to be answered about.
    pub(super) fn translate(
        &mut self,
        buffer: &mut PacketBuf,
        plan: Plan,
        base: translate::Config,
        egress: Interface,
    ) -> Result<(), TranslateError> {
        let off = buffer.offload();
        let mtu = self.links.mtu(egress);
        if off.is_super() || off.partial.is_some() {
            let largest = offload::largest_segment(buffer.packet(), &off);
            let grown = if plan.makes_ipv6() {
                largest + 20
            } else {
                largest.saturating_sub(20)
            };
            if grown <= mtu {
                // Once for all segments: the device (or the receiving kernel)
                // segments the result and completes its checksum.
                let t = self.translator(base, plan.makes_ipv6(), mtu, true);
                let plan = plan.with_checksum(match off.partial {
                    Some(_) => L4Checksum::Partial,
                    None => L4Checksum::Complete,
                });
                let scratch = &mut self.translation.scratch;
                let done = plan.run(&t, buffer.packet(), scratch.whole_mut())?;
                scratch.set_built_len(done.len);
                scratch.set_offload(translated_offload(off, scratch.packet()));
                std::mem::swap(buffer, scratch);
                return Ok(());
            }
            // Segments too big for the link once translated: cut here, as a
            // device would, each then translated (fragmented, or refused) alone.
            let segments =
                offload::segment(buffer.packet(), &off).ok_or(TranslateError::NotFragmentable)?;
            self.counters.segmented(segments.len() as u64);
            let t = self.translator(base, plan.makes_ipv6(), mtu, false);
            let mut pieces = Vec::new();
            let mut out = vec![0u8; rfc7915::TRANSLATED_MAX];
            for seg in &segments {
                let done = plan.run(&t, seg, &mut out)?;
                pieces.extend(rfc7915::pieces(&out[..done.len], done.fragment_len)?);
            }
            return self.deliver(buffer, pieces, egress);
        }
        let t = self.translator(base, plan.makes_ipv6(), mtu, false);
        let scratch = &mut self.translation.scratch;
        let done = plan.run(&t, buffer.packet(), scratch.whole_mut())?;
        match done.fragment_len {
            None => {
                scratch.set_built_len(done.len);
                std::mem::swap(buffer, scratch);
                Ok(())
            }
            Some(max) => {
                scratch.set_built_len(done.len);
                let pieces = rfc7915::pieces(scratch.packet(), Some(max))?;
                self.counters.fragments_generated(pieces.len() as u64);
                self.deliver(buffer, pieces, egress)
            }
        }
    }

    /// The first of `pieces` into the buffer, the rest queued for `egress`.
    fn deliver(
        &mut self,
        buffer: &mut PacketBuf,
        pieces: Vec<Vec<u8>>,
        egress: Interface,
    ) -> Result<(), TranslateError> {
        let mut pieces = pieces.into_iter();
        let first = pieces.next().ok_or(TranslateError::NotFragmentable)?;
        buffer.set_packet(&first);
        for p in pieces {
            self.egress
                .push(egress, p, Offload::default(), &mut self.counters);
        }
        Ok(())
    }
}
