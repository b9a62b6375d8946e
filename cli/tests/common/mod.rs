//! What the end-to-end tests share: running `sixfold lab --keep` as a fixture,
//! commands inside its namespaces, and skipping loudly without root.
#![allow(dead_code, unreachable_pub)]

pub mod fastpath_box;
pub mod frames;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
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
    /// The lab's standard input (commands of `--routers` labs).
    input: ChildStdin,
    /// The lines it prints after `ready`.
    lines: mpsc::Receiver<String>,
    /// The file each router runs from (`config PATH`, or `config K PATH` per
    /// box), in order.
    pub config: Vec<String>,
}

impl Lab {
    pub fn start(prefix: &str, extra: &[&str]) -> Lab {
        Lab::start_env(prefix, extra, &[])
    }

    /// [`Lab::start`] with `env` in the lab's environment (its router
    /// inherits it).
    pub fn start_env(prefix: &str, extra: &[&str], env: &[(&str, &str)]) -> Lab {
        let mut child = Command::new(SIXFOLD)
            .args(["lab", "--keep", "--prefix", prefix])
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sixfold lab");
        let stdout = child.stdout.take().unwrap();
        let input = child.stdin.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("lab did not print `ready` in 60 s");
        assert_eq!(line, "ready");
        let boxes = extra
            .iter()
            .position(|a| *a == "--routers")
            .and_then(|i| extra.get(i + 1)?.parse::<u16>().ok())
            .unwrap_or(1);
        let config = (1..=boxes)
            .map(|k| {
                let line = rx
                    .recv_timeout(Duration::from_secs(5))
                    .expect("lab did not print its `config` line");
                let path = match boxes {
                    1 => line.strip_prefix("config "),
                    _ => line.strip_prefix(&format!("config {k} ")),
                };
                path.unwrap_or_else(|| panic!("not a config line: {line:?}"))
                    .to_string()
            })
            .collect();
        Lab {
            child,
            prefix: prefix.into(),
            input,
            lines: rx,
            config,
        }
    }

    /// Sends `command` to the lab (`reload`, `start 1`) and returns its
    /// one-line answer.
    pub fn say(&mut self, command: &str) -> String {
        writeln!(self.input, "{command}").expect("write to the lab");
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no answer to {command:?} in 30 s"))
    }

    /// The pid of the lab's router (`sixfold run`, a child of the lab; the
    /// first box's with `--routers`).
    pub fn router_pid(&self) -> u32 {
        let lab = self.child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{lab}/task/{lab}/children")).unwrap_or_default();
        children
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok())
            .find(|p| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| c.split(|&b| b == 0).any(|w| w == b"run"))
            })
            .expect("the lab's router process")
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

/// Sum of every `InCsumErrors` counter (IPv4 and IPv6, all protocols) in `ns`.
pub fn csum_errors(ns: &str) -> u64 {
    let mut total = 0;
    let snmp = ok(ns, &["cat", "/proc/net/snmp"]);
    let lines: Vec<&str> = snmp.lines().collect();
    for pair in lines.chunks(2) {
        if let [names, values] = pair {
            for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
                if n == "InCsumErrors" {
                    total += v.parse::<u64>().unwrap();
                }
            }
        }
    }
    for line in ok(ns, &["cat", "/proc/net/snmp6"]).lines() {
        let mut w = line.split_whitespace();
        if let (Some(n), Some(v)) = (w.next(), w.next())
            && n.ends_with("InCsumErrors")
        {
            total += v.parse::<u64>().unwrap();
        }
    }
    total
}

