#!/usr/bin/env bash
# The in-kernel fast path (issue 27) against the same box without it and
# against the kernel's own NAT, through one box of the same veth shape:
#
#   F-acc [acc0] <-> [box-acc] F-box: sixfold run ([[subscriber_range]], TUNs,
#                                     [fastpath] on box-acc/box-core) [box-core] <-> [core0] F-core
#   K-acc [acc0] <-> [box-acc] K-box: nft masquerade, IPv6 forwarding [box-core] <-> [core0] K-core
#
# Contenders, interleaved, REPS rounds (default 3): `fastpath` (mode = "ebpf",
# hook = "xdp"), `off` (the same router after `sixfold reload` with mode =
# "off": the TUN path), `kernel` (nft masquerade; this kernel has no nft
# flowtable), `fastpath-tc` (a second box, world T, whose router has hook =
# "tc": the program on the TC clsact ingress), and with the endpoints'
# transmit checksum offload ON (the realistic case: a local sender's TCP
# leaves GSO super-packets with partial checksums) `fastpath-tc-tx` (world
# TX, hook = "tc") and `kernel-tx` (world KX). CONTENDERS picks some (default
# all, in that order). Per round and contender:
#
# - iperf3 TCP over IPv4 (NATed) and IPv6 (routed through the RFC 6092
#   firewall), SECS seconds: Gbit/s, and whole-machine CPU per GB —
#   (user + nice + system + irq + softirq) jiffies from /proc/stat over the
#   run, in core-seconds per 10^9 bytes received;
# - 60-byte UDP (IPv4 20 + UDP 8 + 32 bytes) from trafgen on one CPU
#   (taskset -c GEN_CPU, default 1), 64 source ports: datagrams per second
#   arriving (an nft counter in the core namespace's prerouting hook, read WARM
#   seconds after the generator starts and WINDOW seconds later; a merged
#   super-packet counts once there, so datagrams = (bytes - 28 x packets) / 32)
#   and whole-machine CPU per datagram over that window (the generator's CPU
#   included: it shares the 2 cores);
# - first-packet rate (`fastpath` and `off` only): the same 60-byte UDP from
#   the subscribers 100.64.0.1-254 in turn (dinc) with RFC 4814 pseudorandom
#   source ports (drnd), so nearly every datagram opens a new NAT session and
#   takes the slow path; datagrams per second arriving and CPU per datagram,
#   over the same window. World F's router is restarted empty, in the
#   contender's mode, before each such run (sessions would otherwise pile up
#   across rounds into the limits).
#
# SPREAD=1 uses the second core the way a real box uses its NIC's queues, in
# every world alike (the kernel's box as much as sixfold's): the box's
# ingress veth (box-acc) gets GRO on, threaded NAPI and RPS, its NAPI thread
# pinned to BOX_CPU (default: the core that is not GEN_CPU), so the box's
# receive, forwarding and TC or XDP program run there and nowhere else; the
# sink's veth (core0) gets threaded NAPI and RPS on GEN_CPU, so the tester
# (generator and sink, like a two-port traffic tester) keeps the other core.
# The rate is then the box's core's, unless the tester's core saturates
# first (its busy share is printed on stderr). Default 0: every hop runs on
# the generator's core in softirq, one core of work for all of it.
#
# PROFILE=DIR records `perf record -a -g` over each UDP window (DIR/CONTENDER-rROUND.data;
# first packets: DIR/CONTENDER-first-rROUND.data)
# and prints on stderr where the CPU went, by stage (generator, box, sink, …:
# benches/scripts/perf-stages.py), as shares and µs per datagram. Perf's own
# sampling costs a few percent: take the figures of such a run as a profile,
# not as the benchmark's.
#
# The endpoints' veths (acc0, core0) have GRO on and transmit checksum offload
# off (ENDPOINT_TX) in worlds F, K and T: a frame the XDP program redirects
# into a veth needs the peer's NAPI and a complete checksum (as frames from a
# real NIC have); TX and KX have it on.
# Prints the medians and ratios as a Markdown table, every run on stderr.
# Needs root, iperf3, trafgen (netsniff-ng), nft, ethtool, taskset, python3.
# Small check: REPS=1 SECS=2 WINDOW=2 benches/scripts/fastpath-vs-nft.sh
# (SIXFOLD=target/debug/sixfold to skip the release build).
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 1; }
for p in iperf3 trafgen nft ethtool taskset python3 ${PROFILE:+perf}; do
    command -v $p >/dev/null || { echo "missing $p" >&2; exit 1; }
