//! `[[subscriber_range]]`: one TUN, many subscribers told apart by source
//! address — NAT44 and EIM per address, limits per address, deterministic NAT
//! over range addresses (checked against the RFC 7422 formula written out
//! here), port blocks, the IPv6 firewall per subscriber with its announce
//! routes, two workers handing packets to the subscriber's owner, and the
//! statistics that name range subscribers.

mod common;

use common::{Lab, dst, src, udp, udp6};
use sixfold_router::{
    Config, Deterministic, Direction, DropReason, Interface, PacketBuf, RouteChange, Router,
    Verdict,
};
use std::net::Ipv4Addr;
use std::time::Instant;

const WAN_A: &str = "198.51.100.1";
const WAN_B: &str = "198.51.100.2";
/// Range subscribers 1 and 2 of range "inside" (ids 2 and 3: one
/// `[[subscriber]]` comes first).
const A: &str = "100.64.0.1";
const B: &str = "100.64.0.2";
const A_ID: u32 = 2;
const B_ID: u32 = 3;
const A6: &str = "2001:db8:1:100::5";
const B6: &str = "2001:db8:1:200::5";
const REMOTE6: &str = "2001:db8:ff::1";

fn config(nat: &str) -> Config {
    Config::from_toml(&format!(
        "[router]\nra = false\n[nat]\npool = [\"203.0.113.1\", \"203.0.113.2\", \"203.0.113.3\", \"203.0.113.4\"]\n{nat}\n\
         [[subscriber]]\nname = \"sub1\"\nipv4 = [\"100.65.0.10\"]\n\
         [[subscriber_range]]\nname = \"inside\"\nipv4 = \"100.64.0.0/24\"\nipv6 = \"2001:db8:1::/48\"\n\
         ipv6_length = 56\nannounce = true\n"
    ))
    .unwrap()
}

/// A packet read from the range's TUN, classified and processed.
fn from_range(lab: &mut Lab, packet: &[u8]) -> (Verdict, Vec<u8>) {
    let sub = lab.router.classify_range(0, packet).unwrap();
    lab.out(sub, packet)
}

#[test]
fn nat44_for_two_range_subscribers_with_eim_and_replies_to_the_range() {
    let mut lab = Lab::with(config(""));
    let (v, a1) = from_range(&mut lab, &udp(A, 5000, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    let (_, a2) = from_range(&mut lab, &udp(A, 5000, WAN_B, 53, b"q"));
    // EIM (RFC 4787 REQ-1): one external endpoint for both destinations.
    assert_eq!(src(&a1), src(&a2));
    let (_, b1) = from_range(&mut lab, &udp(B, 5000, WAN_A, 53, b"q"));
    assert_ne!(src(&a1), src(&b1));
    // Paired pooling: every flow of A leaves from one address.
    for port in 6000..6020 {
        let (_, p) = from_range(&mut lab, &udp(A, port, WAN_A, 80, b"q"));
        assert_eq!(src(&p).ip(), src(&a1).ip());
    }
    // Replies go to the range's subscriber, the right address.
    let e = src(&a1);
    let (v, back) = lab.inb(&udp(WAN_B, 53, &e.ip().to_string(), e.port(), b"r"));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(A_ID)));
    assert_eq!(dst(&back), common::sa("100.64.0.1:5000"));
    assert_eq!(lab.router.range_of(A_ID), Some(0));
    assert_eq!(lab.router.range_of(0), None);
    assert_eq!(lab.router.range_of(257), None);
    let e = src(&b1);
    let (v, back) = lab.inb(&udp(WAN_A, 53, &e.ip().to_string(), e.port(), b"r"));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(B_ID)));
    assert_eq!(dst(&back), common::sa("100.64.0.2:5000"));
    // The statistics name them by address, and only them of the 256.
    let s = lab.router.snapshot();
    let names: Vec<&str> = s.subscribers.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["sub1", "inside/100.64.0.1", "inside/100.64.0.2"]);
    let a = &s.subscribers[1];
    assert_eq!(
        (a.sessions, a.ports.udp, a.public_ipv4),
        (22, 21, Some(*src(&a1).ip()))
    );
    assert_eq!(
        (a.traffic.ipv4_out.packets, a.traffic.ipv4_in.packets),
        (22, 1)
    );
    let b = &s.subscribers[2];
    assert_eq!(
        (
            b.sessions,
            b.traffic.ipv4_out.packets,
            b.traffic.ipv4_in.packets
        ),
        (1, 1, 1)
    );
}

