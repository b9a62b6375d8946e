"""What the internet sees of a subscriber of the scale-out lab.

udp SRC PORT SERVER...: from one UDP socket bound to SRC:PORT, ask the
reflector on each SERVER (port 3478) which endpoint it sees; print one
"ADDR:PORT" line per server (endpoint-independent mapping: all equal).
tcp SRC SERVER PORT LIMIT: open new TCP connections from SRC (any port) to
SERVER:PORT, each given 250 ms, until one connects or LIMIT seconds pass; the
server writes the source it saw. Print "SECONDS SEEN" (seconds since the
start) and exit 0, or exit 1.
"""
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


if sys.argv[1] == "udp":
    src, port = sys.argv[2], int(sys.argv[3])
    s = socket.socket(family(src), socket.SOCK_DGRAM)
    s.bind((src, port))
    s.settimeout(0.5)
    for server in sys.argv[4:]:
        for _ in range(3):
            s.sendto(b"who am i", (server, 3478))
            try:
                data, peer = s.recvfrom(100)
            except socket.timeout:
                continue
            if peer[0] == server:
                print(data.decode())
                break
        else:
            print("none")
else:
    src, server, port, limit = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    start = time.monotonic()
    while time.monotonic() - start < limit:
        c = socket.socket(family(src), socket.SOCK_STREAM)
        c.bind((src, 0))
        c.settimeout(0.25)
        try:
            c.connect((server, port))
            c.settimeout(1)
            seen = c.recv(100).decode()
            print(f"{time.monotonic() - start:.3f} {seen}")
            sys.exit(0)
        except OSError:
            time.sleep(0.01)
        finally:
            c.close()
    sys.exit(1)
