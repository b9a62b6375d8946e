//! Prints criterion results as Markdown tables: median time and throughput per
//! implementation and size, plus ratios against the fastest peer and the ceiling.
//!
//! Usage: `bench-table GROUP_PREFIX` (e.g. `checksum`), run from the workspace root
//! after `cargo bench`. Reads `$CARGO_TARGET_DIR/criterion` (default `target/criterion`).

use sixfold_benches::{Measurement, load, markdown};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(prefix) = std::env::args().nth(1) else {
        eprintln!("usage: bench-table GROUP_PREFIX   (e.g. bench-table checksum)");
        return ExitCode::from(2);
    };
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("criterion");
    let results: Vec<Measurement> = match load(&dir) {
        Ok(r) => r
            .into_iter()
            .filter(|m| m.group.starts_with(&prefix))
            .collect(),
        Err(e) => {
            eprintln!("bench-table: cannot read {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    if results.is_empty() {
        eprintln!(
            "bench-table: no results for group {prefix:?} under {} (run cargo bench first)",
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    print!("{}", markdown(&results));
    ExitCode::SUCCESS
}
