//! `[siit]` and `[nat64]`: IPv4/IPv6 translation (RFC 7915) — stateless with
//! explicit address mappings (RFC 6052, RFC 7757, RFC 6791), and stateful NAT64
//! (RFC 6146) behind `[nat]`'s pool, behaviour and limits.

use super::validate::{err, overlaps4, overlaps6, special_v4, special_v6};
use super::{Config, ConfigError};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use sixfold_rewrite::addr::{
    self, EamEntry, Eamt, Ipv4Prefix, Ipv6Prefix, Nat64Prefix, Rfc6791Ipv4, Rfc6791Ipv6,
};
use sixfold_rewrite::translate;

/// One explicit address mapping (RFC 7757): `ipv6 = "…/n", ipv4 = "…/m"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EamtEntry {
    /// The IPv6 prefix (or address).
    #[serde(deserialize_with = "one_net")]
    pub ipv6: Ipv6Net,
    /// The IPv4 prefix (or address); its suffix is at most the IPv6 one's.
    #[serde(deserialize_with = "one_net")]
    pub ipv4: Ipv4Net,
}

/// Stateless IP/ICMP translation (SIIT, RFC 7915).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Siit {
    /// The RFC 6052 prefix for IPv4 addresses the EAMT does not cover.
    #[serde(deserialize_with = "opt_net")]
    pub pool6: Option<Ipv6Net>,
    /// Explicit address mappings, consulted before `pool6` (RFC 7757 §3.3).
    pub eamt: Vec<EamtEntry>,
    /// IPv4 source (address or prefix) of ICMPv6 errors translated from IPv6
    /// routers whose address maps to none (RFC 6791).
    #[serde(deserialize_with = "opt_net")]
    pub rfc6791_v4: Option<Ipv4Net>,
    /// IPv6 source (address or prefix) of ICMPv4 errors from untranslatable
    /// IPv4 sources.
    #[serde(deserialize_with = "opt_net")]
    pub rfc6791_v6: Option<Ipv6Net>,
    /// IPv4 packets without DF are split into IPv6 fragments of at most this
    /// size (RFC 7915 §4.1; at least 1280).
    pub lowest_ipv6_mtu: u16,
    /// Compute the checksum of UDP/IPv4 datagrams without one instead of
    /// dropping them (RFC 7915 §4.5).
    pub amend_udp_checksum_zero: bool,
}

impl Default for Siit {
    fn default() -> Siit {
        Siit {
            pool6: None,
            eamt: Vec::new(),
            rfc6791_v4: None,
            rfc6791_v6: None,
            lowest_ipv6_mtu: 1280,
            amend_udp_checksum_zero: false,
        }
    }
}

/// Stateful NAT64 (RFC 6146): IPv6 subscribers reach IPv4 through `[nat]`'s
/// pool, with its mapping, filtering, hairpinning, timers and limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Nat64 {
    /// The RFC 6052 prefix IPv4 destinations are embedded in (the Well-Known
    /// Prefix 64:ff9b::/96 or a network-specific one); advertised as PREF64 in
    /// the router advertisements (RFC 8781).
    #[serde(deserialize_with = "one_net")]
    pub prefix: Ipv6Net,
    /// As `[siit]`'s: the size of IPv6 fragments of IPv4 packets without DF.
    pub lowest_ipv6_mtu: u16,
    /// As `[siit]`'s (RFC 6146 §3.4 leaves it to the operator).
    pub amend_udp_checksum_zero: bool,
}

impl Default for Nat64 {
    fn default() -> Nat64 {
        Nat64 {
            prefix: Ipv6Net::new(Nat64Prefix::WELL_KNOWN.prefix().addr(), 96).unwrap_or_default(),
            lowest_ipv6_mtu: 1280,
            amend_udp_checksum_zero: false,
        }
    }
}

/// One address or prefix.
fn one_net<'de, D, N>(d: D) -> Result<N, D::Error>
where
    D: serde::Deserializer<'de>,
    N: std::str::FromStr + From<N::Host> + super::links::HostNet,
{
    let text = String::deserialize(d)?;
    text.parse::<N>()
        .or_else(|_| text.parse::<N::Host>().map(N::from))
        .map_err(|_| {
            serde::de::Error::custom(format!("{text:?} is neither an address nor a prefix"))
        })
}