done
SECS=${SECS:-5}
REPS=${REPS:-3}
WARM=${WARM:-1}
WINDOW=${WINDOW:-3}
GEN_CPU=${GEN_CPU:-1}
BOX_CPU=${BOX_CPU:-$((1 - GEN_CPU))}
SPREAD=${SPREAD:-0}
PROFILE=${PROFILE:-}
# The endpoints' transmit checksum offload (see above): `on` to see what the
# fast path does with partial checksums from a local sender.
ENDPOINT_TX=${ENDPOINT_TX:-off}
CONTENDERS=${CONTENDERS:-fastpath off kernel fastpath-tc fastpath-tc-tx kernel-tx}
PAYLOAD=32
F=sffp; K=sfnft; T=sftc; TX=sftx; KX=sfkx
SOCKET=/run/sixfold-$F.sock
wants() { [[ " $CONTENDERS " == *" $1 "* ]]; }
# SIXFOLD=PATH runs that binary instead of building the release one (a quick
# check with a debug build: its `off` figures are then not the router's).
if [[ -n ${SIXFOLD:-} ]]; then
    bin=$SIXFOLD
else
    cargo build --quiet --release -p sixfold --bin sixfold
    bin=target/release/sixfold
fi
work=$(mktemp -d)
wmem_default=$(cat /proc/sys/net/core/wmem_default)
router_pids=()
gen_pid=""
cleanup() {
    stop_generator
    echo "$wmem_default" >/proc/sys/net/core/wmem_default
    for w in $F $K $T $TX $KX; do stop_server $w-core; done
    for pid in "${router_pids[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    for w in $F $K $T $TX $KX; do for ns in $w-acc $w-box $w-core; do ip netns del $ns 2>/dev/null || true; done; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_generator() {
    [[ -n $gen_pid ]] || return 0
    pkill -INT -P "$gen_pid" 2>/dev/null || true
    kill -INT "$gen_pid" 2>/dev/null || true
    wait "$gen_pid" 2>/dev/null || true
    gen_pid=""
}

busy() { # whole-machine busy jiffies: user nice system irq softirq
    awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat
}

