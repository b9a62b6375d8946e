#!/usr/bin/env bash
# Runs the checksum benchmark (every variant, checksum(), peer crates, the SSE2,
# AVX2 and AVX-512 u64 read loops, 9 sizes) RUNS times (default 3) and prints the
# Markdown table of the median of the runs' criterion medians, with ratios to the
# fastest peer and to the faster of the AVX2 and AVX-512 read loops. Repeating the
# whole run interleaves the contenders in time on a shared, noisy machine.
# Extra arguments go to criterion, e.g. `--measurement-time 3` or a filter '1500/'.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
runs=()
for ((i = 1; i <= ${RUNS:-3}; i++)); do
    # Each copy holds this run's results only, not older ones of other sizes or rows.
    rm -rf "$target"/criterion/checksum_*
    cargo bench -p sixfold-benches --bench checksum -- "$@" >&2
    rm -rf "$target/criterion-checksum-run$i"
    cp -r "$target/criterion" "$target/criterion-checksum-run$i"
    runs+=("$target/criterion-checksum-run$i")
done
cargo run --quiet --release -p sixfold-benches --bin bench-table -- checksum "${runs[@]}"
