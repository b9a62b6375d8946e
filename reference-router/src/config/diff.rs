//! What differs between the configuration a router runs and a new one, key
//! by key, and which differences a running router can take ([`Change::refusal`]).
//!
//! Both configurations are compared as TOML values, so every key is seen,
//! including keys added after this was written; a key this module does not
//! know to be live is refused (restart to change it). `[[subscriber]]` and
//! `[[subscriber_range]]` entries are matched by `name`, not by place: moving
//! an entry changes nothing, a new name is an entry added, a missing one an
//! entry removed.
//!
//! What applies live and what is refused is the table in the README's
//! "Reload" section; [`LIVE`] and [`Change::refusal`] are its source.

use super::{Allocation, Config, ConfigError};
use std::fmt;
use toml::Value;

/// One changed key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The key as a person reads it: `nat.timeouts.udp`,
    /// `subscriber["sub3"].rate_mbps`, `subscriber["sub4"]` (the whole entry).
    pub key: String,
    /// Where the key is in the new file (`subscriber[2].rate_mbps`), or in
    /// the old one for an entry removed: to find its line.
    pub place: String,
    /// The key's pattern for the rules: `subscriber[*].rate_mbps`.
    pattern: String,
    /// The old value as TOML (`None`: not set, or the entry is new).
    pub old: Option<String>,
    /// The new value as TOML (`None`: not set, or the entry is removed).
    pub new: Option<String>,
}

impl fmt::Display for Change {
    /// `KEY: OLD -> NEW`, with `(none)` for a value not set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        write!(
            f,
            "{}: {} -> {}",
            self.key,
            show(&self.old),
            show(&self.new)
        )
    }
}

/// The keys a running router takes (patterns; a trailing `.` covers a whole
/// section). Everything else is refused ([`Change::refusal`]).
pub const LIVE: &[&str] = &[
    "router.ipv4",
    "router.ipv6",
    "router.icmp_rate",
    "router.ra",
    "router.ra_interval",
    "router.rdnss",
    "nat.pool",
    "nat.mapping",
    "nat.filtering",
    "nat.hairpin",
    "nat.port_preservation",
    "nat.port_parity",
    "nat.ports_per_subscriber",
    "nat.sessions_per_subscriber",
    "nat.max_sessions",
    "nat.timeouts.udp",
    "nat.timeouts.tcp_established",
    "nat.timeouts.tcp_transitory",
    "nat.timeouts.icmp",
    "nat.timeouts.syn_hold",
    "nat.timeouts.port_reuse_delay",
    "nat.block_size",
    "nat.max_blocks",
    "nat.block_timeout",
    "wan.rate_mbps",
    "tunnels.",
    "firewall.",
    "shaper.",
    "metrics.",
    "fastpath.mode",
    "ipfix.collector",
    "ipfix.observation_domain",
    "ipfix.template_refresh",
    "ipfix.source",
    "ipfix.netns",
    "ipfix.sessions",
    "ipfix.interim",
    "ipfix.accounting",
    "ipfix.active_timeout",
    "ipfix.idle_timeout",
    "ipfix.max_flows",
    "subscriber[*]",
    "subscriber[*].open",
    "subscriber[*].open_ports",
    "subscriber[*].rate_mbps",
    "subscriber_range[*]",
    "subscriber_range[*].open",
    "subscriber_range[*].open_ports",
    "subscriber_range[*].rate_mbps",
];

/// Why a key outside [`LIVE`] is refused.
fn refusal(pattern: &str) -> String {
    let why = match pattern {
        "router.workers" => "the workers and their slices of the ports are set at start",
        "router.offload" => "the TUNs are opened with or without offload at start",
        "router.control_socket" => "the socket this reload came through stays where it is",
        "router.user" | "router.group" => "the router gave up its privileges at start",
        "router.log_format" => "the log's format is set at start",
        "nat.allocation" => "the allocation mode decides how every held port was given",
        "ipfix.queue" => "the queue towards the exporter is made at start",
        "ipfix.mappings" => "which NAT events are logged is set with the mappings at start",
        p if p.starts_with("takeover") => {
            "the takeover listener, its source and the slice it covers are set at start"
        }
        p if p.starts_with("wan.") => "the WAN device is opened at start",
        p if p.starts_with("subscriber[*].") || p.starts_with("subscriber_range[*].") => {
            "an existing device keeps its namespace, MTU, addresses and routes: remove the entry in one reload and add it (under another name, or in the next reload) to change them"
        }
        _ => "it is set at start",
    };
    format!("cannot change while the router runs: {why}; restart to change it")
}

