#!/usr/bin/env bash
# Carrier-grade NAT load the RFC 9693 way (benchmarking stateful NATxy gateways):
# sixfold through TUN against the kernel's own nftables masquerade, in the same
# topology, interleaved, medians of REPS rounds (default 3).
#
#   sixfold: S-sub [TUN cgin: range 100.64.0.0/16] <- sixfold run -> [TUN cgwan] S-wan
#   kernel:  K-sub [veth s1] <-> K-rtr (nft masquerade) <-> [veth w] K-wan
#
# Subscribers are the addresses 100.64.0.1 .. 100.64.0.0+SUBSCRIBERS (one
# `[[subscriber_range]]` TUN: each address is a subscriber with its own limits).
# The server is 192.0.2.80 in the WAN namespace. Every test datagram and SYN
# comes from trafgen (this kernel has no pktgen) with RFC 4814 pseudorandom
# ports: source address drnd over the subscribers, source port drnd(1024, 65535),
# UDP destination port drnd(1, 49151): almost every packet is a new 5-tuple.
#
# Measured, per contender:
# 1. Maximum connection establishment rate (RFC 9693 §4.3), UDP and TCP: the
#    highest offered rate whose trial (TRIAL seconds) delivers with less than
#    LOSS (0.1%) loss, found by binary search between 0 and MAX_RATE until the
#    bracket is narrower than PRECISION of its top. A trial starts from an empty
#    state table (the router restarted; the kernel's router namespace rebuilt).
#    UDP: datagrams counted by an nft counter in the WAN namespace's prerouting
#    hook (and dropped there). TCP: SYNs to 192.0.2.80:80, where a listener
#    answers with syncookies always on (tcp_syncookies=2: the server is
#    stateless, not the bottleneck); SYN-ACKs counted by an nft counter in the
#    subscriber namespace's prerouting hook (and dropped: no RST tears the
#    sessions down). A trial whose generator fell more than 5% short of the
#    offered rate fails too (the TUN pushes back on trafgen rather than drop;
#    trafgen's start-up, timed once with one packet, is not counted).
# 2. Throughput with SESSIONS live sessions (default 1 M) over the subscribers:
#    iperf3 TCP from 100.64.0.1 for SECS seconds on an empty table, then UDP
#    sessions are opened at FILL_RATE (datagrams to random ports, RFC 4814), the
#    live count read (sixfold stats; the namespace's nf_conntrack_count), and
#    iperf3 runs again. Ratio = with sessions / without.
# 3. Tear-down rate: the sessions of (2) expire (UDP timeout 120 s on both: the
#    least RFC 4787 allows, sixfold's floor); the live count is sampled every
#    0.05 s from the first expiry to the last, while ping -i 0.05 from a
#    subscriber checks that forwarding does not stall (lost pings, worst RTT).
#    Sessions were opened at FILL_RATE, so a tear-down rate close to it says the
#    tear-down kept up (the figure is bounded by the fill, not the gateway).
# 4. State-table capacity: sixfold's resident memory (VmRSS) before and after
#    the fill, per session and as sessions per GB of the whole process; the
#    kernel's conntrack slab (/proc/slabinfo nf_conntrack: pages the slab grew
#    by, per entry) plus its hash table (8 bytes per bucket).
#
# PARTS (default establish,load) runs (1) and/or (2)-(4); SKIP_TEARDOWN=1 skips (3).
#
# Changes the init namespace's net.netfilter.nf_conntrack_max and the
# nf_conntrack hashsize (so the kernel holds SESSIONS) and restores them on exit.
# Prints the command line and the machine, then a Markdown table; every trial on
# stderr. Needs root, trafgen (netsniff-ng), nft, iperf3, ping, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 1; }
for p in trafgen nft iperf3 ping python3 taskset ip; do
    command -v $p >/dev/null || { echo "missing $p" >&2; exit 1; }
