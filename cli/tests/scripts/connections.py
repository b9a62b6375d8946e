"""Connections through the lab's router, logged where they arrive.

serve ADDR PORT LOG: accept TCP connections forever, appending one line per
connection to LOG: the UNIX time it was accepted, the peer's address and port
(what the WAN saw: the NAT's public endpoint).
connect ADDR PORT N: open and close N connections one after the other.
"""
import socket
import sys
import time

if sys.argv[1] == "serve":
    server = socket.create_server((sys.argv[2], int(sys.argv[3])), backlog=512)
    with open(sys.argv[4], "a", buffering=1) as log:
        while True:
            conn, peer = server.accept()
            log.write(f"{time.time():.6f} {peer[0]} {peer[1]}\n")
            conn.close()
else:
    for _ in range(int(sys.argv[4])):
        with socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=5) as c:
            c.recv(1)
