#!/usr/bin/python3
"""Captures for `sixfold translate`, and what it must write, built with scapy.

Usage: translate_cases.py DIR. Writes DIR/in.pcap (raw IP), DIR/in-eth.pcap (the
same packets behind Ethernet, plus an ARP frame) and DIR/expected.pcap: for each
input packet, in order, every packet the translator must emit — built here field
by field from RFC 7915 with scapy computing every checksum, independently of the
translator. The configuration is DIR/siit.toml (written here too).

The router's own ICMP errors: IPv4 header without options, TOS 0, ID 0, no DF,
TTL 64; IPv6 hop limit 255 (what `sixfold-router` sends).
"""
import sys
from scapy.all import (IP, IPv6, UDP, TCP, ICMP, ICMPv6EchoRequest, ICMPv6EchoReply,
                       ICMPv6TimeExceeded, ICMPv6PacketTooBig, IPv6ExtHdrFragment,
                       Ether, ARP, Raw, wrpcap, raw)

d = sys.argv[1]
R4, R6 = "192.0.2.254", "2001:db8:ffff::1"
open(f"{d}/siit.toml", "w").write(f"""[router]
ipv4 = "{R4}"
ipv6 = "{R6}"
[siit]
pool6 = "64:ff9b::/96"
[[siit.eamt]]
ipv6 = "2001:db8:6::/120"
ipv4 = "198.51.100.0/24"
""")
# 8.8.8.8 is under the Well-Known Prefix; 198.51.100.0/24 is the EAMT's.
V4_REMOTE, V6_REMOTE = "8.8.8.8", "64:ff9b::808:808"
V4_HOST, V6_HOST = "198.51.100.5", "2001:db8:6::5"

cases = []  # (input packet, [expected packets])


def case(pkt, *expected):
    cases.append((pkt, list(expected)))


def v6_of(tc=0, hlim=63, nh=None):
    return IPv6(src=V6_REMOTE, dst=V6_HOST, tc=tc, fl=0, hlim=hlim)


def v4_of(ttl=63, ident=0, flags=0):
    return IP(src=V4_HOST, dst=V4_REMOTE, tos=0, id=ident, flags=flags, ttl=ttl)


def router4(about, kind, code, rest=0):
    quote = raw(about)[:548]
    return IP(src=R4, dst=about[IP].src, id=0, flags=0, ttl=64) / ICMP(
        type=kind, code=code, unused=rest) / Raw(quote)


# 1. UDP, IPv4 -> IPv6: TOS copied to traffic class, TTL - 1, checksum recomputed.
case(IP(src=V4_REMOTE, dst=V4_HOST, tos=0x28, ttl=64) / UDP(sport=53, dport=4000) / b"hello",
     v6_of(tc=0x28) / UDP(sport=53, dport=4000) / b"hello")
# 2. TCP SYN, IPv6 -> IPv4: small, so no DF and ID 0 (RFC 7915 5.1).
case(IPv6(src=V6_HOST, dst=V6_REMOTE, hlim=64) / TCP(sport=4000, dport=80, flags="S", seq=7),
     v4_of() / TCP(sport=4000, dport=80, flags="S", seq=7))
# 3. Echo request, IPv4 -> IPv6 (type 8 -> 128).
case(IP(src=V4_REMOTE, dst=V4_HOST, ttl=64) / ICMP(type=8, id=0x1234, seq=1) / b"ping",
     v6_of() / ICMPv6EchoRequest(id=0x1234, seq=1, data=b"ping"))
# 4. Echo reply, IPv6 -> IPv4 (129 -> 0).
case(IPv6(src=V6_HOST, dst=V6_REMOTE, hlim=64) / ICMPv6EchoReply(id=0x1234, seq=1, data=b"pong"),
     v4_of() / ICMP(type=0, id=0x1234, seq=1) / b"pong")
# 5. TTL 1: the router answers time exceeded from [router] ipv4.
ttl1 = IP(src=V4_REMOTE, dst=V4_HOST, ttl=1, id=9) / UDP(sport=1, dport=2) / b"x"
case(ttl1, router4(IP(raw(ttl1)), 11, 0))
# 6. 1400 bytes without DF: IPv6 fragments of at most 1280 (lowest-ipv6-mtu).
big = IP(src=V4_REMOTE, dst=V4_HOST, ttl=64, flags=0, id=0x4242) / UDP(sport=1, dport=2) / (b"z" * 1372)
whole = raw(v6_of() / UDP(sport=1, dport=2) / (b"z" * 1372))[40:]
case(big,
     v6_of() / IPv6ExtHdrFragment(nh=17, offset=0, m=1, id=0x4242) / Raw(whole[:1232]),
     v6_of() / IPv6ExtHdrFragment(nh=17, offset=1232 // 8, m=0, id=0x4242) / Raw(whole[1232:]))
# 7. A destination no mapping covers: 3/13 (RFC 7915 4.4).
unmapped = IP(src=V4_REMOTE, dst="203.0.113.9", ttl=64) / UDP(sport=1, dport=2) / b"x"
case(unmapped, router4(IP(raw(unmapped)), 3, 13))
# 8. Hop limit 1: time exceeded from [router] ipv6, hop limit 255.
hop1 = IPv6(src=V6_HOST, dst=V6_REMOTE, hlim=1) / UDP(sport=1, dport=2) / b"x"
case(hop1, IPv6(src=R6, dst=V6_HOST, hlim=255) / ICMPv6TimeExceeded(code=0) / Raw(raw(hop1)))
# 9. ICMPv4 timestamp: no ICMPv6 counterpart, dropped silently.
case(IP(src=V4_REMOTE, dst=V4_HOST, ttl=64) / ICMP(type=13), )
# 10. 1400 bytes of IPv6 for a 1500-byte IPv4 link: 1380 with DF.
v6big = IPv6(src=V6_HOST, dst=V6_REMOTE, hlim=64) / UDP(sport=5, dport=6) / (b"q" * 1352)
case(v6big, v4_of(flags="DF") / UDP(sport=5, dport=6) / (b"q" * 1352))

inputs = [c[0] for c in cases]
wrpcap(f"{d}/in.pcap", inputs)
eth = [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p for p in inputs]
eth.append(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP())
wrpcap(f"{d}/in-eth.pcap", eth)
expected = [IPv6(raw(p)) if p.version == 6 else IP(raw(p)) for c in cases for p in c[1]]
wrpcap(f"{d}/expected.pcap", expected)
print(" ".join(str(len(c[1])) for c in cases))
