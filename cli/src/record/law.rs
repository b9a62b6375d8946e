//! The lookup's law, checked on random records (quickcheck): a ground truth of
//! who held one port block (allocations, re-announcements, releases) or one
//! public session port (creates and deletes of one inside endpoint's sessions
//! to several destinations, held until they balance) when, across runs of the
//! exporter that end by a kill (no release or delete logged), is
//! exported as the router's encoder writes it, then delivered as UDP may
//! deliver it: messages lost (the start message too), duplicated, and
//! reordered with their neighbours (a message that overtakes its run's start
//! message, which carries the templates, cannot be read: it is lost too).
//!
//! **Law.** At every time T: (1) whoever the lookup names *for certain* held
//! the port at T; (2) when the record around T is complete — no message of
//! T's run was lost, and the record goes on past T by more than the slack
//! (`runs::SLACK_MS`) — the lookup names exactly the true holder for certain
//! (or nobody), and no one as uncertain; (3) whenever the record has any
//! event of the holding that covers T, its holder is named (certain or
//! uncertain): nobody who held the port is left out on a partial record.

use super::holdings::Status;
use super::runs::SLACK_MS;
use super::tests::{Exporter, elsewhere, inside, named, nat, record_of};
use quickcheck::quickcheck;
use sixfold_router::stats::NatEvent;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// xorshift64*: the case's randomness from quickcheck's seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// One exported message: its run, its time, the bytes.
struct Sent {
    run: usize,
    time: u64,
    /// The holding (index into the truth) it is an event of.
    holding: Option<usize>,
    source: SocketAddr,
    bytes: Vec<u8>,
}

/// The truth (subscriber, from, to) and what was sent, per run start.
/// Who held the block: (subscriber, from, until).
type Truth = Vec<(u8, u64, u64)>;

/// What the NAT does to the port in one step: (event, subscriber, whether the
/// holding ends with it).
fn step(
    rng: &mut Rng,
    sessions: bool,
    holder: &mut Option<(u8, u64, u32)>,
    t: u64,
) -> (NatEvent, u8, bool) {
    use NatEvent::{BlockAllocation, BlockDeallocation, SessionCreate, SessionDelete};
    let (begin, end) = if sessions {
        (SessionCreate, SessionDelete)
    } else {
        (BlockAllocation, BlockDeallocation)
    };
    match holder {
        None => {
            let k = 1 + rng.below(3) as u8;
            *holder = Some((k, t, 1));
            (begin, k, false)
        }
        // A re-announcement (blocks) or another session of the same inside
        // endpoint to another destination (EIM: same public port).
        Some((k, _, n)) if rng.below(2) == 0 => {
            *n += u32::from(sessions);
            (begin, *k, false)
        }
        Some((k, _, n)) => {
            let k = *k;
            *n -= 1;
            let ends = *n == 0;
            if ends {
                *holder = None;
            }
            (end, k, ends)
        }
    }
}

fn world(rng: &mut Rng) -> (Truth, Vec<Sent>, Vec<u64>) {
    let (mut truth, mut sent, mut starts) = (Vec::new(), Vec::new(), Vec::new());
    // A port block (natEvent 16/17) or a session's public port (4/5, counted).
    let sessions = rng.below(2) == 0;
    let mut t = 1000;
    for run in 0..1 + rng.below(3) as usize {
        let (mut x, start) = Exporter::start(30000 + run as u16, t);
        starts.push(t);
        sent.push(Sent {
            run,
            time: t,
            holding: None,
            source: x.source,
            bytes: start,
        });
        let mut holder: Option<(u8, u64, u32)> = None;
        for _ in 0..1 + rng.below(10) {
            t += 1000 * (1 + rng.below(20));
            let from = holder.map(|h| h.1);
            let (event, k, ends) = step(rng, sessions, &mut holder, t);
            // Holdings follow each other: the current one is the next to end.
            let holding = Some(truth.len());
            if ends {
                truth.push((k, from.unwrap_or(t), t));
            }
            let bytes = x.send(&[nat(event, t, k)]);
            sent.push(Sent {
                run,
                time: t,
                holding,
                source: x.source,
                bytes,
            });
        }
        // Killed: whatever it held ends with it, unlogged.
        if let Some((k, from, _)) = holder {
            truth.push((k, from, t + 500));
        }
        t += 5000;
        if run == 0 || rng.below(2) == 0 {
            // The last message of the run shows it went on until then.
            let bytes = x.send(&[elsewhere(t - 4000)]);
            sent.push(Sent {
                run,
                time: t - 4000,
                holding: None,
                source: x.source,
                bytes,
            });
        }
    }
    (truth, sent, starts)
}

