//! The IPv6-only subscriber end to end (needs root): `sixfold lab --ipv6-only`
//! with the router as the PLAT (stateful NAT64), Debian's unbound as DNS64 and
//! tayga as the subscriber's CLAT (464XLAT). Real programs — ping, curl, iperf3
//! TCP both ways and UDP, traceroute — over NAT64 and through the CLAT; every
//! kernel's `InCsumErrors` must stay, tshark must find no bad checksum among
//! what the router wrote on either side, and it must decode the PREF64 option
//! (RFC 8781) of the router's advertisement.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The lab's server (192.0.2.80) under its NAT64 prefix.
const SERVER_NAT64: &str = "2001:db8:64::c000:250";

/// Sends a router solicitation from `ns` on `dev` (Python's raw ICMPv6 socket:
/// the kernel fills in the checksum), so the router advertises at once.
fn solicit(ns: &str, dev: &str) {
    let code = format!(
        "import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6); \
         s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255); \
         s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ('ff02::2', 0, 0, socket.if_nametoindex('{dev}')))"
    );
    ok(ns, &["python3", "-c", &code]);
}

/// iperf3 from `ns` to `server` with `mode` (`-4`/`-6` and options): bytes moved.
fn iperf_bytes(ns: &str, server: &str, mode: &[&str]) -> u64 {
    let mut args = vec!["iperf3", "-c", server, "-J"];
    args.extend_from_slice(mode);
    let out = ok(ns, &args);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let end = &v["end"];
    end["sum_received"]["bytes"]
        .as_u64()
        .or_else(|| end["sum"]["bytes"].as_u64())
        .unwrap_or(0)
}

