//! What the end-to-end tests share: running `sixfold lab --keep` as a fixture,
//! commands inside its namespaces, and skipping loudly without root.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const SIXFOLD: &str = env!("CARGO_BIN_EXE_sixfold");

pub fn can_run(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os("SIXFOLD_REQUIRE_ORACLES").is_none(),
        "{test}: needs root (network namespaces)"
    );
    eprintln!("SKIPPED {test}: needs root for network namespaces and TUN devices");
    false
}

/// `sixfold lab --keep` running; SIGTERM and wait on drop.
pub struct Lab {
    pub child: Child,
    pub prefix: String,
}

impl Lab {
    pub fn start(prefix: &str, extra: &[&str]) -> Lab {
        let mut child = Command::new(SIXFOLD)
            .args(["lab", "--keep", "--prefix", prefix])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sixfold lab");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("lab did not print `ready` in 30 s");
        assert_eq!(line, "ready\n");
        Lab {
            child,
            prefix: prefix.into(),
        }
    }

    pub fn ns(&self, which: &str) -> String {
        format!("{}-{which}", self.prefix)
    }

    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.child.wait().unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn exec(ns: &str, args: &[&str]) -> std::process::Output {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap()
}

pub fn ok(ns: &str, args: &[&str]) -> String {
    let out = exec(ns, args);
    assert!(
        out.status.success(),
        "{ns}: {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Round-trip times (ms) of `count` pings from `ns` to `to`, one every
/// `interval` seconds; lost ones are missing.
pub fn ping_rtts(ns: &str, to: &str, count: u32, interval: &str) -> Vec<f64> {
    let out = exec(
        ns,
        &[
            "ping",
            "-c",
            &count.to_string(),
            "-i",
            interval,
            "-W",
            "2",
            to,
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Resident memory of process `pid`, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}