done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
REPS=${REPS:-3}
SUBSCRIBERS=${SUBSCRIBERS:-10000}
SESSIONS=${SESSIONS:-1000000}
FILL_RATE=${FILL_RATE:-100000}
TRIAL=${TRIAL:-2}
MAX_RATE=${MAX_RATE:-1000000}
PRECISION=${PRECISION:-0.05}
LOSS=${LOSS:-0.001}
SECS=${SECS:-5}
GEN_CPU=${GEN_CPU:-1}
SKIP_TEARDOWN=${SKIP_TEARDOWN:-0}
PARTS=${PARTS:-establish,load} # establish: (1); load: (2)-(4)
UDP_TIMEOUT=120
((SUBSCRIBERS >= 1 && SUBSCRIBERS <= 65534)) || { echo "SUBSCRIBERS: 1..65534" >&2; exit 1; }
S=sfcgl; K=sfcgk
SOCK=/run/sixfold-$S.sock
BIN=target/release/sixfold
cargo build --quiet --release -p sixfold --bin sixfold
work=$(mktemp -d)
router_pid=""
gen_pid=""
ct_max0=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
ct_hash0=$(cat /sys/module/nf_conntrack/parameters/hashsize)
cleanup() {
    [[ -n $gen_pid ]] && kill "$gen_pid" 2>/dev/null && wait "$gen_pid" 2>/dev/null || true
    stop_router
    # The WAN sides' iperf3 daemons and listeners outlive their namespaces.
    for f in "$work"/iperf-*.pid "$work"/listen-*.pid; do
        [[ -f $f ]] && kill "$(tr -d '\0' <"$f")" 2>/dev/null || true
    done
    for ns in $S-sub $S-wan $K-sub $K-rtr $K-wan; do ip netns del $ns 2>/dev/null || true; done
    echo "$ct_max0" >/proc/sys/net/netfilter/nf_conntrack_max
    echo "$ct_hash0" >/sys/module/nf_conntrack/parameters/hashsize
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
want=$((SESSIONS + SESSIONS / 4 + 65536))
((want > ct_max0)) && echo "$want" >/proc/sys/net/netfilter/nf_conntrack_max
((want > ct_hash0)) && echo "$want" >/sys/module/nf_conntrack/parameters/hashsize

first=$((0x64400001)) # 100.64.0.1
last=$((0x64400000 + SUBSCRIBERS))

# --- the worlds -------------------------------------------------------------------
fresh_ns() { # ns
    ip netns del "$1" 2>/dev/null || true
    ip netns add "$1"
    ip -n "$1" link set lo up
    ip netns exec "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

counters() { # ns: dgrams (UDP to the server, WAN side) and synacks (subscriber side), counted and dropped
    ip netns exec "$1" nft -f - <<'NFT'
table ip sfload {
    counter dgrams { }
    counter synacks { }
    chain pre {
        type filter hook prerouting priority -300; policy accept;
        ip daddr 192.0.2.80 meta l4proto udp counter name dgrams drop
        tcp flags & (syn | ack) == syn | ack tcp sport 80 counter name synacks drop
    }
}
NFT
}

count() { # ns name -> packets
    ip netns exec "$1" nft -j list counter ip sfload "$2" |
        python3 -c 'import json,sys; print([x["counter"] for x in json.load(sys.stdin)["nftables"] if "counter" in x][0]["packets"])'
}

wan_side() { # ns: the server, its listener, counters
    local ns=$1
    ip -n "$ns" addr add 192.0.2.80/32 dev lo
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_syncookies=2 net.ipv4.tcp_max_syn_backlog=65536 \
        net.core.somaxconn=65536
    counters "$ns"
    ip netns exec "$ns" iperf3 -s -D -B 192.0.2.80 -I "$work/iperf-$ns.pid" --logfile "$work/iperf-$ns.log"
    ip netns exec "$ns" python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.80", 80)); s.listen(65535)
while True: time.sleep(3600)' >/dev/null 2>&1 &
    echo $! >"$work/listen-$ns.pid"
}

stop_router() {
    [[ -n $router_pid ]] || return 0
    kill "$router_pid" 2>/dev/null || true
    wait "$router_pid" 2>/dev/null || true
    router_pid=""
}

start_router() { # a fresh sixfold: empty tables; its TUNs (and their addresses) are new
    stop_router
    cat >"$work/router.toml" <<TOML
[router]
ra = false
control_socket = "$SOCK"
[nat]
pool = ["203.0.113.0/24"]
max_sessions = $want
[nat.timeouts]
udp = $UDP_TIMEOUT
[wan]
name = "cgwan"
netns = "$S-wan"
[[subscriber_range]]
name = "cgin"
netns = "$S-sub"
ipv4 = "100.64.0.0/16"
TOML
    "$BIN" run --config "$work/router.toml" 2>>"$work/router.log" &
    router_pid=$!
    for _ in $(seq 100); do
        "$BIN" stats --socket "$SOCK" >/dev/null 2>&1 && break
        kill -0 "$router_pid" 2>/dev/null || { cat "$work/router.log" >&2; exit 1; }
        sleep 0.1
    done
    ip -n $S-sub addr add 100.64.0.1/32 dev cgin
    ip -n $S-sub link set cgin up
    ip -n $S-sub route add 192.0.2.0/24 dev cgin src 100.64.0.1
    ip -n $S-wan link set cgwan up
    ip -n $S-wan route add 203.0.113.0/24 dev cgwan
}

sixfold_world() {
    fresh_ns $S-sub; fresh_ns $S-wan
    counters $S-sub
    wan_side $S-wan
    start_router
}

kernel_router() { # a fresh router namespace between the two: empty conntrack
    fresh_ns $K-rtr
    ip link add s1 netns $K-sub type veth peer name rin netns $K-rtr
    ip link add rout netns $K-rtr type veth peer name w netns $K-wan
    ip -n $K-sub addr add 100.64.0.1/16 dev s1; ip -n $K-sub link set s1 up
    ip -n $K-sub route add default via 100.64.255.254
    ip -n $K-rtr addr add 100.64.255.254/16 dev rin; ip -n $K-rtr link set rin up
    ip -n $K-rtr addr add 203.0.113.1/24 dev rout; ip -n $K-rtr link set rout up
    ip -n $K-wan addr add 203.0.113.2/24 dev w; ip -n $K-wan link set w up
    ip -n $K-rtr route add 192.0.2.80/32 via 203.0.113.2
    ip netns exec $K-rtr sysctl -qw net.ipv4.ip_forward=1 \
        net.netfilter.nf_conntrack_udp_timeout=$UDP_TIMEOUT \
        net.netfilter.nf_conntrack_udp_timeout_stream=$UDP_TIMEOUT
    ip netns exec $K-rtr nft -f - <<'NFT'
table ip sfnat {
    chain post {
        type nat hook postrouting priority 100; policy accept;
        oifname "rout" masquerade
    }
}
NFT
    mac=$(ip -n $K-rtr -j link show dev rin | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
    # Answers to every subscriber address go to the subscriber namespace through
    # one neighbour (100.64.0.1), where the SYN-ACK counter takes them.
    ip -n $K-rtr route add 100.64.0.1/32 dev rin
    ip -n $K-rtr route replace 100.64.0.0/16 via 100.64.0.1 dev rin
    sleep 0.2
}

kernel_world() {
    fresh_ns $K-sub; fresh_ns $K-wan
    counters $K-sub
    wan_side $K-wan
    kernel_router
}

reset() { # contender: an empty state table
    case $1 in
        sixfold) start_router ;;
        kernel)
            ip netns del $K-rtr
            # The veths go with the namespace, in the background: wait for them.
            while ip -n $K-sub link show s1 >/dev/null 2>&1 || ip -n $K-wan link show w >/dev/null 2>&1; do
                sleep 0.05
            done
            kernel_router
            ;;
    esac
}

# --- generators -------------------------------------------------------------------
gen_cfg() { # contender proto -> a trafgen configuration (RFC 4814 pseudorandom ports)
    local eth="" udp tcp
    [[ $1 == kernel ]] && eth="eth(da=$mac), "
    udp="udp(sport=drnd(1024, 65535), dport=drnd(1, 49151)), fill(0x41, 18)"
    tcp="tcp(sport=drnd(1024, 65535), dport=80, seq=drnd(), syn, window=64240)"
    local l4=$udp
    [[ $2 == tcp ]] && l4=$tcp
    echo "{ ${eth}ipv4(saddr=drnd($first, $last), daddr=192.0.2.80, ttl=64, id=drnd()), $l4 }"
}

generate() { # contender proto rate packets -> seconds it took (start-up included)
    local ns=$S-sub dev=cgin t0 t1
    [[ $1 == kernel ]] && { ns=$K-sub; dev=s1; }
    gen_cfg "$1" "$2" >"$work/gen.cfg"
    t0=$(date +%s.%N)
    taskset -c "$GEN_CPU" ip netns exec "$ns" trafgen -i "$work/gen.cfg" -o "$dev" --cpus 1 \
        -b "${3}pps" -n "$4" >/dev/null 2>&1
    t1=$(date +%s.%N)
    python3 -c "print($t1 - $t0)"
}

delivered() { # contender proto -> packets counted at the far end
    case $1,$2 in
        sixfold,udp) count $S-wan dgrams ;;
        kernel,udp) count $K-wan dgrams ;;
        sixfold,tcp) count $S-sub synacks ;;
        kernel,tcp) count $K-sub synacks ;;
    esac
}

