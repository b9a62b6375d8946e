#!/usr/bin/python3
"""RFC 7915 translation cases built with scapy, for rewrite/tests/translate_scapy.rs.

Prints one JSON object per line: a packet to translate, the plan (addresses,
ports, ICMP identifier, for the packet and for the packet an ICMP error quotes),
the translator settings, and what must come out — the translated packet or its
fragments, byte for byte, or the error and the ICMP reply the RFC asks for.

Every expected packet is built here from first principles with scapy, which
computes every checksum (IPv4 header, TCP, UDP, ICMP, ICMPv6 over its pseudo-
header) itself; quoted packets are built whole and then cut, as a router quotes
them. The ICMP type/code/pointer tables below are a transcription of RFC 7915
sections 4.2 and 5.2, independent of the Rust ones.

Addressing: stateless SIIT with pool6 2001:db8:64::/96 on both sides. The IPv6
client C6 is C4 embedded, and so on; cases marked "siit" must also come out the
same through sixfold's own RFC 6052 planner.
"""
import ipaddress
import json
import sys

from scapy.all import (ICMP, IP, TCP, UDP, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrRouting, Raw, raw)
from scapy.layers.inet6 import ICMPv6Unknown
from scapy.utils import checksum

sys.dont_write_bytecode = True  # no __pycache__ beside the tests
from rfc7915_tables import error_4to6, error_6to4  # noqa: E402

POOL6 = ipaddress.IPv6Network("2001:db8:64::/96")


def m6(a4):
    return str(ipaddress.IPv6Address(int(POOL6.network_address) | int(ipaddress.IPv4Address(a4))))


C4, S4, R4 = "192.0.2.1", "198.51.100.7", "203.0.113.9"
C6, S6, R6 = m6(C4), m6(S4), m6(R4)

CASES = []


def mapping(src, dst, src_port=None, dst_port=None, icmp_id=None):
    return {"src": src, "dst": dst, "src_port": src_port, "dst_port": dst_port,
            "icmp_id": icmp_id}


def add(name, direction, packet, expect, outer, quote=None, config=None, siit=True,
        ipv4_ident=0, icmp_message_len=None):
    plan = dict(outer)
    plan["quote"] = quote
    plan["ipv4_ident"] = ipv4_ident
    plan["icmp_message_len"] = icmp_message_len
    CASES.append({"name": name, "dir": direction, "input": bytes(packet).hex(),
                  "plan": plan, "config": config or {}, "expect": expect,
                  "siit": siit and plain(outer) and plain(quote)})


def plain(m):
    """A mapping stateless SIIT would make: addresses only."""
    return m is None or all(m[k] is None for k in ("src_port", "dst_port", "icmp_id"))


def packets(*ps):
    return {"packets": [bytes(p).hex() for p in ps]}


def error(name, reply=None):
    return {"error": name, "reply": reply}


def icmp4(t, code, rest, body):
    """An ICMPv4 message with scapy's checksum."""
    m = bytes([t, code, 0, 0]) + bytes(rest) + bytes(body)
    return m[:2] + checksum(m).to_bytes(2, "big") + m[4:]


def icmp6(t, code, rest, body):
    """An ICMPv6 message layer: scapy computes its checksum over the pseudo-header."""
    return ICMPv6Unknown(type=t, code=code, msgbody=bytes(rest) + bytes(body))


def v4(src, dst, ttl=64, tos=0, ident=0, flags=0, frag=0, options=None, proto=None):
    kw = dict(src=src, dst=dst, ttl=ttl, tos=tos, id=ident, flags=flags, frag=frag)
    if options:
        kw["options"] = options
    if proto is not None:
        kw["proto"] = proto
    return IP(**kw)


def v6(src, dst, hlim=64, tc=0, nh=None):
    kw = dict(src=src, dst=dst, hlim=hlim, tc=tc)
    if nh is not None:
        kw["nh"] = nh
    return IPv6(**kw)


def l4(pkt, header_len):
    """The upper-layer bytes of a built packet."""
    return raw(pkt)[header_len:]


DATA = bytes(range(48))

# ---------------------------------------------------------------- transport both ways