fn opt_net<'de, D, N>(d: D) -> Result<Option<N>, D::Error>
where
    D: serde::Deserializer<'de>,
    N: std::str::FromStr + From<N::Host> + super::links::HostNet,
{
    one_net(d).map(Some)
}

/// The sixfold-rewrite form of an IPv4 prefix (its host bits are zero: ipnet
/// keeps them, the translator's tables do not).
fn v4(net: Ipv4Net) -> Result<Ipv4Prefix, addr::AddrError> {
    Ipv4Prefix::new(net.addr(), net.prefix_len())
}

fn v6(net: Ipv6Net) -> Result<Ipv6Prefix, addr::AddrError> {
    Ipv6Prefix::new(net.addr(), net.prefix_len())
}

/// An RFC 6052 prefix from configuration.
pub(crate) fn nat64_prefix(net: Ipv6Net) -> Result<Nat64Prefix, addr::AddrError> {
    Nat64Prefix::new(net.addr(), net.prefix_len())
}

/// An RFC 6791 pool from an address or prefix (an address written with a
/// length means its prefix).
fn pool_v4(net: Ipv4Net, seed: u64) -> Result<Rfc6791Ipv4, addr::AddrError> {
    Ok(Rfc6791Ipv4::new(v4(net.trunc())?, seed))
}

fn pool_v6(net: Ipv6Net, seed: u64) -> Result<Rfc6791Ipv6, addr::AddrError> {
    Ok(Rfc6791Ipv6::new(v6(net.trunc())?, seed))
}

impl Siit {
    /// The EAMT entries in sixfold-rewrite's form.
    fn entries(&self) -> Result<Vec<EamEntry>, (usize, addr::AddrError)> {
        self.eamt
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let four = v4(e.ipv4).map_err(|x| (i, x))?;
                let six = v6(e.ipv6).map_err(|x| (i, x))?;
                EamEntry::new(four, six).map_err(|x| (i, x))
            })
            .collect()
    }

    /// The address mapping, RFC 6791 pools keyed by `seed`.
    pub fn mapping(&self, seed: u64) -> Result<addr::Siit<Vec<EamEntry>>, ConfigError> {
        let entries = self.entries().map_err(|(i, e)| {
            let net = format!("ipv6 {} ipv4 {}", self.eamt[i].ipv6, self.eamt[i].ipv4);
            addr_err(format!("siit.eamt[{i}]"), net, e)
        })?;
        let eamt = Eamt::new(entries)
            .map_err(|_| err("siit.eamt", "two entries share a prefix (RFC 7757 §3.3)"))?;
        let pool6 = self
            .pool6
            .map(|p| nat64_prefix(p).map_err(|e| addr_err("siit.pool6".into(), p, e)))
            .transpose()?;
        let rfc6791_v4 = self
            .rfc6791_v4
            .map(|p| pool_v4(p, seed).map_err(|e| addr_err("siit.rfc6791_v4".into(), p, e)))
            .transpose()?;
        let rfc6791_v6 = self
            .rfc6791_v6
            .map(|p| pool_v6(p, seed).map_err(|e| addr_err("siit.rfc6791_v6".into(), p, e)))
            .transpose()?;
        Ok(addr::Siit {
            pool6,
            eamt,
            rfc6791_v4,
            rfc6791_v6,
        })
    }

    /// The translator settings, for egress links of `ipv4_mtu` and `ipv6_mtu`.
    pub fn translator(&self, ipv4_mtu: u16, ipv6_mtu: u16) -> translate::Config {
        translate::Config {
            lowest_ipv6_mtu: self.lowest_ipv6_mtu,
            ipv4_mtu,
            ipv6_mtu,
            amend_udp_checksum_zero: self.amend_udp_checksum_zero,
            ..translate::Config::default()
        }
    }
}

fn addr_err(key: String, net: impl std::fmt::Display, e: addr::AddrError) -> ConfigError {
    err(key, format!("{net}: {e}"))
}