declare -A STARTUP
calibrate() { # contender: trafgen's start-up time (one packet; median of 5), taken off every trial's time
    local t=()
    for _ in 1 2 3 4 5; do t+=("$(generate "$1" udp 1000 1)"); done
    STARTUP[$1]=$(IFS=,; python3 -c "v = sorted([${t[*]}]); print(max(0.0, v[2] - 0.001))")
    echo "  $1: generator start-up ${STARTUP[$1]} s" >&2
}

trial() { # contender proto rate -> 0 (pass) or 1, the figures on stderr
    local n secs a b
    n=$(python3 -c "print(max(1, int($3 * $TRIAL)))")
    reset "$1"
    a=$(delivered "$1" "$2")
    secs=$(generate "$1" "$2" "$3" "$n")
    sleep 0.5
    b=$(delivered "$1" "$2")
    python3 - "$1" "$2" "$3" "$n" "$secs" "$a" "$b" "$LOSS" "${STARTUP[$1]}" <<'PY' >&2
import sys
who, proto, rate, n, secs, a, b, loss, startup = sys.argv[1:]
rate, n, got, loss = float(rate), int(n), int(b) - int(a), float(loss)
secs = max(float(secs) - float(startup), 1e-3)
achieved = n / secs
lost = 1 - got / n
ok = lost < loss and achieved >= 0.95 * rate
print(f"  {who} {proto} offered {rate:.0f}/s sent {n} in {secs:.2f} s ({achieved:.0f}/s)"
      f" delivered {got} loss {lost:.4%}: {'pass' if ok else 'fail'}")
sys.exit(0 if ok else 1)
PY
}

