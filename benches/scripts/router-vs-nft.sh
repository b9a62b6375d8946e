#!/usr/bin/env bash
# Through TUN in the lab vs the kernel's own NAT in the same topology, same run:
#
#   sixfold: P-sub1 [TUN sub1] <- sixfold router (userspace) -> [TUN wan] P-wan   (sixfold lab --keep)
#   kernel:  K-sub1 [veth] <-> K-rtr (nft masquerade, IPv6 forwarding) <-> [veth] K-wan
#
# Contenders, interleaved, REPS rounds (default 3): sixfold (its defaults: TUN
# offload on, a worker per CPU, or SIXFOLD_ARGS), the kernel with veth offloads on
# (its default), and the kernel with TSO/GSO/GRO off. Per round and contender:
#
# - iperf3 TCP over IPv4 (through the NAT) and IPv6 (routed), SECS seconds;
# - 60-byte UDP (IPv4 20 + UDP 8 + 32 bytes) through the NAT from trafgen, one
#   generator on one CPU (taskset -c GEN_CPU, default 1), 64 source ports. The
#   rate is what arrives: an nft counter in the WAN namespace's prerouting hook is
#   read WARM seconds after the generator starts and again WINDOW seconds later,
#   while it still runs. A merged (GRO/USO) super-packet counts once there, so
#   datagrams = (bytes - 28 x packets) / 32.
#
# Cost, beside the rates: the whole machine's CPU time (every core, from
# /proc/stat: user + nice + system + irq + softirq) over each iperf3 run, per GB
# delivered (iperf3's received bytes), and over each UDP window, per datagram
# arriving. Both include the endpoints (iperf3 client and server, trafgen), the
# same work for every contender, so the differences are the forwarding paths';
# run it on an otherwise idle machine (a busy one adds its load to every figure).
#
# For sixfold's UDP, two more figures say what its cost is made of: the router
# process's own CPU (utime + stime of every thread, /proc/PID/stat) per
# datagram arriving, and the share of the generator's datagrams that the
# subscriber TUN dropped (its tx_dropped against tx_packets + tx_dropped): TUN
# has no back-pressure, so when the router's one read per datagram is slower
# than the generator, the generator's work on the dropped ones is whole-machine
# CPU that no datagram arrives for. (The kernel's path runs in the generator's
# own context, so it never outruns its forwarding.)
#
# Prints the command line and the machine, then the medians and ratios as a
# Markdown table, and every run's figures on stderr. Needs root, iperf3, trafgen
# (netsniff-ng), nft, ethtool, taskset.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 1; }
for p in iperf3 trafgen nft ethtool taskset python3; do
    command -v $p >/dev/null || { echo "missing $p" >&2; exit 1; }
