#!/usr/bin/env bash
# The test command (README): installs what the tests need, then runs every check —
# format, lints, all tests with their oracles required, and a short run of each
# fuzz target. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "system packages (oracles: scapy, tshark, tcprewrite, nfdump; unbound, tayga, traceroute for NAT64; bird2 for the scale-out lab; lintian, systemd-analyze, man for the package; setpriv, strace for the service user; clang, libbpf-dev for the fast path, coturn and hping3 for its behaviour checks)"
need=()
/usr/bin/python3 -c 'import scapy' 2>/dev/null || need+=(python3-scapy)
command -v tshark >/dev/null || need+=(tshark)
command -v tcprewrite >/dev/null || need+=(tcpreplay)
# The router's end-to-end tests and the lab: namespaces, real programs.
command -v ip >/dev/null || need+=(iproute2)
command -v sysctl >/dev/null || need+=(procps)
command -v ping >/dev/null || need+=(iputils-ping)
command -v curl >/dev/null || need+=(curl)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v trafgen >/dev/null || need+=(netsniff-ng)
command -v nft >/dev/null || need+=(nftables)
# Real Teredo (issue 6): the client must never qualify through the blocking router.
command -v miredo >/dev/null || need+=(miredo)
command -v miredo-server >/dev/null || need+=(miredo-server)
# The metrics endpoint (issue 18): promtool lints it, Prometheus scrapes it, and
# prometheus_client's OpenMetrics parser reads it.
command -v promtool >/dev/null || need+=(prometheus)
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || need+=(python3-prometheus-client)
# --- issue 15: IPv6-only subscribers (NAT64 e2e, the lab's --ipv6-only) ---
# unbound as DNS64, tayga as CLAT (and the PLAT the benchmark compares with),
# traceroute for the translated ICMP errors.
command -v unbound >/dev/null || need+=(unbound)
command -v tayga >/dev/null || need+=(tayga)
command -v traceroute >/dev/null || need+=(traceroute)
# --- end issue 15 ---
# --- issue 14 (carrier-grade operations): the IPFIX collector nfcapd/nfdump is
# the oracle for flow accounting (tshark, above, for the NAT events).
command -v nfcapd >/dev/null || need+=(nfdump)
# --- end issue 14
# --- issue 23 (the record): mergecap joins the captures of two router runs.
command -v mergecap >/dev/null || need+=(wireshark-common)
# --- end issue 23
# --- issue 16 (beyond one box): BIRD 2 on every box, the core and the access
# side of `sixfold lab --routers N` (BGP, BFD, multipath routes).
{ command -v bird && command -v birdc; } >/dev/null || need+=(bird2)
# --- end issue 16
# --- issue 22 (the service): the Debian package is checked with lintian, its
# unit with systemd-analyze (verify, security), its Documentation= with man.
command -v lintian >/dev/null || need+=(lintian)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v man >/dev/null || need+=(man-db)
# setpriv plays the unit's User=/AmbientCapabilities=, strace shows no setuid/capset.
command -v setpriv >/dev/null || need+=(util-linux)
command -v strace >/dev/null || need+=(strace)
# --- end issue 22
# --- issue 27 (the fast path): clang's BPF target compiles the XDP program
# (reference-router/build.rs), libbpf-dev has bpf_helpers.h, linux-libc-dev the
# kernel's UAPI headers; ethtool turns GRO on where the lab redirects to a veth.
command -v clang >/dev/null || need+=(clang)
[[ -e /usr/include/bpf/bpf_helpers.h ]] || need+=(libbpf-dev)
[[ -e /usr/include/linux/bpf.h ]] || need+=(linux-libc-dev)
command -v ethtool >/dev/null || need+=(ethtool)
# The fast path's behaviour checks (cli/tests/fastpath_behaviour_e2e.rs): coturn's
# RFC 5780 client and server judge mapping and filtering, hping3 floods SYNs.
{ command -v turnserver && command -v turnutils_natdiscovery; } >/dev/null || need+=(coturn)
command -v hping3 >/dev/null || need+=(hping3)
# --- end issue 27
if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing ${need[*]}: run as root, or install them, then re-run" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

step "cargo-fuzz (stable toolchain, no sanitizer)"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet

step "cargo-deb (the Debian package, issue 22)"
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --quiet

step "cargo fmt --check"
cargo fmt --all -- --check

step "the house rules: no import circle, no arrow back up, no file over 600 lines, no fn over 80 (issue 26)"
python3 scripts/check-imports.py --self-test
python3 scripts/check-imports.py

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
cargo clippy -p sixfold-fuzz --all-targets -- -D warnings

step "cargo doc, warnings denied (crate READMEs are the crate docs; their examples run as doctests)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "the router core builds without its OS and command-line dependencies"
core_deps=$(cargo tree -p sixfold-router --no-default-features -e normal --prefix none)
if grep -E '^(tun-rs|nix|clap|anyhow|tracing-subscriber|signal-hook|pcap-file) ' <<<"$core_deps"; then
    echo "sixfold-router without default features must not depend on the crates above" >&2
    exit 1
fi
cargo check --quiet -p sixfold-router --no-default-features

step "cargo test (every crate; oracles must run, not skip)"
SIXFOLD_REQUIRE_ORACLES=1 cargo test --workspace

step "the docs (issue 26): links and anchors resolve, every configuration shown passes sixfold check, every command line shown parses, every subject of the old README is in docs/"
cargo build --quiet -p sixfold
python3 scripts/check-docs.py --self-test
python3 scripts/check-docs.py --subjects

step "the Debian package: cargo deb, lintian (no error), systemd-analyze verify and security (<= 3.0)"
scripts/package.sh

# A #![no_std] crate with its own panic handler builds against sixfold-checksum without
# `std` (E0152 if anything linked std); the package builds as it would be uploaded.
step "sixfold-checksum: a no_std consumer, publish dry run"
cargo fmt --manifest-path checksum/tests/no-std-consumer/Cargo.toml -- --check
cargo clippy --locked --manifest-path checksum/tests/no-std-consumer/Cargo.toml \
    --target-dir target -- -D warnings
cargo publish --dry-run --allow-dirty -p sixfold-checksum

step "fuzz smoke run (${FUZZ_SECONDS:=5} s per target; docs/fuzzing.md has the long-run command)"
for target in $(cargo fuzz list --fuzz-dir fuzz); do
    cargo fuzz run --sanitizer none --fuzz-dir fuzz "$target" -- \
        -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 2>&1 | tail -n 1
done

step "all checks passed"
