//! `sixfold`: the command line of the sixfold toolkit. Each subcommand lives in its
//! own module; `commands` parses and dispatches.

mod addr;
mod assets;
mod check;
mod commands;
mod describe;
// The one IPFIX decoder, the router's: the record and the lab read with it.
use sixfold_router::ipfix::decode as ipfix;
mod lab;
mod logging;
mod nat;
mod record;
mod reload;
mod rewrite;
mod run;
mod teredo;
mod translate;
mod upgrade;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = commands::Cli::parse();
    // The docs test (scripts/check-docs.py) checks that every command line the
    // documentation shows parses, without running it (most need root).
    if std::env::var_os("SIXFOLD_PARSE_ONLY").is_some() {
        return ExitCode::SUCCESS;
    }
    // `run` starts its log once it has read `[router] log_format`.
    if !args.is_run() {
        logging::init(Default::default());
    }
    match commands::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sixfold: {e:#}");
            ExitCode::FAILURE
        }
    }
}
