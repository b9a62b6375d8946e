//! The families a [`Snapshot`] shows, each sample with the JSON value it
//! comes from.

use super::builder::Builder;
use super::{Family, Kind, Sample};
use crate::stats::{Datapath, FamilyTraffic, ShaperUse, Snapshot};

/// Every family for `snapshot`; the per-subscriber ones (and subscriber links'
/// shapers) only with `per_subscriber`.
pub fn families(snapshot: &Snapshot, per_subscriber: bool) -> Vec<Family> {
    let mut b = Builder {
        families: Vec::new(),
    };
    build_info(&mut b);
    traffic(&mut b, snapshot);
    drops(&mut b, snapshot);
    tables(&mut b, snapshot);
    flows_and_fragments(&mut b, snapshot);
    datapath(&mut b, snapshot);
    process(&mut b, snapshot);
    super::fastpath::fastpath(&mut b, snapshot);
    shapers(&mut b, snapshot, per_subscriber);
    super::cgn::ipfix(&mut b, snapshot);
    super::cgn::draining(&mut b, snapshot);
    if per_subscriber {
        subscribers(&mut b, snapshot);
        super::cgn::subscribers(&mut b, snapshot);
    }
    b.families
}

/// `sixfold_build_info`: which version answers.
fn build_info(b: &mut Builder) {
    b.family(
        "sixfold_build",
        "The sixfold-router version serving these metrics.",
        Kind::Info,
    );
    b.families[0].samples.push(Sample {
        labels: vec![("version", env!("CARGO_PKG_VERSION").to_string())],
        value: 1,
        source: None,
    });
}

/// Forwarded packets and bytes by family, direction and protocol.
fn traffic(b: &mut Builder, s: &Snapshot) {
    let traffic: [(&str, &FamilyTraffic); 2] = [("ipv4", &s.ipv4), ("ipv6", &s.ipv6)];
    for (name, help, bytes) in [
        (
            "sixfold_forwarded_packets",
            "Packets forwarded, by family, direction and transport protocol (a super-packet counts its segments).",
            false,
        ),
        (
            "sixfold_forwarded_bytes",
            "Bytes of IP packets forwarded, by family, direction and transport protocol.",
            true,
        ),
    ] {
        b.family(name, help, Kind::Counter);
        for (family, t) in traffic {
            for (direction, d) in [("outbound", &t.outbound), ("inbound", &t.inbound)] {
                for (protocol, x) in d.iter() {
                    let (value, field) = if bytes {
                        (x.bytes, "bytes")
                    } else {
                        (x.packets, "packets")
                    };
                    b.sample(
                        &[
                            ("family", family),
                            ("direction", direction),
                            ("protocol", protocol),
                        ],
                        value,
                        format!("{family}.{direction}.{protocol}.{field}"),
                    );
                }
            }
        }
    }
}

/// Drops by reason, tunnel blocks by mechanism, ICMP sent by kind.
fn drops(b: &mut Builder, s: &Snapshot) {
    b.family(
        "sixfold_dropped_packets",
        "Packets dropped, by reason (every reason listed).",
        Kind::Counter,
    );
    for (reason, n) in s.drops.iter() {
        b.sample(&[("reason", reason.name())], n, format!("drops.{reason}"));
    }
    b.family(
        "sixfold_tunnel_blocked_packets",
        "Transition-tunnel packets blocked, by mechanism (the tunnel_ drop reasons).",
        Kind::Counter,
    );
    for (reason, n) in s.drops.iter() {
        if let Some(mechanism) = reason.tunnel_mechanism() {
            b.sample(&[("mechanism", mechanism)], n, format!("drops.{reason}"));
        }
    }
    b.family(
        "sixfold_icmp_sent_messages",
        "ICMP and ICMPv6 messages the router generated, by kind.",
        Kind::Counter,
    );
    for (kind, n) in s.icmp_sent.iter() {
        b.sample(&[("kind", kind.name())], n, format!("icmp_sent.{kind}"));
    }
}

