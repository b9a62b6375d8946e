//! `sixfold lab --keep`: after `ready`, the file each router runs from
//! (`config PATH`, or with `--routers N` one `config K PATH` per box), then
//! commands on standard input, each answered on exactly one line:
//! `reload` (`reload K` with `--routers`) makes that router read its file
//! again — `reloaded: KEY: OLD -> NEW; …`, `reloaded: no change`, or
//! `error: refused: …` with every reason —, `upgrade` (one-router labs)
//! hands the router over to a new process of this binary (`upgraded pid OLD
//! -> NEW in S s`), and `--routers` labs take `kill K` and `start K` too.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Writes `lines` (`ready`, then the `config` lines) to standard output in
/// one write: a reader that takes `ready` and closes the pipe never makes the
/// lab fail on the rest. A standard output nobody reads is no error.
pub(super) fn announce(lines: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(lines.as_bytes());
    let _ = out.flush();
}

/// Reads commands from standard input until `stop`, answering each with
/// `answer`'s line (an error as `error: …`).
pub(super) fn serve(
    stop: &AtomicBool,
    mut answer: impl FnMut(&str) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    while !stop.load(Ordering::Relaxed) {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        let line = match answer(line.trim()) {
            Ok(a) => a,
            Err(e) => format!("error: {e:#}"),
        };
        announce(&format!("{}\n", line.replace('\n', "; ")));
    }
    Ok(())
}

/// Asks the router at `socket` to hand over to a new process of this binary:
/// `upgraded pid OLD -> NEW in S s`; the lab follows the new process (its
/// stop and teardown signal that pid).
pub(super) fn upgrade(socket: &str, world: &mut super::world::World) -> anyhow::Result<String> {
    let exe = std::env::current_exe()?;
    let answer = sixfold::control::request(socket, &format!("upgrade {}", exe.display()))?;
    // The first line; the second says how long the loops stood still.
    let line = answer.lines().next().unwrap_or("").trim().to_string();
    if let Some(why) = answer.trim().strip_prefix("refused ") {
        anyhow::bail!("refused: {why}");
    }
    let new = line
        .strip_prefix("upgraded pid ")
        .and_then(|rest| rest.split(" -> ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|pid| pid.parse::<i32>().ok())
        .ok_or_else(|| anyhow::anyhow!("unexpected answer from {socket}: {line:?}"))?;
    world.follow_router(new);
    Ok(line)
}

/// Asks the router at `socket` to reload its file: the one-line answer.
pub(super) fn reload(socket: &str) -> anyhow::Result<String> {
    let answer = sixfold::control::request(socket, "reload")?;
    let mut lines = answer.lines();
    let head = lines.next().unwrap_or("");
    let rest: Vec<&str> = lines.collect();
    match head.split(' ').next() {
        Some("reloaded") => Ok(format!("reloaded: {}", rest.join("; "))),
        Some("unchanged") => Ok("reloaded: no change".into()),
        Some("refused") => anyhow::bail!("refused: {}", rest.join("; ")),
        _ => anyhow::bail!("unexpected answer from {socket}: {head:?}"),
    }
}
