//! Router configuration: TOML with a default for every key, validated before use.
//!
//! [`Config::from_toml`] rejects unknown keys (with the key's name and position, from
//! the TOML parser) and every value that the RFCs forbid or that cannot work, with an
//! error naming the key: `nat.timeouts.udp = 60: must be at least 120 s (RFC 4787 REQ-5)`.
//!
//! ```
//! let config = sixfold_router::Config::from_toml(r#"
//!     [nat]
//!     pool = ["203.0.113.1", "198.51.100.16/30"]
//!     filtering = "eif"
//!     [[subscriber]]
//!     name = "sub1"
//!     ipv4 = ["100.64.0.11"]
//! "#).unwrap();
//! // A /30 has two usable addresses.
//! assert_eq!(config.nat.pool_addresses().len(), 3);
//! ```

mod check;
pub mod diff;
mod fastpath;
mod ipfix;
mod links;
pub(crate) mod locate;
mod metrics;
mod nat;
mod nets;
mod policy;
mod siit;
mod takeover;
mod validate;

pub use fastpath::{FastPath, FastPathHook, FastPathMode, MAX_FLOWS};
pub use ipfix::Ipfix;
pub use links::{
    DEFAULT_CONTROL_SOCKET, LogFormat, RouterSection, Subscriber, SubscriberRange, Wan,
};
pub use metrics::Metrics;
pub(crate) use nat::validate_allocation;
pub use nat::{Allocation, BLOCK_PORTS, Filtering, Mapping, Nat, Timeouts};
pub use policy::{Firewall, OpenPort, Scheduling, Shaper, Tunnels};
use serde::{Deserialize, Serialize};
pub(crate) use siit::nat64_prefix;
pub use siit::{EamtEntry, Nat64, Siit};
use std::fmt;
pub use takeover::Takeover;

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The router's own addresses and control socket.
    pub router: RouterSection,
    /// The IPv4 NAT.
    pub nat: Nat,
    /// The uplink.
    pub wan: Wan,
    /// Transition-tunnel blocking.
    pub tunnels: Tunnels,
    /// The IPv6 firewall.
    pub firewall: Firewall,
    /// How the egress shapers schedule the families.
    pub shaper: Shaper,
    /// The metrics endpoint.
    pub metrics: Metrics,
    /// The subscribers, in order: the first is subscriber 0.
    pub subscriber: Vec<Subscriber>,
    /// Ranges of subscribers on one TUN each; their ids follow the
    /// `[[subscriber]]` entries', range by range.
    pub subscriber_range: Vec<SubscriberRange>,
    /// Stateless IPv4/IPv6 translation (RFC 7915), when the section is present.
    pub siit: Option<Siit>,
    /// Stateful NAT64 (RFC 6146), when the section is present.
    pub nat64: Option<Nat64>,
    /// IPFIX export: NAT events and flow accounting.
    pub ipfix: Ipfix,
    /// The backup of a predecessor's slice, fed by its NAT44 BIB events, when
    /// the section is present.
    pub takeover: Option<Takeover>,
    /// The in-kernel fast path of a box between two interfaces.
    pub fastpath: FastPath,
}

/// A configuration that cannot be used: which key, where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The key, as written in TOML (`nat.timeouts.udp`, `subscriber[2].ipv4`), or
    /// `line N` where the parser could not tell one.
    pub key: String,
    /// The line (1-based) of the key in the text, when read from text.
    pub line: Option<usize>,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) if !self.key.starts_with("line ") => {
                write!(f, "{} (line {line}): {}", self.key, self.problem)
            }
            _ => write!(f, "{}: {}", self.key, self.problem),
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// This error with the line of its key in `text` (the file it came
    /// from), unless it has one.
    pub fn located(self, text: &str) -> ConfigError {
        ConfigError {
            line: self.line.or_else(|| locate::line_of(text, &self.key)),
            ..self
        }
    }
}

impl Config {
    /// The id of the first subscriber of range `r` (ids after the
    /// `[[subscriber]]` entries, range by range).
    pub fn range_first_id(&self, r: usize) -> u64 {
        self.subscriber.len() as u64
            + self.subscriber_range[..r.min(self.subscriber_range.len())]
                .iter()
                .map(SubscriberRange::len)
                .sum::<u64>()
    }

