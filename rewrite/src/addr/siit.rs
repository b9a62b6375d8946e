//! Stateless SIIT address mapping: the EAMT first, then the RFC 6052 prefix (RFC
//! 7757 §3.3), the RFC 6791 pools for ICMP errors from untranslatable sources —
//! turned into the plan a [`Translator`] call takes.
//!
//! Every IPv4 address of a packet maps with the same IPv4 → IPv6 function,
//! whether it is a source or a destination, outer or quoted (and likewise
//! IPv6 → IPv4): a stateless mapping has no direction.

use super::{EamEntry, Eamt, Nat64Prefix, Rfc6791Ipv4, Rfc6791Ipv6};
use crate::translate::{
    Inspection, Mapping, Result, ToIpv4, ToIpv6, TranslateError, Translated, Translator, inspect,
};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A stateless translator's address configuration (`[siit]`: `pool6`,
/// `[[siit.eamt]]`, `rfc6791_v4`, `rfc6791_v6`).
///
/// ```
/// use sixfold_rewrite::addr::{EamEntry, Eamt, Ipv4Prefix, Ipv6Prefix, Nat64Prefix, Siit};
/// use sixfold_rewrite::translate::{Config, Translator};
/// use core::net::{Ipv4Addr, Ipv6Addr};
/// // A server 2001:db8:6::80 published as 198.51.100.80 (EAMT, RFC 7757); IPv4
/// // clients appear under 64:ff9b::/96 (RFC 6052).
/// let eam = [EamEntry::new(
///     Ipv4Prefix::new(Ipv4Addr::new(198, 51, 100, 80), 32).unwrap(),
///     Ipv6Prefix::new("2001:db8:6::80".parse().unwrap(), 128).unwrap(),
/// )
/// .unwrap()];
/// let siit = Siit {
///     pool6: Some(Nat64Prefix::WELL_KNOWN),
///     eamt: Eamt::new(&eam[..]).unwrap(),
///     rfc6791_v4: None,
///     rfc6791_v6: None,
/// };
/// // An echo request from 8.8.8.8 to the server (checksums filled in).
/// let mut ping = vec![
///     0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 8, 8, 8, 8, 198, 51, 100, 80, //
///     8, 0, 0, 0, 0x12, 0x34, 0, 1,
/// ];
/// sixfold_rewrite::recompute_checksums(&mut ping).unwrap();
/// let translator = Translator::new(Config::default()).unwrap();
/// let mut out = [0u8; 1500];
/// let t = siit.translate(&translator, &ping, 0, &mut out).unwrap();
/// assert_eq!(t.len, 48);
/// assert_eq!(&out[8..24], &"64:ff9b::808:808".parse::<Ipv6Addr>().unwrap().octets());
/// assert_eq!(&out[24..40], &"2001:db8:6::80".parse::<Ipv6Addr>().unwrap().octets());
/// assert_eq!(out[40], 128, "echo request");
/// ```
#[derive(Clone, Debug)]
pub struct Siit<S> {
    /// The RFC 6052 prefix for addresses the EAMT does not cover.
    pub pool6: Option<Nat64Prefix>,
    /// Explicit address mappings, consulted first.
    pub eamt: Eamt<S>,
    /// IPv4 sources for ICMPv6 errors from untranslatable IPv6 addresses.
    pub rfc6791_v4: Option<Rfc6791Ipv4>,
    /// IPv6 sources for ICMPv4 errors from untranslatable IPv4 addresses.
    pub rfc6791_v6: Option<Rfc6791Ipv6>,
}

impl<S: AsRef<[EamEntry]>> Siit<S> {
    /// `addr` in IPv6: its EAMT mapping, else its RFC 6052 embedding — unless
    /// RFC 6052 §3.1 forbids it under the Well-Known Prefix.
    pub fn ipv4_to_ipv6(&self, addr: Ipv4Addr) -> Option<Ipv6Addr> {
        self.eamt
            .to_ipv6(addr)
            .or_else(|| self.pool6.filter(|p| p.allows(addr)).map(|p| p.embed(addr)))
    }

    /// `addr` in IPv4: its EAMT mapping, else the IPv4 address RFC 6052 embeds in
    /// it (refused under the Well-Known Prefix when not global).
    pub fn ipv6_to_ipv4(&self, addr: Ipv6Addr) -> Option<Ipv4Addr> {
        self.eamt.to_ipv4(addr).or_else(|| {
            let p = self.pool6?;
            p.extract(addr).filter(|&a| p.allows(a))
        })
    }

