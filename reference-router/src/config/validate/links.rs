//! The links: the WAN, each `[[subscriber]]` and each `[[subscriber_range]]` —
//! names, MTUs, rates, routes, and address space that is each holder's own and
//! nobody else's (not another's, not the pool's), found in one sorted sweep.

use super::*;

/// Who holds an address range: the pool, subscriber `i`'s prefix `k`, or
/// range `r`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Holder {
    Pool(usize),
    Subscriber(usize, usize),
    Range(usize),
}

/// The WAN and the subscribers: names Linux accepts, used once; MTUs; rates;
/// addresses that are the subscriber's own, nobody else's and not the pool's.
pub(super) fn validate_links(config: &Config) -> Result<(), ConfigError> {
    rate("wan.rate_mbps".into(), config.wan.rate_mbps)?;
    interface_name("wan.name".into(), &config.wan.name)?;
    netns_name("wan.netns".into(), config.wan.netns.as_deref())?;
    mtu("wan.mtu".into(), config.wan.mtu, 1280)?;
    if config.subscriber.len() > usize::from(u16::MAX) {
        return Err(err("subscriber", "more than 65535 subscribers"));
    }
    let mut names = std::collections::HashSet::from([config.wan.name.as_str()]);
    for (i, sub) in config.subscriber.iter().enumerate() {
        let key = |field: &str| format!("subscriber[{i}].{field}");
        interface_name(key("name"), &sub.name)?;
        netns_name(key("netns"), sub.netns.as_deref())?;
        if !names.insert(&sub.name) {
            return Err(err(key("name"), format!("{:?} is used twice", sub.name)));
        }
        mtu(key("mtu"), sub.mtu, 1280)?;
        rate(key("rate_mbps"), sub.rate_mbps)?;
        validate_subscriber_v4(i, sub)?;
        validate_subscriber_v6(i, sub)?;
    }
    for (r, range) in config.subscriber_range.iter().enumerate() {
        let key = |field: &str| format!("subscriber_range[{r}].{field}");
        if !names.insert(&range.name) {
            return Err(err(key("name"), format!("{:?} is used twice", range.name)));
        }
    }
    validate_ranges(config)?;
    let v4 = config
        .nat
        .pool
        .iter()
        .enumerate()
        .map(|(k, n)| (range4(n), Holder::Pool(k)));
    let subs4 = config.subscriber.iter().enumerate().flat_map(|(i, s)| {
        s.ipv4
            .iter()
            .enumerate()
            .map(move |(k, n)| (range4(n), Holder::Subscriber(i, k)))
    });
    let ranges4 = config
        .subscriber_range
        .iter()
        .enumerate()
        .filter_map(|(r, range)| Some((range4(&range.ipv4?), Holder::Range(r))));
    let ranges = v4
        .chain(subs4)
        .chain(ranges4)
        .map(|((a, b), h)| (a, b, h))
        .collect();
    if let Some(pair) = first_overlap(ranges) {
        return Err(overlap(config, pair, true));
    }
    let subs6 = config.subscriber.iter().enumerate().flat_map(|(i, s)| {
        s.ipv6.iter().enumerate().map(move |(k, n)| {
            let (a, b) = range6(n);
            (a, b, Holder::Subscriber(i, k))
        })
    });
    let ranges6 = config
        .subscriber_range
        .iter()
        .enumerate()
        .filter_map(|(r, range)| {
            let (a, b) = range6(&range.ipv6?);
            Some((a, b, Holder::Range(r)))
        });
    if let Some(pair) = first_overlap(subs6.chain(ranges6).collect()) {
        return Err(overlap(config, pair, false));
    }
    Ok(())
}

/// The error for two overlapping holders, keyed by the later subscriber's entry.
fn overlap(config: &Config, pair: (Holder, Holder), v4: bool) -> ConfigError {
    let (first, later) = if pair.0 < pair.1 {
        pair
    } else {
        (pair.1, pair.0)
    };
    let family = if v4 { "ipv4" } else { "ipv6" };
    let range_net = |r: usize| {
        let range = &config.subscriber_range[r];
        let net = if v4 {
            range.ipv4.map(|n| n.to_string())
        } else {
            range.ipv6.map(|n| n.to_string())
        };
        net.unwrap_or_default()
    };
    let describe = |h: Holder| match h {
        Holder::Pool(k) => format!("nat.pool {}", config.nat.pool[k]),
        Holder::Range(r) => format!("subscriber_range[{r}].{family} {}", range_net(r)),
        Holder::Subscriber(i, k) if v4 => {
            format!("subscriber[{i}].ipv4 {}", config.subscriber[i].ipv4[k])
        }
        Holder::Subscriber(i, k) => {
            format!("subscriber[{i}].ipv6 {}", config.subscriber[i].ipv6[k])
        }
    };
    let (i, k) = match later {
        Holder::Subscriber(i, k) => (i, k),
        Holder::Range(r) => {
            return err(
                format!("subscriber_range[{r}].{family}"),
                format!("{} overlaps {}", range_net(r), describe(first)),
            );
        }
        // Pools overlapping each other are refused in validate_pool.
        Holder::Pool(_) => return err("nat.pool", "lists an address twice"),
    };
    let net = if v4 {
        config.subscriber[i].ipv4[k].to_string()
    } else {
        config.subscriber[i].ipv6[k].to_string()
    };
    err(
        format!("subscriber[{i}].{family}"),
        format!("{net} overlaps {}", describe(first)),
    )
}

/// A kernel routing table number: not 0 (unspecified) and not 255 (local).
fn route_table(key: String, table: Option<u32>) -> Result<(), ConfigError> {
    match table {
        Some(t @ (0 | 255)) => Err(err(
            key,
            format!("{t} is not a table routes can go in: 1-254 or 256-4294967295 (254 is main)"),
        )),
        _ => Ok(()),
    }
}

