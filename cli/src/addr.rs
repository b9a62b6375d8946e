//! `sixfold addr ADDR...`: classify IPv6 addresses.

use crate::describe::{describe, human, parse_addresses};
use anyhow::{Context as _, bail};
use clap::Args;
use sixfold_teredo::{Context, Nat64Prefix, SixRd, classify_with};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub(crate) struct AddrArgs {
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

pub(crate) fn run(args: AddrArgs) -> anyhow::Result<ExitCode> {
    let mut nat64 = Vec::new();
    for text in &args.nat64_prefix {
        let (addr, len) = split_prefix(text, "--nat64-prefix")?;
        let addr: Ipv6Addr = addr
            .parse()
            .with_context(|| format!("--nat64-prefix {text:?}: not an IPv6 prefix"))?;
        nat64.push(
            Nat64Prefix::new_truncating(addr, len)
                .with_context(|| format!("--nat64-prefix {text:?}"))?,
        );
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
