//! The fast path's world (issue 27), shared by its end-to-end tests: an
//! access namespace (`<prefix>-acc`, subscribers 100.64.0.1 and .2,
//! 2001:db8:1:1::5), the box between two veths (`<prefix>-box`: `sixfold
//! run` with a `[[subscriber_range]]` and `[fastpath]` on `box-acc` and
//! `box-core`) and a core namespace (`<prefix>-core`: servers on 192.0.2.80
//! and .81, 2001:db8:ffff::80). Each test takes its own prefix, so tests of
//! one binary may run at once.
//!
//! The endpoints' veths have GRO on (a frame redirected into a veth needs the
//! peer's NAPI) and transmit checksum offload as asked: off, a frame the XDP
//! program redirects leaves as a plain XDP frame, so its L4 checksum must be
//! complete — as it is on frames from a real NIC; on, a local sender's TCP
//! leaves GSO super-packets with partial checksums — what the TC hook is for.

use super::{SIXFOLD, ok};
use sixfold_router::Snapshot;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The box's side of the world (`range_e2e`'s box too): forwarding on,
/// reverse-path filtering off, both veths up and addressed, the range's
/// IPv6 prefix on the access side, and the policy rules that send what
/// comes in on each veth to the range's (100) or the WAN's (110) table.
pub const BOX_SETUP: &[&str] = &[
    "sysctl -qw net.ipv4.ip_forward=1",
    "sysctl -qw net.ipv6.conf.all.forwarding=1",
    "sysctl -qw net.ipv4.conf.all.rp_filter=0",
    "sysctl -qw net.ipv4.conf.default.rp_filter=0",
    "ip link set lo up",
    "ip link set box-acc up",
    "ip link set box-core up",
    "sysctl -qw net.ipv4.conf.box-acc.rp_filter=0",
    "sysctl -qw net.ipv4.conf.box-core.rp_filter=0",
    "ip addr add 100.64.0.254/24 dev box-acc",
    "ip addr add fe80::1/64 dev box-acc nodad",
    "ip -6 route add 2001:db8:1::/48 dev box-acc",
    "ip addr add 192.0.2.1/24 dev box-core",
    "ip addr add 2001:db8:ffff::1/64 dev box-core nodad",
    "ip rule add iif box-acc lookup 100",
    "ip -6 rule add iif box-acc lookup 100",
    "ip rule add iif box-core lookup 110",
    "ip -6 rule add iif box-core lookup 110",
];

/// The three namespaces and the router's control socket; removed on drop.
pub struct FastBox {
    pub access: String,
    pub boxns: String,
    pub core: String,
    pub socket: String,
    /// A scratch directory for configurations and captures.
    pub dir: PathBuf,
}

fn del_netns(ns: &str) {
    let _ = Command::new("ip")
        .args(["netns", "del", ns])
        .stderr(Stdio::null())
        .status();
}

fn script(ns: &str, lines: &[&str]) {
    for line in lines {
        let args: Vec<&str> = line.split_whitespace().collect();
        ok(ns, &args);
    }
}

impl FastBox {
    /// The three namespaces and their veths; `tx`: the endpoints' transmit
    /// checksum offload (and with it TSO) on.
    pub fn build(prefix: &str, tx: bool) -> FastBox {
        let w = FastBox {
            access: format!("{prefix}-acc"),
            boxns: format!("{prefix}-box"),
            core: format!("{prefix}-core"),
            socket: format!("/run/sixfold-{prefix}.sock"),
            dir: std::env::temp_dir().join(format!("sixfold-{prefix}")),
        };
        let _ = std::fs::remove_dir_all(&w.dir);
        std::fs::create_dir_all(&w.dir).unwrap();
        let _ = std::fs::remove_file(&w.socket);
        for ns in [&w.access, &w.boxns, &w.core] {
            del_netns(ns);
            let s = Command::new("ip").args(["netns", "add", ns]).status();
            assert!(s.unwrap().success(), "ip netns add {ns}");
        }
        let tx = if tx { "on" } else { "off" };
        for (end, peer, ns) in [
            ("acc0", "box-acc", &w.access),
            ("core0", "box-core", &w.core),
        ] {
            let s = Command::new("ip")
                .args(["link", "add", end, "netns", ns, "type", "veth", "peer"])
                .args(["name", peer, "netns", &w.boxns])
                .status();
            assert!(s.unwrap().success(), "veth {end}");
        }
        script(
            &w.access,
            &[
                "ip link set lo up",
                "ip link set acc0 up",
                &format!("ethtool -K acc0 gro on tx {tx}"),
                "ip addr add 100.64.0.1/24 dev acc0",
                "ip addr add 100.64.0.2/24 dev acc0",
                "ip addr add 2001:db8:1:1::5/64 dev acc0 nodad",
                "ip route add default via 100.64.0.254",
                "ip -6 route add default via fe80::1 dev acc0",
            ],
        );
        script(
            &w.core,
            &[
                "ip link set lo up",
                "ip link set core0 up",
                &format!("ethtool -K core0 gro on tx {tx}"),
                "ip addr add 192.0.2.80/24 dev core0",
                "ip addr add 192.0.2.81/24 dev core0",
                "ip addr add 2001:db8:ffff::80/64 dev core0 nodad",
                "ip route add 203.0.113.0/28 via 192.0.2.1",
                "ip -6 route add 2001:db8:1::/48 via 2001:db8:ffff::1",
            ],
        );
        script(&w.boxns, BOX_SETUP);
        w
    }