tcp() { # world dst -> "Gbit/s core-s/GB"
    local out j0 j1 hz
    hz=$(getconf CLK_TCK)
    j0=$(busy)
    out=$(ip netns exec "$1-acc" iperf3 -c "$2" -t "$SECS" -J)
    j1=$(busy)
    python3 -c '
import json, sys
r = json.load(sys.stdin)["end"]["sum_received"]
cpu = ('"$j1"' - '"$j0"') / '"$hz"'
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

udp() { # world [trafgen config, default the world's] [profile name] -> "kdatagrams/s µs-CPU/datagram"
    # trafgen gives up when a send of its ring fails with EAGAIN ("Flushing
    # TX_RING failed: Resource temporarily unavailable"), which a veth whose
    # peer runs XDP returns when the peer's ring is full: the generator, not
    # the path, stopped. A run whose generator is not alive at the end of its
    # window is taken again (up to three times), and said so on stderr.
    local a b t0 t1 j0 j1 hz attempt log=$work/trafgen.log
    hz=$(getconf CLK_TCK)
    for attempt in 1 2 3; do
        # trafgen raises the default socket send buffer while it runs, but
        # cannot inside a namespace (the sysctl is the host's): with the
        # default 208 KB, datagrams still queued further on (a backlog or
        # ring on the other core, SPREAD=1) hold its buffer and it dies on
        # EAGAIN. Done here for the moment its socket is made.
        echo 4194304 >/proc/sys/net/core/wmem_default
        taskset -c "$GEN_CPU" ip netns exec "$1-acc" trafgen -i "${2:-$work/$1.cfg}" -o acc0 --cpus 1 -n 0 >"$log" 2>&1 &
        gen_pid=$!
        sleep 0.3
        echo "$wmem_default" >/proc/sys/net/core/wmem_default
        sleep "$WARM"
        read -r -a a <<<"$(counter "$1-core")"; t0=$(date +%s.%N); j0=$(busy); g0=$(busy_cpu "$GEN_CPU"); o0=$(busy_cpu "$BOX_CPU")
        if [[ -n $PROFILE && -n ${3:-} ]]; then
            perf record -q -a -g -o "$PROFILE/$3.data" -- sleep "$WINDOW" >/dev/null 2>&1
        else
            sleep "$WINDOW"
        fi
        read -r -a b <<<"$(counter "$1-core")"; t1=$(date +%s.%N); j1=$(busy); g1=$(busy_cpu "$GEN_CPU"); o1=$(busy_cpu "$BOX_CPU")
        if kill -0 "$gen_pid" 2>/dev/null; then
            stop_generator
            break
        fi
        wait "$gen_pid" 2>/dev/null || true
        gen_pid=""
        echo "  $1: trafgen stopped early (attempt $attempt): $(grep -m1 -i 'failed' "$log" || tail -n 1 "$log")" >&2
    done
    python3 -c "
packets, bytes = ${b[0]} - ${a[0]}, ${b[1]} - ${a[1]}
d = (bytes - 28 * packets) / $PAYLOAD
cpu = ($j1 - $j0) / $hz
print('%.0f %.2f' % (d / ($t1 - $t0) / 1e3, cpu / max(d, 1) * 1e6))" >"$work/udp.out"
    echo "  $1${3:+ ($3)}: busy: the generator's core (CPU $GEN_CPU) $(python3 -c "print('%.0f' % (100 * ($g1 - $g0) / $hz / ($t1 - $t0)))")%," \
        "the other (CPU $BOX_CPU) $(python3 -c "print('%.0f' % (100 * ($o1 - $o0) / $hz / ($t1 - $t0)))")%" >&2
    if [[ -n $PROFILE && -n ${3:-} ]]; then
        perf script -i "$PROFILE/$3.data" 2>/dev/null |
            benches/scripts/perf-stages.py "$(cut -d' ' -f2 "$work/udp.out")" >"$PROFILE/$3.txt"
        sed "s/^/  $3: /" "$PROFILE/$3.txt" >&2
    fi
    cat "$work/udp.out"
}

busy_cpu() { # cpu -> its busy jiffies: user nice system irq softirq
    awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8}' /proc/stat
}

spread() { # world: the box's ingress NAPI on BOX_CPU, the sink's on GEN_CPU (SPREAD=1)
    local gen_mask box_mask
    gen_mask=$(printf %x $((1 << GEN_CPU))); box_mask=$(printf %x $((1 << BOX_CPU)))
    ip netns exec "$1-box" ethtool -K box-acc gro on >/dev/null
    ip netns exec "$1-box" sh -c "echo 1 >/sys/class/net/box-acc/threaded &&
        echo $box_mask >/sys/class/net/box-acc/queues/rx-0/rps_cpus"
    ip netns exec "$1-core" sh -c "echo 1 >/sys/class/net/core0/threaded &&
        echo $gen_mask >/sys/class/net/core0/queues/rx-0/rps_cpus"
}

