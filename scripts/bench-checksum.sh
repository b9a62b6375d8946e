#!/usr/bin/env bash
# Runs the checksum benchmark (every variant, checksum(), peer crates, u64-sum
# ceiling, 8 sizes) and prints the Markdown table of medians and ratios.
# Extra arguments go to criterion, e.g. `--measurement-time 3` or a filter '1500/'.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p sixfold-benches --bench checksum -- "$@" >&2
cargo run --quiet --release -p sixfold-benches --bin bench-table -- checksum