#[test]
fn the_session_limit_is_per_address() {
    let mut lab = Lab::with(config("sessions_per_subscriber = 3"));
    for port in 1..=3 {
        let (v, _) = from_range(&mut lab, &udp(A, port, WAN_A, 53, b"q"));
        assert_eq!(v, Verdict::Forward(Interface::Wan));
    }
    // Refused with ICMP 3/13 to the subscriber, counted.
    let (v, _) = from_range(&mut lab, &udp(A, 4, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(A_ID)));
    for port in 1..=3 {
        let (v, _) = from_range(&mut lab, &udp(B, port, WAN_A, 53, b"q"));
        assert_eq!(v, Verdict::Forward(Interface::Wan));
    }
    let (v, _) = from_range(&mut lab, &udp(B, 4, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(B_ID)));
    assert_eq!(
        lab.router.snapshot().drops[DropReason::SubscriberSessionLimit],
        2
    );
}

#[test]
fn sources_outside_the_range_are_spoofed_and_counted() {
    let mut lab = Lab::with(config(""));
    let r = &mut lab.router;
    for outside in ["100.63.255.255", "100.64.1.0", "100.65.0.10"] {
        let p = udp(outside, 1, WAN_A, 53, b"q");
        assert_eq!(
            r.classify_range(0, &p),
            Err(DropReason::Spoofed),
            "{outside}"
        );
    }
    assert_eq!(
        r.classify_range(0, &udp("100.64.0.0", 1, WAN_A, 53, b"q")),
        Ok(1)
    );
    assert_eq!(
        r.classify_range(0, &udp("100.64.0.255", 1, WAN_A, 53, b"q")),
        Ok(256)
    );
    for outside in ["fe80::1", "2001:db8:2::1", "2001:db8:0:ffff::1"] {
        let p = udp6(outside, 1, REMOTE6, 53, b"q", 64);
        assert_eq!(
            r.classify_range(0, &p),
            Err(DropReason::Ipv6Spoofed),
            "{outside}"
        );
    }
    assert_eq!(r.classify_range(0, &[0x45]), Err(DropReason::Malformed));
    let s = r.snapshot();
    assert_eq!(
        (
            s.drops[DropReason::Spoofed],
            s.drops[DropReason::Ipv6Spoofed],
            s.drops[DropReason::Malformed]
        ),
        (3, 3, 1)
    );
    // A range subscriber may not send from a neighbour's address either.
    let (v, _) = lab.out(A_ID, &udp(B, 1, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Drop(DropReason::Spoofed));
}

#[test]
fn deterministic_ranges_follow_the_rfc7422_formula_after_the_subscribers() {
    // 4 [[subscriber]] addresses (numbers 0-3), then the range's 16 (4-19);
    // 4032 ports each: 16 per public address.
    let c = Config::from_toml(
        "[router]\nra = false\n[nat]\npool = [\"203.0.113.1\", \"203.0.113.2\"]\nallocation = \"deterministic\"\nblock_size = 4032\n\
         [[subscriber]]\nname = \"s\"\nipv4 = [\"100.65.0.8/30\"]\n\
         [[subscriber_range]]\nname = \"r\"\nipv4 = \"100.64.0.0/28\"\n",
    )
    .unwrap();
    let d = Deterministic::new(&c);
    let pool = [Ipv4Addr::new(203, 0, 113, 1), Ipv4Addr::new(203, 0, 113, 2)];
    let mut lab = Lab::with(c);
    for k in 0..16u32 {
        let inside = Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + k);
        let i = 4 + k;
        let public = pool[(i / 16) as usize];
        let first = 1024 + (i % 16) * 4032;
        let r = d.range_of(inside).unwrap();
        assert_eq!(
            (
                r.public,
                u32::from(r.first),
                u32::from(r.last),
                r.subscriber
            ),
            (public, first, first + 4031, 1 + k),
            "{inside}"
        );
        let owner = d.owner_of(public, (first + 100) as u16).unwrap();
        assert_eq!((owner.inside, owner.subscriber), (inside, 1 + k));
        // The router's mapping falls in that range.
        let (v, out) = from_range(&mut lab, &udp(&inside.to_string(), 7000, WAN_A, 53, b"q"));
        assert_eq!(v, Verdict::Forward(Interface::Wan));
        let e = src(&out);
        assert_eq!(*e.ip(), public);
        assert!((first..=first + 4031).contains(&u32::from(e.port())), "{e}");
    }
    assert_eq!(d.range_of(Ipv4Addr::new(100, 64, 0, 16)), None);
}