/// tshark on `dev` in `ns`, writing to `file`.
pub fn capture(ns: &str, dev: &str, file: &Path) -> Child {
    let child = Command::new("ip")
        .args([
            "netns", "exec", ns, "tshark", "-q", "-s", "200", "-i", dev, "-w",
        ])
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // tshark needs a moment before it captures.
    for _ in 0..50 {
        if file.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    child
}

/// The folded one's-complement sum of 16-bit words (written here, independent of
/// the sixfold-checksum crate under test).
fn fold(words: impl Iterator<Item = u32>) -> u16 {
    let mut s: u32 = words.sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The uncomplemented pseudo-header sum of a packet: what a partial (offload)
/// transport checksum field holds.
fn pseudo_sum(src: &str, dst: &str, protocol: u32, length: u32) -> u16 {
    let words = |a: &str| -> Vec<u32> {
        match a.parse::<std::net::IpAddr>().unwrap() {
            std::net::IpAddr::V4(a) => {
                let o = a.octets();
                vec![
                    u32::from(o[0]) << 8 | u32::from(o[1]),
                    u32::from(o[2]) << 8 | u32::from(o[3]),
                ]
            }
            std::net::IpAddr::V6(a) => a.segments().iter().map(|&w| u32::from(w)).collect(),
        }
    };
    let mut all = words(src);
    all.extend(words(dst));
    all.extend([protocol, length >> 16, length & 0xffff]);
    fold(all.into_iter())
}

/// (packets, packets with a bad checksum) among the packets of a capture that
/// match `received` (those the router wrote towards the capturing namespace: a
/// TUN capture also holds what the namespace's own kernel sent).
///
/// IP and ICMP checksums must be right. A TCP or UDP checksum that tshark calls
/// bad passes only as a *partial* one (offload: the router wrote the packet with
/// `NEEDS_CSUM`, and the receiving kernel trusts the field to be completed): it
/// must then be exactly the pseudo-header sum of the packet as it left the
/// router, checked here. A TCP checksum of 0xFFFF (−0, as valid as +0, RFC 1624
/// §3) is the sending kernel's choice, which the router passes on untouched on
/// the IPv6 path; the receiving kernel's `InCsumErrors` checks those.
pub fn bad_checksums(file: &Path, received: &str) -> (usize, Vec<String>) {
    let read = |filter: &str, fields: &[&str]| {
        let mut cmd = Command::new("tshark");
        cmd.args(["-r"]).arg(file).args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-Y",
        ]);
        cmd.arg(format!(
            "({received}) and ({filter}) and not tcp.checksum==0xffff"
        ));
        if !fields.is_empty() {
            cmd.args(["-T", "fields", "-E", "separator=|"]);
            for f in fields {
                cmd.args(["-e", f]);
            }
        }
        let out = cmd.output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let all = read("ip or ipv6", &[]).len();
    let mut bad = read(
        "ip.checksum.status==0 or icmp.checksum.status==0 or icmpv6.checksum.status==0",
        &[],
    );
    let fields = [
        "frame.number",
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "ip.len",
        "ip.hdr_len",
        "ipv6.plen",
        "ip.proto",
        "ipv6.nxt",
        "tcp.checksum",
        "udp.checksum",
    ];
    for line in read("tcp.checksum.status==0 or udp.checksum.status==0", &fields) {
        let f: Vec<&str> = line.split('|').collect();
        let (src, dst) = if f[1].is_empty() {
            (f[3], f[4])
        } else {
            (f[1], f[2])
        };
        // Lengths and protocols come in decimal, checksums in hex.
        let num = |s: &str| -> u32 { s.parse().unwrap_or(0) };
        let (length, protocol) = if f[1].is_empty() {
            (num(f[7]), num(f[9]))
        } else {
            (num(f[5]) - num(f[6]), num(f[8]))
        };
        let field = if f[10].is_empty() { f[11] } else { f[10] };
        let field = u32::from_str_radix(field.trim_start_matches("0x"), 16).unwrap_or(0) as u16;
        if field != pseudo_sum(src, dst, protocol, length) {
            bad.push(format!(
                "frame {}: transport checksum {field:#06x} neither right nor partial",
                f[0]
            ));
        }
    }
    (all, bad)
}

/// Stops servers and captures with SIGINT (a capture flushes its file on it)
/// and reaps them.
pub fn interrupt_all(children: &mut [&mut Child]) {
    for c in children {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let _ = c.wait();
    }
}

/// Each capture holds over 1000 packets, and none of those matching its
/// `received` filter (what the router wrote there) has a bad checksum.
pub fn assert_no_bad_checksums(captures: &[(&Path, &str)]) {
    for &(file, received) in captures {
        let (all, bad) = bad_checksums(file, received);
        assert!(
            all > 1000,
            "{}: only {all} packets captured",
            file.display()
        );
        assert!(
            bad.is_empty(),
            "{}: {} of {all} packets with a bad checksum: {:?}",
            file.display(),
            bad.len(),
            &bad[..bad.len().min(5)]
        );
    }
}

/// `args` running in namespace `ns` in the background, output discarded.
pub fn spawn_in(ns: &str, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Every NAT record in an IPFIX capture, field name → value, as tshark
/// decodes them.
pub fn nat_records(pcap: &Path) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-d", "udp.port==4739,cflow", "-T", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut records = Vec::new();
    for f in frames.as_array().unwrap() {
        let Some(cflow) = f["_source"]["layers"]["cflow"].as_object() else {
            continue;
        };
        for (set, flows) in cflow {
            if !set.starts_with("Set ") {
                continue;
            }
            for (name, r) in flows.as_object().unwrap() {
                if name.starts_with("Flow ") && r.get("cflow.nat_event").is_some() {
                    records.push(r.as_object().unwrap().clone());
                }
            }
        }
    }
    records
}

/// Whether a field's text is a NAT64 alias (240.0.0.0/4), which must never
/// leave the router.
pub fn is_alias(text: &str) -> bool {
    text.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|a| a.octets()[0] & 0xf0 == 0xf0)
}

/// "Nov 29, 2026 22:27:17.279000000 UTC" (tshark's absolute time) in UNIX
/// seconds.
pub fn tshark_time(text: &str) -> f64 {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let w: Vec<&str> = text.split([' ', ',']).filter(|s| !s.is_empty()).collect();
    let m = months.iter().position(|&x| x == w[0]).unwrap() as i64 + 1;
    let (d, y): (i64, i64) = (w[1].parse().unwrap(), w[2].parse().unwrap());
    // Days from civil (H. Hinnant).
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let hms: Vec<f64> = w[3].split(':').map(|x| x.parse().unwrap()).collect();
    days as f64 * 86400.0 + hms[0] * 3600.0 + hms[1] * 60.0 + hms[2]
}

/// Starts Debian's nfcapd on the loopback writing to `dir`, sends it
/// `messages` (IPFIX, from one UDP socket), and stops it: an operator's store.
pub fn nfcapd_store(dir: &Path, messages: &[Vec<u8>]) {
    std::fs::create_dir_all(dir).unwrap();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut nfcapd = Command::new("nfcapd")
        .args(["-b", "127.0.0.1", "-p", &port.to_string(), "-t", "60", "-w"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for m in messages {
        socket.send_to(m, ("127.0.0.1", port)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(nfcapd.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = nfcapd.wait();
}
