#!/usr/bin/env bash
# `sixfold rewrite` against tcprewrite on the same 1,000,000-packet capture with the
# same options: ROUNDS rounds (default 5), the two tools alternately in each, medians
# of wall-clock, user and system time, and user time per packet. Files live in
# /dev/shm when it exists, so the disk does not decide. Needs tcprewrite (Debian
# tcpreplay), python3-scapy and GNU time.
# Usage: benches/scripts/rewrite-vs-tcprewrite.sh [PACKETS]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000000}
dir=$(mktemp -d -p "$( [ -d /dev/shm ] && echo /dev/shm || echo /tmp )")
trap 'rm -rf "$dir"' EXIT
cargo build --quiet --release -p sixfold --bin sixfold
/usr/bin/python3 benches/scripts/make_million.py "$dir/in.pcap" "$n" 2>/dev/null
opts_ours=(--srcipmap 10.0.0.0/8:172.16.0.0/12 --dstipmap 198.51.100.0/24:203.0.113.0/24 --portmap 53:5353 --ttl -1)
opts_theirs=(--srcipmap=10.0.0.0/8:172.16.0.0/12 --dstipmap=198.51.100.0/24:203.0.113.0/24 --portmap=53:5353 --ttl=-1)
ROUNDS=${ROUNDS:-5}
once() { # prints "wall user sys" of one run
    /usr/bin/time -f "%e %U %S" "$@" 2>&1 >/dev/null | tail -1
    rm -f "$dir/out.pcap"
}
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
: >"$dir/ours"; : >"$dir/theirs"
for _ in $(seq "$ROUNDS"); do
    once target/release/sixfold rewrite --in "$dir/in.pcap" --out "$dir/out.pcap" "${opts_ours[@]}" >>"$dir/ours"
    once tcprewrite -i "$dir/in.pcap" -o "$dir/out.pcap" "${opts_theirs[@]}" >>"$dir/theirs"
done
col() { cut -d' ' -f"$2" "$dir/$1" | median; }
w1=$(col ours 1); u1=$(col ours 2); s1=$(col ours 3)
w2=$(col theirs 1); u2=$(col theirs 2); s2=$(col theirs 3)
version=$(tcprewrite --version 2>&1 | awk '/version/ {print $3; exit}')
printf '| tool | wall (s) | user (s) | system (s) | packets/s (wall) | user ns/packet |\n|---|---:|---:|---:|---:|---:|\n'
printf '| sixfold rewrite | %s | %s | %s | %.0f | %.0f |\n' "$w1" "$u1" "$s1" "$(echo "$n / $w1" | bc -l)" "$(echo "$u1 * 1000000000 / $n" | bc -l)"
printf '| tcprewrite %s | %s | %s | %s | %.0f | %.0f |\n' "$version" "$w2" "$u2" "$s2" "$(echo "$n / $w2" | bc -l)" "$(echo "$u2 * 1000000000 / $n" | bc -l)"
printf '\nratio (tcprewrite / sixfold): wall %.1fx, user CPU %.1fx, user+system %.1fx. %d packets, %d MB, medians of %d interleaved rounds.\n' \
    "$(echo "$w2 / $w1" | bc -l)" "$(echo "$u2 / $u1" | bc -l)" "$(echo "($u2 + $s2) / ($u1 + $s1)" | bc -l)" \
    "$n" "$(( $(stat -c %s "$dir/in.pcap") / 1000000 ))" "$ROUNDS"
printf 'rounds, wall (sixfold / tcprewrite): %s\n' "$(paste -d/ <(cut -d' ' -f1 "$dir/ours") <(cut -d' ' -f1 "$dir/theirs") | tr '\n' ' ')"