    /// The plan for an IPv4 packet inspected as `info`. An ICMP error's source
    /// falls back to the RFC 6791 IPv6 pool.
    pub fn plan_to_ipv6(&self, info: &Inspection<'_>) -> Result<ToIpv6> {
        let (src, dst) = (ipv4(info.src, false)?, ipv4(info.dst, false)?);
        let mapped_src = self.ipv4_to_ipv6(src).or_else(|| {
            info.is_icmp_error()
                .then_some(self.rfc6791_v6?)
                .map(|pool| pool.pick(src))
        });
        let mut plan = ToIpv6::new(Mapping::new(
            mapped_src.ok_or(unmappable(info.src, false))?,
            self.ipv4_to_ipv6(dst).ok_or(unmappable(info.dst, false))?,
        ));
        if let Some(q) = &info.quote {
            let (qs, qd) = (ipv4(q.src_addr(), true)?, ipv4(q.dst_addr(), true)?);
            plan.quote = Some(Mapping::new(
                self.ipv4_to_ipv6(qs)
                    .ok_or(unmappable(q.src_addr(), true))?,
                self.ipv4_to_ipv6(qd)
                    .ok_or(unmappable(q.dst_addr(), true))?,
            ));
        }
        Ok(plan)
    }

    /// The plan for an IPv6 packet inspected as `info`. An ICMP error's source
    /// falls back to the RFC 6791 IPv4 pool. `ipv4_ident` is the caller's
    /// Identification for packets that get none from a Fragment Header.
    pub fn plan_to_ipv4(&self, info: &Inspection<'_>, ipv4_ident: u16) -> Result<ToIpv4> {
        let (src, dst) = (ipv6(info.src, false)?, ipv6(info.dst, false)?);
        let mapped_src = self.ipv6_to_ipv4(src).or_else(|| {
            info.is_icmp_error()
                .then_some(self.rfc6791_v4?)
                .map(|pool| pool.pick(src))
        });
        let mut plan = ToIpv4::new(Mapping::new(
            mapped_src.ok_or(unmappable(info.src, false))?,
            self.ipv6_to_ipv4(dst).ok_or(unmappable(info.dst, false))?,
        ));
        plan.ipv4_ident = ipv4_ident;
        if let Some(q) = &info.quote {
            let (qs, qd) = (ipv6(q.src_addr(), true)?, ipv6(q.dst_addr(), true)?);
            plan.quote = Some(Mapping::new(
                self.ipv6_to_ipv4(qs)
                    .ok_or(unmappable(q.src_addr(), true))?,
                self.ipv6_to_ipv4(qd)
                    .ok_or(unmappable(q.dst_addr(), true))?,
            ));
        }
        Ok(plan)
    }

    /// `addr` in IPv6 by RFC 6052 alone (never the EAMT), where the prefix
    /// allows it.
    fn by_pool6(&self, addr: Ipv4Addr) -> Option<Ipv6Addr> {
        self.pool6.filter(|p| p.allows(addr)).map(|p| p.embed(addr))
    }

    /// The IPv4 address `addr` stands for if RFC 6052 maps it and an EAMT
    /// entry holds that IPv4 address: an IPv6 host's other address.
    fn eam_by_pool6(&self, addr: IpAddr) -> Option<Ipv4Addr> {
        let IpAddr::V6(a) = addr else { return None };
        if self.eamt.to_ipv4(a).is_some() {
            return None;
        }
        let p = self.pool6?;
        let four = p.extract(a).filter(|&v4| p.allows(v4))?;
        self.eamt.to_ipv6(four).map(|_| four)
    }

    /// Whether the IPv6 packet inspected as `info` is hairpinned (RFC 7757 §4):
    /// its destination is RFC 6052's form of an EAMT entry's IPv4 address — an
    /// IPv6 host reached by the address IPv4 knows it by — or, for an ICMPv6
    /// error, the quoted packet's source is. Its IPv4 translation is addressed
    /// to this translator's own EAMT, and goes back to IPv6 by
    /// [`Siit::plan_hairpin`] instead of leaving as IPv4.
    pub fn is_hairpin(&self, info: &Inspection<'_>) -> bool {
        match &info.quote {
            None => self.eam_by_pool6(info.dst).is_some(),
            Some(q) => self.eam_by_pool6(q.src_addr()).is_some(),
        }
    }

