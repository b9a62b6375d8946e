#!/usr/bin/env bash
# A TCP SYN flood from one subscriber through the lab's carrier-grade NAT, while
# the other subscriber pings and fetches a page: are the refusals counted, do the
# limits hold, is the other subscriber unaffected?
#
#   P-sub1 [sub1 TUN 100.64.1.1]  trafgen: N SYNs ─┐
#   P-sub2 [sub2 TUN 100.64.1.2]  ping, curl ──────┼─ sixfold lab --keep ── [wan TUN] P-wan
#                                                   ┘  (NAT pool 203.0.113.0/24)    lo: 192.0.2.80
#
# How:
# - The lab runs with --config giving [nat] the limits checked below (the router's
#   defaults unless PORTS / SESSIONS / MAX_SESSIONS say otherwise), so the checks
#   use the values the router was given, not a copy of its defaults.
# - trafgen (netsniff-ng) writes N IPv4 TCP SYNs straight into the sub1 TUN from
#   P-sub1: source 100.64.1.1, random source port 1024-65535, random destination
#   port 1-8079 on 192.0.2.80 (8080 is sub2's web server), random sequence number
#   and IP id, a fixed SEED. trafgen builds the IP and TCP checksums itself and
#   recomputes them for every packet its drnd() fields change; the WAN host's
#   TCP InCsumErrors and the router's bad_ip_checksum, both printed, show it.
#   trafgen on a TUN (no link header) needs nothing special; its packet ring
#   retries a frame the TUN refused (queue full), so every packet it reports
#   sent reaches the router: the sub1 TUN's TX packets grow by exactly N, and its
#   TX "dropped" counts refused attempts (back-pressure), not lost packets. The
#   rate is therefore what the router takes, or RATE (pps) if set.
# - The WAN host answers the SYNs that get through with RSTs, as a host with
#   closed ports does; every refused SYN gets ICMP 3/13 within the router's ICMP
#   rate limit (the rest count as icmp_rate_limited, an ICMP not sent, not a
#   packet dropped).
# - Meanwhile, from P-sub2: ping 192.0.2.80 every PING_INTERVAL s in batches of
#   20 (each batch waits for its last reply), and curl http://192.0.2.80:8080/ (a
#   python3 http.server this script starts in P-wan) every CURL_INTERVAL s; both
#   also before the flood, for the baseline. `sixfold stats` is sampled every 2 s.
# - Accounting, over the flood window (counters read before and after): every
#   IPv4 TCP packet the router read — the flood (sub1 TUN TX, less the packets
#   sub1's own kernel sent, counted by nft in its output hook), the TCP the
#   namespaces' kernels sent (nft output counters in P-sub1, P-sub2, P-wan: curl,
#   the web server, RSTs) — is either forwarded (ipv4.outbound/inbound.tcp) or
#   dropped with a reason. Reasons other than the NAT's refusals (port_limit,
#   subscriber_session_limit, session_limit, pool_exhausted) are listed: e.g.
#   tunnel_tsp, SYNs to or from TCP port 3653 (TSP), and RSTs coming back to an
#   external port 3653 the NAT handed out. Packets no drop reason explains fail
#   the run, unless as many are explained by the kernels' non-TCP packets (IPv6
#   ND/MLD, which the router may drop) or by their own packets that the sub2 and
#   wan TUNs refused (queue full: lost before the router).
# - The WAN namespace also records every flow a SYN opens (an nft set: public
#   address, port, destination port), to count the flood's external ports and
#   flows on the wire, apart from what the router says of itself.
#
# Fails (exit 1) if a limit did not hold (sub1's or sub2's ports per protocol,
# sessions per subscriber, sessions in total, in the router's stats sampled
# every 2 s and at the end; the flood's ports and flows on the wire, for a flood
# shorter than the 240 s transitory timeout), sub2 lost a ping or a fetch, the
# lab died, a SYN reached the WAN with a bad checksum, fewer than N packets went
# out, the flood ran past FLOOD_TIMEOUT, the accounting has an unexplained gap,
# or the lab left a namespace behind. Needs root, trafgen, nft, curl, ping,
# python3. Everything it starts is stopped by PID, everything it makes removed.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 1; }
for p in trafgen nft curl ping python3 ip; do
    command -v $p >/dev/null || { echo "missing $p" >&2; exit 1; }
