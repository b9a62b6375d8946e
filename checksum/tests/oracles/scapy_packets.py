"""Prints real IPv4/IPv6 TCP/UDP/ICMP packets built by scapy, one per line:
<kind> <hex of the packet with scapy's checksums>. Used by tests/oracles.rs."""
import random
import sys

from scapy.all import (ICMP, IP, TCP, UDP, ICMPv6EchoRequest, IPOption_Router_Alert,
                       IPv6, Raw, raw)

random.seed(int(sys.argv[1]))
count = int(sys.argv[2])


def v4():
    return ".".join(str(random.randrange(256)) for _ in range(4))


def v6():
    return ":".join("%x" % random.randrange(65536) for _ in range(8))


def payload():
    n = random.choice([0, 1, 2, 3, 7, random.randrange(64), random.randrange(1450)])
    return bytes(random.randrange(256) for _ in range(n))


def tcp():
    return TCP(sport=random.randrange(65536), dport=random.randrange(65536),
               seq=random.randrange(2**32), ack=random.randrange(2**32), flags="PA",
               window=random.randrange(65536), options=[("MSS", random.randrange(536, 9000))])


def udp():
    return UDP(sport=random.randrange(65536), dport=random.randrange(65536))


def ip4():
    opts = [IPOption_Router_Alert()] if random.random() < 0.3 else []
    return IP(src=v4(), dst=v4(), ttl=random.randrange(1, 256), id=random.randrange(65536),
              options=opts)


def udp_computing_to_zero(ip):
    """A UDP datagram whose checksum computes to 0: RFC 768 says send 0xFFFF."""
    data = payload()
    if len(data) % 2:
        data += b"\x01"
    base = ip / udp() / Raw(data + b"\x00\x00")
    c = IP(raw(base))[UDP].chksum if ip.version == 4 else IPv6(raw(base))[UDP].chksum
    # c is ~S; adding the word c makes the sum 0xFFFF, i.e. a computed checksum of 0.
    return ip / UDP(sport=base[UDP].sport, dport=base[UDP].dport) / Raw(data + c.to_bytes(2, "big"))


for i in range(count):
    kind = ["ip4-tcp", "ip4-udp", "ip4-icmp", "ip6-tcp", "ip6-udp", "ip6-icmp6",
            "ip4-udp-zero", "ip6-udp-zero"][i % 8]
    if kind == "ip4-tcp":
        p = ip4() / tcp() / Raw(payload())
    elif kind == "ip4-udp":
        p = ip4() / udp() / Raw(payload())
    elif kind == "ip4-icmp":
        p = ip4() / ICMP(type=8, id=random.randrange(65536), seq=random.randrange(65536)) / Raw(payload())
    elif kind == "ip6-tcp":
        p = IPv6(src=v6(), dst=v6()) / tcp() / Raw(payload())
    elif kind == "ip6-udp":
        p = IPv6(src=v6(), dst=v6()) / udp() / Raw(payload())
    elif kind == "ip6-icmp6":
        p = IPv6(src=v6(), dst=v6()) / ICMPv6EchoRequest(id=random.randrange(65536), data=payload())
    elif kind == "ip4-udp-zero":
        p = udp_computing_to_zero(IP(src=v4(), dst=v4()))
    else:
        p = udp_computing_to_zero(IPv6(src=v6(), dst=v6()))
    print(kind, raw(p).hex())