    /// The plan that takes the IPv4 translation (inspected as `info`) of a
    /// hairpinned packet back to IPv6. RFC 7757 §4: the sender knows its peer
    /// by the RFC 6052 address, so the source — and the quoted destination of
    /// an error — is translated by `pool6`, not the EAMT (else the answer would
    /// come from an address the sender never spoke to); an error from another
    /// node than the quoted packet's destination keeps the usual mapping.
    pub fn plan_hairpin(&self, info: &Inspection<'_>) -> Result<ToIpv6> {
        let (src, dst) = (ipv4(info.src, false)?, ipv4(info.dst, false)?);
        let quote_dst = match &info.quote {
            Some(q) => Some(ipv4(q.dst_addr(), true)?),
            None => None,
        };
        let mapped_src = if quote_dst.is_none_or(|d| d == src) {
            self.by_pool6(src)
        } else {
            self.ipv4_to_ipv6(src)
        };
        let mut plan = ToIpv6::new(Mapping::new(
            mapped_src.ok_or(unmappable(info.src, false))?,
            self.ipv4_to_ipv6(dst).ok_or(unmappable(info.dst, false))?,
        ));
        if let (Some(q), Some(qd)) = (&info.quote, quote_dst) {
            let qs = ipv4(q.src_addr(), true)?;
            plan.quote = Some(Mapping::new(
                self.ipv4_to_ipv6(qs)
                    .ok_or(unmappable(q.src_addr(), true))?,
                self.by_pool6(qd).ok_or(unmappable(q.dst_addr(), true))?,
            ));
        }
        Ok(plan)
    }

    /// Inspects, plans and translates one packet of either family, as a stateless
    /// SIIT box forwards it: IPv4 becomes IPv6 and the other way round.
    /// `ipv4_ident` is as for [`Siit::plan_to_ipv4`]. A hairpinned packet
    /// ([`Siit::is_hairpin`]) comes out as the IPv4 packet it first becomes;
    /// the caller takes it back to IPv6 with [`Siit::plan_hairpin`].
    pub fn translate(
        &self,
        translator: &Translator,
        packet: &[u8],
        ipv4_ident: u16,
        out: &mut [u8],
    ) -> Result<Translated> {
        let info = inspect(packet)?;
        match info.src {
            IpAddr::V4(_) => translator.ipv4_to_ipv6(packet, &self.plan_to_ipv6(&info)?, out),
            IpAddr::V6(_) => {
                let plan = self.plan_to_ipv4(&info, ipv4_ident)?;
                translator.ipv6_to_ipv4(packet, &plan, out)
            }
        }
    }
}

fn unmappable(addr: IpAddr, quoted: bool) -> TranslateError {
    TranslateError::UnmappableAddress { addr, quoted }
}

/// The IPv4 address of a packet inspected as IPv4; a quote of the other family
/// is unmappable.
fn ipv4(addr: IpAddr, quoted: bool) -> Result<Ipv4Addr> {
    match addr {
        IpAddr::V4(a) => Ok(a),
        IpAddr::V6(_) => Err(unmappable(addr, quoted)),
    }
}

