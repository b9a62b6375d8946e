//! The options of `sixfold rewrite`, parsed and checked: address maps
//! (`--srcipmap`/`--dstipmap`), the port map, the TTL change and the MSS clamp.
//! Entries that would fight over the same address or port are refused with both
//! named; so are values no packet can carry (port 0, MSS 0, TTL 0).

use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One `OLD/LEN:NEW/LEN` pair.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct NetMap {
    from: (u128, u8),
    to: (u128, u8),
    v6: bool,
    /// As written, for messages.
    text: String,
}

impl NetMap {
    /// The address `addr` becomes, if it is in OLD: NEW's prefix with `addr`'s
    /// host bits.
    pub(super) fn apply(&self, addr: IpAddr) -> Option<IpAddr> {
        let (bits, width) = match (addr, self.v6) {
            (IpAddr::V4(a), false) => (a.to_bits() as u128, 32),
            (IpAddr::V6(a), true) => (a.to_bits(), 128),
            _ => return None,
        };
        if bits & mask(self.from.1, width) != self.from.0 & mask(self.from.1, width) {
            return None;
        }
        let m = mask(self.to.1, width);
        let new = (self.to.0 & m) | (bits & !m & (u128::MAX >> (128 - width)));
        Some(if self.v6 {
            IpAddr::V6(Ipv6Addr::from_bits(new))
        } else {
            IpAddr::V4(Ipv4Addr::from_bits(new as u32))
        })
    }

    /// Whether the OLD prefixes of two maps share an address.
    fn overlaps(&self, other: &NetMap) -> bool {
        let width = if self.v6 { 128 } else { 32 };
        let len = self.from.1.min(other.from.1);
        self.v6 == other.v6 && self.from.0 & mask(len, width) == other.from.0 & mask(len, width)
    }
}

/// The network mask of a `len`-bit prefix in a `width`-bit address.
fn mask(len: u8, width: u32) -> u128 {
    if len == 0 {
        0
    } else {
        (u128::MAX >> (128 - width)) & (u128::MAX << (width - u32::from(len)))
    }
}

fn parse_net(text: &str, option: &str) -> anyhow::Result<(u128, u8, bool)> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let (addr, len) = inner
        .split_once('/')
        .with_context(|| format!("{option}: {text:?} needs a /length"))?;
    let addr: IpAddr = addr
        .parse()
        .with_context(|| format!("{option}: {addr:?} is not an IP address"))?;
    let (bits, width, v6) = match addr {
        IpAddr::V4(a) => (a.to_bits() as u128, 32, false),
        IpAddr::V6(a) => (a.to_bits(), 128, true),
    };
    let len: u8 = len
        .parse()
        .ok()
        .filter(|&l| l <= width)
        .with_context(|| format!("{option}: bad prefix length in {text:?} (0..={width})"))?;
    Ok((bits, len, v6))
}

/// Splits `OLD/LEN:NEW/LEN` (or `[OLD/LEN]:[NEW/LEN]`) into its halves.
fn split_pair(pair: &str, option: &str) -> anyhow::Result<(String, String)> {
    if let Some(rest) = pair.strip_prefix('[') {
        let (a, b) = rest
            .split_once("]:")
            .with_context(|| format!("{option}: {pair:?} is not [OLD/LEN]:[NEW/LEN]"))?;
        return Ok((format!("[{a}]"), b.to_owned()));
    }
    // OLD's length ends at the first ':' after its '/': unambiguous for IPv6 too
    // (2001:db8:1::/64:2001:db8:99::/64).
    pair.split_once('/')
        .and_then(|(addr, rest)| {
            let (len, new) = rest.split_once(':')?;
            Some((format!("{addr}/{len}"), new.to_owned()))
        })
        .with_context(|| {
            format!(
                "{option}: {pair:?} is not OLD/LEN:NEW/LEN (e.g. 10.0.0.0/8:192.0.2.0/24, \
                 2001:db8:1::/64:2001:db8:99::/64 or [2001:db8:1::/64]:[2001:db8:99::/64])"
            )
        })
}

