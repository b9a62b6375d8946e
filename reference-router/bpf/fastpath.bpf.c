// SPDX-License-Identifier: MIT OR Apache-2.0
/* sixfold's fast path: an XDP program on the box's inside and outside
 * interfaces that forwards packets of flows the router (the slow path) has
 * established and written into `flows4` / `flows6`.
 *
 * Contract: a packet is either translated (NAT44: addresses, ports, IPv4 and
 * L4 checksums by RFC 1624 incremental update, TTL) or forwarded (IPv6: hop
 * limit), then redirected to the interface and next hop bpf_fib_lookup gives,
 * and counted in its flow's per-CPU entry (packets, bytes, last seen); or it
 * is passed to the kernel unchanged (XDP_PASS, counted by reason in
 * `counters`), where it takes the path of today through the router. Nothing
 * is ever dropped here. The packet is written only after every check,
 * including the route lookup, has passed. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "fastpath.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* Not preallocated: the router inserts from user space only (the program
 * never allocates), and preallocating 2^18 per-CPU entries per map took 1.2 s
 * at load and as long again at exit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, struct flow4_key);
	__type(value, struct flow4_value);
} flows4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, struct flow6_key);
	__type(value, struct flow6_value);
} flows6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FP_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_EGRESS_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} egress SEC(".maps");

static __always_inline int count(__u32 reason, int action)
{
	__u64 *slot = bpf_map_lookup_elem(&counters, &reason);

	if (slot)
		*slot += 1;
	return action;
}

#define PASS(reason) count(reason, XDP_PASS)

/* RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), on 16-bit words as they lie in the
 * packet: one's complement sums do not depend on byte order. */
static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

static __always_inline __u16 csum_replace2(__u16 check, __u16 from, __u16 to)
{
	__u32 sum = (__u16)~check;

	sum += (__u16)~from;
	sum += to;
	return (__u16)~csum_fold(sum);
}

static __always_inline __u16 csum_replace4(__u16 check, __u32 from, __u32 to)
{
	__u32 sum = (__u16)~check;

	sum += (__u16)~(from & 0xffff);
	sum += (__u16)~(from >> 16);
	sum += to & 0xffff;
	sum += to >> 16;
	return (__u16)~csum_fold(sum);
}

static __always_inline int egress_slot_is(__u32 slot, __u32 ifindex)
{
	__u32 *value = bpf_map_lookup_elem(&egress, &slot);

	return value && *value && *value == ifindex;
}

static __always_inline int egress_ok(__u32 ifindex)
{
	return egress_slot_is(0, ifindex) || egress_slot_is(1, ifindex);
}

/* The route lookup's verdict as a pass reason, or -1 when it may forward. */
static __always_inline int fib_pass_reason(int rc, struct bpf_fib_lookup *fib)
{
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return FP_PASS_MTU;
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return FP_PASS_NO_NEIGH;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return FP_PASS_NO_ROUTE;
	if (!egress_ok(fib->ifindex))
		return FP_PASS_EGRESS;
	return -1;
}

static __always_inline int redirect(struct ethhdr *eth, struct bpf_fib_lookup *fib)
{
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
	return bpf_redirect(fib->ifindex, 0);
}

/* TCP packets that open, close or reset a connection go to the slow path,
 * which keeps the session's TCP state and timers from them. */
static __always_inline int tcp_flags_pass(struct tcphdr *tcp)
{
	return tcp->syn || tcp->fin || tcp->rst;
}

