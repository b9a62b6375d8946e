//! Operating the router for a year, end to end as root (namespaces, TUNs):
//! a reload during traffic loses nothing; subscribers added and removed and a
//! pool address drained, with the IPFIX records of what ended (tshark
//! decodes them); the systemd notify protocol against a socket the test
//! opens, the watchdog stopping while a worker is stalled, the privilege
//! drop, SIGHUP storms and bad reload requests; `sixfold run` refusing
//! before any device exists. Run under `flock /work/.e2e.lock`.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn edit(file: &str, f: impl Fn(String) -> String) {
    let text = std::fs::read_to_string(file).unwrap();
    let new = f(text.clone());
    assert_ne!(text, new, "the edit changed nothing");
    std::fs::write(file, new).unwrap();
}

fn stats(socket: &str) -> sixfold_router::Snapshot {
    let answer = sixfold::control::request(socket, "stats").unwrap();
    serde_json::from_str(&answer).unwrap()
}

/// `ping -i 0.01`: transmitted and received.
fn ping_counts(out: &Output) -> (u32, u32) {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no ping summary: {text}"));
    let n: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[0], n[1])
}

fn in_ns(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(args);
    c
}

#[test]
fn a_reload_during_traffic_loses_nothing() {
    if !can_run("a_reload_during_traffic_loses_nothing") {
        return;
    }
    for p in ["ping", "iperf3"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let mut lab = Lab::start("sfrld", &["--subscribers", "1"]);
    let (sub, wan) = (lab.ns("sub1"), lab.ns("wan"));
    let socket = "/run/sixfold-sfrld.sock";
    let file = lab.config[0].clone();
    let mut server = spawn_in(&wan, &["iperf3", "-s", "-1"]);
    std::thread::sleep(Duration::from_millis(500));
    // 7 s of pings every 10 ms, and a TCP stream at a fixed rate (a reload
    // that stalled the router would show as an interval below the others):
    // three reloads, then a SIGHUP storm.
    let ping = in_ns(
        &sub,
        &["ping", "-i", "0.01", "-c", "700", "-W", "1", "192.0.2.80"],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let iperf = in_ns(
        &sub,
        &[
            "iperf3",
            "-c",
            "192.0.2.80",
            "-t",
            "7",
            "-i",
            "0.5",
            "-b",
            "100M",
            "-J",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let started = std::time::Instant::now();
    let mut reloads: Vec<String> = Vec::new();
    let at = |reloads: &mut Vec<String>| {
        reloads.push(format!("{:.2}", started.elapsed().as_secs_f64()));
    };
    std::thread::sleep(Duration::from_millis(2000));
    let before = stats(socket).sessions;
    edit(&file, |t| {
        t.replace("ports_per_subscriber = 4096", "ports_per_subscriber = 2048")
            .replace("\nudp = 300\n", "\nudp = 600\n")
    });
    at(&mut reloads);
    assert_eq!(
        lab.say("reload"),
        "reloaded: nat.ports_per_subscriber: 4096 -> 2048; nat.timeouts.udp: 300 -> 600"
    );
    std::thread::sleep(Duration::from_millis(1000));
    edit(&file, |t| {
        t.replace(
            "pool = [\"203.0.113.0/24\"]",
            "pool = [\"203.0.113.0/24\", \"198.51.100.200/32\"]",
        )
    });
    at(&mut reloads);
    assert_eq!(
        lab.say("reload"),
        "reloaded: nat.pool: [\"203.0.113.0/24\"] -> [\"203.0.113.0/24\", \"198.51.100.200/32\"]"
    );
    std::thread::sleep(Duration::from_millis(1000));
    let good = std::fs::read_to_string(&file).unwrap();
    edit(&file, |t| t.replace("\nudp = 600\n", "\nudp = \"soon\"\n"));
    let line = good
        .lines()
        .position(|l| l == "udp = 600")
        .expect("udp in the lab's file")
        + 1;
    at(&mut reloads);
    let refused = lab.say("reload");
    assert!(
        refused.starts_with(&format!(
            "error: refused: nat.timeouts.udp (line {line}): invalid type: string \"soon\""
        )),
        "{refused}"
    );
    // A SIGHUP storm, 100 in a second, the good file back and then changed
    // halfway: the router ends up running exactly the last file (a reload
    // now finds nothing to change), and the traffic goes on.
    std::fs::write(&file, &good).unwrap();
    let pid = lab.router_pid();
    at(&mut reloads);
    for k in 0..100 {
        if k == 50 {
            edit(&file, |t| t.replace("\nudp = 600\n", "\nudp = 900\n"));
        }
        signal(pid, nix::sys::signal::Signal::SIGHUP);
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.say("reload"), "reloaded: no change");
    edit(&file, |t| t.replace("\nudp = 900\n", "\nudp = 600\n"));
    assert_eq!(lab.say("reload"), "reloaded: nat.timeouts.udp: 900 -> 600");
    let after = stats(socket).sessions;
    let ping = ping.wait_with_output().unwrap();
    let iperf = iperf.wait_with_output().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    // Nothing lost, nothing slowed, every session still there.
    let (sent, received) = ping_counts(&ping);
    assert_eq!(
        (sent, received),
        (700, 700),
        "pings lost across three reloads and a SIGHUP storm"
    );
    let report: serde_json::Value = serde_json::from_slice(&iperf.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&iperf.stderr)));
    // The half-second intervals after the first second (TCP's slow start;
    // iperf3's own -O makes an interval of half the rate at its boundary).
    let series: Vec<(f64, f64)> = report["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["sum"])
        .map(|sum| {
            let start = sum["start"].as_f64().unwrap();
            (start, sum["bits_per_second"].as_f64().unwrap())
        })
        .filter(|&(start, _)| start >= 0.99)
        .collect();
    assert!(series.len() >= 12, "{series:?}");
    let mut rates: Vec<f64> = series.iter().map(|&(_, r)| r).collect();
    let lowest = rates.iter().copied().fold(f64::MAX, f64::min);
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    assert!(
        lowest >= median / 2.0,
        "an iperf3 interval at {lowest:.0} bit/s, below half the median {median:.0}; \
         reloads at {reloads:?} s after iperf3 started; (start s, bit/s): {series:?}"
    );
    eprintln!(
        "reload during traffic: {received}/{sent} pings, iperf3 intervals {:.1}-{:.1} Mbit/s \
         (median {:.1}), reloads at {reloads:?} s",
        lowest / 1e6,
        rates[rates.len() - 1] / 1e6,
        median / 1e6
    );
    assert_eq!(before, after, "live sessions before and after the reloads");
    assert!(before >= 3, "ping and iperf3's two connections: {before}");
    // The router still serves, with the good file's settings.
    assert_eq!(stats(socket).subscribers[0].name, "sub1");
    ok(&sub, &["ping", "-c", "1", "-W", "2", "192.0.2.80"]);
    let status = lab.stop();
    assert!(status.success());
}

/// A UDP reflector at 192.0.2.80:3478 in `ns` (the lab's WAN): answers
/// each datagram with the address and port it came from.
fn start_reflector(ns: &str) {
    let socket =
        sixfold_router::device::in_netns(ns, || std::net::UdpSocket::bind(("192.0.2.80", 3478)))
            .unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((_, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(from.to_string().as_bytes(), from);
        }
    });
}

/// UDP from `ns` (bound to `from`) to the lab's reflector: the public
/// endpoint it saw, and the socket (kept open: its session lives).
fn reflect(ns: &str, from: &str) -> (String, std::net::UdpSocket) {
    let socket =
        sixfold_router::device::in_netns(ns, || std::net::UdpSocket::bind((from, 0))).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    again(&socket).map(|e| (e, socket)).unwrap()
}

/// The public endpoint the reflector sees for `socket` now.
fn again(socket: &std::net::UdpSocket) -> std::io::Result<String> {
    socket.send_to(b"who am i", ("192.0.2.80", 3478))?;
    let mut buf = [0u8; 64];
    let (n, _) = socket.recv_from(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn subscribers_come_and_go_and_a_pool_address_drains() {
    if !can_run("subscribers_come_and_go_and_a_pool_address_drains") {
        return;
    }
    assert!(
        have("tshark"),
        "tshark is missing (scripts/test.sh installs it)"
    );
    let dir = std::env::temp_dir().join("sixfold-sfcome");
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join("base.toml");
    let pcap = dir.join("ipfix.pcap");
    let _ = std::fs::remove_file(&pcap);
    std::fs::write(
        &base,
        "[nat]\npool = [\"203.0.113.1\", \"203.0.113.2\"]\n[ipfix]\nsessions = true\n",
    )
    .unwrap();
    let sub3 = "sfcome-sub3";
    let _ = Command::new("ip")
        .args(["netns", "del", sub3])
        .stderr(Stdio::null())
        .status();
    let mut lab = Lab::start(
        "sfcome",
        &[
            "--subscribers",
            "2",
            "--config",
            base.to_str().unwrap(),
            "--ipfix-pcap",
            pcap.to_str().unwrap(),
        ],
    );
    let socket = "/run/sixfold-sfcome.sock";
    let file = lab.config[0].clone();
    start_reflector(&lab.ns("wan"));
    // Only sub2 is paired with an address so far: X.
    let (seen, sub2_socket) = reflect(&lab.ns("sub2"), "100.64.1.2");
    let x = seen.split(':').next().unwrap().to_string();
    let y = if x == "203.0.113.1" {
        "203.0.113.2"
    } else {
        "203.0.113.1"
    };
    // X leaves the pool: it drains.
    edit(&file, |t| {
        t.replace(
            "pool = [\"203.0.113.1/32\", \"203.0.113.2/32\"]",
            &format!("pool = [\"{y}/32\"]"),
        )
    });
    let answer = lab.say("reload");
    assert!(answer.starts_with("reloaded: nat.pool: "), "{answer}");
    let s = stats(socket);
    assert_eq!(s.draining.len(), 1, "{:?}", s.draining);
    assert_eq!(s.draining[0].address.to_string(), x);
    assert_eq!(s.draining[0].sessions, 1);
    // sub2's live session still goes through X; its new one, and sub1 (a
    // subscriber never paired before), through Y.
    assert_eq!(again(&sub2_socket).unwrap(), seen);
    let (fresh, _s) = reflect(&lab.ns("sub2"), "100.64.1.2");
    assert!(fresh.starts_with(&format!("{y}:")), "{fresh}");
    let (first, _t) = reflect(&lab.ns("sub1"), "100.64.1.1");
    assert!(first.starts_with(&format!("{y}:")), "{first}");
    // sub2 removed, sub3 added: sub2's sessions end (logged), its TUN goes,
    // X has nothing left (logged free); sub3's TUN appears and works.
    ok("sfcome-wan", &["true"]);
    Command::new("ip")
        .args(["netns", "add", sub3])
        .status()
        .unwrap();
    ok(sub3, &["ip", "link", "set", "lo", "up"]);
    edit(&file, |t| {
        let start = t.find("[[subscriber]]\nname = \"sub2\"").unwrap();
        // To the next table header, or the end.
        let end = t[start + 1..]
            .find("\n[")
            .map_or(t.len(), |k| start + 2 + k);
        let mut t = format!("{}{}", &t[..start], &t[end..]);
        t.push_str(&format!(
            "\n[[subscriber]]\nname = \"sub3\"\nnetns = \"{sub3}\"\nipv4 = [\"100.64.1.3/32\"]\nipv6 = [\"2001:db8:1:3::/64\"]\n"
        ));
        t
    });
    let answer = lab.say("reload");
    assert!(
        answer.starts_with("reloaded: subscriber[\"sub3\"]: (none) -> {")
            && answer.contains("; subscriber[\"sub2\"]: {")
            && answer.ends_with("-> (none)"),
        "{answer}"
    );
    let gone = Command::new("ip")
        .args(["-n", &lab.ns("sub2"), "link", "show", "sub2"])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "sub2's TUN is still there");
    ok(sub3, &["ip", "addr", "add", "100.64.1.3/32", "dev", "sub3"]);
    ok(sub3, &["ip", "route", "add", "default", "dev", "sub3"]);
    ok(sub3, &["ping", "-c", "2", "-W", "2", "192.0.2.80"]);
    std::thread::sleep(Duration::from_millis(1500));
    let s = stats(socket);
    assert!(s.draining.is_empty(), "{:?}", s.draining);
    let names: Vec<&str> = s.subscribers.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["sub1", "sub3"]);
    drop(sub2_socket);
    // The stop releases the rest; the collector's capture holds it all.
    assert!(lab.stop().success());
    let _ = Command::new("ip").args(["netns", "del", sub3]).status();
    let records = nat_records(&pcap);
    let field = |r: &serde_json::Map<String, serde_json::Value>, k: &str| {
        r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string()
    };
    let of = |event: &str, inside: &str| {
        records
            .iter()
            .filter(|r| field(r, "cflow.nat_event") == event && field(r, "cflow.srcaddr") == inside)
            .count()
    };
    // sub2: two sessions created, both deleted when it was removed.
    assert_eq!(of("4", "100.64.1.2"), 2, "{records:?}");
    assert_eq!(of("5", "100.64.1.2"), 2, "{records:?}");
    // Every session created was deleted by the end (the stop logs the rest).
    for inside in ["100.64.1.1", "100.64.1.3"] {
        assert!(of("4", inside) > 0, "{inside}");
        assert_eq!(of("4", inside), of("5", inside), "{inside}");
    }
    let freed: Vec<_> = records
        .iter()
        .filter(|r| field(r, "cflow.nat_event") == "15")
        .collect();
    assert_eq!(freed.len(), 1, "{freed:?}");
    assert_eq!(field(freed[0], "cflow.post_natsource_ipv4_address"), x);
}

/// The datagrams a test playing systemd receives, with when.
fn listen(path: &Path) -> mpsc::Receiver<(Instant, String)> {
    let _ = std::fs::remove_file(path);
    let socket = UnixDatagram::bind(path).unwrap();
    // As systemd's: anyone may write (the router is `nobody` by then).
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if tx.send((Instant::now(), text)).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits (10 s) for a datagram that starts with `what`.
fn expect(rx: &mpsc::Receiver<(Instant, String)>, what: &str, seen: &mut Vec<(Instant, String)>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (at, text) = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {what} in 10 s; seen {seen:?}"));
        seen.push((at, text.clone()));
        if text.starts_with(what) {
            return;
        }
    }
}

/// Namespaces and a file for a router the test runs itself.
struct Own {
    namespaces: Vec<String>,
    dir: PathBuf,
}

impl Drop for Own {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn own(name: &str, namespaces: &[&str]) -> Own {
    let o = Own {
        namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
        dir: PathBuf::from(format!("/run/{name}")),
    };
    for ns in namespaces {
        let _ = Command::new("ip")
            .args(["netns", "del", ns])
            .stderr(Stdio::null())
            .status();
        assert!(
            Command::new("ip")
                .args(["netns", "add", ns])
                .status()
                .unwrap()
                .success()
        );
    }
    let _ = std::fs::remove_dir_all(&o.dir);
    std::fs::create_dir_all(&o.dir).unwrap();
    o
}

/// A router the test started: killed if the test fails before it stops it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
}

/// `sixfold reload --socket SOCKET`, which must exit with `code`.
fn reload(socket: &str, code: i32) -> Output {
    let out = Command::new(SIXFOLD)
        .args(["reload", "--socket", socket])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(code), "{out:?}");
    out
}

fn cap_line(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or("")
        .trim()
        .to_string()
}

#[test]
fn notify_watchdog_privileges_and_bad_requests() {
    if !can_run("notify_watchdog_privileges_and_bad_requests") {
        return;
    }
    let o = own("sfntf", &["sfntf-wan"]);
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    nix::unistd::chown(&o.dir, Some(nobody.uid), None).unwrap();
    let socket = o.dir.join("sixfold.sock");
    let config = o.dir.join("router.toml");
    std::fs::write(
        &config,
        format!(
            "[router]\ncontrol_socket = \"{}\"\nworkers = 2\noffload = false\nra = false\nuser = \"nobody\"\nlog_format = \"json\"\n\
             [wan]\nname = \"sfntf\"\nnetns = \"sfntf-wan\"\n",
            socket.display()
        ),
    )
    .unwrap();
    let notify = o.dir.join("notify.sock");
    let rx = listen(&notify);
    let log = o.dir.join("router.log");
    let mut guard = Running(
        Command::new(SIXFOLD)
            .args(["run", "--config", config.to_str().unwrap()])
            .env("NOTIFY_SOCKET", &notify)
            .env("WATCHDOG_USEC", "1000000")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let child = &mut guard.0;
    let pid = child.id();
    let socket_s = socket.to_str().unwrap();
    let mut seen = Vec::new();
    expect(&rx, "READY=1", &mut seen);
    // It became nobody, keeping CAP_NET_ADMIN and (a namespace is named)
    // CAP_SYS_ADMIN only.
    assert!(cap_line(pid, "Uid:").starts_with(&nobody.uid.to_string()));
    assert_eq!(cap_line(pid, "CapEff:"), "0000000000201000");
    assert_eq!(cap_line(pid, "CapBnd:"), "0000000000201000");
    // The watchdog is fed: at least three pings in 2 s (every 0.5 s).
    std::thread::sleep(Duration::from_secs(2));
    let pings = |seen: &Vec<(Instant, String)>, from: Instant, to: Instant| {
        seen.iter()
            .filter(|(at, t)| *at >= from && *at < to && t.contains("WATCHDOG=1"))
            .count()
    };
    seen.extend(rx.try_iter());
    let t0 = seen[0].0;
    assert!(pings(&seen, t0, Instant::now()) >= 3, "{seen:?}");
    // A reload: RELOADING=1 then READY=1, the changed key printed.
    edit(config.to_str().unwrap(), |t| {
        t.replace("ra = false\n", "ra = false\nicmp_rate = 500\n")
    });
    let out = reload(socket_s, 0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "router.icmp_rate: 1000 -> 500\n"
    );
    expect(&rx, "RELOADING=1\nMONOTONIC_USEC=", &mut seen);
    expect(&rx, "READY=1", &mut seen);
    // A stalled worker stops the pings; they come back when it goes on.
    let stalled = Instant::now();
    let answer = sixfold::control::request(socket_s, "stall 1 3000").unwrap();
    assert_eq!(answer.trim(), "stalling worker 1 for 3000 ms");
    std::thread::sleep(Duration::from_millis(4500));
    seen.extend(rx.try_iter());
    assert_eq!(
        pings(
            &seen,
            stalled + Duration::from_millis(1100),
            stalled + Duration::from_millis(3000)
        ),
        0,
        "pings while a worker was stuck: {seen:?}"
    );
    assert!(
        pings(&seen, stalled + Duration::from_millis(3000), Instant::now()) >= 1,
        "no pings after the worker went on: {seen:?}"
    );
    // 100 SIGHUPs in a second: coalesced reloads, nothing lost, still serving.
    for _ in 0..100 {
        signal(pid, nix::sys::signal::Signal::SIGHUP);
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "the router died");
    assert_eq!(stats(socket_s).datapath.workers, 2);
    // It runs the file as it is: nothing left to change.
    let out = reload(socket_s, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("sixfold reload: {}: no change\n", config.display())
    );
    // Bad requests: a file that cannot be read, one that does not parse.
    let reload_from = |file: &str| {
        Command::new(SIXFOLD)
            .args(["reload", "--socket", socket_s, "--config", file])
            .output()
            .unwrap()
    };
    let out = reload_from("/nonexistent/sixfold.toml");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "/nonexistent/sixfold.toml: No such file or directory (os error 2)\n"
    );
    let broken = o.dir.join("broken.toml");
    std::fs::write(&broken, "[router]\nworkers = 2\n[wan\n").unwrap();
    std::fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = reload_from(broken.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("line 3: unclosed table"),
        "{out:?}"
    );
    // A file the router's own user may not read: named, with why.
    let secret = o.dir.join("secret.toml");
    std::fs::copy(&config, &secret).unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = reload_from(secret.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}: Permission denied (os error 13)\n", secret.display())
    );
    // Never half a configuration: a live change beside one that is not is
    // refused whole (the live one is not applied either).
    let good = std::fs::read_to_string(&config).unwrap();
    let both = good
        .replace("workers = 2\n", "workers = 3\n")
        .replace("icmp_rate = 500\n", "icmp_rate = 250\n");
    std::fs::write(&config, &both).unwrap();
    let out = reload(socket_s, 1);
    let refused = String::from_utf8_lossy(&out.stdout);
    assert!(
        refused.starts_with("router.workers (line 3): ") && refused.contains("restart"),
        "{refused}"
    );
    assert!(!refused.contains("icmp_rate"), "{refused}");
    std::fs::write(
        &config,
        good.replace("icmp_rate = 500\n", "icmp_rate = 250\n"),
    )
    .unwrap();
    let out = reload(socket_s, 0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "router.icmp_rate: 500 -> 250\n"
    );
    // The broken file did not become the router's: a SIGHUP reads the good one.
    signal(pid, nix::sys::signal::Signal::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    // SIGTERM: STOPPING=1, exit 0 within 5 s, the last line says what it had.
    let term = Instant::now();
    signal(pid, nix::sys::signal::Signal::SIGTERM);
    expect(&rx, "STOPPING=1", &mut seen);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            term.elapsed() < Duration::from_secs(5),
            "not stopped in 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    seen.extend(rx.try_iter());
    // The protocol in order: READY, then RELOADING/READY pairs, STOPPING last.
    let states: Vec<&str> = seen
        .iter()
        .filter_map(|(_, t)| {
            ["READY=1", "RELOADING=1", "STOPPING=1"]
                .into_iter()
                .find(|s| t.starts_with(s))
        })
        .collect();
    assert_eq!(
        &states[..3],
        ["READY=1", "RELOADING=1", "READY=1"],
        "{states:?}"
    );
    assert_eq!(states.last(), Some(&"STOPPING=1"));
    for pair in states[1..states.len() - 1].chunks(2) {
        assert_eq!(pair, ["RELOADING=1", "READY=1"], "{states:?}");
    }
    // STATUS= says what the router does: "running" with the first READY=1,
    // then sessions, IPv6 flows and packets per second (refreshed, and with
    // every READY=1 after a reload), "reloading", "stopping: …".
    let statuses: Vec<&str> = seen
        .iter()
        .flat_map(|(_, t)| t.lines())
        .filter_map(|l| l.strip_prefix("STATUS="))
        .collect();
    assert_eq!(statuses.first(), Some(&"running"), "{statuses:?}");
    assert_eq!(
        statuses.last(),
        Some(&"stopping: releasing sessions"),
        "{statuses:?}"
    );
    let figures = statuses
        .iter()
        .filter(|s| !["running", "reloading", "stopping: releasing sessions"].contains(s))
        .inspect(|status| {
            let words: Vec<&str> = status.split(' ').collect();
            assert!(
                matches!(
                    words[..],
                    [n, "sessions,", f, "IPv6", "flows,", r, "packets/s"]
                        if [n, f, r].iter().all(|w| w.parse::<u64>().is_ok())
                ),
                "STATUS {status:?}"
            );
        })
        .count();
    assert!(figures >= 2, "{statuses:?}");
    // The log: JSON lines, no escape codes, the SIGHUP reloads and the stop.
    let mut text = String::new();
    std::fs::File::open(&log)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert!(!text.contains('\u{1b}'), "escape codes in the log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let by_sighup = lines
        .iter()
        .filter(|l| l["fields"]["by"] == "SIGHUP")
        .count();
    assert!(
        (1..=101).contains(&by_sighup),
        "{by_sighup} SIGHUP reload lines"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["level"] != "ERROR" || l["fields"]["by"] == "control socket"),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "router stopped")
    );
}

