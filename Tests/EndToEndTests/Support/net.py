"""Test traffic for moat's end-to-end tests, run inside the tests' namespaces.

serve NAME PORT...        accept TCP on every port; answer each connection with
                          "NAME PEER-ADDRESS" so the caller knows whom it reached and
                          as whom it arrived (masquerade). Prints "ready" once bound.
                          Binds NET_BIND (default 0.0.0.0); the process calls itself
                          NAME (/proc/PID/comm), as the service it stands for would.
connect HOST PORT [SECS]  one TCP connection with a timeout; prints the answer and
                          exits 0, or exits 1 saying why it failed (refused, timed out).
"""
import ctypes
import os
import selectors
import socket
import sys

PR_SET_NAME = 15


def serve(name, ports):
    try:
        ctypes.CDLL(None).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass
    address = os.environ.get("NET_BIND", "0.0.0.0")
    selector = selectors.DefaultSelector()
    for port in ports:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(64)
        selector.register(listener, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            try:
                connection, peer = key.fileobj.accept()
            except OSError:
                continue
            try:
                connection.sendall(f"{name} {peer[0]}\n".encode())
            except OSError:
                pass
            connection.close()


def connect(host, port, seconds):
    try:
        with socket.create_connection((host, port), timeout=seconds) as connection:
            connection.settimeout(seconds)
            answer = connection.recv(200).decode().strip()
    except OSError as error:
        print(f"{host}:{port} unreachable: {error!r}", file=sys.stderr)
        return 1
    print(answer)
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "serve":
        serve(argv[1], [int(p) for p in argv[2:]])
        return 0
    if len(argv) in (3, 4) and argv[0] == "connect":
        return connect(argv[1], int(argv[2]), float(argv[3]) if len(argv) == 4 else 1.5)
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