search() { # contender proto: the highest rate passing, per second, in RESULT
    # (not printed: run in a subshell, a restarted router would escape this shell)
    local lo=0 hi=$MAX_RATE mid
    while python3 -c "import sys; sys.exit(0 if $hi - $lo > $PRECISION * $hi else 1)"; do
        mid=$(((lo + hi) / 2))
        if trial "$1" "$2" "$mid"; then lo=$mid; else hi=$mid; fi
    done
    RESULT=$lo
}

# --- state: sessions, memory ------------------------------------------------------
sessions() { # contender -> live sessions
    case $1 in
        sixfold) "$BIN" stats --socket "$SOCK" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions"])' ;;
        kernel) ip netns exec $K-rtr cat /proc/sys/net/netfilter/nf_conntrack_count ;;
    esac
}

rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$router_pid/status"; }

slab_bytes() { # the nf_conntrack slab's pages, in bytes
    awk '$1 == "nf_conntrack" { print $15 * $6 * 4096 }' /proc/slabinfo
}

iperf_gbps() { # contender -> Gbit/s, TCP from 100.64.0.1
    local ns=$S-sub
    [[ $1 == kernel ]] && ns=$K-sub
    ip netns exec "$ns" iperf3 -c 192.0.2.80 -B 100.64.0.1 -t "$SECS" -J |
        python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'
}

