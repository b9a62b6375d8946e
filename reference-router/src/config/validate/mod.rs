//! Checks every value of a [`Config`] against what the RFCs allow and what can
//! work, naming the key of the first problem. Nothing here allocates in
//! proportion to a value it has not yet checked: a pool is counted from its
//! prefix lengths before anyone lists its addresses.

use super::{Config, ConfigError, Nat, Subscriber, SubscriberRange, Tunnels};
use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The most worker threads.
mod links;

pub(super) const MAX_WORKERS: u32 = 64;
/// The most public addresses a pool may hold.
pub(super) const MAX_POOL_ADDRESSES: u64 = 1 << 20;
/// At most this many IPv6 prefixes per subscriber: one router advertisement
/// carries them all within the minimum MTU.
pub(super) const MAX_SUBSCRIBER_PREFIXES: usize = 16;
/// The most subscribers all `[[subscriber_range]]`s may hold together: per-range
/// state is sparse, but ids, and the deterministic arithmetic, are counted.
pub(super) const MAX_RANGE_SUBSCRIBERS: u64 = 1 << 20;
/// The shortest IPv4 prefix a subscriber may send from.
const SHORTEST_SUBSCRIBER_V4: u8 = 8;
/// The shortest IPv6 prefix routed to one subscriber.
const SHORTEST_SUBSCRIBER_V6: u8 = 32;

pub(super) fn err(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        line: None,
        problem: problem.into(),
    }
}