done
N=${N:-4800000}                  # SYNs to send
RATE=${RATE:-}                   # packets/s for trafgen; empty: as fast as the router takes them
SEED=${SEED:-4800}               # trafgen's random seed (same packets every run)
FLOOD_TIMEOUT=${FLOOD_TIMEOUT:-270} # s: the flood is stopped (and the run failed) after this
PING_INTERVAL=${PING_INTERVAL:-0.05}
BASELINE_PINGS=${BASELINE_PINGS:-100}
CURL_INTERVAL=${CURL_INTERVAL:-1}
PORTS=${PORTS:-4096}             # nat.ports_per_subscriber (per protocol)
SESSIONS=${SESSIONS:-131072}     # nat.sessions_per_subscriber
MAX_SESSIONS=${MAX_SESSIONS:-1048576} # nat.max_sessions
P=${PREFIX:-sfflood}
SERVER=192.0.2.80
HTTP_PORT=8080
SOCK=/run/sixfold-$P.sock
BIN=target/release/sixfold

cargo build --quiet --release -p sixfold --bin sixfold
work=$(mktemp -d)
lab_pid=""; gen_pid=""; http_pid=""; ping_pid=""; curl_pid=""; poll_pid=""
stop_generator() { # trafgen and its worker processes: SIGINT, as Ctrl-C would send them all
    [[ -n $gen_pid ]] || return 0
    pkill -INT -P "$gen_pid" 2>/dev/null || true
    kill -INT "$gen_pid" 2>/dev/null || true
    wait "$gen_pid" 2>/dev/null || true
    gen_pid=""
}
stop_monitors() { # the ping, curl and stats loops (subshells of this script)
    rm -f "$work/flooding"
    for pid in $ping_pid $curl_pid $poll_pid; do
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    ping_pid=""; curl_pid=""; poll_pid=""
}
stop_lab() { # SIGTERM, and wait: the lab removes its namespaces and socket itself
    [[ -n $lab_pid ]] || return 0
    kill -TERM "$lab_pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$lab_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$lab_pid" 2>/dev/null || true
    wait "$lab_pid" 2>/dev/null || true
    lab_pid=""
    exec 3<&-
}
cleanup() {
    stop_generator
    stop_monitors
    if [[ -n $http_pid ]]; then
        kill "$http_pid" 2>/dev/null || true
        wait "$http_pid" 2>/dev/null || true
    fi
    stop_lab
    # Only if the lab could not remove them (it was killed): its namespaces.
    for ns in $P-sub1 $P-sub2 $P-wan; do
        if [[ -e /run/netns/$ns ]]; then ip netns del "$ns" 2>/dev/null || true; fi
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT # exit runs cleanup; the script does not go on
trap 'exit 143' TERM

stats() { "$BIN" stats --socket "$SOCK"; }
counters() { # -> JSON: each namespace's TUN TX and nft output counters, the WAN host's TCP MIB, the router's memory
    local ns dev
    {
        for ns in $P-sub1 $P-sub2 $P-wan; do
            dev=${ns#"$P"-}
            echo "tun $ns $(ip -n "$ns" -j -s link show dev "$dev")"
            echo "nft $ns $(ip netns exec "$ns" nft -j list counters table inet sfflood)"
        done
        echo "snmp $P-wan $(ip netns exec "$P-wan" cat /proc/net/snmp | grep '^Tcp:' | tr '\n' ' ')"
        # The router is the lab's child process (`sixfold run`).
        echo "rss lab $(grep -E '^(VmRSS|VmHWM):' "/proc/$(pgrep -P "$lab_pid" -x sixfold | head -n 1)/status" | tr -s ' \n' ' ')"
    } | python3 -c '
import json, sys
out = {"tun": {}, "nft": {}}
for line in sys.stdin:
    kind, who, rest = line.rstrip("\n").split(" ", 2)
    if kind == "tun":
        tx = json.loads(rest)[0]["stats64"]["tx"]
        out["tun"][who] = {"packets": tx["packets"], "dropped": tx["dropped"]}
    elif kind == "nft":
        out["nft"][who] = {c["counter"]["name"]: c["counter"]["packets"]
                           for c in json.loads(rest)["nftables"] if "counter" in c}
    elif kind == "snmp":
        names, values = rest.split("Tcp:")[1:3]
        out["tcp_mib"] = dict(zip(names.split(), map(int, values.split())))
    elif kind == "rss":
        f = rest.split()
        out["rss_kib"], out["hwm_kib"] = int(f[f.index("VmRSS:") + 1]), int(f[f.index("VmHWM:") + 1])
print(json.dumps(out))'
}

# --- the lab, with the limits under test -----------------------------------------
cat >"$work/lab.toml" <<TOML
# As \`sixfold lab\` without --config, with the NAT's limits spelled out.
[router]
ipv6 = "2001:db8:1::1"
rdnss = ["2001:db8:ffff::53"]
[nat]
pool = ["203.0.113.0/24"]
ports_per_subscriber = $PORTS
sessions_per_subscriber = $SESSIONS
max_sessions = $MAX_SESSIONS
TOML
mkfifo "$work/ready"
"$BIN" lab --keep --prefix "$P" --subscribers 2 --config "$work/lab.toml" >"$work/ready" 2>"$work/lab.log" &
lab_pid=$!
exec 3<"$work/ready" # held open until the lab stops: its stdout never breaks
read -r -t 60 line <&3 || true
[[ ${line:-} == ready ]] || { echo "the lab did not get ready:" >&2; cat "$work/lab.log" >&2; exit 1; }

# Each namespace counts what its own kernel sends through the router (trafgen's
# packets bypass the output hook).
for ns in $P-sub1 $P-sub2 $P-wan; do
    ip netns exec "$ns" nft -f - <<'NFT'
table inet sfflood {
    counter ip_tcp { }
    counter ip_icmp { }
    counter other { }
    chain out {
        type filter hook output priority 0; policy accept;
        meta nfproto ipv4 meta l4proto tcp counter name ip_tcp accept
        meta nfproto ipv4 meta l4proto icmp counter name ip_icmp accept
        counter name other
    }
}
NFT
done
# What arrives at the WAN host, seen apart from the router's own counters: the
# flows opened by a SYN, (public address, port, destination port).
ip netns exec "$P-wan" nft -f - <<'NFT'
table inet sfflood {
    set flows { type ipv4_addr . inet_service . inet_service; size 4194304; flags dynamic; }
    chain in {
        type filter hook prerouting priority -300; policy accept;
        iifname "wan" tcp flags & (syn | ack) == syn add @flows { ip saddr . tcp sport . tcp dport }
    }
}
NFT

mkdir "$work/www"
echo "sixfold SYN flood: the other subscriber's page" >"$work/www/index.html"
ip netns exec "$P-wan" python3 -m http.server $HTTP_PORT --bind $SERVER --directory "$work/www" \
    >"$work/http.log" 2>&1 &
http_pid=$!

fetch() { # -> "code seconds" (000 on failure)
    local out
    out=$(ip netns exec "$P-sub2" curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' \
        "http://$SERVER:$HTTP_PORT/" 2>/dev/null) || true
    echo "${out:-000 0}"
}
for _ in $(seq 50); do [[ $(fetch) == 200* ]] && break; sleep 0.2; done
[[ $(fetch) == 200* ]] || { echo "sub2 cannot fetch http://$SERVER:$HTTP_PORT/ before the flood" >&2; exit 1; }

# --- baseline ------------------------------------------------------------------
ip netns exec "$P-sub2" ping -n -c "$BASELINE_PINGS" -i "$PING_INTERVAL" -W 2 $SERVER \
    >"$work/ping-before.txt" 2>&1 || true
for _ in 1 2 3; do fetch >>"$work/curl-before.txt"; done

cat >"$work/syn.cfg" <<CFG
{ ipv4(saddr=100.64.1.1, daddr=$SERVER, ttl=64, id=drnd()),
  tcp(sport=drnd(1024, 65535), dport=drnd(1, $((HTTP_PORT - 1))), seq=drnd(), syn, window=64240) }
CFG
gen_args=(--dev sub1 --conf "$work/syn.cfg" --cpus 1 -n "$N" --no-sock-mem --seed "$SEED")
[[ -n $RATE ]] && gen_args+=(--rate "${RATE}pps")

sleep 1
stats >"$work/stats-before.json"
counters >"$work/counters-before.json"

# --- the flood, and sub2 meanwhile ------------------------------------------------
touch "$work/flooding"
t0=$(date +%s.%N)
ip netns exec "$P-sub1" trafgen "${gen_args[@]}" >"$work/trafgen.log" 2>&1 &
gen_pid=$!
( # ping in batches of 20 that each wait for their last reply
    while [[ -e $work/flooding ]]; do
        ip netns exec "$P-sub2" ping -n -c 20 -i "$PING_INTERVAL" -W 2 $SERVER || true
    done
) >"$work/ping-during.txt" 2>&1 &
ping_pid=$!
(
    while [[ -e $work/flooding ]]; do fetch; sleep "$CURL_INTERVAL"; done
) >"$work/curl-during.txt" 2>&1 &
curl_pid=$!
(
    k=0
    while [[ -e $work/flooding ]]; do
        stats >"$work/stats-during-$k.json" 2>/dev/null || echo "stats failed at sample $k" >&2
        k=$((k + 1)); sleep 2
    done
) 2>"$work/poll.log" &
poll_pid=$!

timed_out=0
started=$SECONDS
while kill -0 "$gen_pid" 2>/dev/null; do
    if ((SECONDS - started >= FLOOD_TIMEOUT)); then
        timed_out=1; stop_generator; break
    fi
    sleep 0.2
done
gen_rc=0
[[ -n $gen_pid ]] && { wait "$gen_pid" || gen_rc=$?; gen_pid=""; }
t1=$(date +%s.%N)
rm -f "$work/flooding"
for pid in $ping_pid $curl_pid $poll_pid; do wait "$pid" || true; done
ping_pid=""; curl_pid=""; poll_pid=""

sleep 2 # the router drains its queues; late RSTs and replies arrive
lab_alive=1
kill -0 "$lab_pid" 2>/dev/null || lab_alive=0
if ((lab_alive)); then
    stats >"$work/stats-after.json"
    counters >"$work/counters-after.json"
fi
kill "$http_pid" 2>/dev/null || true; wait "$http_pid" 2>/dev/null || true; http_pid=""
if ((lab_alive)); then ip netns exec "$P-wan" nft -j list set inet sfflood flows >"$work/wan-flows.json"; fi
stop_lab
leftover=$(ip netns list | grep -c "^$P-" || true)

# --- summary -------------------------------------------------------------------
W=$work N=$N P=$P T0=$t0 T1=$t1 GEN_RC=$gen_rc TIMED_OUT=$timed_out LAB_ALIVE=$lab_alive \
    LEFTOVER=$leftover PORTS=$PORTS SESSIONS=$SESSIONS MAX_SESSIONS=$MAX_SESSIONS \
    RATE=${RATE:-max} SEED=$SEED SERVER=$SERVER HTTP_PORT=$HTTP_PORT python3 - <<'PY'
import glob, json, os, re, statistics, sys

W, P, SERVER = os.environ["W"], os.environ["P"], os.environ["SERVER"]
HTTP_PORT = int(os.environ["HTTP_PORT"])
N = int(os.environ["N"])
ports_limit, sess_limit, max_sess = (int(os.environ[k]) for k in ("PORTS", "SESSIONS", "MAX_SESSIONS"))
elapsed = float(os.environ["T1"]) - float(os.environ["T0"])
failures = []

def row(label, text):
    print(f"  {label:<34} {text}")

def load(name):
    with open(f"{W}/{name}") as f:
        return json.load(f)

def ping_figures(path):
    text = open(path).read()
    sent = sum(int(x) for x in re.findall(r"(\d+) packets transmitted", text))
    got = sum(int(x) for x in re.findall(r"(\d+) received", text))
    rtts = [float(x) for x in re.findall(r"time=([\d.]+) ms", text)]
    med = statistics.median(rtts) if rtts else float("nan")
    p99 = sorted(rtts)[int(0.99 * (len(rtts) - 1))] if rtts else float("nan")
    return sent, got, med, p99, max(rtts, default=float("nan"))

def curl_figures(path):
    lines = [l.split() for l in open(path).read().splitlines() if l.strip()]
    ok = [float(l[1]) for l in lines if l[0] == "200"]
    return len(lines), len(ok), (statistics.median(ok) if ok else float("nan"))

trafgen = open(f"{W}/trafgen.log").read()
m = re.search(r"(\d+) packets outgoing", trafgen)
sent = int(m.group(1)) if m else 0
print(f"SYN flood through sixfold lab --prefix {P}: N={N}, rate {os.environ['RATE']}, seed {os.environ['SEED']}")
row("sent by trafgen", f"{sent} packets in {elapsed:.1f} s = {sent / elapsed / 1e3:.1f} kpps")
if sent != N:
    failures.append(f"trafgen sent {sent} of {N} packets (exit {os.environ['GEN_RC']})")
if os.environ["TIMED_OUT"] == "1":
    failures.append("the flood ran past FLOOD_TIMEOUT and was stopped")
if os.environ["LAB_ALIVE"] != "1":
    failures.append("the lab died during the flood")
    print("FAIL: " + "; ".join(failures))
    sys.exit(1)

a, b = load("stats-before.json"), load("stats-after.json")
ca, cb = load("counters-before.json"), load("counters-after.json")
samples = [json.load(open(p)) for p in sorted(glob.glob(f"{W}/stats-during-*.json"))
           if os.path.getsize(p) > 0]
sub1, sub2, wan = f"{P}-sub1", f"{P}-sub2", f"{P}-wan"

def d(path, x=a, y=b):
    for k in path:
        x, y = x[k], y[k]
    return y - x

tx = lambda ns, k="packets": cb["tun"][ns][k] - ca["tun"][ns][k]
nft = lambda ns, k: cb["nft"][ns][k] - ca["nft"][ns][k]
drops = {k: b["drops"][k] - a["drops"][k] for k in b["drops"] if b["drops"][k] != a["drops"][k]}

# --- accounting ---
read_flood = tx(sub1) - (nft(sub1, "ip_tcp") + nft(sub1, "ip_icmp") + nft(sub1, "other"))
kernel_tcp = sum(nft(ns, "ip_tcp") for ns in (sub1, sub2, wan))
kernel_other = sum(nft(ns, "other") for ns in (sub1, sub2, wan))
fwd_out, fwd_in = d(("ipv4", "outbound", "tcp", "packets")), d(("ipv4", "inbound", "tcp", "packets"))
refusal_keys = ("port_limit", "subscriber_session_limit", "session_limit", "pool_exhausted")
refused = sum(drops.get(k, 0) for k in refusal_keys)
other_drops = {k: v for k, v in drops.items() if k not in refusal_keys and k != "icmp_rate_limited"}
tcp_in = read_flood + kernel_tcp
gap = tcp_in - fwd_out - fwd_in - refused - sum(other_drops.values())
row("reached the router (sub1 TUN TX)", f"{read_flood} flood packets; TUN refusals retried by trafgen: {tx(sub1, 'dropped')}")
if read_flood != sent:
    failures.append(f"{sent - read_flood} flood packets never reached the router")
row("TCP the kernels sent", f"{kernel_tcp} (sub2's curl, the web server, RSTs from {SERVER})")
row("TCP forwarded", f"out {fwd_out}, in {fwd_in}")
row("refused by the NAT", f"{refused} = " +
      " + ".join(f"{k} {drops.get(k, 0)}" for k in refusal_keys))
row("other drops", (", ".join(f"{k} {v}" for k, v in sorted(other_drops.items())) or "none"))
row("ICMP 3/13 sent / rate-limited", f"{d(('icmp_sent', 'admin_prohibited'))} / {drops.get('icmp_rate_limited', 0)}")
row("unaccounted", f"{gap} (TCP read {tcp_in} - forwarded {fwd_out + fwd_in} - dropped {refused + sum(other_drops.values())})")
# The kernels' own packets that their TUN refused (queue full) never reached
# the router; their non-TCP packets (IPv6 ND, MLD) may be dropped by it.
tun_lost = tx(sub2, "dropped") + tx(wan, "dropped")
if gap > tun_lost or -gap > kernel_other:
    failures.append(f"{gap} TCP packets neither forwarded nor counted as dropped")
elif gap > 0:
    print(f"    (packets the sub2 and wan TUNs refused from their kernels: {tun_lost})")
elif gap < 0:
    print(f"    (drops of non-TCP packets: the kernels sent {kernel_other}, e.g. IPv6 multicast)")
mib = {k: cb["tcp_mib"][k] - ca["tcp_mib"][k] for k in cb["tcp_mib"]}
row(f"at the WAN host {SERVER}", f"segments in {mib['InSegs']}, RSTs out {mib['OutRsts']}, "
      f"checksum errors {mib['InCsumErrors']}; router bad_ip_checksum {drops.get('bad_ip_checksum', 0)}")
if mib["InCsumErrors"] or drops.get("bad_ip_checksum", 0):
    failures.append("packets with bad checksums: the flood did not test the NAT")

# --- limits ---
def subs(s):
    return {x["name"]: x for x in s["subscribers"]}
held = True
row("limits (configured)", f"ports/subscriber/protocol {ports_limit}, sessions/subscriber {sess_limit}, sessions {max_sess}")
peak = {"sessions": 0, "sub1_sessions": 0, "sub1_tcp": 0}
for s in samples + [b]:
    for name, u in subs(s).items():
        for proto, n in u["ports"].items():
            if n > ports_limit:
                held = False
                failures.append(f"{name} uses {n} {proto} ports > {ports_limit}")
        if u["sessions"] > sess_limit:
            held = False
            failures.append(f"{name} has {u['sessions']} sessions > {sess_limit}")
    if s["sessions"] > max_sess:
        held = False
        failures.append(f"{s['sessions']} sessions > {max_sess}")
    peak["sessions"] = max(peak["sessions"], s["sessions"])
    peak["sub1_sessions"] = max(peak["sub1_sessions"], subs(s)["sub1"]["sessions"])
    peak["sub1_tcp"] = max(peak["sub1_tcp"], subs(s)["sub1"]["ports"]["tcp"])
u1, u2 = subs(b)["sub1"], subs(b)["sub2"]
row("sub1 after", f"{u1['ports']['tcp']} TCP ports, {u1['sessions']} sessions "
      f"(peak over {len(samples)} samples and the end: {peak['sub1_tcp']} ports, {peak['sub1_sessions']} sessions)")
row("sub2 after", f"ports {u2['ports']}, {u2['sessions']} sessions")
row("router after", f"{b['sessions']} sessions, {b['mappings']} mappings; "
      f"created {d(('sessions_created',))}, expired {d(('sessions_expired',))} during the flood")
row("limits reached", f"ports {'yes' if peak['sub1_tcp'] >= ports_limit else 'no'}, "
      f"sessions/subscriber {'yes' if peak['sub1_sessions'] >= sess_limit else 'no'}, "
      f"sessions {'yes' if peak['sessions'] >= max_sess else 'no'}")

# Seen on the wire at the WAN host: the distinct external ports and flows of
# the flood (sub1's public address, which sub2 may share; sub2 only opens
# connections to the web server's port, the flood never does). A port or flow
# is reused only after the transitory timeout (240 s by default) and the port
# reuse delay: not within a shorter flood.
flows = [e["concat"] for x in load("wan-flows.json")["nftables"]
         for e in x.get("set", {}).get("elem", [])]
pub1 = u1["public_ipv4"]
flood = {(port, dport) for addr, port, dport in flows if addr == pub1 and dport != HTTP_PORT}
wp, wf = len({port for port, _ in flood}), len(flood)
row(f"at the WAN host, from {pub1}", f"{wp} external TCP ports, {wf} flows opened by the flood's SYNs")
# The NAT may hand out external port 3653 (TSP), and its tunnel blocking then
# drops the replies to it (tunnel_tsp above, inbound).
tsp = sum(1 for port, _ in flood if port == 3653)
if tsp:
    row("", f"{tsp} of them from external port 3653 (TSP): their RSTs back are dropped as tunnel_tsp")
if elapsed < 240 and (wp > ports_limit or wf > sess_limit):
    held = False
    failures.append(f"{wp} ports / {wf} flows of sub1 on the wire > {ports_limit} / {sess_limit}")
row("limits held", f"{'yes' if held else 'NO'}")

# --- the other subscriber ---
ps, pg, pm, p99, pmax = ping_figures(f"{W}/ping-before.txt")
fs, fg, fm, f99, fmax = ping_figures(f"{W}/ping-during.txt")
row("sub2 ping before", f"{pg}/{ps} replies, RTT median {pm:.3f} ms, p99 {p99:.3f}, max {pmax:.3f}")
row("sub2 ping during", f"{fg}/{fs} replies, RTT median {fm:.3f} ms, p99 {f99:.3f}, max {fmax:.3f}")
if ps == 0 or pg < ps:
    failures.append(f"sub2 lost {ps - pg} of {ps} pings before the flood")
if fs == 0 or fg < fs:
    failures.append(f"sub2 lost {fs - fg} of {fs} pings during the flood")
cb_n, cb_ok, cb_med = curl_figures(f"{W}/curl-before.txt")
cn, cok, cmed = curl_figures(f"{W}/curl-during.txt")
row("sub2 curl before / during", f"{cb_ok}/{cb_n} ({cb_med * 1e3:.1f} ms median) / {cok}/{cn} HTTP 200 ({cmed * 1e3:.1f} ms median)")
if cn == 0 or cok < cn:
    failures.append(f"sub2 fetched {cok} of {cn} pages during the flood")
row("router RSS before / after", f"{ca['rss_kib'] / 1024:.1f} / {cb['rss_kib'] / 1024:.1f} MiB (peak {cb['hwm_kib'] / 1024:.1f} MiB)")
row("datapath", f"{b['datapath']['workers']} workers, offload {b['datapath']['offload']}, "
      f"handoffs {d(('datapath', 'handoffs'))}, handoff_full {d(('datapath', 'handoff_full'))}")
if int(os.environ["LEFTOVER"]):
    failures.append(f"{os.environ['LEFTOVER']} namespaces {P}-* left after the lab stopped")
else:
    row(f"namespaces {P}-* after the lab", "none left")
if failures:
    print("FAIL: " + "; ".join(failures))
    sys.exit(1)
print("PASS: refusals counted, limits held, sub2 unaffected")
PY