    /// The ranges with the id of each one's first subscriber, and how many it
    /// has.
    pub fn ranges(&self) -> impl Iterator<Item = (u32, u32, &SubscriberRange)> + '_ {
        self.subscriber_range
            .iter()
            .enumerate()
            .map(|(r, range)| (self.range_first_id(r) as u32, range.len() as u32, range))
    }

    /// Subscriber `id`'s name: its `[[subscriber]]`'s, or its range's with its
    /// address ([`SubscriberRange::subscriber_name`]).
    pub fn subscriber_name(&self, id: u32) -> Option<String> {
        if let Some(s) = self.subscriber.get(id as usize) {
            return Some(s.name.clone());
        }
        (0..self.subscriber_range.len()).find_map(|r| {
            let i = u64::from(id).checked_sub(self.range_first_id(r))?;
            let range = &self.subscriber_range[r];
            (i < range.len()).then(|| range.subscriber_name(i as u32))
        })
    }

    /// Subscribers in all: the `[[subscriber]]` entries and every range's.
    pub fn subscriber_count(&self) -> u64 {
        self.range_first_id(self.subscriber_range.len())
    }

    /// Parses and validates TOML: the first problem, with its line.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Config::check_toml(text, None).map_err(|mut all| all.remove(0))
    }

    /// Parses TOML and checks every value: every problem the file has, each
    /// with its key and line ([`Config::problems`]); with `workers` (the
    /// worker threads the router runs) also the checks that depend on them.
    /// The one validator of `sixfold check`, `sixfold run` and a reload.
    pub fn check_toml(text: &str, workers: Option<u16>) -> Result<Config, Vec<ConfigError>> {
        let config = Config::parse_unchecked(text).map_err(|e| vec![e])?;
        let problems: Vec<ConfigError> = config
            .problems(workers)
            .into_iter()
            .map(|e| e.located(text))
            .collect();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// Parses TOML without checking its values: only a syntax error, an
    /// unknown key or a value of the wrong type is refused (with its line).
    pub fn parse_unchecked(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let key = match line {
                Some(l) => locate::key_at(text, l).unwrap_or_else(|| format!("line {l}")),
                None => "config".to_string(),
            };
            ConfigError {
                key,
                line,
                problem: e.message().to_string(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sixfold_rewrite::IpProtocol;
    use std::net::Ipv4Addr;

    #[test]
    fn empty_text_is_the_default() {
        let config = Config::from_toml("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.nat.mapping, Mapping::Eim);
        assert_eq!(config.nat.filtering, Filtering::Apdf);
        assert!(config.nat.hairpin);
        assert_eq!(config.nat.ports_per_subscriber, 4096);
        assert_eq!(config.nat.timeouts.tcp_established, 7440);
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::from_toml("[nat.timeouts]\nudp = 60\n").unwrap_err();
        assert_eq!(e.key, "nat.timeouts.udp");
        assert!(e.problem.contains("at least 120"), "{e}");
        // No default pool: an IPv4 subscriber needs one, an empty one is
        // none, and an IPv6-only router needs none.
        let e = Config::from_toml(
            "[nat]\npool = []\n[[subscriber]]\nname = \"a\"\nipv4 = [\"100.64.0.1\"]\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "nat.pool (line 2): missing: subscriber[0] (\"a\") has IPv4 addresses, and the NAT needs at least one public address (there is no default pool)"
        );
        let e = Config::from_toml("[[subscriber_range]]\nname = \"r\"\nipv4 = \"100.64.0.0/30\"\n")
            .unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("nat.pool", None));
        assert!(e.problem.contains("subscriber_range[0] (\"r\")"), "{e}");
        let e = Config::from_toml("[nat64]\n").unwrap_err();
        assert!(e.problem.contains("[nat64] translates to IPv4"), "{e}");
        Config::from_toml("[[subscriber]]\nname = \"a\"\nipv6 = [\"2001:db8::/64\"]\n").unwrap();
        let e = Config::from_toml("[[subscriber]]\nname = \"a\"\n[[subscriber]]\nname = \"a\"\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "subscriber[1].name (line 4): \"a\" is used twice"
        );
        let e = Config::from_toml(
            "[nat]\npool = [\"203.0.113.1\"]\n[[subscriber]]\nname = \"a\"\nipv4 = [\"203.0.113.0/24\"]\n",
        )
        .unwrap_err();
        assert_eq!(e.key, "subscriber[0].ipv4");
    }

    #[test]
    fn unknown_keys_and_bad_values_say_where() {
        let e = Config::from_toml("[nat]\nmaping = \"eim\"\n").unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("nat.maping", Some(2)));
        assert!(e.problem.contains("maping"), "{e}");
        let e = Config::from_toml("[nat]\nfiltering = \"full-cone\"\n").unwrap_err();
        assert!(e.problem.contains("full-cone"), "{e}");
    }

    #[test]
    fn metrics_endpoint_is_off_unless_named_and_checked_when_named() {
        assert_eq!(Config::default().metrics.listen, None);
        let c = Config::from_toml(
            "[metrics]\nlisten = \"[::1]:9108\"\nnetns = \"isp-wan\"\nper_subscriber = true\n",
        )
        .unwrap();
        assert_eq!(c.metrics.listen, Some("[::1]:9108".parse().unwrap()));
        assert_eq!(c.metrics.netns.as_deref(), Some("isp-wan"));
        let e = Config::from_toml("[metrics]\nlisten = \"127.0.0.1:0\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "metrics.listen (line 2): 127.0.0.1:0: port 0 is no port a scraper can be told"
        );
        let e = Config::from_toml("[metrics]\nlisten = \"localhost:9108\"\n").unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("metrics.listen", Some(2)));
        let e = Config::from_toml("[metrics]\nper_subscriber = true\n").unwrap_err();
        assert_eq!(e.key, "metrics.listen");
        let e = Config::from_toml("[metrics]\nlisten = \"127.0.0.1:9108\"\nnetns = \"../x\"\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "metrics.netns (line 3): \"../x\" is not a network namespace name: no '/'"
        );
        let e = Config::from_toml("[wan]\nnetns = \"..\"\n").unwrap_err();
        assert_eq!(e.key, "wan.netns");
    }

    #[test]
    fn firewall_defaults_and_open_ports() {
        let c = Config::from_toml(
            "[[subscriber]]\nname = \"a\"\nopen_ports = [\"tcp/22\", \"udp/60000-60100\"]\n",
        )
        .unwrap();
        assert!(c.firewall.enabled && c.firewall.ipsec && c.firewall.inbound_echo);
        assert_eq!(c.firewall.filtering, Filtering::Apdf);
        let ports = &c.subscriber[0].open_ports;
        assert_eq!(
            ports,
            &[
                OpenPort {
                    protocol: IpProtocol::Tcp,
                    first: 22,
                    last: 22
                },
                OpenPort {
                    protocol: IpProtocol::Udp,
                    first: 60000,
                    last: 60100
                }
            ]
        );
        assert_eq!(ports[1].to_string(), "udp/60000-60100");
        assert!(ports[1].contains(60100) && !ports[1].contains(60101));
        for bad in [
            "\"sctp/1\"",
            "\"tcp/0\"",
            "\"tcp/9-8\"",
            "\"tcp/70000\"",
            "\"22\"",
        ] {
            let e = Config::from_toml(&format!(
                "[[subscriber]]\nname = \"a\"\nopen_ports = [{bad}]\n"
            ))
            .unwrap_err();
            assert_eq!(
                (e.key.as_str(), e.line),
                ("subscriber[0].open_ports", Some(3)),
                "{bad}: {e}"
            );
        }
    }

    /// The key each bad value is refused under.
    fn refused(toml: &str) -> String {
        Config::from_toml(toml).unwrap_err().key
    }

    #[test]
    fn a_huge_pool_is_refused_before_it_is_listed() {
        // 2^32 addresses would take minutes and gigabytes to list.
        let e = Config::from_toml("[nat]\npool = [\"0.0.0.0/0\"]\n").unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("nat.pool", Some(2)));
        assert!(e.problem.contains("4294967294 addresses"), "{e}");
        assert_eq!(refused("[nat]\npool = [\"10.0.0.0/11\"]\n"), "nat.pool");
        // 2^20 exactly (a /12 less its network and broadcast, plus two) is fine.
        Config::from_toml("[nat]\npool = [\"10.0.0.0/12\", \"192.0.2.1\", \"192.0.2.2\"]\n")
            .unwrap();
    }

    #[test]
    fn pool_addresses_must_be_public_unicast_and_listed_once() {
        for bad in [
            "127.0.0.1",
            "224.0.0.5",
            "255.255.255.255",
            "0.0.0.0",
            "240.0.0.0/30",
        ] {
            let e = Config::from_toml(&format!("[nat]\npool = [\"{bad}\"]\n")).unwrap_err();
            assert_eq!(e.key, "nat.pool", "{bad}: {e}");
        }
        let e = Config::from_toml("[nat]\npool = [\"192.0.2.0/24\", \"192.0.2.7\"]\n").unwrap_err();
        assert_eq!(
            e.problem,
            "192.0.2.7/32 overlaps 192.0.2.0/24: an address is listed twice"
        );
        // A subscriber's address in the pool.
        let e = Config::from_toml(
            "[nat]\npool = [\"100.64.0.0/30\"]\n[[subscriber]]\nname = \"a\"\nipv4 = [\"100.64.0.1\"]\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "subscriber[0].ipv4 (line 5): 100.64.0.1/32 overlaps nat.pool 100.64.0.0/30"
        );
    }

    #[test]
    fn subscriber_prefixes_must_be_one_subscribers() {
        let sub = |field: &str| format!("[[subscriber]]\nname = \"a\"\n{field}\n");
        assert_eq!(refused(&sub("ipv6 = [\"::/0\"]")), "subscriber[0].ipv6");
        assert_eq!(
            refused(&sub("ipv6 = [\"fe80::/64\"]")),
            "subscriber[0].ipv6"
        );
        assert_eq!(
            refused(&sub("ipv6 = [\"ff02::/64\"]")),
            "subscriber[0].ipv6"
        );
        assert_eq!(
            refused(&sub("ipv4 = [\"0.0.0.0/1\"]")),
            "subscriber[0].ipv4"
        );
        assert_eq!(
            refused(&sub("ipv4 = [\"127.0.0.2\"]")),
            "subscriber[0].ipv4"
        );
        let many: Vec<String> = (0..17)
            .map(|k| format!("\"2001:db8:{k:x}::/64\""))
            .collect();
        let e = Config::from_toml(&sub(&format!("ipv6 = [{}]", many.join(", ")))).unwrap_err();
        assert_eq!(e.key, "subscriber[0].ipv6");
        // Overlaps between subscribers name both, keyed by the later one.
        let e = Config::from_toml(
            "[[subscriber]]\nname = \"a\"\nipv6 = [\"2001:db8::/48\"]\n[[subscriber]]\nname = \"b\"\nipv6 = [\"2001:db8:0:7::/64\"]\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "subscriber[1].ipv6 (line 6): 2001:db8:0:7::/64 overlaps subscriber[0].ipv6 2001:db8::/48"
        );
    }

    #[test]
    fn interface_names_linux_would_refuse_are_refused() {
        for bad in [
            "lo",
            "..",
            ".",
            "a:b",
            "a b",
            "tab\\there",
            "sixteen-bytes-xx",
            "",
        ] {
            let e = Config::from_toml(&format!("[wan]\nname = \"{bad}\"\n")).unwrap_err();
            assert_eq!(e.key, "wan.name", "{bad:?}: {e}");
        }
        assert_eq!(
            refused("[wan]\nname = \"up\"\n[[subscriber]]\nname = \"up\"\n"),
            "subscriber[0].name"
        );
        Config::from_toml("[wan]\nname = \"fifteen-bytes-x\"\n").unwrap();
    }

    #[test]
    fn pool_is_non_contiguous_and_counted() {
        let c =
            Config::from_toml("[nat]\npool = [\"192.0.2.7/32\", \"198.51.100.0/30\"]\n").unwrap();
        let a = c.nat.pool_addresses();
        assert_eq!(
            a,
            ["192.0.2.7", "198.51.100.1", "198.51.100.2"].map(|s| s.parse::<Ipv4Addr>().unwrap())
        );
    }
}
