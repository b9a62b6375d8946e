// SPDX-License-Identifier: MIT OR Apache-2.0
/* sixfold's fast path: an eBPF program on the box's inside and outside
 * interfaces that forwards packets of flows the router (the slow path) has
 * established and written into `flows4` / `flows6`. Two entry points, one
 * implementation: `sixfold_fastpath` on XDP (a frame, before the kernel makes
 * an skb) and `sixfold_fastpath_tc` on the TC clsact ingress (the skb: GSO
 * super-packets whole, partial checksums); `[fastpath] hook` picks one.
 *
 * Contract: a packet is either translated (NAT44: addresses, ports, IPv4 and
 * L4 checksums by RFC 1624 incremental update, TTL) or forwarded (IPv6: hop
 * limit), then redirected to the interface and next hop bpf_fib_lookup gives,
 * and counted in its flow's per-CPU entry (packets, bytes, last seen); or it
 * is passed to the kernel unchanged (XDP_PASS / TC_ACT_OK, counted by reason
 * in `counters`), where it takes the path of today through the router.
 * Nothing is ever dropped here. The packet is written only after every check,
 * including the route lookup, has passed. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
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

/* RFC 1624's ~m + m' for two 32-bit words, kept as a 32-bit one's complement
 * sum (the kernel's __wsum): what bpf_l4_csum_replace takes as a difference. */
static __always_inline __u32 csum_add32(__u32 sum, __u32 word)
{
	sum += word;
	return sum + (sum < word);
}

static __always_inline __u32 csum_diff4(__u32 from1, __u32 to1, __u32 from2, __u32 to2)
{
	return csum_add32(csum_add32(csum_add32(~from1, to1), ~from2), to2);
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

/* The packet as the hook shows it: what the shared code below needs of
 * XDP's xdp_md or TC's __sk_buff. The code that reads and decides is one
 * implementation for both hooks; only the L4 checksum update differs. */
struct pkt {
	void *ctx;	/* for bpf_fib_lookup */
	void *data;	/* the Ethernet header */
	void *data_end;	/* the end of what may be read directly */
	__u32 len;	/* the whole packet from the Ethernet header: the frame
			 * (XDP); skb->len (TC: paged data and GSO super-packets) */
	__u32 ingress_ifindex;
	__u32 gso_size;	/* a GSO super-packet's segment payload; 0: one packet */
	__u32 gso_segs;
};

/* A packet of an installed flow, every check passed, its route found:
 * what the rewrite needs. The packet pointers are the checked ones. */
struct fwd {
	struct ethhdr *eth;
	void *ip;		/* struct iphdr or struct ipv6hdr */
	__be16 *ports;		/* source and destination port */
	__u16 *check;		/* the L4 checksum */
	__u32 check_off;	/* its offset from the Ethernet header */
	__u32 ip_len;		/* IP bytes (total length) */
	__u32 hdr_len;		/* IP + L4 header bytes, repeated in each segment */
	__u32 udp;
	struct bpf_fib_lookup fib;
};

/* The route lookup, with the length a packet on the wire will have: one
 * segment's for a GSO super-packet (the kernel cuts it at gso_size, so that
 * is what must fit the egress MTU), the packet's otherwise. A non-zero
 * tot_len makes the kernel compare it with the route's MTU in both hooks. */
static __always_inline int route(struct pkt *p, struct fwd *f, __u32 ifindex)
{
	__u32 wire = f->ip_len;

	if (p->gso_size && f->hdr_len + p->gso_size < wire)
		wire = f->hdr_len + p->gso_size;
	f->fib.tot_len = wire;
	f->fib.ifindex = ifindex;
	return fib_pass_reason(bpf_fib_lookup(p->ctx, &f->fib, sizeof(f->fib), 0), &f->fib);
}

/* The flow's counters: packets and IP bytes as they leave on the wire (a
 * super-packet counts its segments, each with its own headers, as the slow
 * path counts them), and the time. The time is CLOCK_MONOTONIC_COARSE, the
 * monotonic clock as of the last tick: no clock source is read per packet
 * (bpf_ktime_get_ns reads the TSC, ~4% of the program's CPU on a KVM guest,
 * measured with perf), and it is at most one tick behind CLOCK_MONOTONIC, which
 * the router compares it with; the router's idle timer keeps a second of slack
 * (device/fastpath/sync.rs), so a flow never expires early by it. */
static __always_inline void account(struct pkt *p, struct fwd *f, __u64 *packets, __u64 *bytes,
				    __u64 *last_seen_ns)
{
	__u32 segs = p->gso_size && p->gso_segs > 1 ? p->gso_segs : 1;

	*packets += segs;
	*bytes += f->ip_len + (segs - 1) * f->hdr_len;
	*last_seen_ns = bpf_ktime_get_coarse_ns();
}

/* TCP packets that open, close or reset a connection go to the slow path,
 * which keeps the session's TCP state and timers from them. */
static __always_inline int tcp_flags_pass(struct tcphdr *tcp)
{
	return tcp->syn || tcp->fin || tcp->rst;
}

/* The L4 header `l4_off` bytes into the packet, after an IP header that
 * carries `l4_len` bytes of protocol `proto`: its ports and checksum into
 * `f`, or a pass reason. */
static __always_inline int parse_l4(struct pkt *p, struct fwd *f, __u32 l4_off, __u32 l4_len,
				    __u8 proto)
{
	void *l4 = p->data + l4_off;

	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > p->data_end || l4_len < sizeof(*tcp) || tcp->doff < 5 ||
		    tcp->doff * 4 > l4_len)
			return FP_PASS_TRUNCATED;
		if (tcp_flags_pass(tcp))
			return FP_PASS_TCP_FLAGS;
		f->check = &tcp->check;
		f->ports = &tcp->source;
		f->hdr_len += tcp->doff * 4;
		f->check_off = l4_off + __builtin_offsetof(struct tcphdr, check);
		return -1;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > p->data_end || l4_len < sizeof(*udp) ||
		    bpf_ntohs(udp->len) != l4_len)
			return FP_PASS_TRUNCATED;
		f->check = &udp->check;
		f->ports = &udp->source;
		f->hdr_len += sizeof(*udp);
		f->check_off = l4_off + __builtin_offsetof(struct udphdr, check);
		f->udp = 1;
		return -1;
	}
	return FP_PASS_PROTOCOL;
}