pin_napi() { # every box-acc NAPI thread to BOX_CPU, every core0 one to GEN_CPU (SPREAD=1)
    local pid
    for pid in $(pgrep '^napi/box-acc'); do taskset -pc "$BOX_CPU" "$pid" >/dev/null; done
    for pid in $(pgrep '^napi/core0'); do taskset -pc "$GEN_CPU" "$pid" >/dev/null; done
}

server() { # ns: an iperf3 daemon
    ip netns exec "$1" iperf3 -s -D -B :: -I "$work/iperf-$1.pid" --logfile "$work/iperf-$1.log"
    sleep 0.5
}

stop_server() {
    [[ -f $work/iperf-$1.pid ]] && kill "$(tr -d '\0' <"$work/iperf-$1.pid")" 2>/dev/null || true
}

world() { # prefix [tx]: the three namespaces, the two veth pairs, the endpoints
    local w=$1 tx=${2:-$ENDPOINT_TX}
    for ns in $w-acc $w-box $w-core; do ip netns add $ns; ip -n $ns link set lo up; done
    ip link add acc0 netns $w-acc type veth peer name box-acc netns $w-box
    ip link add core0 netns $w-core type veth peer name box-core netns $w-box
    ip -n $w-acc addr add 100.64.0.1/24 dev acc0
    ip -n $w-acc -6 addr add 2001:db8:1:1::5/64 dev acc0 nodad
    ip -n $w-acc link set acc0 up
    ip -n $w-acc route add default via 100.64.0.254
    ip -n $w-acc -6 route add default via 2001:db8:1:1::1
    ip -n $w-core addr add 192.0.2.80/24 dev core0
    ip -n $w-core -6 addr add 2001:db8:ffff::80/64 dev core0 nodad
    ip -n $w-core link set core0 up
    ip -n $w-core route add 203.0.113.0/28 via 192.0.2.1
    ip -n $w-core -6 route add 2001:db8:1::/48 via 2001:db8:ffff::1
    ip netns exec $w-acc ethtool -K acc0 gro on tx "$tx" >/dev/null
    ip netns exec $w-core ethtool -K core0 gro on tx "$tx" >/dev/null
    ip -n $w-box addr add 100.64.0.254/24 dev box-acc
    ip -n $w-box -6 addr add 2001:db8:1:1::1/64 dev box-acc nodad
    ip -n $w-box addr add 192.0.2.1/24 dev box-core
    ip -n $w-box -6 addr add 2001:db8:ffff::1/64 dev box-core nodad
    ip -n $w-box link set box-acc up; ip -n $w-box link set box-core up
    ip netns exec $w-box sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv4.conf.box-acc.rp_filter=0 net.ipv4.conf.box-core.rp_filter=0
    server $w-core
    sink $w-core
    if [[ $SPREAD == 1 ]]; then spread "$w"; fi
    local mac
    mac=$(ip -n $w-box -j link show dev box-acc | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
    cat >"$work/$w.cfg" <<CFG
{ eth(da=$mac), ipv4(saddr=100.64.0.1, daddr=192.0.2.80, ttl=64), udp(sport=dinc(1024,1087,1), dport=9), fill(0x41, 32) }
CFG
    cat >"$work/$w-new.cfg" <<CFG
{ eth(da=$mac), ipv4(saddr=100.64.0.1, saddr[3]=dinc(1,254), daddr=192.0.2.80, ttl=64), udp(sport=drnd(1024,65535), dport=9), fill(0x41, 32) }
CFG
}

config() { # mode [world hook]
    local F=${2:-$F} SOCKET=/run/sixfold-${2:-$F}.sock
    cat <<TOML
[router]
control_socket = "$SOCKET"
[nat]
pool = ["203.0.113.0/28"]
ports_per_subscriber = 64512
[wan]
name = "wan"
netns = "$F-box"
routes = ["203.0.113.0/28", "2001:db8:1::/48"]
route_table = 110
[[subscriber_range]]
name = "inside"
netns = "$F-box"
ipv4 = "100.64.0.0/24"
ipv6 = "2001:db8:1::/48"
routes = ["0.0.0.0/0", "::/0"]
route_table = 100
[fastpath]
mode = "$1"
hook = "${3:-xdp}"
inside = "box-acc"
outside = "box-core"
netns = "$F-box"
TOML
}

mode() { # ebpf|off: the running router of world F reloads its file with that mode
    config "$1" >"$work/$F.toml"
    $bin reload --socket "$SOCKET" >/dev/null
    sleep 1.5
}

# --- sixfold's boxes ------------------------------------------------------------
start_router() { # world hook: its router, started from $work/WORLD.toml; its pid last in router_pids
    local w=$1
    $bin run --config "$work/$w.toml" 2>"$work/router-$w.log" &
    router_pids+=($!)
    for _ in $(seq 100); do
        $bin stats --socket "/run/sixfold-$w.sock" >/dev/null 2>&1 && break
        sleep 0.1
    done
    $bin stats --socket "/run/sixfold-$w.sock" >/dev/null || { cat "$work/router-$w.log" >&2; exit 1; }
}

fresh_router() { # mode: world F's router (the first started) again, empty, in that mode
    kill "${router_pids[0]}" && wait "${router_pids[0]}" 2>/dev/null || true
    config "$1" >"$work/$F.toml"
    start_router $F
    router_pids[0]=${router_pids[-1]}
    unset 'router_pids[-1]'
}

sixfold_box() { # world hook [tx]: a box whose router runs the fast path on that hook
    local w=$1
    world "$w" "${3:-}"
    for rule in "rule add iif box-acc lookup 100" "-6 rule add iif box-acc lookup 100" \
        "rule add iif box-core lookup 110" "-6 rule add iif box-core lookup 110" \
        "-6 route add 2001:db8:1::/48 via 2001:db8:1:1::5"; do
        # shellcheck disable=SC2086
        ip -n $w-box $rule
    done
    config ebpf "$w" "$2" >"$work/$w.toml"
    start_router "$w"
}
sixfold_box $F xdp
if wants fastpath-tc; then sixfold_box $T tc; fi
if wants fastpath-tc-tx; then sixfold_box $TX tc on; fi

# --- the kernel's boxes ------------------------------------------------------------
kernel_box() { # world [tx]
    world "$1" "${2:-}"
    ip -n "$1-box" -6 route add 2001:db8:1::/48 via 2001:db8:1:1::5
    ip netns exec "$1-box" nft -f - <<'NFT'
table ip sfnat {
    chain post {
        type nat hook postrouting priority 100; policy accept;
        oifname "box-core" ip saddr 100.64.0.0/24 snat to 203.0.113.1
    }
}
NFT
}
kernel_box $K
if wants kernel-tx; then kernel_box $KX on; fi
sleep 1
if [[ -n $PROFILE ]]; then mkdir -p "$PROFILE"; fi

fast_packets() { # [world]: the fast path's packets so far, and the program's non-zero counters
    $bin stats --socket "/run/sixfold-${1:-$F}.sock" |
        python3 -c 'import json,sys; f=json.load(sys.stdin)["fastpath"]; print(f["packets"], " ".join("%s=%d" % kv for kv in f["program"].items() if kv[1]))'
}

# --- rounds, interleaved -----------------------------------------------------------
declare -A R
for round in $(seq "$REPS"); do
    for c in $CONTENDERS; do
        case $c in
            fastpath) mode ebpf; w=$F ;;
            off) mode off; w=$F ;;
            kernel) w=$K ;;
            fastpath-tc) w=$T ;;
            fastpath-tc-tx) w=$TX ;;
            kernel-tx) w=$KX ;;
            *) echo "unknown contender $c" >&2; exit 2 ;;
        esac
        read -r R[t4,$c,$round] R[c4,$c,$round] <<<"$(tcp $w 192.0.2.80)"
        read -r R[t6,$c,$round] R[c6,$c,$round] <<<"$(tcp $w 2001:db8:ffff::80)"
        if [[ $SPREAD == 1 ]]; then pin_napi; fi
        read -r R[u,$c,$round] R[cu,$c,$round] <<<"$(udp $w "" "$c-r$round")"
        R[n,$c,$round]=-; R[cn,$c,$round]=-
        if [[ $c == fastpath || $c == off ]]; then
            fresh_router "$([[ $c == fastpath ]] && echo ebpf || echo off)"
            if [[ $SPREAD == 1 ]]; then pin_napi; fi
            read -r R[n,$c,$round] R[cn,$c,$round] <<<"$(udp $w "$work/$w-new.cfg" "$c-first-r$round")"
        fi
        echo "round $round $c: TCPv4 ${R[t4,$c,$round]} Gbit/s ${R[c4,$c,$round]} core-s/GB;" \
            "TCPv6 ${R[t6,$c,$round]} Gbit/s ${R[c6,$c,$round]} core-s/GB;" \
            "UDP ${R[u,$c,$round]} kdatagram/s ${R[cu,$c,$round]} µs/datagram;" \
            "first packets ${R[n,$c,$round]} kdatagram/s ${R[cn,$c,$round]} µs/datagram" \
            "(fast-path packets so far: $(fast_packets "$([[ $w == "$T" || $w == "$TX" ]] && echo "$w")"))" >&2
    done
