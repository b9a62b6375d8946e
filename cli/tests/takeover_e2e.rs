//! A box dies, its subscribers' connections live on (needs root, BIRD 2 and
//! iperf3): `sixfold lab --routers 2 --keep --config FILE` with a
//! deterministic configuration and an empty `[takeover]` — a ring of
//! backups, each box fed its predecessor's mappings (IPFIX natEvent 8/9).
//! From a subscriber of box 1, an iperf3 upload and an iperf3 `-R` download
//! run across box 1's SIGKILL to their end with no error, and the iperf3
//! servers — on the core, not sixfold's counters — saw one source address
//! (in box 1's slice) and one port per connection, and data in every second
//! after the kill.

mod common;
use common::*;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SERVER: &str = "192.0.2.80";
/// Box 1's slice with two boxes and the pool 203.0.113.0/24.
const SLICE_1: &str = "203.0.113.";
const CONFIG: &str = "[nat]\npool = [\"203.0.113.0/24\"]\nallocation = \"deterministic\"\nblock_size = 2016\n[takeover]\n";
const SECONDS: u32 = 8;

fn sub_v4(k: u16) -> String {
    format!("100.64.1.{k}")
}

/// The box whose access address (10.0.K.2) answers a TTL-1 ping from `src`.
fn box_by_ttl(access: &str, src: &str) -> u16 {
    let out = exec(
        access,
        &["ping", "-c", "1", "-W", "1", "-t", "1", "-I", src, SERVER],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("From ")?.split_whitespace().next())
        .and_then(|from| from.split('.').nth(2)?.parse().ok())
        .unwrap_or_else(|| panic!("no time exceeded for {src}: {text}"))
}

fn iperf3(ns: &str, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns, "iperf3"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("iperf3")
}

fn finish(child: Child, what: &str) -> serde_json::Value {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what}: {}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
    assert!(v.get("error").is_none(), "{what}: {}", v["error"]);
    v
}

/// The server's view: every connection's remote endpoint, and the bytes of
/// each interval (start second, bytes).
/// Remote endpoints (host, port), and per interval (start s, bytes).
type ServerSide = (Vec<(String, u64)>, Vec<(f64, u64)>);

fn server_side(v: &serde_json::Value) -> ServerSide {
    let connected = v["start"]["connected"]
        .as_array()
        .expect("connected")
        .iter()
        .map(|c| {
            (
                c["remote_host"].as_str().unwrap().to_string(),
                c["remote_port"].as_u64().unwrap(),
            )
        })
        .collect();
    let intervals = v["intervals"]
        .as_array()
        .expect("intervals")
        .iter()
        .map(|i| {
            (
                i["sum"]["start"].as_f64().unwrap(),
                i["sum"]["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    (connected, intervals)
}

#[test]
fn an_upload_and_a_download_live_through_their_boxs_sigkill() {
    if !can_run("an_upload_and_a_download_live_through_their_boxs_sigkill") {
        return;
    }
    for p in ["bird", "iperf3", "ping"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let dir = std::env::temp_dir().join(format!("sixfold-takeover-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ring.toml");
    std::fs::write(&file, CONFIG).unwrap();
    let mut lab = Lab::start(
        "tko2",
        &["--routers", "2", "--config", file.to_str().unwrap()],
    );
    let (access, core) = (lab.ns("access"), lab.ns("core"));
    let k = (1..=8)
        .find(|&k| box_by_ttl(&access, &sub_v4(k)) == 1)
        .expect("a subscriber of box 1");
    let src = sub_v4(k);
    // One server per transfer, each for one test (-1), reporting in JSON.
    let (up_port, down_port) = ("5301", "5302");
    let servers: Vec<Child> = [up_port, down_port]
        .iter()
        .map(|p| iperf3(&core, &["-s", "-1", "-J", "-B", SERVER, "-p", p]))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let t = SECONDS.to_string();
    let client = |port: &str, reverse: bool| {
        let mut args = vec![
            "-c", SERVER, "-B", &src, "-p", port, "-t", &t, "-b", "20M", "-J",
        ];
        if reverse {
            args.push("-R");
        }
        iperf3(&access, &args)
    };
    let up = client(up_port, false);
    let down = client(down_port, true);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(lab.say("kill 1"), "killed 1");
    let (up, down) = (finish(up, "upload"), finish(down, "download"));
    let mut servers = servers.into_iter();
    let (up_server, down_server) = (
        finish(servers.next().unwrap(), "upload's server"),
        finish(servers.next().unwrap(), "download's server"),
    );
    for (what, client, server) in [
        ("upload", &up, &up_server),
        ("download", &down, &down_server),
    ] {
        let (connected, intervals) = server_side(server);
        // One data connection (and iperf3's control connection), from one
        // public address in box 1's slice: the port box 1 gave each.
        let hosts: std::collections::BTreeSet<&str> =
            connected.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(hosts.len(), 1, "{what}: {connected:?}");
        assert!(connected[0].0.starts_with(SLICE_1), "{what}: {connected:?}");
        assert_eq!(connected.len(), 1, "{what}: one data stream: {connected:?}");
        // Data in every second of the transfer, the kill's included.
        let empty: Vec<&(f64, u64)> = intervals.iter().filter(|(_, b)| *b == 0).collect();
        assert!(empty.is_empty(), "{what}: seconds without data: {empty:?}");
        assert!(intervals.len() >= SECONDS as usize, "{what}: {intervals:?}");
        let sent = client["end"]["sum_sent"]["bytes"].as_u64().unwrap();
        assert!(sent > 0, "{what}");
        eprintln!(
            "{what}: server saw {connected:?}; per second {:?}",
            intervals.iter().map(|(_, b)| b).collect::<Vec<_>>()
        );
    }
    // And it was box 2 that carried them after the kill: its sessions on
    // box 1's mappings.
    let stats = Command::new(SIXFOLD)
        .args(["stats", "--socket", "/run/sixfold-tko2-r2.sock"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).expect("stats JSON");
    let adopted = v["takeover"]["adopted"].as_u64().unwrap();
    assert!(adopted >= 4, "box 2 adopted {adopted}: {}", v["takeover"]);
    lab.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