#[test]
fn ipv6_only_subscriber_through_nat64_and_clat_keeps_every_checksum() {
    if !can_run("ipv6_only_subscriber_through_nat64_and_clat_keeps_every_checksum") {
        return;
    }
    for p in [
        "ping", "curl", "iperf3", "tshark", "python3", "unbound", "tayga",
    ] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let mut lab = Lab::start(
        "sf64e",
        &["--subscribers", "1", "--ipv6-only", "--workers", "2"],
    );
    let (sub, wan) = (lab.ns("sub2"), lab.ns("wan"));
    let before: Vec<u64> = [&sub, &wan].iter().map(|ns| csum_errors(ns)).collect();
    let dir = std::env::temp_dir().join("sixfold-sf64e");
    std::fs::create_dir_all(&dir).unwrap();
    let (cap_wan, cap_sub) = (dir.join("wan.pcapng"), dir.join("sub.pcapng"));
    let _ = std::fs::remove_file(&cap_wan);
    let _ = std::fs::remove_file(&cap_sub);
    let mut tw = capture(&wan, "wan", &cap_wan);
    let mut ts = capture(&sub, "sub2", &cap_sub);
    let mut iperf = Command::new("ip")
        .args(["netns", "exec", &wan, "iperf3", "-s", "-B", "::"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::fs::write(dir.join("index.html"), vec![b'x'; 100_000]).unwrap();
    let mut http = Command::new("ip")
        .args([
            "netns",
            "exec",
            &wan,
            "python3",
            "-m",
            "http.server",
            "8081",
        ])
        .args(["--bind", "::", "--directory"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    solicit(&sub, "sub2");

    // NAT64 by the synthesised name and the prefix; the CLAT by IPv4 literals.
    ok(
        &sub,
        &[
            "ping",
            "-6",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "2",
            SERVER_NAT64,
        ],
    );
    ok(
        &sub,
        &["ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.80"],
    );
    for url in [
        "http://v4only.lab.example:8081/index.html",
        "http://192.0.2.80:8081/index.html",
    ] {
        let got = ok(
            &sub,
            &[
                "curl",
                "-sS",
                "--max-time",
                "10",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{size_download}",
                url,
            ],
        );
        assert_eq!(got, "200 100000", "{url}");
    }
    // Bounded by bytes: the test binary's router is a debug build.
    for mode in [
        &["-6", "-n", "20M"][..],
        &["-6", "-R", "-n", "20M"][..],
        &["-6", "-u", "-b", "40M", "-t", "1"][..],
    ] {
        let bytes = iperf_bytes(&sub, SERVER_NAT64, mode);
        assert!(
            bytes > 1_000_000,
            "NAT64 iperf3 {mode:?} moved {bytes} bytes"
        );
    }
    let bytes = iperf_bytes(&sub, "192.0.2.80", &["-4", "-n", "10M"]);
    assert!(bytes > 1_000_000, "CLAT iperf3 moved {bytes} bytes");
    std::thread::sleep(Duration::from_millis(500));
    interrupt_all(&mut [&mut iperf, &mut http, &mut tw, &mut ts]);
    let after: Vec<u64> = [&sub, &wan].iter().map(|ns| csum_errors(ns)).collect();
    assert_eq!(before, after, "kernel InCsumErrors moved in [sub2, wan]");
    let to_wan = "ip.src==203.0.113.0/24";
    let to_sub = "ipv6.dst==2001:db8:1:2::/64";
    assert_no_bad_checksums(&[(cap_wan.as_path(), to_wan), (cap_sub.as_path(), to_sub)]);
    // tshark reads the PREF64 option of the advertisement the solicitation drew.
    let pref64 = Command::new("tshark")
        .arg("-r")
        .arg(&cap_sub)
        .args(["-Y", "icmpv6.opt.pref64.prefix", "-T", "fields"])
        .args([
            "-e",
            "icmpv6.opt.pref64.prefix",
            "-e",
            "icmpv6.opt.pref64.plc",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&pref64.stdout);
    assert_eq!(text.lines().next(), Some("2001:db8:64::\t0x0000"), "{text}");
    let socket = format!("/run/sixfold-{}.sock", lab.prefix);
    let s: serde_json::Value =
        serde_json::from_str(&sixfold::control::request(&socket, "stats").unwrap()).unwrap();
    assert!(s["ipv4"]["outbound"]["tcp"]["packets"].as_u64().unwrap() > 1000);
    assert!(s["ipv6"]["inbound"]["tcp"]["packets"].as_u64().unwrap() > 1000);
    assert_eq!(s["nat64_hosts"], 2, "the SLAAC address and the CLAT's");
    for reason in [
        "malformed",
        "bad_ip_checksum",
        "untranslatable",
        "unmappable_address",
    ] {
        assert_eq!(s["drops"][reason], 0, "{reason}: {}", s["drops"]);
    }
    assert!(lab.stop().success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// An IPv4 router between the lab's WAN and a host behind it: traceroute from
/// the IPv6-only subscriber to that host's NAT64 address shows the router, the
/// IPv4 hop (its ICMPv4 time exceeded translated, RFC 7915 §4.2–4.3) and the
/// host (port unreachable translated).
#[test]
fn traceroute_from_the_ipv6_only_subscriber_shows_the_ipv4_hops() {
    if !can_run("traceroute_from_the_ipv6_only_subscriber_shows_the_ipv4_hops") {
        return;
    }
    assert!(
        have("traceroute"),
        "traceroute is missing (scripts/test.sh installs it)"
    );
    let lab = Lab::start("sf64t", &["--subscribers", "1", "--ipv6-only"]);
    let (sub, wan, far) = (lab.ns("sub2"), lab.ns("wan"), "sf64far".to_string());
    // A namespace an earlier, killed run left.
    let _ = Command::new("ip")
        .args(["netns", "del", &far])
        .stderr(Stdio::null())
        .status();
    let run = |args: &[&str]| {
        let st = Command::new("ip").args(args).status().unwrap();
        assert!(st.success(), "ip {args:?}");
    };
    run(&["netns", "add", &far]);
    run(&[
        "link", "add", "sf64a", "netns", &wan, "type", "veth", "peer", "name", "sf64b", "netns",
        &far,
    ]);
    run(&["-n", &wan, "addr", "add", "198.51.100.1/24", "dev", "sf64a"]);
    run(&["-n", &wan, "link", "set", "sf64a", "up"]);
    run(&[
        "-n",
        &far,
        "addr",
        "add",
        "198.51.100.80/24",
        "dev",
        "sf64b",
    ]);
    run(&["-n", &far, "link", "set", "sf64b", "up"]);
    run(&["-n", &far, "link", "set", "lo", "up"]);
    run(&["-n", &far, "route", "add", "default", "via", "198.51.100.1"]);
    ok(&wan, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    let out = exec(
        &sub,
        &[
            "traceroute",
            "-6",
            "-n",
            "-q",
            "1",
            "-w",
            "2",
            "-m",
            "6",
            "2001:db8:64::c633:6450",
        ],
    );
    let _ = Command::new("ip").args(["netns", "del", &far]).status();
    let text = String::from_utf8_lossy(&out.stdout);
    let hops: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(hops.len(), 3, "{text}");
    assert_eq!(hops[0], "2001:db8:1::1", "the router itself: {text}");
    assert!(
        hops[1].starts_with("2001:db8:64::") && hops[1] != "2001:db8:64::c633:6450",
        "the IPv4 hop under the prefix: {text}"
    );
    assert_eq!(hops[2], "2001:db8:64::c633:6450", "{text}");
    drop(lab);
}

/// A UDP echo on 192.0.2.80:7300 (run in the WAN namespace) that answers each
/// datagram with the address and port it came from.
const ECHO_SERVER: &str = "import socket\n\
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
s.bind(('192.0.2.80', 7300))\n\
while True:\n    d, a = s.recvfrom(100)\n    s.sendto(f'{a[0]} {a[1]}'.encode(), a)\n";

/// A UDP client: from port argv[3] to argv[1] port argv[2]; prints its own
/// address and what the echo answered (the public address and port).
const ECHO_CLIENT: &str = "import socket, sys\n\
six = ':' in sys.argv[1]\n\
s = socket.socket(socket.AF_INET6 if six else socket.AF_INET, socket.SOCK_DGRAM)\n\
s.bind(('::' if six else '0.0.0.0', int(sys.argv[3])))\n\
s.settimeout(5)\n\
s.connect((sys.argv[1], int(sys.argv[2])))\n\
s.send(b'who')\n\
print(s.getsockname()[0], s.recv(100).decode())\n";

/// `sixfold lab --ipv6-only --ipfix-pcap` with `[ipfix] sessions = true`: the
/// IPv6-only subscriber's UDP exchange through the NAT64 is logged as natEvent
/// 6 with its own IPv6 address and the synthesised destination, as tshark
/// decodes the collector's capture; the dual-stack subscriber's keeps natEvent
/// 4; no record names an alias (240.0.0.0/4); and `sixfold nat lookup` answers
/// "who had this public port" with the IPv6 host.
#[test]
fn ipv6_only_sessions_are_logged_as_nat64_events_and_looked_up() {
    if !can_run("ipv6_only_sessions_are_logged_as_nat64_events_and_looked_up") {
        return;
    }
    for p in ["tshark", "python3", "unbound", "tayga"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let dir = std::env::temp_dir().join("sixfold-n64c-lab");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (config, pcap) = (dir.join("router.toml"), dir.join("ipfix.pcap"));
    std::fs::write(
        &config,
        "[router]\nipv6 = \"2001:db8:1::1\"\n[nat]\npool = [\"203.0.113.0/28\"]\n\
         [nat64]\nprefix = \"2001:db8:64::/96\"\n[ipfix]\nsessions = true\ntemplate_refresh = 1\n\
         [[subscriber]]\nname = \"sub1\"\nipv4 = [\"100.64.1.1/32\"]\nipv6 = [\"2001:db8:1:1::/64\"]\n\
         [[subscriber]]\nname = \"sub2\"\nipv6 = [\"2001:db8:1:2::/64\"]\n",
    )
    .unwrap();
    let mut lab = Lab::start(
        "n64c",
        &[
            "--subscribers",
            "1",
            "--ipv6-only",
            "--workers",
            "2",
            "--config",
            config.to_str().unwrap(),
            "--ipfix-pcap",
            pcap.to_str().unwrap(),
        ],
    );
    let (sub1, sub2, wan) = (lab.ns("sub1"), lab.ns("sub2"), lab.ns("wan"));
    let mut server = spawn_in(&wan, &["python3", "-c", ECHO_SERVER]);
    std::thread::sleep(Duration::from_millis(400));
    let client = |ns: &str, to: &str, port: &str| -> Vec<String> {
        let out = ok(ns, &["python3", "-c", ECHO_CLIENT, to, "7300", port]);
        out.split_whitespace().map(str::to_string).collect()
    };
    // [own address, public address, public port]
    let v6 = client(&sub2, SERVER_NAT64, "40123");
    let v4 = client(&sub1, "192.0.2.80", "40124");
    let _ = server.kill();
    let _ = server.wait();
    // Template refreshes a second apart show the record went on past the
    // sessions' creation: `nat lookup` names their holders for certain.
    std::thread::sleep(Duration::from_millis(3500));
    let status = lab.stop();
    assert!(status.success(), "lab exited with {status}");
    assert!(v6[0].starts_with("2001:db8:1:2:"), "{v6:?}");
    assert_eq!(v4[0], "100.64.1.1");
    // tshark reads the collector's capture.
    let records = nat_records(&pcap);
    let field = |r: &serde_json::Map<String, serde_json::Value>, f: &str| {
        r.get(f).and_then(|v| v.as_str()).unwrap_or("").to_string()
    };
    for r in &records {
        assert!(
            r.values().all(|v| !v.as_str().is_some_and(is_alias)),
            "an alias in {r:?}"
        );
    }
    let nat64: Vec<_> = records
        .iter()
        .filter(|r| field(r, "cflow.nat_event") == "6" && field(r, "cflow.srcport") == "40123")
        .collect();
    assert_eq!(nat64.len(), 1, "{records:#?}");
    let r = nat64[0];
    assert_eq!(
        [
            "cflow.srcaddrv6",
            "cflow.dstaddrv6",
            "cflow.dstport",
            "cflow.post_natsource_ipv4_address",
            "cflow.post_naptsource_transport_port",
            "cflow.post_natdestination_ipv4_address",
            "cflow.protocol",
        ]
        .map(|f| field(r, f)),
        [
            v6[0].as_str(),
            SERVER_NAT64,
            "7300",
            v6[1].as_str(),
            v6[2].as_str(),
            "192.0.2.80",
            "17"
        ]
    );
    assert!(r.get("cflow.srcaddr").is_none(), "no IPv4 source: {r:?}");
    let nat44: Vec<_> = records
        .iter()
        .filter(|r| field(r, "cflow.nat_event") == "4" && field(r, "cflow.srcport") == "40124")
        .collect();
    assert_eq!(nat44.len(), 1, "{records:#?}");
    assert_eq!(
        [
            "cflow.srcaddr",
            "cflow.post_natsource_ipv4_address",
            "cflow.post_naptsource_transport_port"
        ]
        .map(|f| field(nat44[0], f)),
        ["100.64.1.1", v4[1].as_str(), v4[2].as_str()]
    );
    // The graceful stop ended both sessions, logged once each: the NAT64
    // one as natEvent 7, the NAT44 one as 5, with the same public port.
    for (event, port, public) in [("7", "40123", &v6), ("5", "40124", &v4)] {
        let ended: Vec<_> = records
            .iter()
            .filter(|r| field(r, "cflow.nat_event") == event && field(r, "cflow.srcport") == port)
            .collect();
        assert_eq!(ended.len(), 1, "natEvent {event}: {records:#?}");
        assert_eq!(
            field(ended[0], "cflow.post_naptsource_transport_port"),
            public[2]
        );
    }
    // Who had each public port: the IPv6-only host, the dual-stack one.
    let lookup = |public: &[String]| {
        let out = Command::new(SIXFOLD)
            .args(["nat", "lookup", "--config", config.to_str().unwrap()])
            .args(["--ipfix-pcap", pcap.to_str().unwrap()])
            .arg(format!("{}:{}", public[1], public[2]))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let answer = lookup(&v6);
    let want = format!(
        "{}:{} -> sub2 (inside {}): NAT64 session, protocol 17, inside port 40123 to \
         [{SERVER_NAT64}]:7300 (IPv4 192.0.2.80:7300), created ",
        v6[1], v6[2], v6[0]
    );
    assert!(answer.starts_with(&want), "{answer}");
    let answer = lookup(&v4);
    let want = format!(
        "{}:{} -> sub1 (inside 100.64.1.1): NAT44 session, protocol 17, inside port 40124, created ",
        v4[1], v4[2]
    );
    assert!(answer.starts_with(&want), "{answer}");
    let _ = std::fs::remove_dir_all(&dir);
}