#[test]
fn port_blocks_belong_to_each_range_address() {
    let mut lab = Lab::with(config("allocation = \"block\"\nblock_size = 128"));
    let (_, a) = from_range(&mut lab, &udp(A, 1, WAN_A, 53, b"q"));
    let (_, b) = from_range(&mut lab, &udp(B, 1, WAN_A, 53, b"q"));
    let mut blocks = lab.router.port_blocks();
    blocks.sort();
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        (blocks[0].0, blocks[1].0),
        (A.parse().unwrap(), B.parse().unwrap())
    );
    assert_eq!(blocks[0].1, *src(&a).ip());
    assert!((blocks[0].2..=blocks[0].3).contains(&src(&a).port()));
    assert!((blocks[1].2..=blocks[1].3).contains(&src(&b).port()));
    let s = lab.router.snapshot();
    let blocks: Vec<(&str, u32)> = s
        .subscribers
        .iter()
        .map(|u| (u.name.as_str(), u.blocks))
        .collect();
    assert_eq!(
        blocks,
        [
            ("sub1", 0),
            ("inside/100.64.0.1", 1),
            ("inside/100.64.0.2", 1)
        ]
    );
}

#[test]
fn ipv6_firewall_state_per_subscriber_announces_its_prefix_until_the_last_flow_expires() {
    let mut lab = Lab::with(config(""));
    let prefix = "2001:db8:1:100::/56".parse().unwrap();
    assert_eq!(lab.router.poll_route_change(), None);
    let (v, _) = from_range(&mut lab, &udp6(A6, 4000, REMOTE6, 53, b"q", 64));
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    assert_eq!(
        lab.router.poll_route_change(),
        Some(RouteChange::Announce(prefix))
    );
    assert_eq!(lab.router.poll_route_change(), None);
    // A second flow changes nothing; the reply passes, to A.
    from_range(&mut lab, &udp6(A6, 4001, REMOTE6, 53, b"q", 64));
    assert_eq!(lab.router.poll_route_change(), None);
    let (v, _) = lab.inb(&udp6(REMOTE6, 53, A6, 4000, b"r", 64));
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(A_ID)));
    // B opened nothing: unsolicited traffic to it is filtered, nothing announced.
    let (v, _) = lab.inb(&udp6(REMOTE6, 53, B6, 4000, b"r", 64));
    assert_eq!(v, Verdict::Drop(DropReason::Filtered));
    assert_eq!(lab.router.poll_route_change(), None);
    let s = lab.router.snapshot();
    let flows: Vec<(&str, u32)> = s
        .subscribers
        .iter()
        .map(|u| (u.name.as_str(), u.ipv6_flows))
        .collect();
    assert_eq!(flows, [("sub1", 0), ("inside/100.64.0.1", 2)]);
    // UDP flows last 300 s idle: past that both are gone, and the route with
    // them (the I/O loop ticks the timers every 100 ms at least).
    for _ in 0..299 {
        lab.advance(1);
    }
    assert_eq!(lab.router.poll_route_change(), None);
    lab.advance(1);
    lab.advance(1);
    assert_eq!(
        lab.router.poll_route_change(),
        Some(RouteChange::Withdraw(prefix))
    );
    assert_eq!(lab.router.poll_route_change(), None);
    assert_eq!(lab.router.snapshot().ipv6_flows, 0);
    // Announced again; the router stopping withdraws it.
    from_range(&mut lab, &udp6(A6, 4002, REMOTE6, 53, b"q", 64));
    assert_eq!(
        lab.router.poll_route_change(),
        Some(RouteChange::Announce(prefix))
    );
    assert_eq!(
        lab.router.withdraw_routes(),
        [RouteChange::Withdraw(prefix)]
    );
    assert_eq!(lab.router.poll_route_change(), None);
}

