//! `sixfold upgrade`: asks a running router to hand over to a new process of
//! the binary at `--binary` (by default the file the router was started
//! from, i.e. the one a package installed there now). The router starts it
//! itself, hands it its devices and state, and ends without releasing
//! anything. Prints `upgraded pid OLD -> NEW in S s`; exits 0 when the new
//! process runs, 1 when the upgrade was refused (the reason printed; the old
//! router goes on as before), 2 when no router answers.

use clap::Args;
use sixfold_router::config::DEFAULT_CONTROL_SOCKET;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub(crate) struct UpgradeArgs {
    /// The router's control socket (`router.control_socket` in its configuration).
    #[arg(long, default_value = DEFAULT_CONTROL_SOCKET)]
    socket: String,
    /// The binary to start (default: the one the router was started from).
    #[arg(long)]
    binary: Option<PathBuf>,
}

pub(crate) fn run(args: UpgradeArgs) -> anyhow::Result<ExitCode> {
    let request = match &args.binary {
        Some(path) => format!("upgrade {}", std::path::absolute(path)?.display()),
        None => "upgrade".to_string(),
    };
    let answer = match sixfold::control::request(&args.socket, &request) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sixfold upgrade: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let line = answer.trim();
    if line.starts_with("upgraded ") {
        // `upgraded pid OLD -> NEW in S s`, then `paused P s`: how long the
        // packet loops stood still (packets waited in the TUN queues).
        println!("{line}");
        Ok(ExitCode::SUCCESS)
    } else if let Some(why) = line.strip_prefix("refused ") {
        eprintln!("sixfold upgrade: refused, the router goes on: {why}");
        Ok(ExitCode::FAILURE)
    } else {
        eprintln!("sixfold upgrade: {}: {line}", args.socket);
        Ok(ExitCode::from(2))
    }
}
