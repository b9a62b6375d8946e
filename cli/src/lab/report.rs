//! The lab's closing report: the router's counters, read through the same types
//! `sixfold stats` prints.

use sixfold_router::Snapshot;
use sixfold_router::stats::{IpfixUse, ProtocolTraffic, SubscriberUse};

/// `a, b, c`, or `none`.
fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

pub(super) fn report(s: &Snapshot) {
    println!("router counters:");
    for (family, t) in [("IPv4", &s.ipv4), ("IPv6", &s.ipv6)] {
        let line = |dir: &ProtocolTraffic| {
            dir.iter()
                .iter()
                .filter(|(_, t)| t.packets > 0)
                .map(|(p, t)| format!("{p} {} pkt/{} B", t.packets, t.bytes))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("  {family} out: {}", line(&t.outbound));
        println!("  {family} in:  {}", line(&t.inbound));
    }
    let (v4, v6) = s.bytes_by_family();
    let share = |b: u64| 100.0 * b as f64 / (v6 + v4).max(1) as f64;
    println!(
        "  traffic split: IPv6 {:.0}% of bytes ({v6} B), IPv4 {:.0}% ({v4} B)",
        share(v6),
        share(v4)
    );
    println!(
        "  hairpinned: {}; sessions live {} (created {}, expired {}); mappings {}; IPv6 firewall flows live {} (created {})",
        s.hairpinned,
        s.sessions,
        s.sessions_created,
        s.sessions_expired,
        s.mappings,
        s.ipv6_flows,
        s.ipv6_flows_created
    );
    for sub in &s.subscribers {
        let p = sub.ports;
        let public = sub.public_ipv4.map_or("-".to_string(), |a| a.to_string());
        println!(
            "  {}: public {public}, ports icmp {}, tcp {}, udp {}, sessions {}, IPv6 flows {}",
            sub.name, p.icmp, p.tcp, p.udp, sub.sessions, sub.ipv6_flows
        );
        println!("    {}", subscriber_traffic(sub));
    }
    for sh in &s.shapers {
        println!(
            "  shaper {} at {} Mbit/s: IPv6 {} B sent ({} dropped), IPv4 {} B sent ({} dropped)",
            sh.name, sh.rate_mbps, sh.ipv6.bytes, sh.ipv6.dropped, sh.ipv4.bytes, sh.ipv4.dropped
        );
    }
    let tunnels: Vec<String> = s
        .drops
        .nonzero()
        .filter_map(|(r, n)| Some(format!("{} {n}", r.tunnel_mechanism()?)))
        .collect();
    println!(
        "  transition-tunnel packets blocked: {}",
        list_or_none(&tunnels)
    );
    let drops: Vec<String> = s.drops.nonzero().map(|(r, n)| format!("{r} {n}")).collect();
    println!("  drops: {}", list_or_none(&drops));
    println!("  {}", ipfix_line(&s.ipfix));
    let icmp: Vec<String> = s
        .icmp_sent
        .nonzero()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if !icmp.is_empty() {
        println!("  ICMP sent: {}", icmp.join(", "));
    }
}

/// A subscriber's traffic on its side of the NAT, and its port blocks.
fn subscriber_traffic(sub: &SubscriberUse) -> String {
    let t = &sub.traffic;
    format!(
        "traffic (pkt/B): IPv4 up {}/{} down {}/{}, IPv6 up {}/{} down {}/{}; port blocks {}",
        t.ipv4_out.packets,
        t.ipv4_out.bytes,
        t.ipv4_in.packets,
        t.ipv4_in.bytes,
        t.ipv6_out.packets,
        t.ipv6_out.bytes,
        t.ipv6_in.packets,
        t.ipv6_in.bytes,
        sub.blocks
    )
}

/// What the workers produced for IPFIX, and lost.
fn ipfix_line(x: &IpfixUse) -> String {
    let events: Vec<String> = x
        .nat_events
        .nonzero()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    format!(
        "IPFIX: NAT events {}; flow records {}, exported {}, dropped {}; flows accounted now {}, overflow {}",
        list_or_none(&events),
        x.flow_records,
        x.records_exported,
        x.records_dropped,
        x.flows,
        x.flows_overflow
    )
}
