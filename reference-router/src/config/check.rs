//! The helpers every section's checks share: an error naming its key, bounds,
//! and the address space no configuration may use. A leaf: it uses nothing of
//! `config` but [`ConfigError`], so each section's checks (`validate/`,
//! `ipfix.rs`, `siit.rs`, `nat.rs`) import it and none imports another's.

use super::ConfigError;
use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

pub(super) fn err(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        line: None,
        problem: problem.into(),
    }
}

pub(super) fn min(key: &str, value: u32, least: u32, why: &str) -> Result<(), ConfigError> {
    if value < least {
        return Err(err(
            key,
            format!("{value} is too small: must be at least {least} ({why})"),
        ));
    }
    Ok(())
}

pub(super) fn between(
    key: &str,
    value: u32,
    low: u32,
    high: u32,
    why: &str,
) -> Result<(), ConfigError> {
    if value < low || value > high {
        return Err(err(
            key,
            format!("{value} is out of range: {low} to {high} ({why})"),
        ));
    }
    Ok(())
}

pub(super) fn overlaps4(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

pub(super) fn overlaps6(a: &Ipv6Net, b: &Ipv6Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// IPv4 space that is never a host's unicast address: "this network", loopback,
/// multicast, reserved and the limited broadcast.
pub(super) fn special_v4(net: &Ipv4Net) -> Option<&'static str> {
    let specials: [(Ipv4Net, &str); 4] = [
        (
            Ipv4Net::new_assert(Ipv4Addr::new(0, 0, 0, 0), 8),
            "unspecified (0.0.0.0/8)",
        ),
        (
            Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8),
            "loopback (127.0.0.0/8)",
        ),
        (
            Ipv4Net::new_assert(Ipv4Addr::new(224, 0, 0, 0), 4),
            "multicast (224.0.0.0/4)",
        ),
        (
            Ipv4Net::new_assert(Ipv4Addr::new(240, 0, 0, 0), 4),
            "reserved or broadcast (240.0.0.0/4)",
        ),
    ];
    specials
        .iter()
        .find(|(s, _)| overlaps4(s, net))
        .map(|(_, what)| *what)
}

/// IPv6 space that is never routed to a subscriber: unspecified, loopback,
/// link-local, multicast.
pub(super) fn special_v6(net: &Ipv6Net) -> Option<&'static str> {
    let specials: [(Ipv6Net, &str); 4] = [
        (
            Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 128),
            "unspecified (::)",
        ),
        (
            Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128),
            "loopback (::1)",
        ),
        (
            Ipv6Net::new_assert(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
            "link-local (fe80::/10)",
        ),
        (
            Ipv6Net::new_assert(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
            "multicast (ff00::/8)",
        ),
    ];
    specials
        .iter()
        .find(|(s, _)| overlaps6(s, net))
        .map(|(_, what)| *what)
}

/// What Linux accepts as a new interface's name (`dev_valid_name`): 1–15 bytes,
/// not `.` or `..`, no `/`, `:` or white space — and not `lo`, which every
/// namespace has already.
pub(super) fn interface_name(key: String, name: &str) -> Result<(), ConfigError> {
    let bad_char = name
        .chars()
        .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace());
    let problem = if name.is_empty() || name.len() > 15 {
        Some("1-15 bytes (IFNAMSIZ)")
    } else if name == "." || name == ".." {
        Some("not \".\" or \"..\"")
    } else if bad_char {
        Some("no '/', ':' or white space")
    } else if name == "lo" {
        Some("\"lo\" is every namespace's loopback")
    } else {
        None
    };
    match problem {
        Some(p) => Err(err(
            key,
            format!("{name:?} is not a name Linux accepts for a new interface: {p}"),
        )),
        None => Ok(()),
    }
}

/// What `ip netns` accepts as a namespace name: a file name under `/run/netns`
/// (not empty, not `.` or `..`, no `/`), at most 255 bytes.
pub(super) fn netns_name(key: String, name: Option<&str>) -> Result<(), ConfigError> {
    let Some(name) = name else { return Ok(()) };
    let problem = if name.is_empty() || name.len() > 255 {
        Some("1-255 bytes")
    } else if name == "." || name == ".." {
        Some("not \".\" or \"..\"")
    } else if name.contains(['/', '\0']) {
        Some("no '/'")
    } else {
        None
    };
    match problem {
        Some(p) => Err(err(
            key,
            format!("{name:?} is not a network namespace name: {p}"),
        )),
        None => Ok(()),
    }
}