/// The NAT's table and hairpins.
fn tables(b: &mut Builder, s: &Snapshot) {
    b.single(
        "sixfold_hairpinned_packets",
        "Packets sent back to a subscriber through its own public address.",
        Kind::Counter,
        "hairpinned",
        s.hairpinned,
    );
    b.single(
        "sixfold_nat_sessions",
        "Live NAT sessions (NAT44 and NAT64).",
        Kind::Gauge,
        "sessions",
        s.sessions,
    );
    b.single(
        "sixfold_nat_mappings",
        "Live NAT mappings (external ports in use, NAT44 and NAT64).",
        Kind::Gauge,
        "mappings",
        s.mappings,
    );
    b.single(
        "sixfold_nat_sessions_created",
        "NAT sessions created (NAT44 and NAT64).",
        Kind::Counter,
        "sessions_created",
        s.sessions_created,
    );
    b.single(
        "sixfold_nat_sessions_expired",
        "NAT sessions expired (NAT44 and NAT64).",
        Kind::Counter,
        "sessions_expired",
        s.sessions_expired,
    );
    b.single(
        "sixfold_nat64_hosts",
        "IPv6 addresses with NAT64 state (RFC 6146); their sessions are among the NAT sessions.",
        Kind::Gauge,
        "nat64_hosts",
        s.nat64_hosts,
    );
}

/// The firewall's flows, fragments and segments.
fn flows_and_fragments(b: &mut Builder, s: &Snapshot) {
    b.single(
        "sixfold_ipv6_flows",
        "Live IPv6 firewall flows (RFC 6092 state).",
        Kind::Gauge,
        "ipv6_flows",
        s.ipv6_flows,
    );
    b.single(
        "sixfold_ipv6_flows_created",
        "IPv6 firewall flows created.",
        Kind::Counter,
        "ipv6_flows_created",
        s.ipv6_flows_created,
    );
    b.single(
        "sixfold_ipv6_flows_expired",
        "IPv6 firewall flows expired.",
        Kind::Counter,
        "ipv6_flows_expired",
        s.ipv6_flows_expired,
    );
    b.single(
        "sixfold_fragments_translated",
        "Non-first IPv4 fragments translated.",
        Kind::Counter,
        "fragments_translated",
        s.fragments_translated,
    );
    b.single(
        "sixfold_fragments_generated",
        "Fragments the router made (DF clear and too big for the egress link).",
        Kind::Counter,
        "fragments_generated",
        s.fragments_generated,
    );
    b.single(
        "sixfold_segments_generated",
        "Segments the router cut offloaded super-packets into itself.",
        Kind::Counter,
        "segments_generated",
        s.segments_generated,
    );
}

/// Offload, workers and hand-offs.
fn datapath(b: &mut Builder, s: &Snapshot) {
    let d = &s.datapath;
    for (name, help, on) in [
        (
            "sixfold_datapath_offload",
            "1 if the TUNs carry offloaded super-packets (virtio-net header).",
            d.offload,
        ),
        (
            "sixfold_datapath_tso",
            "1 if the kernel accepted TCP segmentation offload.",
            d.tso,
        ),
        (
            "sixfold_datapath_uso",
            "1 if the kernel accepted UDP segmentation offload.",
            d.uso,
        ),
    ] {
        let path = format!("datapath.{}", name.trim_start_matches("sixfold_datapath_"));
        b.single(name, help, Kind::Gauge, &path, u64::from(on));
    }
    b.single(
        "sixfold_datapath_workers",
        "Worker threads forwarding packets.",
        Kind::Gauge,
        "datapath.workers",
        u64::from(d.workers),
    );
    b.single(
        "sixfold_datapath_handoffs",
        "Packets handed from one worker to another.",
        Kind::Counter,
        "datapath.handoffs",
        d.handoffs,
    );
    b.single(
        "sixfold_datapath_handoff_full",
        "Packets dropped because another worker's hand-off ring was full.",
        Kind::Counter,
        "datapath.handoff_full",
        d.handoff_full,
    );
    b.single(
        "sixfold_datapath_route_failures",
        "Announce routes the kernel refused to add or remove.",
        Kind::Counter,
        "datapath.route_failures",
        d.route_failures,
    );
    datapath_loop(b, d);
    b.family(
        "sixfold_datapath_offload_refused",
        "Why the kernel refused offload, when it was asked for.",
        Kind::Info,
    );
    if let Some(reason) = &d.offload_refused {
        b.sample(&[("reason", reason)], 1, "datapath.offload_refused".into());
    }
}

