"""QEMU's guestfwd runs this for each connection the guest opens to
169.254.169.254:80, with that connection as stdin and stdout:
``metadata_relay.py PORT`` joins it to the test's metadata server on
127.0.0.1:PORT. Standard library only: it starts once per request."""

import os
import select
import socket
import sys


def relay(port):
    upstream = socket.create_connection(("127.0.0.1", port))
    # Where the bytes read from each end go: the guest's (fd 0) to the server,
    # the server's to the guest (fd 1).
    open_ends = {0: upstream.fileno(), upstream.fileno(): 1}
    while open_ends:
        for source in select.select(list(open_ends), [], [])[0]:
            chunk = os.read(source, 65536)
            if not chunk:
                if open_ends.pop(source) == 1:
                    return  # the server is done: closing ends the guest's connection
                upstream.shutdown(socket.SHUT_WR)  # the guest sent its request
            elif source == 0:
                upstream.sendall(chunk)
            else:
                while chunk:
                    chunk = chunk[os.write(1, chunk):]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} PORT")
    relay(int(sys.argv[1]))