fn min(key: &str, value: u32, least: u32, why: &str) -> Result<(), ConfigError> {
    if value < least {
        return Err(err(
            key,
            format!("{value} is too small: must be at least {least} ({why})"),
        ));
    }
    Ok(())
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

/// A user or group name as Debian's `adduser` accepts them: 1-32 bytes of
/// letters, digits, `_`, `-` and `.`, not starting with `-`, not all digits.
fn account_name(key: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && !name.bytes().all(|b| b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(err(
            key,
            format!("{name:?} is not a user or group name: 1-32 letters, digits, '_', '-' or '.'"),
        ))
    }
}

fn mtu(key: String, value: u16, least: u16) -> Result<(), ConfigError> {
    if value < least {
        return Err(err(key, format!("{value} is below the minimum {least}")));
    }
    Ok(())
}

fn rate(key: String, mbps: Option<u32>) -> Result<(), ConfigError> {
    match mbps {
        Some(r) if r == 0 || r > 100_000 => Err(err(
            key,
            format!("{r} Mbit/s: a shaper's rate is 1 to 100000 (leave it out for none)"),
        )),
        _ => Ok(()),
    }
}

/// Addresses of a pool prefix, as `Nat::pool_addresses` lists them: all of a /31
/// or /32, else all but the network and broadcast addresses.
fn hosts(net: &Ipv4Net) -> u64 {
    let all = 1u64 << (32 - u32::from(net.prefix_len()));
    if net.prefix_len() >= 31 { all } else { all - 2 }
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

impl Config {
    /// Checks every value; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems(None).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every problem of the configuration that needs no device: each part
    /// (the pool, `[nat]`, `[router]`, the links, …) is checked and reports
    /// its first problem, so one reading names every part that is wrong.
    /// With `workers` — the worker threads the router will run (`router.workers`,
    /// 0 resolved to this machine's CPUs) — the checks that depend on them too:
    /// a port block must fit one worker's slice of the ports.
    pub fn problems(&self, workers: Option<u16>) -> Vec<ConfigError> {
        let pool = validate_pool(self);
        let pool_ok = pool.is_ok();
        let mut checks: Vec<Result<(), ConfigError>> = vec![
            pool,
            validate_nat(&self.nat),
            validate_router(self),
            validate_shaper(self),
            links::validate_links(self),
            validate_tunnels(&self.tunnels),
            validate_metrics(self),
            super::siit::validate(self),
            super::fastpath::validate(self),
        ];
        // The allocation checks list the pool's addresses: only once it is
        // known to be small enough to list.
        if pool_ok {
            let allocation = super::ipfix::validate_allocation(self);
            let fits = match (&allocation, workers) {
                (Ok(()), Some(w)) => super::ipfix::validate_block_slice(self, w),
                _ => Ok(()),
            };
            checks.extend([allocation, fits]);
        }
        checks.push(super::ipfix::validate_ipfix(self));
        if pool_ok {
            checks.push(super::takeover::validate(self));
        }
        checks.push(validate_pool_needed(self));
        checks.into_iter().filter_map(Result::err).collect()
    }
}

/// A pool is needed when anyone is translated to IPv4 (an IPv4 subscriber or
/// range, or `[nat64]`): there is no default pool. Checked last, so a wrong
/// subscriber address is named before the pool it would need.
fn validate_pool_needed(config: &Config) -> Result<(), ConfigError> {
    let nat = &config.nat;
    if nat.pool.is_empty() {
        let needs = config
            .subscriber
            .iter()
            .position(|s| !s.ipv4.is_empty())
            .map(|i| {
                format!(
                    "subscriber[{i}] ({:?}) has IPv4 addresses",
                    config.subscriber[i].name
                )
            })
            .or_else(|| {
                let r = config
                    .subscriber_range
                    .iter()
                    .position(|r| r.ipv4.is_some())?;
                Some(format!(
                    "subscriber_range[{r}] ({:?}) has IPv4 addresses",
                    config.subscriber_range[r].name
                ))
            })
            .or_else(|| {
                config
                    .nat64
                    .is_some()
                    .then(|| "[nat64] translates to IPv4".to_string())
            });
        return match needs {
            Some(why) => Err(err(
                "nat.pool",
                format!(
                    "missing: {why}, and the NAT needs at least one public address (there is no default pool)"
                ),
            )),
            None => Ok(()),
        };
    }
    Ok(())
}

/// The pool: no address twice, at most [`MAX_POOL_ADDRESSES`] (counted from
/// the prefix lengths, before any address is listed), unicast only.
fn validate_pool(config: &Config) -> Result<(), ConfigError> {
    let nat = &config.nat;
    let total: u64 = nat.pool.iter().map(hosts).sum();
    if total > MAX_POOL_ADDRESSES {
        return Err(err(
            "nat.pool",
            format!("{total} addresses: at most 2^20 are supported"),
        ));
    }
    if let Some(net) = nat.pool.iter().find(|n| special_v4(n).is_some()) {
        let what = special_v4(net).unwrap_or_default();
        return Err(err(
            "nat.pool",
            format!("{net} is {what}: a pool holds public unicast addresses"),
        ));
    }
    let ranges = nat
        .pool
        .iter()
        .map(|n| {
            let (a, b) = range4(n);
            (a, b, *n)
        })
        .collect();
    if let Some((a, b)) = first_overlap(ranges) {
        return Err(err(
            "nat.pool",
            format!("{b} overlaps {a}: an address is listed twice"),
        ));
    }
    Ok(())
}

fn validate_nat(nat: &Nat) -> Result<(), ConfigError> {
    let t = &nat.timeouts;
    min("nat.timeouts.udp", t.udp, 120, "RFC 4787 REQ-5")?;
    min(
        "nat.timeouts.tcp_established",
        t.tcp_established,
        7440,
        "RFC 5382 REQ-5: 2 h 4 min",
    )?;
    min(
        "nat.timeouts.tcp_transitory",
        t.tcp_transitory,
        240,
        "RFC 5382 REQ-5: 4 min",
    )?;
    min("nat.timeouts.icmp", t.icmp, 60, "RFC 5508 REQ-2")?;
    min("nat.timeouts.syn_hold", t.syn_hold, 6, "RFC 5382 REQ-4")?;
    min(
        "nat.timeouts.fragments",
        t.fragments,
        1,
        "fragments need time to arrive",
    )?;
    min(
        "nat.ports_per_subscriber",
        nat.ports_per_subscriber,
        1,
        "a subscriber needs a port",
    )?;
    if nat.ports_per_subscriber > 64512 {
        return Err(err(
            "nat.ports_per_subscriber",
            format!(
                "{} is more than one address has (64512)",
                nat.ports_per_subscriber
            ),
        ));
    }
    min(
        "nat.sessions_per_subscriber",
        nat.sessions_per_subscriber,
        1,
        "a subscriber needs a session",
    )?;
    min(
        "nat.max_sessions",
        nat.max_sessions,
        1,
        "the table needs room",
    )?;
    if nat.max_sessions >= u32::MAX / 2 {
        return Err(err("nat.max_sessions", "is too large (limit 2^31)"));
    }
    Ok(())
}

fn validate_router(config: &Config) -> Result<(), ConfigError> {
    let r = &config.router;
    min(
        "router.icmp_rate",
        r.icmp_rate,
        1,
        "errors must be able to leave",
    )?;
    min("router.ra_interval", r.ra_interval, 4, "RFC 4861 §6.2.1")?;
    if r.ra_interval > 1800 {
        return Err(err(
            "router.ra_interval",
            format!(
                "{} is too large: at most 1800 (RFC 4861 §6.2.1)",
                r.ra_interval
            ),
        ));
    }
    if r.rdnss.len() > 8 {
        return Err(err("router.rdnss", "at most 8 servers"));
    }
    if r.control_socket.is_empty() {
        return Err(err("router.control_socket", "is empty"));
    }
    for (key, name) in [("router.user", &r.user), ("router.group", &r.group)] {
        if let Some(name) = name {
            account_name(key, name)?;
        }
    }
    if r.group.is_some() && r.user.is_none() {
        return Err(err(
            "router.group",
            "needs router.user: the router changes group only when it changes user",
        ));
    }
    if r.workers > MAX_WORKERS {
        return Err(err(
            "router.workers",
            format!(
                "{} threads: at most {MAX_WORKERS} (0: one per CPU)",
                r.workers
            ),
        ));
    }
    Ok(())
}

fn validate_shaper(config: &Config) -> Result<(), ConfigError> {
    let sh = &config.shaper;
    min(
        "shaper.ipv6_weight",
        sh.ipv6_weight,
        1,
        "a family needs a share",
    )?;
    min(
        "shaper.ipv4_weight",
        sh.ipv4_weight,
        1,
        "a family needs a share",
    )?;
    let largest = config
        .subscriber
        .iter()
        .map(|s| s.mtu)
        .chain(config.subscriber_range.iter().map(|r| r.mtu))
        .chain([config.wan.mtu])
        .max()
        .unwrap_or(1500);
    min(
        "shaper.queue_bytes",
        sh.queue_bytes,
        u32::from(largest),
        "a queue must hold the largest packet a link carries",
    )
}

/// The first two of `ranges` (inclusive `[start, end]`, with an owner) that
/// overlap, found in one sorted sweep: O(n log n) for any number of subscribers.
fn first_overlap<T: Copy>(mut ranges: Vec<(u128, u128, T)>) -> Option<(T, T)> {
    ranges.sort_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
    // Sorted by start, a range that does not start inside the one reaching
    // furthest so far reaches further itself.
    let mut widest: Option<(u128, T)> = None;
    for (start, end, owner) in ranges {
        if let Some((reach, other)) = widest
            && start <= reach
        {
            return Some((other, owner));
        }
        widest = Some((end, owner));
    }
    None
}

fn range4(net: &Ipv4Net) -> (u128, u128) {
    (
        u128::from(u32::from(net.network())),
        u128::from(u32::from(net.broadcast())),
    )
}

fn range6(net: &Ipv6Net) -> (u128, u128) {
    (u128::from(net.network()), u128::from(net.broadcast()))
}

fn validate_tunnels(tunnels: &Tunnels) -> Result<(), ConfigError> {
    if tunnels.six_rd_prefix.is_some() != tunnels.six_rd_ipv4.is_some() {
        return Err(err(
            "tunnels.six_rd_prefix",
            "needs tunnels.six_rd_ipv4 too (and the other way round)",
        ));
    }
    if tunnels.six_rd_prefix.is_some() && tunnels.six_rd().is_none() {
        return Err(err(
            "tunnels.six_rd_prefix",
            "with six_rd_ipv4 leaves more than 64 bits",
        ));
    }
    Ok(())
}

fn validate_metrics(config: &Config) -> Result<(), ConfigError> {
    let m = &config.metrics;
    netns_name("metrics.netns".into(), m.netns.as_deref())?;
    // Every `netns` key is a file name under /run/netns (the others: wan,
    // subscribers and ranges in `links`).
    netns_name("ipfix.netns".into(), config.ipfix.netns.as_deref())?;
    if let Some(listen) = m.listen {
        if listen.port() == 0 {
            return Err(err(
                "metrics.listen",
                format!("{listen}: port 0 is no port a scraper can be told"),
            ));
        }
        if listen.ip().is_multicast() {
            return Err(err(
                "metrics.listen",
                format!("{listen}: a multicast address cannot accept connections"),
            ));
        }
    } else if m.netns.is_some() || m.per_subscriber {
        return Err(err(
            "metrics.listen",
            "missing: metrics.netns and metrics.per_subscriber need an endpoint",
        ));
    }
    Ok(())
}