/* An IPv4 packet: -1 and `f` filled when it belongs to an installed flow and
 * may take the fast path, else why not. Reads only. */
static __always_inline int decide4(struct pkt *p, struct fwd *f, struct flow4_value **out)
{
	struct iphdr *ip = p->data + sizeof(struct ethhdr);
	struct flow4_key key = {};
	struct flow4_value *flow;
	__u32 tot_len;
	int reason;

	if ((void *)(ip + 1) > p->data_end)
		return FP_PASS_TRUNCATED;
	if (ip->version != 4 || ip->ihl < 5)
		return FP_PASS_TRUNCATED;
	if (ip->ihl != 5)
		return FP_PASS_IP_OPTIONS;
	if (ip->frag_off & bpf_htons(0x3fff))
		return FP_PASS_FRAGMENT;
	tot_len = bpf_ntohs(ip->tot_len);
	if (tot_len < sizeof(*ip) || sizeof(struct ethhdr) + tot_len > p->len)
		return FP_PASS_TRUNCATED;
	f->hdr_len = sizeof(*ip);
	reason = parse_l4(p, f, sizeof(struct ethhdr) + sizeof(*ip), tot_len - sizeof(*ip),
			  ip->protocol);
	if (reason >= 0)
		return reason;
	{
		__u32 sum = 0;
		__u16 *word = (__u16 *)ip;

#pragma unroll
		for (int i = 0; i < 10; i++)
			sum += word[i];
		if (csum_fold(sum) != 0xffff)
			return FP_PASS_BAD_CHECKSUM;
	}
	key.saddr = ip->saddr;
	key.daddr = ip->daddr;
	key.sport = f->ports[0];
	key.dport = f->ports[1];
	key.proto = ip->protocol;
	flow = bpf_map_lookup_elem(&flows4, &key);
	if (!flow)
		return FP_PASS_MISS;
	if (flow->in_ifindex != p->ingress_ifindex)
		return FP_PASS_WRONG_IFACE;
	if (ip->ttl <= 1)
		return FP_PASS_TTL;

	f->eth = p->data;
	f->ip = ip;
	f->ip_len = tot_len;
	f->fib.family = AF_INET;
	f->fib.tos = ip->tos;
	f->fib.l4_protocol = ip->protocol;
	f->fib.sport = flow->new_sport;
	f->fib.dport = flow->new_dport;
	f->fib.ipv4_src = flow->new_saddr;
	f->fib.ipv4_dst = flow->new_daddr;
	*out = flow;
	return route(p, f, flow->fib_ifindex);
}

/* Writes the next hop's and the egress interface's MACs. */
static __always_inline void write_macs(struct fwd *f)
{
	__builtin_memcpy(f->eth->h_dest, f->fib.dmac, ETH_ALEN);
	__builtin_memcpy(f->eth->h_source, f->fib.smac, ETH_ALEN);
}

/* What an IPv4 translation replaced: the L4 checksum's update needs it. */
struct old4 {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
};

/* Translates the IPv4 packet of `f`: TTL, addresses and ports, the header
 * checksum by RFC 1624 (the IPv4 header checksum is always complete: no
 * device finishes it), MACs; what it replaced into `old`. The L4 checksum is
 * the hook's. */