static __always_inline int forward4(struct xdp_md *ctx, struct ethhdr *eth, void *data_end)
{
	struct iphdr *ip = (void *)(eth + 1);
	struct flow4_key key = {};
	struct bpf_fib_lookup fib = {};
	struct flow4_value *flow;
	__u16 *check;
	__be16 *ports;
	__u16 tot_len, old_word, new_word;
	int reason;

	if ((void *)(ip + 1) > data_end)
		return PASS(FP_PASS_TRUNCATED);
	if (ip->version != 4 || ip->ihl < 5)
		return PASS(FP_PASS_TRUNCATED);
	if (ip->ihl != 5)
		return PASS(FP_PASS_IP_OPTIONS);
	if (ip->frag_off & bpf_htons(0x3fff))
		return PASS(FP_PASS_FRAGMENT);
	tot_len = bpf_ntohs(ip->tot_len);
	if (tot_len < sizeof(*ip) || (void *)ip + tot_len > data_end)
		return PASS(FP_PASS_TRUNCATED);
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)(ip + 1);

		if ((void *)(tcp + 1) > data_end || tot_len < sizeof(*ip) + sizeof(*tcp) ||
		    tcp->doff < 5 || sizeof(*ip) + tcp->doff * 4 > tot_len)
			return PASS(FP_PASS_TRUNCATED);
		if (tcp_flags_pass(tcp))
			return PASS(FP_PASS_TCP_FLAGS);
		check = &tcp->check;
		ports = &tcp->source;
	} else if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = (void *)(ip + 1);

		if ((void *)(udp + 1) > data_end || tot_len < sizeof(*ip) + sizeof(*udp) ||
		    bpf_ntohs(udp->len) != tot_len - sizeof(*ip))
			return PASS(FP_PASS_TRUNCATED);
		check = &udp->check;
		ports = &udp->source;
	} else {
		return PASS(FP_PASS_PROTOCOL);
	}
	{
		__u32 sum = 0;
		__u16 *word = (__u16 *)ip;

#pragma unroll
		for (int i = 0; i < 10; i++)
			sum += word[i];
		if (csum_fold(sum) != 0xffff)
			return PASS(FP_PASS_BAD_CHECKSUM);
	}
	key.saddr = ip->saddr;
	key.daddr = ip->daddr;
	key.sport = ports[0];
	key.dport = ports[1];
	key.proto = ip->protocol;
	flow = bpf_map_lookup_elem(&flows4, &key);
	if (!flow)
		return PASS(FP_PASS_MISS);
	if (flow->in_ifindex != ctx->ingress_ifindex)
		return PASS(FP_PASS_WRONG_IFACE);
	if (ip->ttl <= 1)
		return PASS(FP_PASS_TTL);

	fib.family = AF_INET;
	fib.tos = ip->tos;
	fib.l4_protocol = ip->protocol;
	fib.sport = flow->new_sport;
	fib.dport = flow->new_dport;
	fib.tot_len = tot_len;
	fib.ipv4_src = flow->new_saddr;
	fib.ipv4_dst = flow->new_daddr;
	fib.ifindex = flow->fib_ifindex;
	reason = fib_pass_reason(bpf_fib_lookup(ctx, &fib, sizeof(fib), 0), &fib);
	if (reason >= 0)
		return PASS(reason);

	/* Every check has passed: from here on the packet is written. */
	old_word = *(__u16 *)&ip->ttl;
	ip->ttl--;
	new_word = *(__u16 *)&ip->ttl;
	ip->check = csum_replace2(ip->check, old_word, new_word);
	ip->check = csum_replace4(ip->check, ip->saddr, flow->new_saddr);
	ip->check = csum_replace4(ip->check, ip->daddr, flow->new_daddr);
	/* A UDP checksum of 0 means none (RFC 768): it stays 0. */
	if (ip->protocol == IPPROTO_TCP || *check != 0) {
		__u16 sum = *check;

		sum = csum_replace4(sum, ip->saddr, flow->new_saddr);
		sum = csum_replace4(sum, ip->daddr, flow->new_daddr);
		sum = csum_replace2(sum, ports[0], flow->new_sport);
		sum = csum_replace2(sum, ports[1], flow->new_dport);
		if (ip->protocol == IPPROTO_UDP && sum == 0)
			sum = 0xffff;
		*check = sum;
	}
	ip->saddr = flow->new_saddr;
	ip->daddr = flow->new_daddr;
	ports[0] = flow->new_sport;
	ports[1] = flow->new_dport;

	flow->packets += 1;
	flow->bytes += tot_len;
	flow->last_seen_ns = bpf_ktime_get_ns();
	count(FP_FORWARDED4, 0);
	return redirect(eth, &fib);
}

static __always_inline int forward6(struct xdp_md *ctx, struct ethhdr *eth, void *data_end)
{
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	struct flow6_key key = {};
	struct bpf_fib_lookup fib = {};
	struct flow6_value *flow;
	__be16 *ports;
	__u16 payload;
	int reason;

	if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
		return PASS(FP_PASS_TRUNCATED);
	payload = bpf_ntohs(ip6->payload_len);
	if ((void *)(ip6 + 1) + payload > data_end)
		return PASS(FP_PASS_TRUNCATED);
	if (ip6->nexthdr == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)(ip6 + 1);

		if ((void *)(tcp + 1) > data_end || payload < sizeof(*tcp) || tcp->doff < 5 ||
		    tcp->doff * 4 > payload)
			return PASS(FP_PASS_TRUNCATED);
		if (tcp_flags_pass(tcp))
			return PASS(FP_PASS_TCP_FLAGS);
		ports = &tcp->source;
	} else if (ip6->nexthdr == IPPROTO_UDP) {
		struct udphdr *udp = (void *)(ip6 + 1);

		if ((void *)(udp + 1) > data_end || payload < sizeof(*udp) ||
		    bpf_ntohs(udp->len) != payload)
			return PASS(FP_PASS_TRUNCATED);
		ports = &udp->source;
	} else if (ip6->nexthdr == IPPROTO_ICMPV6) {
		return PASS(FP_PASS_PROTOCOL);
	} else {
		/* Hop-by-hop, routing, fragment, destination options, ESP, AH, and
		 * every protocol the fast path does not know. */
		return PASS(FP_PASS_EXT_HEADER);
	}
	__builtin_memcpy(key.saddr, &ip6->saddr, 16);
	__builtin_memcpy(key.daddr, &ip6->daddr, 16);
	key.sport = ports[0];
	key.dport = ports[1];
	key.proto = ip6->nexthdr;
	flow = bpf_map_lookup_elem(&flows6, &key);
	if (!flow)
		return PASS(FP_PASS_MISS);
	if (flow->in_ifindex != ctx->ingress_ifindex)
		return PASS(FP_PASS_WRONG_IFACE);
	if (ip6->hop_limit <= 1)
		return PASS(FP_PASS_TTL);

	fib.family = AF_INET6;
	fib.flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0fffffff);
	fib.l4_protocol = ip6->nexthdr;
	fib.sport = ports[0];
	fib.dport = ports[1];
	fib.tot_len = sizeof(*ip6) + payload;
	__builtin_memcpy(fib.ipv6_src, &ip6->saddr, 16);
	__builtin_memcpy(fib.ipv6_dst, &ip6->daddr, 16);
	fib.ifindex = flow->fib_ifindex;
	reason = fib_pass_reason(bpf_fib_lookup(ctx, &fib, sizeof(fib), 0), &fib);
	if (reason >= 0)
		return PASS(reason);

	ip6->hop_limit--;
	flow->packets += 1;
	flow->bytes += sizeof(*ip6) + payload;
	flow->last_seen_ns = bpf_ktime_get_ns();
	count(FP_FORWARDED6, 0);
	return redirect(eth, &fib);
}

SEC("xdp")
int sixfold_fastpath(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return PASS(FP_PASS_TRUNCATED);
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return forward4(ctx, eth, data_end);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return forward6(ctx, eth, data_end);
	return PASS(FP_PASS_NOT_IP);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
