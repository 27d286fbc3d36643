"""Test traffic for moat's end-to-end tests, run inside the tests' namespaces.

serve NAME PORT...        accept TCP on every port; answer each connection with
                          "NAME PEER-ADDRESS" so the caller knows whom it reached and
                          as whom it arrived (masquerade). Prints "ready" once bound.
                          Binds NET_BIND (default 0.0.0.0); the process calls itself
                          NAME (/proc/PID/comm), as the service it stands for would.
connect HOST PORT [SECS]  one TCP connection with a timeout; prints the answer and
                          exits 0, or exits 1 saying why it failed (refused, timed out).
echo-serve PORT...        accept TCP on every port and echo every line back, on
                          connections that stay open. Prints "ready" once bound.
echo-client HOST PORT SECS
                          one long-lived TCP connection to an echo server: prints
                          "connected LOCAL-ADDRESS:PORT", then on each SIGUSR1 sends the
                          next number N and prints "echo N ok" when it came back within
                          SECS, or "echo N lost: WHY". Exits after 300 s at the latest.
udp-listen ADDR PORT [HOST HOSTPORT]
                          bind a UDP socket (SO_REUSEADDR) to ADDR:PORT, optionally send
                          one datagram "open" to HOST:HOSTPORT from it (a flow conntrack
                          tracks), print "ready", then "got FROM-ADDR FROM-PORT PAYLOAD"
                          for every datagram. Exits after 300 s at the latest.
udp-send [--from ADDR:PORT] HOST PORT PAYLOAD
                          send one UDP datagram.
"""
import ctypes
import os
import selectors
import signal
import socket
import sys
import time

# The longest a helper lives: a test that forgets one (or dies) leaves nothing running.
LIFETIME = 300

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


def echo_serve(ports):
    selector = selectors.DefaultSelector()
    for port in ports:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", port))
        listener.listen(64)
        selector.register(listener, selectors.EVENT_READ, "listener")
    print("ready", flush=True)
    deadline = time.monotonic() + LIFETIME
    while time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            if key.data == "listener":
                try:
                    connection, _ = key.fileobj.accept()
                except OSError:
                    continue
                connection.setblocking(False)
                selector.register(connection, selectors.EVENT_READ, "connection")
                continue
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:
                selector.unregister(key.fileobj)
                key.fileobj.close()
                continue
            try:
                key.fileobj.sendall(data)
            except OSError:
                pass


def echo_client(host, port, seconds):
    # SIGUSR1 stays pending until sigwait takes it: a request is never lost or doubled.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    try:
        connection = socket.create_connection((host, port), timeout=seconds)
    except OSError as error:
        print(f"failed {error!r}", flush=True)
        return 1
    local = connection.getsockname()
    print(f"connected {local[0]}:{local[1]}", flush=True)
    pending = b""
    number = 0
    deadline = time.monotonic() + LIFETIME
    while time.monotonic() < deadline:
        if signal.sigtimedwait({signal.SIGUSR1}, 1) is None:
            continue
        number += 1
        try:
            connection.settimeout(seconds)
            connection.sendall(f"{number}\n".encode())
            give_up = time.monotonic() + seconds
            while True:
                lines = pending.split(b"\n")
                pending = lines.pop()
                # Echoes of earlier, late numbers are skipped: only this one counts.
                if f"{number}".encode() in lines:
                    print(f"echo {number} ok", flush=True)
                    break
                left = give_up - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no echo")
                connection.settimeout(left)
                data = connection.recv(4096)
                if not data:
                    raise ConnectionError("closed by the peer")
                pending += data
        except (OSError, ConnectionError) as error:
            print(f"echo {number} lost: {error!r}", flush=True)
    return 0


def udp_listen(address, port, host, host_port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    if host is not None:
        sock.sendto(b"open", (host, host_port))
    print("ready", flush=True)
    deadline = time.monotonic() + LIFETIME
    while time.monotonic() < deadline:
        sock.settimeout(1)
        try:
            data, peer = sock.recvfrom(2048)
        except socket.timeout:
            continue
        text = data.decode(errors="replace").strip() or "-"
        print(f"got {peer[0]} {peer[1]} {text}", flush=True)
    return 0


def udp_send(source, host, port, payload):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if source is not None:
        address, _, source_port = source.rpartition(":")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, int(source_port)))
    sock.sendto(payload.encode(), (host, port))
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "serve":
        serve(argv[1], [int(p) for p in argv[2:]])
        return 0
    if len(argv) in (3, 4) and argv[0] == "connect":
        return connect(argv[1], int(argv[2]), float(argv[3]) if len(argv) == 4 else 1.5)
    if len(argv) >= 2 and argv[0] == "echo-serve":
        echo_serve([int(p) for p in argv[1:]])
        return 0
    if len(argv) == 4 and argv[0] == "echo-client":
        return echo_client(argv[1], int(argv[2]), float(argv[3]))
    if len(argv) in (3, 5) and argv[0] == "udp-listen":
        host, host_port = (argv[3], int(argv[4])) if len(argv) == 5 else (None, None)
        return udp_listen(argv[1], int(argv[2]), host, host_port)
    if len(argv) == 6 and argv[0] == "udp-send" and argv[1] == "--from":
        return udp_send(argv[2], argv[3], int(argv[4]), argv[5])
    if len(argv) == 4 and argv[0] == "udp-send":
        return udp_send(None, argv[1], int(argv[2]), argv[3])
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
