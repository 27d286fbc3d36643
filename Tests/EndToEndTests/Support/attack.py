"""A hostile guest's packets, and what arrives, for moat's end-to-end tests.

Run inside the tests' namespaces only (`ip netns exec NS`); every command is bounded.

capture IFACE             print "ready", then one line for every frame IFACE receives
                          (not the ones it sends), until SIGTERM or 300 s:
                            ip SRC DST PROTO SPORT DPORT FLAGS PAYLOAD
                            arp OP SENDER-IP TARGET-IP
                          PROTO is tcp/udp/icmp/NUMBER, FLAGS the TCP flags (S, SA, SF, ...)
                          or "-", PAYLOAD the first printable bytes or "-". No scapy:
                          it must be listening before the test sends.
send IFACE MAC SPEC...    craft IPv4 packets (scapy) and put them on IFACE as frames to
                          MAC (the gateway's), in order. SPEC is
                            PROTO,SRC,SPORT,DST,DPORT,PAYLOAD[,flags=SF][,bad-checksum]
                          with PROTO tcp or udp (tcp: flags default S).
arp IFACE TARGET...       ask who-has TARGET from IFACE's own address (3 tries, 1 s
                          each); print "TARGET answered MAC" or "TARGET unanswered".
dhcp-renew MAC IP SERVER  a renewal as a bound client sends it: DHCPREQUEST with ciaddr
                          IP, unicast from IP:68 to SERVER:67; print "ack YIADDR",
                          "nak" or "no answer" (3 tries, 1 s each).
axfr SERVER ZONE          a zone transfer request over TCP to SERVER:53; print
                          "rcode N answers M" for the first reply and "rr NAME TYPE RDATA"
                          for each of its answers, "closed" when the server closed
                          without one, or "timeout" after 5 s.
"""
import select
import signal
import socket
import struct
import sys
import time

LIFETIME = 300
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
TCP_FLAGS = "FSRPAUEC"


def printable(data):
    text = "".join(chr(b) for b in data[:80] if 0x21 <= b < 0x7F)
    return text or "-"


def describe(frame):
    if len(frame) < 14:
        return None
    ethertype = struct.unpack("!H", frame[12:14])[0]
    body = frame[14:]
    if ethertype == 0x8100 and len(frame) >= 18:
        ethertype = struct.unpack("!H", frame[16:18])[0]
        body = frame[18:]
    if ethertype == 0x0806 and len(body) >= 28:
        op = struct.unpack("!H", body[6:8])[0]
        return f"arp {op} {socket.inet_ntoa(body[14:18])} {socket.inet_ntoa(body[24:28])}"
    if ethertype != 0x0800 or len(body) < 20:
        return None
    header = (body[0] & 0x0F) * 4
    total = struct.unpack("!H", body[2:4])[0]
    proto = body[9]
    src, dst = socket.inet_ntoa(body[12:16]), socket.inet_ntoa(body[16:20])
    l4 = body[header:total]
    name, sport, dport, flags, payload = str(proto), "-", "-", "-", b""
    if proto == 6 and len(l4) >= 20:
        name = "tcp"
        sport, dport = struct.unpack("!HH", l4[0:4])
        bits = l4[13]
        flags = "".join(TCP_FLAGS[i] for i in range(8) if bits & (1 << i)) or "-"
        payload = l4[(l4[12] >> 4) * 4:]
    elif proto == 17 and len(l4) >= 8:
        name = "udp"
        sport, dport = struct.unpack("!HH", l4[0:4])
        payload = l4[8:]
    elif proto == 1 and len(l4) >= 2:
        # Type and code; an error quotes the packet it is about, which is not an arrival.
        name, sport, dport = "icmp", l4[0], l4[1]
    return f"ip {src} {dst} {name} {sport} {dport} {flags} {printable(payload)}"


def capture(iface):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, 0))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    print("ready", flush=True)
    deadline = time.monotonic() + LIFETIME
    while not stop and time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], 0.5)
        if not ready:
            continue
        frame, address = sock.recvfrom(65535)
        if address[2] == PACKET_OUTGOING:
            continue
        line = describe(frame)
        if line:
            print(line, flush=True)
    return 0


