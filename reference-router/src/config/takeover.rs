//! `[takeover]`: this box is the backup of one other box (its predecessor in
//! a ring of boxes) and carries that box's subscribers' connections when it
//! fails, with the mappings the predecessor exported (IPFIX natEvent 8/9, its
//! `[ipfix] mappings = true`) — no synchronisation protocol of its own.
//!
//! `slice` is the predecessor's pool (its `[nat] pool`): with deterministic
//! allocation (RFC 7422) and the same subscribers, each of the predecessor's
//! subscribers' public address and port range follows from it, and a fed
//! mapping outside that range is refused. `listen` is where its IPFIX
//! arrives; `from` is the predecessor's export source address (its `[ipfix]
//! source`): a datagram from any other address is counted and ignored.
//! Only with `allocation = "deterministic"` and endpoint-independent mapping:
//! the ranges must follow from the configuration, and a BIB entry is an
//! endpoint-independent mapping.

use super::validate::{err, overlaps4, special_v4};
use super::{Allocation, Config, ConfigError, Mapping};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};

/// The takeover of a predecessor's slice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Takeover {
    /// The predecessor's pool slice (its `[nat] pool`).
    #[serde(deserialize_with = "super::links::nets")]
    pub slice: Vec<Ipv4Net>,
    /// Where the predecessor's IPFIX arrives (`"ADDR:PORT"`).
    pub listen: Option<SocketAddr>,
    /// The predecessor's export source address: IPFIX from anywhere else is
    /// refused (counted, `takeover.feed_foreign`).
    pub from: Option<IpAddr>,
}

impl Takeover {
    /// The predecessor's configuration as far as the arithmetic goes: this
    /// one with the slice as the pool (the inside ranges are every box's).
    pub fn predecessor(&self, config: &Config) -> Config {
        let mut c = config.clone();
        c.nat.pool = self.slice.clone();
        c.takeover = None;
        c
    }
}

/// Checks `[takeover]`, when present.
pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    let Some(t) = &config.takeover else {
        return Ok(());
    };
    if config.nat.allocation != Allocation::Deterministic {
        return Err(err(
            "nat.allocation",
            "[takeover] needs \"deterministic\": the predecessor's subscribers' ranges must follow from the configuration (RFC 7422)",
        ));
    }
    if config.nat.mapping != Mapping::Eim {
        return Err(err(
            "nat.mapping",
            "[takeover] needs \"eim\": the predecessor's feed (natEvent 8/9) describes endpoint-independent mappings",
        ));
    }
    if t.slice.is_empty() {
        return Err(err(
            "takeover.slice",
            "missing: the predecessor's pool slice (its nat.pool)",
        ));
    }
    if let Some(net) = t.slice.iter().find(|n| special_v4(n).is_some()) {
        let what = special_v4(net).unwrap_or_default();
        return Err(err(
            "takeover.slice",
            format!("{net} is {what}: a slice holds public unicast addresses"),
        ));
    }
    let mine = t.slice.iter().find_map(|s| {
        config
            .nat
            .pool
            .iter()
            .find(|p| overlaps4(s, p))
            .map(|p| (s, p))
    });
    if let Some((s, p)) = mine {
        return Err(err(
            "takeover.slice",
            format!("{s} overlaps this box's own nat.pool {p}: the slice is the predecessor's"),
        ));
    }
    let Some(listen) = t.listen else {
        return Err(err(
            "takeover.listen",
            "missing: the ADDR:PORT the predecessor's IPFIX arrives at",
        ));
    };
    if listen.port() == 0 || listen.ip().is_unspecified() {
        return Err(err(
            "takeover.listen",
            format!("{listen}: needs an address and a port"),
        ));
    }
    match t.from {
        None => Err(err(
            "takeover.from",
            "missing: the predecessor's IPFIX source address (its ipfix.source)",
        )),
        Some(from) if from.is_ipv4() != listen.is_ipv4() || from.is_unspecified() => Err(err(
            "takeover.from",
            format!("{from} cannot send to {listen}: an address of the same family"),
        )),
        Some(_) => validate_slice_fits(config, t),
    }
}

