"""Writes captures for the rewrite comparison: OUT_DIR/{ether-vlan,raw,sll}.pcap.
Random IPv4/IPv6 TCP/UDP/ICMP packets with correct checksums, some UDP/IPv4 with
checksum 0 ("none"), some fragments. Usage: make_captures.py OUT_DIR SEED COUNT"""
import random
import sys

from scapy.all import (ICMP, IP, TCP, UDP, CookedLinux, Dot1Q, Ether, ICMPv6EchoRequest,
                       IPv6, Raw, fragment, wrpcap)

out, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(seed)


def payload():
    return bytes(random.randrange(256) for _ in range(random.choice([0, 1, 2, 7, random.randrange(300)])))


def packet(i):
    kind = i % 7
    v4src = "10.%d.%d.%d" % (random.randrange(256), random.randrange(256), random.randrange(1, 255))
    v4dst = "198.51.100.%d" % random.randrange(1, 255)
    v6src = "2001:db8:%x::%x" % (random.randrange(65536), random.randrange(1, 65536))
    v6dst = "2001:db8:ffff::%x" % random.randrange(1, 65536)
    port = random.choice([53, 80, 443, 8080, random.randrange(1024, 65536)])
    ttl = random.randrange(1, 256)
    if kind == 0:
        return [IP(src=v4src, dst=v4dst, ttl=ttl) / TCP(sport=random.randrange(1024, 65536), dport=port, flags="PA") / Raw(payload())]
    if kind == 1:
        return [IP(src=v4src, dst=v4dst, ttl=ttl) / UDP(sport=random.randrange(1024, 65536), dport=port) / Raw(payload())]
    if kind == 2:
        p = IP(src=v4src, dst=v4dst, ttl=ttl) / UDP(sport=port, dport=53) / Raw(payload())
        p[UDP].chksum = 0  # "no checksum" must stay 0
        return [p]
    if kind == 3:
        return [IP(src=v4src, dst=v4dst, ttl=ttl) / ICMP(id=random.randrange(65536)) / Raw(payload())]
    if kind == 4:
        return [IPv6(src=v6src, dst=v6dst, hlim=ttl) / TCP(sport=port, dport=80, flags="S") / Raw(payload())]
    if kind == 5:
        return [IPv6(src=v6src, dst=v6dst, hlim=ttl) / UDP(sport=port, dport=port) / Raw(payload()),
                IPv6(src=v6src, dst=v6dst, hlim=ttl) / ICMPv6EchoRequest(id=port, data=payload())]
    big = IP(src=v4src, dst=v4dst, ttl=ttl, id=random.randrange(65536)) / UDP(sport=port, dport=4789) / Raw(bytes(1200))
    return fragment(big, fragsize=512)


def udp_zero_after_rewrite():
    """A UDP/IPv4 datagram 10.1.2.3 -> 198.51.100.9 whose checksum computes to 0 once the
    test's --srcipmap 10.0.0.0/8:172.16.0.0/12 and --dstipmap 198.51.100.0/24:203.0.113.0/24
    made it 172.17.2.3 -> 203.0.113.9: RFC 768 then sends 0xFFFF."""
    data = bytearray(payload() + b"\0\0")
    if len(data) % 2:
        data.insert(0, 0x55)
    new = IP(src="172.17.2.3", dst="203.0.113.9") / UDP(sport=40000, dport=9) / Raw(bytes(data))
    c = IP(bytes(new))[UDP].chksum
    data[-2:] = c.to_bytes(2, "big")  # adding ~S makes the new sum 0xFFFF
    return IP(src="10.1.2.3", dst="198.51.100.9") / UDP(sport=40000, dport=9) / Raw(bytes(data))


packets = [p for i in range(count) for p in packet(i)] + [udp_zero_after_rewrite()]
wrpcap(out + "/raw.pcap", packets, linktype=101)
eth = [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q(vlan=7) / p for p in packets]
wrpcap(out + "/ether-vlan.pcap", eth)
sll = [CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=b"\x02\0\0\0\0\x01\0\0", proto=0x86DD if p.version == 6 else 0x0800) / p for p in packets]
wrpcap(out + "/sll.pcap", sll)
print(len(packets))