loaded() { # contender: in RESULT, "one-flow Gbit/s, Gbit/s with the sessions, sessions live, bytes per session, tear-down/s, pings lost, worst ms"
    local who=$1 g0 g1 live m0 m1 per t_first t_last teardown pings
    reset "$who"
    g0=$(iperf_gbps "$who")
    if [[ $who == sixfold ]]; then m0=$(rss); else m0=$(slab_bytes); fi
    generate "$who" udp "$FILL_RATE" "$SESSIONS" >/dev/null
    sleep 1
    live=$(sessions "$who")
    if [[ $who == sixfold ]]; then m1=$(rss); else m1=$(slab_bytes); fi
    g1=$(iperf_gbps "$who")
    per=$(python3 -c "print('%.0f' % (($m1 - $m0) / max($live, 1)))")
    echo "  $who: $live sessions live, ${g0} -> ${g1} Gbit/s, $per bytes/session (memory $m0 -> $m1)" >&2
    if [[ $SKIP_TEARDOWN == 1 ]]; then
        RESULT="$g0 $g1 $live $per - - - $m1"
        return
    fi
    local ns=$S-sub
    [[ $who == kernel ]] && ns=$K-sub
    ip netns exec "$ns" ping -I 100.64.0.1 -i 0.05 -w $((UDP_TIMEOUT + 60)) -q 192.0.2.80 >"$work/ping" 2>&1 &
    local ping_pid=$!
    read -r teardown t_first t_last < <(python3 - "$who" "$live" "$BIN" "$SOCK" "$K-rtr" "$((UDP_TIMEOUT + 60))" <<'PY'
import json, subprocess, sys, time
who, live, bin_, sock, rtr, limit = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6])
def count():
    if who == "sixfold":
        return json.loads(subprocess.check_output([bin_, "stats", "--socket", sock]))["sessions"]
    return int(subprocess.check_output(["ip", "netns", "exec", rtr, "cat", "/proc/sys/net/netfilter/nf_conntrack_count"]))
# The drain runs from the last sample that still saw the table full to the
# first that sees it (nearly) empty: a drain shorter than a few samples gives
# a lower bound.
start = time.time(); first = last = None; top = count(); n = top; seen = start
while time.time() - start < limit:
    n = count(); now = time.time()
    if first is None and n < top - max(10, top // 1000): first = seen
    if n <= max(2, live // 1000):
        last = now
        first = seen if first is None else first
        break
    seen = now
    time.sleep(0.05)
if first is None or last is None or last <= first:
    print("- - -")
else:
    print("%.0f %.1f %.1f" % ((top - n) / (last - first), first - start, last - start))
PY
)
    kill -INT "$ping_pid" 2>/dev/null || true
    wait "$ping_pid" 2>/dev/null || true
    pings=$(python3 - "$work/ping" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
loss = re.search(r"([\d.]+)% packet loss", t)
worst = re.search(r"= [\d.]+/[\d.]+/([\d.]+)/", t)
print((loss.group(1) if loss else "-") + " " + (worst.group(1) if worst else "-"))
PY
)
    echo "  $who: tear-down $teardown sessions/s (from $t_first s to $t_last s after the fill), ping loss % / worst ms: $pings" >&2
    RESULT="$g0 $g1 $live $per $teardown $pings $m1"
}

# --- rounds, interleaved ----------------------------------------------------------------
sixfold_world
kernel_world
calibrate sixfold
calibrate kernel
declare -A V
for round in $(seq "$REPS"); do
    echo "round $round" >&2
    for proto in udp tcp; do
        for who in sixfold kernel; do
            V[$who,$proto,$round]=-
            [[ ,$PARTS, == *,establish,* ]] || continue
            search "$who" "$proto"
            V[$who,$proto,$round]=$RESULT
            echo " $who $proto: ${V[$who,$proto,$round]}/s" >&2
        done
    done
    for who in sixfold kernel; do
        RESULT="- - - - - - - -"
        [[ ,$PARTS, == *,load,* ]] && loaded "$who"
        read -r -a f <<<"$RESULT"
        V[$who,g0,$round]=${f[0]}; V[$who,g1,$round]=${f[1]}; V[$who,live,$round]=${f[2]}
        V[$who,per,$round]=${f[3]}; V[$who,down,$round]=${f[4]}; V[$who,pingloss,$round]=${f[5]}
        V[$who,worst,$round]=${f[6]}; V[$who,mem,$round]=${f[7]}
    done
done

