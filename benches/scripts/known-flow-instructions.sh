#!/usr/bin/env bash
# Instructions per known-flow packet through Router::process (the `families`
# bench's workload, accounting off), counted by callgrind: exact and repeatable on
# a busy machine, unlike time. Only the packet loop is counted
# (--toggle-collect=known_flow::run), so the set-up drops out.
# Optional arguments: other checkouts to compare, each holding the same driver
# (benches/src/bin/known-flow.rs and benches/src/known_flow.rs), e.g.
#   benches/scripts/known-flow-instructions.sh /work/wt-base900
# prints one column per checkout, this one first. PACKETS (default 200000).
# KEEP=dir keeps each callgrind profile there (callgrind_annotate reads them).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
PACKETS=${PACKETS:-200000}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
trees=("$here" "$@")
for t in "${trees[@]}"; do
    (cd "$t" && cargo build -q --profile bench -p sixfold-benches --bin known-flow)
done
count() { # tree family direction -> instructions per packet
    local out="${KEEP:-/tmp}/callgrind.$(basename "$1").$2.$3.$$"
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect='known_flow::run' \
        --callgrind-out-file="$out" "$1/target/release/known-flow" "$2" "$3" "$PACKETS" \
        >/dev/null 2>&1 || { echo "callgrind failed on $1 $2 $3" >&2; exit 1; }
    local ir
    ir=$(awk '/^summary:/ {print $2}' "$out")
    [ -n "${KEEP:-}" ] || rm -f "$out"
    echo "$ir / $PACKETS" | bc -l
}
printf '%-22s' "instructions/packet"
for t in "${trees[@]}"; do printf ' %14s' "$(basename "$t")"; done
echo
for family in ipv4 ipv6; do
    for dir in outbound inbound; do
        printf '%-22s' "$family $dir"
        for t in "${trees[@]}"; do printf ' %14.1f' "$(count "$t" $family $dir)"; done
        echo
    done
done
