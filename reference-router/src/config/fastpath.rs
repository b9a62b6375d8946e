//! `[fastpath]`: the in-kernel fast path of a box between two interfaces
//! (issue 27). The router installs each established TCP/UDP NAT44 session of
//! a `[[subscriber_range]]` subscriber into an eBPF program (XDP or TC
//! clsact ingress: `hook`) on `inside` and `outside`, which then forwards the session's packets itself; everything
//! else takes the TUN path as before. Checked here, with the rest of the
//! configuration ([`validate`]): only boxes whose subscribers all come from
//! ranges can use it.

use super::check::{err, interface_name, netns_name};
use super::{Config, ConfigError};
use serde::{Deserialize, Serialize};

/// Whether the fast path runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FastPathMode {
    /// Every packet takes the TUN path (the default).
    #[default]
    Off,
    /// The XDP program on `inside` and `outside` forwards established flows.
    Ebpf,
}

/// Where the program sees packets: both hooks run the same code, with the
/// same maps, rules and counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FastPathHook {
    /// XDP, in the driver, before the kernel builds an skb (the default): one
    /// MTU frame at a time, and on a veth only frames with complete
    /// checksums can be redirected (see docs/fastpath.md).
    #[default]
    Xdp,
    /// TC (clsact) ingress: the skb, GSO super-packets whole and partial
    /// checksums updated for what they are, so a local sender's offloads may
    /// stay on.
    Tc,
}

impl FastPathHook {
    /// Its name in the configuration: `"xdp"` or `"tc"`.
    pub fn name(self) -> &'static str {
        match self {
            FastPathHook::Xdp => "xdp",
            FastPathHook::Tc => "tc",
        }
    }
}

/// The `[fastpath]` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FastPath {
    /// `"off"` or `"ebpf"`.
    pub mode: FastPathMode,
    /// `"xdp"` or `"tc"`: where the program is attached.
    pub hook: FastPathHook,
    /// The interface facing the subscribers (the access side).
    pub inside: Option<String>,
    /// The interface facing the core (the WAN side).
    pub outside: Option<String>,
    /// The network namespace both interfaces are in (none: the router's own).
    pub netns: Option<String>,
    /// Flows per family the program's maps hold; a session beyond them stays
    /// on the TUN path (counted as `fastpath.install_failed`).
    pub max_flows: u32,
}

impl Default for FastPath {
    fn default() -> FastPath {
        FastPath {
            mode: FastPathMode::Off,
            hook: FastPathHook::Xdp,
            inside: None,
            outside: None,
            netns: None,
            max_flows: 262_144,
        }
    }
}

impl FastPath {
    /// Whether the fast path is on.
    pub fn on(&self) -> bool {
        self.mode == FastPathMode::Ebpf
    }
}

/// The largest `max_flows`: 2^24 flows, each per-CPU entry ~100 bytes.
pub const MAX_FLOWS: u32 = 1 << 24;

