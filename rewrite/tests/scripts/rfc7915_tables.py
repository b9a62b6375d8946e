"""RFC 7915's ICMP tables (sections 4.2 and 5.2, Figures 3 and 6) and MTU rules,
transcribed for translate_cases.py independently of the Rust ones."""

PLATEAUS = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68]

# RFC 7915 Figure 3 (IPv4 pointer → IPv6 pointer) and Figure 6 (the reverse).
POINTER_4TO6 = {0: 0, 1: 1, 2: 4, 3: 4, 8: 7, 9: 6, **{p: 8 for p in range(12, 16)},
                **{p: 24 for p in range(16, 20)}}
POINTER_6TO4 = {0: 0, 1: 1, 4: 2, 5: 2, 6: 9, 7: 8, **{p: 12 for p in range(8, 24)},
                **{p: 16 for p in range(24, 40)}}


def error_4to6(t, code, rest, quote_total, ipv6_mtu=1500, ipv4_mtu=1500):
    """RFC 7915 4.2: (type, code, rest bytes) of the ICMPv6 error, None to drop,
    'pointer' for a pointer with no counterpart."""
    if t == 3:
        if code in (0, 1, 5, 6, 7, 8, 11, 12):
            return 1, 0, bytes(4)
        if code == 2:
            return 4, 1, (6).to_bytes(4, "big")
        if code == 3:
            return 1, 4, bytes(4)
        if code == 4:
            adv = int.from_bytes(rest[2:4], "big")
            if adv == 0:
                adv = next((p for p in PLATEAUS if p < quote_total), 68)
            mtu = max(1280, min(adv + 20, ipv6_mtu, ipv4_mtu + 20))
            return 2, 0, mtu.to_bytes(4, "big")
        if code in (9, 10, 13, 15):
            return 1, 1, bytes(4)
        return None
    if t == 11:
        return 3, code, bytes(4)
    if t == 12 and code in (0, 2):
        ptr = POINTER_4TO6.get(rest[0])
        return "pointer" if ptr is None else (4, 0, ptr.to_bytes(4, "big"))
    return None


def error_6to4(t, code, rest, quote_fragmented=False, ipv6_mtu=1500, ipv4_mtu=1500):
    """RFC 7915 5.2, as error_4to6."""
    if t == 1:
        mapped = {0: 1, 1: 10, 2: 1, 3: 1, 4: 3}.get(code)
        return None if mapped is None else (3, mapped, bytes(4))
    if t == 2:
        adv = int.from_bytes(rest, "big")
        mtu = max(68, min(adv - 20 - (8 if quote_fragmented else 0), ipv4_mtu, ipv6_mtu - 20))
        return 3, 4, bytes(2) + mtu.to_bytes(2, "big")
    if t == 3:
        return 11, code, bytes(4)
    if t == 4 and code == 0:
        ptr = POINTER_6TO4.get(int.from_bytes(rest, "big"))
        return "pointer" if ptr is None else (12, 0, bytes([ptr, 0, 0, 0]))
    if t == 4 and code == 1:
        return 3, 2, bytes(4)
    return None
