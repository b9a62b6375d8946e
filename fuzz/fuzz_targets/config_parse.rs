//! Router configurations built from arbitrary choices of section, key and value
//! — values from a list of the addresses, prefixes and names the validator must
//! judge (multicast, link-local, everything, a subscriber's, the pool's, `..`),
//! numbers, booleans and arbitrary strings — after a small valid base: parsing
//! never panics, and a configuration it accepts is one the router runs: the
//! validator passes it again, `Router::new` and two workers are made from it
//! without error, and `sixfold translate`'s translator too when it has `[siit]`
//! ("checked whole, applied whole": nothing is found wrong after acceptance).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sixfold_router::xlat::Stateless;
use sixfold_router::{Config, Router};
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Arbitrary, Debug)]
enum Value {
    Pick(u8),
    List(u8, u8),
    Number(i64),
    Small(u16),
    Flag(bool),
    Text(String),
}

#[derive(Arbitrary, Debug)]
struct Entry {
    key: u8,
    value: Value,
}

/// (table, key): the keys whose checks matter most here.
const KEYS: &[(&str, &str)] = &[
    ("nat", "pool"),
    ("nat", "allocation"),
    ("nat", "ports_per_subscriber"),
    ("nat", "block_size"),
    ("nat", "max_blocks"),
    ("nat", "filtering"),
    ("siit", "pool6"),
    ("siit", "rfc6791_v4"),
    ("siit", "rfc6791_v6"),
    ("siit", "lowest_ipv6_mtu"),
    ("siit.eamt", "ipv6"),
    ("siit.eamt", "ipv4"),
    ("nat64", "prefix"),
    ("nat64", "lowest_ipv6_mtu"),
    ("metrics", "listen"),
    ("metrics", "netns"),
    ("ipfix", "collector"),
    ("ipfix", "netns"),
    ("router", "workers"),
    ("wan", "netns"),
    ("subscriber_range", "ipv4"),
    ("subscriber_range", "name"),
];

/// Values the validator must judge.
const PICKS: &[&str] = &[
    "64:ff9b::/96",
    "2001:db8:64::/96",
    "2001:db8:64::5",
    "ff0e::/96",
    "fe80::/96",
    "::/0",
    "::",
    "ff02::1",
    "2001:db8:1:1::9",
    "2001:db8:6791::/64",
    "0.0.0.0/0",
    "0.0.0.0",
    "224.0.0.1",
    "127.0.0.1",
    "100.64.0.4",
    "100.64.8.0/24",
    "203.0.113.1",
    "203.0.113.0/24",
    "198.51.100.9",
    "198.51.100.0/24",
    "192.0.2.1",
    "192.0.2.9:4739",
    "127.0.0.1:9108",
    "[::1]:0",
    "..",
    "../x",
    "wan",
    "block",
    "deterministic",
    "dynamic",
    "eif",
    "adf",
];

fn render(v: &Value) -> String {
    let pick = |i: u8| format!("{:?}", PICKS[usize::from(i) % PICKS.len()]);
    match v {
        Value::Pick(i) => pick(*i),
        Value::List(a, b) => format!("[{}, {}]", pick(*a), pick(*b)),
        Value::Number(n) => n.to_string(),
        Value::Small(n) => n.to_string(),
        Value::Flag(b) => b.to_string(),
        Value::Text(t) => format!("{t:?}"),
    }
}

fuzz_target!(|entries: Vec<Entry>| {
    // Each (table, key) once: later entries for the same key are dropped.
    let mut tables: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();
    for e in entries.iter().take(32) {
        let (table, key) = KEYS[usize::from(e.key) % KEYS.len()];
        tables
            .entry(table)
            .or_default()
            .entry(key)
            .or_insert_with(|| render(&e.value));
    }
    let mut text = String::from(
        "[[subscriber]]\nname = \"a\"\nipv4 = [\"100.64.0.0/29\"]\nipv6 = [\"2001:db8:1:1::/64\"]\n",
    );
    if !tables.get("nat").is_some_and(|t| t.contains_key("pool")) {
        tables
            .entry("nat")
            .or_default()
            .insert("pool", "[\"203.0.113.1\"]".into());
    }
    for (table, keys) in &tables {
        let header = match *table {
            "siit.eamt" | "subscriber_range" => format!("[[{table}]]"),
            _ => format!("[{table}]"),
        };
        text += &format!("{header}\n");
        for (key, value) in keys {
            text += &format!("{key} = {value}\n");
        }
    }
    let Ok(config) = Config::from_toml(&text) else {
        return;
    };
    assert!(
        config.validate().is_ok(),
        "validated twice differently:\n{text}"
    );
    let now = Instant::now();
    if let Err(e) = Router::new(config.clone(), 1, now) {
        panic!("accepted, then refused by the router: {e}\n{text}");
    }
    // A port block must fit each worker's slice of the ports: what two
    // workers run is what the validator accepts for two workers.
    let for_two = Config::check_toml(&text, Some(2)).is_ok();
    match Router::workers(config.clone(), 1, now, 2) {
        Err(e) if for_two => panic!("accepted for two workers, then refused: {e}\n{text}"),
        Ok(_) if !for_two => panic!("refused for two workers, then run by them:\n{text}"),
        _ => {}
    }
    if config.siit.is_some()
        && let Err(e) = Stateless::new(&config, 1500, 1500)
    {
        panic!("accepted, then refused by the translator: {e}\n{text}");
    }
});