def transport():
    for name, layer4, layer6 in [
        ("udp", lambda: UDP(sport=53, dport=40000) / DATA, None),
        ("tcp", lambda: TCP(sport=443, dport=40000, seq=1, ack=2, flags="PA",
                            options=[("NOP", None), ("Timestamp", (1, 2))]) / DATA, None),
        ("tcp syn mss", lambda: TCP(sport=443, dport=40000, flags="S",
                                    options=[("MSS", 1460), ("SAckOK", b"")]), None),
        ("echo reply", lambda: ICMP(type=0, id=0x4242, seq=7) / DATA,
         lambda: ICMPv6EchoReply(id=0x4242, seq=7) / DATA),
        ("echo request", lambda: ICMP(type=8, id=0x4242, seq=7) / DATA,
         lambda: ICMPv6EchoRequest(id=0x4242, seq=7) / DATA),
        ("gre", lambda: Raw(b"\x00\x00\x08\x00" + DATA), None),
    ]:
        layer6 = layer6 or layer4
        proto4 = 47 if name == "gre" else None
        proto6 = 47 if name == "gre" else None
        for tos in (0, 0xb8):
            p4 = v4(S4, C4, ttl=64, tos=tos, ident=0x1234, flags="DF", proto=proto4) / layer4()
            p6 = v6(S6, C6, hlim=63, tc=tos, nh=proto6) / layer6()
            add(f"{name} 4to6 tos {tos:#x}", "4to6", p4, packets(p6), mapping(S6, C6))
            q6 = v6(C6, S6, hlim=64, tc=tos, nh=proto6) / layer6()
            q4 = v4(C4, S4, ttl=63, tos=tos, proto=proto4) / layer4()
            add(f"{name} 6to4 tc {tos:#x}", "6to4", q6, packets(q4), mapping(C4, S4))

    # IPv4 options are dropped (4.1): router alert, record route, an exhausted
    # loose source route.
    from scapy.all import IPOption_LSRR, IPOption_Router_Alert, IPOption_RR
    for opts in ([IPOption_Router_Alert()], [IPOption_RR(routers=["0.0.0.0"] * 3)],
                 # Exhausted: the header holds the final destination, which
                 # scapy also takes from the route for the UDP pseudo-header.
                 [IPOption_LSRR(pointer=8, routers=[C4])]):
        p4 = v4(S4, C4, options=opts, flags="DF") / UDP(sport=53, dport=1) / DATA
        p6 = v6(S6, C6, hlim=63) / UDP(sport=53, dport=1) / DATA
        add(f"options {opts[0].name} dropped", "4to6", p4, packets(p6), mapping(S6, C6))

    # IPv6 extension headers before the upper layer are skipped (5.1).
    for ext in (IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(),
                IPv6ExtHdrRouting(addresses=[S6], segleft=0),
                IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt()):
        p6 = v6(C6, S6) / ext / UDP(sport=1, dport=53) / DATA
        p4 = v4(C4, S4, ttl=63) / UDP(sport=1, dport=53) / DATA
        add(f"extension {ext.name} skipped", "6to4", p6, packets(p4), mapping(C4, S4))

    # Stateful NAT64 style: new ports and identifiers in the same pass.
    p6 = v6(C6, S6) / TCP(sport=40000, dport=80, flags="S") / DATA
    p4 = v4(C4, S4, ttl=63) / TCP(sport=1024, dport=80, flags="S") / DATA
    add("napt tcp 6to4", "6to4", p6, packets(p4), mapping(C4, S4, src_port=1024))
    p4 = v4(S4, C4, flags="DF") / UDP(sport=53, dport=1024) / DATA
    p6 = v6(S6, C6, hlim=63) / UDP(sport=53, dport=40000) / DATA
    add("napt udp 4to6", "4to6", p4, packets(p6), mapping(S6, C6, dst_port=40000))
    p6 = v6(C6, S6) / ICMPv6EchoRequest(id=0x1111, seq=1) / DATA
    p4 = v4(C4, S4, ttl=63) / ICMP(type=8, id=0x2222, seq=1) / DATA
    add("napt echo 6to4", "6to4", p6, packets(p4), mapping(C4, S4, icmp_id=0x2222))

    # Hop limit / TTL: decremented, refused at 1 with time exceeded.
    p4 = v4(S4, C4, ttl=1) / UDP(sport=1, dport=2)
    add("ttl 1", "4to6", p4, error("ttl_exceeded", ["v4", 11, 0, 0]), mapping(S6, C6))
    p6 = v6(C6, S6, hlim=1) / UDP(sport=1, dport=2)
    add("hop limit 1", "6to4", p6, error("hop_limit_exceeded", ["v6", 3, 0, 0]),
        mapping(C4, S4))
    p4 = v4(S4, C4, ttl=1) / UDP(sport=1, dport=2)
    p6 = v6(S6, C6, hlim=1) / UDP(sport=1, dport=2)
    add("ttl 1 kept when the caller decrements", "4to6", p4, packets(p6), mapping(S6, C6),
        config={"decrement_hop_limit": False})

    # Protocol numbers that only mean something in the other family.
    for proto in (0, 2, 43, 44, 58, 60):
        p4 = v4(S4, C4, flags="DF", proto=proto) / Raw(b"\x11\x00\x00\x01" + bytes(12))
        add(f"ipv4 protocol {proto}", "4to6", p4, error("protocol_of_the_other_family"),
            mapping(S6, C6))
    p6 = v6(C6, S6, nh=1) / Raw(icmp4(8, 0, b"\x00\x01\x00\x01", b""))
    add("ipv6 next header 1", "6to4", p6, error("protocol_of_the_other_family"), mapping(C4, S4))

    # Traffic class / TOS overrides (4.1, 5.1).
    p4 = v4(S4, C4, tos=0xb8, flags="DF") / UDP(sport=1, dport=2)
    p6 = v6(S6, C6, hlim=63, tc=0) / UDP(sport=1, dport=2)
    add("traffic class forced to 0", "4to6", p4, packets(p6), mapping(S6, C6),
        config={"traffic_class": 0})
    p6 = v6(C6, S6, tc=0xb8) / UDP(sport=1, dport=2)
    p4 = v4(C4, S4, ttl=63, tos=0x20) / UDP(sport=1, dport=2)
    add("tos forced to 0x20", "6to4", p6, packets(p4), mapping(C4, S4), config={"tos": 0x20})


