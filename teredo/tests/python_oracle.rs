//! Agreement with CPython's `ipaddress` (`IPv6Address.teredo` and `.sixtofour`) on
//! 10,000+ random addresses per run. Skips loudly without python3, fails instead
//! when `SIXFOLD_REQUIRE_ORACLES=1` (the test command sets it).

use sixfold_teredo::{AddressKind, Teredo, classify};
use std::io::Write;
use std::net::Ipv6Addr;
use std::process::{Command, Stdio};

const SCRIPT: &str = r#"
import ipaddress, sys
for line in sys.stdin:
    a = ipaddress.IPv6Address(line.strip())
    t = a.teredo
    s = a.sixtofour
    print("%s %s %s" % (f"{t[0]}/{t[1]}" if t else "-", s if s else "-", a.exploded))
"#;

#[test]
fn agrees_with_python_ipaddress() {
    let required = std::env::var("SIXFOLD_REQUIRE_ORACLES").is_ok_and(|v| v == "1");
    let python = ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(python) = python else {
        assert!(
            !required,
            "SIXFOLD_REQUIRE_ORACLES=1 but python3 is missing"
        );
        eprintln!("\n*** SKIPPED: Python ipaddress oracle — python3 not found ***\n");
        return;
    };
    // Random addresses: a third under 2001::/32, a third under 2002::/16, a third anywhere,
    // plus the corners.
    let mut x: u128 = 0x0123_4567_89AB_CDEF_FEDC_BA98_7654_3210;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut addrs: Vec<Ipv6Addr> = (0..12_000)
        .map(|i| {
            let r = next();
            Ipv6Addr::from_bits(match i % 3 {
                0 => 0x2001_0000u128 << 96 | (r & ((1 << 96) - 1)),
                1 => 0x2002u128 << 112 | (r & ((1 << 112) - 1)),
                _ => r,
            })
        })
        .collect();
    addrs.extend(
        [
            "2001::",
            "2001:0:ffff:ffff:ffff:ffff:ffff:ffff",
            "2002::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ]
        .map(|s| s.parse::<Ipv6Addr>().unwrap()),
    );

    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = addrs.iter().map(|a| format!("{a}\n")).collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), addrs.len());
    let mut teredo = 0;
    for (addr, line) in addrs.iter().zip(lines) {
        let mut f = line.split(' ');
        let (py_teredo, py_6to4) = (f.next().unwrap(), f.next().unwrap());
        let ours_teredo = match Teredo::decode(*addr) {
            Some(t) if !t.is_legacy() => format!("{}/{}", t.server, t.client),
            _ => "-".into(),
        };
        assert_eq!(ours_teredo, py_teredo, "{addr}");
        let ours_6to4 = match classify(*addr) {
            AddressKind::SixToFour { ipv4, .. } => ipv4.to_string(),
            _ => "-".into(),
        };
        assert_eq!(ours_6to4, py_6to4, "{addr}");
        teredo += (py_teredo != "-") as usize;
    }
    assert!(
        teredo >= 4000,
        "only {teredo} Teredo addresses were compared"
    );
}
