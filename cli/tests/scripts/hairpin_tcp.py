"""TCP through the NAT's hairpin, for the end-to-end test.

serve ADDR PORT WAN_ADDR WAN_PORT: listen on ADDR:PORT and, from the same port,
  connect out to WAN_ADDR:WAN_PORT (so the NAT maps ADDR:PORT); print "mapped";
  then accept one connection, read until EOF and print the byte count and the
  SHA-256 of what came.
send ADDR PORT BYTES: connect to ADDR:PORT (the server's public endpoint), send
  BYTES pseudo-random bytes, and print their SHA-256.
"""
import hashlib
import random
import socket
import sys


def reusable():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return s


def serve(addr, port, wan_addr, wan_port):
    listener = reusable()
    listener.bind((addr, port))
    listener.listen(1)
    out = reusable()
    out.bind((addr, port))
    out.connect((wan_addr, wan_port))
    print("mapped", flush=True)
    listener.settimeout(30)
    conn, _ = listener.accept()
    h, n = hashlib.sha256(), 0
    while True:
        chunk = conn.recv(1 << 16)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    print(n, h.hexdigest(), flush=True)


def send(addr, port, count):
    rng = random.Random(7)
    data = rng.randbytes(count)
    s = socket.create_connection((addr, port), timeout=30)
    s.sendall(data)
    s.close()
    print(count, hashlib.sha256(data).hexdigest(), flush=True)


if sys.argv[1] == "serve":
    serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
else:
    send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
