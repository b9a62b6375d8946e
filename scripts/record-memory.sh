#!/usr/bin/env bash
# What `sixfold nat lookup` needs to answer from a large capture of the IPFIX
# export (README, "Who had this address and port at this time?"): writes a
# capture of MEGABYTES (default 1024) of a busy router's export with the
# router's own encoder (benches/src/bin/ipfix-capture.rs), then asks the one
# question in it under an address-space limit of LIMIT bytes (default
# 300000000, `prlimit --as`), printing the answer, its exit code, the wall time
# and the peak resident memory (GNU time). The capture is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-1024}
limit=${LIMIT:-300000000}
target=${CARGO_TARGET_DIR:-target}
cargo build --quiet --release -p sixfold -p sixfold-benches --bin sixfold --bin ipfix-capture
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[nat]\npool = ["203.0.113.0/24"]\n[[subscriber]]\nname = "holder"\nipv4 = ["100.64.200.1"]\n' \
    >"$work/router.toml"
made=$("$target/release/ipfix-capture" "$work/export.pcap" "$mb")
echo "capture: $made"
at=$(sed -E 's/.*--at ([0-9.]+) .*/\1/' <<<"$made")
set +e
/usr/bin/time -f 'wall %e s, peak resident %M KiB' prlimit --as="$limit" \
    "$target/release/sixfold" nat lookup --config "$work/router.toml" \
    --ipfix-pcap "$work/export.pcap" --at "$at" 203.0.113.7:40000
echo "exit $? (prlimit --as=$limit; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
