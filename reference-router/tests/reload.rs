//! Reload through the sans-IO core with a fake clock: a new configuration is
//! planned once ([`Reload::plan`]), checked by every worker, and applied to
//! the router's state whole or not at all. What is checked here:
//! live sessions keep their mappings and take the new timers, limits apply to
//! new mappings, a pool address added is used and one removed drains (logged
//! free, natEvent 15, once its last session ends), a subscriber added works
//! at once and one removed has its sessions and blocks ended and logged
//! (natEvent 5, 17), every refusal names its key and line and changes
//! nothing, and a stop releases and logs everything (`release_all`).

mod common;
use common::*;
use sixfold_router::ipfix::{NatRecord, Record};
use sixfold_router::stats::NatEvent;
use sixfold_router::{Config, Interface, Reload, Verdict};
use std::net::Ipv4Addr;

const WAN: &str = "192.0.2.1";
const SUB2: &str = "100.64.0.30";

/// The configuration as a file: `nat` lines, the two subscribers of
/// `common::config`, and `more` after them.
fn text(nat: &str, more: &str) -> String {
    format!(
        "[router]\nra = false\n[nat]\n{nat}\n[ipfix]\ncollector = \"192.0.2.9:4739\"\nsessions = true\n\
         [[subscriber]]\nname = \"sub1\"\nipv4 = [\"{SUB0}\"]\nipv6 = [\"2001:db8:1:1::/64\"]\n\
         [[subscriber]]\nname = \"sub2\"\nipv4 = [\"{SUB1}\"]\nipv6 = [\"2001:db8:1:2::/64\"]\nmtu = 1400\n{more}"
    )
}

fn lab(text: &str) -> Lab {
    Lab::with(Config::from_toml(text).unwrap())
}