done

median() { # key contender -> median over rounds ("-" where not measured)
    local vals=()
    for round in $(seq "$REPS"); do vals+=("${R[$1,$2,$round]}"); done
    [[ ${vals[0]} == - ]] && { echo -; return; }
    printf '%s\n' "${vals[@]}" | sort -g | python3 -c 'import sys; v=[float(x) for x in sys.stdin]; print(("%.3f" if max(v) < 10 else "%.0f") % v[len(v)//2])'
}
ratio() {
    [[ $1 == - || $2 == - ]] && { echo -; return; }
    python3 -c "print('%.2f' % ($1/$2) if $2 else '-')"
}
# The ratios the table shows, where both contenders ran: a over b.
PAIRS="fastpath/kernel fastpath/off fastpath-tc/kernel fastpath-tc/fastpath fastpath-tc-tx/kernel-tx"
row() { # label key
    local line="| $1 |" c a b
    for c in $CONTENDERS; do line+=" $(median "$2" "$c") |"; done
    for pair in $PAIRS; do
        a=${pair%/*}; b=${pair#*/}
        if wants "$a" && wants "$b"; then
            line+=" $(ratio "$(median "$2" "$a")" "$(median "$2" "$b")") |"
        fi
    done
    echo "$line"
}
spread_note=""
if [[ $SPREAD == 1 ]]; then spread_note=", SPREAD=1: box on CPU $BOX_CPU, tester on CPU $GEN_CPU"; fi
header="| through one box (medians of $REPS interleaved rounds$spread_note) |"
rule="|---|"
for c in $CONTENDERS; do header+=" $c |"; rule+="---:|"; done
for pair in $PAIRS; do
    if wants "${pair%/*}" && wants "${pair#*/}"; then header+=" ${pair/\// \/ } |"; rule+="---:|"; fi
done
echo "$header"
echo "$rule"
row "TCP IPv4 (NAT), Gbit/s" t4
row "TCP IPv4, whole-machine core-s per GB" c4
row "TCP IPv6 (routed), Gbit/s" t6
row "TCP IPv6, whole-machine core-s per GB" c6
row "UDP 60 B (NAT), thousand datagrams/s arriving" u
row "UDP 60 B, whole-machine µs CPU per datagram" cu
row "first packets (a new session each), thousand datagrams/s arriving" n
row "first packets, whole-machine µs CPU per datagram" cn
