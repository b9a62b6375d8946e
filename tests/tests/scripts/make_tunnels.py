"""Writes OUT_DIR/tunnels.pcap (raw IP) with one crafted packet per case, and prints
one line per packet: the direction it is sent from ("sub" or "wan") and the counter
the router must give it ("pass" = not a tunnel). Built with scapy, including the
evasions of ../shared/reference/router.md section 5.7. Usage: make_tunnels.py OUT_DIR"""
import struct
import sys

from scapy.all import GRE, ICMPv6EchoRequest, IP, IPv6, Raw, TCP, UDP, wrpcap

out = sys.argv[1]
SUB, SUB6 = "100.64.0.10", "2001:db8:1:1::2"
WAN, WAN6 = "192.0.2.1", "2001:db8:ffff::80"
PUB = "203.0.113.1"
inner6 = IPv6(src="2001:0:c633:640a:1c7b:6d20:39cc:9bfe", dst="2001:db8:ffff::1") / ICMPv6EchoRequest()
ll_rs = bytes(IPv6(src="fe80::8000:ffff:ffff:fffe", dst="ff02::2", hlim=255) / Raw(b"\x85\x00\x7d\x37\x00\x00\x00\x00"))
bubble = bytes(IPv6(src="2001:0:c633:640a:8000:6d20:39cc:9bfe", dst="2001:0:c633:640a:8000:1234:4567:89ab", nh=59, hlim=0))
origin = struct.pack("!HH4s", 0x0000, 37599 ^ 0xFFFF, bytes(b ^ 0xFF for b in bytes([198, 51, 100, 1])))
auth = bytes([0x00, 0x01, 0, 0]) + b"\x11" * 8 + b"\x00"

cases = [
    ("sub", "tunnel_teredo", IP(src=SUB, dst=WAN) / UDP(sport=40000, dport=3544) / Raw(ll_rs)),
    ("wan", "tunnel_teredo", IP(src=WAN, dst=PUB) / UDP(sport=3544, dport=40000) / Raw(bytes(inner6))),
    ("sub", "tunnel_teredo", IP(src=SUB, dst=WAN) / UDP(sport=40001, dport=51000) / Raw(bytes(inner6))),
    ("sub", "tunnel_teredo", IP(src=SUB, dst=WAN) / UDP(sport=40002, dport=443) / Raw(origin + bytes(inner6))),
    ("sub", "tunnel_teredo", IP(src=SUB, dst=WAN) / UDP(sport=40003, dport=8080) / Raw(bubble)),
    ("sub", "tunnel_teredo", IP(src=SUB, dst=WAN) / UDP(sport=40004, dport=9999) / Raw(auth + ll_rs)),
    ("sub", "tunnel_6in4", IP(src=SUB, dst=WAN, proto=41) / IPv6(src="2001:db8:77::2", dst="2001:db8:ffff::1") / ICMPv6EchoRequest()),
    ("sub", "tunnel_6to4", IP(src=SUB, dst=WAN, proto=41) / IPv6(src="2002:c000:0201::1", dst="2001:db8:ffff::1") / ICMPv6EchoRequest()),
    ("sub", "tunnel_isatap", IP(src=SUB, dst=WAN, proto=41) / IPv6(src="fe80::5efe:6440:a", dst="fe80::5efe:c000:201") / ICMPv6EchoRequest()),
    ("wan", "tunnel_6in4", IP(src=WAN, dst=PUB, proto=41) / IPv6(src="2001:db8:ffff::1", dst="2001:db8:77::2") / ICMPv6EchoRequest()),
    ("sub", "tunnel_6to4_relay", IP(src=SUB, dst="192.88.99.1") / UDP(sport=5000, dport=53) / Raw(b"x" * 20)),
    ("sub", "tunnel_ayiya", IP(src=SUB, dst=WAN) / UDP(sport=5072, dport=5072) / Raw(b"\x41\x52\x11\x00" + b"\x00" * 40)),
    ("sub", "tunnel_tsp", IP(src=SUB, dst=WAN) / TCP(sport=40005, dport=3653, flags="S")),
    ("sub", "tunnel_tsp", IP(src=SUB, dst=WAN) / UDP(sport=40006, dport=3653) / Raw(b"VERSION=2.0.0\r\n")),
    ("sub", "tunnel_gre_ipv6", IP(src=SUB, dst=WAN) / GRE(proto=0x86DD) / IPv6(src="2001:db8:77::2", dst=WAN6) / ICMPv6EchoRequest()),
    ("sub", "tunnel_4in6", IPv6(src=SUB6, dst=WAN6) / IP(src=SUB, dst=WAN) / UDP(sport=1, dport=2)),
    ("sub", "tunnel_6in6", IPv6(src=SUB6, dst=WAN6) / IPv6(src=SUB6, dst=WAN6) / ICMPv6EchoRequest()),
    ("sub", "tunnel_teredo_prefix", IPv6(src=SUB6, dst="2001:0:c633:640a:1c7b:6d20:39cc:9bfe") / ICMPv6EchoRequest()),
    ("wan", "tunnel_6to4_prefix", IPv6(src="2002:c000:201::1", dst=SUB6) / ICMPv6EchoRequest()),
    ("sub", "pass", IP(src=SUB, dst=WAN) / UDP(sport=5353, dport=53) / Raw(b"\x61\x23\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x1c\x00\x01")),
    ("sub", "pass", IP(src=SUB, dst=WAN) / UDP(sport=50000, dport=443) / Raw(b"\xc3\x00\x00\x00\x01\x08" + b"\x5a" * 1200)),
    ("sub", "pass", IP(src=SUB, dst=WAN) / UDP(sport=16384, dport=16384) / Raw(b"\x80\x00\x00\x01\x00\x00\x00\xa0\x12\x34\x56\x78" + b"\x00" * 160)),
    ("sub", "pass", IPv6(src=SUB6, dst=WAN6) / ICMPv6EchoRequest()),
]
packets = []
for direction, expect, p in cases:
    packets.append(p)
    print(direction, expect)
wrpcap(out + "/tunnels.pcap", packets, linktype=101)