fn ipv6(addr: IpAddr, quoted: bool) -> Result<Ipv6Addr> {
    match addr {
        IpAddr::V6(a) => Ok(a),
        IpAddr::V4(_) => Err(unmappable(addr, quoted)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::{Ipv4Prefix, Ipv6Prefix};

    fn siit(entries: &[EamEntry]) -> Siit<&[EamEntry]> {
        Siit {
            pool6: Some(Nat64Prefix::WELL_KNOWN),
            eamt: Eamt::new(entries).unwrap(),
            rfc6791_v4: Some(Rfc6791Ipv4::new(
                Ipv4Prefix::new(Ipv4Addr::new(203, 0, 113, 0), 24).unwrap(),
                1,
            )),
            rfc6791_v6: None,
        }
    }

    /// UDP/IPv6 `src` → `dst` with its checksum, 8 bytes of data.
    fn udp6(src: &str, dst: &str) -> std::vec::Vec<u8> {
        let mut p = std::vec![0x60, 0, 0, 0, 0, 16, 17, 64];
        p.extend_from_slice(&src.parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        crate::recompute_checksums(&mut p).unwrap();
        p
    }

    /// An ICMPv6 port unreachable `src` → `dst` quoting `quote`.
    fn unreachable6(src: &str, dst: &str, quote: &[u8]) -> std::vec::Vec<u8> {
        let len = (8 + quote.len()) as u16;
        let mut p = std::vec![0x60, 0, 0, 0];
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&[58, 64]);
        p.extend_from_slice(&src.parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&[1, 4, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(quote);
        crate::recompute_checksums(&mut p).unwrap();
        p
    }

    /// `packet` through the translator and back as a hairpin: the IPv6 packet
    /// that comes out.
    fn hairpinned(s: &Siit<&[EamEntry]>, packet: &[u8]) -> std::vec::Vec<u8> {
        let info = inspect(packet).unwrap();
        assert!(s.is_hairpin(&info));
        let out4 = Translator::new(crate::translate::Config::default()).unwrap();
        let back = Translator::new(crate::translate::Config {
            decrement_hop_limit: false,
            ..Default::default()
        })
        .unwrap();
        let (mut v4, mut v6) = ([0u8; 1500], [0u8; 1500]);
        let n = out4
            .ipv6_to_ipv4(packet, &s.plan_to_ipv4(&info, 0).unwrap(), &mut v4)
            .unwrap()
            .len;
        let plan = s.plan_hairpin(&inspect(&v4[..n]).unwrap()).unwrap();
        let n = back.ipv4_to_ipv6(&v4[..n], &plan, &mut v6).unwrap().len;
        let mut fresh = v6[..n].to_vec();
        crate::recompute_checksums(&mut fresh).unwrap();
        assert_eq!(fresh, &v6[..n], "checksums as a recompute makes them");
        fresh
    }

    #[test]
    fn eam_hairpinning_goes_back_to_ipv6_from_the_rfc6052_address() {
        // A = 2001:db8:a::8 is 198.51.100.8, B = 2001:db8:b::9 is 198.51.100.9.
        let eam = |four: [u8; 4], six: &str| {
            EamEntry::new(
                Ipv4Prefix::new(four.into(), 32).unwrap(),
                Ipv6Prefix::new(six.parse().unwrap(), 128).unwrap(),
            )
            .unwrap()
        };
        let entries = [
            eam([198, 51, 100, 8], "2001:db8:a::8"),
            eam([198, 51, 100, 9], "2001:db8:b::9"),
        ];
        let s = Siit {
            pool6: Some(Nat64Prefix::new("2001:db8:64::".parse().unwrap(), 96).unwrap()),
            ..siit(&entries)
        };
        // A writes to B by the address IPv4 knows B by: B gets it from A's
        // RFC 6052 address (not the EAMT's 2001:db8:a::8), hop limit 64 - 1.
        let p = hairpinned(&s, &udp6("2001:db8:a::8", "2001:db8:64::c633:6409"));
        assert_eq!(
            &p[8..24],
            &"2001:db8:64::c633:6408"
                .parse::<Ipv6Addr>()
                .unwrap()
                .octets()
        );
        assert_eq!(
            &p[24..40],
            &"2001:db8:b::9".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!((p[6], p[7]), (17, 63));
        // B's port unreachable about it goes back to A from B's RFC 6052
        // address, quoting what A sent.
        let error = unreachable6("2001:db8:b::9", "2001:db8:64::c633:6408", &p);
        let e = hairpinned(&s, &error);
        assert_eq!(
            &e[8..24],
            &"2001:db8:64::c633:6409"
                .parse::<Ipv6Addr>()
                .unwrap()
                .octets()
        );
        assert_eq!(
            &e[24..40],
            &"2001:db8:a::8".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!((e[40], e[41]), (1, 4));
        let sent = udp6("2001:db8:a::8", "2001:db8:64::c633:6409");
        assert_eq!(&e[48 + 8..48 + 40], &sent[8..40], "the quote's addresses");
        assert_eq!(
            &e[48 + 40..],
            &sent[40..],
            "the quoted UDP, checksum included"
        );
        // Not hairpins: to a host outside the EAMT, to an EAMT IPv6 address.
        for dst in ["2001:db8:64::c633:6410", "2001:db8:b::9"] {
            let p = udp6("2001:db8:a::8", dst);
            assert!(!s.is_hairpin(&inspect(&p).unwrap()), "{dst}");
        }
    }

    #[test]
    fn eamt_before_rfc6052_and_the_wkp_rule() {
        let entries = [EamEntry::new(
            Ipv4Prefix::new(Ipv4Addr::new(192, 0, 2, 0), 24).unwrap(),
            Ipv6Prefix::new("2001:db8:6::".parse().unwrap(), 120).unwrap(),
        )
        .unwrap()];
        let s = siit(&entries);
        assert_eq!(
            s.ipv4_to_ipv6(Ipv4Addr::new(192, 0, 2, 9)),
            Some("2001:db8:6::9".parse().unwrap()),
            "EAMT, although 192.0.2/24 is not global"
        );
        assert_eq!(
            s.ipv4_to_ipv6(Ipv4Addr::new(8, 8, 4, 4)),
            Some("64:ff9b::808:404".parse().unwrap())
        );
        assert_eq!(
            s.ipv4_to_ipv6(Ipv4Addr::new(10, 0, 0, 1)),
            None,
            "RFC 6052 3.1"
        );
        assert_eq!(
            s.ipv6_to_ipv4("64:ff9b::a00:1".parse().unwrap()),
            None,
            "RFC 6052 3.1 both ways"
        );
        assert_eq!(
            s.ipv6_to_ipv4("2001:db8:6::9".parse().unwrap()),
            Some(Ipv4Addr::new(192, 0, 2, 9))
        );
        assert_eq!(s.ipv6_to_ipv4("2001:db8:7::9".parse().unwrap()), None);
    }
}
