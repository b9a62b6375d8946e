#!/usr/bin/env bash
# The main job: `sixfold lab` — namespaces, the router between them, real traffic,
# a report, and nothing left behind. Needs root. Installs the programs the lab
# drives (ping, curl, python3, iproute2; clang and libbpf-dev for the fast path's XDP program; prometheus for --metrics, bird2 for --routers) when missing. Arguments go to `sixfold lab`,
# e.g. `scripts/lab.sh --subscribers 4 --filtering eif` or `scripts/lab.sh --keep`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
    echo "sixfold lab needs root (network namespaces and TUN devices): sudo $0 $*" >&2
    exit 1
fi
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v sysctl >/dev/null || need+=(procps)
command -v ping >/dev/null || need+=(iputils-ping)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
# The binary is built with the fast path (issue 27): clang compiles its XDP program.
command -v clang >/dev/null || need+=(clang)
[[ -e /usr/include/bpf/bpf_helpers.h ]] || need+=(libbpf-dev)
command -v ethtool >/dev/null || need+=(ethtool)
# `--metrics` runs Debian's Prometheus against the router.
for arg in "$@"; do
    [[ $arg == --metrics ]] && { command -v prometheus >/dev/null || need+=(prometheus); }
done
# --ipv6-only: unbound (DNS64), tayga (the CLAT), traceroute.
if [[ " $* " == *" --ipv6-only "* ]]; then
    command -v unbound >/dev/null || need+=(unbound)
    command -v tayga >/dev/null || need+=(tayga)
    command -v traceroute >/dev/null || need+=(traceroute)
fi
# --routers N (N > 1): BIRD 2 on every box, the core and the access side.
for arg in "$@"; do
    [[ $arg == --routers || $arg == --routers=* ]] && { { command -v bird && command -v birdc; } >/dev/null || need+=(bird2); }
done
if ((${#need[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
cargo build --quiet --release -p sixfold --bin sixfold
exec target/release/sixfold lab "$@"
