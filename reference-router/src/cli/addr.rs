//! `sixfold addr ADDR...`: classify IPv6 addresses.

use super::parse_addresses;
use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::{Value, json};
use sixfold_teredo::{AddressKind, Context, Nat64Prefix, SixRd, classify_with};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub(super) struct AddrArgs {
    /// IPv6 addresses to classify.
    #[arg(required = true)]
    addresses: Vec<String>,
    /// One JSON object per address per line.
    #[arg(long)]
    json: bool,
    /// A network-specific NAT64 prefix, e.g. 2001:db8:64::/96 (repeatable).
    #[arg(long = "nat64-prefix", value_name = "PREFIX/LEN")]
    nat64_prefix: Vec<String>,
    /// The operator's 6rd prefix, e.g. 2001:db8::/32 (with --6rd-ipv4).
    #[arg(
        long = "6rd-prefix",
        value_name = "PREFIX/LEN",
        requires = "six_rd_ipv4"
    )]
    six_rd_prefix: Option<String>,
    /// The IPv4 bits common to the 6rd domain, e.g. 10.0.0.0/8.
    #[arg(long = "6rd-ipv4", value_name = "ADDR/LEN", requires = "six_rd_prefix")]
    six_rd_ipv4: Option<String>,
}

fn split_prefix(text: &str, what: &str) -> anyhow::Result<(String, u8)> {
    let Some((addr, len)) = text.split_once('/') else {
        bail!("{what} {text:?} needs a /length")
    };
    let len = len
        .parse::<u8>()
        .with_context(|| format!("{what} {text:?}: bad length {len:?}"))?;
    Ok((addr.to_owned(), len))
}

pub(super) fn run(args: AddrArgs) -> anyhow::Result<ExitCode> {
    let mut nat64 = Vec::new();
    for text in &args.nat64_prefix {
        let (addr, len) = split_prefix(text, "--nat64-prefix")?;
        let addr: Ipv6Addr = addr
            .parse()
            .with_context(|| format!("--nat64-prefix {text:?}: not an IPv6 prefix"))?;
        nat64
            .push(Nat64Prefix::new(addr, len).with_context(|| format!("--nat64-prefix {text:?}"))?);
    }
    let six_rd = match (&args.six_rd_prefix, &args.six_rd_ipv4) {
        (Some(p), Some(v4)) => {
            let (addr, len) = split_prefix(p, "--6rd-prefix")?;
            let addr: Ipv6Addr = addr
                .parse()
                .with_context(|| format!("--6rd-prefix {p:?}: not an IPv6 prefix"))?;
            let (common, common_len) = split_prefix(v4, "--6rd-ipv4")?;
            let common: Ipv4Addr = common
                .parse()
                .with_context(|| format!("--6rd-ipv4 {v4:?}: not an IPv4 prefix"))?;
            Some(
                SixRd::new(addr, len, common, common_len)
                    .with_context(|| format!("--6rd-prefix {p} with --6rd-ipv4 {v4}"))?,
            )
        }
        _ => None,
    };
    let context = Context {
        six_rd,
        nat64: &nat64,
    };
    let (parsed, bad) = parse_addresses(&args.addresses);
    for (text, addr) in parsed {
        let Some(addr) = addr else { continue };
        let kind = classify_with(addr, &context);
        if args.json {
            println!("{}", describe(&text, addr, &kind));
        } else {
            println!("{}", human(addr, &kind));
        }
    }
    Ok(if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The JSON object for one classified address.
pub(super) fn describe(text: &str, addr: Ipv6Addr, kind: &AddressKind) -> Value {
    let mut v = json!({ "address": text, "normalized": addr.to_string(), "kind": kind.name() });
    if let Some(ipv4) = kind.embedded_ipv4() {
        v["ipv4"] = json!(ipv4.to_string());
    }
    match kind {
        AddressKind::Teredo(t) => {
            if let (Value::Object(o), Value::Object(t)) =
                (&mut v, super::teredo::teredo_json(text, t))
            {
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

fn human(addr: Ipv6Addr, kind: &AddressKind) -> String {
    match kind {
        AddressKind::Teredo(t) => super::teredo::teredo_line(addr, t),
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
