//! RFC 6052 embedding and extraction agree with an independent Python
//! implementation on CPython's `ipaddress` (network validation, integer
//! arithmetic, RFC 5952 formatting): 2,000 random prefixes and IPv4 addresses at
//! each of /32, /40, /48, /56, /64 and /96, plus the corners. Python also puts
//! random bits into the suffix, which extraction must ignore. Skips loudly
//! without python3, fails instead when `SIXFOLD_REQUIRE_ORACLES=1`.

use sixfold_rewrite::addr::Nat64Prefix;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};

mod common;

/// Reads `prefix length ipv4` lines; prints the embedded address as 32 hex
/// digits and compressed, and the address with random suffix bits.
const SCRIPT: &str = r#"
import ipaddress, random, sys
random.seed(6052)
for line in sys.stdin:
    prefix, length, v4 = line.split()
    length = int(length)
    net = ipaddress.IPv6Network(f"{prefix}/{length}")  # strict: no host bits
    n, a = int(net.network_address), int(ipaddress.IPv4Address(v4))
    if length == 96:
        x, suffix_mask = n | a, 0
    else:
        before = min(32, 64 - length)  # IPv4 bits before the u octet (bits 64-71)
        after = 32 - before
        x = n | (a >> after) << (128 - length - before) | (a & ((1 << after) - 1)) << (56 - after)
        suffix_mask = (1 << (56 - after)) - 1
    noisy = x | (random.getrandbits(128) & suffix_mask)
    print("%032x %s %s" % (x, ipaddress.IPv6Address(x), ipaddress.IPv6Address(noisy)))
"#;

#[test]
fn agrees_with_python_ipaddress() {
    let Some(python) = common::python("import ipaddress", "Python ipaddress oracle for RFC 6052")
    else {
        return;
    };
    let mut x: u128 = 0x6052_7757_6791_7915_0123_4567_89ab_cdef;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut cases: Vec<(Nat64Prefix, Ipv4Addr)> = Vec::new();
    for len in [32u8, 40, 48, 56, 64, 96] {
        let mask = u128::MAX << (128 - len);
        for i in 0..2_000 {
            let mut bits = next() & mask;
            bits &= !(0xFFu128 << 56); // the u octet is zero in a valid prefix
            let ipv4 = match i {
                0 => Ipv4Addr::UNSPECIFIED,
                1 => Ipv4Addr::BROADCAST,
                _ => Ipv4Addr::from_bits(next() as u32),
            };
            let prefix = Nat64Prefix::new(Ipv6Addr::from_bits(bits), len).unwrap();
            cases.push((prefix, ipv4));
        }
    }
    cases.push((Nat64Prefix::WELL_KNOWN, Ipv4Addr::new(192, 0, 2, 33)));

    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = cases
        .iter()
        .map(|(p, a)| format!("{} {} {a}\n", p.prefix().addr(), p.prefix().prefix_len()))
        .collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), cases.len());
    for ((prefix, ipv4), line) in cases.iter().zip(lines) {
        let mut f = line.split(' ');
        let (hex, compressed, noisy) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        let embedded = prefix.embed(*ipv4);
        let want = u128::from_str_radix(hex, 16).unwrap();
        assert_eq!(embedded.to_bits(), want, "{prefix:?} {ipv4}");
        assert_eq!(
            embedded.to_string(),
            compressed,
            "RFC 5952 text of {want:032x}"
        );
        let noisy: Ipv6Addr = noisy.parse().unwrap();
        assert_eq!(
            prefix.extract(noisy),
            Some(*ipv4),
            "{noisy}: the suffix is ignored"
        );
        let u_set = Ipv6Addr::from_bits(embedded.to_bits() | 1 << 56);
        assert_eq!(prefix.extract(u_set), None, "{u_set}: u octet set");
    }
}
