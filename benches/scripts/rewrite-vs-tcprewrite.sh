#!/usr/bin/env bash
# `sixfold rewrite` against tcprewrite on the same 1,000,000-packet capture with the
# same options: three runs each, medians of wall-clock, user and system time. Files
# live in /dev/shm when it exists, so the disk does not decide. Needs tcprewrite
# (Debian tcpreplay), python3-scapy and GNU time.
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
measure() { # prints "wall user sys" medians of 3 runs
    local runs
    runs=$(for _ in 1 2 3; do /usr/bin/time -f "%e %U %S" "$@" 2>&1 >/dev/null | tail -1; rm -f "$dir/out.pcap"; done)
    echo "$(cut -d' ' -f1 <<<"$runs" | sort -n | sed -n 2p) $(cut -d' ' -f2 <<<"$runs" | sort -n | sed -n 2p) $(cut -d' ' -f3 <<<"$runs" | sort -n | sed -n 2p)"
}
read -r w1 u1 s1 < <(measure target/release/sixfold rewrite --in "$dir/in.pcap" --out "$dir/out.pcap" "${opts_ours[@]}")
read -r w2 u2 s2 < <(measure tcprewrite -i "$dir/in.pcap" -o "$dir/out.pcap" "${opts_theirs[@]}")
version=$(tcprewrite --version 2>&1 | awk '/version/ {print $3; exit}')
printf '| tool | wall (s) | user (s) | system (s) | packets/s (wall) |\n|---|---:|---:|---:|---:|\n'
printf '| sixfold rewrite | %s | %s | %s | %.0f |\n' "$w1" "$u1" "$s1" "$(echo "$n / $w1" | bc -l)"
printf '| tcprewrite %s | %s | %s | %s | %.0f |\n' "$version" "$w2" "$u2" "$s2" "$(echo "$n / $w2" | bc -l)"
printf '\nratio (tcprewrite / sixfold): wall %.1fx, user CPU %.1fx. %d packets, %d MB, medians of 3.\n' \
    "$(echo "$w2 / $w1" | bc -l)" "$(echo "$u2 / $u1" | bc -l)" "$n" "$(( $(stat -c %s "$dir/in.pcap") / 1000000 ))"
