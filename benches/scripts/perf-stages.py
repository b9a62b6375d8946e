#!/usr/bin/env python3
"""Where a datagram's CPU goes through the veth box of fastpath-vs-nft.sh.

Reads `perf script` output (perf record -a -g, any sampling event) on stdin
and splits the busy samples by stage, from each sample's call chain:

- generator: trafgen and everything it does outside the receive softirq
  (its user space, AF_PACKET's send, the skb, the veth transmit into acc0);
- box: the box's receive and forwarding — the IP stack, conntrack and NAT,
  routing, the TC or XDP program, the redirect, the veth transmit to
  box-core; on veth that includes converting the skb for XDP;
- sink: core0's receive up to the nft counter that drops the datagram, and
  freeing it;
- rx dispatch: the receive softirq's own loop (net_rx_action,
  process_backlog, veth_poll), not attributable to one side;
- router: the sixfold process (its workers read the program's counters);
- other: anything else busy (perf itself, other processes).

Idle samples (the idle loop outside any softirq) are left out. The stage of
a packet-processing sample is decided by the functions in its chain leafward
of the softirq's entry: a box marker anywhere there makes it the box's (the
box's work runs through those functions, the sink's never does), else a
sink marker makes it the sink's, else it is dispatch.

Usage: perf script -i FILE | perf-stages.py [µs-CPU-per-datagram]
With the figure, each stage is also given in µs per datagram.
"""
import sys
from collections import Counter, defaultdict

SOFTIRQ = ("net_rx_action", "napi_threaded_poll")
BOX = (
    "ip_forward", "ip_route_input", "ip_rcv_finish", "fib_", "nf_conntrack", "nf_nat",
    "nft_nat", "nf_ct_", "ip_output", "ip_finish_output", "ip_sabotage", "neigh_",
    "dev_queue_xmit", "__dev_queue_xmit", "veth_xmit", "tcx_run", "sch_handle_ingress",
    "bpf_prog_", "skb_do_redirect", "xdp_do_redirect", "__xdp_do_redirect", "xdp_do_flush",
    "veth_xdp_rcv_skb", "veth_convert_skb_to_xdp_buff", "bpf_xdp_", "bpf_fib_lookup",
    "bpf_skb_", "bpf_l4_csum", "bpf_redirect", "veth_xdp_xmit", "veth_ndo_xdp_xmit",
    "dev_map", "bpf_map_", "htab_", "skb_pull_data", "__bpf_redirect", "ip_forward_finish",
)
SINK = (
    "veth_xdp_rcv_one", "xdp_build_skb", "__xdp_build_skb_from_frame", "napi_gro",
    "dev_gro_receive", "gro_", "ip_rcv", "ip_list_rcv", "nf_hook_slow", "nft_do_chain",
    "nft_counter", "kfree_skb", "sk_skb_reason_drop", "skb_release", "tpacket_destruct_skb",
    "__netif_receive_skb", "netif_receive_skb", "udp_", "napi_build_skb", "skb_free_head",
    "kmem_cache_free", "__kfree_skb", "consume_skb", "napi_consume_skb",
)
IDLE = ("default_idle", "do_idle", "cpu_idle", "native_safe_halt", "pv_native_safe_halt",
        "cpuidle", "acpi_idle", "poll_idle", "cpu_startup_entry")
STAGES = ["generator", "box", "sink", "rx dispatch", "router", "other"]


def samples(lines):
    """(comm, [symbols leaf first]) per sample."""
    head, chain = None, []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if head is not None:
                yield head, chain
            head, chain = None, []
        elif line[0] in " \t":
            parts = line.split()
            if len(parts) >= 2:
                chain.append(parts[1].split("+")[0])
        else:
            head, chain = line.split()[0], []
    if head is not None:
        yield head, chain


def has(chain, markers):
    return any(sym.startswith(m) for sym in chain for m in markers)


def stage(comm, chain):
    entry = next((i for i, sym in enumerate(chain) if sym in SOFTIRQ), None)
    if entry is not None:
        work = chain[:entry]
        if has(work, BOX):
            return "box"
        if has(work, SINK):
            return "sink"
        return "rx dispatch"
    if has(chain, IDLE) or comm == "swapper":
        return None
    if comm.startswith("trafgen"):
        return "generator"
    if comm.startswith("sixfold"):
        return "router"
    return "other"


def main():
    per_datagram = float(sys.argv[1]) if len(sys.argv) > 1 else None
    counts, tops = Counter(), defaultdict(Counter)
    for comm, chain in samples(sys.stdin):
        s = stage(comm, chain)
        if s is not None:
            counts[s] += 1
            tops[s][chain[0] if chain else "?"] += 1
    busy = sum(counts.values())
    if not busy:
        sys.exit("no busy samples")
    head = "| stage | share of busy samples |" + (" µs CPU per datagram |" if per_datagram else "")
    print(head)
    print("|---|---:|" + ("---:|" if per_datagram else ""))
    for s in STAGES:
        share = counts[s] / busy
        line = "| %s | %.1f%% |" % (s, 100 * share)
        if per_datagram:
            line += " %.2f |" % (share * per_datagram)
        print(line)
    print("busy samples: %d" % busy)
    for s in STAGES:
        if counts[s]:
            top = ", ".join("%s %.1f%%" % (sym, 100 * n / busy) for sym, n in tops[s].most_common(8))
            print("%s, leaf functions: %s" % (s, top))


if __name__ == "__main__":
    main()