/// `[siit]` and `[nat64]`: prefixes RFC 6052 allows, EAMT entries RFC 7757
/// allows, no prefix shared by both or by a subscriber, no EAMT IPv4 prefix in
/// the NAT's pool.
pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    if let Some(s) = &config.siit {
        validate_siit(config, s)?;
    }
    if let Some(n) = &config.nat64 {
        nat64_prefix(n.prefix).map_err(|e| addr_err("nat64.prefix".into(), n.prefix, e))?;
        translation_prefix("nat64.prefix", n.prefix)?;
        mtu_floor("nat64.lowest_ipv6_mtu", n.lowest_ipv6_mtu)?;
        not_a_subscribers("nat64.prefix", config, n.prefix)?;
        if let Some(p) = config.siit.as_ref().and_then(|s| s.pool6)
            && (p.contains(&n.prefix.network()) || n.prefix.contains(&p.network()))
        {
            return Err(err(
                "nat64.prefix",
                format!(
                    "{} overlaps siit.pool6 {p}: a destination would be both stateless and stateful",
                    n.prefix
                ),
            ));
        }
    }
    Ok(())
}

fn mtu_floor(key: &str, value: u16) -> Result<(), ConfigError> {
    if value < 1280 {
        return Err(err(
            key,
            format!("{value} is below 1280, the IPv6 minimum MTU (RFC 8200 §5)"),
        ));
    }
    Ok(())
}

/// A translation prefix must not be where a subscriber's addresses are: packets
/// to it would be both routed and translated.
fn not_a_subscribers(key: &str, config: &Config, net: Ipv6Net) -> Result<(), ConfigError> {
    for (i, sub) in config.subscriber.iter().enumerate() {
        if let Some(p) = sub
            .ipv6
            .iter()
            .find(|p| p.contains(&net.network()) || net.contains(&p.network()))
        {
            return Err(err(key, format!("{net} overlaps subscriber[{i}].ipv6 {p}")));
        }
    }
    for (r, range) in config.subscriber_range.iter().enumerate() {
        if let Some(p) = range
            .ipv6
            .filter(|p| p.contains(&net.network()) || net.contains(&p.network()))
        {
            return Err(err(
                key,
                format!("{net} overlaps subscriber_range[{r}].ipv6 {p}"),
            ));
        }
    }
    Ok(())
}

/// An RFC 6052 prefix embeds IPv4 hosts' unicast addresses: not a multicast,
/// link-local, loopback or unspecified one (RFC 6052 §2: from the operator's
/// unicast space; a host's packets to it would never reach a router).
fn translation_prefix(key: &str, net: Ipv6Net) -> Result<(), ConfigError> {
    match special_v6(&net) {
        Some(what) => Err(err(
            key,
            format!("{net} is {what}: a translation prefix is unicast, routed to the translator"),
        )),
        None => Ok(()),
    }
}

/// Refuses RFC 6791 pool `net` of `key` if it is `special` (what it is).
fn unicast_pool(
    key: &str,
    net: impl std::fmt::Display,
    special: Option<&str>,
) -> Result<(), ConfigError> {
    match special {
        Some(what) => Err(err(
            key,
            format!("{net} is {what}: errors need unicast sources no host owns (RFC 6791)"),
        )),
        None => Ok(()),
    }
}

/// An RFC 6791 pool: unicast addresses that are nobody's — not a special
/// range, not everything, not a subscriber's, not the NAT's pool (ICMP errors
/// from it must not pass for the hosts that own them).
fn rfc6791_pools(config: &Config, s: &Siit) -> Result<(), ConfigError> {
    if let Some(net) = s.rfc6791_v4 {
        let key = "siit.rfc6791_v4";
        let whole = (net.prefix_len() == 0).then_some("the whole IPv4 space");
        unicast_pool(key, net, whole.or(special_v4(&net)))?;
        if let Some(p) = config.nat.pool.iter().find(|p| overlaps4(p, &net)) {
            return Err(err(key, format!("{net} overlaps nat.pool {p}")));
        }
        let subscribers = config.subscriber.iter().enumerate().flat_map(|(i, sub)| {
            sub.ipv4
                .iter()
                .map(move |p| (format!("subscriber[{i}].ipv4"), *p))
        });
        let ranges = config
            .subscriber_range
            .iter()
            .enumerate()
            .filter_map(|(r, range)| {
                range
                    .ipv4
                    .map(|p| (format!("subscriber_range[{r}].ipv4"), p))
            });
        if let Some((owner, p)) = subscribers.chain(ranges).find(|(_, p)| overlaps4(p, &net)) {
            return Err(err(key, format!("{net} overlaps {owner} {p}")));
        }
    }
    if let Some(net) = s.rfc6791_v6 {
        let key = "siit.rfc6791_v6";
        let whole = (net.prefix_len() == 0).then_some("the whole IPv6 space");
        unicast_pool(key, net, whole.or(special_v6(&net)))?;
        not_a_subscribers(key, config, net)?;
    }
    Ok(())
}