/// Runs `sixfold run` on `text` in a namespace of its own, watching the
/// namespace's links meanwhile: its exit status, its output, and whether a
/// device named `wan` ever appeared.
fn refused_before_devices(name: &str, text: &str) -> (Option<i32>, String, bool) {
    let o = own(name, &[name]);
    let config = o.dir.join("router.toml");
    std::fs::write(&config, text.replace("NS", name)).unwrap();
    let mut monitor: Child = Command::new("ip")
        .args(["-n", name, "monitor", "link"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = Command::new(SIXFOLD)
        .args(["run", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = monitor.kill();
    let mut links = String::new();
    let stdout = monitor.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        links.push_str(&line.unwrap());
    }
    let _ = monitor.wait();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).replace(config.to_str().unwrap(), "FILE"),
        links.contains("sfw"),
    )
}

#[test]
fn run_refuses_what_check_refuses_before_any_device_exists() {
    if !can_run("run_refuses_what_check_refuses_before_any_device_exists") {
        return;
    }
    let wan = "[wan]\nname = \"sfw\"\nnetns = \"NS\"\n";
    let sub = "[[subscriber]]\nname = \"sfs\"\nnetns = \"NS\"\nipv4 = [\"100.64.0.1\"]\n";
    let cases = [
        (
            "sfchk1",
            format!(
                "[router]\ncontrol_socket = \"/run/NS/s.sock\"\n[nat]\npool = [\"192.0.2.1\"]\n{wan}[ipfix]\ncollector = \"127.0.0.1:4739\"\nnetns = \"sixfold-no-such-ns\"\n{sub}"
            ),
            "ipfix.netns (line 10): network namespace \"sixfold-no-such-ns\" does not exist",
        ),
        (
            "sfchk2",
            format!(
                "[router]\ncontrol_socket = \"/run/NS/s.sock\"\n[nat]\npool = [\"192.0.2.1\"]\n{wan}[ipfix]\ncollector = \"127.0.0.1:4739\"\nsource = \"192.0.2.99\"\n{sub}"
            ),
            "ipfix.source (line 10): 192.0.2.99 is not an address of this namespace",
        ),
        (
            "sfchk3",
            format!(
                "[router]\ncontrol_socket = \"/run/NS/s.sock\"\nworkers = 4\n[nat]\npool = [\"192.0.2.1\"]\nallocation = \"block\"\nblock_size = 20000\nmax_blocks = 1\n{wan}{sub}"
            ),
            "nat.block_size (line 7): 20000 ports do not fit one worker's slice",
        ),
        (
            "sfchk4",
            format!("[router]\ncontrol_socket = \"/run/NS/s.sock\"\n{wan}{sub}"),
            "nat.pool: missing: subscriber[0] (\"sfs\") has IPv4 addresses",
        ),
    ];
    for (name, text, problem) in cases {
        let (code, out, appeared) = refused_before_devices(name, &text);
        assert_eq!(code, Some(1), "{name}: {out}");
        assert!(out.starts_with("FILE: 1 problem(s)\n"), "{name}: {out}");
        assert!(out.contains(problem), "{name}: {out}");
        assert!(!appeared, "{name}: a TUN appeared before the refusal");
        // `sixfold check --host` says the same.
        let file = std::env::temp_dir().join(format!("{name}.toml"));
        std::fs::write(&file, text.replace("NS", name)).unwrap();
        let o = own(&format!("{name}c"), &[name]);
        let check = Command::new(SIXFOLD)
            .args(["check", "--host", "--config", file.to_str().unwrap()])
            .output()
            .unwrap();
        drop(o);
        assert_eq!(check.status.code(), Some(1), "{name}");
        assert!(
            String::from_utf8_lossy(&check.stdout).contains(problem),
            "{name}: {check:?}"
        );
        let _ = std::fs::remove_file(&file);
    }
}

/// `sixfold run 2>FILE` with the text log (the default): no colour codes in
/// the file, one line per event (running, the SIGHUP reload, stopped).
#[test]
fn a_text_log_in_a_file_has_no_escape_codes() {
    if !can_run("a_text_log_in_a_file_has_no_escape_codes") {
        return;
    }
    let o = own("sftxt", &["sftxt-wan"]);
    let socket = o.dir.join("sixfold.sock");
    let config = o.dir.join("router.toml");
    std::fs::write(
        &config,
        format!(
            "[router]\ncontrol_socket = \"{}\"\nworkers = 1\noffload = false\nra = false\n\
             [wan]\nname = \"sftxt\"\nnetns = \"sftxt-wan\"\n",
            socket.display()
        ),
    )
    .unwrap();
    let log = o.dir.join("err.txt");
    let mut guard = Running(
        Command::new(SIXFOLD)
            .args(["run", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let socket_s = socket.to_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sixfold::control::request(socket_s, "stats").is_err() {
        assert!(Instant::now() < deadline, "the router never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = guard.0.id();
    edit(config.to_str().unwrap(), |t| {
        t.replace("ra = false\n", "ra = false\nicmp_rate = 500\n")
    });
    signal(pid, nix::sys::signal::Signal::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    signal(pid, nix::sys::signal::Signal::SIGTERM);
    assert!(guard.0.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in the log: {text:?}"
    );
    let has = |what: &str| text.lines().filter(|l| l.contains(what)).count();
    assert_eq!(has("router running"), 1, "{text}");
    assert_eq!(has("configuration reloaded"), 1, "{text}");
    assert_eq!(has("changed router.icmp_rate: 1000 -> 500"), 1, "{text}");
    assert_eq!(has("router stopped"), 1, "{text}");
    assert!(
        text.lines()
            .all(|l| l.contains(" INFO ") || l.contains(" WARN ")),
        "{text}"
    );
}

/// As the unit runs it: started as `nobody` with only the ambient
/// capabilities `sixfold.service` grants (`setpriv` playing systemd's
/// `User=` and `AmbientCapabilities=`), the router opens its devices, serves
/// and stops cleanly, and never calls setuid, setgid, setgroups or capset
/// (the unit's `SystemCallFilter=~@privileged` would kill it): `strace` sees
/// none.
#[test]
fn as_the_unit_runs_it_no_setuid_and_no_capset() {
    if !can_run("as_the_unit_runs_it_no_setuid_and_no_capset") {
        return;
    }
    for p in ["setpriv", "strace"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let o = own("sfamb", &["sfamb-wan"]);
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    // RuntimeDirectory=sixfold: the service user's.
    nix::unistd::chown(&o.dir, Some(nobody.uid), None).unwrap();
    let socket = o.dir.join("sixfold.sock");
    let config = o.dir.join("router.toml");
    std::fs::write(
        &config,
        format!(
            "[router]\ncontrol_socket = \"{}\"\nworkers = 1\noffload = false\nra = false\n\
             [wan]\nname = \"sfamb\"\nnetns = \"sfamb-wan\"\n",
            socket.display()
        ),
    )
    .unwrap();
    // What the operator runs first: the file and this machine are fine.
    let check = Command::new(SIXFOLD)
        .args(["check", "--host", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{check:?}");
    assert!(
        String::from_utf8_lossy(&check.stdout)
            .ends_with("\nhost: checked (namespaces, devices, [ipfix] source, user)\n"),
        "{check:?}"
    );
    let trace = o.dir.join("strace.txt");
    let caps = "-all,+net_admin,+sys_admin";
    let mut guard = Running(
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid", &nobody.gid.to_string()])
            .arg("--clear-groups")
            .args([
                format!("--inh-caps={caps}"),
                format!("--ambient-caps={caps}"),
                format!("--bounding-set={caps}"),
            ])
            .args(["--", "strace", "-f", "-qq", "-e", "signal=none", "-o"])
            .arg(&trace)
            .args(["-e", "trace=setuid,setgid,setresuid,setresgid,setreuid,setregid,setgroups,setfsuid,setfsgid,capset"])
            .args([SIXFOLD, "run", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(o.dir.join("router.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let socket_s = socket.to_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sixfold::control::request(socket_s, "stats").is_err() {
        assert!(
            matches!(guard.0.try_wait(), Ok(None)),
            "the router exited: {}",
            std::fs::read_to_string(o.dir.join("router.log")).unwrap_or_default()
        );
        assert!(Instant::now() < deadline, "the router never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(stats(socket_s).datapath.workers, 1);
    // The router: strace's child (strace runs where setpriv was).
    let tracer = guard.0.id();
    let pid: u32 = std::fs::read_to_string(format!("/proc/{tracer}/task/{tracer}/children"))
        .unwrap()
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the router under strace");
    assert!(cap_line(pid, "Uid:").starts_with(&nobody.uid.to_string()));
    assert_eq!(cap_line(pid, "CapEff:"), "0000000000201000");
    // Its TUN exists in the namespace.
    ok("sfamb-wan", &["ip", "link", "show", "sfamb"]);
    signal(pid, nix::sys::signal::Signal::SIGTERM);
    assert!(guard.0.wait().unwrap().success());
    let calls = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(calls, "", "privileged calls under the unit's conditions");
    let log = std::fs::read_to_string(o.dir.join("router.log")).unwrap();
    assert!(log.contains("user=\"(unchanged)\""), "{log}");
    assert!(log.contains("router stopped"), "{log}");
}
