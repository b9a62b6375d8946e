"""Writes a pcap of N Ethernet frames (default 1,000,000): IPv4/IPv6 TCP and UDP
packets of 64-1400 bytes with correct checksums, from 10.0.0.0/8 to 198.51.100.0/24
(and 2001:db8::/32), ports varying. Usage: make_million.py OUT [N]"""
import random
import struct
import sys

from scapy.all import IP, TCP, UDP, Ether, IPv6, Raw, raw

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
random.seed(1)
templates = []
for i in range(512):
    size = random.choice([18, 64, 512, 1400])
    if i % 4 == 3:
        p = Ether() / IPv6(src="2001:db8:1::%x" % (i + 1), dst="2001:db8:ffff::%x" % (i + 7)) / UDP(sport=1024 + i, dport=53) / Raw(bytes(size))
    else:
        l4 = TCP(sport=1024 + i, dport=80, flags="PA") if i % 2 else UDP(sport=1024 + i, dport=53)
        p = Ether() / IP(src="10.%d.%d.%d" % (i % 7, i % 200, i % 250 + 1), dst="198.51.100.%d" % (i % 250 + 1)) / l4 / Raw(bytes(size))
    templates.append(raw(p))
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    for i in range(n):
        t = templates[i % len(templates)]
        f.write(struct.pack("<IIII", 1700000000 + i // 1000, (i % 1000) * 1000, len(t), len(t)))
        f.write(t)
