#!/usr/bin/env bash
# What each feature on the packet path costs a known-flow packet (the `families`
# bench's workload), in instructions counted by callgrind (exact, repeatable on a
# busy machine):
# 1. configurable features: the same packets with one feature's section added to
#    the configuration, against the default (benches/src/bin/known-flow.rs reads it);
# 2. the default's instructions by concern: callgrind's count per instruction,
#    placed by addr2line's inline frames in the innermost source file of this
#    workspace (an inlined std or hashbrown helper counts for the code that used
#    it), files grouped by concern.
# (A shaper is not among them: the driver's clock stands still, so a shaper
# never has tokens.) PACKETS (default 100000).
set -euo pipefail
cd "$(dirname "$0")/../.."
PACKETS=${PACKETS:-100000}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
cargo build -q --profile bench -p sixfold-benches --bin known-flow
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$work/default.toml"
printf '[tunnels]\nproto41 = false\nrelay_anycast = false\nteredo = false\nayiya = false\ntsp = false\ngre = false\nip_in_ipv6 = false\nrelay_prefixes = false\n' >"$work/tunnel-blocking-off.toml"
printf '[ipfix]\ncollector = "192.0.2.9:4739"\naccounting = true\n' >"$work/flow-accounting-on.toml"
printf '[ipfix]\ncollector = "192.0.2.9:4739"\nsessions = true\n' >"$work/session-logging-on.toml"
printf '[nat64]\nprefix = "64:ff9b::/96"\n' >"$work/nat64-on.toml"
run() { # family direction config -> callgrind output file
    local out="$work/cg.$1.$2.$(basename "$3" .toml)"
    valgrind --tool=callgrind --dump-instr=yes --collect-atstart=no --toggle-collect='known_flow::run' \
        --callgrind-out-file="$out" target/release/known-flow "$1" "$2" "$PACKETS" "$3" \
        >"$out.log" 2>&1 || { echo "callgrind failed: $1 $2 $3" >&2; cat "$out.log" >&2; exit 1; }
    echo "$out"
}
ir() { awk '/^summary:/ {print $2}' "$1"; }
cases=(ipv4:outbound ipv4:inbound ipv6:outbound ipv6:inbound)
printf '| instructions per known-flow packet | %s | %s | %s | %s |\n|---|---:|---:|---:|---:|\n' "${cases[@]//:/ }"
for cfg in default tunnel-blocking-off flow-accounting-on session-logging-on nat64-on; do
    printf '| %s' "$cfg"
    for c in "${cases[@]}"; do
        f=$(run "${c%%:*}" "${c##*:}" "$work/$cfg.toml")
        n=$(ir "$f")
        if [[ $cfg == default ]]; then
            eval "base_${c/:/_}=$n"
            printf ' | %.0f' "$(echo "$n / $PACKETS" | bc -l)"
        else
            b=$(eval echo "\$base_${c/:/_}")
            printf ' | %+.0f' "$(echo "($n - $b) / $PACKETS" | bc -l)"
        fi
    done
    echo ' |'
done
echo
python3 - "$work" "$PACKETS" "$PWD/target/release/known-flow" <<'PY'
import collections, re, subprocess, sys
work, packets, binary = sys.argv[1], int(sys.argv[2]), sys.argv[3]
groups = [  # (concern, our source files), first match wins
    ("tunnel blocking", r"reference-router/src/tunnels\.rs|teredo/src/"),
    ("rewrite and checksums", r"rewrite/src/rewrite\.rs|checksum/src/"),
    ("NAT / firewall state (lookup, refresh)", r"reference-router/src/(nat|firewall)/"),
    ("counters and accounting", r"reference-router/src/(stats/|persub\.rs|router/export\.rs|ipfix/)"),
    ("timers, shapers, clock", r"reference-router/src/(router/timers\.rs|router/egress\.rs|wheel\.rs|hold\.rs|aliases\.rs|shaper\.rs)"),
    ("headers: parse and checks (views)", r"rewrite/src/|reference-router/src/(buf|offload)\.rs"),
    ("the path: anti-spoofing, routing, TTL, verdict", r"reference-router/src/"),
    ("the driver: copying the packet in", r"benches/|^libc"),
    ("other", r"."),
]

def self_costs(path):
    """Self instructions per address in the driver binary (callgrind --dump-instr=yes
    writes object-relative addresses, compressed as +/- steps), and elsewhere."""
    costs, names, other = collections.Counter(), {}, 0
    ours, addr, call = False, 0, False
    for line in open(path):
        m = re.match(r"c?ob=\((\d+)\)(?: (.*))?", line)
        if m:
            if m.group(2):
                names[m.group(1)] = m.group(2).strip()
            if line.startswith("ob="):
                ours = names.get(m.group(1), "").endswith("/known-flow")
            continue
        if line.startswith("calls="):
            call = True
            continue
        if not line[:1] or line[0] not in "0123456789+-*":
            continue
        parts = line.split()
        a = parts[0]
        if a.startswith("0x"):
            addr = int(a, 16)
        elif a[0] in "+-":
            addr += int(a, 0)
        if call:  # the callee's inclusive cost at the call site: not ours to count
            call = False
            continue
        if len(parts) >= 3:
            if ours:
                costs[addr] += int(parts[2])
            else:
                other += int(parts[2])
    return costs, other

def concern_of(frames):
    # The innermost frame in this workspace's sources: an inlined std or
    # hashbrown helper counts for the code of ours that used it.
    for f in frames:
        m = re.match(r"/work/[^/]+/(.*?):[?\d]", f) or re.match(r".*/(?:wt-[^/]+|sixfold[^/]*)/(.*?):[?\d]", f)
        if m and not m.group(1).startswith("target/"):
            return next(name for name, pat in groups if re.search(pat, m.group(1)))
    return "other"

cases = ["ipv4.outbound", "ipv4.inbound", "ipv6.outbound", "ipv6.inbound"]
table = {}
for case in cases:
    costs, other = self_costs(f"{work}/cg.{case}.default")
    addrs = sorted(costs)
    out = subprocess.run(["addr2line", "-i", "-a", "-e", binary] + [hex(a) for a in addrs],
                         capture_output=True, text=True, check=True).stdout
    blocks = re.split(r"^(0x[0-9a-f]+)$", out, flags=re.M)
    sums = collections.Counter({"the driver: copying the packet in": other})
    for i in range(1, len(blocks), 2):
        sums[concern_of(blocks[i + 1].split())] += costs[int(blocks[i], 16)]
    table[case] = sums
print("| the default's instructions by concern | " + " | ".join(c.replace(".", " ") for c in cases) + " |")
print("|---|" + "---:|" * len(cases))
for name, _ in groups:
    print(f"| {name} | " + " | ".join(f"{table[c][name] / packets:.0f}" for c in cases) + " |")
PY
