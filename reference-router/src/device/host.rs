//! What a configuration needs of the machine it runs on, checked before any
//! device exists (`sixfold check --host`, `sixfold run`, a reload): every
//! network namespace it names exists and can be entered, `[ipfix] source`
//! is an address of the namespace the export leaves from, TUN devices can be
//! created (`/dev/net/tun`, `CAP_NET_ADMIN`) and none of its device names is
//! taken there already, and `[router] user` / `group` exist.
//!
//! Each problem is an error naming its key, as the device-free checks do.

use super::in_netns;
use crate::config::{Config, ConfigError};
use std::net::{IpAddr, UdpSocket};

/// `CAP_NET_ADMIN`'s bit in `/proc/self/status`'s `CapEff`.
const CAP_NET_ADMIN: u32 = 12;
/// `CAP_SYS_ADMIN`'s bit: entering another namespace (`setns`).
const CAP_SYS_ADMIN: u32 = 21;

fn problem(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        line: None,
        problem: problem.into(),
    }
}

/// Whether this process has capability `bit` in its effective set.
pub fn has_capability(bit: u32) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << bit) != 0)
}

/// Every problem `config` has on this machine. `held` says which devices
/// (name, namespace) this process holds already (a reload: they exist, and
/// are ours).
pub fn check(config: &Config, held: &dyn Fn(&str, Option<&str>) -> bool) -> Vec<ConfigError> {
    let mut out = Vec::new();
    namespaces(config, &mut out);
    devices(config, held, &mut out);
    if let Some(e) = ipfix_source(config) {
        out.push(e);
    }
    accounts(config, &mut out);
    out
}

/// Every `netns` key with the name it gives.
fn named_namespaces(config: &Config) -> Vec<(String, &str)> {
    let subscribers = config
        .subscriber
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("subscriber[{i}].netns"), &s.netns));
    let ranges = config
        .subscriber_range
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("subscriber_range[{i}].netns"), &r.netns));
    std::iter::once(("wan.netns".to_string(), &config.wan.netns))
        .chain(subscribers)
        .chain(ranges)
        .chain([
            ("metrics.netns".to_string(), &config.metrics.netns),
            ("ipfix.netns".to_string(), &config.ipfix.netns),
        ])
        .filter_map(|(key, ns)| Some((key, ns.as_deref()?)))
        .collect()
}

fn namespaces(config: &Config, out: &mut Vec<ConfigError>) {
    let named = named_namespaces(config);
    if !named.is_empty() && !has_capability(CAP_SYS_ADMIN) {
        out.push(problem(
            &named[0].0,
            "entering a network namespace needs CAP_SYS_ADMIN, which this process lacks (run as root, or under the unit that grants it)",
        ));
        return;
    }
    for (key, ns) in named {
        let path = std::path::Path::new("/run/netns").join(ns);
        if !path.exists() {
            out.push(problem(
                key,
                format!("network namespace {ns:?} does not exist ({} is missing; `ip netns add {ns}` makes it)", path.display()),
            ));
        } else if let Err(e) = in_netns(ns, || Ok(())) {
            out.push(problem(
                key,
                format!("network namespace {ns:?} cannot be entered: {e}"),
            ));
        }
    }
}

/// Every device the configuration opens: (key, name, namespace).
fn named_devices(config: &Config) -> Vec<(String, &str, Option<&str>)> {
    let mut all = vec![(
        "wan.name".to_string(),
        config.wan.name.as_str(),
        config.wan.netns.as_deref(),
    )];
    for (i, s) in config.subscriber.iter().enumerate() {
        all.push((format!("subscriber[{i}].name"), &s.name, s.netns.as_deref()));
    }
    for (i, r) in config.subscriber_range.iter().enumerate() {
        all.push((
            format!("subscriber_range[{i}].name"),
            &r.name,
            r.netns.as_deref(),
        ));
    }
    all
}