/// Parses the comma-separated pairs of every `values` entry; refuses two pairs
/// whose OLD prefixes overlap (which would win would be a matter of order).
pub(super) fn parse_netmaps(values: &[String], option: &str) -> anyhow::Result<Vec<NetMap>> {
    let mut maps: Vec<NetMap> = Vec::new();
    for pair in values.iter().flat_map(|v| v.split(',')) {
        let (from, to) = split_pair(pair, option)?;
        let (fb, fl, f6) = parse_net(&from, option)?;
        let (tb, tl, t6) = parse_net(&to, option)?;
        if f6 != t6 {
            bail!("{option}: {pair:?} maps between IPv4 and IPv6");
        }
        let map = NetMap {
            from: (fb, fl),
            to: (tb, tl),
            v6: f6,
            text: pair.to_owned(),
        };
        if let Some(other) = maps.iter().find(|m| m.overlaps(&map)) {
            bail!(
                "{option}: {:?} and {:?} both map some addresses: give each address one map",
                other.text,
                map.text
            );
        }
        maps.push(map);
    }
    Ok(maps)
}

/// Parses `OLD:NEW` port maps, OLD a port, a list `a,b` or a range `a-b`; refuses
/// port 0 and a port mapped twice.
pub(super) fn parse_portmap(values: &[String]) -> anyhow::Result<BTreeMap<u16, u16>> {
    let port = |t: &str, pair: &str| -> anyhow::Result<u16> {
        let p = t
            .trim()
            .parse::<u16>()
            .with_context(|| format!("--portmap: {t:?} in {pair:?} is not a port (1..=65535)"))?;
        if p == 0 {
            bail!("--portmap: port 0 in {pair:?} is not a port a packet can use (1..=65535)");
        }
        Ok(p)
    };
    let mut map: BTreeMap<u16, (u16, &str)> = BTreeMap::new();
    for value in values {
        let (olds, new) = value
            .rsplit_once(':')
            .with_context(|| format!("--portmap: {value:?} is not OLD:NEW"))?;
        let new = port(new, value)?;
        for old in olds.split(',') {
            let (lo, hi) = match old.split_once('-') {
                Some((lo, hi)) => (port(lo, value)?, port(hi, value)?),
                None => (port(old, value)?, port(old, value)?),
            };
            if lo > hi {
                bail!("--portmap: range {old:?} runs backwards");
            }
            for p in lo..=hi {
                if let Some((_, first)) = map.insert(p, (new, value)) {
                    bail!(
                        "--portmap: port {p} is in {first:?} and in {value:?}: give each port one map"
                    );
                }
            }
        }
    }
    Ok(map.into_iter().map(|(old, (new, _))| (old, new)).collect())
}

/// tcprewrite's `--ttl`: N, +N or -N, results limited to 1–255.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TtlArg {
    Set(u8),
    Add(u8),
    Sub(u8),
}

impl TtlArg {
    pub(super) fn parse(text: &str) -> anyhow::Result<TtlArg> {
        let num = |t: &str| {
            t.parse::<u8>()
                .with_context(|| format!("--ttl: {text:?} is not N, +N or -N with N in 0..=255"))
        };
        let ttl = match text.as_bytes().first() {
            Some(b'+') => TtlArg::Add(num(&text[1..])?),
            Some(b'-') => TtlArg::Sub(num(&text[1..])?),
            _ => TtlArg::Set(num(text)?),
        };
        if ttl == TtlArg::Set(0) {
            bail!("--ttl 0: the first router would drop every packet; set 1..=255");
        }
        Ok(ttl)
    }

    pub(super) fn apply(self, old: u8) -> u8 {
        match self {
            TtlArg::Set(v) => v,
            TtlArg::Add(v) => old.saturating_add(v),
            TtlArg::Sub(v) => old.saturating_sub(v).max(1),
        }
    }
}

