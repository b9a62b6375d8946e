"""UDP through the lab's router from one inside endpoint to several remote ones.

serve ADDR LOG PORT...: receive on every PORT of ADDR forever, appending one
line per datagram to LOG: the UNIX time, the peer's address and port (the
NAT's public endpoint) and the local port it came to.
send ADDR GAP PORT...: from local port 5000, one datagram to each PORT of ADDR,
GAP seconds apart (one inside endpoint, several destinations: under
endpoint-independent mapping they share one public port).
"""
import select
import socket
import sys
import time

if sys.argv[1] == "serve":
    addr, log_path, ports = sys.argv[2], sys.argv[3], sys.argv[4:]
    socks = []
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, int(p)))
        socks.append(s)
    with open(log_path, "a", buffering=1) as log:
        while True:
            ready, _, _ = select.select(socks, [], [])
            for s in ready:
                _, peer = s.recvfrom(2048)
                log.write(f"{time.time():.6f} {peer[0]} {peer[1]} {s.getsockname()[1]}\n")
else:
    addr, gap, ports = sys.argv[2], float(sys.argv[3]), sys.argv[4:]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 5000))
    for i, p in enumerate(ports):
        if i:
            time.sleep(gap)
        s.sendto(b"hello", (addr, int(p)))
