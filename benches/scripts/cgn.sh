#!/usr/bin/env bash
# Runs the carrier-grade benchmark (new sessions under each allocation mode; a
# known flow with accounting off and on) RUNS times (default 3), so the
# contenders interleave in time on a shared machine, and prints each cell as the
# median of the runs' criterion medians; then the memory per live block and per
# accounted flow. Extra arguments go to criterion.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
runs=()
for ((i = 1; i <= ${RUNS:-3}; i++)); do
    rm -rf "$target"/criterion/cgn-*
    cargo bench -p sixfold-benches --bench cgn -- "$@" >&2
    rm -rf "$target/criterion-cgn-run$i"
    cp -r "$target/criterion" "$target/criterion-cgn-run$i"
    runs+=("$target/criterion-cgn-run$i")
done
for group in cgn-new-session cgn-known-flow-16 cgn-known-flow-4096; do
    echo "## $group (ns per packet; column: packet bytes, 64 = IPv4, 84 = IPv6)"
    cargo run --quiet --release -p sixfold-benches --bin bench-table -- "$group" "${runs[@]}"
done
cargo run --quiet --release -p sixfold-benches --bin cgn-memory