def send(iface, mac, specs):
    from scapy.all import IP, TCP, UDP, Ether, Raw, get_if_hwaddr, sendp

    frames = []
    for spec in specs:
        fields = spec.split(",")
        proto, src, sport, dst, dport, payload = fields[:6]
        options = fields[6:]
        if proto == "tcp":
            flags = next((o[len("flags="):] for o in options if o.startswith("flags=")), "S")
            packet = IP(src=src, dst=dst) / TCP(sport=int(sport), dport=int(dport), flags=flags, seq=1000) / Raw(payload.encode())
        elif proto == "udp":
            packet = IP(src=src, dst=dst) / UDP(sport=int(sport), dport=int(dport)) / Raw(payload.encode())
        else:
            raise SystemExit(f"unknown protocol {proto}")
        if "bad-checksum" in options:
            layer = TCP if proto == "tcp" else UDP
            good = IP(bytes(packet))[layer].chksum
            packet[layer].chksum = (good + 1) & 0xFFFF or 1
        frames.append(Ether(src=get_if_hwaddr(iface), dst=mac) / packet)
    for frame in frames:
        sendp(frame, iface=iface, verbose=False)
    print(f"sent {len(frames)}", flush=True)
    return 0


def arp(iface, targets):
    from scapy.all import ARP, Ether, get_if_addr, get_if_hwaddr, srp1

    mine, mac = get_if_addr(iface), get_if_hwaddr(iface)
    for target in targets:
        request = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc=mine, pdst=target)
        answer = None
        for _ in range(3):
            answer = srp1(request, iface=iface, timeout=1, verbose=False)
            if answer is not None and answer.haslayer(ARP) and answer[ARP].op == 2:
                break
            answer = None
        if answer is None:
            print(f"{target} unanswered", flush=True)
        else:
            print(f"{target} answered {answer[ARP].hwsrc}", flush=True)
    return 0


def dhcp_renew(mac, address, server):
    from scapy.all import BOOTP, DHCP

    chaddr = bytes.fromhex(mac.replace(":", "")) + b"\0" * 10
    request = BOOTP(op=1, xid=0x6D6F6174, ciaddr=address, chaddr=chaddr) / DHCP(options=[("message-type", "request"), "end"])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, 68))
    for _ in range(3):
        sock.sendto(bytes(request), (server, 67))
        sock.settimeout(1)
        try:
            data, _ = sock.recvfrom(2048)
        except socket.timeout:
            continue
        reply = BOOTP(data)
        kinds = [value for key, value, *_ in (o for o in reply[DHCP].options if isinstance(o, tuple)) if key == "message-type"]
        if 5 in kinds:
            print(f"ack {reply.yiaddr}", flush=True)
            return 0
        if 6 in kinds:
            print("nak", flush=True)
            return 0
    print("no answer", flush=True)
    return 0


def axfr(server, zone):
    from scapy.all import DNS, DNSQR

    query = bytes(DNS(id=0x6D6F, rd=0, qd=DNSQR(qname=zone, qtype=252)))
    try:
        connection = socket.create_connection((server, 53), timeout=5)
        connection.sendall(struct.pack("!H", len(query)) + query)
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            connection.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = connection.recv(65535)
            if not chunk:
                break
            data += chunk
            if len(data) >= 2 and len(data) >= 2 + struct.unpack("!H", data[:2])[0]:
                break
    except socket.timeout:
        print("timeout", flush=True)
        return 0
    except OSError as error:
        print(f"closed {error!r}", flush=True)
        return 0
    if len(data) < 2 + 12:
        print("closed", flush=True)
        return 0
    reply = DNS(data[2:])
    print(f"rcode {reply.rcode} answers {reply.ancount}", flush=True)
    for index in range(reply.ancount):
        record = reply.an[index]
        data = getattr(record, "rdata", None)
        if data is None:
            data = getattr(record, "mname", b"-")
        text = data.decode() if isinstance(data, bytes) else str(data)
        print(f"rr {record.rrname.decode()} {record.type} {text}", flush=True)
    return 0


def main(argv):
    if len(argv) == 2 and argv[0] == "capture":
        return capture(argv[1])
    if len(argv) >= 4 and argv[0] == "send":
        return send(argv[1], argv[2], argv[3:])
    if len(argv) >= 3 and argv[0] == "arp":
        return arp(argv[1], argv[2:])
    if len(argv) == 4 and argv[0] == "dhcp-renew":
        return dhcp_renew(argv[1], argv[2], argv[3])
    if len(argv) == 3 and argv[0] == "axfr":
        return axfr(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
