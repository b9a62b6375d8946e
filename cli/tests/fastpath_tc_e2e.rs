//! End to end (needs root): the fast path on the TC hook with what TC is for
//! — the endpoints' transmit checksum offload ON, so a local sender's TCP
//! leaves as GSO super-packets with partial (CHECKSUM_PARTIAL) checksums,
//! which `BPF_PROG_TEST_RUN` cannot present. iperf3 TCP over IPv4 (NATed)
//! and IPv6 (routed) through a box with `[fastpath] hook = "tc"`: each
//! transfer completes at speed (a checksum the program got wrong stalls the
//! connection after its first fast packets), the program forwarded the
//! flow's packets, and it carried super-packets whole: more segments (the
//! flows' packet counts) than skbs (the program's forwarded counters).

mod common;
use common::fastbox::FastBox;
use common::*;
use std::process::Command;
use std::time::Duration;

/// iperf3 -c `to` for 2 s from the access side: bytes received. A stalled
/// connection (what a wrong checksum does) ends at 20 s and fails.
fn iperf(world: &FastBox, to: &str) -> u64 {
    let args = ["timeout", "20", "iperf3", "-c", to, "-t", "2", "-J"];
    let out = ok(&world.access, &args);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    json["end"]["sum_received"]["bytes"].as_u64().unwrap()
}

/// The iperf3 server (a daemon), stopped on drop, also when an assertion
/// fails.
struct Server(std::path::PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(text) = std::fs::read_to_string(&self.0) {
            let pid = text.trim_matches(char::from(0)).trim().to_string();
            let _ = Command::new("kill").arg(pid).status();
        }
    }
}

#[test]
fn tcp_with_checksum_offload_on_takes_the_tc_fast_path_whole() {
    if !can_run("tcp_with_checksum_offload_on_takes_the_tc_fast_path_whole") {
        return;
    }
    for p in ["iperf3", "ip", "ethtool"] {
        assert!(have(p), "{p} is missing (scripts/test.sh installs it)");
    }
    let world = FastBox::build("r27tc", true);
    let router = world.start(&world.config("ebpf", "", "hook = \"tc\""));
    let pid = world.dir.join("iperf3.pid");
    ok(
        &world.core,
        &[
            "iperf3",
            "-s",
            "-D",
            "-B",
            "::",
            "-I",
            pid.to_str().unwrap(),
        ],
    );
    let server = Server(pid);
    std::thread::sleep(Duration::from_millis(500));
    let attached = world.stats().fastpath;
    assert!(attached.attached, "{attached:?}");
    assert_eq!(attached.hook.as_deref(), Some("tc"), "{attached:?}");

    for (to, family) in [
        ("192.0.2.80", "forwarded_ipv4"),
        ("2001:db8:ffff::80", "forwarded_ipv6"),
    ] {
        let before = world.stats();
        let bytes = iperf(&world, to);
        std::thread::sleep(Duration::from_millis(1500)); // a counter reading
        let after = world.stats();
        // 2 s of TCP through one box of veths moves hundreds of MB; a wrong
        // checksum stalls it after the first window.
        assert!(bytes > 20_000_000, "{to}: only {bytes} bytes arrived");
        let segments = after.fastpath.packets - before.fastpath.packets;
        let program = |s: &sixfold_router::Snapshot| s.fastpath.program.get(family).copied();
        let skbs = program(&after).unwrap_or(0) - program(&before).unwrap_or(0);
        assert!(
            segments > 1000 && skbs > 0,
            "{to}: the program forwarded {skbs} skbs, {segments} packets: {:?}",
            after.fastpath
        );
        assert!(
            segments > skbs,
            "{to}: no super-packet went through whole ({skbs} skbs, {segments} packets)"
        );
    }
    drop(server);
    drop(router);
}
