//! Helpers shared by the benchmarks and the `bench-table` report: reading criterion's
//! JSON output and rendering it as Markdown tables.

pub mod known_flow;
pub mod nat_load;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// Resident set size of this process in bytes (Linux `VmRSS`: what memory
/// figures measure, allocator overhead and hash-table headroom included).
pub fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

/// The criterion settings the benches share: short warm-up and measurement windows,
/// so a whole table takes minutes; criterion's command-line flags
/// (`--measurement-time`, `--warm-up-time`, `--sample-size`) override them.
pub fn criterion_config() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(900))
        .sample_size(40)
        .configure_from_args()
}

/// One benchmark result: criterion's median estimate for one implementation at one size.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Criterion group id, e.g. `checksum/1500`.
    pub group: String,
    /// Implementation name (criterion's function id).
    pub implementation: String,
    /// Size in bytes (criterion's parameter).
    pub size: u64,
    /// Median time per iteration in nanoseconds.
    pub median_ns: f64,
    /// Bytes processed per iteration, if the group declared a byte throughput.
    pub bytes: Option<u64>,
}

impl Measurement {
    /// Throughput in GB/s (10^9 bytes per second), if known.
    pub fn gb_per_s(&self) -> Option<f64> {
        self.bytes.map(|b| b as f64 / self.median_ns)
    }
}

/// Reads every `new/benchmark.json` + `new/estimates.json` pair under `dir`.
pub fn load(dir: &Path) -> std::io::Result<Vec<Measurement>> {
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    out.sort_by(|a, b| {
        (a.size, &a.implementation)
            .partial_cmp(&(b.size, &b.implementation))
            .unwrap()
    });
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<Measurement>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            if let Some(m) = read_one(&path) {
                out.push(m);
            }
        } else {
            walk(&path, out)?;
        }
    }
    Ok(())
}

fn read_one(dir: &Path) -> Option<Measurement> {
    let bench: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("benchmark.json")).ok()?).ok()?;
    let est: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("estimates.json")).ok()?).ok()?;
    Some(Measurement {
        group: bench["group_id"].as_str()?.to_owned(),
        implementation: bench["function_id"].as_str()?.to_owned(),
        size: bench["value_str"].as_str()?.parse().ok()?,
        median_ns: est["median"]["point_estimate"].as_f64()?,
        bytes: bench["throughput"]["Bytes"].as_u64(),
    })
}

/// Combines repeated runs: one measurement per (group, implementation, size), whose
/// time is the median of the runs' medians (the lower middle one for an even count).
/// Cells missing from some runs use the runs that have them.
pub fn median_of_runs(runs: Vec<Vec<Measurement>>) -> Vec<Measurement> {
    let mut cells: BTreeMap<(String, String, u64), Vec<Measurement>> = BTreeMap::new();
    for m in runs.into_iter().flatten() {
        cells
            .entry((m.group.clone(), m.implementation.clone(), m.size))
            .or_default()
            .push(m);
    }
    let mut out: Vec<Measurement> = cells
        .into_values()
        .map(|mut ms| {
            ms.sort_by(|a, b| a.median_ns.total_cmp(&b.median_ns));
            ms.swap_remove((ms.len() - 1) / 2)
        })
        .collect();
    out.sort_by(|a, b| {
        (a.size, &a.implementation)
            .partial_cmp(&(b.size, &b.implementation))
            .unwrap()
    });
    out
}

fn size_label(size: u64) -> String {
    if size >= 1 << 20 && size.is_multiple_of(1 << 20) {
        format!("{} MiB", size >> 20)
    } else {
        size.to_string()
    }
}

/// Whether a row is a reference loop rather than an implementation: a read loop
/// (named "… read loop …") or the bandwidth ceiling (named "… ceiling …").
fn is_reference(name: &str) -> bool {
    name.contains("ceiling") || name.contains("read loop")
}

/// Whether an implementation is a peer crate: not one of ours, not a reference loop.
fn is_peer(name: &str) -> bool {
    !name.starts_with("sixfold") && !is_reference(name)
}

