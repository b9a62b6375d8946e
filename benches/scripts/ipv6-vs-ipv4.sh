#!/usr/bin/env bash
# IPv6 against IPv4 through the sixfold router, in the same run (sixfold lab --keep,
# release build, one subscriber):
#
# 1. Throughput: iperf3 TCP sub1 -> WAN, IPv4 (NAT44) and IPv6 (routed, RFC 6092
#    firewall), SECS seconds each, ROUNDS rounds alternating which family goes
#    first; medians.
# 2. First-packet latency: TCP connect() time from sub1 to a WAN listener on a new
#    socket each time (a new NAT session, or a new firewall flow, per connection),
#    CONNECTS per family interleaved; median and 90th percentile.
# 3. Priority: both families saturating a RATE Mbit/s shaped link at once (iperf3,
#    upload through the WAN shaper and download through the subscriber's), under
#    strict priority and under weights 3:1; IPv6's share of the bytes the shaper
#    sent while both clients ran (from `sixfold stats`, launch to the first client's
#    end: a starved IPv4 client runs its own seconds later, alone, and those do not
#    count).
#
# Needs root, iperf3, python3. Prints Markdown tables.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 1; }
for p in iperf3 python3; do command -v $p >/dev/null || { echo "missing $p" >&2; exit 1; }; done
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
CONNECTS=${CONNECTS:-300}
RATE=${RATE:-40}
P=sf46
V4=192.0.2.80
V6=2001:db8:ffff::80
cargo build --quiet --release -p sixfold --bin sixfold
work=$(mktemp -d)
lab_pid=""
stop_lab() {
    for f in "$work"/*.pid; do [[ -f $f ]] && kill "$(tr -d '\0' <"$f")" 2>/dev/null; rm -f "$f"; done
    if [[ -n $lab_pid ]]; then kill "$lab_pid" 2>/dev/null || true; wait "$lab_pid" 2>/dev/null || true; fi
    lab_pid=""
}
cleanup() { stop_lab; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_lab() { # extra lab arguments
    rm -f "$work/ready"; mkfifo "$work/ready"
    target/release/sixfold lab --keep --prefix $P --subscribers 1 "$@" >"$work/ready" 2>"$work/lab.log" &
    lab_pid=$!
    local line; read -r line <"$work/ready"
    [[ $line == ready ]] || { cat "$work/lab.log" >&2; exit 1; }
    for port in 5201 5202; do
        ip netns exec $P-wan iperf3 -s -D -p $port -I "$work/iperf-$port.pid" --logfile "$work/iperf-$port.log"
    done
    sleep 0.5
}

bps() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"])' "$1"; }
median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# --- 1 and 2: no shaper ------------------------------------------------------------
start_lab
t4=(); t6=()
for r in $(seq "$ROUNDS"); do
    order=(4 6); ((r % 2 == 0)) && order=(6 4)
    for fam in "${order[@]}"; do
        dst=$V4; [[ $fam == 6 ]] && dst=$V6
        ip netns exec $P-sub1 iperf3 -c $dst -p 5201 -t "$SECS" -J >"$work/tp.json"
        v=$(bps "$work/tp.json")
        if [[ $fam == 4 ]]; then t4+=("$v"); else t6+=("$v"); fi
    done
done
ip netns exec $P-wan python3 - <<'PY' &
import socket
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 9000)); s.listen(512)
s.settimeout(60)
try:
    while True:
        c, _ = s.accept(); c.close()
except OSError:
    pass
PY
listener=$!
sleep 0.5
latency=$(ip netns exec $P-sub1 python3 - "$CONNECTS" "$V4" "$V6" <<'PY'
import socket, statistics, sys, time
n, v4, v6 = int(sys.argv[1]), sys.argv[2], sys.argv[3]
times = {4: [], 6: []}
for i in range(2 * n):
    fam = 4 if i % 2 == 0 else 6
    s = socket.socket(socket.AF_INET if fam == 4 else socket.AF_INET6)
    t0 = time.perf_counter_ns()
    s.connect((v4 if fam == 4 else v6, 9000))
    times[fam].append((time.perf_counter_ns() - t0) / 1e3)
    s.close()
for fam in (4, 6):
    t = sorted(times[fam])
    print(f"{statistics.median(t):.0f} {t[int(len(t) * 0.9)]:.0f}", end=" ")
PY
)
kill $listener 2>/dev/null || true; wait $listener 2>/dev/null || true
stop_lab
read -r c4med c4p90 c6med c6p90 <<<"$latency"

# --- 3: shaped, both families at once ----------------------------------------------
shaper_bytes() { # shaper index -> "ipv4 ipv6" bytes sent, and the time
    target/release/sixfold stats --socket /run/sixfold-$P.sock | python3 -c '
import json, sys, time
s = json.load(sys.stdin)["shapers"][int(sys.argv[1])]
print(s["ipv4"]["bytes"], s["ipv6"]["bytes"], time.time())' "$1"
}

share() { # extra lab arguments -> "ipv4 ipv6" Mbit/s up, then down
    start_lab --wan-rate "$RATE" --subscriber-rate "$RATE" "$@"
    local res=() dir idx b4 b6 t0 a4 a6 t1 c4 c6
    for dir in "" "-R"; do
        idx=0; [[ $dir == -R ]] && idx=1   # WAN shaper: upload; sub1's: download
        read -r b4 b6 t0 <<<"$(shaper_bytes $idx)"
        ip netns exec $P-sub1 iperf3 -c $V4 -p 5201 -t "$SECS" $dir >/dev/null &
        c4=$!
        ip netns exec $P-sub1 iperf3 -c $V6 -p 5202 -t "$SECS" $dir >/dev/null &
        c6=$!
        wait -n $c4 $c6
        read -r a4 a6 t1 <<<"$(shaper_bytes $idx)"
        # The other client (the one already reaped makes `wait` complain).
        wait $c4 $c6 2>/dev/null || true
        res+=("$(python3 -c "d=$t1-$t0; print(($a4-$b4)*8/d, ($a6-$b6)*8/d)")")
    done
    stop_lab
    echo "${res[@]}"
}
read -r su4 su6 sd4 sd6 <<<"$(share --scheduling strict)"
read -r wu4 wu6 wd4 wd6 <<<"$(share --scheduling weighted --ipv6-weight 3)"

python3 - "$(median "${t4[@]}")" "$(median "${t6[@]}")" "$c4med" "$c4p90" "$c6med" "$c6p90" \
    "$su4" "$su6" "$sd4" "$sd6" "$wu4" "$wu6" "$wd4" "$wd6" "$RATE" "$ROUNDS" "$SECS" "$CONNECTS" <<'PY'
import sys
a = [float(x) for x in sys.argv[1:]]
t4, t6, c4m, c4p, c6m, c6p = a[:6]
su4, su6, sd4, sd6, wu4, wu6, wd4, wd6, rate, rounds, secs, n = a[6:]
print(f"| through the router (medians of {rounds:.0f} × {secs:.0f} s; {n:.0f} connects each) | IPv4 (NAT44) | IPv6 (routed + firewall) | IPv6 / IPv4 |")
print("|---|---|---|---|")
print(f"| TCP throughput, Gbit/s | {t4/1e9:.2f} | {t6/1e9:.2f} | {t6/t4:.2f} |")
print(f"| first-packet latency: TCP connect on a new flow, median µs | {c4m:.0f} | {c6m:.0f} | {c6m/c4m:.2f} |")
print(f"| same, 90th percentile µs | {c4p:.0f} | {c6p:.0f} | {c6p/c4p:.2f} |")
print()
print(f"| {rate:.0f} Mbit/s shaped link, both families saturating at once (IP bytes sent while both ran) | IPv4 Mbit/s | IPv6 Mbit/s | IPv6 share |")
print("|---|---|---|---|")
for name, v4, v6 in [("strict, upload (WAN shaper)", su4, su6), ("strict, download (subscriber shaper)", sd4, sd6),
                     ("weighted 3:1, upload", wu4, wu6), ("weighted 3:1, download", wd4, wd6)]:
    print(f"| {name} | {v4/1e6:.1f} | {v6/1e6:.1f} | {v6/(v4+v6):.1%} |")
PY
