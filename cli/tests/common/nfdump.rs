//! The IPFIX collector nobody here wrote: records that Debian's nfcapd stored,
//! as nfdump reads them (JSON).

use std::path::Path;
use std::process::Command;

/// nfdump's flow records (NAT events left out) in every file of `dir`.
pub fn nfdump_flows(dir: &Path) -> Vec<serde_json::Value> {
    nfdump_records(dir)
        .into_iter()
        .filter(|r| r.get("nat_event").is_none())
        .collect()
}

/// Every record nfdump reads in the files of `dir`.
pub fn nfdump_records(dir: &Path) -> Vec<serde_json::Value> {
    let mut flows = Vec::new();
    for f in std::fs::read_dir(dir).unwrap() {
        let path = f.unwrap().path();
        let out = Command::new("nfdump")
            .arg("-r")
            .arg(&path)
            .args(["-o", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "nfdump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        // nfcapd rotates its file every `-t` seconds, so a run that crosses a
        // boundary leaves a file with no flows, which nfdump prints as
        // "[\nNo matching flows\n]": not JSON, and nothing to add.
        let text = text.replace("No matching flows", "");
        if text.trim().is_empty() || is_empty_array(&text) {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("nfdump -o json -r {}: {e}\n{text}", path.display()));
        flows.extend(v.as_array().unwrap().iter().cloned());
    }
    flows
}

/// Whether `text` is a JSON array with nothing in it but white space.
fn is_empty_array(text: &str) -> bool {
    let t = text.trim();
    t.starts_with('[') && t.ends_with(']') && t[1..t.len() - 1].trim().is_empty()
}

/// Sum of (packets, bytes) of `flows` whose `field` satisfies `mine`.
pub fn total(flows: &[serde_json::Value], field: &str, mine: impl Fn(&str) -> bool) -> (u64, u64) {
    flows
        .iter()
        .filter(|f| f[field].as_str().is_some_and(&mine))
        .fold((0, 0), |(p, b), f| {
            (
                p + f["in_packets"].as_u64().unwrap(),
                b + f["in_bytes"].as_u64().unwrap(),
            )
        })
}