done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
SECS=${SECS:-5}
REPS=${REPS:-3}
WARM=${WARM:-1}
WINDOW=${WINDOW:-3}
GEN_CPU=${GEN_CPU:-1}
PAYLOAD=32
read -r -a LAB_ARGS <<<"${SIXFOLD_ARGS:-}"
P=sfbench; K=sfkern
cargo build --quiet --release -p sixfold --bin sixfold
work=$(mktemp -d)
lab_pid=""
gen_pid=""
cleanup() {
    stop_generator
    stop_server $P-wan; stop_server $K-wan
    [[ -n $lab_pid ]] && kill "$lab_pid" 2>/dev/null && wait "$lab_pid" 2>/dev/null || true
    for ns in $K-sub1 $K-rtr $K-wan; do ip netns del $ns 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_generator() { # trafgen and its worker processes: SIGINT, as Ctrl-C would send them all
    [[ -n $gen_pid ]] || return 0
    pkill -INT -P "$gen_pid" 2>/dev/null || true
    kill -INT "$gen_pid" 2>/dev/null || true
    wait "$gen_pid" 2>/dev/null || true
    gen_pid=""
}

busy_ticks() { # the whole machine's CPU ticks so far: user nice system irq softirq, all cores
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat
}
HZ=$(getconf CLK_TCK)

iperf_tcp() { # ns server -> "Gbit/s core-seconds-per-GB"
    local out t0 t1
    t0=$(busy_ticks)
    out=$(ip netns exec "$1" iperf3 -c "$2" -t "$SECS" -J)
    t1=$(busy_ticks)
    python3 -c '
import json, sys
r = json.load(sys.stdin)["end"]["sum_received"]
cpu = ('"$t1"' - '"$t0"') / '"$HZ"'
print("%.2f %.3f" % (r["bits_per_second"] / 1e9, cpu / (r["bytes"] / 1e9)))' <<<"$out"
}

sink() { # ns: drop UDP port 9 in prerouting, counted
    ip netns exec "$1" nft -f - <<'NFT'
table inet sfsink {
    counter udp9 { }
    chain pre {
        type filter hook prerouting priority -300; policy accept;
        udp dport 9 counter name udp9 drop
    }
}
NFT
}

counter() { # ns -> "packets bytes"
    ip netns exec "$1" nft -j list counter inet sfsink udp9 |
        python3 -c 'import json,sys; c=[x["counter"] for x in json.load(sys.stdin)["nftables"] if "counter" in x][0]; print(c["packets"], c["bytes"])'
}

udp_kdps() { # ns out-dev cfg wan-ns -> "thousand datagrams/s arriving, CPU µs per datagram", steady window
    local a b t0 t1 c0 c1
    taskset -c "$GEN_CPU" ip netns exec "$1" trafgen -i "$3" -o "$2" --cpus 1 -n 0 >/dev/null 2>&1 &
    gen_pid=$!
    sleep "$WARM"
    read -r -a a <<<"$(counter "$4")"; t0=$(date +%s.%N); c0=$(busy_ticks)
    sleep "$WINDOW"
    read -r -a b <<<"$(counter "$4")"; t1=$(date +%s.%N); c1=$(busy_ticks)
    stop_generator
    python3 -c "
packets, bytes = ${b[0]} - ${a[0]}, ${b[1]} - ${a[1]}
datagrams = (bytes - 28 * packets) / $PAYLOAD
print('%.0f %.3f' % (datagrams / ($t1 - $t0) / 1e3, ($c1 - $c0) / $HZ / max(datagrams, 1) * 1e6))"
}

proc_ticks() { # pid -> its CPU ticks so far, every thread (utime + stime)
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

tun_tx() { # ns dev -> "tx_packets tx_dropped"
    ip -n "$1" -j -s link show dev "$2" |
        python3 -c 'import json,sys; t=json.load(sys.stdin)[0]["stats64"]["tx"]; print(t["packets"], t["dropped"])'
}

udp_sixfold() { # -> what udp_kdps says, then "router-µs-per-datagram dropped-%", over the same window
    local r0 r1 x0 x1 out
    r0=$(proc_ticks "$router_pid"); read -r -a x0 <<<"$(tun_tx $P-sub1 sub1)"
    out=$(udp_kdps $P-sub1 sub1 "$work/tun.cfg" $P-wan)
    r1=$(proc_ticks "$router_pid"); read -r -a x1 <<<"$(tun_tx $P-sub1 sub1)"
    python3 -c "
kdps = float('${out%% *}')
secs = $WARM + $WINDOW
sent, dropped = ${x1[0]} - ${x0[0]}, ${x1[1]} - ${x0[1]}
router_us = ($r1 - $r0) / $HZ / max(kdps * 1e3 * secs, 1) * 1e6
print('$out', '%.2f %.1f' % (router_us, 100 * dropped / max(sent + dropped, 1)))"
}

server() { # ns: an iperf3 daemon, its PID in $work/iperf-NS.pid
    ip netns exec "$1" iperf3 -s -D -B :: -I "$work/iperf-$1.pid" --logfile "$work/iperf-$1.log"
    sleep 0.5
}

stop_server() { # ns
    [[ -f $work/iperf-$1.pid ]] && kill "$(tr -d '\0' <"$work/iperf-$1.pid")" 2>/dev/null || true
}

kernel_offloads() { # on|off
    local state=$1 ns dev
    for pair in "$K-sub1 s1" "$K-rtr rin" "$K-rtr rout" "$K-wan w"; do
        read -r ns dev <<<"$pair"
        ip netns exec "$ns" ethtool -K "$dev" tso "$state" gso "$state" gro "$state" >/dev/null 2>&1 || true
    done
}

# --- sixfold -------------------------------------------------------------------
mkfifo "$work/ready"
target/release/sixfold lab --keep --prefix $P --subscribers 1 "${LAB_ARGS[@]}" >"$work/ready" 2>"$work/lab.log" &
lab_pid=$!
config_path=""
{ read -r line; read -r _ config_path; } <"$work/ready" || true
[[ $line == ready ]] || { cat "$work/lab.log" >&2; exit 1; }
router_pid=$(pgrep -f "sixfold run --config $config_path" | head -n 1)
[[ -n $router_pid ]] || { echo "no router process for $config_path" >&2; exit 1; }
server $P-wan
sink $P-wan
cat >"$work/tun.cfg" <<'CFG'
{ ipv4(saddr=100.64.1.1, daddr=192.0.2.80, ttl=64), udp(sport=dinc(1024,1087,1), dport=9), fill(0x41, 32) }
CFG

# --- kernel --------------------------------------------------------------------
for ns in $K-sub1 $K-rtr $K-wan; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add s1 netns $K-sub1 type veth peer name rin netns $K-rtr
ip link add rout netns $K-rtr type veth peer name w netns $K-wan
ip -n $K-sub1 addr add 100.64.1.1/24 dev s1; ip -n $K-sub1 link set s1 up
ip -n $K-sub1 -6 addr add 2001:db8:1:1::2/64 dev s1 nodad
ip -n $K-rtr addr add 100.64.1.254/24 dev rin; ip -n $K-rtr link set rin up
ip -n $K-rtr -6 addr add 2001:db8:1:1::1/64 dev rin nodad
ip -n $K-rtr addr add 203.0.113.1/24 dev rout; ip -n $K-rtr link set rout up
ip -n $K-rtr -6 addr add 2001:db8:ff::1/64 dev rout nodad
ip -n $K-wan addr add 203.0.113.2/24 dev w; ip -n $K-wan link set w up
ip -n $K-wan -6 addr add 2001:db8:ff::2/64 dev w nodad
ip -n $K-wan addr add 192.0.2.80/32 dev lo; ip -n $K-wan -6 addr add 2001:db8:ffff::80/128 dev lo
ip -n $K-sub1 route add default via 100.64.1.254
ip -n $K-sub1 -6 route add default via 2001:db8:1:1::1
ip -n $K-rtr route add 192.0.2.80/32 via 203.0.113.2
ip -n $K-rtr -6 route add 2001:db8:ffff::80/128 via 2001:db8:ff::2
ip -n $K-wan -6 route add 2001:db8:1:1::/64 via 2001:db8:ff::1
ip netns exec $K-rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip netns exec $K-rtr nft -f - <<'NFT'
table ip sfnat {
    chain post {
        type nat hook postrouting priority 100; policy accept;
        oifname "rout" masquerade
    }
}
NFT
server $K-wan
sink $K-wan
mac=$(ip -n $K-rtr -j link show dev rin | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
cat >"$work/veth.cfg" <<CFG
{ eth(da=$mac), ipv4(saddr=100.64.1.1, daddr=192.0.2.80, ttl=64), udp(sport=dinc(1024,1087,1), dport=9), fill(0x41, 32) }
CFG
sleep 1

# --- rounds, interleaved -----------------------------------------------------------
declare -A R C X D
take() { # key round output-of-a-measurement: the rate in R, the cost in C
    local v
    read -r -a v <<<"$3"
    R[$1,$2]=${v[0]}
    C[$1,$2]=${v[1]}
}
for round in $(seq "$REPS"); do
    take s4 "$round" "$(iperf_tcp $P-sub1 192.0.2.80)"
    kernel_offloads on
    take k4 "$round" "$(iperf_tcp $K-sub1 192.0.2.80)"
    kernel_offloads off
    take o4 "$round" "$(iperf_tcp $K-sub1 192.0.2.80)"
    take s6 "$round" "$(iperf_tcp $P-sub1 2001:db8:ffff::80)"
    kernel_offloads on
    take k6 "$round" "$(iperf_tcp $K-sub1 2001:db8:ffff::80)"
    kernel_offloads off
    take o6 "$round" "$(iperf_tcp $K-sub1 2001:db8:ffff::80)"
    read -r -a u <<<"$(udp_sixfold)"
    take su "$round" "${u[0]} ${u[1]}"
    X[$round]=${u[2]}; D[$round]=${u[3]}
    kernel_offloads on
    take ku "$round" "$(udp_kdps $K-sub1 s1 "$work/veth.cfg" $K-wan)"
    kernel_offloads off
    take ou "$round" "$(udp_kdps $K-sub1 s1 "$work/veth.cfg" $K-wan)"
    line="round $round:"
    for k in s4 k4 o4 s6 k6 o6 su ku ou; do line+=" $k ${R[$k,$round]}/${C[$k,$round]}"; done
    echo "$line (rate/cost); sixfold UDP: router ${X[$round]} µs/datagram, TUN dropped ${D[$round]}% of the generator's" >&2
done

median() { # array key -> median over rounds
    local -n a=$1
    local k=$2 vals=()
    for round in $(seq "$REPS"); do vals+=("${a[$k,$round]}"); done
    printf '%s\n' "${vals[@]}" | python3 -c '
import sys
v = sorted(float(x) for x in sys.stdin)
m = v[len(v) // 2]
print(("%.0f" if m >= 100 else "%.2f" if m >= 1 else "%.3f") % m)'
}
median_of() { # round-indexed array -> its median
    local -n a=$1
    local vals=()
    for round in $(seq "$REPS"); do vals+=("${a[$round]}"); done
    printf '%s\n' "${vals[@]}" | python3 -c 'import sys; v=sorted(float(x) for x in sys.stdin); print("%.2f" % v[len(v) // 2])'
}
ratio() { python3 -c "print('%.2f' % ($1/$2))"; }
declare -A M K
for k in s4 k4 o4 s6 k6 o6 su ku ou; do M[$k]=$(median R $k); K[$k]=$(median C $k); done
echo "command: $0 (SECS=$SECS REPS=$REPS WARM=$WARM WINDOW=$WINDOW GEN_CPU=$GEN_CPU SIXFOLD_ARGS=${SIXFOLD_ARGS:-})"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs, kernel $(uname -r); load average before: $load0"
echo
row() { # label key
    echo "| $1 | ${2} | ${3} | ${4} | $(ratio "$2" "$3") | $(ratio "$2" "$4") |"
}
cat <<TABLE
| through the router (medians of $REPS interleaved rounds) | sixfold (TUN) | kernel nft, offloads on | kernel nft, offloads off | sixfold / kernel on | sixfold / kernel off |
|---|---:|---:|---:|---:|---:|
$(row "TCP IPv4 (NAT), Gbit/s" "${M[s4]}" "${M[k4]}" "${M[o4]}")
$(row "TCP IPv6 (routed), Gbit/s" "${M[s6]}" "${M[k6]}" "${M[o6]}")
$(row "UDP 60 B (NAT), thousand datagrams/s arriving" "${M[su]}" "${M[ku]}" "${M[ou]}")
$(row "TCP IPv4, whole-machine CPU core-seconds per GB" "${K[s4]}" "${K[k4]}" "${K[o4]}")
$(row "TCP IPv6, whole-machine CPU core-seconds per GB" "${K[s6]}" "${K[k6]}" "${K[o6]}")
$(row "UDP 60 B, whole-machine CPU µs per datagram arriving" "${K[su]}" "${K[ku]}" "${K[ou]}")

| sixfold's UDP 60 B, decomposed (medians) | |
|---|---:|
| the router process's own CPU, µs per datagram arriving | $(median_of X) |
| the generator's datagrams the subscriber TUN dropped, % | $(median_of D) |
TABLE
