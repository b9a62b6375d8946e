//! End to end (needs root): `sixfold run` as a box on real interfaces — the
//! docs/getting-started.md's recipe. An access namespace sends from two addresses (and two IPv6
//! prefixes) over a veth into the box, where `ip rule iif <veth> lookup 100`
//! takes them to the range's TUN (table 100's `default dev inside` is the
//! range's `routes`); the router's NAT44 and IPv6 firewall send them out of its
//! WAN TUN to a server in a core namespace; the core's answers come back by
//! `ip rule iif <veth> lookup 110`, the table `[wan] routes` filled. While the
//! router runs its routes are in the box's tables; after SIGKILL they are gone
//! with its TUNs.
//!
//! Without root this test says so and passes, unless `SIXFOLD_REQUIRE_ORACLES`
//! is set (the test command sets it).

mod common;
use common::*;
use sixfold_router::Snapshot;
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ACCESS: &str = "r16a-acc";
const BOX: &str = "r16a-box";
const CORE: &str = "r16a-core";
const SOCKET: &str = "/run/sixfold-r16a.sock";

/// The namespaces of this test, removed (with what is in them) on drop.
struct World;

impl World {
    fn build() -> World {
        let world = World;
        for ns in [ACCESS, BOX, CORE] {
            fresh_netns(ns);
        }
        run(
            "ip",
            &[
                "link", "add", "acc0", "netns", ACCESS, "type", "veth", "peer", "name", "box-acc",
                "netns", BOX,
            ],
        );
        run(
            "ip",
            &[
                "link", "add", "core0", "netns", CORE, "type", "veth", "peer", "name", "box-core",
                "netns", BOX,
            ],
        );
        let script = |ns: &str, lines: &[&str]| {
            for line in lines {
                let args: Vec<&str> = line.split_whitespace().collect();
                ok(ns, &args);
            }
        };
        script(
            ACCESS,
            &[
                "ip link set lo up",
                "ip link set acc0 up",
                "ip addr add 100.64.0.1/24 dev acc0",
                "ip addr add 100.64.0.2/24 dev acc0",
                "ip addr add 2001:db8:1:1::5/64 dev acc0 nodad",
                "ip addr add 2001:db8:1:2::5/64 dev acc0 nodad",
                "ip route add default via 100.64.0.254",
                "ip -6 route add default via fe80::1 dev acc0",
            ],
        );
        script(
            CORE,
            &[
                "ip link set lo up",
                "ip link set core0 up",
                "ip addr add 192.0.2.80/24 dev core0",
                "ip addr add 2001:db8:ffff::80/64 dev core0 nodad",
                "ip route add 203.0.113.0/28 via 192.0.2.1",
                "ip -6 route add 2001:db8:1::/48 via 2001:db8:ffff::1",
            ],
        );
        // The box: forwarding, no reverse-path filter (its TUNs' sources are
        // routed elsewhere), the policy rules; the tables' routes are the
        // router's own.
        script(BOX, common::fastbox::BOX_SETUP);
        world
    }

    fn remove() {
        for ns in [ACCESS, BOX, CORE] {
            del_netns(ns);
        }
    }
}

/// Namespace `ns` removed, if it is there (a leftover of an interrupted run).
fn del_netns(ns: &str) {
    let _ = Command::new("ip")
        .args(["netns", "del", ns])
        .stderr(Stdio::null())
        .status();
}

/// Namespace `ns`, made anew.
fn fresh_netns(ns: &str) {
    del_netns(ns);
    run("ip", &["netns", "add", ns]);
}

