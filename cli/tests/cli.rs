//! The `sixfold` command line: output keys, exit codes and messages.

use std::process::{Command, Output};

fn sixfold(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sixfold"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn decode_json_keys() {
    let o = sixfold(&[
        "teredo",
        "decode",
        "--json",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["address"], "2001:0:4136:e378:8000:63bf:3fff:fdd2");
    assert_eq!(v["server"], "65.54.227.120");
    assert_eq!(v["client"], "192.0.2.45");
    assert_eq!(v["port"], 40000);
    assert_eq!(v["flags"], "0x8000");
    assert_eq!(v["cone"], true);
    assert_eq!(v["random_bits"], 0);
    assert_eq!(v["legacy"], false);
    assert_eq!(v["teredo"], true);
}

#[test]
fn non_teredo_is_not_an_error_but_garbage_is() {
    let o = sixfold(&[
        "teredo",
        "decode",
        "--json",
        "2002:c000:201::1",
        "3ffe:831f:4136:e378:8000:63bf:3fff:fdd2",
    ]);
    assert!(o.status.success());
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["teredo"], false);
    assert_eq!(lines[0]["kind"], "6to4");
    assert_eq!(lines[1]["legacy"], true);

    let o = sixfold(&["teredo", "decode", "2001::", "not-an-address"]);
    assert!(!o.status.success());
    assert!(
        stdout(&o).contains("2001::  teredo"),
        "valid arguments are still decoded"
    );
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("\"not-an-address\" is not an IPv6 address"),
        "{err}"
    );
}

#[test]
fn encode_inverts_decode() {
    let o = sixfold(&[
        "teredo",
        "encode",
        "--server",
        "65.54.227.120",
        "--client",
        "192.0.2.45",
        "--port",
        "40000",
        "--cone",
    ]);
    assert_eq!(stdout(&o).trim(), "2001:0:4136:e378:8000:63bf:3fff:fdd2");
    let o = sixfold(&[
        "teredo",
        "encode",
        "--server",
        "203.0.113.10",
        "--client",
        "203.0.113.1",
        "--port",
        "44331",
        "--random-bits",
        "1288",
    ]);
    assert_eq!(stdout(&o).trim(), "2001:0:cb00:710a:1408:52d4:34ff:8efe");
    let o = sixfold(&[
        "teredo",
        "encode",
        "--server",
        "1.2.3.4",
        "--client",
        "1.2.3.4",
        "--port",
        "1",
        "--random-bits",
        "4096",
    ]);
    assert!(!o.status.success());
}

#[test]
fn exposure_figures() {
    let o = sixfold(&["teredo", "exposure", "--hosts", "100", "--json"]);
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[0]["bits"], 17);
    assert_eq!(rows[0]["probes_for_50_percent"], 909.0);
    assert_eq!(rows[1]["bits"], 28);
    let o = sixfold(&["teredo", "exposure", "2002::1", "--hosts", "1"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8(o.stderr)
            .unwrap()
            .contains("not a Teredo address")
    );
}

#[test]
fn addr_classifies() {
    let o = sixfold(&[
        "addr",
        "--json",
        "64:ff9b::c000:221",
        "fe80::5efe:a4d:2",
        "2001:db8:122:344:c0:2:2100:0",
        "--nat64-prefix",
        "2001:db8:122:344::/64",
    ]);
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[0]["kind"], "nat64");
    assert_eq!(rows[0]["ipv4"], "192.0.2.33");
    assert_eq!(rows[1]["kind"], "isatap");
    assert_eq!(rows[2]["ipv4"], "192.0.2.33");
    let o = sixfold(&["addr", "::1", "--nat64-prefix", "2001:db8::/44"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8(o.stderr)
            .unwrap()
            .contains("--nat64-prefix")
    );
}

#[test]
fn scan_pcap_summary() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../teredo/tests/data/");
    let o = sixfold(&[
        "teredo",
        "scan-pcap",
        &format!("{dir}miredo-qualification.pcap"),
    ]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.ends_with("22 frames; 22 teredo\n"), "{out}");
    assert!(
        out.contains("frame 2: teredo ra  203.0.113.10:3544 → 203.0.113.1:44331  auth"),
        "{out}"
    );
    assert!(out.contains("origin 203.0.113.1:44331"));
    let o = sixfold(&[
        "teredo",
        "scan-pcap",
        &format!("{dir}proto41-6in4-6to4-isatap.pcap"),
    ]);
    assert!(stdout(&o).ends_with("12 frames; 4 6in4, 4 6to4, 4 isatap\n"));
    let o = sixfold(&["teredo", "scan-pcap", "/nonexistent.pcap"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8(o.stderr)
            .unwrap()
            .contains("cannot read capture /nonexistent.pcap")
    );
}

#[test]
fn nat_lookup_answers_for_range_subscribers_from_the_configuration() {
    // One [[subscriber]] address (number 0), then the range's 8 (1-8); 16128
    // ports each: 4 per public address (RFC 7422).
    let dir = std::env::temp_dir().join(format!("sixfold-r16a-lookup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("box.toml");
    std::fs::write(
        &config,
        "[nat]\npool = [\"203.0.113.1\", \"203.0.113.2\", \"203.0.113.3\"]\nallocation = \"deterministic\"\nblock_size = 16128\n\
         [[subscriber]]\nname = \"s\"\nipv4 = [\"100.65.0.1\"]\n\
         [[subscriber_range]]\nname = \"inside\"\nipv4 = \"100.64.0.0/29\"\n",
    )
    .unwrap();
    let path = config.to_str().unwrap();
    // 100.64.0.5 is inside address 6: 203.0.113.2, range 2 (1024 + 2 × 16128).
    let o = sixfold(&["nat", "lookup", "--config", path, "100.64.0.5"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        stdout(&o),
        "100.64.0.5 (inside/100.64.0.5) -> 203.0.113.2 ports 33280-49407 (16128 ports)\n"
    );
    let o = sixfold(&["nat", "lookup", "--config", path, "203.0.113.2:40000"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        stdout(&o),
        "203.0.113.2:40000 -> inside/100.64.0.5 (inside 100.64.0.5), whose range is 203.0.113.2 ports 33280-49407 (RFC 7422: no log needed)\n"
    );
    let o = sixfold(&["nat", "lookup", "--config", path, "203.0.113.3:1024"]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        stdout(&o).starts_with("203.0.113.3:1024 -> inside/100.64.0.7 "),
        "{o:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
