//! `sixfold reload`: asks a running router to read its configuration again
//! (or FILE, which then becomes the file it runs from) over its control
//! socket. Prints one line per changed key (`KEY: OLD -> NEW`); exits 0 when
//! the new file applied or there was nothing to change, 1 when it was
//! refused (every reason printed: nothing changed), 2 when no router answers.

use clap::Args;
use sixfold_router::config::DEFAULT_CONTROL_SOCKET;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub(crate) struct ReloadArgs {
    /// The router's control socket (`router.control_socket` in its configuration).
    #[arg(long, default_value = DEFAULT_CONTROL_SOCKET)]
    socket: String,
    /// Read this file instead of the one the router runs from; it becomes
    /// the router's file (a later SIGHUP reads it). The router reads it
    /// itself, as its own user.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub(crate) fn run(args: ReloadArgs) -> anyhow::Result<ExitCode> {
    let request = match &args.config {
        Some(path) => {
            let path = std::path::absolute(path)?;
            format!("reload {}", path.display())
        }
        None => "reload".to_string(),
    };
    let answer = match sixfold::control::request(&args.socket, &request) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sixfold reload: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut lines = answer.lines();
    let head = lines.next().unwrap_or("");
    let (word, file) = head.split_once(' ').unwrap_or((head, ""));
    match word {
        "reloaded" => {
            for l in lines {
                println!("{l}");
            }
            eprintln!("sixfold reload: {file} applied");
            Ok(ExitCode::SUCCESS)
        }
        "unchanged" => {
            eprintln!("sixfold reload: {file}: no change");
            Ok(ExitCode::SUCCESS)
        }
        "refused" => {
            eprintln!("sixfold reload: {file} refused; the running configuration stays:");
            for l in lines {
                println!("{l}");
            }
            Ok(ExitCode::FAILURE)
        }
        _ => {
            eprintln!(
                "sixfold reload: {}: the answer is not a sixfold router's ({:?})",
                args.socket,
                head.chars().take(80).collect::<String>()
            );
            Ok(ExitCode::from(2))
        }
    }
}
