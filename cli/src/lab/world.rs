//! The lab's world: network namespaces, addresses and routes, the router running
//! between them — and everything undone again when the world is dropped.

use super::args::{DUAL_STACK_NAME, LabArgs, SERVER_V4, SERVER_V6};
use anyhow::{Context, bail};
use sixfold_router::{Config, Snapshot};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the lab made, undone on drop in reverse order.
#[derive(Default)]
pub(super) struct World {
    pub(super) namespaces: Vec<String>,
    pub(super) children: Vec<Child>,
    pub(super) files: Vec<PathBuf>,
    /// The one-router lab's `sixfold run` process and its control socket.
    pub(super) router: Option<(Child, String)>,
    /// After an upgrade: the process that runs the router now (the lab's
    /// child once the old one ended: the lab is their subreaper).
    pub(super) router_pid: Option<i32>,
    /// The file the one-router lab's router runs from.
    pub(super) config_file: Option<PathBuf>,
    /// The IPFIX collector of `--ipfix`.
    pub(super) collector: Option<super::collector::Collector>,
    /// `--routers`: each box's `sixfold run` process (none while it is down).
    pub(super) boxes: Vec<Option<Child>>,
    /// Threads that run as long as the world (their stop flag, their handle).
    pub(super) threads: Vec<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl World {
    /// Stops the router (SIGTERM: it releases and logs what it holds);
    /// its last counters, read just before.
    pub(super) fn stop_router(&mut self) -> Option<Snapshot> {
        let (mut child, socket) = self.router.take()?;
        let last = stats(&socket);
        match self.router_pid.take() {
            Some(pid) => stop_pid(pid, Duration::from_secs(6)),
            None => stop_child(&mut child, Duration::from_secs(6)),
        }
        match last {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("sixfold lab: the router's last counters: {e:#}");
                None
            }
        }
    }
}

/// The running router's counters, read from its control socket.
pub(super) fn stats(socket: &str) -> anyhow::Result<Snapshot> {
    let answer = sixfold::control::request(socket, "stats")?;
    serde_json::from_str(&answer).context("the router's stats")
}

impl Drop for World {
    fn drop(&mut self) {
        for (stop, _) in &self.threads {
            stop.store(true, Ordering::Relaxed);
        }
        for child in self.boxes.iter_mut().filter_map(Option::as_mut) {
            stop_child(child, Duration::from_secs(3));
        }
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.stop_router();
        for (_, handle) in self.threads.drain(..) {
            let _ = handle.join();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        for f in &self.files {
            let _ = std::fs::remove_dir_all(f).or_else(|_| std::fs::remove_file(f));
        }
        // Created for the hosts files if it was not there; removed only if empty.
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

impl World {
    /// The router runs in process `pid` now (an upgrade): the old process,
    /// ending, is reaped; stops and teardown signal `pid`.
    pub(super) fn follow_router(&mut self, pid: i32) {
        if let Some((child, _)) = self.router.as_mut() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.router_pid = Some(pid);
    }
}

/// SIGTERM to process `pid` (a child of this one, or its orphan taken in as
/// subreaper), SIGKILL if it has not ended within `grace`; reaped.
fn stop_pid(pid: i32, grace: Duration) {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let pid = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(20)),
            _ => return,
        }
    }
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = waitpid(pid, None);
}

/// SIGTERM to `child`, SIGKILL if it has not ended within `grace`; reaped.
pub(super) fn stop_child(child: &mut Child, grace: Duration) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Namespaces (under `/run/netns`) and hosts-file directories (under
/// `/etc/netns`) that are the lab's for `prefix`: `PREFIX-wan`, `PREFIX-subN`,
/// and with `--routers` `PREFIX-access`, `PREFIX-core`, `PREFIX-rN`.
fn lab_names(dir: &str, prefix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|role| {
                    let numbered = |p: &str| {
                        role.strip_prefix(p)
                            .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
                    };
                    matches!(role, "wan" | "access" | "core") || numbered("sub") || numbered("r")
                })
        })
        .collect();
    names.sort();
    names
}

/// Removes what an earlier lab with the same prefix left behind when it was
/// killed (its namespaces and the processes in them, its hosts files, its stale
/// control socket) and says what it removed; refuses if that lab still runs.
pub(super) fn clear_leftovers(prefix: &str, socket: &str) -> anyhow::Result<Option<String>> {
    let socket_path = std::path::Path::new(socket);
    // A router whose lab was killed stops on its own (it had asked to): it
    // may take a moment to release what it held and let go of its socket.
    let deadline = Instant::now() + Duration::from_secs(4);
    while std::os::unix::net::UnixStream::connect(socket_path).is_ok() {
        if Instant::now() > deadline {
            bail!(
                "a lab with --prefix {prefix} is running (its router answers at {socket}): stop it, or use another --prefix"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut removed = Vec::new();
    for ns in lab_names("/run/netns", prefix) {
        // Processes an earlier lab started in its namespaces outlive them.
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    removed.push(format!("process {pid} in {ns}"));
                }
            }
        }
        ip(&["netns", "del", &ns])?;
        removed.push(format!("namespace {ns}"));
    }
    for dir in lab_names("/etc/netns", prefix) {
        let path = std::path::Path::new("/etc/netns").join(&dir);
        std::fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))?;
        removed.push(path.display().to_string());
    }
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(socket_path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(socket_path).with_context(|| format!("removing {socket}"))?;
        removed.push(format!("socket {socket}"));
    }
    Ok((!removed.is_empty()).then(|| removed.join(", ")))
}