/// `--mss N`: a clamp of 0 would stop every connection.
pub(super) fn check_mss(mss: Option<u16>) -> anyhow::Result<Option<u16>> {
    if mss == Some(0) {
        bail!("--mss 0: no TCP connection could send data; clamp to 1..=65535");
    }
    Ok(mss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmaps_keep_host_bits() {
        let m = parse_netmaps(&["10.0.0.0/8:192.168.0.0/16".into()], "--srcipmap").unwrap();
        assert_eq!(
            m[0].apply("10.1.2.3".parse().unwrap()),
            Some("192.168.2.3".parse().unwrap())
        );
        assert_eq!(m[0].apply("11.1.2.3".parse().unwrap()), None);
        let m = parse_netmaps(
            &["[2001:db8::/32]:[3fff::/20],0.0.0.0/0:203.0.113.1/32".into()],
            "--srcipmap",
        )
        .unwrap();
        assert_eq!(
            m[0].apply("2001:db8::7".parse().unwrap()),
            // A /20 replaces only the top 20 bits: the rest of "0db8" is host part.
            Some("3fff:db8::7".parse().unwrap())
        );
        assert_eq!(
            m[1].apply("10.9.9.9".parse().unwrap()),
            Some("203.0.113.1".parse().unwrap())
        );
        assert!(parse_netmaps(&["10.0.0.0/8".into()], "--srcipmap").is_err());
        assert!(
            parse_netmaps(&["10.0.0.0/33:1.0.0.0/8".into()], "--srcipmap")
                .unwrap_err()
                .to_string()
                .contains("bad prefix length")
        );
        assert!(parse_netmaps(&["10.0.0.0/8:[2001:db8::/32]".into()], "--srcipmap").is_err());
        // IPv6 without brackets: OLD's /LEN ends at the next ':'.
        let m = parse_netmaps(&["2001:db8:1::/64:2001:db8:99::/64".into()], "--srcipmap").unwrap();
        let b = parse_netmaps(
            &["[2001:db8:1::/64]:[2001:db8:99::/64]".into()],
            "--srcipmap",
        )
        .unwrap();
        assert_eq!(
            m[0].apply("2001:db8:1::7".parse().unwrap()),
            b[0].apply("2001:db8:1::7".parse().unwrap())
        );
        assert_eq!(
            m[0].apply("2001:db8:1::7".parse().unwrap()),
            Some("2001:db8:99::7".parse().unwrap())
        );
        // Without lengths it cannot be split: the error says how to write it.
        let e = parse_netmaps(&["2001:db8::1:2001:db8::2".into()], "--srcipmap").unwrap_err();
        assert!(
            e.to_string().contains("2001:db8:1::/64:2001:db8:99::/64"),
            "{e}"
        );
    }

    #[test]
    fn overlapping_maps_are_refused_naming_both() {
        let e = parse_netmaps(
            &[
                "10.0.0.0/8:192.0.2.0/24".into(),
                "10.1.0.0/16:198.51.100.0/24".into(),
            ],
            "--srcipmap",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--srcipmap: \"10.0.0.0/8:192.0.2.0/24\" and \"10.1.0.0/16:198.51.100.0/24\" both map some addresses: give each address one map"
        );
        // Disjoint prefixes, or different families, are fine.
        parse_netmaps(
            &[
                "10.0.0.0/16:192.0.2.0/24,10.1.0.0/16:198.51.100.0/24,[::/0]:[2001:db8::/32]"
                    .into(),
            ],
            "--srcipmap",
        )
        .unwrap();
        let e = parse_portmap(&["8000-8999:80".into(), "8080:81".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--portmap: port 8080 is in \"8000-8999:80\" and in \"8080:81\": give each port one map"
        );
    }

    #[test]
    fn portmaps_lists_and_ranges() {
        let m = parse_portmap(&[
            "80:8000".into(),
            "8000,8080:80".into(),
            "9000-9002:1".into(),
        ])
        .unwrap();
        assert_eq!(m.get(&80), Some(&8000));
        assert_eq!(m.get(&8000), Some(&80));
        assert_eq!(m.get(&9001), Some(&1));
        let e = parse_portmap(&["88888:80".into()]).unwrap_err().to_string();
        assert!(e.contains("\"88888\""), "{e}");
    }

    #[test]
    fn values_no_packet_can_carry_are_refused() {
        for bad in ["0:80", "80:0", "0-10:80"] {
            let e = parse_portmap(&[bad.into()]).unwrap_err().to_string();
            assert!(e.contains("port 0"), "{bad}: {e}");
        }
        assert!(
            TtlArg::parse("0")
                .unwrap_err()
                .to_string()
                .contains("--ttl 0")
        );
        assert!(check_mss(Some(0)).is_err());
        assert_eq!(check_mss(Some(1200)).unwrap(), Some(1200));
    }

    #[test]
    fn ttl_like_tcprewrite() {
        assert_eq!(TtlArg::parse("-64").unwrap().apply(64), 1);
        assert_eq!(TtlArg::parse("+7").unwrap().apply(250), 255);
        assert_eq!(TtlArg::parse("10").unwrap().apply(64), 10);
        assert!(TtlArg::parse("-300").is_err());
    }
}