/// Routes to install: prefixes as the kernel takes them (no host bits).
fn routes(key: String, routes: &[ipnet::IpNet]) -> Result<(), ConfigError> {
    match routes.iter().find(|n| n.network() != n.addr()) {
        Some(net) => Err(err(
            key,
            format!("{net} has host bits set: write {}", net.trunc()),
        )),
        None => Ok(()),
    }
}

/// The WAN's routes, and each range: names, MTUs, rates, prefixes that hold
/// unicast hosts, an IPv6 length each subscriber can be given, and a size the
/// router can keep ids for.
fn validate_ranges(config: &Config) -> Result<(), ConfigError> {
    route_table("wan.route_table".into(), config.wan.route_table)?;
    routes("wan.routes".into(), &config.wan.routes)?;
    let mut total = 0u64;
    for (r, range) in config.subscriber_range.iter().enumerate() {
        let key = |field: &str| format!("subscriber_range[{r}].{field}");
        interface_name(key("name"), &range.name)?;
        netns_name(key("netns"), range.netns.as_deref())?;
        mtu(key("mtu"), range.mtu, 1280)?;
        rate(key("rate_mbps"), range.rate_mbps)?;
        route_table(key("route_table"), range.route_table)?;
        routes(key("routes"), &range.routes)?;
        validate_range_prefixes(r, range)?;
        total += range.len();
        if total > MAX_RANGE_SUBSCRIBERS {
            return Err(err(
                key("ipv4"),
                format!(
                    "ranges hold {total} subscribers with this one: at most 2^20 in all (per-subscriber ids and state)"
                ),
            ));
        }
    }
    Ok(())
}

fn validate_range_prefixes(r: usize, range: &SubscriberRange) -> Result<(), ConfigError> {
    let key = |field: &str| format!("subscriber_range[{r}].{field}");
    if range.ipv4.is_none() && range.ipv6.is_none() {
        return Err(err(
            key("ipv4"),
            "missing: a range needs ipv4, ipv6 or both",
        ));
    }
    let whole = |field: &str, net: String, trunc: String| {
        Err(err(
            key(field),
            format!("{net} has host bits set: write {trunc}"),
        ))
    };
    if let Some(net) = range.ipv4 {
        if net.network() != net.addr() {
            return whole("ipv4", net.to_string(), net.trunc().to_string());
        }
        if let Some(what) = special_v4(&net) {
            return Err(err(key("ipv4"), format!("{net} is {what}")));
        }
        if net.prefix_len() < 12 {
            return Err(err(
                key("ipv4"),
                format!("{net} holds more than 2^20 subscribers (a /12 at most)"),
            ));
        }
    }
    if !(48..=64).contains(&range.ipv6_length) {
        return Err(err(
            key("ipv6_length"),
            format!(
                "{}: each subscriber's prefix is 48 to 64 bits long",
                range.ipv6_length
            ),
        ));
    }
    if let Some(net) = range.ipv6 {
        if net.network() != net.addr() {
            return whole("ipv6", net.to_string(), net.trunc().to_string());
        }
        if let Some(what) = special_v6(&net) {
            return Err(err(key("ipv6"), format!("{net} is {what}")));
        }
        if net.prefix_len() > range.ipv6_length {
            return Err(err(
                key("ipv6_length"),
                format!(
                    "{} is shorter than ipv6 {net}: a subscriber's prefix lies inside the range's",
                    range.ipv6_length
                ),
            ));
        }
        if range.ipv6_length - net.prefix_len() > 20 {
            return Err(err(
                key("ipv6"),
                format!(
                    "{net} holds 2^{} /{} prefixes: at most 2^20 subscribers",
                    range.ipv6_length - net.prefix_len(),
                    range.ipv6_length
                ),
            ));
        }
    } else if range.announce {
        return Err(err(
            key("announce"),
            "announces IPv6 prefixes: the range needs ipv6",
        ));
    }
    Ok(())
}

fn validate_subscriber_v4(i: usize, sub: &Subscriber) -> Result<(), ConfigError> {
    let key = format!("subscriber[{i}].ipv4");
    for net in &sub.ipv4 {
        if net.prefix_len() < SHORTEST_SUBSCRIBER_V4 {
            return Err(err(
                key,
                format!("{net} is wider than one subscriber's addresses can be (/8 at most)"),
            ));
        }
        if let Some(what) = special_v4(net) {
            return Err(err(key, format!("{net} is {what}")));
        }
    }
    Ok(())
}

fn validate_subscriber_v6(i: usize, sub: &Subscriber) -> Result<(), ConfigError> {
    let key = format!("subscriber[{i}].ipv6");
    if sub.ipv6.len() > MAX_SUBSCRIBER_PREFIXES {
        return Err(err(
            key,
            format!(
                "{} prefixes: at most {MAX_SUBSCRIBER_PREFIXES} (one router advertisement carries them)",
                sub.ipv6.len()
            ),
        ));
    }
    for net in &sub.ipv6 {
        if net.prefix_len() > 64 {
            return Err(err(
                key,
                format!("{net}: a subscriber needs a /64 or shorter for SLAAC"),
            ));
        }
        if net.prefix_len() < SHORTEST_SUBSCRIBER_V6 {
            return Err(err(
                key,
                format!("{net} is wider than one subscriber's prefix can be (/32 at most)"),
            ));
        }
        if let Some(what) = special_v6(net) {
            return Err(err(key, format!("{net} is {what}")));
        }
    }
    Ok(())
}
