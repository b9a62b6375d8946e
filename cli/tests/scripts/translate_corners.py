#!/usr/bin/python3
"""Corner cases for `sixfold translate` (issue 29), built with scapy.

Usage: translate_corners.py DIR. Writes DIR/corners.toml, DIR/corners.pcap (raw
IP) and DIR/corners-expected.pcap: for each input packet, in order, every packet
the translator must emit — none for a packet the router drops — built here from
RFC 7915 and RFC 7757 with scapy computing every checksum. Prints how many
packets each input makes.
"""
import sys
from scapy.all import (IP, IPv6, UDP, ICMP, ICMPv6EchoRequest, IPv6ExtHdrFragment, Raw,
                       wrpcap, raw)

d = sys.argv[1]
open(f"{d}/corners.toml", "w").write("""[siit]
pool6 = "2001:db8:64::/96"
[[siit.eamt]]
ipv6 = "2001:db8:6::5"
ipv4 = "198.51.100.5"
[[siit.eamt]]
ipv6 = "2001:db8:7::9"
ipv4 = "198.51.100.9"
""")
A6, A4 = "2001:db8:6::5", "198.51.100.5"
B6, B4 = "2001:db8:7::9", "198.51.100.9"


def by_pool6(a4):
    o = [int(x) for x in a4.split(".")]
    return f"2001:db8:64::{o[0] << 8 | o[1]:x}:{o[2] << 8 | o[3]:x}"


cases = []


def case(pkt, *expected):
    cases.append((pkt, list(expected)))


# 1. An IPv4 fragment at offset 65528 with 1480 bytes: its IPv6 pieces would end
# past 65535 — the router drops it, so nothing is written (not the first piece).
case(IP(src="8.8.8.8", dst=A4, ttl=64, id=7, flags=0, frag=65528 // 8, proto=17)
     / Raw(b"f" * 1480))
# 2. A (an EAMT host) to B's IPv4 address under pool6: translated to IPv4 and
# back (RFC 7757 4), from A's RFC 6052 address.
case(IPv6(src=A6, dst=by_pool6(B4), hlim=64) / UDP(sport=4000, dport=53) / b"query",
     IPv6(src=by_pool6(A4), dst=B6, hlim=63) / UDP(sport=4000, dport=53) / b"query")
# 3. To 127.0.0.1 under pool6: no router forwards it.
case(IPv6(src=A6, dst=by_pool6("127.0.0.1"), hlim=64) / UDP(sport=1, dport=2) / b"x")
# 4. An echo request in an atomic fragment: a whole packet, the identification
# from the Fragment Header (RFC 6946, RFC 7915 5.1.1).
case(IPv6(src=A6, dst=by_pool6("8.8.8.8"), hlim=64)
     / IPv6ExtHdrFragment(nh=58, offset=0, m=0, id=0x0102BEEF)
     / ICMPv6EchoRequest(id=0x77, seq=1, data=b"ping"),
     IP(src=A4, dst="8.8.8.8", ttl=63, id=0xBEEF, flags=0) / ICMP(type=8, id=0x77, seq=1)
     / b"ping")

wrpcap(f"{d}/corners.pcap", [c[0] for c in cases])
expected = [IPv6(raw(p)) if p.version == 6 else IP(raw(p)) for c in cases for p in c[1]]
wrpcap(f"{d}/corners-expected.pcap", expected)
print(" ".join(str(len(c[1])) for c in cases))