static __always_inline void write4(struct fwd *f, struct flow4_value *flow, struct old4 *old)
{
	struct iphdr *ip = f->ip;
	__u16 old_word, new_word;

	old->saddr = ip->saddr;
	old->daddr = ip->daddr;
	old->sport = f->ports[0];
	old->dport = f->ports[1];

	old_word = *(__u16 *)&ip->ttl;
	ip->ttl--;
	new_word = *(__u16 *)&ip->ttl;
	ip->check = csum_replace2(ip->check, old_word, new_word);
	ip->check = csum_replace4(ip->check, ip->saddr, flow->new_saddr);
	ip->check = csum_replace4(ip->check, ip->daddr, flow->new_daddr);
	ip->saddr = flow->new_saddr;
	ip->daddr = flow->new_daddr;
	f->ports[0] = flow->new_sport;
	f->ports[1] = flow->new_dport;
	write_macs(f);
}

/* An IPv6 packet: -1 and `f` filled when it belongs to an installed flow and
 * may take the fast path, else why not. Reads only. */
static __always_inline int decide6(struct pkt *p, struct fwd *f, struct flow6_value **out)
{
	struct ipv6hdr *ip6 = p->data + sizeof(struct ethhdr);
	struct flow6_key key = {};
	struct flow6_value *flow;
	__u32 payload;
	int reason;

	if ((void *)(ip6 + 1) > p->data_end || ip6->version != 6)
		return FP_PASS_TRUNCATED;
	payload = bpf_ntohs(ip6->payload_len);
	if (sizeof(struct ethhdr) + sizeof(*ip6) + payload > p->len)
		return FP_PASS_TRUNCATED;
	if (ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_UDP) {
		/* Hop-by-hop, routing, fragment, destination options, ESP, AH,
		 * and every protocol the fast path does not know. */
		return ip6->nexthdr == IPPROTO_ICMPV6 ? FP_PASS_PROTOCOL : FP_PASS_EXT_HEADER;
	}
	f->hdr_len = sizeof(*ip6);
	reason = parse_l4(p, f, sizeof(struct ethhdr) + sizeof(*ip6), payload, ip6->nexthdr);
	if (reason >= 0)
		return reason;
	__builtin_memcpy(key.saddr, &ip6->saddr, 16);
	__builtin_memcpy(key.daddr, &ip6->daddr, 16);
	key.sport = f->ports[0];
	key.dport = f->ports[1];
	key.proto = ip6->nexthdr;
	flow = bpf_map_lookup_elem(&flows6, &key);
	if (!flow)
		return FP_PASS_MISS;
	if (flow->in_ifindex != p->ingress_ifindex)
		return FP_PASS_WRONG_IFACE;
	if (ip6->hop_limit <= 1)
		return FP_PASS_TTL;

	f->eth = p->data;
	f->ip = ip6;
	f->ip_len = sizeof(*ip6) + payload;
	f->fib.family = AF_INET6;
	f->fib.flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0fffffff);
	f->fib.l4_protocol = ip6->nexthdr;
	f->fib.sport = f->ports[0];
	f->fib.dport = f->ports[1];
	__builtin_memcpy(f->fib.ipv6_src, &ip6->saddr, 16);
	__builtin_memcpy(f->fib.ipv6_dst, &ip6->daddr, 16);
	*out = flow;
	return route(p, f, flow->fib_ifindex);
}

/* Forwards the IPv6 packet of `f`: hop limit (no checksum covers it), MACs. */
static __always_inline void write6(struct fwd *f)
{
	struct ipv6hdr *ip6 = f->ip;

	ip6->hop_limit--;
	write_macs(f);
}

/* The hooks. XDP sees a frame; TC sees the skb, whose L4 checksum may be
 * CHECKSUM_PARTIAL (a local sender's, on a veth: the field holds the
 * pseudo-header's sum and a device finishes it) and which may be a GSO
 * super-packet; the kernel's helpers update the field for what it is. */
enum hook { HOOK_XDP, HOOK_TC };