fn law(seed: u64) -> bool {
    let mut rng = Rng(seed | 1);
    let (truth, sent, starts) = world(&mut rng);
    // Delivery: loss, duplication, reordering with the next message.
    let mut lost_in = vec![false; starts.len()];
    let mut delivered: Vec<usize> = Vec::new();
    for (i, s) in sent.iter().enumerate() {
        match rng.below(10) {
            0 => lost_in[s.run] = true,
            1 => delivered.extend([i, i]),
            _ => delivered.push(i),
        }
    }
    for i in 1..delivered.len() {
        if rng.below(4) == 0 {
            delivered.swap(i - 1, i);
        }
    }
    // A message that arrives before its run's templates (the start message)
    // cannot be read: lost as well, unless a copy of it comes later.
    let mut templates = vec![false; starts.len()];
    let mut read = vec![false; sent.len()];
    for &i in &delivered {
        let s = &sent[i];
        if s.time == starts[s.run] {
            templates[s.run] = true;
        }
        read[i] |= templates[s.run];
    }
    for (i, s) in sent.iter().enumerate() {
        lost_in[s.run] |= !read[i];
    }
    let messages: Vec<(SocketAddr, Vec<u8>)> = delivered
        .iter()
        .map(|&i| (sent[i].source, sent[i].bytes.clone()))
        .collect();
    let record = record_of(&messages);
    let end = sent.iter().map(|s| s.time).max().unwrap_or(0) + 10_000;
    for at in (0..end).step_by(250) {
        let holding = truth.iter().position(|&(_, a, b)| a <= at && at < b);
        let held: Option<u8> = holding.map(|i| truth[i].0);
        let got = named(&record, at);
        // (1) Nobody named for certain who did not hold it.
        for (who, status) in &got {
            if *status == Status::Certain && held.map(|k| IpAddr::V4(inside(k))) != Some(*who) {
                eprintln!("seed {seed}: at {at} {who} named for certain; truth {held:?}: {got:?}");
                return false;
            }
        }
        // (2) A complete record names exactly the holder.
        let run = starts.iter().rposition(|&s| s <= at);
        let complete = run.is_some_and(|r| {
            let last = sent
                .iter()
                .filter(|s| s.run == r)
                .map(|s| s.time)
                .max()
                .unwrap_or(0);
            !lost_in[r] && at + SLACK_MS < last
        });
        let want: BTreeMap<IpAddr, Status> = held
            .map(|k| (IpAddr::V4(inside(k)), Status::Certain))
            .into_iter()
            .collect();
        if complete && got != want {
            eprintln!("seed {seed}: at {at} complete record says {got:?}; truth {held:?}");
            return false;
        }
        // (3) The holder is named, at least as uncertain, whenever the record
        // has any event of its holding.
        let evidence = sent
            .iter()
            .enumerate()
            .any(|(i, s)| read[i] && s.holding.is_some() && s.holding == holding);
        if evidence && !got.contains_key(&IpAddr::V4(inside(held.unwrap_or(0)))) {
            eprintln!("seed {seed}: at {at} the holder is not named: {got:?}; truth {held:?}");
            return false;
        }
    }
    true
}

#[test]
fn the_lookup_names_no_one_wrongly_and_the_holder_wherever_it_can() {
    fn holds(seed: u64) -> bool {
        law(seed)
    }
    quickcheck(holds as fn(u64) -> bool);
}
