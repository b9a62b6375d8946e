//! Command-line parsing and dispatch. Each subcommand lives in its own module.

use crate::{addr, assets, check, lab, nat, reload, rewrite, run, teredo, translate, upgrade};
use clap::{CommandFactory, Parser, Subcommand};
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
    /// Translate a capture between IPv4 and IPv6 through the configured
    /// stateless translator ([siit], RFC 7915), as the router forwards it.
    Translate(translate::TranslateArgs),
    /// Build a small world in network namespaces, run the router between them,
    /// drive real traffic through it and report (needs root).
    Lab(lab::LabArgs),
    /// Run the router on the TUN devices of a configuration file (needs root,
    /// or the capabilities the systemd unit grants).
    Run(run::RunArgs),
    /// Check a configuration file: every problem with its key and line, or a
    /// summary of what it runs (--host: also against this machine).
    Check(check::CheckArgs),
    /// Make a running router read its configuration again, applied whole or
    /// not at all, without losing a packet or a session.
    Reload(reload::ReloadArgs),
    /// Hand a running router over to a new binary (by default the file it
    /// was started from): its devices, sessions and counters go on in the
    /// new process, nothing is released.
    Upgrade(upgrade::UpgradeArgs),
    /// Print the counters of a running router.
    Stats(run::StatsArgs),
    /// Carrier-grade NAT operations: who had a public address and port.
    #[command(subcommand)]
    Nat(nat::NatCommand),
    /// Write the man pages and shell completions (for the package).
    #[command(hide = true)]
    GenerateAssets(assets::AssetsArgs),
}

impl Cli {
    /// Whether this is `sixfold run` (which starts its own log).
    pub(crate) fn is_run(&self) -> bool {
        matches!(self.command, Command::Run(_))
    }
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Teredo(cmd) => teredo::run(cmd),
        Command::Addr(args) => addr::run(args),
        Command::Rewrite(args) => rewrite::run(args),
        Command::Translate(args) => translate::run(args),
        Command::Lab(args) => lab::run(args),
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::run(args),
        Command::Reload(args) => reload::run(args),
        Command::Upgrade(args) => upgrade::run(args),
        Command::GenerateAssets(args) => assets::run(args, Cli::command()),
        Command::Stats(args) => run::stats(args),
        Command::Nat(cmd) => nat::run(cmd),
    }
}