/* The L4 checksum of an IPv4 translation, after write4. */
static __always_inline void l4_csum4(struct pkt *p, struct fwd *f, struct flow4_value *flow,
				     struct old4 *old, enum hook hook)
{
	if (hook == HOOK_TC) {
		/* BPF_F_PSEUDO_HDR: the addresses are in the pseudo-header, so a
		 * partial checksum changes with them and not with the ports.
		 * BPF_F_MARK_MANGLED_0: a UDP checksum of 0 (none, RFC 768) stays
		 * 0, one that becomes 0 is written 0xffff. These cannot fail:
		 * the offset is even and in the linear part, and the skb is
		 * already writable (the program wrote it directly). Two calls,
		 * not four: each takes the difference of a pair of fields
		 * (size 0: `to` is a 32-bit one's complement sum), the
		 * addresses' as pseudo-header, the ports' not. */
		__u64 mm = f->udp ? BPF_F_MARK_MANGLED_0 : 0;
		__u32 ports_from, ports_to;

		__builtin_memcpy(&ports_from, &old->sport, sizeof(ports_from));
		__builtin_memcpy(&ports_to, &flow->new_sport, sizeof(ports_to));
		bpf_l4_csum_replace(p->ctx, f->check_off, 0,
				    csum_diff4(old->saddr, flow->new_saddr, old->daddr,
					       flow->new_daddr),
				    mm | BPF_F_PSEUDO_HDR);
		bpf_l4_csum_replace(p->ctx, f->check_off, 0, csum_add32(~ports_from, ports_to), mm);
		return;
	}
	/* A frame's checksum is complete. A UDP checksum of 0 means none
	 * (RFC 768): it stays 0. */
	if (!f->udp || *f->check != 0) {
		__u16 sum = *f->check;

		sum = csum_replace4(sum, old->saddr, flow->new_saddr);
		sum = csum_replace4(sum, old->daddr, flow->new_daddr);
		sum = csum_replace2(sum, old->sport, flow->new_sport);
		sum = csum_replace2(sum, old->dport, flow->new_dport);
		if (f->udp && sum == 0)
			sum = 0xffff;
		*f->check = sum;
	}
}

/* One packet through either hook: forwarded (the redirect's verdict) or
 * passed to the kernel unchanged (`pass`), counted either way. Every check,
 * the route lookup included, passes before anything is written. */
static __always_inline int forward(struct pkt *p, enum hook hook, int pass)
{
	struct ethhdr *eth = p->data;
	struct fwd f = {};
	int reason;

	if ((void *)(eth + 1) > p->data_end)
		return count(FP_PASS_TRUNCATED, pass);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct flow4_value *flow = 0;
		struct old4 old;

		reason = decide4(p, &f, &flow);
		if (reason >= 0 || !flow)
			return count(reason >= 0 ? reason : FP_PASS_MISS, pass);
		write4(&f, flow, &old);
		l4_csum4(p, &f, flow, &old, hook);
		account(p, &f, &flow->packets, &flow->bytes, &flow->last_seen_ns);
		count(FP_FORWARDED4, 0);
		return bpf_redirect(f.fib.ifindex, 0);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct flow6_value *flow = 0;

		reason = decide6(p, &f, &flow);
		if (reason >= 0 || !flow)
			return count(reason >= 0 ? reason : FP_PASS_MISS, pass);
		write6(&f);
		account(p, &f, &flow->packets, &flow->bytes, &flow->last_seen_ns);
		count(FP_FORWARDED6, 0);
		return bpf_redirect(f.fib.ifindex, 0);
	}
	return count(FP_PASS_NOT_IP, pass);
}

SEC("xdp")
int sixfold_fastpath(struct xdp_md *ctx)
{
	struct pkt p = {
		.ctx = ctx,
		.data = (void *)(long)ctx->data,
		.data_end = (void *)(long)ctx->data_end,
		.ingress_ifindex = ctx->ingress_ifindex,
	};

	p.len = p.data_end - p.data;
	return forward(&p, HOOK_XDP, XDP_PASS);
}

/* The headers the program reads: Ethernet, the larger IP header, TCP's
 * fixed part. TC may see them outside the skb's linear part. */
#define TC_HEADERS (sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct tcphdr))

/* On a TC ingress (clsact) hook (section "classifier": the name aya 0.14
 * knows for sched_cls programs): TC_ACT_OK is the kernel's path unchanged,
 * bpf_redirect sends the skb out of the other interface as it is (a GSO
 * super-packet is cut there, a partial checksum finished there). */
SEC("classifier")
int sixfold_fastpath_tc(struct __sk_buff *skb)
{
	struct pkt p = {
		.ctx = skb,
		.len = skb->len,
		.ingress_ifindex = skb->ingress_ifindex,
		.gso_size = skb->gso_size,
		.gso_segs = skb->gso_segs,
	};
	__u32 need = skb->len < TC_HEADERS ? skb->len : TC_HEADERS;

	/* A VLAN tag the device took off (the frame shows no tag): XDP would
	 * see it and pass it; so does this. */
	if (skb->vlan_present)
		return count(FP_PASS_NOT_IP, TC_ACT_OK);
	if ((void *)(long)skb->data + need > (void *)(long)skb->data_end &&
	    bpf_skb_pull_data(skb, need))
		return count(FP_PASS_TRUNCATED, TC_ACT_OK);
	p.data = (void *)(long)skb->data;
	p.data_end = (void *)(long)skb->data_end;
	return forward(&p, HOOK_TC, TC_ACT_OK);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
