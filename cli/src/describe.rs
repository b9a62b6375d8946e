//! What `sixfold addr` and `sixfold teredo` print about an address: the JSON
//! object and the human-readable line, shared by both commands.

use serde_json::{Value, json};
use sixfold_teredo::exposure::{Knowledge, exposure};
use sixfold_teredo::{AddressKind, Teredo};
use std::net::Ipv6Addr;

/// Parses each argument as an IPv6 address, reporting every one that is not.
/// Returns the addresses that parsed and whether any failed.
pub(crate) fn parse_addresses(args: &[String]) -> (Vec<(String, Option<Ipv6Addr>)>, bool) {
    let mut bad = false;
    let parsed = args
        .iter()
        .map(|text| {
            let addr = text.parse::<Ipv6Addr>().ok();
            if addr.is_none() {
                eprintln!("sixfold: argument {text:?} is not an IPv6 address");
                bad = true;
            }
            (text.clone(), addr)
        })
        .collect();
    (parsed, bad)
}

/// The JSON object for one classified address.
pub(crate) fn describe(text: &str, addr: Ipv6Addr, kind: &AddressKind) -> Value {
    let mut v = json!({ "address": text, "normalized": addr.to_string(), "kind": kind.name() });
    if let Some(ipv4) = kind.embedded_ipv4() {
        v["ipv4"] = json!(ipv4.to_string());
    }
    match kind {
        AddressKind::Teredo(t) => {
            if let (Value::Object(o), Value::Object(t)) = (&mut v, teredo_json(text, t)) {
                o.extend(t);
            }
        }
        AddressKind::SixToFour {
            isatap: Some(a), ..
        } => v["isatap_ipv4"] = json!(a.to_string()),
        AddressKind::Isatap { universal, .. } => v["universal"] = json!(universal),
        AddressKind::Nat64 { prefix, .. } => {
            v["prefix"] = json!(format!("{}/{}", prefix.prefix(), prefix.prefix_len()))
        }
        _ => {}
    }
    v
}

/// The human-readable line for one classified address.
pub(crate) fn human(addr: Ipv6Addr, kind: &AddressKind) -> String {
    match kind {
        AddressKind::Teredo(t) => teredo_line(addr, t),
        AddressKind::SixToFour { ipv4, isatap } => match isatap {
            Some(i) => format!("{addr}  6to4  gateway {ipv4}  isatap {i}"),
            None => format!("{addr}  6to4  gateway {ipv4}"),
        },
        AddressKind::Isatap { ipv4, universal } => {
            format!(
                "{addr}  isatap  ipv4 {ipv4}  ({})",
                if *universal { "global" } else { "private" }
            )
        }
        AddressKind::Nat64 { prefix, ipv4 } => format!(
            "{addr}  nat64  {}/{}  ipv4 {ipv4}",
            prefix.prefix(),
            prefix.prefix_len()
        ),
        other => match other.embedded_ipv4() {
            Some(ipv4) => format!("{addr}  {}  ipv4 {ipv4}", other.name()),
            None => format!("{addr}  {}", other.name()),
        },
    }
}

/// The JSON fields of a decoded Teredo address.
pub(crate) fn teredo_json(text: &str, t: &Teredo) -> Value {
    json!({
        "address": text,
        "teredo": true,
        "server": t.server.to_string(),
        "client": t.client.to_string(),
        "port": t.port,
        "flags": format!("{:#06x}", t.flags.0),
        "cone": t.flags.cone(),
        "random_bits": t.flags.random_bits(),
        "legacy": t.is_legacy(),
        "style": t.flags.style().name(),
        "reserved": t.flags.reserved(),
        "universal": t.flags.universal(),
        "group": t.flags.group(),
        "exposure_bits": exposure(t, Knowledge::NatAddress).bits(),
    })
}

/// The human-readable line for a decoded Teredo address.
pub(crate) fn teredo_line(addr: Ipv6Addr, t: &Teredo) -> String {
    let mut notes = vec![t.flags.style().name()];
    if t.flags.cone() {
        notes.push("cone");
    }
    if t.is_legacy() {
        notes.push("legacy prefix 3ffe:831f::/32");
    }
    format!(
        "{addr}  teredo  server {}  client {}:{}  flags {:#06x} (random {:#05x}; {})",
        t.server,
        t.client,
        t.port,
        t.flags.0,
        t.flags.random_bits(),
        notes.join(", ")
    )
}
