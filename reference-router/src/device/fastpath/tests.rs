//! The program in the kernel, run by `BPF_PROG_TEST_RUN` (root; scripts/test.sh
//! runs these under the e2e lock), through both hooks — every case runs the XDP
//! program and the TC one, which must agree byte for byte: the verifier accepts
//! them; every packet that
//! tempts it is passed on unchanged, byte for byte, with the reason counted;
//! a packet of an installed flow comes out exactly as built independently
//! (etherparse writes the expected frame and its checksums from scratch; the
//! checksums are verified again with internet-checksum).
//!
//! The route lookup needs routes and a neighbour: each test builds a network
//! namespace `sfp-<pid>-<n>` with a veth pair — `fpin` (02:..:0a, the flow's
//! ingress and the "TUN" the route lookup starts from) and `fpout` (02:..:0b,
//! the egress towards 192.0.2.80 / 2001:db8:ffff::80, whose MAC is 02:..:80).

use super::maps::{Flow4, Flow6, Path, counter};
use super::{FastPath, Gso, verdicts};
use crate::config::FastPathHook;
use crate::device::in_netns;
use etherparse::PacketBuilder;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

const IN_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x0a];
const OUT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x0b];
const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x80];
const SUB: [u8; 4] = [100, 64, 1, 2];
const PUBLIC: [u8; 4] = [203, 0, 113, 5];
const SERVER: [u8; 4] = [192, 0, 2, 80];
const SUB6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2];
const SERVER6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
];