def udp_checksum_zero():
    def zero(p):
        b = bytearray(raw(p))
        ihl = (b[0] & 15) * 4
        b[ihl + 6:ihl + 8] = b"\x00\x00"
        return bytes(b)

    p4 = zero(v4(S4, C4, flags="DF") / UDP(sport=53, dport=1) / DATA)
    add("udp checksum 0 dropped", "4to6", p4, error("udp_checksum_zero", ["v4", 3, 13, 0]),
        mapping(S6, C6))
    p6 = v6(S6, C6, hlim=63) / UDP(sport=53, dport=1) / DATA
    add("udp checksum 0 amended", "4to6", p4, packets(p6), mapping(S6, C6),
        config={"amend_udp_checksum_zero": True})
    first = zero(v4(S4, C4, flags="MF", ident=7) / UDP(sport=53, dport=1, len=8 + 96) / DATA)
    add("udp checksum 0 in a fragment", "4to6", first,
        error("udp_checksum_zero", ["v4", 3, 13, 0]), mapping(S6, C6),
        config={"amend_udp_checksum_zero": True})


# ---------------------------------------------------------------- fragments


def fragments():
    payload = bytes((i * 7) & 255 for i in range(2000))
    udp4 = l4(v4(S4, C4) / UDP(sport=53, dport=40000) / payload, 20)
    udp6 = l4(v6(S6, C6) / UDP(sport=53, dport=40000) / payload, 40)
    # IPv4 fragments of 1480 + 528 bytes, in order and reversed (each translated
    # alone: a stateless translator keeps no fragment state).
    pieces = [(0, udp4[:1480], True), (1480, udp4[1480:], False)]
    pairs = []
    for off, part, more in pieces:
        p4 = v4(S4, C4, ident=0xbeef, flags="MF" if more else 0, frag=off // 8,
                proto=17) / Raw(part)
        chunk6 = udp6[off:off + len(part)]
        whole = v6(S6, C6, hlim=63) / IPv6ExtHdrFragment(nh=17, offset=off // 8, m=int(more),
                                                           id=0xbeef) / Raw(chunk6)
        # 1528 bytes: more than lowest-ipv6-mtu, so split again at 1280.
        outs = []
        data = raw(whole)[48:]
        for at in range(0, len(data), 1232):
            last = at + 1232 >= len(data)
            outs.append(v6(S6, C6, hlim=63) / IPv6ExtHdrFragment(
                nh=17, offset=(off + at) // 8, m=int(more or not last), id=0xbeef)
                / Raw(data[at:at + 1232]))
        pairs.append((f"ipv4 fragment at {off}", p4, outs))
    for name, p4, outs in pairs + pairs[::-1]:
        add(name, "4to6", p4, packets(*outs), mapping(S6, C6))

    # IPv6 fragments of 1232 + 776 bytes, both orders.
    udp6 = l4(v6(C6, S6) / UDP(sport=40000, dport=53) / payload, 40)
    udp4 = l4(v4(C4, S4) / UDP(sport=40000, dport=53) / payload, 20)
    pairs = []
    for off, n, more in [(0, 1232, True), (1232, 776, False)]:
        p6 = v6(C6, S6) / IPv6ExtHdrFragment(nh=17, offset=off // 8, m=int(more),
                                             id=0x0102beef) / Raw(udp6[off:off + n])
        p4 = v4(C4, S4, ttl=63, ident=0xbeef, flags="MF" if more else 0,
                frag=off // 8, proto=17) / Raw(udp4[off:off + n])
        pairs.append((f"ipv6 fragment at {off}", p6, p4))
    for name, p6, p4 in pairs + pairs[::-1]:
        add(name, "6to4", p6, packets(p4), mapping(C4, S4))

    # A fragmented echo: the first fragment needs the whole message's length.
    echo4 = icmp4(8, 0, b"\x00\x05\x00\x01", payload[:1500])
    echo6 = l4(v6(S6, C6) / icmp6(128, 0, b"\x00\x05\x00\x01", payload[:1500]), 40)
    p4 = v4(S4, C4, ident=9, flags="MF", proto=1) / Raw(echo4[:1200])
    p6 = v6(S6, C6, hlim=63) / IPv6ExtHdrFragment(nh=58, m=1, id=9) / Raw(echo6[:1200])
    add("first fragment of an echo", "4to6", p4, packets(p6), mapping(S6, C6),
        icmp_message_len=len(echo4), siit=False)
    add("first fragment of an echo, length unknown", "4to6", p4, error("icmp_length_unknown"),
        mapping(S6, C6))
    p4 = v4(S4, C4, ident=9, frag=1200 // 8, proto=1) / Raw(echo4[1200:])
    p6 = v6(S6, C6, hlim=63) / IPv6ExtHdrFragment(nh=58, offset=150, id=9) / Raw(echo6[1200:])
    add("last fragment of an echo", "4to6", p4, packets(p6), mapping(S6, C6))

    # A fragment header followed by another extension header (5.1.1).
    p6 = v6(C6, S6) / IPv6ExtHdrFragment(nh=60, m=1, id=3) / IPv6ExtHdrDestOpt() / Raw(b"x" * 8)
    add("extension after the fragment header", "6to4", p6,
        error("extension_after_fragment", ["v6", 1, 1, 0]), mapping(C4, S4))


# ---------------------------------------------------------------- sizes, DF, MTU


def sizes():
    def udp_of(n):
        return UDP(sport=1, dport=2) / (b"s" * n)

    # 4.1: DF clear and larger than lowest-ipv6-mtu → fragment header and split.
    for mtu in (1280, 1400):
        p4 = v4(S4, C4, ident=0x5151) / udp_of(1392)
        u6 = l4(v6(S6, C6) / udp_of(1392), 40)
        chunk = (mtu - 48) // 8 * 8
        outs = []
        for at in range(0, len(u6), chunk):
            last = at + chunk >= len(u6)
            outs.append(v6(S6, C6, hlim=63) / IPv6ExtHdrFragment(
                nh=17, offset=at // 8, m=int(not last), id=0x5151) / Raw(u6[at:at + chunk]))
        add(f"split at lowest_ipv6_mtu {mtu}", "4to6", p4, packets(*outs), mapping(S6, C6),
            config={"lowest_ipv6_mtu": mtu})
    # DF set: sent whole when it fits the IPv6 link, else fragmentation needed
    # with the IPv4 size that would fit (1500 - 20).
    p4 = v4(S4, C4, flags="DF") / udp_of(1392)
    add("df fits the ipv6 link", "4to6", p4, packets(v6(S6, C6, hlim=63) / udp_of(1392)),
        mapping(S6, C6))
    p4 = v4(S4, C4, flags="DF") / udp_of(1453)
    add("df too big for the ipv6 link", "4to6", p4,
        error("fragmentation_needed", ["v4", 3, 4, 1480]), mapping(S6, C6))

    # 5.1: DF only above 1260 bytes; above the IPv4 link: split (DF clear, the
    # caller's identification) or packet too big (never below 1280, section 6).
    for n, flags in ((1232, 0), (1233, "DF")):
        p6 = v6(C6, S6) / udp_of(n)
        add(f"translated size {n + 28}", "6to4", p6,
            packets(v4(C4, S4, ttl=63, flags=flags) / udp_of(n)), mapping(C4, S4))
    p6 = v6(C6, S6) / udp_of(1000)
    u4 = raw(v4(C4, S4, ttl=63, ident=0x7777) / udp_of(1000))
    head, data = u4[:20], u4[20:]
    outs = []
    for at in range(0, len(data), 552):
        last = at + 552 >= len(data)
        outs.append(v4(C4, S4, ttl=63, ident=0x7777, flags=0 if last else "MF", frag=at // 8,
                       proto=17) / Raw(data[at:at + 552]))
    add("split at the ipv4 link", "6to4", p6, packets(*outs), mapping(C4, S4),
        config={"ipv4_mtu": 576}, ipv4_ident=0x7777)
    p6 = v6(C6, S6) / udp_of(1400)
    add("packet too big", "6to4", p6, error("packet_too_big", ["v6", 2, 0, 1420]),
        mapping(C4, S4), config={"ipv4_mtu": 1400})
    add("packet too big reports 1280", "6to4", p6, error("packet_too_big", ["v6", 2, 0, 1280]),
        mapping(C4, S4), config={"ipv4_mtu": 576})
    # Routing header with segments left (5.1): parameter problem at its byte.
    p6 = v6(C6, S6) / IPv6ExtHdrRouting(addresses=[S6], segleft=1) / udp_of(8)
    add("segments left", "6to4", p6, error("segments_left", ["v6", 4, 0, 43]), mapping(C4, S4))
    # An unexpired loose source route (4.1).
    from scapy.all import IPOption_LSRR
    p4 = v4(S4, C4, options=[IPOption_LSRR(routers=["10.0.0.1"])]) / udp_of(8)
    add("unexpired source route", "4to6", p4, error("source_route", ["v4", 3, 5, 0]),
        mapping(S6, C6))


# ---------------------------------------------------------------- ICMP tables


def quote_pair_4to6():
    """The packet C6 sent to S6, as IPv4 (C4 → S4) and as IPv6."""
    inner4 = raw(v4(C4, S4, ttl=63, flags="DF") / UDP(sport=40000, dport=53) / DATA)
    inner6 = raw(v6(C6, S6, hlim=63) / UDP(sport=40000, dport=53) / DATA)
    return inner4, inner6


def quote_pair_6to4():
    """The packet S4 sent to C4, as IPv6 (S6 → C6) and as IPv4."""
    inner6 = raw(v6(S6, C6, hlim=63) / UDP(sport=53, dport=40000) / DATA)
    inner4 = raw(v4(S4, C4, ttl=63) / UDP(sport=53, dport=40000) / DATA)
    return inner6, inner4


def dropped(want, family):
    """A silent drop: no counterpart for the type or code, or for the pointer."""
    return error("untranslatable_pointer" if want == "pointer" else f"untranslatable_icmp{family}")


def translated_body(quote, extension, unit, rest, length_at, limit):
    """RFC 4884 on the translated side: the quote zero-padded to `unit` bytes and to
    128, the extension after it, the length attribute at byte `length_at` of `rest`;
    then everything cut to `limit`."""
    body = quote
    if extension is not None:
        padded = max(128, -(-len(quote) // unit) * unit)
        body = quote + bytes(padded - len(quote)) + extension
        rest = rest[:length_at] + bytes([padded // unit]) + rest[length_at + 1:]
    return body[:limit], rest


def error_case_4to6(name, t, code, rest, quote4, quote6, config=None, quote_map=None,
                    extension=None, length=None):
    """An ICMPv4 error R4 → C4 quoting `quote4`, and its translation quoting `quote6`."""
    config = config or {}
    body4 = quote4 + (extension or b"")
    if length is not None:
        rest = rest[:1] + bytes([length]) + rest[2:]
    p4 = v4(R4, C4, proto=1) / Raw(icmp4(t, code, rest, body4))
    quote_total = int.from_bytes(quote4[2:4], "big")
    want = error_4to6(t, code, rest, quote_total, config.get("ipv6_mtu", 1500),
                      config.get("ipv4_mtu", 1500))
    quote_map = quote_map or mapping(C6, S6)
    if want is None or want == "pointer":
        expect = dropped(want, "v4")
    else:
        t6, code6, rest6 = want
        body6, rest6 = translated_body(quote6, extension if t6 in (1, 3) else None, 8, rest6, 0,
                                       1280 - 48)
        expect = packets(v6(R6, C6, hlim=63) / icmp6(t6, code6, rest6, body6))
    add(name, "4to6", p4, expect, mapping(R6, C6), quote=quote_map, config=config)


def error_case_6to4(name, t, code, rest, quote6, quote4, config=None, quote_map=None,
                    extension=None, length=None, quote_fragmented=False):
    """An ICMPv6 error R6 → S6 quoting `quote6`, and its translation quoting `quote4`."""
    config = config or {}
    if length is not None:
        rest = bytes([length]) + rest[1:]
    p6 = v6(R6, S6) / icmp6(t, code, rest, quote6 + (extension or b""))
    want = error_6to4(t, code, rest, quote_fragmented, config.get("ipv6_mtu", 1500),
                      config.get("ipv4_mtu", 1500))
    quote_map = quote_map or mapping(S4, C4)
    if want is None or want == "pointer":
        expect = dropped(want, "v6")
    else:
        t4, code4, rest4 = want
        keeps = t4 == 11 or (t4 == 3 and code4 != 2)
        body4, rest4 = translated_body(quote4, extension if keeps else None, 4, rest4, 1,
                                       576 - 28)
        expect = packets(v4(R4, S4, ttl=63, proto=1) / Raw(icmp4(t4, code4, rest4, body4)))
    add(name, "6to4", p6, expect, mapping(R4, S4), quote=quote_map, config=config)


def icmp_tables():
    q4, q6 = quote_pair_4to6()
    for t in list(range(0, 20)) + [30, 40, 253]:
        if t in (0, 8):
            continue  # echo: a query, translated above
        codes = range(17) if t in (3, 11) else [0]
        for code in codes:
            rest = bytes([0, 0, 0x05, 0x78]) if (t, code) == (3, 4) else bytes(4)
            error_case_4to6(f"icmpv4 type {t} code {code}", t, code, rest, q4, q6)
    for code in range(4):
        for ptr in range(22):
            error_case_4to6(f"icmpv4 parameter problem code {code} pointer {ptr}", 12, code,
                            bytes([ptr, 0, 0, 0]), q4, q6)
    # Fragmentation needed: MTUs, and MTU 0 (pre-RFC 1191) with plateaus.
    for adv in (0, 68, 576, 1280, 1400, 1480, 1500, 9000):
        for config in ({}, {"ipv6_mtu": 9000, "ipv4_mtu": 9000}, {"ipv4_mtu": 1400}):
            error_case_4to6(f"fragmentation needed mtu {adv} {config}", 3, 4,
                            bytes(2) + adv.to_bytes(2, "big"), q4, q6, config=config)
    big4 = raw(v4(C4, S4, ttl=63, flags="DF") / UDP(sport=1, dport=2) / (b"b" * 3000))
    big6 = raw(v6(C6, S6, hlim=63) / UDP(sport=1, dport=2) / (b"b" * 3000))
    error_case_4to6("fragmentation needed mtu 0 quoting 3028 bytes", 3, 4, bytes(4),
                    big4[:28], big6[:48], config={"ipv6_mtu": 9000, "ipv4_mtu": 9000})

    q6, q4 = quote_pair_6to4()
    for t in list(range(0, 6)) + [127] + list(range(128, 138)) + [143, 200]:
        if t in (128, 129):
            continue
        codes = range(8) if t in (1, 3) else [0]
        for code in codes:
            rest = (1400).to_bytes(4, "big") if t == 2 else bytes(4)
            error_case_6to4(f"icmpv6 type {t} code {code}", t, code, rest, q6, q4)
    for code in range(4):
        for ptr in list(range(42)) + [0x100, 0x1000000]:
            error_case_6to4(f"icmpv6 parameter problem code {code} pointer {ptr}", 4, code,
                            ptr.to_bytes(4, "big"), q6, q4)
    for adv in (1280, 1300, 1500, 9000, 65535):
        for config in ({}, {"ipv6_mtu": 9000, "ipv4_mtu": 9000}, {"ipv4_mtu": 1400}):
            error_case_6to4(f"packet too big mtu {adv} {config}", 2, 0, adv.to_bytes(4, "big"),
                            q6, q4, config=config)


# ---------------------------------------------------------------- quotes


def quotes():
    # TCP quoted with 8 bytes of header (the classic ICMPv4 quote).
    tcp4 = raw(v4(C4, S4, ttl=63, flags="DF") / TCP(sport=40000, dport=443, flags="PA") / DATA)
    tcp6 = raw(v6(C6, S6, hlim=63) / TCP(sport=40000, dport=443, flags="PA") / DATA)
    error_case_4to6("quote tcp 28 bytes", 3, 3, bytes(4), tcp4[:28], tcp6[:48])
    error_case_4to6("quote tcp 36 bytes", 11, 0, bytes(4), tcp4[:36], tcp6[:56])
    error_case_4to6("quote tcp whole", 11, 0, bytes(4), tcp4, tcp6)
    # Stateful NAT64: the quote's port was NATed (40000 ↔ 1024).
    tcp4n = raw(v4(C4, S4, ttl=63, flags="DF") / TCP(sport=1024, dport=443, flags="PA") / DATA)
    error_case_4to6("quote with napt", 3, 3, bytes(4), tcp4n, tcp6,
                    quote_map=mapping(C6, S6, src_port=40000))
    # An echo request quoted: type and checksum translated, identifier restored.
    e4 = raw(v4(C4, S4, ttl=1, flags="DF") / ICMP(type=8, id=0x0900, seq=3) / DATA)
    e6 = raw(v6(C6, S6, hlim=1) / ICMPv6EchoRequest(id=0x0077, seq=3) / DATA)
    error_case_4to6("quote echo", 11, 0, bytes(4), e4, e6,
                    quote_map=mapping(C6, S6, icmp_id=0x0077))
    error_case_4to6("quote echo 28 bytes", 11, 0, bytes(4), e4[:28], e6[:48],
                    quote_map=mapping(C6, S6, icmp_id=0x0077))
    # A quoted first fragment gets a Fragment Header; options are dropped.
    from scapy.all import IPOption_RR
    payload = bytes(range(200))
    u4 = l4(v4(C4, S4) / UDP(sport=40000, dport=53) / payload, 20)
    u6 = l4(v6(C6, S6) / UDP(sport=40000, dport=53) / payload, 40)
    f4 = raw(v4(C4, S4, ttl=9, ident=0x4444, flags="MF", proto=17) / Raw(u4[:96]))
    f6 = raw(v6(C6, S6, hlim=9) / IPv6ExtHdrFragment(nh=17, m=1, id=0x4444) / Raw(u6[:96]))
    error_case_4to6("quote fragment", 3, 3, bytes(4), f4, f6)
    o4 = raw(v4(C4, S4, ttl=63, options=[IPOption_RR(routers=["0.0.0.0"])]) /
             UDP(sport=40000, dport=53) / DATA)
    o6 = raw(v6(C6, S6, hlim=63) / UDP(sport=40000, dport=53) / DATA)
    error_case_4to6("quote with options", 3, 3, bytes(4), o4, o6)
    # Cut to 1280 bytes.
    big4 = raw(v4(C4, S4, ttl=63) / UDP(sport=1, dport=2) / (b"q" * 1400))
    big6 = raw(v6(C6, S6, hlim=63) / UDP(sport=1, dport=2) / (b"q" * 1400))
    error_case_4to6("quote cut at 1280", 3, 3, bytes(4), big4, big6)
    # RFC 4884: a 128-byte original datagram and an extension (an MPLS label
    # stack object, RFC 4950), its checksum by scapy.
    ext_body = bytes([0x20, 0, 0, 0, 0, 8, 1, 1, 0, 1, 0x41, 0x40])
    ext = ext_body[:2] + checksum(ext_body).to_bytes(2, "big") + ext_body[4:]
    q4, q6 = quote_pair_4to6()
    padded4 = q4 + bytes(128 - len(q4))
    # The padding is part of the quote: it stays, then the IPv6 datagram is padded.
    error_case_4to6("extension time exceeded", 11, 0, bytes(4), padded4, q6 + bytes(52),
                    extension=ext, length=32)
    error_case_4to6("extension port unreachable", 3, 3, bytes(4), padded4, q6 + bytes(52),
                    extension=ext, length=32)
    error_case_4to6("extension dropped by packet too big", 3, 4, bytes([0, 32, 5, 0x78]),
                    padded4, q6 + bytes(52), extension=ext)
    error_case_4to6("no extension: length below 128", 11, 0, bytes(4), q4, q6, length=19)

    # 6 → 4.
    tcp6 = raw(v6(S6, C6, hlim=63) / TCP(sport=443, dport=40000, flags="PA") / DATA)
    tcp4 = raw(v4(S4, C4, ttl=63) / TCP(sport=443, dport=40000, flags="PA") / DATA)
    error_case_6to4("quote tcp 48 bytes", 1, 4, bytes(4), tcp6[:48], tcp4[:28])
    error_case_6to4("quote tcp whole", 3, 0, bytes(4), tcp6, tcp4)
    e6 = raw(v6(S6, C6, hlim=1) / ICMPv6EchoRequest(id=0x0077, seq=3) / DATA)
    e4 = raw(v4(S4, C4, ttl=1) / ICMP(type=8, id=0x0900, seq=3) / DATA)
    error_case_6to4("quote echo", 3, 0, bytes(4), e6, e4,
                    quote_map=mapping(S4, C4, icmp_id=0x0900))
    payload = bytes(range(200))
    u6 = l4(v6(S6, C6) / UDP(sport=53, dport=40000) / payload, 40)
    u4 = l4(v4(S4, C4) / UDP(sport=53, dport=40000) / payload, 20)
    f6 = raw(v6(S6, C6, hlim=9) / IPv6ExtHdrFragment(nh=17, m=1, id=0x01024444) / Raw(u6[:96]))
    f4 = raw(v4(S4, C4, ttl=9, ident=0x4444, flags="MF", proto=17) / Raw(u4[:96]))
    error_case_6to4("quote fragment", 1, 4, bytes(4), f6, f4)
    error_case_6to4("packet too big quoting a fragment", 2, 0, (1400).to_bytes(4, "big"), f6, f4,
                    quote_fragmented=True)
    h6 = raw(v6(S6, C6, hlim=63) / IPv6ExtHdrHopByHop() / UDP(sport=53, dport=40000) / DATA)
    h4 = raw(v4(S4, C4, ttl=63) / UDP(sport=53, dport=40000) / DATA)
    error_case_6to4("quote with hop-by-hop", 1, 4, bytes(4), h6, h4)
    big6 = raw(v6(S6, C6, hlim=63) / UDP(sport=1, dport=2) / (b"q" * 1000))
    big4 = raw(v4(S4, C4, ttl=63) / UDP(sport=1, dport=2) / (b"q" * 1000))
    error_case_6to4("quote cut at 576", 1, 4, bytes(4), big6, big4)
    # The 576-byte error on a 200-byte IPv4 link: in fragments of 176 bytes of
    # data, with the caller's identification.
    body = icmp4(3, 3, bytes(4), big4[:576 - 28])
    pieces = [v4(R4, S4, ttl=63, ident=0x6666, flags=0 if at + 176 >= len(body) else "MF",
                 frag=at // 8, proto=1) / Raw(body[at:at + 176])
              for at in range(0, len(body), 176)]
    add("error split at the ipv4 link", "6to4", v6(R6, S6) / icmp6(1, 4, bytes(4), big6),
        packets(*pieces), mapping(R4, S4), quote=mapping(S4, C4), config={"ipv4_mtu": 200},
        ipv4_ident=0x6666)
    q6, q4 = quote_pair_6to4()
    padded6 = q6 + bytes(128 - len(q6))
    error_case_6to4("extension time exceeded", 3, 0, bytes(4), padded6, q4 + bytes(52),
                    extension=ext, length=16)
    error_case_6to4("extension unreachable", 1, 0, bytes(4), padded6, q4 + bytes(52),
                    extension=ext, length=16)

    # Refusals.
    q4, q6 = quote_pair_4to6()
    good = icmp4(3, 3, bytes(4), q4)
    bad = good[:-1] + bytes([good[-1] ^ 1])
    add("icmpv4 error with a bad checksum", "4to6", v4(R4, C4, proto=1) / Raw(bad),
        error("bad_icmp_checksum"), mapping(R6, C6), quote=mapping(C6, S6))
    add("icmpv4 error without a quote mapping", "4to6", v4(R4, C4, proto=1) / Raw(good),
        error("missing_quote_mapping"), mapping(R6, C6), siit=False)
    nested = raw(v4(C4, S4, proto=1) / Raw(icmp4(3, 1, bytes(4), q4[:28])))
    add("icmpv4 error quoting an error", "4to6",
        v4(R4, C4, proto=1) / Raw(icmp4(11, 0, bytes(4), nested)),
        error("untranslatable_quote"), mapping(R6, C6), quote=mapping(C6, S6))
    q6, q4 = quote_pair_6to4()
    p6 = v6(R6, S6) / icmp6(1, 4, bytes(4), q6)
    b = bytearray(raw(p6))
    b[-1] ^= 1
    add("icmpv6 error with a bad checksum", "6to4", bytes(b), error("bad_icmp_checksum"),
        mapping(R4, S4), quote=mapping(S4, C4))
    add("icmp error in a fragment", "4to6", v4(R4, C4, proto=1, flags="MF") / Raw(good),
        error("fragmented_icmp_error"), mapping(R6, C6), quote=mapping(C6, S6))


# ---------------------------------------------------------------- corners (issue 29)


def with_options(p4, opts):
    """`p4` (built without options) with the raw option bytes `opts` inserted:
    options scapy would not build (malformed ones), the header checksum by scapy."""
    b = raw(p4)
    assert len(opts) % 4 == 0
    out = bytearray(b[:20] + bytes(opts) + b[20:])
    out[0] = 0x40 | (5 + len(opts) // 4)
    out[2:4] = len(out).to_bytes(2, "big")
    out[10:12] = b"\x00\x00"
    out[10:12] = checksum(bytes(out[:20 + len(opts)])).to_bytes(2, "big")
    return bytes(out)


def corners():
    # Atomic fragments (RFC 6946; RFC 7915 5.1.1): whole packets, the IPv4
    # identification from the Fragment Header, DF clear.
    frag = dict(offset=0, m=0, id=0x0102ABCD)
    p6 = v6(C6, S6) / IPv6ExtHdrFragment(nh=58, **frag) / ICMPv6EchoRequest(id=0x4242, seq=7) / DATA
    p4 = v4(C4, S4, ttl=63, ident=0xABCD) / ICMP(type=8, id=0x4242, seq=7) / DATA
    add("atomic fragment echo request", "6to4", p6, packets(p4), mapping(C4, S4))
    for n in (48, 1300):
        p6 = v6(C6, S6) / IPv6ExtHdrFragment(nh=17, **frag) / UDP(sport=1, dport=53) / (b"a" * n)
        p4 = v4(C4, S4, ttl=63, ident=0xABCD) / UDP(sport=1, dport=53) / (b"a" * n)
        add(f"atomic fragment udp {n}", "6to4", p6, packets(p4), mapping(C4, S4))
    q6, q4 = quote_pair_6to4()
    p6 = v6(R6, S6) / IPv6ExtHdrFragment(nh=58, **frag) / icmp6(1, 4, bytes(4), q6)
    p4 = v4(R4, S4, ttl=63, ident=0xABCD, proto=1) / Raw(icmp4(3, 3, bytes(4), q4))
    add("atomic fragment icmpv6 error", "6to4", p6, packets(p4), mapping(R4, S4),
        quote=mapping(S4, C4))
    # Two Fragment Headers (M=1, then M=0): an extension header after the
    # first; dropped and answered like any other (5.1.1, 5.4).
    p6 = (v6(C6, S6) / IPv6ExtHdrFragment(nh=44, offset=0, m=1, id=5)
          / IPv6ExtHdrFragment(nh=17, offset=0, m=0, id=5) / UDP(sport=1, dport=53) / DATA)
    add("two fragment headers", "6to4", p6, error("extension_after_fragment", ["v6", 1, 1, 0]),
        mapping(C4, S4))

    # ICMPv4 errors from sources that are no legal unicast address are
    # translated for troubleshooting (4.1); other packets from them are not.
    q4, q6 = quote_pair_4to6()
    for bad in ("127.0.0.1", "0.0.0.0"):
        p4 = v4(bad, C4, proto=1) / Raw(icmp4(3, 3, bytes(4), q4))
        want = v6(m6(bad), C6, hlim=63) / icmp6(1, 4, bytes(4), q6)
        add(f"icmpv4 error from {bad}", "4to6", p4, packets(want), mapping(m6(bad), C6),
            quote=mapping(C6, S6))
        p4 = v4(bad, C4) / ICMP(type=8, id=1, seq=1) / DATA
        add(f"echo request from {bad}", "4to6", p4, error("illegal_source"), mapping(m6(bad), C6))

    # RFC 4884 section 5: with a length attribute the version is not looked at.
    for version in (0x10, 0x00):
        body = bytes([version, 0, 0, 0, 0, 8, 1, 1, 0, 1, 0x41, 0x40])
        ext = body[:2] + checksum(body).to_bytes(2, "big") + body[4:]
        padded4 = q4 + bytes(128 - len(q4))
        error_case_4to6(f"extension version {version >> 4} 4to6", 11, 0, bytes(4), padded4,
                        q6 + bytes(52), extension=ext, length=32)
        r6, r4 = quote_pair_6to4()
        error_case_6to4(f"extension version {version >> 4} 6to4", 3, 0, bytes(4),
                        r6 + bytes(128 - len(r6)), r4 + bytes(52), extension=ext, length=16)

    # IPv4 options (4.1): a malformed option must not hide a pending source
    # route, and an LSRR of length 2 has no pointer to read.
    udp4 = v4(S4, C4, flags="DF") / UDP(sport=53, dport=1) / DATA
    udp6 = v6(S6, C6, hlim=63) / UDP(sport=53, dport=1) / DATA
    lsrr = [131, 7, 4, 10, 0, 0, 1]
    for name, opts, want in [
        ("malformed option before a pending lsrr", [0x99, 1] + lsrr + [0, 0, 0],
         error("source_route", ["v4", 3, 5, 0])),
        ("zero-length option before a pending ssrr", [0x99, 0, 137] + lsrr[1:] + [0, 0, 0],
         error("source_route", ["v4", 3, 5, 0])),
        ("lsrr of length 2 before a pending one", [131, 2] + lsrr + [0, 0, 0],
         error("source_route", ["v4", 3, 5, 0])),
        ("lsrr of length 2 reads no pointer", [131, 2, 1, 1], packets(udp6)),
    ]:
        add(name, "4to6", with_options(udp4, opts), want, mapping(S6, C6))

    # Destinations no router forwards to, embedded under the prefix or given.
    for bad in ("127.0.0.1", "255.255.255.255", "224.0.0.1", "0.0.0.0"):
        p6 = v6(C6, m6(bad)) / UDP(sport=1, dport=53) / DATA
        add(f"6to4 to {m6(bad)}", "6to4", p6, error("not_routable"), mapping(C4, bad))
        p4 = v4(S4, bad) / UDP(sport=53, dport=1) / DATA
        add(f"4to6 to {bad}", "4to6", p4, error("not_routable"), mapping(S6, m6(bad)))


def main():
    corners()
    transport()
    udp_checksum_zero()
    fragments()
    sizes()
    icmp_tables()
    quotes()
    for c in CASES:
        print(json.dumps(c))
    print(f"{len(CASES)} cases", file=sys.stderr)


main()
