//! `sixfold`: the command line of the sixfold toolkit.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sixfold: {e:#}");
            ExitCode::FAILURE
        }
    }
}