fn ip(netns: &str, args: &str) {
    let out = Command::new("ip")
        .args(["-n", netns])
        .args(args.split_whitespace())
        .output()
        .expect("ip(8)");
    assert!(
        out.status.success(),
        "ip -n {netns} {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every case runs through both hooks.
const HOOKS: [FastPathHook; 2] = [FastPathHook::Xdp, FastPathHook::Tc];

/// The namespace with its veth pair and the loaded program; removed on drop.
struct Bench {
    netns: String,
    fp: FastPath,
    hook: FastPathHook,
    fpin: u32,
    fpout: u32,
    /// The hook's verdicts for a packet passed on and one forwarded.
    pass: u32,
    redirect: u32,
}

impl Bench {
    fn new(hook: FastPathHook) -> Bench {
        static N: AtomicU32 = AtomicU32::new(0);
        let netns = format!(
            "sfp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let status = Command::new("ip").args(["netns", "add", &netns]).status();
        assert!(
            status.expect("ip(8)").success(),
            "ip netns add {netns} (root?)"
        );
        ip(
            &netns,
            "link add fpin address 02:00:00:00:00:0a type veth peer name fpout address 02:00:00:00:00:0b",
        );
        for cmd in [
            "link set fpin up",
            "link set fpout up",
            "link set fpout mtu 1400",
            "addr add 192.0.2.1/24 dev fpout",
            "-6 addr add 2001:db8:ffff::1/64 dev fpout nodad",
            "neigh add 192.0.2.80 lladdr 02:00:00:00:00:80 dev fpout nud permanent",
            "-6 neigh add 2001:db8:ffff::80 lladdr 02:00:00:00:00:80 dev fpout nud permanent",
        ] {
            ip(&netns, cmd);
        }
        for sysctl in ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"] {
            let ok = Command::new("ip")
                .args(["netns", "exec", &netns, "sysctl", "-qw", sysctl])
                .status()
                .expect("sysctl");
            assert!(ok.success(), "sysctl {sysctl} in {netns}");
        }
        let mut fp = FastPath::load(1024, hook).expect("the verifier accepts the program");
        let (fpin, fpout) = in_netns(&netns, || {
            Ok((
                nix::net::if_::if_nametoindex("fpin")?,
                nix::net::if_::if_nametoindex("fpout")?,
            ))
        })
        .unwrap();
        fp.set_egress([fpin, fpout]).unwrap();
        let (pass, redirect) = verdicts(hook);
        Bench {
            netns,
            fp,
            hook,
            fpin,
            fpout,
            pass,
            redirect,
        }
    }

    fn path(&self) -> Path {
        Path {
            in_ifindex: self.fpin,
            fib_ifindex: self.fpin,
        }
    }

    fn run(&self, frame: &[u8]) -> (u32, Vec<u8>) {
        self.run_on(frame, self.fpin)
    }

    fn run_on(&self, frame: &[u8], ifindex: u32) -> (u32, Vec<u8>) {
        in_netns(&self.netns, || self.fp.test_run(frame, ifindex)).unwrap()
    }

    fn run_gso(&self, frame: &[u8], gso: Gso) -> (u32, Vec<u8>) {
        in_netns(&self.netns, || self.fp.test_run_gso(frame, self.fpin, gso)).unwrap()
    }

    fn counter(&mut self, name: &str) -> u64 {
        self.fp.counters().unwrap()[counter(name)].1
    }

    /// Installs the UDP and TCP flows sub:40000 → server:53/443 (as public:1024).
    fn install_nat4(&mut self) {
        let path = self.path();
        for (protocol, dport) in [(17, 53), (6, 443)] {
            let from = flow4(protocol, SUB, 40000, SERVER, dport);
            let to = flow4(protocol, PUBLIC, 1024, SERVER, dport);
            self.fp.install4(&from, &to, path).unwrap();
        }
        let path6 = self.path();
        for protocol in [6, 17] {
            let f = flow6(protocol, SUB6, 40000, SERVER6, 443);
            self.fp.install6(&f, path6).unwrap();
        }
    }

    /// Asserts `frame` passes unchanged and is counted under `reason`.
    fn assert_passes(&mut self, frame: &[u8], reason: &str) {
        let hook = self.hook;
        let before = self.counter(reason);
        let (verdict, out) = self.run(frame);
        assert_eq!(verdict, self.pass, "{hook:?} {reason}: verdict");
        assert_eq!(
            out, frame,
            "{hook:?} {reason}: the frame must pass unchanged"
        );
        assert_eq!(
            self.counter(reason),
            before + 1,
            "{hook:?} {reason}: counted"
        );
    }
}

impl Bench {
    /// A frame whose IP header is cut short: XDP passes it as truncated. The
    /// kernel does not build a test skb from it (`BPF_PROG_TEST_RUN` refuses
    /// an IPv4/IPv6 frame shorter than the fixed IP header with EINVAL), so
    /// the TC program's handling of it — the same code — runs only through
    /// XDP here.
    fn assert_passes_runt(&mut self, frame: &[u8]) {
        match self.hook {
            FastPathHook::Xdp => self.assert_passes(frame, "pass_truncated"),
            FastPathHook::Tc => assert!(
                in_netns(&self.netns, || self.fp.test_run(frame, self.fpin)).is_err(),
                "the kernel now runs TC on a {}-byte frame: assert it passes",
                frame.len()
            ),
        }
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

fn flow4(protocol: u8, src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Flow4 {
    Flow4 {
        protocol,
        src: std::net::SocketAddrV4::new(src.into(), sport),
        dst: std::net::SocketAddrV4::new(dst.into(), dport),
    }
}

fn flow6(protocol: u8, src: [u8; 16], sport: u16, dst: [u8; 16], dport: u16) -> Flow6 {
    Flow6 {
        protocol,
        src: std::net::SocketAddrV6::new(src.into(), sport, 0, 0),
        dst: std::net::SocketAddrV6::new(dst.into(), dport, 0, 0),
    }
}

fn udp4(src: [u8; 4], sport: u16, ttl: u8, macs: ([u8; 6], [u8; 6]), payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(src, SERVER, ttl)
        .udp(sport, 53)
        .write(&mut frame, payload)
        .unwrap();
    frame
}

fn tcp4(src: [u8; 4], sport: u16, ttl: u8, macs: ([u8; 6], [u8; 6]), payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(src, SERVER, ttl)
        .tcp(sport, 443, 0x0102_0304, 512)
        .ack(0x0a0b_0c0d)
        .psh()
        .write(&mut frame, payload)
        .unwrap();
    frame
}

fn ingress() -> ([u8; 6], [u8; 6]) {
    ([2, 0, 0, 0, 0, 0x01], IN_MAC)
}

fn egress() -> ([u8; 6], [u8; 6]) {
    (OUT_MAC, PEER_MAC)
}

/// The IPv4 header checksum of `frame`'s packet, written anew (after a test
/// changed a header field to tempt the program).
fn fix_ipv4_checksum(frame: &mut [u8]) {
    frame[24..26].copy_from_slice(&[0, 0]);
    let sum = internet_checksum::checksum(&frame[14..34]);
    frame[24..26].copy_from_slice(&sum);
}

/// Checks the IPv4 header and L4 checksums of `frame` from scratch.
fn assert_checksums_valid(frame: &[u8]) {
    assert_eq!(
        internet_checksum::checksum(&frame[14..34]),
        [0, 0],
        "IPv4 header checksum"
    );
    assert_eq!(l4_residue(frame), [0, 0], "L4 checksum");
}

#[test]
fn the_verifier_accepts_the_program_and_an_empty_map_passes_everything() {
    for hook in HOOKS {
        let mut b = Bench::new(hook);
        let frame = udp4(SUB, 40000, 64, ingress(), b"query");
        b.assert_passes(&frame, "pass_miss");
        let frame = tcp4(SUB, 40000, 64, ingress(), b"data");
        b.assert_passes(&frame, "pass_miss");
    }
}

#[test]
fn an_installed_udp_flow_is_translated_to_the_exact_bytes() {
    for hook in HOOKS {
        let mut b = Bench::new(hook);
        b.install_nat4();
        let payload = b"sixfold fast path";
        let (verdict, out) = b.run(&udp4(SUB, 40000, 64, ingress(), payload));
        assert_eq!(verdict, b.redirect, "{hook:?}");
        assert_eq!(out, udp4(PUBLIC, 1024, 63, egress(), payload), "{hook:?}");
        assert_checksums_valid(&out);
        let counts =
            b.fp.counts4(&flow4(17, SUB, 40000, SERVER, 53))
                .unwrap()
                .unwrap();
        assert_eq!(
            (counts.packets, counts.bytes),
            (1, 20 + 8 + payload.len() as u64)
        );
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
        let now_ns = now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64;
        assert!(counts.last_seen_ns > 0 && counts.last_seen_ns <= now_ns);
        assert_eq!(b.counter("forwarded_ipv4"), 1);
    }
}

#[test]
fn an_installed_tcp_flow_is_translated_to_the_exact_bytes() {
    for hook in HOOKS {
        let mut b = Bench::new(hook);
        b.install_nat4();
        for payload in [&b""[..], b"x", b"GET / HTTP/1.1\r\n\r\n"] {
            let (verdict, out) = b.run(&tcp4(SUB, 40000, 2, ingress(), payload));
            assert_eq!(verdict, b.redirect, "{hook:?}");
            assert_eq!(out, tcp4(PUBLIC, 1024, 1, egress(), payload), "{hook:?}");
            assert_checksums_valid(&out);
        }
        let counts =
            b.fp.counts4(&flow4(6, SUB, 40000, SERVER, 443))
                .unwrap()
                .unwrap();
        assert_eq!(counts.packets, 3);
    }
}

#[test]
fn a_udp_checksum_of_zero_stays_zero() {
    for hook in HOOKS {
        let mut b = Bench::new(hook);
        b.install_nat4();
        let mut frame = udp4(SUB, 40000, 64, ingress(), b"no checksum");
        frame[40..42].copy_from_slice(&[0, 0]);
        let (verdict, out) = b.run(&frame);
        assert_eq!(verdict, b.redirect, "{hook:?}");
        let mut expected = udp4(PUBLIC, 1024, 63, egress(), b"no checksum");
        expected[40..42].copy_from_slice(&[0, 0]);
        assert_eq!(out, expected, "{hook:?}");
    }
}

#[test]
fn an_inbound_flow_is_translated_back() {
    for hook in HOOKS {
        let mut b = Bench::new(hook);
        // server:53 -> public:1024 becomes server:53 -> sub:40000.
        let from = flow4(17, SERVER, 53, PUBLIC, 1024);
        let to = flow4(17, SERVER, 53, SUB, 40000);
        let path = b.path();
        b.fp.install4(&from, &to, path).unwrap();
        // The route to the subscriber: via fpout as well, for the test.
        ip(&b.netns, "route add 100.64.1.0/24 via 192.0.2.80");
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], IN_MAC)
            .ipv4(SERVER, PUBLIC, 50)
            .udp(53, 1024)
            .write(&mut frame, b"answer")
            .unwrap();
        let (verdict, out) = b.run(&frame);
        assert_eq!(verdict, b.redirect, "{hook:?}");
        let mut expected = Vec::new();
        PacketBuilder::ethernet2(OUT_MAC, PEER_MAC)
            .ipv4(SERVER, SUB, 49)
            .udp(53, 40000)
            .write(&mut expected, b"answer")
            .unwrap();
        assert_eq!(out, expected, "{hook:?}");
        assert_checksums_valid(&out);
    }
}

#[test]
fn an_installed_ipv6_flow_is_forwarded_with_the_hop_limit_decremented() {
    for hook in HOOKS {
        let mut b = Bench::new(hook);
        b.install_nat4();
        let build = |hops: u8, macs: ([u8; 6], [u8; 6])| {
            let mut frame = Vec::new();
            PacketBuilder::ethernet2(macs.0, macs.1)
                .ipv6(SUB6, SERVER6, hops)
                .tcp(40000, 443, 7, 100)
                .ack(9)
                .write(&mut frame, b"v6 data")
                .unwrap();
            frame
        };
        let (verdict, out) = b.run(&build(64, ingress()));
        assert_eq!(verdict, b.redirect, "{hook:?}");
        assert_eq!(out, build(63, egress()), "{hook:?}");
        assert_eq!(b.counter("forwarded_ipv6"), 1);
        b.assert_passes(&build(1, ingress()), "pass_ttl");
    }
}

#[test]
fn packets_that_tempt_the_program_pass_unchanged() {
    for hook in HOOKS {
        let mut b = Bench::new(hook);
        b.install_nat4();
        let good = udp4(SUB, 40000, 64, ingress(), b"payload!");

        // Truncated: inside the IPv4 header, inside the UDP header, and a total
        // length beyond the frame.
        b.assert_passes_runt(&good[..14 + 12]);
        b.assert_passes(&good[..14 + 20 + 4], "pass_truncated");
        let mut long = good.clone();
        long[16..18].copy_from_slice(&200u16.to_be_bytes());
        fix_ipv4_checksum(&mut long);
        b.assert_passes(&long, "pass_truncated");
        // An Ethernet header and nothing after it (BPF_PROG_TEST_RUN refuses
        // frames shorter than one, as no driver delivers them).
        b.assert_passes_runt(&good[..14]);

        // IHL 6: a 4-byte option (four NOPs) before the UDP header.
        let mut options = good[..34].to_vec();
        options.extend_from_slice(&[1, 1, 1, 1]);
        options.extend_from_slice(&good[34..]);
        options[14] = 0x46;
        let total = u16::from_be_bytes([options[16], options[17]]) + 4;
        options[16..18].copy_from_slice(&total.to_be_bytes());
        options[24..26].copy_from_slice(&[0, 0]);
        let sum = internet_checksum::checksum(&options[14..38]);
        options[24..26].copy_from_slice(&sum);
        b.assert_passes(&options, "pass_ip_options");

        // Fragments: more-fragments set; a non-zero offset.
        for flags in [0x20u8, 0x00] {
            let mut frag = good.clone();
            frag[20] = flags;
            frag[21] = if flags == 0 { 3 } else { 0 };
            fix_ipv4_checksum(&mut frag);
            b.assert_passes(&frag, "pass_fragment");
        }

        // TTL 1 and 0: the slow path answers with ICMP time exceeded.
        b.assert_passes(&udp4(SUB, 40000, 1, ingress(), b"x"), "pass_ttl");
        b.assert_passes(&udp4(SUB, 40000, 0, ingress(), b"x"), "pass_ttl");

        // A wrong IPv4 header checksum.
        let mut bad = good.clone();
        bad[24] ^= 0x55;
        b.assert_passes(&bad, "pass_bad_checksum");

        // SYN, FIN, RST of an installed TCP flow.
        for flag in [0x02u8, 0x01, 0x04] {
            let mut t = tcp4(SUB, 40000, 64, ingress(), b"");
            t[47] |= flag;
            let mut c = internet_checksum::Checksum::new();
            t[50..52].copy_from_slice(&[0, 0]);
            c.add_bytes(&t[26..34]);
            c.add_bytes(&[0, 6, 0, 20]);
            c.add_bytes(&t[34..54]);
            let sum = c.checksum();
            t[50..52].copy_from_slice(&sum);
            b.assert_passes(&t, "pass_tcp_flags");
        }

        // ICMP, and a packet from the flow's source on the wrong interface.
        let mut ping = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], IN_MAC)
            .ipv4(SUB, SERVER, 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut ping, b"ping")
            .unwrap();
        b.assert_passes(&ping, "pass_protocol");
        let before = b.counter("pass_wrong_interface");
        let (verdict, out) = b.run_on(&good, b.fpout);
        assert_eq!((verdict, out), (b.pass, good.clone()), "{hook:?}");
        assert_eq!(b.counter("pass_wrong_interface"), before + 1);

        // Larger than fpout's MTU (1400): the slow path fragments or refuses.
        let big = udp4(SUB, 40000, 64, ingress(), &[7u8; 1400]);
        b.assert_passes(&big, "pass_mtu");

        // ARP and a VLAN tag.
        let mut arp = good[..14].to_vec();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0u8; 28]);
        b.assert_passes(&arp, "pass_not_ip");
        let mut vlan = good[..12].to_vec();
        vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
        vlan.extend_from_slice(&good[12..]);
        b.assert_passes(&vlan, "pass_not_ip");

        // Nothing of the above reached a flow's counters.
        let counts =
            b.fp.counts4(&flow4(17, SUB, 40000, SERVER, 53))
                .unwrap()
                .unwrap();
        assert_eq!(counts.packets, 0);
    }
}