/// The I/O loops' counters: wake-ups, packets read, super-packets written.
fn datapath_loop(b: &mut Builder, d: &Datapath) {
    for (name, help, n) in [
        (
            "sixfold_datapath_wakeups",
            "Times a worker waited in poll(2) for packets.",
            d.wakeups,
        ),
        (
            "sixfold_datapath_packets_read",
            "Packets read from the TUNs (a super-packet once).",
            d.packets_read,
        ),
        (
            "sixfold_datapath_io_calls",
            "System calls that read or wrote packets on the TUNs (io_uring: one per burst).",
            d.io_calls,
        ),
        (
            "sixfold_datapath_super_packets_whole",
            "Super-packets written whole, segmented by the receiving kernel.",
            d.super_packets_whole,
        ),
        (
            "sixfold_datapath_super_packets_segmented",
            "Super-packets the router segmented itself (the TUN takes no offload).",
            d.super_packets_segmented,
        ),
    ] {
        let path = format!("datapath.{}", name.trim_start_matches("sixfold_datapath_"));
        b.single(name, help, Kind::Counter, &path, n);
    }
}

/// The process: its pid, its start, the state's start, upgrades so far.
fn process(b: &mut Builder, s: &Snapshot) {
    let p = &s.process;
    b.single(
        "sixfold_process_pid",
        "The pid of the router process (it changes with `sixfold upgrade`).",
        Kind::Gauge,
        "process.pid",
        u64::from(p.pid),
    );
    b.single(
        "sixfold_process_upgrades",
        "Handovers to a new process since the state was created.",
        Kind::Counter,
        "process.upgrades",
        p.upgrades,
    );
    for (name, help, label, path, value) in [
        (
            "sixfold_process_started",
            "When this process started (RFC 3339).",
            "started",
            "process.started",
            &p.started,
        ),
        (
            "sixfold_process_state_since",
            "When the state this process runs was first created (RFC 3339).",
            "since",
            "process.state_since",
            &p.state_since,
        ),
    ] {
        b.family(name, help, Kind::Info);
        b.sample(&[(label, value)], 1, path.into());
    }
}

/// Egress shapers: the WAN's always, subscriber links' with `per_subscriber`.
fn shapers(b: &mut Builder, s: &Snapshot, per_subscriber: bool) {
    // A set: a range can bring a shaper per subscriber.
    let subscriber_links: std::collections::HashSet<&str> =
        s.subscribers.iter().map(|u| u.name.as_str()).collect();
    let shapers: Vec<(usize, &ShaperUse)> = s
        .shapers
        .iter()
        .enumerate()
        .filter(|(_, u)| per_subscriber || !subscriber_links.contains(u.name.as_str()))
        .collect();
    b.family(
        "sixfold_shaper_rate_bytes_per_second",
        "An egress shaper's rate.",
        Kind::Gauge,
    );
    for &(i, u) in &shapers {
        b.scaled(
            &[("link", &u.name)],
            u64::from(u.rate_mbps),
            format!("shapers[{i}].rate_mbps"),
            125_000,
        );
    }
    for (name, help, field) in [
        (
            "sixfold_shaper_sent_packets",
            "Packets an egress shaper let out, by family.",
            "packets",
        ),
        (
            "sixfold_shaper_sent_bytes",
            "Bytes an egress shaper let out, by family.",
            "bytes",
        ),
        (
            "sixfold_shaper_dropped_packets",
            "Packets an egress shaper dropped at its queue's tail, by family.",
            "dropped",
        ),
    ] {
        b.family(name, help, Kind::Counter);
        for &(i, u) in &shapers {
            for (family, t) in [("ipv4", &u.ipv4), ("ipv6", &u.ipv6)] {
                let value = match field {
                    "packets" => t.packets,
                    "bytes" => t.bytes,
                    _ => t.dropped,
                };
                b.sample(
                    &[("link", &u.name), ("family", family)],
                    value,
                    format!("shapers[{i}].{family}.{field}"),
                );
            }
        }
    }
}

