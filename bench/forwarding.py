#!/usr/bin/env python3
"""moat forwarding benchmark (issue 16): does a packet cost more on the last network?

For each backend it applies N networks (bridges without DHCP or DNS, so no dnsmasq) in a
namespace, puts a guest on the first and one on the last network, and measures the rate
at which each forwards small UDP packets to an "internet" namespace through moat's NAT
(iperf3 -u -l 64 -b 0), in alternating rounds. The ratio last/first says whether the
per-packet cost grows with the number of networks: iptables walks MOAT-FORWARD and raw
MOAT-PREROUTING rule by rule, nftables does one verdict-map lookup.

Everything runs inside namespaces this script creates and deletes; it ends only the
iperf3 servers it started, by pid. Addresses: guests 10.100.0.0/16 and up, the internet
203.0.113.0/24 (documentation). Run as root:

    python3 bench/forwarding.py [--moat .build/release/moat] [--networks 1000] [--rounds 3] [--seconds 3]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def must(argv, stdin=None, env=None):
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def subnet(k):
    return f"10.{100 + k // 256}.{k % 256}"


def moat_file(n, backend):
    lines = ["version: 1", f"firewall: {backend}", "networks:"]
    for k in range(n):
        lines += [f"  n{k}:", f"    bridge: mb{k}", f"    address: {subnet(k)}.1/24", "    dhcp: false", "    dns: false"]
    return "\n".join(lines) + "\n"


class World:
    """A host namespace running moat, an internet namespace, and two guests."""

    def __init__(self, tag):
        self.host = f"moat-fw-{tag}-{os.getpid()}"
        self.net = self.host + "-net"
        self.guests = [self.host + "-g1", self.host + "-gn"]
        self.made = []
        self.pids = []
        self.folder = tempfile.mkdtemp(prefix="moat-fw-")
        os.chmod(self.folder, 0o755)  # moat checks that dnsmasq (unprivileged) could enter it

    def ns(self, name):
        must(["ip", "netns", "add", name])
        self.made.append(name)
        must(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"])

    def x(self, name, *argv):
        return must(["ip", "netns", "exec", name, *argv])

    def build(self):
        for name in [self.host, self.net] + self.guests:
            self.ns(name)
        self.x(self.host, "ip", "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", self.net)
        self.x(self.host, "ip", "addr", "add", "203.0.113.1/24", "dev", "up0")
        self.x(self.host, "ip", "link", "set", "up0", "up")
        self.x(self.net, "ip", "addr", "add", "203.0.113.10/24", "dev", "eth0")
        self.x(self.net, "ip", "link", "set", "eth0", "up")

    def attach(self, guest, k):
        end = f"gv{k}"
        self.x(self.host, "ip", "link", "add", end, "type", "veth", "peer", "name", "eth0", "netns", guest)
        self.x(self.host, "ip", "link", "set", end, "master", f"mb{k}", "up")
        self.x(guest, "ip", "addr", "add", f"{subnet(k)}.2/24", "dev", "eth0")
        self.x(guest, "ip", "link", "set", "eth0", "up")
        self.x(guest, "ip", "route", "add", "default", "via", f"{subnet(k)}.1")

    def close(self):
        for pid in self.pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def rate(world, guest, seconds, port):
    """Packets per second the internet received from `guest`."""
    out = world.x(guest, "iperf3", "-c", "203.0.113.10", "-p", str(port), "-u", "-l", "64", "-b", "0", "-t", str(seconds), "-J")
    end = json.loads(out)["end"]["sum"]
    return (end["packets"] - end["lost_packets"]) / end["seconds"]


def measure(args, backend):
    world = World(backend[:3])
    try:
        world.build()
        env = dict(os.environ, MOAT_STATE_DIR=world.folder + "/state", MOAT_RUN_DIR=world.folder + "/run", NO_COLOR="1")
        path = os.path.join(world.folder, "moat.yaml")
        with open(path, "w") as f:
            f.write(moat_file(args.networks, backend))
        must(["ip", "netns", "exec", world.host, args.moat, "apply", path], env=env)
        world.attach(world.guests[0], 0)
        world.attach(world.guests[1], args.networks - 1)
        port = 5201
        server = subprocess.Popen(["ip", "netns", "exec", world.net, "iperf3", "-s", "-p", str(port)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        world.pids.append(server.pid)
        for _ in range(50):  # bounded: until the server answers
            if subprocess.run(["ip", "netns", "exec", world.guests[0], "iperf3", "-c", "203.0.113.10", "-p", str(port), "-u", "-t", "1",
                               "-b", "1M"], capture_output=True).returncode == 0:
                break
        first, last = [], []
        for _ in range(args.rounds):
            first.append(rate(world, world.guests[0], args.seconds, port))
            last.append(rate(world, world.guests[1], args.seconds, port))
        return statistics.median(first), statistics.median(last)
    finally:
        world.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moat", default=os.environ.get("MOAT_BIN", os.path.join(ROOT, ".build/release/moat")))
    ap.add_argument("--networks", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--backends", default="iptables,nftables")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: it makes network namespaces")
    if shutil.which("iperf3") is None:
        raise SystemExit("iperf3 is not installed (apt install iperf3)")
    print(f"64-byte UDP forwarded to the internet through moat's NAT, {args.networks} networks, median of {args.rounds} rounds of {args.seconds} s")
    print("| backend | guest on network 1 (pps) | guest on network N (pps) | N / 1 |")
    print("|---|---:|---:|---:|")
    for backend in args.backends.split(","):
        first, last = measure(args, backend)
        print(f"| {backend} | {first:,.0f} | {last:,.0f} | {last / first:.2f}x |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