#[test]
fn ipv6_extension_headers_pass_unchanged() {
    for hook in HOOKS {
        let mut b = Bench::new(hook);
        b.install_nat4();
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], IN_MAC)
            .ipv6(SUB6, SERVER6, 64)
            .udp(40000, 443)
            .write(&mut frame, b"v6")
            .unwrap();
        // Hop-by-hop (0), destination options (60), fragment (44): an 8-byte
        // extension header before the UDP header.
        for next in [0u8, 60, 44] {
            let mut ext = frame[..54].to_vec();
            ext[20] = next;
            ext.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
            ext.extend_from_slice(&frame[54..]);
            let payload = u16::from_be_bytes([ext[18], ext[19]]) + 8;
            ext[18..20].copy_from_slice(&payload.to_be_bytes());
            b.assert_passes(&ext, "pass_extension_header");
        }
        // Truncated: the fixed header cut short, and a payload length beyond it.
        b.assert_passes_runt(&frame[..14 + 30]);
        let mut long = frame.clone();
        long[18..20].copy_from_slice(&400u16.to_be_bytes());
        b.assert_passes(&long, "pass_truncated");
        // The installed flow itself goes through.
        assert_eq!(b.run(&frame).0, b.redirect, "{hook:?}");
    }
}

/// The sum that verifies `frame`'s L4 checksum: [0, 0] when it is right.
fn l4_residue(frame: &[u8]) -> [u8; 2] {
    let total = u16::from_be_bytes([frame[16], frame[17]]) as usize;
    let l4 = &frame[34..14 + total];
    let mut c = internet_checksum::Checksum::new();
    c.add_bytes(&frame[26..34]);
    c.add_bytes(&[0, frame[23]]);
    c.add_bytes(&(l4.len() as u16).to_be_bytes());
    c.add_bytes(l4);
    c.checksum()
}