/// Renders throughput (GB/s) and time (ns) tables, one row per implementation and
/// one column per size, and the ratios of `sixfold checksum()` (or the first sixfold
/// row) to the fastest peer and to the ceiling: the fastest of the rows whose name
/// contains "ceiling" at that size.
pub fn markdown(results: &[Measurement]) -> String {
    let mut sizes: Vec<u64> = results.iter().map(|m| m.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut rows: Vec<&str> = Vec::new();
    for m in results {
        if !rows.contains(&m.implementation.as_str()) {
            rows.push(&m.implementation);
        }
    }
    rows.sort_by_key(|r| (is_reference(r), is_peer(r), r.to_string()));
    let cell: BTreeMap<(&str, u64), &Measurement> = results
        .iter()
        .map(|m| ((m.implementation.as_str(), m.size), m))
        .collect();

    let mut s = String::new();
    let header = |s: &mut String, title: &str| {
        let _ = write!(s, "| {title} |");
        for size in &sizes {
            let _ = write!(s, " {} |", size_label(*size));
        }
        s.push('\n');
        s.push_str("|---|");
        s.push_str(&"---:|".repeat(sizes.len()));
        s.push('\n');
    };
    let has_bytes = results.iter().any(|m| m.bytes.is_some());
    if has_bytes {
        header(&mut s, "GB/s (median)");
        for row in &rows {
            let _ = write!(s, "| {row} |");
            for size in &sizes {
                match cell.get(&(*row, *size)).and_then(|m| m.gb_per_s()) {
                    Some(g) => {
                        let _ = write!(s, " {g:.2} |");
                    }
                    None => s.push_str(" – |"),
                }
            }
            s.push('\n');
        }
        s.push('\n');
    }
    header(&mut s, "ns per call (median)");
    for row in &rows {
        let _ = write!(s, "| {row} |");
        for size in &sizes {
            match cell.get(&(*row, *size)) {
                Some(m) => {
                    let _ = write!(s, " {:.1} |", m.median_ns);
                }
                None => s.push_str(" – |"),
            }
        }
        s.push('\n');
    }

    let ours = rows
        .iter()
        .copied()
        .find(|r| r.contains("checksum()"))
        .or_else(|| rows.iter().copied().find(|r| r.starts_with("sixfold")));
    if let Some(ours) = ours {
        s.push('\n');
        header(&mut s, &format!("{ours} vs"));
        let mut best_peer = String::from("| fastest peer (× faster) |");
        let mut ceiling = String::from("| fastest ceiling row (fraction of its speed) |");
        for size in &sizes {
            let Some(mine) = cell.get(&(ours, *size)) else {
                continue;
            };
            let fastest = |keep: fn(&str) -> bool| {
                rows.iter()
                    .filter(|r| keep(r))
                    .filter_map(|r| cell.get(&(*r, *size)))
                    .min_by(|a, b| a.median_ns.total_cmp(&b.median_ns))
            };
            match fastest(is_peer) {
                Some(p) => {
                    let _ = write!(
                        best_peer,
                        " {:.2} ({}) |",
                        p.median_ns / mine.median_ns,
                        p.implementation
                    );
                }
                None => best_peer.push_str(" – |"),
            }
            match fastest(|r| r.contains("ceiling")) {
                Some(c) => {
                    let _ = write!(
                        ceiling,
                        " {:.0}% ({}) |",
                        100.0 * c.median_ns / mine.median_ns,
                        c.implementation
                    );
                }
                None => ceiling.push_str(" – |"),
            }
        }
        s.push_str(&best_peer);
        s.push('\n');
        s.push_str(&ceiling);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(implementation: &str, size: u64, ns: f64) -> Measurement {
        Measurement {
            group: format!("checksum/{size}"),
            implementation: implementation.into(),
            size,
            median_ns: ns,
            bytes: Some(size),
        }
    }

    #[test]
    fn median_of_three_runs_per_cell() {
        let runs = vec![
            vec![m("a", 64, 3.0), m("b", 64, 9.0)],
            vec![m("a", 64, 1.0)],
            vec![m("a", 64, 2.0), m("b", 64, 5.0)],
        ];
        let r = median_of_runs(runs);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].implementation.as_str(), r[0].median_ns), ("a", 2.0));
        assert_eq!((r[1].implementation.as_str(), r[1].median_ns), ("b", 5.0));
    }

    #[test]
    fn renders_throughput_and_ratios() {
        let r = [
            m("sixfold checksum()", 1500, 15.0),
            m("smoltcp 0.14", 1500, 45.0),
            m("pnet", 1500, 200.0),
            m("u64 read loop, SSE2", 1500, 10.0),
            m("read loop A (ceiling)", 1500, 13.0),
            m("read loop B (ceiling)", 1500, 12.0),
        ];
        let t = markdown(&r);
        assert!(t.contains("| sixfold checksum() | 100.00 |"), "{t}");
        assert!(
            t.contains("| fastest peer (× faster) | 3.00 (smoltcp 0.14) |"),
            "{t}"
        );
        assert!(
            t.contains(
                "| fastest ceiling row (fraction of its speed) | 80% (read loop B (ceiling)) |"
            ),
            "{t}"
        );
        assert!(t.contains("| 1500 |"), "{t}");
    }
}