/// The predecessor's slice holds every inside address's range, as its own
/// validation asked of its pool.
fn validate_slice_fits(config: &Config, t: &Takeover) -> Result<(), ConfigError> {
    let predecessor = t.predecessor(config);
    super::ipfix::validate_allocation(&predecessor).map_err(|e| {
        err(
            "takeover.slice",
            format!("as the predecessor's pool: {}", e.problem),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[nat]\npool = [\"203.0.113.64/26\"]\nallocation = \"deterministic\"\nblock_size = 2016\n[[subscriber_range]]\nname = \"inside\"\nipv4 = \"100.64.1.0/24\"\n";

    fn problems(text: &str) -> Vec<(String, Option<usize>, String)> {
        match Config::check_toml(text, None) {
            Ok(_) => Vec::new(),
            Err(all) => all
                .into_iter()
                .map(|e| (e.key, e.line, e.problem))
                .collect(),
        }
    }

    #[test]
    fn a_whole_section_is_read() {
        let c = Config::from_toml(&format!(
            "{BASE}[takeover]\nslice = [\"203.0.113.0/26\"]\nlisten = \"10.1.2.2:4740\"\nfrom = \"10.1.1.2\"\n"
        ))
        .unwrap();
        let t = c.takeover.as_ref().unwrap();
        assert_eq!(t.slice, vec!["203.0.113.0/26".parse::<Ipv4Net>().unwrap()]);
        assert_eq!(t.listen, Some("10.1.2.2:4740".parse().unwrap()));
        assert_eq!(t.from, Some("10.1.1.2".parse().unwrap()));
        assert_eq!(t.predecessor(&c).nat.pool, t.slice);
        assert!(Config::from_toml(BASE).unwrap().takeover.is_none());
    }

    #[test]
    fn every_mistake_names_its_key_and_line() {
        let ok = "[takeover]\nslice = [\"203.0.113.0/26\"]\nlisten = \"10.1.2.2:4740\"\nfrom = \"10.1.1.2\"\n";
        assert_eq!(problems(&format!("{BASE}{ok}")), vec![]);
        let dynamic = format!("{}{ok}", BASE.replace("deterministic", "dynamic"));
        let p = problems(&dynamic);
        assert_eq!(
            (p[0].0.as_str(), p[0].1),
            ("nat.allocation", Some(3)),
            "{p:?}"
        );
        let block = format!("{}{ok}", BASE.replace("deterministic", "block"));
        assert_eq!(problems(&block)[0].0, "nat.allocation");
        let adm = format!(
            "{}{ok}",
            BASE.replace("[nat]\n", "[nat]\nmapping = \"adm\"\n")
        );
        let p = problems(&adm);
        assert_eq!((p[0].0.as_str(), p[0].1), ("nat.mapping", Some(2)), "{p:?}");
        let cases = [
            ("slice = []\n", "takeover.slice", "missing"),
            (
                "slice = [\"203.0.113.64/27\"]\n",
                "takeover.slice",
                "overlaps",
            ),
            (
                "slice = [\"224.0.0.0/26\"]\n",
                "takeover.slice",
                "public unicast",
            ),
            (
                "slice = [\"203.0.113.0/31\"]\n",
                "takeover.slice",
                "as the predecessor's pool",
            ),
            (
                "listen = \"0.0.0.0:4740\"\n",
                "takeover.listen",
                "address and a port",
            ),
            ("from = \"2001:db8::1\"\n", "takeover.from", "same family"),
            ("slise = []\n", "takeover.slise", "unknown field"),
        ];
        for (line, key, says) in cases {
            // The faulty line replaces its key's line of `ok`, or comes first.
            let name = line.split(' ').next().unwrap();
            let mut section: Vec<&str> = ok
                .lines()
                .skip(1)
                .filter(|l| !l.starts_with(name))
                .collect();
            section.insert(0, line.trim_end());
            let text = format!("{BASE}[takeover]\n{}\n", section.join("\n"));
            let p = problems(&text);
            assert_eq!(p.len(), 1, "{line}: {p:?}");
            assert_eq!((p[0].0.as_str(), p[0].1), (key, Some(9)), "{line}: {p:?}");
            assert!(p[0].2.contains(says), "{line}: {p:?}");
        }
        let p = problems(&format!("{BASE}[takeover]\nslice = [\"203.0.113.0/26\"]\n"));
        assert_eq!(p[0].0, "takeover.listen");
        let p = problems(&format!(
            "{BASE}[takeover]\nslice = [\"203.0.113.0/26\"]\nlisten = \"10.1.2.2:4740\"\n"
        ));
        assert_eq!(p[0].0, "takeover.from");
    }
}

#[cfg(test)]
mod reload {
    use super::super::diff::changes;
    use super::*;

    /// A reload leaves `[takeover]` and `ipfix.mappings` as the router
    /// started with them: a change to either is refused, naming it.
    #[test]
    fn a_reload_refuses_to_change_the_takeover() {
        let base = "[nat]\npool = [\"203.0.113.64/26\"]\nallocation = \"deterministic\"\nblock_size = 2016\n[[subscriber_range]]\nname = \"inside\"\nipv4 = \"100.64.1.0/24\"\n";
        let section = "[takeover]\nslice = [\"203.0.113.0/26\"]\nlisten = \"10.1.2.2:4740\"\nfrom = \"10.1.1.2\"\n";
        let old = Config::from_toml(&format!("{base}{section}")).unwrap();
        let new = Config::from_toml(&format!(
            "{base}{}[ipfix]\nmappings = true\n",
            section.replace("10.1.1.2", "10.1.3.2")
        ))
        .unwrap();
        let refused: Vec<(String, String)> = changes(&old, &new)
            .iter()
            .filter_map(|c| Some((c.place.clone(), c.refusal(&old)?)))
            .collect();
        let keys: Vec<&str> = refused.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["ipfix.mappings", "takeover.from"]);
        assert!(refused[1].1.contains("takeover listener"), "{refused:?}");
        let gone = Config::from_toml(base).unwrap();
        assert!(
            changes(&old, &gone)
                .iter()
                .all(|c| c.refusal(&old).is_some())
        );
    }
}
