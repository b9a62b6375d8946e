//! The box between two veths that the fast path's end-to-end tests run
//! through: an access namespace (100.64.0.1, 2001:db8:1:1::5), the box
//! (`sixfold run` with a `[[subscriber_range]]` and `[fastpath]` on its veths
//! box-acc and box-core) and a core namespace (192.0.2.80, 2001:db8:ffff::80).
//! Namespaces are `<prefix>-acc`, `<prefix>-box`, `<prefix>-core`; removed on
//! drop, with the router. The endpoints' veths have GRO on (a frame the XDP
//! program redirects into a veth needs the peer's NAPI) and transmit checksum
//! offload as asked: on, a local sender's TCP leaves GSO super-packets with
//! partial checksums — what the TC hook is for.

use super::{SIXFOLD, ok};
use sixfold_router::Snapshot;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct FastBox {
    pub access: String,
    pub boxed: String,
    pub core: String,
    pub socket: String,
    router: Option<Child>,
}

fn del_netns(ns: &str) {
    let _ = Command::new("ip")
        .args(["netns", "del", ns])
        .stderr(Stdio::null())
        .status();
}

fn script(ns: &str, lines: &[String]) {
    for line in lines {
        let args: Vec<&str> = line.split_whitespace().collect();
        ok(ns, &args);
    }
}

impl FastBox {
    /// The three namespaces and their veths; `tx`: the endpoints' transmit
    /// checksum offload (and with it TSO) on.
    pub fn build(prefix: &str, tx: bool) -> FastBox {
        let b = FastBox {
            access: format!("{prefix}-acc"),
            boxed: format!("{prefix}-box"),
            core: format!("{prefix}-core"),
            socket: format!("/run/sixfold-{prefix}.sock"),
            router: None,
        };
        for ns in [&b.access, &b.boxed, &b.core] {
            del_netns(ns);
            let s = Command::new("ip").args(["netns", "add", ns]).status();
            assert!(s.unwrap().success(), "ip netns add {ns}");
        }
        for (end, peer, ns) in [
            ("acc0", "box-acc", &b.access),
            ("core0", "box-core", &b.core),
        ] {
            let s = Command::new("ip")
                .args([
                    "link", "add", end, "netns", ns, "type", "veth", "peer", "name", peer,
                ])
                .args(["netns", &b.boxed])
                .status();
            assert!(s.unwrap().success(), "veth {end}");
        }
        let tx = if tx { "on" } else { "off" };
        let lines = |l: &[&str]| l.iter().map(|s| s.replace("TX", tx)).collect::<Vec<_>>();
        script(
            &b.access,
            &lines(&[
                "ip link set lo up",
                "ip link set acc0 up",
                "ethtool -K acc0 gro on tx TX",
                "ip addr add 100.64.0.1/24 dev acc0",
                "ip addr add 2001:db8:1:1::5/64 dev acc0 nodad",
                "ip route add default via 100.64.0.254",
                "ip -6 route add default via fe80::1 dev acc0",
            ]),
        );
        script(
            &b.core,
            &lines(&[
                "ip link set lo up",
                "ip link set core0 up",
                "ethtool -K core0 gro on tx TX",
                "ip addr add 192.0.2.80/24 dev core0",
                "ip addr add 2001:db8:ffff::80/64 dev core0 nodad",
                "ip route add 203.0.113.0/28 via 192.0.2.1",
                "ip -6 route add 2001:db8:1::/48 via 2001:db8:ffff::1",
            ]),
        );
        script(
            &b.boxed,
            &lines(&[
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
            ]),
        );
        b
    }

    /// The box's configuration with `[fastpath] mode` and `hook`.
    pub fn config(&self, mode: &str, hook: &str) -> String {
        let (socket, netns) = (&self.socket, &self.boxed);
        format!(
            r#"
[router]
control_socket = "{socket}"
workers = 2
[nat]
pool = ["203.0.113.0/28"]
[wan]
name = "wan"
netns = "{netns}"
routes = ["203.0.113.0/28", "2001:db8:1::/48"]
route_table = 110
[[subscriber_range]]
name = "inside"
netns = "{netns}"
ipv4 = "100.64.0.0/24"
ipv6 = "2001:db8:1::/48"
routes = ["0.0.0.0/0", "::/0"]
route_table = 100
[fastpath]
mode = "{mode}"
hook = "{hook}"
inside = "box-acc"
outside = "box-core"
netns = "{netns}"
"#
        )
    }

    /// Writes `config` beside the test's files and runs the router on it
    /// until it answers on its control socket.
    pub fn start(&mut self, dir: &Path, config: &str) -> PathBuf {
        let path = dir.join(format!("{}.toml", self.boxed));
        std::fs::write(&path, config).unwrap();
        let _ = std::fs::remove_file(&self.socket);
        let mut child = Command::new(SIXFOLD)
            .args(["run", "--config"])
            .arg(&path)
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
        self.router = Some(child);
        path
    }

    pub fn stats(&self) -> Snapshot {
        serde_json::from_str(&sixfold::control::request(&self.socket, "stats").unwrap()).unwrap()
    }
}

impl Drop for FastBox {
    fn drop(&mut self) {
        if let Some(mut router) = self.router.take() {
            let _ = router.kill();
            let _ = router.wait();
        }
        for ns in [&self.access, &self.boxed, &self.core] {
            del_netns(ns);
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}
