#!/usr/bin/env bash
# The handover's pause (issue 24): first as a function of the NAT sessions the
# router holds, in process (save, encode/decode, a new router, restore; median
# of RUNS, default 5), then, as root, in the lab: `sixfold upgrade` five times
# on `sixfold lab --keep` with a ping running, each answer's "paused" line (the
# time the packet loops stood still) and their median.
set -euo pipefail
cd "$(dirname "$0")/../.."
# `handover.sh lab` skips the first part.
if [[ ${1:-} != lab ]]; then
    cargo run --quiet --release -p sixfold-benches --bin handover-pause -- "${RUNS:-5}"
fi
if [[ $(id -u) != 0 ]]; then
    echo "(not root: the lab's pause is not measured)"
    exit 0
fi
cargo build --quiet --release -p sixfold
bin=$PWD/target/release/sixfold
prefix=sfho
fifo=$(mktemp -u)
mkfifo "$fifo"
exec 3<>"$fifo"
"$bin" lab --keep --prefix $prefix --subscribers 1 <"$fifo" >/dev/null 2>&1 &
lab=$!
trap 'kill $lab 2>/dev/null; wait $lab 2>/dev/null; rm -f "$fifo"' EXIT
for _ in $(seq 300); do
    "$bin" stats --socket /run/sixfold-$prefix.sock >/dev/null 2>&1 && break
    sleep 0.1
done
ip netns exec $prefix-sub1 ping -q -i 0.01 -c 1500 192.0.2.80 >/dev/null &
pinger=$!
pauses=()
for _ in 1 2 3 4 5; do
    sleep 2
    out=$("$bin" upgrade --socket /run/sixfold-$prefix.sock)
    echo "$out" | head -1
    pauses+=("$(echo "$out" | awk '/^paused/ {print $2}')")
done
wait $pinger || true
printf '%s\n' "${pauses[@]}" | sort -g | awk '{a[NR]=$1} END {printf "lab: pause per upgrade, median of %d: %.1f ms\n", NR, a[int((NR+1)/2)]*1000}'
