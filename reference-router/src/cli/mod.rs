//! Command-line parsing and dispatch. Each subcommand lives in its own module.

mod addr;
mod lab;
mod rewrite;
mod router;
mod teredo;

use clap::{Parser, Subcommand};
use std::net::Ipv6Addr;
use std::process::ExitCode;

/// sixfold: tools for the dual-stack network edge.
#[derive(Parser, Debug)]
#[command(name = "sixfold", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decode, encode and assess Teredo addresses and captures.
    #[command(subcommand)]
    Teredo(teredo::TeredoCommand),
    /// Classify IPv6 addresses: Teredo, 6to4, ISATAP, NAT64, 6rd, mapped, ...
    Addr(addr::AddrArgs),
    /// Rewrite addresses, ports, TTL and MSS in a capture, keeping every checksum
    /// exact (a tcprewrite for pcap/pcapng).
    Rewrite(rewrite::RewriteArgs),
    /// Build a small world in network namespaces, run the router between them,
    /// drive real traffic through it and report (needs root).
    Lab(lab::LabArgs),
    /// Run the router on the TUN devices of a configuration file (needs root).
    Run(router::RunArgs),
    /// Print the counters of a running router.
    Stats(router::StatsArgs),
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Teredo(cmd) => teredo::run(cmd),
        Command::Addr(args) => addr::run(args),
        Command::Rewrite(args) => rewrite::run(args),
        Command::Lab(args) => lab::run(args),
        Command::Run(args) => router::run(args),
        Command::Stats(args) => router::stats(args),
    }
}

/// Parses each argument as an IPv6 address, reporting every one that is not.
/// Returns the addresses that parsed and whether any failed.
fn parse_addresses(args: &[String]) -> (Vec<(String, Option<Ipv6Addr>)>, bool) {
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
