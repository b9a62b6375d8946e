//! The families of carrier-grade operations: IPFIX export (NAT events by
//! kind, records produced, exported and lost, flows accounted, port blocks)
//! and, per subscriber, its port blocks and its traffic counted on its side
//! of the NAT.

use super::Kind;
use super::families::Builder;
use crate::stats::{Snapshot, Traffic};

/// Pool addresses a reload removed that still carry sessions (none listed
/// when nothing drains).
pub(super) fn draining(b: &mut Builder, s: &Snapshot) {
    for (name, help, field) in [
        (
            "sixfold_nat_pool_draining_sessions",
            "Live sessions on a pool address a reload removed (it drains: nothing new is given it).",
            "sessions",
        ),
        (
            "sixfold_nat_pool_draining_mappings",
            "Live mappings on a pool address a reload removed.",
            "mappings",
        ),
    ] {
        b.family(name, help, Kind::Gauge);
        for (i, d) in s.draining.iter().enumerate() {
            let value = if field == "sessions" {
                d.sessions
            } else {
                d.mappings
            };
            let address = d.address.to_string();
            b.sample(
                &[("address", &address)],
                value,
                format!("draining[{i}].{field}"),
            );
        }
    }
}

/// IPFIX export.
pub(super) fn ipfix(b: &mut Builder, s: &Snapshot) {
    let x = &s.ipfix;
    b.family(
        "sixfold_ipfix_nat_events",
        "NAT events produced for IPFIX (RFC 8158 natEvent), by kind (every kind listed).",
        Kind::Counter,
    );
    for (event, n) in x.nat_events.iter() {
        b.sample(
            &[("event", event.name())],
            n,
            format!("ipfix.nat_events.{event}"),
        );
    }
    for (name, help, kind, field, value) in [
        (
            "sixfold_ipfix_flow_records",
            "Flow-accounting records produced.",
            Kind::Counter,
            "flow_records",
            x.flow_records,
        ),
        (
            "sixfold_ipfix_records_exported",
            "IPFIX records handed to the exporter.",
            Kind::Counter,
            "records_exported",
            x.records_exported,
        ),
        (
            "sixfold_ipfix_records_dropped",
            "IPFIX records dropped because a queue towards the exporter was full.",
            Kind::Counter,
            "records_dropped",
            x.records_dropped,
        ),
        (
            "sixfold_ipfix_messages_unsent",
            "IPFIX messages the exporter's socket refused to send (lost).",
            Kind::Counter,
            "messages_unsent",
            x.messages_unsent,
        ),
        (
            "sixfold_ipfix_flows",
            "Flows being accounted (before the NAT).",
            Kind::Gauge,
            "flows",
            x.flows,
        ),
        (
            "sixfold_ipfix_flows_overflow_packets",
            "Forwarded packets not accounted because the flow table was full.",
            Kind::Counter,
            "flows_overflow",
            x.flows_overflow,
        ),
        (
            "sixfold_nat_port_blocks",
            "Live port blocks ([nat] allocation = \"block\").",
            Kind::Gauge,
            "blocks",
            x.blocks,
        ),
    ] {
        b.single(name, help, kind, &format!("ipfix.{field}"), value);
    }
    for (field, name, help, value) in s.takeover.fields() {
        let kind = if field == "fed" {
            Kind::Gauge
        } else {
            Kind::Counter
        };
        b.single(name, help, kind, &format!("takeover.{field}"), value);
    }
}

/// Each subscriber's port blocks and its traffic on its side of the NAT.
pub(super) fn subscribers(b: &mut Builder, s: &Snapshot) {
    b.family(
        "sixfold_subscriber_port_blocks",
        "Port blocks a subscriber's inside addresses hold.",
        Kind::Gauge,
    );
    for (i, u) in s.subscribers.iter().enumerate() {
        let path = format!("subscribers[{i}].blocks");
        b.sample(&[("subscriber", &u.name)], u64::from(u.blocks), path);
    }
    for (name, help, bytes) in [
        (
            "sixfold_subscriber_packets",
            "Packets a subscriber sent (outbound) and received (inbound), by family.",
            false,
        ),
        (
            "sixfold_subscriber_bytes",
            "Bytes of IP packets a subscriber sent and received, by family.",
            true,
        ),
    ] {
        b.family(name, help, Kind::Counter);
        for (i, u) in s.subscribers.iter().enumerate() {
            let t = &u.traffic;
            let cells: [(&str, &str, &str, Traffic); 4] = [
                ("ipv4", "outbound", "ipv4_out", t.ipv4_out),
                ("ipv4", "inbound", "ipv4_in", t.ipv4_in),
                ("ipv6", "outbound", "ipv6_out", t.ipv6_out),
                ("ipv6", "inbound", "ipv6_in", t.ipv6_in),
            ];
            for (family, direction, field, x) in cells {
                let (value, unit) = if bytes {
                    (x.bytes, "bytes")
                } else {
                    (x.packets, "packets")
                };
                b.sample(
                    &[
                        ("subscriber", &u.name),
                        ("family", family),
                        ("direction", direction),
                    ],
                    value,
                    format!("subscribers[{i}].traffic.{field}.{unit}"),
                );
            }
        }
    }
}