#[test]
fn ranges_get_no_router_advertisements() {
    let c = Config::from_toml(
        "[router]\nra = true\n[[subscriber_range]]\nname = \"r\"\nipv6 = \"2001:db8:1::/48\"\n",
    )
    .unwrap();
    let mut lab = Lab::with(c);
    lab.advance(1000);
    assert!(lab.transmit().is_empty());
    // A router solicitation from a range address is no question for the router.
    let mut rs = vec![133, 0, 0, 0, 0, 0, 0, 0];
    let sum = {
        let mut pseudo = Vec::new();
        pseudo.extend(common::a6("2001:db8:1:7::1"));
        pseudo.extend(common::a6("ff02::2"));
        pseudo.extend((rs.len() as u32).to_be_bytes());
        pseudo.extend([0, 0, 0, 58]);
        pseudo.extend(&rs);
        internet_checksum::checksum(&pseudo)
    };
    rs[2..4].copy_from_slice(&sum);
    let mut p = common::raw6("2001:db8:1:7::1", "ff02::2", 58, &rs);
    p[7] = 255;
    let (v, _) = from_range(&mut lab, &p);
    assert_eq!(v, Verdict::Drop(DropReason::NotRoutable));
}

/// Two workers: a packet read by the one that does not own its subscriber is
/// handed over with its direction and processed by the owner, so the limits,
/// EIM and paired pooling see every packet of the subscriber.
#[test]
fn two_workers_hand_range_packets_to_the_subscribers_owner() {
    let now = Instant::now();
    let mut workers = Router::workers(config("sessions_per_subscriber = 3"), 7, now, 2).unwrap();
    // Read alternately by worker 0 and worker 1, as a multi-queue TUN spreads them.
    let mut run = |reader: usize, packet: &[u8]| -> (Verdict, Vec<u8>) {
        let sub = workers[reader].classify_range(0, packet).unwrap();
        let direction = Direction::Outbound(sub);
        let owner = usize::from(workers[reader].steer(direction, packet));
        assert_eq!(owner, sub as usize % 2);
        let mut buf = PacketBuf::from_packet(packet);
        let v = workers[owner].process(direction, &mut buf, now);
        (v, buf.packet().to_vec())
    };
    let (v, b1) = run(0, &udp(B, 5000, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    let (_, b2) = run(1, &udp(B, 5000, WAN_B, 53, b"q"));
    assert_eq!(src(&b1), src(&b2), "EIM across readers");
    let (_, b3) = run(0, &udp(B, 5001, WAN_A, 53, b"q"));
    assert_eq!(
        src(&b3).ip(),
        src(&b1).ip(),
        "paired pooling across readers"
    );
    let (v, _) = run(1, &udp(B, 5002, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Reply(Interface::Subscriber(B_ID)));
    let (v, a1) = run(1, &udp(A, 5000, WAN_A, 53, b"q"));
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    // Replies: steered by their port to the worker holding the session.
    let e = src(&b1);
    let reply = udp(WAN_A, 53, &e.ip().to_string(), e.port(), b"r");
    let owner = usize::from(workers[0].steer(Direction::Inbound, &reply));
    assert_eq!(owner, 1);
    let mut buf = PacketBuf::from_packet(&reply);
    let v = workers[owner].process(Direction::Inbound, &mut buf, now);
    assert_eq!(v, Verdict::Forward(Interface::Subscriber(B_ID)));
    // Each worker lists the range subscribers it serves; merged by name.
    let (s0, s1) = (workers[0].snapshot(), workers[1].snapshot());
    let names = |s: &sixfold_router::Snapshot| -> Vec<String> {
        s.subscribers.iter().map(|u| u.name.clone()).collect()
    };
    assert_eq!(names(&s0), ["sub1", "inside/100.64.0.1"]);
    assert_eq!(names(&s1), ["sub1", "inside/100.64.0.2"]);
    let mut merged = s1.clone();
    merged.merge(&s0);
    merged.merge(&s0);
    assert_eq!(
        names(&merged),
        ["sub1", "inside/100.64.0.2", "inside/100.64.0.1"]
    );
    assert_eq!(merged.subscribers[1].sessions, 3);
    assert_eq!(
        merged.subscribers[2].sessions, 2,
        "worker 0's A, merged twice"
    );
    assert_eq!(merged.subscribers[2].public_ipv4, Some(*src(&a1).ip()));
}

#[test]
fn a_range_rate_shapes_each_subscriber_on_its_own() {
    let c = Config::from_toml(
        "[router]\nra = false\n[nat]\npool = [\"203.0.113.1\"]\n\
         [[subscriber_range]]\nname = \"inside\"\nipv4 = \"100.64.0.0/24\"\nrate_mbps = 10\n",
    )
    .unwrap();
    let mut lab = Lab::with(c);
    let mut replies = Vec::new();
    for (from, id) in [("100.64.0.1", 1), ("100.64.0.2", 2)] {
        let (_, out) = from_range(&mut lab, &udp(from, 5000, WAN_A, 53, b"q"));
        let e = src(&out);
        replies.push((udp(WAN_A, 53, &e.ip().to_string(), e.port(), b"r"), id));
    }
    for (reply, id) in &replies {
        let (v, _) = lab.inb(reply);
        assert_eq!(v, Verdict::Queued(Interface::Subscriber(*id)));
    }
    let out: Vec<Interface> = lab.transmit().into_iter().map(|(i, _)| i).collect();
    assert_eq!(out, [Interface::Subscriber(1), Interface::Subscriber(2)]);
    let s = lab.router.snapshot();
    let shapers: Vec<(&str, u32, u64)> = s
        .shapers
        .iter()
        .map(|u| (u.name.as_str(), u.rate_mbps, u.ipv4.packets))
        .collect();
    assert_eq!(
        shapers,
        [("inside/100.64.0.1", 10, 1), ("inside/100.64.0.2", 10, 1)]
    );
}

#[test]
fn two_workers_in_deterministic_mode_steer_replies_to_the_range_subscribers_owner() {
    let c = Config::from_toml(
        "[router]\nra = false\n[nat]\npool = [\"203.0.113.1\"]\nallocation = \"deterministic\"\nblock_size = 2016\n\
         [[subscriber_range]]\nname = \"inside\"\nipv4 = \"100.64.0.0/27\"\n",
    )
    .unwrap();
    let now = Instant::now();
    let mut workers = Router::workers(c, 7, now, 2).unwrap();
    for k in [0u32, 1, 30, 31] {
        let inside = Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + k);
        let packet = udp(&inside.to_string(), 9000, WAN_A, 53, b"q");
        let sub = workers[0].classify_range(0, &packet).unwrap();
        assert_eq!(sub, k);
        let owner = usize::from(workers[0].steer(Direction::Outbound(sub), &packet));
        assert_eq!(owner, (k % 2) as usize);
        let mut buf = PacketBuf::from_packet(&packet);
        assert_eq!(
            workers[owner].process(Direction::Outbound(sub), &mut buf, now),
            Verdict::Forward(Interface::Wan)
        );
        // Range k's ports: 1024 + k × 2016 onwards.
        let e = src(buf.packet());
        let first = 1024 + k * 2016;
        assert!((first..first + 2016).contains(&u32::from(e.port())), "{e}");
        let reply = udp(WAN_A, 53, &e.ip().to_string(), e.port(), b"r");
        // Either worker reads it: the reverse arithmetic names the owner.
        for reader in &workers {
            assert_eq!(usize::from(reader.steer(Direction::Inbound, &reply)), owner);
        }
        let mut buf = PacketBuf::from_packet(&reply);
        assert_eq!(
            workers[owner].process(Direction::Inbound, &mut buf, now),
            Verdict::Forward(Interface::Subscriber(k))
        );
    }
}