/// Plans and applies `text` on the lab's router (one worker): its changes.
fn reload(lab: &mut Lab, text: &str) -> Vec<String> {
    let base = lab.router.reload_base();
    let plan = Reload::plan(&base, text, lab.instant()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(lab.router.check_reload(&plan).is_empty());
    lab.router.apply_reload(&plan, lab.instant());
    plan.changes().iter().map(ToString::to_string).collect()
}

/// Plans `text` and expects it refused: each refusal as `key (line N): problem`.
fn refused(lab: &Lab, text: &str) -> Vec<String> {
    let base = lab.router.reload_base();
    match Reload::plan(&base, text, lab.instant()) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

fn records(lab: &mut Lab) -> Vec<NatRecord> {
    std::iter::from_fn(|| lab.router.poll_ipfix())
        .filter_map(|r| match r {
            Record::Nat(n) => Some(n),
            Record::Flow(_) => None,
        })
        .collect()
}

fn events(records: &[NatRecord], event: NatEvent) -> usize {
    records.iter().filter(|r| r.event == event).count()
}

fn walk(lab: &mut Lab, secs: u64) {
    for _ in 0..secs {
        lab.advance(1);
        for _ in 0..8 {
            lab.advance(0);
        }
    }
}

#[test]
fn live_sessions_keep_their_mapping_and_take_the_new_timers() {
    let before = text(&format!("pool = [\"{PUBLIC}\"]"), "");
    let mut lab = lab(&before);
    let outside = lab.out_ok(0, &udp(SUB0, 5000, WAN, 53, b"q"));
    walk(&mut lab, 200);
    let after = text(&format!("pool = [\"{PUBLIC}\"]\ntimeouts.udp = 600"), "");
    assert_eq!(reload(&mut lab, &after), ["nat.timeouts.udp: 300 -> 600"]);
    // 200 s idle: under the old 300 s it would end at 300; now at 600.
    walk(&mut lab, 200);
    let reply = udp(WAN, 53, &outside.ip().to_string(), outside.port(), b"r");
    assert_eq!(
        lab.inb(&reply).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
    assert_eq!(lab.out_ok(0, &udp(SUB0, 5000, WAN, 53, b"q")), outside);
    // And a shorter one shortens it: idle from now, gone after 120 s.
    let short = text(&format!("pool = [\"{PUBLIC}\"]\ntimeouts.udp = 120"), "");
    reload(&mut lab, &short);
    walk(&mut lab, 121);
    assert_eq!(lab.router.snapshot().sessions, 0);
    // Nothing changes: no line, nothing to apply.
    assert!(reload(&mut lab, &short).is_empty());
}

#[test]
fn a_lower_port_limit_refuses_new_mappings_and_keeps_the_old() {
    let mut lab = lab(&text(
        &format!("pool = [\"{PUBLIC}\"]\nports_per_subscriber = 4"),
        "",
    ));
    for port in 0..3 {
        lab.out_ok(0, &udp(SUB0, 6000 + port, WAN, 53, b"q"));
    }
    reload(
        &mut lab,
        &text(
            &format!("pool = [\"{PUBLIC}\"]\nports_per_subscriber = 2"),
            "",
        ),
    );
    // The three stay; a fourth is refused (3/13 back to the subscriber).
    assert_eq!(lab.router.snapshot().sessions, 3);
    assert!(matches!(
        lab.out(0, &udp(SUB0, 6100, WAN, 53, b"q")).0,
        Verdict::Reply(Interface::Subscriber(0))
    ));
    lab.out_ok(0, &udp(SUB0, 6000, WAN, 53, b"again"));
}

#[test]
fn a_removed_pool_address_drains_and_is_logged_free_after_its_last_session() {
    let old = "198.51.100.1";
    let mut lab = lab(&text(&format!("pool = [\"{old}\"]"), ""));
    let first = lab.out_ok(0, &udp(SUB0, 7000, WAN, 53, b"q"));
    assert_eq!(first.ip().to_string(), old);
    records(&mut lab);
    // The old address replaced by PUBLIC.
    reload(&mut lab, &text(&format!("pool = [\"{PUBLIC}\"]"), ""));
    let s = lab.router.snapshot();
    assert_eq!(s.draining.len(), 1);
    assert_eq!(
        (
            s.draining[0].address.to_string().as_str(),
            s.draining[0].sessions
        ),
        (old, 1)
    );
    // The live session goes on through the draining address, both ways.
    assert_eq!(lab.out_ok(0, &udp(SUB0, 7000, WAN, 53, b"q")), first);
    let reply = udp(WAN, 53, old, first.port(), b"r");
    assert_eq!(
        lab.inb(&reply).0,
        Verdict::Forward(Interface::Subscriber(0))
    );
    // A new mapping of the same subscriber, and a new subscriber, get the new one.
    assert_eq!(
        lab.out_ok(0, &udp(SUB0, 7001, WAN, 53, b"q"))
            .ip()
            .to_string(),
        PUBLIC
    );
    assert_eq!(
        lab.out_ok(1, &udp(SUB1, 7000, WAN, 53, b"q"))
            .ip()
            .to_string(),
        PUBLIC
    );
    assert!(events(&records(&mut lab), NatEvent::AddressBindingDelete) == 0);
    // Once its session expires it is free: logged once, no longer listed,
    // and no longer ours (a packet to it is no inbound translation).
    walk(&mut lab, 301);
    let r = records(&mut lab);
    let freed: Vec<&NatRecord> = r
        .iter()
        .filter(|r| r.event == NatEvent::AddressBindingDelete)
        .collect();
    assert_eq!(freed.len(), 1, "{r:?}");
    assert_eq!(
        (freed[0].outside.to_string().as_str(), freed[0].inside),
        (old, Ipv4Addr::UNSPECIFIED)
    );
    assert!(lab.router.snapshot().draining.is_empty());
    walk(&mut lab, 10);
    assert_eq!(
        events(&records(&mut lab), NatEvent::AddressBindingDelete),
        0
    );
}

#[test]
fn an_added_pool_address_goes_to_the_next_subscriber() {
    let mut lab = lab(&text("pool = [\"198.51.100.1\"]", ""));
    let first = lab.out_ok(0, &udp(SUB0, 7000, WAN, 53, b"q"));
    assert_eq!(first.ip().to_string(), "198.51.100.1");
    reload(
        &mut lab,
        &text("pool = [\"198.51.100.1\", \"198.51.100.2\"]", ""),
    );
    // The least-loaded address: the new one, at once; sub1 keeps its own.
    let second = lab.out_ok(1, &udp(SUB1, 7000, WAN, 53, b"q"));
    assert_eq!(second.ip().to_string(), "198.51.100.2");
    assert_eq!(
        lab.out_ok(0, &udp(SUB0, 7001, WAN, 53, b"q")).ip(),
        first.ip()
    );
}

/// With two workers, the address drains on each; the one that finds it free
/// last logs it: once for the router.
#[test]
fn a_drained_address_is_logged_free_once_whatever_the_workers() {
    let old = "198.51.100.1";
    let t0 = std::time::Instant::now();
    let before = text(&format!("pool = [\"{old}\"]"), "");
    let mut routers =
        sixfold_router::Router::workers(Config::from_toml(&before).unwrap(), 7, t0, 2).unwrap();
    // Subscriber 0 belongs to worker 0: a session there.
    let mut b = sixfold_router::PacketBuf::from_packet(&udp(SUB0, 7000, WAN, 53, b"q"));
    let v = routers[0].process(sixfold_router::Direction::Outbound(0), &mut b, t0);
    assert_eq!(v, Verdict::Forward(Interface::Wan));
    let plan = Reload::plan(
        &routers[0].reload_base(),
        &text(&format!("pool = [\"{PUBLIC}\"]"), ""),
        t0,
    )
    .unwrap();
    for r in &mut routers {
        assert!(r.check_reload(&plan).is_empty());
        r.apply_reload(&plan, t0);
    }
    let mut freed = 0;
    for s in 1..=310u64 {
        for r in &mut routers {
            for _ in 0..4 {
                r.tick(t0 + std::time::Duration::from_secs(s));
            }
            freed += std::iter::from_fn(|| r.poll_ipfix())
                .filter(
                    |r| matches!(r, Record::Nat(n) if n.event == NatEvent::AddressBindingDelete),
                )
                .count();
        }
        if s == 10 {
            assert_eq!(freed, 0, "worker 1 holds nothing of it, worker 0 a session");
        }
    }
    assert_eq!(freed, 1);
}

#[test]
fn a_subscriber_added_works_at_once_and_one_removed_ends_logged() {
    let pool = format!("pool = [\"{PUBLIC}\"]");
    let mut lab = lab(&text(&pool, ""));
    lab.out_ok(0, &udp(SUB0, 8000, WAN, 53, b"q"));
    lab.out_ok(1, &udp(SUB1, 8000, WAN, 53, b"q"));
    lab.out_ok(1, &udp(SUB1, 8001, WAN, 53, b"q"));
    records(&mut lab);
    // sub2 removed, sub3 added: sub3 gets id 2 (never given before).
    let third = format!("[[subscriber]]\nname = \"sub3\"\nipv4 = [\"{SUB2}\"]\n");
    let new = text(&pool, &third).replace(
        &format!("[[subscriber]]\nname = \"sub2\"\nipv4 = [\"{SUB1}\"]\nipv6 = [\"2001:db8:1:2::/64\"]\nmtu = 1400\n"),
        "",
    );
    let lines = reload(&mut lab, &new);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("subscriber[\"sub3\"]: (none) -> {"),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("subscriber[\"sub2\"]: {") && lines[1].ends_with("-> (none)"));
    let r = records(&mut lab);
    assert_eq!(events(&r, NatEvent::SessionDelete), 2, "{r:?}");
    assert!(
        r.iter()
            .filter(|r| r.event == NatEvent::SessionDelete)
            .all(|r| r.inside.to_string() == SUB1)
    );
    let s = lab.router.snapshot();
    assert_eq!(s.sessions, 1);
    let names: Vec<&str> = s.subscribers.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["sub1", "sub3"]);
    // sub3 sends at once; the removed id is refused.
    lab.out_ok(2, &udp(SUB2, 8000, WAN, 53, b"q"));
    assert!(matches!(
        lab.out(1, &udp(SUB1, 8002, WAN, 53, b"q")).0,
        Verdict::Drop(_)
    ));
    // sub1's session never noticed.
    assert_eq!(lab.router.snapshot().subscribers[0].sessions, 1);
}

#[test]
fn a_removed_subscribers_port_blocks_are_released_and_logged() {
    let nat = format!("pool = [\"{PUBLIC}\"]\nallocation = \"block\"\nblock_size = 64");
    let mut lab = lab(&text(&nat, ""));
    lab.out_ok(1, &udp(SUB1, 9000, WAN, 53, b"q"));
    let r = records(&mut lab);
    assert_eq!(events(&r, NatEvent::BlockAllocation), 1);
    let new = text(&nat, "").replace("name = \"sub2\"", "name = \"sub9\"");
    reload(&mut lab, &new);
    let r = records(&mut lab);
    assert_eq!(events(&r, NatEvent::SessionDelete), 1);
    assert_eq!(events(&r, NatEvent::BlockDeallocation), 1, "{r:?}");
    // A block size cannot change while blocks are held (here: sub9's new one
    // is none yet, but the released block waits out its block_timeout).
    let bigger = text(&nat.replace("64", "128"), "").replace("name = \"sub2\"", "name = \"sub9\"");
    let plan = Reload::plan(&lab.router.reload_base(), &bigger, lab.instant()).unwrap();
    let no = lab.router.check_reload(&plan);
    assert_eq!(no.len(), 1);
    assert_eq!(no[0].key, "nat.block_size");
}

#[test]
fn refusals_name_every_key_and_line_and_change_nothing() {
    let pool = format!("pool = [\"{PUBLIC}\"]");
    let mut lab = lab(&text(&pool, ""));
    let outside = lab.out_ok(0, &udp(SUB0, 5000, WAN, 53, b"q"));
    let before = lab.router.config().clone();
    // Two keys that cannot change live, and one that could: nothing applies.
    let bad = text(&pool, "").replace(
        "[router]\nra = false\n",
        "[router]\nra = false\nworkers = 3\noffload = false\n[wan]\nname = \"up\"\n",
    );
    let bad = bad.replace("[nat]\n", "[nat]\nhairpin = false\n");
    let r = refused(&lab, &bad);
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(
        r[0].starts_with("router.offload (line 4): cannot change while the router runs"),
        "{r:?}"
    );
    assert!(r[1].starts_with("router.workers (line 3): "), "{r:?}");
    assert!(r[2].starts_with("wan.name (line 6): "), "{r:?}");
    // A file that does not parse, and one with bad values: every problem.
    let r = refused(&lab, "[nat\npool = 1\n");
    assert_eq!(r.len(), 1);
    assert!(r[0].contains("line 1"), "{r:?}");
    let r = refused(
        &lab,
        &text(
            &format!("{pool}\ntimeouts.udp = 5"),
            "[metrics]\nper_subscriber = true\n",
        ),
    );
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(
        r[0].starts_with("nat.timeouts.udp (line 5): 5 is too small"),
        "{r:?}"
    );
    assert!(r[1].starts_with("metrics.listen"), "{r:?}");
    // An existing subscriber's addresses cannot change live.
    let moved = text(&pool, "").replace(SUB1, "100.64.0.21");
    let r = refused(&lab, &moved);
    assert!(r[0].starts_with("subscriber[1].ipv4 (line "), "{r:?}");
    // Nothing changed.
    assert_eq!(lab.router.config(), &before);
    assert_eq!(lab.out_ok(0, &udp(SUB0, 5000, WAN, 53, b"q")), outside);
}

#[test]
fn deterministic_mode_refuses_renumbering_and_takes_an_appended_subscriber() {
    let nat = format!("pool = [\"{PUBLIC}\"]\nallocation = \"deterministic\"\nblock_size = 1024");
    let mut lab = lab(&text(&nat, ""));
    let outside = lab.out_ok(1, &udp(SUB1, 5000, WAN, 53, b"q"));
    // Removing sub1 would move sub2's range: refused.
    let without_first = text(&nat, "").replace(
        &format!(
            "[[subscriber]]\nname = \"sub1\"\nipv4 = [\"{SUB0}\"]\nipv6 = [\"2001:db8:1:1::/64\"]\n"
        ),
        "",
    );
    let r = refused(&lab, &without_first);
    assert!(r.iter().any(|e| e.contains("RFC 7422")), "{r:?}");
    let r = refused(
        &lab,
        &text(
            &format!("{nat}\n").replace("pool = [", "pool = [\"198.51.100.1\", "),
            "",
        ),
    );
    assert!(r[0].starts_with("nat.pool (line 4)"), "{r:?}");
    // Appended: fine, and sub2 keeps its range.
    let third = format!("[[subscriber]]\nname = \"sub3\"\nipv4 = [\"{SUB2}\"]\n");
    reload(&mut lab, &text(&nat, &third));
    assert_eq!(lab.out_ok(1, &udp(SUB1, 5000, WAN, 53, b"q")), outside);
    let third_out = lab.out_ok(2, &udp(SUB2, 5000, WAN, 53, b"q"));
    assert_eq!(
        third_out.port() / 1024,
        3,
        "the third range: ports 3072..4095"
    );
}

#[test]
fn a_stop_releases_and_logs_every_session_and_block() {
    let nat = format!("pool = [\"{PUBLIC}\"]\nallocation = \"block\"\nblock_size = 64");
    let mut lab = lab(&text(&nat, ""));
    for port in 0..10 {
        lab.out_ok(0, &udp(SUB0, 1000 + port, WAN, 53, b"q"));
        lab.out_ok(1, &udp(SUB1, 1000 + port, WAN, 53, b"q"));
    }
    records(&mut lab);
    let now = lab.instant();
    let mut calls = 0;
    let mut all = Vec::new();
    while !lab.router.release_all(now, 3) {
        calls += 1;
        all.extend(records(&mut lab));
    }
    all.extend(records(&mut lab));
    assert!(calls >= 6, "at most 3 sessions a call: {calls}");
    assert_eq!(events(&all, NatEvent::SessionDelete), 20);
    assert_eq!(events(&all, NatEvent::BlockDeallocation), 2);
    let s = lab.router.snapshot();
    assert_eq!((s.sessions, s.mappings, s.ipfix.blocks), (0, 0, 0));
    assert_eq!(s.ipfix.records_dropped, 0);
}
