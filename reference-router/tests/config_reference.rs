//! `docs/configuration.md`'s table of every key, made from the code and held to it:
//! each key a complete configuration has (every optional section set), its
//! default (`Config::default()`, or a `[[subscriber]]` / `[[subscriber_range]]`
//! entry that names nothing else), the values the validator accepts for an
//! integer key — probed: the smallest and largest value `Config::check_toml`
//! takes with every other key as in that configuration — and what a reload does
//! with it (`config::diff::LIVE`).
//!
//! The test fails when the page's table differs from what the code says; run it
//! with `SIXFOLD_BLESS=1` to write the table into the page.

use sixfold_router::Config;
use sixfold_router::config::diff::LIVE;
use std::path::PathBuf;
use toml::Value;

/// A configuration with every optional section set, so every key appears.
const FULL: &str = r#"
[router]
user = "sixfold"
group = "sixfold"
[nat]
pool = ["203.0.113.0/28"]
[nat64]
prefix = "2001:db8:64::/96"
[siit]
pool6 = "2001:db8:46::/96"
[ipfix]
collector = "192.0.2.9:4739"
source = "192.0.2.1"
netns = "mgmt"
[metrics]
listen = "[::1]:9108"
netns = "mgmt"
[fastpath]
inside = "access0"
outside = "core0"
netns = "box"
[tunnels]
six_rd_prefix = "2001:db8:6000::/40"
six_rd_ipv4 = "100.64.0.0/10"
[wan]
netns = "isp-wan"
rate_mbps = 100
routes = ["203.0.113.0/28"]
route_table = 110
[[subscriber]]
name = "sub1"
netns = "isp-sub1"
ipv4 = ["100.64.1.1"]
ipv6 = ["2001:db8:1:1::/64"]
open_ports = ["tcp/22"]
rate_mbps = 50
[[subscriber_range]]
name = "inside"
netns = "r1"
ipv4 = "100.64.2.0/24"
ipv6 = "2001:db8:2::/48"
routes = ["0.0.0.0/0"]
route_table = 100
rate_mbps = 10
"#;

const BEGIN: &str = "<!-- keys: made by reference-router/tests/config_reference.rs -->";
const END: &str = "<!-- keys: end -->";

fn value(config: &Config) -> toml::Table {
    Value::try_from(config)
        .expect("a configuration serialises")
        .as_table()
        .cloned()
        .expect("a table")
}

/// Every leaf key of `table` (`a.b.c`, entries of arrays of tables as `a[*].b`),
/// in file order of sections, with its value.
fn leaves(prefix: &str, table: &toml::Table, out: &mut Vec<(String, Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Table(t) => leaves(&key, t, out),
            Value::Array(a) if a.first().is_some_and(Value::is_table) => {
                if let Some(Value::Table(t)) = a.first() {
                    leaves(&format!("{key}[*]"), t, out);
                }
            }
            _ => out.push((key, v.clone())),
        }
    }
}

/// The value at `key` (`a[*].b`: the first entry) in `table`.
fn get<'a>(table: &'a toml::Table, key: &str) -> Option<&'a Value> {
    let mut parts = key.split('.');
    let first = parts.next()?;
    let mut at = lookup(table, first)?;
    for p in parts {
        at = lookup(at.as_table()?, p)?;
    }
    Some(at)
}

fn lookup<'a>(table: &'a toml::Table, part: &str) -> Option<&'a Value> {
    match part.strip_suffix("[*]") {
        Some(name) => table.get(name)?.as_array()?.first(),
        None => table.get(part),
    }
}

fn set(table: &mut toml::Table, key: &str, v: Value) {
    let parts: Vec<&str> = key.split('.').collect();
    let mut at = table;
    for p in &parts[..parts.len() - 1] {
        let next = match p.strip_suffix("[*]") {
            Some(name) => at
                .get_mut(name)
                .and_then(|a| a.as_array_mut())
                .and_then(|a| a.first_mut()),
            None => at.get_mut(*p),
        };
        at = next
            .and_then(Value::as_table_mut)
            .expect("the key's table exists");
    }
    at.insert(parts[parts.len() - 1].to_string(), v);
}

/// Whether the validator takes `full` with `key` set to `n`.
fn accepts(full: &toml::Table, key: &str, n: i64) -> bool {
    let mut t = full.clone();
    set(&mut t, key, Value::Integer(n));
    let text = toml::to_string(&t).expect("serialises");
    Config::check_toml(&text, Some(1)).is_ok()
}

/// The interval of accepted values around `at` (which is accepted): the
/// validator's bounds are intervals. Negative values are never taken.
fn probe(full: &toml::Table, key: &str, at: i64) -> (i64, i64) {
    let below = if accepts(full, key, -1) { i64::MIN } else { -1 };
    (edge(full, key, at, below), edge(full, key, at, i64::MAX))
}

