#!/usr/bin/env bash
# Stateful NAT64 through TUN: sixfold as the PLAT against tayga (Debian 0.9.2, the
# userspace TUN translator) with the kernel's nft masquerade behind it — tayga is
# stateless and needs the kernel for the NAPT44 half — in the same run:
#
#   sixfold: P-sub2 (IPv6-only) [TUN sub2] <- sixfold (NAT64) -> [TUN wan] P-wan     (sixfold lab --keep --ipv6-only)
#   tayga:   T-sub [veth] <-> T-rtr (tayga TUN nat64 + nft masquerade) <-> [veth] T-wan
#
# Both: the IPv6-only host reaches 192.0.2.80 (iperf3 server in the WAN
# namespace) as 2001:db8:64::c000:250. Contenders interleaved, REPS rounds
# (default 3), iperf3 TCP for SECS seconds (default 5), upload (IPv6 -> IPv4)
# and download (-R); and, for reference, sixfold's NAT44 from the lab's
# dual-stack subscriber in the same rounds. sixfold with its defaults (TUN offload on, a worker per CPU,
# or SIXFOLD_ARGS); tayga's veths with their default offloads.
#
# Prints the medians and ratios as a Markdown table, every run on stderr. Needs
# root, iperf3, tayga, nft.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 1; }
for p in iperf3 tayga nft python3; do
    command -v $p >/dev/null || { echo "missing $p" >&2; exit 1; }
done
SECS=${SECS:-5}
REPS=${REPS:-3}
read -r -a LAB_ARGS <<<"${SIXFOLD_ARGS:-}"
P=sfn64b; T=sftayga
TARGET=2001:db8:64::c000:250
cargo build --quiet --release -p sixfold --bin sixfold
work=$(mktemp -d)
lab_pid=""
tayga_pid=""
cleanup() {
    [[ -n $tayga_pid ]] && kill "$tayga_pid" 2>/dev/null && wait "$tayga_pid" 2>/dev/null || true
    for ns in $P-wan $T-wan; do
        [[ -f $work/iperf-$ns.pid ]] && kill "$(tr -d '\0' <"$work/iperf-$ns.pid")" 2>/dev/null || true
    done
    [[ -n $lab_pid ]] && kill "$lab_pid" 2>/dev/null && wait "$lab_pid" 2>/dev/null || true
    for ns in $T-sub $T-rtr $T-wan; do ip netns del $ns 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

iperf_tcp() { # ns extra-args... -> Gbit/s (to the server by its NAT64 address)
    local ns=$1
    shift
    iperf_to "$ns" -6 -c $TARGET "$@"
}

iperf_to() { # ns iperf3-args... -> Gbit/s
    local ns=$1 out
    shift
    out=$(ip netns exec "$ns" iperf3 -t "$SECS" -J "$@")
    python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))' <<<"$out"
}

server() { # ns
    ip netns exec "$1" iperf3 -s -D -B :: -I "$work/iperf-$1.pid" --logfile "$work/iperf-$1.log"
    sleep 0.5
}

# --- sixfold -------------------------------------------------------------------
mkfifo "$work/ready"
target/release/sixfold lab --keep --prefix $P --subscribers 1 --ipv6-only "${LAB_ARGS[@]}" >"$work/ready" 2>"$work/lab.log" &
lab_pid=$!
read -r line <"$work/ready"
[[ $line == ready ]] || { cat "$work/lab.log" >&2; exit 1; }
server $P-wan

# --- tayga + nft masquerade ------------------------------------------------------
for ns in $T-sub $T-rtr $T-wan; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add s1 netns $T-sub type veth peer name rin netns $T-rtr
ip link add rout netns $T-rtr type veth peer name w netns $T-wan
ip -n $T-sub -6 addr add 2001:db8:1:1::2/64 dev s1 nodad; ip -n $T-sub link set s1 up
ip -n $T-sub -6 route add default via 2001:db8:1:1::1
ip -n $T-rtr -6 addr add 2001:db8:1:1::1/64 dev rin nodad; ip -n $T-rtr link set rin up
ip -n $T-rtr addr add 203.0.113.1/24 dev rout; ip -n $T-rtr link set rout up
ip -n $T-wan addr add 203.0.113.2/24 dev w; ip -n $T-wan link set w up
ip -n $T-wan addr add 192.0.2.80/32 dev lo
ip -n $T-rtr route add 192.0.2.80/32 via 203.0.113.2
ip netns exec $T-rtr sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
mkdir -p "$work/tayga"
cat >"$work/tayga.conf" <<CONF
tun-device nat64
ipv4-addr 192.168.255.1
prefix 2001:db8:64::/96
dynamic-pool 192.168.255.0/24
data-dir $work/tayga
CONF
ip netns exec $T-rtr tayga --mktun -c "$work/tayga.conf" >/dev/null
ip -n $T-rtr link set nat64 up
ip -n $T-rtr route add 192.168.255.0/24 dev nat64
ip -n $T-rtr -6 route add 2001:db8:64::/96 dev nat64
ip netns exec $T-rtr nft -f - <<'NFT'
table ip sfnat64 {
    chain post {
        type nat hook postrouting priority 100; policy accept;
        oifname "rout" masquerade
    }
}
NFT
ip netns exec $T-rtr tayga --nodetach -c "$work/tayga.conf" >"$work/tayga.log" 2>&1 &
tayga_pid=$!
server $T-wan
sleep 1
ip netns exec $T-sub ping -6 -c 1 -W 2 $TARGET >/dev/null || { echo "tayga path does not work" >&2; cat "$work/tayga.log" >&2; exit 1; }

# --- rounds, interleaved -----------------------------------------------------------
declare -A R
for round in $(seq "$REPS"); do
    R[su,$round]=$(iperf_tcp $P-sub2)
    R[tu,$round]=$(iperf_tcp $T-sub)
    R[sd,$round]=$(iperf_tcp $P-sub2 -R)
    R[td,$round]=$(iperf_tcp $T-sub -R)
    R[n4,$round]=$(iperf_to $P-sub1 -4 -c 192.0.2.80)
    echo "round $round: TCP 6->4 sixfold ${R[su,$round]} tayga ${R[tu,$round]}; TCP 4->6 sixfold ${R[sd,$round]} tayga ${R[td,$round]}; sixfold NAT44 ${R[n4,$round]} (Gbit/s)" >&2
done

median() { # key -> median over rounds
    local k=$1 vals=()
    for round in $(seq "$REPS"); do vals+=("${R[$k,$round]}"); done
    printf '%s\n' "${vals[@]}" | sort -g | python3 -c 'import sys; v=[float(x) for x in sys.stdin]; print("%.2f" % v[len(v)//2])'
}
ratio() { python3 -c "print('%.1f' % ($1/$2))"; }
declare -A M
for k in su tu sd td n4; do M[$k]=$(median $k); done
cat <<TABLE
| NAT64 through TUN, iperf3 TCP $SECS s (medians of $REPS interleaved rounds) | sixfold | tayga + nft masquerade | sixfold / tayga |
|---|---:|---:|---:|
| IPv6-only host → IPv4 server, Gbit/s | ${M[su]} | ${M[tu]} | $(ratio ${M[su]} ${M[tu]}) |
| IPv4 server → IPv6-only host (-R), Gbit/s | ${M[sd]} | ${M[td]} | $(ratio ${M[sd]} ${M[td]}) |
| for reference: sixfold NAT44, dual-stack host → IPv4 server, Gbit/s | ${M[n4]} | | |
TABLE