impl Change {
    /// Why a running router refuses this change, if it does: the key is not
    /// live, or in deterministic mode (`old` runs it) the change would
    /// renumber inside addresses.
    pub fn refusal(&self, old: &Config) -> Option<String> {
        let live = LIVE
            .iter()
            .any(|p| self.pattern == *p || (p.ends_with('.') && self.pattern.starts_with(p)));
        if !live {
            return Some(refusal(&self.pattern));
        }
        let deterministic = old.nat.allocation == Allocation::Deterministic;
        if deterministic && matches!(self.pattern.as_str(), "nat.pool" | "nat.block_size") {
            return Some(
                "cannot change in deterministic mode: it would move every inside address's live port range and rewrite what the configuration records (RFC 7422)"
                    .into(),
            );
        }
        None
    }

    /// This change refused with `problem`, as an error naming its key and
    /// place.
    pub fn refused(&self, problem: String) -> ConfigError {
        ConfigError {
            key: self.place.clone(),
            line: None,
            problem: format!("{} ({self})", problem),
        }
    }

    /// Whether this is an entry added (`Some(true)`) or removed
    /// (`Some(false)`) rather than a key.
    pub fn entry(&self) -> Option<bool> {
        if !self.pattern.ends_with("[*]") {
            return None;
        }
        Some(self.old.is_none())
    }
}

/// Every changed key from `old` to `new`, in the order of the file's
/// sections.
pub fn changes(old: &Config, new: &Config) -> Vec<Change> {
    let (Ok(a), Ok(b)) = (Value::try_from(old), Value::try_from(new)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for array in ["subscriber", "subscriber_range"] {
        entries(array, a.get(array), b.get(array), &mut out);
    }
    let mut at_end = std::mem::take(&mut out);
    walk("", a.as_table(), b.as_table(), &mut out);
    out.append(&mut at_end);
    out
}

/// The changes between two tables at `prefix` (the arrays of entries apart).
fn walk(prefix: &str, a: Option<&toml::Table>, b: Option<&toml::Table>, out: &mut Vec<Change>) {
    let empty = toml::Table::new();
    let (a, b) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if prefix.is_empty() && (k == "subscriber" || k == "subscriber_range") {
            continue;
        }
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let (x, y) = (a.get(k), b.get(k));
        if x == y {
            continue;
        }
        if x.is_none_or(Value::is_table) && y.is_none_or(Value::is_table) {
            walk(
                &key,
                x.and_then(Value::as_table),
                y.and_then(Value::as_table),
                out,
            );
            continue;
        }
        out.push(Change {
            place: key.clone(),
            pattern: key.clone(),
            key,
            old: x.map(Value::to_string),
            new: y.map(Value::to_string),
        });
    }
}