/// `[fastpath]`'s problem, if any.
pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    let f = &config.fastpath;
    netns_name("fastpath.netns".into(), f.netns.as_deref())?;
    for (key, name) in [
        ("fastpath.inside", &f.inside),
        ("fastpath.outside", &f.outside),
    ] {
        if let Some(name) = name {
            interface_name(key.into(), name)?;
        }
    }
    if f.max_flows == 0 || f.max_flows > MAX_FLOWS {
        return Err(err(
            "fastpath.max_flows",
            format!("{}: must be 1 to {MAX_FLOWS}", f.max_flows),
        ));
    }
    if !f.on() {
        return Ok(());
    }
    let (Some(inside), Some(outside)) = (&f.inside, &f.outside) else {
        let key = if f.inside.is_none() {
            "fastpath.inside"
        } else {
            "fastpath.outside"
        };
        return Err(err(
            key,
            "missing: mode = \"ebpf\" attaches the program to the interface facing the \
             subscribers (inside) and the one facing the core (outside)",
        ));
    };
    if inside == outside {
        return Err(err(
            "fastpath.outside",
            format!(
                "{outside:?} is also fastpath.inside: the fast path sits between two interfaces"
            ),
        ));
    }
    if let Some(s) = config.subscriber.first() {
        return Err(err(
            "fastpath.mode",
            format!(
                "\"ebpf\" serves boxes between two interfaces ([[subscriber_range]]), but \
                 subscriber[0] ({:?}) has a TUN of its own: its packets reach the router only \
                 through that TUN, where the fast path's program (XDP or TC) never sees them. Use mode = \"off\", or \
                 ranges only",
                s.name
            ),
        ));
    }
    if config.subscriber_range.is_empty() {
        return Err(err(
            "fastpath.mode",
            "\"ebpf\" needs a [[subscriber_range]]: the subscribers whose flows it forwards",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::FastPathHook;
    use crate::Config;

    const RANGE: &str = "[nat]\npool = [\"203.0.113.0/28\"]\n[[subscriber_range]]\n\
                         name = \"inside\"\nipv4 = \"100.64.1.0/24\"\n";

    fn problems(text: &str) -> Vec<String> {
        match Config::check_toml(text, None) {
            Ok(_) => vec![],
            Err(all) => all.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn off_by_default_and_ebpf_with_both_interfaces_is_accepted() {
        let config = Config::from_toml(RANGE).unwrap();
        assert!(!config.fastpath.on());
        assert_eq!(config.fastpath.max_flows, 262_144);
        let text = format!(
            "{RANGE}[fastpath]\nmode = \"ebpf\"\ninside = \"access0\"\noutside = \"core0\"\nnetns = \"box\"\n"
        );
        let config = Config::from_toml(&text).unwrap();
        assert!(config.fastpath.on());
        assert_eq!(config.fastpath.hook, FastPathHook::Xdp);
        assert_eq!(config.fastpath.inside.as_deref(), Some("access0"));
        let tc = Config::from_toml(&format!("{text}hook = \"tc\"\n")).unwrap();
        assert_eq!(tc.fastpath.hook, FastPathHook::Tc);
        assert_eq!(config.fastpath.netns.as_deref(), Some("box"));
    }

    #[test]
    fn a_tun_per_subscriber_configuration_is_refused_with_the_reason() {
        let text = "[nat]\npool = [\"203.0.113.1\"]\n[[subscriber]]\nname = \"sub1\"\n\
                    ipv4 = [\"100.64.1.1\"]\n[fastpath]\nmode = \"ebpf\"\ninside = \"a\"\n\
                    outside = \"b\"\n";
        let p = problems(text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with(
                "fastpath.mode (line 7): \"ebpf\" serves boxes between two interfaces"
            ),
            "{}",
            p[0]
        );
        assert!(p[0].contains("subscriber[0] (\"sub1\") has a TUN of its own"));
    }

    #[test]
    fn missing_or_equal_interfaces_and_bad_values_are_named() {
        let ebpf = format!("{RANGE}[fastpath]\nmode = \"ebpf\"\n");
        assert!(problems(&ebpf)[0].starts_with("fastpath.inside (line 6): missing"));
        let one = format!("{ebpf}inside = \"a\"\n");
        assert!(problems(&one)[0].starts_with("fastpath.outside (line 6): missing"));
        let same = format!("{ebpf}inside = \"a\"\noutside = \"a\"\n");
        assert!(problems(&same)[0].contains("\"a\" is also fastpath.inside"));
        let long = format!("{RANGE}[fastpath]\ninside = \"a-very-long-name0\"\n");
        assert!(problems(&long)[0].starts_with("fastpath.inside"));
        let zero = format!("{RANGE}[fastpath]\nmax_flows = 0\n");
        assert!(problems(&zero)[0].starts_with("fastpath.max_flows (line 7): 0: must be 1 to"));
        let hook = format!("{RANGE}[fastpath]\nhook = \"clsact\"\n");
        assert_eq!(
            problems(&hook),
            ["fastpath.hook (line 7): unknown variant `clsact`, expected `xdp` or `tc`"]
        );
        let mode = format!("{RANGE}[fastpath]\nmode = \"xdp\"\n");
        assert!(
            problems(&mode)[0].starts_with("fastpath.mode"),
            "{:?}",
            problems(&mode)
        );
        let no_range = "[fastpath]\nmode = \"ebpf\"\ninside = \"a\"\noutside = \"b\"\n";
        assert!(problems(no_range)[0].contains("needs a [[subscriber_range]]"));
    }
}
