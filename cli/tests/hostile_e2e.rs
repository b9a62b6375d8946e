//! A hostile or careless user against the running router and the lab (root):
//! control-socket clients that idle, never finish their request or never read
//! the answer must not slow forwarding or grow memory; the socket path never
//! replaces a file; the lab never writes through a planted link, cleans up after
//! a predecessor killed with SIGKILL, and ends cleanly on SIGTERM during setup.
//! Each test failed on the version before the hardening issue.

mod common;
use common::*;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn control_clients_cannot_stall_or_exhaust_the_router() {
    if !can_run("control_clients_cannot_stall_or_exhaust_the_router") {
        return;
    }
    let lab = Lab::start("sfctl", &[]);
    let socket = "/run/sixfold-sfctl.sock";
    let mode = std::fs::metadata(socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "control socket mode {mode:o}");
    let sub = lab.ns("sub1");
    assert_eq!(ping_rtts(&sub, "192.0.2.80", 3, "0.05").len(), 3);
    let rss_before = rss_kib(lab.router_pid());
    // 50 clients that connect and say nothing.
    let idle: Vec<UnixStream> = (0..50)
        .map(|_| UnixStream::connect(socket).unwrap())
        .collect();
    // One that sends a request without end (50 MB, no newline).
    let flood = std::thread::spawn(move || {
        let mut s = UnixStream::connect(socket).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        let chunk = vec![b'x'; 1 << 20];
        let mut sent = 0usize;
        while sent < 50 << 20 {
            match s.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    // And ones that ask for stats and never read the answer.
    let deaf: Vec<UnixStream> = (0..4)
        .map(|_| {
            let mut s = UnixStream::connect(socket).unwrap();
            let _ = s.write_all(b"stats\n");
            s
        })
        .collect();
    // Forwarding goes on undisturbed meanwhile.
    let rtts = ping_rtts(&sub, "192.0.2.80", 20, "0.05");
    assert_eq!(rtts.len(), 20, "pings lost while clients stalled");
    let worst = rtts.iter().cloned().fold(0.0, f64::max);
    assert!(worst < 100.0, "ping RTT up to {worst} ms: {rtts:?}");
    let flooded = flood.join().unwrap();
    assert!(
        flooded < 50 << 20,
        "the router read a 50 MB request to its end"
    );
    let rss_after = rss_kib(lab.router_pid());
    assert!(
        rss_after < rss_before + 50 * 1024,
        "memory grew from {rss_before} to {rss_after} KiB"
    );
    drop(idle);
    drop(deaf);
    // Once they are gone, stats answers again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new(SIXFOLD)
            .args(["stats", "--socket", socket])
            .output()
            .unwrap();
        if out.status.success() {
            let s: sixfold_router::Snapshot = serde_json::from_slice(&out.stdout).unwrap();
            assert!(s.ipv4.outbound.icmp.packets >= 23);
            break;
        }
        assert!(Instant::now() < deadline, "stats never answered again");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_control_socket_path_never_replaces_a_file() {
    if !can_run("the_control_socket_path_never_replaces_a_file") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sixfold-ctl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let victim = dir.join("precious.toml");
    let config = format!(
        "[router]\ncontrol_socket = \"{}\"\n[wan]\nname = \"sfnever0\"\n",
        victim.display()
    );
    std::fs::write(&victim, &config).unwrap();
    let out = Command::new(SIXFOLD)
        .args(["run", "--config"])
        .arg(&victim)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), config);
    // No device was made either.
    assert!(!std::path::Path::new("/sys/class/net/sfnever0").exists());
    // Someone else's live socket at the path: refused, still theirs.
    let theirs = dir.join("theirs.sock");
    let listener = std::os::unix::net::UnixListener::bind(&theirs).unwrap();
    let config = format!(
        "[router]\ncontrol_socket = \"{}\"\n[wan]\nname = \"sfnever0\"\n",
        theirs.display()
    );
    let file = dir.join("router.toml");
    std::fs::write(&file, &config).unwrap();
    let out = Command::new(SIXFOLD)
        .args(["run", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}: a program answers on this socket (another router?): refusing to take it over (router.control_socket)",
            theirs.display()
        )),
        "{err}"
    );
    assert!(!std::path::Path::new("/sys/class/net/sfnever0").exists());
    // The socket is still the one its owner listens on.
    listener.set_nonblocking(true).unwrap();
    let _client = std::os::unix::net::UnixStream::connect(&theirs).unwrap();
    assert!(listener.accept().is_ok(), "the owner's socket was replaced");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_lab_never_writes_through_a_planted_link() {
    if !can_run("the_lab_never_writes_through_a_planted_link") {
        return;
    }
    let planted = std::env::temp_dir().join("sixfold-lab-sfsym");
    let _ = std::fs::remove_dir_all(&planted);
    std::fs::create_dir_all(&planted).unwrap();
    let victim = std::env::temp_dir().join(format!("sixfold-victim-{}", std::process::id()));
    std::fs::write(&victim, "do not overwrite\n").unwrap();
    std::os::unix::fs::symlink(&victim, planted.join("index.html")).unwrap();
    let out = Command::new(SIXFOLD)
        .args(["lab", "--prefix", "sfsym", "--subscribers", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "do not overwrite\n"
    );
    // Its output and its router's log went to pipes: no colour codes.
    for (name, bytes) in [("output", &out.stdout), ("log", &out.stderr)] {
        assert!(!bytes.contains(&0x1b), "escape codes in the lab's {name}");
    }
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("INFO"),
        "the router's log is not on the lab's standard error: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&planted);
    let _ = std::fs::remove_file(&victim);
}

fn namespaces_with(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(&format!("{prefix}-")))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_lab_killed_with_sigkill_is_cleaned_up_by_the_next() {
    if !can_run("a_lab_killed_with_sigkill_is_cleaned_up_by_the_next") {
        return;
    }
    let mut first = Lab::start("sfkill", &[]);
    first.child.kill().unwrap(); // SIGKILL: nothing of it runs its clean-up
    first.child.wait().unwrap();
    assert_eq!(
        namespaces_with("sfkill").len(),
        3,
        "the killed lab left its namespaces"
    );
    let mut second = Command::new(SIXFOLD)
        .args(["lab", "--keep", "--prefix", "sfkill"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = [0u8; 6];
    second.stdout.take().unwrap().read_exact(&mut line).unwrap();
    assert_eq!(&line, b"ready\n");
    let pid = nix::unistd::Pid::from_raw(second.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = second.wait_with_output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("removed what an earlier lab with --prefix sfkill left: namespace sfkill-sub1, namespace sfkill-sub2, namespace sfkill-wan"),
        "{err}"
    );
    assert!(namespaces_with("sfkill").is_empty());
    // Dropping the first Lab signals a dead process: harmless.
    drop(first);
}

#[test]
fn sigterm_during_setup_ends_cleanly() {
    if !can_run("sigterm_during_setup_ends_cleanly") {
        return;
    }
    for delay_ms in [150, 400, 800] {
        let child = Command::new(SIXFOLD)
            .args(["lab", "--prefix", "sfterm"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "after {delay_ms} ms: {err}");
        assert!(!err.contains("sixfold: "), "after {delay_ms} ms: {err}");
        assert!(namespaces_with("sfterm").is_empty(), "after {delay_ms} ms");
    }
}