fn devices(config: &Config, held: &dyn Fn(&str, Option<&str>) -> bool, out: &mut Vec<ConfigError>) {
    let wanted: Vec<_> = named_devices(config)
        .into_iter()
        .filter(|(_, name, ns)| !held(name, *ns))
        .collect();
    if wanted.is_empty() {
        return;
    }
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
    {
        out.push(problem(
            &wanted[0].0,
            format!("TUN devices cannot be created: /dev/net/tun: {e}"),
        ));
        return;
    }
    if !has_capability(CAP_NET_ADMIN) {
        out.push(problem(
            &wanted[0].0,
            "TUN devices cannot be created: this process lacks CAP_NET_ADMIN (run as root, or under the unit that grants it)",
        ));
        return;
    }
    for (key, name, ns) in wanted {
        let exists = |ns: Option<&str>| -> std::io::Result<bool> {
            let look = || Ok(nix::net::if_::if_nametoindex(name).is_ok());
            match ns {
                Some(ns) => in_netns(ns, look),
                None => look(),
            }
        };
        // A missing namespace is reported above.
        if exists(ns).unwrap_or(false) {
            let place = ns.map_or("this namespace".to_string(), |n| format!("namespace {n:?}"));
            out.push(problem(
                key,
                format!("a device named {name:?} exists already in {place}: another router, or something else, has it"),
            ));
        }
    }
}

/// `[ipfix] source` must be an address of the export's namespace.
fn ipfix_source(config: &Config) -> Option<ConfigError> {
    let x = &config.ipfix;
    let source: IpAddr = x.source?;
    x.collector?;
    let bind = || UdpSocket::bind((source, 0)).map(drop);
    let bound = match &x.netns {
        Some(ns) if std::path::Path::new("/run/netns").join(ns).exists() => in_netns(ns, bind),
        Some(_) => return None,
        None => bind(),
    };
    let place = x
        .netns
        .as_ref()
        .map_or("this namespace".to_string(), |n| format!("namespace {n:?}"));
    bound.err().map(|e| {
        problem(
            "ipfix.source",
            format!("{source} is not an address of {place}: {e}"),
        )
    })
}

fn accounts(config: &Config, out: &mut Vec<ConfigError>) {
    let r = &config.router;
    if let Some(user) = &r.user {
        match nix::unistd::User::from_name(user) {
            Ok(Some(_)) => {}
            Ok(None) => out.push(problem(
                "router.user",
                format!("no user {user:?} on this machine"),
            )),
            Err(e) => out.push(problem("router.user", format!("{user:?}: {e}"))),
        }
    }
    if let Some(group) = &r.group {
        match nix::unistd::Group::from_name(group) {
            Ok(Some(_)) => {}
            Ok(None) => out.push(problem(
                "router.group",
                format!("no group {group:?} on this machine"),
            )),
            Err(e) => out.push(problem("router.group", format!("{group:?}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_namespace_and_a_foreign_source_are_named() {
        let config = Config::from_toml(
            "[wan]\nnetns = \"sixfold-no-such-namespace\"\n\
             [ipfix]\ncollector = \"127.0.0.1:4739\"\nsource = \"192.0.2.77\"\n",
        )
        .unwrap();
        let found = check(&config, &|_, _| false);
        let keys: Vec<&str> = found.iter().map(|e| e.key.as_str()).collect();
        // Without root the namespace check says CAP_SYS_ADMIN is missing;
        // with it, that the namespace does not exist. Either way: its key.
        assert_eq!(keys.first(), Some(&"wan.netns"), "{found:?}");
        assert!(keys.contains(&"ipfix.source"), "{found:?}");
        let source = found.iter().find(|e| e.key == "ipfix.source").unwrap();
        assert!(
            source
                .problem
                .starts_with("192.0.2.77 is not an address of this namespace"),
            "{source:?}"
        );
    }

    #[test]
    fn a_user_that_does_not_exist_is_named() {
        let config = Config::from_toml("[router]\nuser = \"sixfold-nobody-here\"\n").unwrap();
        let found = check(&config, &|_, _| true);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "router.user");
    }
}