/// The changes between two arrays of named entries: added, removed, and
/// keys changed in entries of the same name.
fn entries(array: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Change>) {
    let list = |v: Option<&Value>| -> Vec<toml::Table> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|e| e.as_table().cloned()).collect())
            .unwrap_or_default()
    };
    let (old, new) = (list(a), list(b));
    let name = |t: &toml::Table| {
        t.get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    for (i, entry) in new.iter().enumerate() {
        let key = format!("{array}[{:?}]", name(entry));
        match old.iter().find(|o| name(o) == name(entry)) {
            None => out.push(Change {
                key,
                place: format!("{array}[{i}]"),
                pattern: format!("{array}[*]"),
                old: None,
                new: Some(Value::Table(entry.clone()).to_string()),
            }),
            Some(before) => {
                let mut inner = Vec::new();
                walk("", Some(before), Some(entry), &mut inner);
                out.extend(inner.into_iter().map(|c| Change {
                    key: format!("{key}.{}", c.key),
                    place: format!("{array}[{i}].{}", c.place),
                    pattern: format!("{array}[*].{}", c.pattern),
                    ..c
                }));
            }
        }
    }
    for (i, entry) in old.iter().enumerate() {
        if !new.iter().any(|n| name(n) == name(entry)) {
            out.push(Change {
                key: format!("{array}[{:?}]", name(entry)),
                place: format!("{array}[{i}]"),
                pattern: format!("{array}[*]"),
                old: Some(Value::Table(entry.clone()).to_string()),
                new: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_toml(text).unwrap()
    }

    const BASE: &str = "[nat]\npool = [\"192.0.2.1\"]\n\
        [[subscriber]]\nname = \"a\"\nipv4 = [\"100.64.0.1\"]\n\
        [[subscriber]]\nname = \"b\"\nipv4 = [\"100.64.0.2\"]\n";

    fn lines(old: &str, new: &str) -> Vec<String> {
        changes(&config(old), &config(new))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn the_same_file_changes_nothing_and_moving_an_entry_neither() {
        assert!(lines(BASE, BASE).is_empty());
        let moved = "[[subscriber]]\nname = \"b\"\nipv4 = [\"100.64.0.2\"]\n\
            [[subscriber]]\nname = \"a\"\nipv4 = [\"100.64.0.1\"]\n[nat]\npool = [\"192.0.2.1\"]\n";
        assert!(lines(BASE, moved).is_empty());
        // A default written out is no change either.
        let explicit = format!("{BASE}[nat.timeouts]\nudp = 300\n")
            .replace("[nat.timeouts]", "[router]\nworkers = 0\n[nat.timeouts]");
        assert!(lines(BASE, &explicit).is_empty());
    }

    #[test]
    fn keys_entries_added_and_removed_are_named_with_old_and_new() {
        let new = "[nat]\npool = [\"192.0.2.1\", \"192.0.2.2\"]\nports_per_subscriber = 2048\n\
            [nat.timeouts]\nudp = 600\n\
            [[subscriber]]\nname = \"a\"\nipv4 = [\"100.64.0.1\"]\nrate_mbps = 10\n\
            [[subscriber]]\nname = \"c\"\nipv4 = [\"100.64.0.3\"]\n";
        assert_eq!(
            lines(BASE, new),
            [
                "nat.pool: [\"192.0.2.1/32\"] -> [\"192.0.2.1/32\", \"192.0.2.2/32\"]",
                "nat.ports_per_subscriber: 4096 -> 2048",
                "nat.timeouts.udp: 300 -> 600",
                "subscriber[\"a\"].rate_mbps: (none) -> 10",
                "subscriber[\"c\"]: (none) -> { ipv4 = [\"100.64.0.3/32\"], ipv6 = [], mtu = 1500, name = \"c\", open = false, open_ports = [] }",
                "subscriber[\"b\"]: { ipv4 = [\"100.64.0.2/32\"], ipv6 = [], mtu = 1500, name = \"b\", open = false, open_ports = [] } -> (none)",
            ]
        );
        let all = changes(&config(BASE), &config(new));
        assert_eq!(
            all.iter().map(|c| c.place.as_str()).collect::<Vec<_>>(),
            [
                "nat.pool",
                "nat.ports_per_subscriber",
                "nat.timeouts.udp",
                "subscriber[0].rate_mbps",
                "subscriber[1]",
                "subscriber[1]"
            ]
        );
        assert_eq!(
            all.iter().map(Change::entry).collect::<Vec<_>>(),
            [None, None, None, None, Some(true), Some(false)]
        );
        assert!(all.iter().all(|c| c.refusal(&config(BASE)).is_none()));
    }

    /// The law: a change is live exactly when its key is in [`LIVE`] (and
    /// not a deterministic renumbering); every other key is refused with a
    /// reason that says to restart.
    #[test]
    fn the_fast_path_turns_on_and_off_live_but_its_interfaces_need_a_restart() {
        let range = "[nat]\npool = [\"192.0.2.1\"]\n[[subscriber_range]]\nname = \"inside\"\n\
                     ipv4 = \"100.64.0.0/24\"\n[fastpath]\ninside = \"a0\"\noutside = \"c0\"\n";
        let on = format!("{range}mode = \"ebpf\"\n");
        let c = changes(&config(range), &config(&on));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].to_string(), "fastpath.mode: \"off\" -> \"ebpf\"");
        assert_eq!(c[0].refusal(&config(range)), None);
        let moved = on.replace("\"a0\"", "\"a1\"");
        let c = changes(&config(&on), &config(&moved));
        assert_eq!(c[0].place, "fastpath.inside");
        assert!(c[0].refusal(&config(&on)).unwrap().contains("restart"));
    }

    #[test]
    fn what_cannot_change_live_is_refused_with_its_key() {
        let refused = |new: &str| -> Vec<(String, String)> {
            changes(&config(BASE), &config(new))
                .iter()
                .filter_map(|c| Some((c.place.clone(), c.refusal(&config(BASE))?)))
                .collect()
        };
        let r = refused(&format!(
            "{BASE}[router]\nworkers = 3\noffload = false\ncontrol_socket = \"/run/x.sock\"\n\
             [wan]\nname = \"up\"\n[nat64]\n[ipfix]\nqueue = 100\n"
        ));
        let keys: Vec<&str> = r.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "ipfix.queue",
                "nat64.amend_udp_checksum_zero",
                "nat64.lowest_ipv6_mtu",
                "nat64.prefix",
                "router.control_socket",
                "router.offload",
                "router.workers",
                "wan.name"
            ]
        );
        assert!(r.iter().all(|(_, why)| why.contains("restart")), "{r:?}");
        let netns = BASE.replace("name = \"a\"\n", "name = \"a\"\nnetns = \"elsewhere\"\n");
        assert_eq!(refused(&netns)[0].0, "subscriber[0].netns");
        let det = |pool: &str| {
            format!(
                "[nat]\npool = [{pool}]\nallocation = \"deterministic\"\n[[subscriber]]\nname = \"a\"\nipv4 = [\"100.64.0.1\"]\n"
            )
        };
        let c = changes(
            &config(&det("\"192.0.2.1\"")),
            &config(&det("\"192.0.2.1\", \"192.0.2.2\"")),
        );
        assert!(
            c[0].refusal(&config(&det("\"192.0.2.1\"")))
                .unwrap()
                .contains("RFC 7422")
        );
    }
}
