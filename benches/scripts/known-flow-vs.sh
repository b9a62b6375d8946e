#!/usr/bin/env bash
# Known-flow cost through Router::process (the `families` bench, accounting off)
# of this checkout against another one, e.g. the commit before a wave of features:
#   git worktree add /tmp/base 900164c
#   cp benches/src/known_flow.rs /tmp/base/benches/src/   # only for instruction counts
#   benches/scripts/known-flow-vs.sh /tmp/base
# Runs the two bench binaries alternately, ROUNDS rounds (default 5), each
# criterion run MEASURE seconds per function (default 3); per round the median of
# each function; prints the medians over rounds and the ratio this / other.
# Time on a shared machine is noisy: interleaving puts both under the same load;
# benches/scripts/known-flow-instructions.sh counts instructions instead.
# CPUTIME=1 adds a second measure, less disturbed by other processes than wall
# time: the CPU time (user + system, GNU time) of the known-flow driver
# (benches/src/bin/known-flow.rs, in both checkouts) over PACKETS packets (default
# 6,000,000) minus its run with none, per packet, both checkouts alternately,
# ROUNDS rounds; minimum and median.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
other=${1:?usage: known-flow-vs.sh OTHER_CHECKOUT}
ROUNDS=${ROUNDS:-5}
MEASURE=${MEASURE:-3}
bin() { # checkout -> the families bench executable
    (cd "$1" && cargo bench -q -p sixfold-benches --bench families --no-run --message-format=json 2>/dev/null) |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "families" and m.get("executable"):
        print(m["executable"])'
}
a=$(bin "$here"); b=$(bin "$other")
[[ -x $a && -x $b ]] || { echo "could not build both bench binaries" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq "$ROUNDS"); do
    for side in this other; do
        if [[ $side == this ]]; then exe=$a; tree=$here; else exe=$b; tree=$other; fi
        (cd "$tree" && "$exe" --bench known-flow --measurement-time "$MEASURE" >/dev/null 2>&1)
        for f in "$tree"/target/criterion/families/*known-flow; do
            python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' \
                "$f/new/estimates.json" >>"$out/$side.$(basename "$f")"
        done
    done
done
python3 - "$out" <<'PY'
import os, statistics, sys
d = sys.argv[1]
names = sorted({f.split(".", 1)[1] for f in os.listdir(d)})
print("| known flow | this (ns) | other (ns) | this / other | rounds this | rounds other |")
print("|---|---:|---:|---:|---|---|")
for n in names:
    t = [float(x) for x in open(f"{d}/this.{n}")]
    o = [float(x) for x in open(f"{d}/other.{n}")]
    mt, mo = statistics.median(t), statistics.median(o)
    fmt = lambda v: " ".join(f"{x:.1f}" for x in v)
    print(f"| {n.replace('-known-flow', '')} | {mt:.1f} | {mo:.1f} | {mt / mo:.3f} | {fmt(t)} | {fmt(o)} |")
PY
[[ ${CPUTIME:-0} == 1 ]] || exit 0
PACKETS=${PACKETS:-6000000}
for t in "$here" "$other"; do
    (cd "$t" && cargo build -q --profile bench -p sixfold-benches --bin known-flow)
done
cpu() { # checkout family direction packets -> CPU seconds
    { /usr/bin/time -f "%U %S" "$1/target/release/known-flow" "$2" "$3" "$4" >/dev/null; } 2>&1 |
        tail -1 | awk '{print $1 + $2}'
}
for c in "ipv4 outbound" "ipv4 inbound" "ipv6 outbound" "ipv6 inbound"; do
    for r in $(seq "$ROUNDS"); do
        for side in this other; do
            if [[ $side == this ]]; then tree=$here; else tree=$other; fi
            full=$(cpu "$tree" $c "$PACKETS")
            none=$(cpu "$tree" $c 0)
            echo "$c $side $(echo "($full - $none) * 1000000000 / $PACKETS" | bc -l)"
        done
    done
done | python3 -c '
import collections, statistics, sys
d = collections.defaultdict(list)
for line in sys.stdin:
    fam, direction, side, ns = line.split()
    d[(fam + " " + direction, side)].append(float(ns))
print()
print("| known flow, driver CPU time | this min / median (ns) | other min / median (ns) | this / other (min) | this / other (median) |")
print("|---|---:|---:|---:|---:|")
for case in dict.fromkeys(k[0] for k in d):
    t, o = d[(case, "this")], d[(case, "other")]
    print(f"| {case} | {min(t):.1f} / {statistics.median(t):.1f} | {min(o):.1f} / {statistics.median(o):.1f} "
          f"| {min(t) / min(o):.3f} | {statistics.median(t) / statistics.median(o):.3f} |")
'