#[test]
fn a_wrong_l4_checksum_stays_exactly_as_wrong() {
    // The slow path does not verify TCP/UDP checksums either: it updates
    // them incrementally, so the receiver sees the sender's error and drops
    // the packet. The fast path does the same: the error survives unchanged.
    for hook in HOOKS {
        let mut b = Bench::new(hook);
        b.install_nat4();
        let mut frame = udp4(SUB, 40000, 64, ingress(), b"corrupted");
        frame[40] ^= 0x21;
        let residue = l4_residue(&frame);
        assert_ne!(residue, [0, 0]);
        let (verdict, out) = b.run(&frame);
        assert_eq!(verdict, b.redirect, "{hook:?}");
        assert_eq!(l4_residue(&out), residue);
        let expected = udp4(PUBLIC, 1024, 63, egress(), b"corrupted");
        assert_eq!(out[..40], expected[..40]);
        assert_eq!(out[42..], expected[42..]);
    }
}

#[test]
fn a_gso_super_packet_takes_tc_whole_when_its_segments_fit_the_mtu() {
    // What TC is for: a TCP super-packet of 2 x 1000 payload bytes (2040 IP
    // bytes, beyond fpout's MTU of 1400) is translated once and redirected
    // whole — the egress cuts it into 1040-byte segments — and counted as
    // the two packets and 2 x 1040 IP bytes that leave on the wire. The same
    // bytes as one packet, or with segments that would not fit, pass.
    // (BPF_PROG_TEST_RUN cannot mark a checksum CHECKSUM_PARTIAL: that case
    // runs end to end in cli/tests/fastpath_tc_e2e.rs.)
    let mut b = Bench::new(FastPathHook::Tc);
    b.install_nat4();
    let payload = [0x5au8; 2000];
    let frame = tcp4(SUB, 40000, 64, ingress(), &payload);
    let (verdict, out) = b.run_gso(
        &frame,
        Gso {
            size: 1000,
            segs: 2,
        },
    );
    assert_eq!(verdict, b.redirect);
    assert_eq!(out, tcp4(PUBLIC, 1024, 63, egress(), &payload));
    assert_checksums_valid(&out);
    let counts =
        b.fp.counts4(&flow4(6, SUB, 40000, SERVER, 443))
            .unwrap()
            .unwrap();
    assert_eq!((counts.packets, counts.bytes), (2, 2 * 1040));

    b.assert_passes(&frame, "pass_mtu");
    let before = b.counter("pass_mtu");
    let (verdict, out) = b.run_gso(
        &frame,
        Gso {
            size: 1381,
            segs: 2,
        },
    );
    assert_eq!((verdict, out), (b.pass, frame.clone()));
    assert_eq!(b.counter("pass_mtu"), before + 1);
    // 1360 + 40 = 1400: exactly the MTU.
    let (verdict, _) = b.run_gso(
        &frame,
        Gso {
            size: 1360,
            segs: 2,
        },
    );
    assert_eq!(verdict, b.redirect);
}