median() { # who key -> median over rounds ("-" where a round had none)
    local vals=()
    for round in $(seq "$REPS"); do vals+=("${V[$1,$2,$round]}"); done
    printf '%s\n' "${vals[@]}" | python3 -c '
import sys
v = sorted(float(x) for x in sys.stdin.read().split() if x != "-")
if not v: print("-")
else:
    m = v[len(v) // 2]
    print(("%.0f" if m >= 100 else "%.2f") % m)'
}
ratio() { python3 -c "print('-' if '-' in ('$1', '$2') or float('$2') == 0 else '%.2f' % (float('$1') / float('$2')))"; }
declare -A M
for who in sixfold kernel; do
    for k in udp tcp g0 g1 live per down pingloss worst mem; do M[$who,$k]=$(median $who $k); done
    M[$who,keep]=$(ratio "${M[$who,g1]}" "${M[$who,g0]}")
done
hash_bytes=$(( $(cat /sys/module/nf_conntrack/parameters/hashsize) * 8 ))
k_per=$(python3 -c "print('-' if '${M[kernel,per]}' == '-' else '%.0f' % (float('${M[kernel,per]}') + $hash_bytes / max(float('${M[kernel,live]}'), 1)))")
per_gb() { python3 -c "print('-' if '$1' in ('-', '0') else '%.1f' % (1e9 / float('$1') / 1e6))"; }
whole_gb=$(python3 -c "print('-' if '${M[sixfold,mem]}' == '-' else '%.1f' % (float('${M[sixfold,live]}') / float('${M[sixfold,mem]}') * 1e9 / 1e6))")
echo "command: $0 (PARTS=$PARTS REPS=$REPS SUBSCRIBERS=$SUBSCRIBERS SESSIONS=$SESSIONS FILL_RATE=$FILL_RATE TRIAL=$TRIAL MAX_RATE=$MAX_RATE PRECISION=$PRECISION LOSS=$LOSS SECS=$SECS GEN_CPU=$GEN_CPU)"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs, kernel $(uname -r); load average before: $load0"
echo
cat <<TABLE
| RFC 9693 (medians of $REPS interleaved rounds) | sixfold (TUN) | kernel nft masquerade | sixfold / kernel |
|---|---:|---:|---:|
| connection establishment, UDP, per s (loss < $LOSS) | ${M[sixfold,udp]} | ${M[kernel,udp]} | $(ratio "${M[sixfold,udp]}" "${M[kernel,udp]}") |
| connection establishment, TCP SYN → SYN-ACK, per s (loss < $LOSS) | ${M[sixfold,tcp]} | ${M[kernel,tcp]} | $(ratio "${M[sixfold,tcp]}" "${M[kernel,tcp]}") |
| TCP one flow, empty table, Gbit/s | ${M[sixfold,g0]} | ${M[kernel,g0]} | $(ratio "${M[sixfold,g0]}" "${M[kernel,g0]}") |
| TCP one flow with the sessions live, Gbit/s | ${M[sixfold,g1]} | ${M[kernel,g1]} | $(ratio "${M[sixfold,g1]}" "${M[kernel,g1]}") |
| … with sessions / empty | ${M[sixfold,keep]} | ${M[kernel,keep]} | |
| sessions live (of $SESSIONS opened at $FILL_RATE/s) | ${M[sixfold,live]} | ${M[kernel,live]} | |
| tear-down, sessions per s (expiring; opened at $FILL_RATE/s) | ${M[sixfold,down]} | ${M[kernel,down]} | $(ratio "${M[sixfold,down]}" "${M[kernel,down]}") |
| ping during tear-down: % lost, worst ms | ${M[sixfold,pingloss]}, ${M[sixfold,worst]} | ${M[kernel,pingloss]}, ${M[kernel,worst]} | |
| bytes per session (sixfold: resident growth; kernel: slab growth + hash) | ${M[sixfold,per]} | $k_per | $(ratio "${M[sixfold,per]}" "$k_per") |
| million sessions per GB (from the line above) | $(per_gb "${M[sixfold,per]}") | $(per_gb "$k_per") | |
| million sessions per GB of the whole sixfold process (VmRSS) | $whole_gb | | |
TABLE
