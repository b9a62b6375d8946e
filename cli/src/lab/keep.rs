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
use std::sync::mpsc::{self, RecvTimeoutError};
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
    answer: impl FnMut(&str) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    answer_lines(stop, &rx, answer);
    Ok(())
}

/// How often the loop looks at `stop` while no command comes.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Answers the lines `rx` brings until `stop`. Once the sender is gone
/// (standard input closed: a lab started in the background of a script, the
/// benchmarks' way) no command can come, and the loop only waits for `stop`:
/// `recv_timeout` on a disconnected channel returns at once, and retrying it
/// spun a whole core, which every benchmark through the lab paid for.
fn answer_lines(
    stop: &AtomicBool,
    rx: &mpsc::Receiver<String>,
    mut answer: impl FnMut(&str) -> anyhow::Result<String>,
) {
    while !stop.load(Ordering::Relaxed) {
        let line = match rx.recv_timeout(STOP_POLL) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(STOP_POLL);
                }
                return;
            }
        };
        let line = match answer(line.trim()) {
            Ok(a) => a,
            Err(e) => format!("error: {e:#}"),
        };
        announce(&format!("{}\n", line.replace('\n', "; ")));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// This thread's CPU time so far, in nanoseconds (the first field of
    /// /proc/thread-self/schedstat).
    fn thread_cpu_ns() -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
        stat.split_whitespace().next().unwrap().parse().unwrap()
    }

    #[test]
    fn with_standard_input_closed_the_loop_sleeps_until_stopped() {
        let (tx, rx) = mpsc::channel::<String>();
        drop(tx);
        let stop = Arc::new(AtomicBool::new(false));
        let setter = Arc::clone(&stop);
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(600));
            setter.store(true, Ordering::Relaxed);
        });
        let before = thread_cpu_ns();
        let mut answered = 0;
        answer_lines(&stop, &rx, |_| {
            answered += 1;
            Ok(String::new())
        });
        let spent = thread_cpu_ns() - before;
        stopper.join().unwrap();
        assert_eq!(answered, 0);
        // Spinning for 600 ms costs hundreds of ms of CPU even on a loaded
        // machine; six or seven wake-ups cost microseconds.
        assert!(
            spent < 50_000_000,
            "the loop used {spent} ns of CPU in 600 ms"
        );
    }

    #[test]
    fn every_line_gets_one_answer_and_stop_ends_the_loop() {
        let (tx, rx) = mpsc::channel();
        tx.send(" reload \n".to_string()).unwrap();
        tx.send("bogus".to_string()).unwrap();
        let stop = AtomicBool::new(false);
        let mut seen = Vec::new();
        answer_lines(&stop, &rx, |line| {
            seen.push(line.to_string());
            if seen.len() == 2 {
                stop.store(true, Ordering::Relaxed);
            }
            Ok("ok".into())
        });
        assert_eq!(seen, ["reload", "bogus"]);
    }
}
