//! `sixfold`: the command line of the sixfold toolkit. Each subcommand lives in its
//! own module; `commands` parses and dispatches.

mod addr;
mod commands;
mod describe;
mod ipfix;
mod lab;
mod nat;
mod record;
mod rewrite;
mod run;
mod teredo;
mod translate;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = commands::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIXFOLD_LOG")
        .unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match commands::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sixfold: {e:#}");
            ExitCode::FAILURE
        }
    }
}
