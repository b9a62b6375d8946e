//! The I/O loop's mechanisms on real TUNs in a namespace of the test's own
//! (needs root; without it the tests say so and pass, unless
//! `SIXFOLD_REQUIRE_ORACLES` is set): a burst read per wake-up, and a
//! super-packet written whole where the TUN takes offload — the kernel's own
//! `rx_packets` of the TUN is the oracle (one per skb: a super-packet once,
//! segments each).

use super::batched::next_want;
use super::*;
use crate::config::Config;
use crate::device::{in_netns, open_tun};
use crate::iface::Interface;
use crate::offload::{Gso, Offload};
use std::net::UdpSocket;
use std::process::Command;

fn can_run(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os("SIXFOLD_REQUIRE_ORACLES").is_none(),
        "{test}: needs root (network namespaces, TUN devices)"
    );
    eprintln!("SKIPPED {test}: needs root for network namespaces and TUN devices");
    false
}

/// A namespace of this test's own, IPv6 off (no router solicitations or MLD
/// reports in the TUNs' queues), removed on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("sfio{tag}{}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(std::process::Stdio::null())
            .status();
        ip(&["netns", "add", &name]);
        let ns = Netns(name);
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        ns
    }

    fn exec(&self, args: &[&str]) {
        let mut all = vec!["netns", "exec", &self.0];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Packets the kernel took in from TUN `dev` (written by the router).
    fn rx_packets(&self, dev: &str) -> u64 {
        let out = Command::new("ip")
            .args(["-n", &self.0, "-j", "-s", "link", "show", "dev", dev])
            .output()
            .unwrap();
        assert!(out.status.success(), "ip link show {dev}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v[0]["stats64"]["rx"]["packets"].as_u64().unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().unwrap();
    assert!(status.success(), "ip {args:?}");
}

/// One worker's router for an uplink `wan` and one subscriber `sub1`.
/// `count` workers' routers of a NAT with one subscriber.
fn routers(count: u16) -> Vec<Router> {
    let config = Config::from_toml(
        r#"
        [router]
        ra = false
        [nat]
        pool = ["203.0.113.1"]
        [[subscriber]]
        name = "sub1"
        ipv4 = ["100.64.0.10"]
        "#,
    )
    .unwrap();
    Router::workers(config, 1, Instant::now(), count).unwrap()
}

fn router() -> Router {
    routers(1).remove(0)
}

fn tun(ns: &Netns, name: &str, offload: bool, addr: &str) -> Queue {
    let (mut q, _) = open_tun(name, Some(&ns.0), 1500, 1, offload).unwrap();
    ns.exec(&["ip", "addr", "add", addr, "dev", name]);
    ns.exec(&["ip", "link", "set", name, "up"]);
    q.remove(0)
}

/// A worker of [`router`] on `devices`, after three rounds of its loop (its
/// heartbeat counts them).
fn three_rounds(devices: Arc<Devices>) -> Worker {
    three_rounds_with(devices, true)
}

/// [`three_rounds`], with io_uring or as where it is missing.
fn three_rounds_with(devices: Arc<Devices>, batched: bool) -> Worker {
    let (mailbox, doorbell, _requests) = mailbox().unwrap();
    let mut worker = Worker::new(router(), mailbox, vec![doorbell], devices);
    if !batched {
        worker.batch = None;
    }
    // The expiry wheel walks its first second now, not in round 1.
    worker.router.tick(Instant::now());
    let beat = worker.heartbeat();
    let stop = || beat.load(Ordering::Relaxed) >= 3;
    worker.run_until(&stop).unwrap();
    worker
}

/// Two workers of [`routers`], the second owning what the first hands it,
/// and their devices (none: the handed packets are empty, dropped
/// by the owner's router).
fn reader_and_owner() -> (Worker, Worker, Arc<Devices>) {
    let mut routers = routers(2);
    let (owner, reader) = (routers.remove(1), routers.remove(0));
    let devices = Arc::new(Devices::of_queues(Vec::new(), Vec::new()));
    let (reader_box, reader_bell, _) = mailbox().unwrap();
    let (owner_box, owner_bell, _) = mailbox().unwrap();
    let bells = vec![reader_bell, owner_bell];
    let reader = Worker::new(reader, reader_box, bells.clone(), Arc::clone(&devices));
    let owner = Worker::new(owner, owner_box, bells, Arc::clone(&devices));
    (reader, owner, devices)
}

/// `rounds` rounds of the reader handing `each` packets to the owner, which
/// then takes what its channel holds; the two workers after.
fn hand_rounds(rounds: usize, each: usize) -> (Worker, Worker) {
    let (mut reader, mut owner, devices) = reader_and_owner();
    let mut buf = PacketBuf::new();
    for _ in 0..rounds {
        for _ in 0..each {
            reader.hand_off(1, &mut buf, How::Steered(Direction::Inbound));
        }
        owner.mail(&devices, false);
    }
    assert_eq!(owner.router.snapshot().datapath.packets_read, 0);
    (reader, owner)
}

/// The buffers the reader and the owner of [`hand_rounds`] made.
fn made(rounds: usize, each: usize) -> (u64, u64) {
    let (reader, owner) = hand_rounds(rounds, each);
    (reader.buffers_made, owner.buffers_made)
}

/// Law: the buffers of packets handed to another worker come back to the
/// worker that read them, so a steady one-way stream of hand-offs (a range's
/// TUN queue read by a worker that does not own its subscribers) makes new
/// buffers only until the owner's spares are full and the first come back:
/// [`POOL`] + [`BURST`] for 50 bursts, not one per packet (3200).
#[test]
fn handed_off_buffers_come_back_to_the_worker_that_read_them() {
    assert_eq!(made(50, BURST), ((POOL + BURST) as u64, 0));
}

/// Law: with the owner overloaded (its channel full, the hand-offs beyond
/// refused) and then draining, every buffer in flight comes back, so the
/// reader makes the channel's worth, the owner's spares and the one it
/// holds while the channel is full — once, not again each time the channel
/// fills (a return path of only [`POOL`] made 768 more per round).
#[test]
fn buffers_in_flight_to_an_overloaded_worker_all_come_back() {
    let made = made(6, HANDOFF_CAPACITY + BURST);
    assert_eq!(made, ((HANDOFF_CAPACITY + POOL + 1) as u64, 0));
}

/// Law: a worker about to sleep keeps [`POOL`] spares and as many as it has
/// in flight to the others, and frees the rest of what a peak put in
/// flight; its pool then serves as before.
#[test]
fn a_worker_about_to_sleep_keeps_the_pool_and_what_is_in_flight() {
    let (mut reader, _owner) = hand_rounds(2, HANDOFF_CAPACITY + BURST);
    let made = reader.buffers_made;
    let mut buf = PacketBuf::new();
    for _ in 0..100 {
        reader.hand_off(1, &mut buf, How::Steered(Direction::Inbound));
    }
    reader.trim_spares();
    assert_eq!(reader.pool.len(), POOL + 100);
    let _ = reader.spare();
    assert_eq!((reader.pool.len(), reader.buffers_made), (POOL + 99, made));
}

#[test]
fn a_burst_is_read_per_wake_up() {
    if !can_run("a_burst_is_read_per_wake_up") {
        return;
    }
    let ns = Netns::new("b");
    let wan = tun(&ns, "sfiow", true, "10.99.0.1/24");
    let sub = tun(&ns, "sfios", true, "10.98.0.1/24");
    assert!(wan.offload, "the kernel takes offload on this TUN");
    let devices = Arc::new(Devices::of_queues(vec![wan], vec![sub]));
    // 100 datagrams wait in the uplink's queue: more than one burst.
    in_netns(&ns.0, || {
        let s = UdpSocket::bind("10.99.0.1:0")?;
        for i in 0..100u8 {
            s.send_to(&[i; 32], "10.99.0.2:9")?;
        }
        Ok(())
    })
    .unwrap();
    let worker = three_rounds(devices);
    let d = worker.router.snapshot().datapath;
    // Round 1 waits once and reads a full burst; round 2 only looks (a burst
    // stopped at BURST) and reads the rest; round 3 waits again, for nothing.
    // (A round may also only look because the expiry wheel has a new second to
    // walk: then fewer waits, never more. A loop that waits in every round
    // makes three.)
    assert_eq!(d.packets_read, 100);
    assert!((1..=2).contains(&d.wakeups), "{d:?}");
    assert_eq!(worker.router.snapshot().drops[DropReason::Malformed], 0);
    // With io_uring, round 1's burst is read in calls of 2, 4, 8, 16, 32
    // and the 2 left to 64 reads, round 2's in one call of 64 that brings
    // 36: 7 calls. A read per packet makes 101 (100 and the empty one).
    assert!(worker.batch.is_some(), "io_uring is there on this kernel");
    assert_eq!(d.io_calls, 7, "{d:?}");
}

/// A namespace `tag` with the uplink TUN and subscriber sub1's, where sub1
/// (100.64.0.10) has sent `n` UDP datagrams to 198.51.100.9:9 that wait in
/// its TUN's queue.
fn subscriber_sends(tag: &str, n: u8) -> (Netns, Arc<Devices>) {
    let ns = Netns::new(tag);
    let wan = tun(&ns, "sfiow", true, "10.99.0.1/24");
    let sub = tun(&ns, "sfios", true, "10.98.0.1/24");
    let devices = Arc::new(Devices::of_queues(vec![wan], vec![sub]));
    ns.exec(&["ip", "addr", "add", "100.64.0.10/32", "dev", "lo"]);
    ns.exec(&["ip", "route", "add", "198.51.100.0/24", "dev", "sfios"]);
    in_netns(&ns.0, || {
        let s = UdpSocket::bind("100.64.0.10:4000")?;
        for i in 0..n {
            s.send_to(&[i; 32], "198.51.100.9:9")?;
        }
        Ok(())
    })
    .unwrap();
    (ns, devices)
}

#[test]
fn without_io_uring_the_loop_moves_a_packet_per_call() {
    if !can_run("without_io_uring_the_loop_moves_a_packet_per_call") {
        return;
    }
    let (ns, devices) = subscriber_sends("p", 10);
    let wan0 = ns.rx_packets("sfiow");
    let worker = three_rounds_with(devices, false);
    let s = worker.router.snapshot();
    // The same packets through the NAT, in 10 reads, the one that found the
    // queue empty and 10 writes: what the loop does where io_uring is not.
    assert_eq!(s.datapath.packets_read, 10);
    assert_eq!(ns.rx_packets("sfiow") - wan0, 10);
    assert_eq!(s.datapath.io_calls, 21, "{:?}", s.datapath);
}

#[test]
fn a_burst_is_written_in_one_call() {
    if !can_run("a_burst_is_written_in_one_call") {
        return;
    }
    // The subscriber's 64 datagrams to a remote host wait in its TUN's queue.
    let (ns, devices) = subscriber_sends("w", 64);
    let wan0 = ns.rx_packets("sfiow");
    let worker = three_rounds(devices);
    let s = worker.router.snapshot();
    // Every datagram went out through the NAT, in order, each one skb...
    assert_eq!(s.datapath.packets_read, 64);
    assert_eq!(ns.rx_packets("sfiow") - wan0, 64);
    assert_eq!(s.drops[DropReason::TunQueueFull], 0);
    assert_eq!(s.drops[DropReason::TunWriteFailed], 0);
    // ... read in 6 calls (2, 4, 8, 16, 32, 2) and written in one per read
    // call (flushed after each call's packets are routed): 12, where a call
    // per packet makes 64 reads, the empty one and 64 writes.
    assert!(worker.batch.is_some(), "io_uring is there on this kernel");
    assert_eq!(s.datapath.io_calls, 12, "{:?}", s.datapath);
}

/// A TCP super-packet 10.99.0.2:40000 → `dst`:9 of three 1000-byte segments,
/// its checksum partial (the pseudo-header sum, as `NEEDS_CSUM` says).
fn tcp_super(dst: [u8; 4]) -> PacketBuf {
    let payload = [0x5a; 3000];
    let mut p = Vec::new();
    etherparse::PacketBuilder::ipv4([10, 99, 0, 2], dst, 64)
        .tcp(40000, 9, 1, 65535)
        .ack(1)
        .write(&mut p, &payload)
        .unwrap();
    let sum =
        sixfold_checksum::pseudo::ipv4([10, 99, 0, 2].into(), dst.into(), 6, (p.len() - 20) as u16);
    p[36..38].copy_from_slice(&sum.to_be_bytes());
    let mut buf = PacketBuf::from_packet(&p);
    buf.set_offload(Offload {
        gso: Gso::TcpV4,
        ecn: false,
        gso_size: 1000,
        partial: Some((20, 16)),
    });
    buf
}

#[test]
fn a_super_packet_is_written_whole_where_the_tun_takes_offload() {
    if !can_run("a_super_packet_is_written_whole_where_the_tun_takes_offload") {
        return;
    }
    let ns = Netns::new("s");
    let wan = tun(&ns, "sfiow", true, "10.99.0.1/24");
    let sub = tun(&ns, "sfios", false, "10.98.0.1/24");
    assert!(wan.offload && !sub.offload);
    let devices = Devices::of_queues(vec![wan], vec![sub]);
    let mut r = router();
    let shard = r.shard();
    let (wan0, sub0) = (ns.rx_packets("sfiow"), ns.rx_packets("sfios"));
    send(
        &devices,
        shard,
        Interface::Wan,
        &mut tcp_super([10, 99, 0, 1]),
        &mut r,
    );
    let to_sub = Interface::Subscriber(0);
    send(
        &devices,
        shard,
        to_sub,
        &mut tcp_super([10, 98, 0, 1]),
        &mut r,
    );
    let s = r.snapshot();
    assert_eq!(s.drops[DropReason::TunWriteFailed], 0);
    assert_eq!(s.drops[DropReason::TunQueueFull], 0);
    // One write of one skb where the TUN takes offload; three where it does not.
    assert_eq!(ns.rx_packets("sfiow") - wan0, 1);
    assert_eq!(ns.rx_packets("sfios") - sub0, 3);
    assert_eq!(s.datapath.super_packets_whole, 1);
    assert_eq!(s.datapath.super_packets_segmented, 1);
}

#[test]
fn batched_reads_grow_for_small_packets_and_stay_few_for_super_packets() {
    // 60-byte datagrams: doubling while calls come back full, to a burst.
    assert_eq!(next_want(2, 2, 2, 120), 4);
    assert_eq!(next_want(32, 32, 32, 32 * 60), 64);
    assert_eq!(next_want(64, 64, 64, 64 * 60), BURST);
    // A short call: twice what it brought, never fewer than 2.
    assert_eq!(next_want(64, 64, 5, 5 * 60), 10);
    assert_eq!(next_want(8, 8, 0, 0), 2);
    // 64 KiB super-packets: 256 KiB a call, 4 of them, however full.
    assert_eq!(next_want(4, 4, 4, 4 * 65_535), 4);
    assert_eq!(next_want(64, 64, 64, 64 * 65_535), 4);
    // 1500-byte packets: 256 KiB is 174 of them, so a burst.
    assert_eq!(next_want(64, 64, 64, 64 * 1500), BURST);
}