/// Each subscriber's public address, ports, sessions and flows.
fn subscribers(b: &mut Builder, s: &Snapshot) {
    b.family(
        "sixfold_subscriber_public_ipv4",
        "A subscriber's public IPv4 address (paired pooling), once it has one.",
        Kind::Info,
    );
    for (i, u) in s.subscribers.iter().enumerate() {
        if let Some(address) = u.public_ipv4 {
            b.sample(
                &[("subscriber", &u.name), ("address", &address.to_string())],
                1,
                format!("subscribers[{i}].public_ipv4"),
            );
        }
    }
    b.family(
        "sixfold_subscriber_ports",
        "External ports (ICMP identifiers) a subscriber uses, by protocol.",
        Kind::Gauge,
    );
    for (i, u) in s.subscribers.iter().enumerate() {
        for (protocol, n) in [
            ("tcp", u.ports.tcp),
            ("udp", u.ports.udp),
            ("icmp", u.ports.icmp),
        ] {
            b.sample(
                &[("subscriber", &u.name), ("protocol", protocol)],
                u64::from(n),
                format!("subscribers[{i}].ports.{protocol}"),
            );
        }
    }
    for (name, help, field) in [
        (
            "sixfold_subscriber_sessions",
            "A subscriber's live NAT44 sessions.",
            "sessions",
        ),
        (
            "sixfold_subscriber_ipv6_flows",
            "A subscriber's live IPv6 firewall flows.",
            "ipv6_flows",
        ),
    ] {
        b.family(name, help, Kind::Gauge);
        for (i, u) in s.subscribers.iter().enumerate() {
            let n = if field == "sessions" {
                u.sessions
            } else {
                u.ipv6_flows
            };
            b.sample(
                &[("subscriber", &u.name)],
                u64::from(n),
                format!("subscribers[{i}].{field}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::SubscriberUse;
    use crate::stats::exposition::{Format, render};

    /// A snapshot whose every number is different, every flag set, every
    /// optional text present: two subscribers, a WAN shaper and one subscriber
    /// shaper.
    fn busy() -> Snapshot {
        let mut json = serde_json::to_value(Snapshot {
            subscribers: vec![
                SubscriberUse {
                    name: "sub1".into(),
                    public_ipv4: Some("203.0.113.7".parse().unwrap()),
                    ..SubscriberUse::default()
                },
                SubscriberUse {
                    name: "sub2".into(),
                    public_ipv4: Some("203.0.113.8".parse().unwrap()),
                    ..SubscriberUse::default()
                },
            ],
            fastpath: crate::stats::FastPathUse {
                program: [
                    ("forwarded_ipv4".to_string(), 0),
                    ("pass_miss".to_string(), 0),
                ]
                .into(),
                ..Default::default()
            },
            shapers: vec![
                ShaperUse {
                    name: "wan".into(),
                    ..ShaperUse::default()
                },
                ShaperUse {
                    name: "sub2".into(),
                    ..ShaperUse::default()
                },
            ],
            ..Snapshot::default()
        })
        .unwrap();
        let mut next = 100;
        fill(&mut json, &mut next);
        json["datapath"]["offload_refused"] = "kernel \"said\" no\\".into();
        json["fastpath"]["hook"] = "tc".into();
        serde_json::from_value(json).unwrap()
    }

    fn fill(v: &mut serde_json::Value, next: &mut u64) {
        use serde_json::Value;
        match v {
            Value::Number(_) => {
                *next += 1;
                *v = (*next).into();
            }
            Value::Bool(b) => *b = true,
            Value::Array(a) => a.iter_mut().for_each(|x| fill(x, next)),
            Value::Object(o) => o.values_mut().for_each(|x| fill(x, next)),
            _ => {}
        }
    }

    /// Every leaf of the JSON with its path, as `Source::path` writes it.
    fn leaves(v: &serde_json::Value, path: String, out: &mut Vec<(String, serde_json::Value)>) {
        use serde_json::Value;
        let join = |k: &str| {
            if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            }
        };
        match v {
            Value::Object(o) => o.iter().for_each(|(k, x)| leaves(x, join(k), out)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| leaves(x, format!("{path}[{i}]"), out)),
            _ => out.push((path, v.clone())),
        }
    }

    /// The law: every value `sixfold stats` prints is some sample's source, the
    /// sample shows exactly that value (scaled; a flag as 0/1; a text as the
    /// info sample's last label), and every sourced sample shows a value the
    /// JSON has. Names are labels, not values.
    #[test]
    fn every_value_of_the_json_is_a_sample_with_that_value() {
        let s = busy();
        let families = families(&s, true);
        let mut json_leaves = Vec::new();
        leaves(
            &serde_json::to_value(&s).unwrap(),
            String::new(),
            &mut json_leaves,
        );
        let mut checked = 0;
        for (path, value) in &json_leaves {
            if path.ends_with(".name") {
                continue;
            }
            let samples: Vec<(&Family, &Sample)> = families
                .iter()
                .flat_map(|f| f.samples.iter().map(move |x| (f, x)))
                .filter(|(_, x)| x.source.as_ref().is_some_and(|src| &src.path == path))
                .collect();
            assert!(!samples.is_empty(), "{path} = {value} is in no sample");
            for (family, sample) in samples {
                let scale = sample.source.as_ref().unwrap().scale;
                match value {
                    serde_json::Value::Number(n) => {
                        assert_eq!(sample.value, n.as_u64().unwrap() * scale, "{path}")
                    }
                    serde_json::Value::Bool(b) => assert_eq!(sample.value, u64::from(*b)),
                    serde_json::Value::String(t) => {
                        assert_eq!(family.kind, Kind::Info, "{path}");
                        assert_eq!(&sample.labels.last().unwrap().1, t, "{path}");
                    }
                    other => panic!("{path}: unexpected {other}"),
                }
                checked += 1;
            }
        }
        // And no sample points at a value the JSON does not have.
        let sourced = families
            .iter()
            .flat_map(|f| &f.samples)
            .filter(|x| x.source.is_some())
            .count();
        assert_eq!(checked, sourced);
    }

    #[test]
    fn without_per_subscriber_no_label_names_a_subscriber() {
        let s = busy();
        let text = render(&families(&s, false), Format::Prometheus);
        assert!(!text.contains("sub1") && !text.contains("sub2"), "{text}");
        assert!(text.contains("sixfold_shaper_sent_bytes_total{link=\"wan\",family=\"ipv4\"}"));
        let all = render(&families(&s, true), Format::Prometheus);
        assert!(all.contains("sixfold_subscriber_sessions{subscriber=\"sub2\"} "));
        assert!(all.contains("sixfold_shaper_sent_bytes_total{link=\"sub2\",family=\"ipv6\"}"));
    }

    #[test]
    fn every_family_is_named_once_and_by_convention() {
        let f = families(&busy(), true);
        let mut names: Vec<&str> = f.iter().map(|x| x.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), f.len());
        for x in &f {
            assert!(x.name.starts_with("sixfold_"), "{}", x.name);
            assert!(!x.name.ends_with("_total") && !x.name.ends_with("_info"));
            assert!(x.help.ends_with('.'), "{}", x.name);
            assert!(
                x.name
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'),
                "{}",
                x.name
            );
        }
    }
}