impl Drop for World {
    fn drop(&mut self) {
        World::remove();
        let _ = std::fs::remove_file(SOCKET);
    }
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const CONFIG: &str = r#"
[router]
control_socket = "/run/sixfold-r16a.sock"
workers = 2

[nat]
pool = ["203.0.113.0/28"]

[wan]
name = "wan"
netns = "r16a-box"
routes = ["203.0.113.0/28", "2001:db8:1::/48"]
route_table = 110

[[subscriber_range]]
name = "inside"
netns = "r16a-box"
ipv4 = "100.64.0.0/24"
ipv6 = "2001:db8:1::/48"
routes = ["0.0.0.0/0", "::/0"]
route_table = 100
announce = true
"#;

fn stats() -> Snapshot {
    serde_json::from_str(&sixfold::control::request(SOCKET, "stats").unwrap()).unwrap()
}

/// `sixfold run` with the test's configuration, once it answers on its socket.
fn start_router(dir: &std::path::Path) -> Child {
    let config = dir.join("box.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut child = Command::new(SIXFOLD)
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start sixfold run");
    let deadline = Instant::now() + Duration::from_secs(20);
    while sixfold::control::request(SOCKET, "stats").is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("sixfold run exited: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "sixfold run did not answer in 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// The routes of `table` in the box (nothing once the table is gone).
fn table(family: &str, table: &str) -> String {
    let out = exec(BOX, &["ip", family, "route", "show", "table", table]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_box_on_real_interfaces_routes_a_range_through_nat44_and_the_ipv6_firewall() {
    if !can_run("a_box_on_real_interfaces_routes_a_range_through_nat44_and_the_ipv6_firewall") {
        return;
    }
    for p in ["ping", "curl", "python3", "ip", "sysctl"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let dir = std::env::temp_dir().join("sixfold-r16a");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), vec![b'x'; 20_000]).unwrap();
    let _ = std::fs::remove_file(SOCKET);
    let world = World::build();
    let mut router = start_router(&dir);
    let server = format!(
        "python3 -m http.server 8081 --bind :: --directory {}",
        dir.display()
    );
    let mut http = spawn_in(CORE, &server.split_whitespace().collect::<Vec<_>>());

    // The routes the configuration asked for, on the TUNs in their tables.
    for (family, number, route) in [
        ("-4", "110", "203.0.113.0/28 dev wan"),
        ("-6", "110", "2001:db8:1::/48 dev wan"),
        ("-4", "100", "default dev inside"),
        ("-6", "100", "default dev inside"),
    ] {
        let routes = table(family, number);
        assert!(
            routes.contains(route),
            "{route} not in table {number}: {routes}"
        );
    }
    // No announce route before a flow.
    assert!(
        !table("-6", "110").contains("2001:db8:1:1::/64"),
        "{}",
        table("-6", "110")
    );
    std::thread::sleep(Duration::from_millis(1000));

    for (v4, v6) in [
        ("100.64.0.1", "2001:db8:1:1::5"),
        ("100.64.0.2", "2001:db8:1:2::5"),
    ] {
        for (from, to) in [(v4, "192.0.2.80"), (v6, "2001:db8:ffff::80")] {
            ok(
                ACCESS,
                &["ping", "-c", "2", "-i", "0.2", "-W", "2", "-I", from, to],
            );
        }
        for (from, url) in [
            (v4, "http://192.0.2.80:8081/index.html"),
            (v6, "http://[2001:db8:ffff::80]:8081/index.html"),
        ] {
            let got = ok(
                ACCESS,
                &[
                    "curl",
                    "-sS",
                    "--max-time",
                    "10",
                    "--interface",
                    from,
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code} %{size_download}",
                    url,
                ],
            );
            assert_eq!(got, "200 20000", "{from} {url}");
        }
    }
    // Each address is its own subscriber, NATed into the pool; IPv6 flows
    // announce each one's /64 via the WAN TUN in table 110.
    let s = stats();
    let pool = Ipv4Addr::new(203, 0, 113, 0)..=Ipv4Addr::new(203, 0, 113, 15);
    for name in ["inside/100.64.0.1", "inside/100.64.0.2"] {
        let u = s
            .subscribers
            .iter()
            .find(|u| u.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "{name} not in {:?}",
                    s.subscribers.iter().map(|u| &u.name).collect::<Vec<_>>()
                )
            });
        let public: Ipv4Addr = u.public_ipv4.unwrap();
        assert!(pool.contains(&public), "{name}: {public}");
        assert!(u.sessions >= 2 && u.ipv6_flows >= 2, "{name}: {u:?}");
        assert!(
            u.traffic.ipv4_out.packets > 0 && u.traffic.ipv6_in.packets > 0,
            "{name}: {u:?}"
        );
    }
    assert_eq!(s.subscribers.len(), 2, "only the two that sent");
    assert_eq!(s.datapath.route_failures, 0);
    let announced = table("-6", "110");
    for prefix in ["2001:db8:1:1::/64 dev wan", "2001:db8:1:2::/64 dev wan"] {
        assert!(announced.contains(prefix), "{prefix} not in {announced}");
    }

    // SIGKILL: no goodbye, and still every route went with the TUNs.
    router.kill().unwrap();
    router.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while table("-4", "110").contains("203.0.113.0/28") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(table("-4", "110").trim(), "");
    assert_eq!(table("-6", "110").trim(), "");
    assert_eq!(table("-4", "100").trim(), "");
    let _ = http.kill();
    let _ = http.wait();
    drop(world);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_route_the_kernel_refuses_stops_the_router_at_start_naming_it() {
    if !can_run("a_route_the_kernel_refuses_stops_the_router_at_start_naming_it") {
        return;
    }
    // IPv6 off in the namespace: the kernel refuses the IPv6 route (EACCES).
    const NS: &str = "r16a-err";
    const SOCKET: &str = "/run/sixfold-r16a-err.sock";
    fresh_netns(NS);
    ok(NS, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    ok(
        NS,
        &["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
    );
    let dir = std::env::temp_dir().join("sixfold-r16a-err");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("box.toml");
    std::fs::write(
        &config,
        format!(
            "[router]\ncontrol_socket = \"{SOCKET}\"\nworkers = 1\n[wan]\nnetns = \"{NS}\"\n\
             routes = [\"203.0.113.0/28\", \"2001:db8:1::/48\"]\nroute_table = 110\n"
        ),
    )
    .unwrap();
    let out = Command::new(SIXFOLD)
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let links = ok(NS, &["ip", "-o", "link"]);
    del_netns(NS);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "opening TUN devices and their routes: adding route 2001:db8:1::/48 dev wan table 110: Permission denied"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing stays behind: no TUN, no socket.
    assert!(!links.contains("wan"), "{links}");
    assert!(!std::path::Path::new(SOCKET).exists());
}

/// The route socket on its own: replace is idempotent, delete of a route that
/// is not there is an error that names the route (the I/O loop counts such
/// failures in `datapath.route_failures` and logs them).
#[test]
fn route_socket_adds_replaces_and_removes_and_names_the_route_it_could_not_remove() {
    if !can_run("route_socket_adds_replaces_and_removes_and_names_the_route_it_could_not_remove") {
        return;
    }
    use sixfold_router::device::routes::RouteSocket;
    const NS: &str = "r16a-rt";
    fresh_netns(NS);
    let show = |family: &str| {
        let out = exec(NS, &["ip", family, "route", "show", "table", "110"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let result = std::panic::catch_unwind(|| {
        ok(
            NS,
            &[
                "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1",
            ],
        );
        ok(NS, &["ip", "link", "set", "d0", "up"]);
        ok(NS, &["ip", "link", "set", "d1", "up"]);
        let mut socket = RouteSocket::open("d0", Some(NS), Some(110)).unwrap();
        for net in ["198.51.100.0/24", "2001:db8:7::/48"] {
            let net: ipnet::IpNet = net.parse().unwrap();
            socket.replace(net).unwrap();
            socket.replace(net).unwrap();
        }
        assert_eq!(
            show("-4"),
            "198.51.100.0/24 dev d0 proto static scope link \n"
        );
        assert!(
            show("-6").starts_with("2001:db8:7::/48 dev d0 proto static"),
            "{}",
            show("-6")
        );
        let net: ipnet::IpNet = "198.51.100.0/24".parse().unwrap();
        socket.delete(net).unwrap();
        let e = socket.delete(net).unwrap_err();
        assert_eq!(
            e.to_string(),
            "removing route 198.51.100.0/24 dev d0 table 110: No such process (os error 3)"
        );
        assert_eq!(show("-4"), "");
        let e = RouteSocket::open("nosuch0", Some(NS), None).err().unwrap();
        assert!(e.to_string().starts_with("\"nosuch0\": "), "{e}");
    });
    del_netns(NS);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