/// The accepted value nearest `bad` (refused, or the end of the range) between
/// it and `good` (accepted), by binary search.
fn edge(full: &toml::Table, key: &str, good: i64, bad: i64) -> i64 {
    let (mut good, mut bad) = (i128::from(good), i128::from(bad));
    while (bad - good).abs() > 1 {
        let mid = good + (bad - good) / 2;
        if accepts(full, key, mid as i64) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    // The end of the type's range is accepted when nothing before it was refused.
    if bad == i128::from(i64::MAX) && accepts(full, key, i64::MAX) {
        return i64::MAX;
    }
    good as i64
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "not set".into(),
        Some(Value::String(s)) => format!("`\"{s}\"`"),
        Some(v) => format!("`{v}`"),
    }
}

fn bound(n: i64) -> String {
    match n {
        0xFF => "255 (2⁸−1)".into(),
        0xFFFF => "65535 (2¹⁶−1)".into(),
        0xFFFF_FFFF => "4294967295 (2³²−1)".into(),
        i64::MAX => "2⁶³−1".into(),
        n => n.to_string(),
    }
}

fn pattern_live(key: &str) -> bool {
    LIVE.iter()
        .any(|p| key == *p || (p.ends_with('.') && key.starts_with(p)))
}

/// Keys an entry or optional section must be given: no default.
const REQUIRED: [&str; 4] = [
    "subscriber[*].name",
    "subscriber_range[*].name",
    "nat64.prefix",
    "siit.pool6",
];

/// The port-block context: [`FULL`] without `[nat64]` (which keeps dynamic
/// allocation) and with `allocation = "block"`, where the block keys are checked.
fn block_context(full: &toml::Table) -> toml::Table {
    let mut t = full.clone();
    t.remove("nat64");
    set(&mut t, "nat.allocation", Value::String("block".into()));
    t
}

fn table() -> String {
    let full = Config::check_toml(FULL, Some(1)).expect("FULL is a valid configuration");
    let full = value(&full);
    let blocks = block_context(&full);
    let text = toml::to_string(&blocks).expect("serialises");
    assert!(
        Config::check_toml(&text, Some(1)).is_ok(),
        "the block context is valid"
    );
    let defaults = value(&Config::default());
    // Entries and optional sections given only what they must have: the
    // defaults of the rest.
    let entries: Config = toml::from_str(
        "[nat64]\nprefix = \"64:ff9b::/96\"\n[siit]\npool6 = \"64:ff9b::/96\"\n\
         [[subscriber]]\nname = \"s\"\n[[subscriber_range]]\nname = \"r\"\n",
    )
    .expect("an entry that names nothing else parses");
    let entries = value(&entries);
    let mut keys = Vec::new();
    leaves("", &full, &mut keys);
    let mut out = String::from(
        "| key | default | accepted (integers: probed from the validator) | reload |\n|---|---|---|---|\n",
    );
    for (key, v) in keys {
        let section = key.split(['.', '[']).next().unwrap_or_default();
        let default = if REQUIRED.contains(&key.as_str()) {
            "required".to_string()
        } else if key.contains("[*]") || !defaults.contains_key(section) {
            show(get(&entries, &key))
        } else {
            show(get(&defaults, &key))
        };
        let accepted = match &v {
            Value::Integer(n) => {
                // Accepted in every context the key is in.
                let (mut lo, mut hi) = probe(&full, &key, *n);
                if let Some(Value::Integer(m)) = get(&blocks, &key) {
                    let (l, h) = probe(&blocks, &key, *m);
                    (lo, hi) = (lo.max(l), hi.min(h));
                }
                format!("{} to {}", bound(lo), bound(hi))
            }
            Value::Boolean(_) => "`true`, `false`".into(),
            _ => "see [the annotated example](#every-key-annotated)".into(),
        };
        let reload = if pattern_live(&key) {
            "live"
        } else {
            "restart"
        };
        out.push_str(&format!(
            "| `{key}` | {default} | {accepted} | {reload} |\n"
        ));
    }
    out
}

#[test]
fn the_configuration_pages_key_table_is_what_the_code_says() {
    let page = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    let text = std::fs::read_to_string(&page).expect("docs/configuration.md");
    let (Some(a), Some(b)) = (text.find(BEGIN), text.find(END)) else {
        panic!("docs/configuration.md has no {BEGIN} … {END} block");
    };
    let made = table();
    let want = format!("{BEGIN}\n\n{made}\n{END}");
    let have = &text[a..b + END.len()];
    if have != want {
        if std::env::var_os("SIXFOLD_BLESS").is_some() {
            std::fs::write(
                &page,
                format!("{}{want}{}", &text[..a], &text[b + END.len()..]),
            )
            .expect("writing the page");
            return;
        }
        panic!(
            "docs/configuration.md's key table differs from the code; run \
             SIXFOLD_BLESS=1 cargo test -p sixfold-router --test config_reference\n{made}"
        );
    }
}