/// An EAMT entry maps unicast hosts (RFC 7757 §3.1), and one inside the NAT64
/// prefix could never be used: the prefix claims those destinations first.
fn eamt_entries(config: &Config, s: &Siit) -> Result<(), ConfigError> {
    for (i, e) in s.eamt.iter().enumerate() {
        let key = format!("siit.eamt[{i}]");
        if let Some(what) = special_v4(&e.ipv4) {
            return Err(err(
                key,
                format!(
                    "ipv4 {} is {what}: an EAMT entry maps unicast hosts",
                    e.ipv4
                ),
            ));
        }
        if let Some(what) = special_v6(&e.ipv6) {
            return Err(err(
                key,
                format!(
                    "ipv6 {} is {what}: an EAMT entry maps unicast hosts",
                    e.ipv6
                ),
            ));
        }
        if let Some(n) = &config.nat64
            && overlaps6(&n.prefix, &e.ipv6)
        {
            return Err(err(
                key,
                format!(
                    "ipv6 {} is inside nat64.prefix {}: packets to it are NAT64's, so the entry would never be used",
                    e.ipv6, n.prefix
                ),
            ));
        }
    }
    Ok(())
}

fn validate_siit(config: &Config, s: &Siit) -> Result<(), ConfigError> {
    if let Some(p) = s.pool6 {
        nat64_prefix(p).map_err(|e| addr_err("siit.pool6".into(), p, e))?;
        translation_prefix("siit.pool6", p)?;
        not_a_subscribers("siit.pool6", config, p)?;
    }
    mtu_floor("siit.lowest_ipv6_mtu", s.lowest_ipv6_mtu)?;
    s.mapping(0)?;
    rfc6791_pools(config, s)?;
    eamt_entries(config, s)?;
    for (i, e) in s.eamt.iter().enumerate() {
        if let Some(p) = config
            .nat
            .pool
            .iter()
            .find(|p| p.contains(&e.ipv4.network()) || e.ipv4.contains(&p.network()))
        {
            return Err(err(
                format!("siit.eamt[{i}]"),
                format!(
                    "ipv4 {} overlaps nat.pool {p}: inbound packets to it would be both NATed and translated",
                    e.ipv4
                ),
            ));
        }
    }
    if s.pool6.is_none() && s.eamt.is_empty() {
        return Err(err(
            "siit",
            "maps nothing: give pool6, [[siit.eamt]] entries, or both",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Config;

    fn refused(toml: &str) -> (String, String) {
        let e = Config::from_toml(toml).unwrap_err();
        (e.key, e.problem)
    }

    #[test]
    fn sections_parse_with_addresses_or_prefixes() {
        let c = Config::from_toml(
            r#"
            [nat]
            pool = ["203.0.113.1"]
            [siit]
            pool6 = "64:ff9b::/96"
            rfc6791_v4 = "192.0.2.1"
            rfc6791_v6 = "2001:db8:6791::/64"
            amend_udp_checksum_zero = true
            [[siit.eamt]]
            ipv6 = "2001:db8:6::/120"
            ipv4 = "198.51.100.0/24"
            [[siit.eamt]]
            ipv6 = "2001:db8:7::80"
            ipv4 = "198.51.101.80"
            [nat64]
            prefix = "2001:db8:64::/96"
            "#,
        )
        .unwrap();
        let s = c.siit.as_ref().unwrap();
        assert_eq!(s.eamt.len(), 2);
        assert_eq!(s.eamt[1].ipv4.prefix_len(), 32);
        assert_eq!(s.rfc6791_v4.unwrap().to_string(), "192.0.2.1/32");
        let m = s.mapping(1).unwrap();
        assert_eq!(
            m.ipv4_to_ipv6("198.51.100.9".parse().unwrap()),
            Some("2001:db8:6::9".parse().unwrap())
        );
        assert_eq!(
            m.ipv6_to_ipv4("2001:db8:7::80".parse().unwrap()),
            Some("198.51.101.80".parse().unwrap())
        );
        assert_eq!(
            c.nat64.as_ref().unwrap().prefix.to_string(),
            "2001:db8:64::/96"
        );
        assert_eq!(s.translator(1500, 1500).lowest_ipv6_mtu, 1280);
    }

    /// The error for `section` after a pool and a subscriber, as a person
    /// reads it: key, line, problem.
    fn refusal(section: &str) -> String {
        let text = format!(
            "[nat]\npool = [\"203.0.113.0/30\"]\n[[subscriber]]\nname = \"a\"\n\
             ipv4 = [\"100.64.0.0/29\"]\nipv6 = [\"2001:db8:1:1::/64\"]\n{section}"
        );
        Config::from_toml(&text).unwrap_err().to_string()
    }

    #[test]
    fn addresses_no_translation_can_use_are_refused_by_key_and_line() {
        let cases = [
            (
                "[siit]\npool6 = \"ff0e::/96\"\n",
                "siit.pool6 (line 8): ff0e::/96 is multicast (ff00::/8): a translation prefix is unicast, routed to the translator",
            ),
            (
                "[siit]\npool6 = \"fe80::/96\"\n",
                "siit.pool6 (line 8): fe80::/96 is link-local (fe80::/10): a translation prefix is unicast, routed to the translator",
            ),
            (
                "[nat64]\nprefix = \"ff0e::/96\"\n",
                "nat64.prefix (line 8): ff0e::/96 is multicast (ff00::/8): a translation prefix is unicast, routed to the translator",
            ),
            (
                "[siit]\npool6 = \"64:ff9b::/96\"\nrfc6791_v4 = \"224.0.0.1\"\n",
                "siit.rfc6791_v4 (line 9): 224.0.0.1/32 is multicast (224.0.0.0/4): errors need unicast sources no host owns (RFC 6791)",
            ),
            (
                "[siit]\npool6 = \"64:ff9b::/96\"\nrfc6791_v4 = \"0.0.0.0\"\n",
                "siit.rfc6791_v4 (line 9): 0.0.0.0/32 is unspecified (0.0.0.0/8): errors need unicast sources no host owns (RFC 6791)",
            ),
            (
                "[siit]\npool6 = \"64:ff9b::/96\"\nrfc6791_v4 = \"0.0.0.0/0\"\n",
                "siit.rfc6791_v4 (line 9): 0.0.0.0/0 is the whole IPv4 space: errors need unicast sources no host owns (RFC 6791)",
            ),
            (
                "[siit]\npool6 = \"64:ff9b::/96\"\nrfc6791_v4 = \"100.64.0.4\"\n",
                "siit.rfc6791_v4 (line 9): 100.64.0.4/32 overlaps subscriber[0].ipv4 100.64.0.0/29",
            ),
            (
                "[siit]\npool6 = \"64:ff9b::/96\"\nrfc6791_v4 = \"203.0.113.0/24\"\n",
                "siit.rfc6791_v4 (line 9): 203.0.113.0/24 overlaps nat.pool 203.0.113.0/30",
            ),
            (
                "[siit]\npool6 = \"64:ff9b::/96\"\nrfc6791_v6 = \"ff02::1\"\n",
                "siit.rfc6791_v6 (line 9): ff02::1/128 is multicast (ff00::/8): errors need unicast sources no host owns (RFC 6791)",
            ),
            (
                "[siit]\npool6 = \"64:ff9b::/96\"\nrfc6791_v6 = \"::\"\n",
                "siit.rfc6791_v6 (line 9): ::/128 is unspecified (::): errors need unicast sources no host owns (RFC 6791)",
            ),
            (
                "[siit]\npool6 = \"64:ff9b::/96\"\nrfc6791_v6 = \"::/0\"\n",
                "siit.rfc6791_v6 (line 9): ::/0 is the whole IPv6 space: errors need unicast sources no host owns (RFC 6791)",
            ),
            (
                "[siit]\npool6 = \"64:ff9b::/96\"\nrfc6791_v6 = \"2001:db8:1:1::99\"\n",
                "siit.rfc6791_v6 (line 9): 2001:db8:1:1::99/128 overlaps subscriber[0].ipv6 2001:db8:1:1::/64",
            ),
            (
                "[siit]\n[[siit.eamt]]\nipv6 = \"2001:db8:1:1::9\"\nipv4 = \"224.0.0.9\"\n",
                "siit.eamt[0] (line 8): ipv4 224.0.0.9/32 is multicast (224.0.0.0/4): an EAMT entry maps unicast hosts",
            ),
            (
                "[siit]\n[[siit.eamt]]\nipv6 = \"ff05::9\"\nipv4 = \"198.51.100.9\"\n",
                "siit.eamt[0] (line 8): ipv6 ff05::9/128 is multicast (ff00::/8): an EAMT entry maps unicast hosts",
            ),
            (
                "[nat64]\nprefix = \"2001:db8:64::/96\"\n[siit]\n[[siit.eamt]]\nipv6 = \"2001:db8:64::5\"\nipv4 = \"198.51.100.5\"\n",
                "siit.eamt[0] (line 10): ipv6 2001:db8:64::5/128 is inside nat64.prefix 2001:db8:64::/96: packets to it are NAT64's, so the entry would never be used",
            ),
            (
                "[ipfix]\ncollector = \"192.0.2.9:4739\"\nnetns = \"../x\"\n",
                "ipfix.netns (line 9): \"../x\" is not a network namespace name: no '/'",
            ),
            (
                "[ipfix]\ncollector = \"192.0.2.9:4739\"\nnetns = \"..\"\n",
                "ipfix.netns (line 9): \"..\" is not a network namespace name: not \".\" or \"..\"",
            ),
        ];
        for (section, want) in cases {
            assert_eq!(refusal(section), want, "{section}");
        }
    }

    #[test]
    fn bad_values_name_their_key() {
        let (key, problem) = refused("[nat64]\nprefix = \"2001:db8:64::/80\"\n");
        assert_eq!(key, "nat64.prefix");
        assert!(problem.contains("RFC 6052"), "{problem}");
        let (key, problem) = refused("[nat64]\nprefix = \"2001:db8:64:0:ff00::/96\"\n");
        assert_eq!(key, "nat64.prefix");
        assert!(problem.contains("u octet"), "{problem}");
        assert_eq!(
            refused("[siit]\npool6 = \"2001:db8::/95\"\n").0,
            "siit.pool6"
        );
        assert_eq!(
            refused("[siit]\nlowest_ipv6_mtu = 1200\npool6 = \"64:ff9b::/96\"\n").0,
            "siit.lowest_ipv6_mtu"
        );
        let (key, problem) = refused(
            "[siit]\n[[siit.eamt]]\nipv6 = \"2001:db8::/124\"\nipv4 = \"198.51.100.0/24\"\n",
        );
        assert_eq!(key, "siit.eamt[0]");
        assert!(problem.contains("RFC 7757"), "{problem}");
        assert_eq!(
            refused(
                "[siit]\n[[siit.eamt]]\nipv6 = \"2001:db8::1\"\nipv4 = \"198.51.100.1\"\n[[siit.eamt]]\nipv6 = \"2001:db8::2\"\nipv4 = \"198.51.100.1\"\n"
            )
            .0,
            "siit.eamt"
        );
        assert_eq!(refused("[siit]\n").0, "siit");
        let (key, problem) = refused(
            "[nat]\npool = [\"203.0.113.1\"]\n[siit]\n[[siit.eamt]]\nipv6 = \"2001:db8::1\"\nipv4 = \"203.0.113.1\"\n",
        );
        assert_eq!(key, "siit.eamt[0]");
        assert!(problem.contains("nat.pool"), "{problem}");
        let (key, problem) = refused(
            "[siit]\npool6 = \"2001:db8:64::/96\"\n[nat64]\nprefix = \"2001:db8:64::/96\"\n",
        );
        assert_eq!(key, "nat64.prefix");
        assert!(problem.contains("siit.pool6"), "{problem}");
        let (key, problem) = refused(
            "[nat64]\nprefix = \"2001:db8:1::/48\"\n[[subscriber]]\nname = \"a\"\nipv6 = [\"2001:db8:1:1::/64\"]\n",
        );
        assert_eq!(key, "nat64.prefix");
        assert!(problem.contains("subscriber[0].ipv6"), "{problem}");
        assert_eq!(
            refused("[nat64]\nprefix = \"not an address\"\n").0,
            "nat64.prefix"
        );
    }
}
