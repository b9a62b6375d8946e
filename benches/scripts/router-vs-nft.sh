#!/usr/bin/env bash
# Through TUN in the lab vs the kernel's own NAT in the same topology:
#
#   sixfold: P-sub1 [TUN sub1] <- sixfold router (userspace) -> [TUN wan] P-wan   (sixfold lab --keep)
#   kernel:  K-sub1 [veth] <-> K-rtr (nft masquerade, IPv6 forwarding) <-> [veth] K-wan
#
# For each: iperf3 TCP over IPv4 (through the NAT) and IPv6 (routed), 5 s, and
# 60-byte UDP packets per second from trafgen (64 source ports, sunk by an nft rule
# in the WAN namespace; pps = packets the WAN received / trafgen's run time). The
# kernel runs twice: veth offloads on (its default) and off (TSO/GSO/GRO off, so
# it handles MTU-sized packets as the TUN router does). Needs root, iperf3,
# trafgen (netsniff-ng), nft, ethtool. Prints a Markdown table with ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 1; }
for p in iperf3 trafgen nft ethtool; do command -v $p >/dev/null || { echo "missing $p" >&2; exit 1; }; done
SECS=${SECS:-5}
PACKETS=${PACKETS:-1000000}
P=sfbench; K=sfkern
cargo build --quiet --release -p sixfold --bin sixfold
work=$(mktemp -d)
lab_pid=""
cleanup() {
    stop_server $P-wan; stop_server $K-wan
    [[ -n $lab_pid ]] && kill "$lab_pid" 2>/dev/null && wait "$lab_pid" 2>/dev/null || true
    for ns in $K-sub1 $K-rtr $K-wan; do ip netns del $ns 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

iperf_tcp() { # ns server -> Gbit/s
    local out
    out=$(ip netns exec "$1" iperf3 -c "$2" -t "$SECS" -J)
    python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))' <<<"$out"
}

rx_packets() { # ns dev
    ip -n "$1" -j -s link show dev "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'
}

sink() { # ns
    ip netns exec "$1" nft -f - <<'NFT'
table inet sfsink { chain pre { type filter hook prerouting priority -300; policy accept; udp dport 9 counter drop; }; }
NFT
}

trafgen_pps() { # ns out-dev cfg wan-ns wan-dev -> kpps received
    local before after t0 t1
    before=$(rx_packets "$4" "$5")
    t0=$(date +%s.%N)
    ip netns exec "$1" trafgen -i "$3" -o "$2" -q -n "$PACKETS" >/dev/null 2>&1
    t1=$(date +%s.%N)
    sleep 0.5
    after=$(rx_packets "$4" "$5")
    python3 -c "print('%.0f' % (($after-$before)/($t1-$t0)/1e3))"
}

server() { # ns: an iperf3 daemon, its PID in $work/iperf-NS.pid
    ip netns exec "$1" iperf3 -s -D -B :: -I "$work/iperf-$1.pid" --logfile "$work/iperf-$1.log"
    sleep 0.5
}

stop_server() { # ns
    [[ -f $work/iperf-$1.pid ]] && kill "$(tr -d '\0' <"$work/iperf-$1.pid")" 2>/dev/null || true
}

# --- sixfold -------------------------------------------------------------------
mkfifo "$work/ready"
target/release/sixfold lab --keep --prefix $P --subscribers 1 >"$work/ready" 2>"$work/lab.log" &
lab_pid=$!
read -r line <"$work/ready"
[[ $line == ready ]] || { cat "$work/lab.log" >&2; exit 1; }
server $P-wan
sink $P-wan
cat >"$work/tun.cfg" <<'CFG'
{ ipv4(saddr=100.64.1.1, daddr=192.0.2.80, ttl=64), udp(sport=dinc(1024,1087,1), dport=9), fill(0x41, 32) }
CFG
s4=$(iperf_tcp $P-sub1 192.0.2.80)
s6=$(iperf_tcp $P-sub1 2001:db8:ffff::80)
spps=$(trafgen_pps $P-sub1 sub1 "$work/tun.cfg" $P-wan wan)
stop_server $P-wan
kill "$lab_pid"; wait "$lab_pid" || true; lab_pid=""

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
table ip sfnat { chain post { type nat hook postrouting priority 100; oifname "rout" masquerade; }; }
NFT
server $K-wan
sink $K-wan
mac=$(ip -n $K-rtr -j link show dev rin | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
cat >"$work/veth.cfg" <<CFG
{ eth(da=$mac), ipv4(saddr=100.64.1.1, daddr=192.0.2.80, ttl=64), udp(sport=dinc(1024,1087,1), dport=9), fill(0x41, 32) }
CFG
sleep 1
k4=$(iperf_tcp $K-sub1 192.0.2.80)
k6=$(iperf_tcp $K-sub1 2001:db8:ffff::80)
kpps=$(trafgen_pps $K-sub1 s1 "$work/veth.cfg" $K-wan w)
for pair in "$K-sub1 s1" "$K-rtr rin" "$K-rtr rout" "$K-wan w"; do
    set -- $pair; ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
done
sleep 1
o4=$(iperf_tcp $K-sub1 192.0.2.80)
o6=$(iperf_tcp $K-sub1 2001:db8:ffff::80)
opps=$(trafgen_pps $K-sub1 s1 "$work/veth.cfg" $K-wan w)
stop_server $K-wan

ratio() { python3 -c "print('%.2f' % ($1/$2))"; }
cat <<TABLE
| through the router | sixfold (TUN) | kernel nft, offloads on | kernel nft, offloads off | sixfold / kernel on | sixfold / kernel off |
|---|---:|---:|---:|---:|---:|
| TCP IPv4 (NAT), Gbit/s | $s4 | $k4 | $o4 | $(ratio $s4 $k4) | $(ratio $s4 $o4) |
| TCP IPv6 (routed), Gbit/s | $s6 | $k6 | $o6 | $(ratio $s6 $k6) | $(ratio $s6 $o6) |
| UDP 60 B (NAT), kpps received | $spps | $kpps | $opps | $(ratio $spps $kpps) | $(ratio $spps $opps) |
TABLE
