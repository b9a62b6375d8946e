//! Prints criterion results as Markdown tables: median time and throughput per
//! implementation and size, plus ratios against the fastest peer and the ceiling.
//!
//! Usage: `bench-table GROUP_PREFIX [CRITERION_DIR ...]` (e.g. `checksum`), run from
//! the workspace root after `cargo bench`. Without directories it reads
//! `$CARGO_TARGET_DIR/criterion` (default `target/criterion`). With several (copies
//! of criterion's output from repeated runs) each cell is the median of the runs'
//! medians, so one noisy run of one contender does not decide a ratio.

use sixfold_benches::{Measurement, load, markdown, median_of_runs};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(prefix) = std::env::args().nth(1) else {
        eprintln!("usage: bench-table GROUP_PREFIX   (e.g. bench-table checksum)");
        return ExitCode::from(2);
    };
    let mut dirs: Vec<PathBuf> = std::env::args_os().skip(2).map(PathBuf::from).collect();
    if dirs.is_empty() {
        dirs.push(
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| PathBuf::from("target"), PathBuf::from)
                .join("criterion"),
        );
    }
    let mut runs = Vec::new();
    for dir in &dirs {
        match load(dir) {
            Ok(r) => runs.push(
                r.into_iter()
                    .filter(|m| m.group.starts_with(&prefix))
                    .collect(),
            ),
            Err(e) => {
                eprintln!("bench-table: cannot read {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let results: Vec<Measurement> = median_of_runs(runs);
    let dir = dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if results.is_empty() {
        eprintln!(
            "bench-table: no results for group {prefix:?} under {dir} (run cargo bench first)"
        );
        return ExitCode::FAILURE;
    }
    print!("{}", markdown(&results));
    ExitCode::SUCCESS
}
