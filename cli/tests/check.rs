//! `sixfold check` without root: the device-free problems of a file, each
//! with its key and line, every one of them at once; a summary of a good
//! file; `sixfold reload` against sockets that are no router's. (With root,
//! `operate_e2e.rs` checks `--host` and that `sixfold run` refuses before any
//! device exists.)

use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Command, Output};

fn sixfold(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sixfold"))
        .args(args)
        .output()
        .unwrap()
}

fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sixfold-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    // A run before this one with the same pid may have left a socket here.
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, text).unwrap();
    path
}

fn check(name: &str, text: &str) -> (i32, String) {
    let path = file(name, text);
    let o = sixfold(&["check", "--config", path.to_str().unwrap()]);
    let out = String::from_utf8(o.stdout).unwrap();
    (
        o.status.code().unwrap(),
        out.replace(path.to_str().unwrap(), "FILE"),
    )
}

#[test]
fn a_missing_pool_and_a_block_too_big_for_a_worker_are_refused_together() {
    let (code, out) = check(
        "two.toml",
        "[router]\nworkers = 4\n[nat]\nallocation = \"block\"\nblock_size = 20000\nmax_blocks = 1\n\
         [[subscriber]]\nname = \"a\"\nipv4 = [\"100.64.0.1\"]\n",
    );
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "FILE: 2 problem(s)\n\
         nat.block_size (line 5): 20000 ports do not fit one worker's slice of the ports (1024-17151, 16128 ports, with router.workers = 4): at most 16128 per block, or fewer workers\n\
         nat.pool (line 3): missing: subscriber[0] (\"a\") has IPv4 addresses, and the NAT needs at least one public address (there is no default pool)\n"
    );
}

#[test]
fn workers_0_is_counted_as_this_machines_cpus_and_said_so() {
    let cpus = std::thread::available_parallelism().unwrap().get().min(64);
    let (code, out) = check(
        "cpus.toml",
        "[nat]\npool = [\"192.0.2.1\"]\nallocation = \"block\"\nblock_size = 64512\nmax_blocks = 1\n",
    );
    if cpus == 1 {
        assert_eq!(code, 0, "{out}");
        return;
    }
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "with router.workers = 0: one per CPU, {cpus} on this machine"
        )),
        "{out}"
    );
}

#[test]
fn a_good_file_is_summarised() {
    let (code, out) = check(
        "good.toml",
        "[router]\nworkers = 2\n[nat]\npool = [\"192.0.2.0/30\"]\nallocation = \"block\"\nblock_size = 512\nmax_blocks = 4\n\
         [[subscriber]]\nname = \"a\"\nipv4 = [\"100.64.0.1\"]\n\
         [[subscriber_range]]\nname = \"r\"\nipv4 = \"100.64.1.0/24\"\n",
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        "FILE: ok\n\
         subscribers: 257 (1 [[subscriber]], 256 in 1 [[subscriber_range]])\n\
         pool: 2 address(es)\n\
         ports per subscriber: up to 4 blocks of 512 ports (2048 ports); blocks per address: 126 (63 per worker)\n\
         workers: 2\n\
         host: not checked (--host checks namespaces, devices, [ipfix] source, user)\n"
    );
}

#[test]
fn the_summary_says_each_allocation_modes_ports() {
    // Deterministic: 2 addresses, 64512 / 2016 = 32 ranges each, 64 in all
    // for 33 inside addresses (1 + a /27).
    let (code, out) = check(
        "det.toml",
        "[router]\nworkers = 2\n[nat]\npool = [\"192.0.2.0/30\"]\nallocation = \"deterministic\"\nblock_size = 2016\n\
         [[subscriber]]\nname = \"a\"\nipv4 = [\"100.64.0.1\"]\n\
         [[subscriber_range]]\nname = \"r\"\nipv4 = \"100.64.1.0/27\"\n",
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().nth(3),
        Some(
            "ports per subscriber: 2016 per inside address (deterministic, RFC 7422); ranges per address: 32"
        )
    );
    assert_eq!(
        out.lines().nth(1),
        Some("subscribers: 33 (1 [[subscriber]], 32 in 1 [[subscriber_range]])")
    );
    // Dynamic (the default), its limit per protocol.
    let (code, out) = check(
        "dyn.toml",
        "[router]\nworkers = 1\n[nat]\npool = [\"192.0.2.1\"]\nports_per_subscriber = 1000\n\
         [[subscriber]]\nname = \"a\"\nipv4 = [\"100.64.0.1\"]\n",
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().skip(1).collect::<Vec<_>>(),
        [
            "subscribers: 1 (1 [[subscriber]], 0 in 0 [[subscriber_range]])",
            "pool: 1 address(es)",
            "ports per subscriber: 1000 per protocol (dynamic)",
            "workers: 1",
            "host: not checked (--host checks namespaces, devices, [ipfix] source, user)",
        ]
    );
}

#[test]
fn a_file_that_does_not_parse_or_cannot_be_read_says_where() {
    let (code, out) = check("bad.toml", "[nat]\npool = [\"192.0.2.1\"\n");
    assert_eq!(code, 1);
    assert!(out.starts_with("FILE: 1 problem(s)\n"), "{out}");
    assert!(out.contains("(line 2)") || out.contains("line 3"), "{out}");
    // `check` and `run` alike (run stops there, before anything starts), for
    // a path that does not exist and for one that is a directory.
    for (path, why) in [
        (
            "/nonexistent/sixfold.toml",
            "No such file or directory (os error 2)",
        ),
        ("/", "Is a directory (os error 21)"),
    ] {
        for command in ["check", "run"] {
            let o = sixfold(&[command, "--config", path]);
            assert_eq!(o.status.code(), Some(1), "{command} {path}");
            assert_eq!(
                String::from_utf8(o.stderr).unwrap(),
                format!("sixfold: reading {path}: {why}\n"),
                "{command}"
            );
        }
    }
}

#[test]
fn reload_without_a_router_or_against_a_socket_not_ours_exits_2() {
    let o = sixfold(&["reload", "--socket", "/nonexistent/sixfold.sock"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("is a router running with this control socket?"),
        "{err}"
    );
    // A regular file, and a directory, where the socket should be: said so,
    // for `reload` and `stats` alike, and left as they were.
    let plain = file("plain.sock", "not a socket\n");
    let dir = plain.parent().unwrap();
    for (path, kind) in [(plain.as_path(), "a regular file"), (dir, "a directory")] {
        let path = path.to_str().unwrap();
        let o = sixfold(&["reload", "--socket", path]);
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        assert_eq!(
            String::from_utf8(o.stderr).unwrap(),
            format!("sixfold reload: {path} is {kind}, not a socket: no router's control socket\n")
        );
        let o = sixfold(&["stats", "--socket", path]);
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        assert!(
            String::from_utf8(o.stderr)
                .unwrap()
                .contains(&format!("{path} is {kind}, not a socket")),
        );
    }
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), "not a socket\n");
    // A socket that answers something else.
    let path = file("other.sock", "");
    std::fs::remove_file(&path).unwrap();
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut byte = [0u8; 1];
        while s.read(&mut byte).is_ok_and(|n| n == 1 && byte[0] != b'\n') {}
        s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
    });
    let o = sixfold(&["reload", "--socket", path.to_str().unwrap()]);
    server.join().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("the answer is not a sixfold router's"),
        "{err}"
    );
}

#[test]
fn the_packaged_configuration_is_accepted() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/debian/sixfold.toml");
    let o = sixfold(&["check", "--config", path]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("subscribers: 0 (0 [[subscriber]]"), "{out}");
}