    /// The box's configuration: fast path `mode`, `nat` lines added to
    /// `[nat]`, `extra` after `[fastpath]`'s keys (more of its keys, such as
    /// `hook = "tc"`, then other sections).
    pub fn config(&self, mode: &str, nat: &str, extra: &str) -> String {
        let (socket, boxns) = (&self.socket, &self.boxns);
        format!(
            r#"
[router]
control_socket = "{socket}"
workers = 2
[nat]
pool = ["203.0.113.0/28"]
{nat}
[wan]
name = "wan"
netns = "{boxns}"
routes = ["203.0.113.0/28", "2001:db8:1::/48"]
route_table = 110
[[subscriber_range]]
name = "inside"
netns = "{boxns}"
ipv4 = "100.64.0.0/24"
ipv6 = "2001:db8:1::/48"
routes = ["0.0.0.0/0", "::/0"]
route_table = 100
[fastpath]
mode = "{mode}"
inside = "box-acc"
outside = "box-core"
netns = "{boxns}"
{extra}
"#
        )
    }

    /// The configuration file the router runs from.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("box.toml")
    }

    /// `sixfold run` with configuration `text`, once it answers `stats`.
    pub fn start(&self, text: &str) -> Router {
        std::fs::write(self.config_path(), text).unwrap();
        let mut child = Command::new(SIXFOLD)
            .args(["run", "--config"])
            .arg(self.config_path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sixfold run");
        let deadline = Instant::now() + Duration::from_secs(20);
        while sixfold::control::request(&self.socket, "stats").is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("sixfold run exited: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "sixfold run did not answer in 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Router(child)
    }

    /// Writes `text` as the configuration and `sixfold reload`s it.
    pub fn reload(&self, text: &str) {
        std::fs::write(self.config_path(), text).unwrap();
        let out = Command::new(SIXFOLD)
            .args(["reload", "--socket", &self.socket])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "reload: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn stats(&self) -> Snapshot {
        serde_json::from_str(&sixfold::control::request(&self.socket, "stats").unwrap()).unwrap()
    }

    /// Whether the program is attached to the box's inside veth.
    pub fn attached(&self) -> bool {
        ok(&self.boxns, &["ip", "-d", "link", "show", "box-acc"]).contains("prog/xdp")
    }

    /// [`ECHO`] on port 9999 of the core, its output piped.
    pub fn echo(&self) -> Guard {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.core, "python3", "-c", ECHO])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        Guard(child)
    }

    /// Runs [`CLIENT`] in the access namespace: `count` datagrams of
    /// `size` bytes from `source`:40000 to `destination`:9999; the echoes it
    /// got.
    pub fn udp_client(&self, count: u32, size: u32, source: &str, destination: &str) -> u64 {
        let (n, size) = (count.to_string(), size.to_string());
        let args = ["python3", "-c", CLIENT, &n, &size, source, destination];
        ok(&self.access, &args).trim().parse().unwrap()
    }
}

impl Drop for FastBox {
    fn drop(&mut self) {
        for ns in [&self.access, &self.boxns, &self.core] {
            del_netns(ns);
        }
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `sixfold run`, killed on drop unless [`Router::stop`]ped.
pub struct Router(pub Child);

impl Router {
    /// SIGTERM (the graceful stop: last counts read, records flushed) and
    /// wait.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        interrupt(&self.0, nix::sys::signal::Signal::SIGTERM);
        self.0.wait().unwrap()
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child process killed and reaped on drop (a failing test leaves no
/// server behind holding the test's output open).
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `signal` to `child`.
pub fn interrupt(child: &Child, signal: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal);
}

/// Stops [`ECHO`] and returns what it printed: datagrams, bytes, and the
/// source endpoints it saw.
pub fn echo_report(mut echo: Guard) -> (u64, u64, Vec<String>) {
    let echo = &mut echo.0;
    interrupt(echo, nix::sys::signal::Signal::SIGTERM);
    let mut text = String::new();
    std::io::Read::read_to_string(echo.stdout.as_mut().unwrap(), &mut text).unwrap();
    let _ = echo.wait();
    let mut words = text.split_whitespace();
    let mut number = || words.next().and_then(|w| w.parse().ok());
    let (n, bytes) = (number(), number());
    let (Some(n), Some(bytes)) = (n, bytes) else {
        panic!("echo server printed {text:?}")
    };
    (n, bytes, words.map(String::from).collect())
}

/// The program's counter `name` (`forwarded_ipv4`, `pass_miss`, …).
pub fn program(s: &Snapshot, name: &str) -> u64 {
    s.fastpath.program.get(name).copied().unwrap_or(0)
}

/// A UDP echo server on port 9999 that prints, on SIGTERM, how many
/// datagrams and payload bytes it received and from which source endpoints.
pub const ECHO: &str = r#"
import socket, signal, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 9999))
n, size, seen = 0, 0, set()
def done(*_):
    print(n, size, " ".join(sorted(seen)), flush=True); sys.exit(0)
signal.signal(signal.SIGTERM, done)
while True:
    data, peer = s.recvfrom(65536)
    n += 1; size += len(data); seen.add("%s:%d" % peer[:2])
    s.sendto(data, peer)
"#;

/// Sends `count` datagrams of `size` bytes from SOURCE:40000 to
/// DESTINATION:9999, one in flight at a time (each waits for its echo, 1 s at
/// most); prints the echoes received.
pub const CLIENT: &str = r#"
import socket, sys
count, size, source, destination = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET6 if ":" in source else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((source, 40000)); s.settimeout(1.0)
got = 0
for i in range(count):
    s.sendto((b"%032d" % i).ljust(size, b"x"), (destination, 9999))
    try:
        s.recvfrom(65536); got += 1
    except socket.timeout:
        pass
print(got)
"#;
