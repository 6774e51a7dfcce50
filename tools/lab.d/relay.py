"""ssh ProxyCommand for the lab: relays stdin/stdout to HOST:PORT.

tools/lab runs it inside the lab's mgmt network namespace
(`ip netns exec mgmt python3 -S relay.py %h %p`), so ssh and Ansible in the
root namespace reach the lab hosts without the root namespace getting a route
into the lab. Standard library only, because it runs under -S.
"""

import os
import selectors
import socket
import sys

CHUNK = 65536


def relay(host, port):
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.settimeout(None)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ, "client")
    selector.register(sock, selectors.EVENT_READ, "server")
    while True:
        for key, _ in selector.select():
            if key.data == "client":
                data = os.read(0, CHUNK)
                if data:
                    sock.sendall(data)
                else:
                    # ssh closed its side: pass the EOF on, keep reading replies.
                    selector.unregister(0)
                    sock.shutdown(socket.SHUT_WR)
            else:
                data = sock.recv(CHUNK)
                if not data:
                    return
                view = memoryview(data)
                while view:
                    view = view[os.write(1, view):]


if __name__ == "__main__":
    try:
        relay(sys.argv[1], sys.argv[2])
    except OSError as error:
        sys.exit(f"lab relay: {sys.argv[1]}:{sys.argv[2]}: {error}")