/// Runs `ip` with `args`, failing with its stderr.
pub(super) fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Runs `sysctl -qw` with `settings` in `ns`.
pub(super) fn sysctl(ns: &str, settings: &[&str]) -> anyhow::Result<()> {
    let out = netns_command(ns, "sysctl")
        .arg("-qw")
        .args(settings)
        .output()
        .context("running sysctl")?;
    if !out.status.success() {
        bail!(
            "sysctl in {ns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

pub(super) fn netns_command(ns: &str, program: &str) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, program]);
    c
}

/// Creates each namespace with its loopback up, refusing to reuse one.
pub(super) fn create_namespaces<'a>(
    args: &LabArgs,
    namespaces: impl Iterator<Item = &'a String>,
    world: &mut World,
) -> anyhow::Result<()> {
    for ns in namespaces {
        if std::path::Path::new("/run/netns").join(ns).exists() {
            bail!(
                "network namespace {ns} exists already (another lab with --prefix {}?); remove it with `ip netns del {ns}`",
                args.prefix
            );
        }
        ip(&["netns", "add", ns])?;
        world.namespaces.push(ns.clone());
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    Ok(())
}

/// Writes `config` as TOML to `file`, with a line that says whose it is.
pub(super) fn write_config(config: &Config, file: &Path) -> anyhow::Result<()> {
    let text = toml::to_string(config).context("writing the router's configuration")?;
    let text = format!(
        "# The configuration `sixfold lab` runs its router with: edit it, then say `reload`.\n{text}"
    );
    std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))
}

/// Starts `sixfold run --config FILE` (in namespace `ns`, if any), its
/// standard output and error to `out` and `err` (never the lab's standard
/// output: that is `--keep`'s protocol); it stops when this process ends.
pub(super) fn spawn_router(
    ns: Option<&str>,
    file: &Path,
    (out, err): (Stdio, Stdio),
) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?;
    let mut command = match ns {
        Some(ns) => netns_command(ns, &exe.to_string_lossy()),
        None => Command::new(&exe),
    };
    command
        .args(["run", "--config"])
        .arg(file)
        .env("SIXFOLD_EXIT_WITH_PARENT", std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .context("starting sixfold run")
}

/// Waits (10 s at most) until the router `child` answers on `socket`; if it
/// ends first, the error says how, with what `log` returns (its log).
pub(super) fn wait_answering(
    child: &mut Child,
    socket: &str,
    stop: &AtomicBool,
    log: impl Fn() -> String,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sixfold::control::request(socket, "stats").is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            bail!("the router ended ({status}) {}", log().trim());
        }
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        if Instant::now() > deadline {
            bail!("the router did not answer on {socket} in 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Gives subscriber namespace `ns` a hosts file (`ip netns exec` bind-mounts
/// /etc/netns/NS/hosts) with a name that has an A and an AAAA record.
pub(super) fn hosts_file(ns: &str, world: &mut World) -> anyhow::Result<()> {
    let dir = PathBuf::from("/etc/netns").join(ns);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    world.files.push(dir.clone());
    std::fs::write(
        dir.join("hosts"),
        format!(
            "127.0.0.1 localhost\n{SERVER_V4} {DUAL_STACK_NAME}\n{SERVER_V6} {DUAL_STACK_NAME}\n"
        ),
    )?;
    Ok(())
}

/// The address getaddrinfo() puts first for the dual-stack name (RFC 6724 order).
pub(super) fn first_address(ns: &str) -> anyhow::Result<String> {
    let code = format!(
        "import socket; print(socket.getaddrinfo('{DUAL_STACK_NAME}', 80, type=socket.SOCK_STREAM)[0][4][0])"
    );
    let out = netns_command(ns, "python3")
        .args(["-c", &code])
        .output()
        .context("running python3")?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The subscriber's global IPv6 address learnt by SLAAC, once usable.
pub(super) fn slaac_address(ns: &str, dev: &str) -> Option<String> {
    let out = Command::new("ip")
        .args([
            "-n", ns, "-6", "-j", "addr", "show", "dev", dev, "scope", "global",
        ])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.get(0)?["addr_info"].as_array()?.iter().find_map(|a| {
        let usable = a["dynamic"].as_bool() == Some(true) && a["tentative"].as_bool() != Some(true);
        usable
            .then(|| a["local"].as_str().map(str::to_string))
            .flatten()
    })
}
