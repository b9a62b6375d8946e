/* The fast path's maps as the router writes and reads them: the one place that
 * states their layout. reference-router/src/device/fastpath/maps.rs mirrors
 * every struct field for field (#[repr(C)], same sizes; its tests assert them).
 * Addresses and ports are in network byte order, as on the wire; counters and
 * times in host order. */
#ifndef SIXFOLD_FASTPATH_H
#define SIXFOLD_FASTPATH_H

#include <linux/types.h>

/* An IPv4 flow as it arrives: the 5-tuple before translation. */
struct flow4_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad[3];
};

/* What the slow path decided for that flow: the 5-tuple after translation,
 * where it may arrive, and where the slow path's packet would come from (the
 * TUN it writes the flow's packets to), so that bpf_fib_lookup applies the
 * box's own policy rules and tables exactly as to the slow path's packet.
 * packets/bytes/last_seen_ns are per CPU (the map is a per-CPU hash): the
 * program adds to its CPU's copy, the router sums them. */
struct flow4_value {
	__be32 new_saddr;
	__be32 new_daddr;
	__be16 new_sport;
	__be16 new_dport;
	__u32 in_ifindex;  /* the only interface this flow may arrive on */
	__u32 fib_ifindex; /* look the route up as if arriving from here */
	__u32 flags;       /* reserved, 0 */
	__u64 packets;
	__u64 bytes;        /* IP bytes (total length), as the slow path counts */
	__u64 last_seen_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
};

/* An IPv6 flow the RFC 6092 firewall accepted, as it arrives. */
struct flow6_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct flow6_value {
	__u32 in_ifindex;
	__u32 fib_ifindex;
	__u64 packets;
	__u64 bytes;
	__u64 last_seen_ns;
};

/* Where packets went, by reason: the per-CPU array `counters`. */
enum fp_counter {
	FP_FORWARDED4 = 0,   /* translated and redirected */
	FP_FORWARDED6,       /* forwarded (hop limit) and redirected */
	FP_PASS_NOT_IP,      /* not IPv4/IPv6 in Ethernet (ARP, VLAN, ...) */
	FP_PASS_TRUNCATED,   /* a header shorter than it says */
	FP_PASS_IP_OPTIONS,  /* IPv4 IHL > 5 */
	FP_PASS_FRAGMENT,    /* IPv4 MF or offset */
	FP_PASS_EXT_HEADER,  /* IPv6 next header not TCP/UDP (extension headers) */
	FP_PASS_PROTOCOL,    /* ICMP, ICMPv6 and any protocol but TCP/UDP */
	FP_PASS_TTL,         /* TTL / hop limit <= 1: the slow path answers */
	FP_PASS_TCP_FLAGS,   /* SYN, FIN or RST: the slow path keeps TCP state */
	FP_PASS_BAD_CHECKSUM,/* IPv4 header checksum wrong */
	FP_PASS_MISS,        /* no entry for the flow */
	FP_PASS_WRONG_IFACE, /* an entry, but the packet came in elsewhere */
	FP_PASS_NO_ROUTE,    /* bpf_fib_lookup: no route, blackhole, not forwarded */
	FP_PASS_NO_NEIGH,    /* bpf_fib_lookup: next hop's MAC unknown yet */
	FP_PASS_MTU,         /* bpf_fib_lookup: larger than the egress MTU */
	FP_PASS_EGRESS,      /* the route leaves by an interface not ours */
	FP_COUNTERS,
};

/* The array `egress` holds the only interfaces the program may redirect to:
 * inside's ifindex at 0, outside's at 1 (0: none). */
#define FP_EGRESS_SLOTS 2

#endif
