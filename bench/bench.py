#!/usr/bin/env python3
"""moat benchmark (issue 5): moat against the hand-run recipe and the practical floor.

For each firewall backend (`firewall: iptables`, `firewall: nftables`) and each N
(networks: a bridge with a /24 each, DHCP and DNS from one dnsmasq each) it measures, in
fresh network namespaces, the median, min and max over several rounds of:

  moat apply (empty host), no-op plan, no-op apply, destroy --all;
  the snapshot commands alone (ip -j -d addr show; ip -j route show; iptables-save; and
  nft -j list ruleset inet and nft -j list chains where nft is installed);
  the hand-run recipe, one command at a time from a shell script (iptables only);
  the practical floor: one ip -batch, one iptables-restore (or one nft -f of the same
  rules), the dnsmasq starts (one after another, as a person types them), the issue's
  yardstick; and, for information, the same with the dnsmasq starts twice the cores at a
  time, as moat does (see Executor.swift);

then, untimed, the processes moat spawns per operation (PATH wrappers that log every
exec of ip, iptables*, dnsmasq ...; the plan is cross-checked with strace) and moat's
peak memory (/usr/bin/time's maximum resident set size).

Everything runs inside namespaces this script creates and deletes; it ends only the
dnsmasq processes it (or the moat it runs) started, by pid. The files of every contender
go to a tmpfs (/dev/shm) unless --dir says otherwise. Run as root:

    python3 bench/bench.py [--moat .build/release/moat] [--sizes 1,10,100,250,1000] [--rounds 9]
                           [--firewalls iptables,nftables] [--dir /dev/shm]
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESOLVER = "203.0.113.53"  # a documentation address: dnsmasq never forwards off the machine
# What moat's snapshot runs (Snapshot.commands): nft only where it is installed.
SNAPSHOT = [["ip", "-j", "-d", "addr", "show"], ["ip", "-j", "route", "show"], ["iptables-save"]] + \
    ([["nft", "-j", "list", "ruleset", "inet"], ["nft", "-j", "list", "chains"]] if shutil.which("nft") else [])
WRAPPED = ["ip", "iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save",
           "ip6tables-restore", "iptables-nft", "iptables-legacy", "dnsmasq", "sysctl", "modprobe",
           "bridge", "tc", "kill", "nft"]
SETTLE_LIMIT = 60  # seconds to wait for the kernel to finish tearing down namespaces
COMMAND_LIMIT = 900  # seconds any single command may take
FLOOR = "floor (ip -batch, one rule load, dnsmasq)"
FLOOR_CONCURRENT = "  the same, dnsmasq 2x cores at once"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args):
        self.args = args
        self.moat = os.path.abspath(args.moat)
        self.tmp = tempfile.mkdtemp(prefix="moat-bench-", dir=args.dir)
        # dnsmasq reads its hosts files as an unprivileged user; moat refuses a state dir
        # it cannot reach (mkdtemp makes 0700)
        os.chmod(self.tmp, 0o755)
        self.seq = 0
        self.namespaces = []  # alive, ours
        self.results = {}  # (firewall, n, op) -> [seconds]
        self.procs = {}  # (firewall, n, op) -> count
        self.rss = {}  # (firewall, n, op) -> [KiB]
        self.problems = []

    # ---- namespaces -----------------------------------------------------------------

    def new_namespace(self):
        self.seq += 1
        name = f"moatb-{os.getpid()}-{self.seq}"
        folder = os.path.join(self.tmp, name)
        os.makedirs(folder)
        must(["ip", "netns", "add", name])
        self.namespaces.append((name, folder))
        os.makedirs(f"/etc/netns/{name}", exist_ok=True)
        with open(f"/etc/netns/{name}/resolv.conf", "w") as f:
            f.write(f"nameserver {RESOLVER}\n")
        must(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"])
        return name, folder

    def drop_namespace(self, name, folder):
        """Stops our dnsmasqs, deletes the devices, then the namespace; waits until the
        kernel has finished, so the next timed command does not share the CPU with it."""
        self.kill_dnsmasqs(folder)
        links = run(["ip", "netns", "exec", name, "ip", "-j", "link", "show", "type", "bridge"])[2]
        try:
            names = [link["ifname"] for link in json.loads(links or "[]")]
        except ValueError:
            names = []
        if names:
            batch = "".join(f"link del {n}\n" for n in names)
            run(["ip", "netns", "exec", name, "ip", "-force", "-batch", "-"], stdin=batch)
        run(["ip", "netns", "del", name])
        shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)
        self.namespaces = [(n, f) for (n, f) in self.namespaces if n != name]
        shutil.rmtree(folder, ignore_errors=True)
        wait_settled()

    def kill_dnsmasqs(self, folder):
        """Ends the dnsmasq processes whose command line names our folder (by pid)."""
        pids = []
        for root, _, files in os.walk(folder):
            for f in files:
                if f.endswith(".pid"):
                    try:
                        pids.append(int(open(os.path.join(root, f)).read().strip()))
                    except (OSError, ValueError):
                        pass
        mine = []
        for pid in pids:
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if "dnsmasq" in cmdline and folder in cmdline:
                os.kill(pid, signal.SIGTERM)
                mine.append(pid)
        deadline = time.monotonic() + 10
        while mine and time.monotonic() < deadline:
            mine = [p for p in mine if os.path.exists(f"/proc/{p}")]
            time.sleep(0.05)

    def cleanup(self):
        for name, folder in list(self.namespaces):
            self.drop_namespace(name, folder)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- inputs ---------------------------------------------------------------------

    @staticmethod
    def subnet(k):
        return f"10.{50 + k // 250}.{k % 250}"

    def moat_file(self, fw, n, folder):
        lines = ["version: 1", f"firewall: {fw}", "networks:"]
        for k in range(n):
            lines += [f"  n{k}:", f"    bridge: mb{k}", f"    address: {self.subnet(k)}.1/24"]
        path = os.path.join(folder, "moat.yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def dnsmasq_argv(self, k, folder):
        # The same service moat's dnsmasq gives. No resolv.conf following: one dnsmasq
        # per network would need one inotify instance each, and the 129th fails
        # (fs.inotify.max_user_instances = 128), so the recipe names the resolver.
        s = self.subnet(k)
        return ["dnsmasq", "--conf-file=/dev/null", f"--interface=mb{k}", "--bind-dynamic",
                "--except-interface=lo", f"--pid-file={folder}/dnsmasq-{k}.pid",
                "--domain-needed", "--bogus-priv", "--no-hosts", "--no-resolv", f"--server={RESOLVER}",
                f"--dhcp-range={s}.2,{s}.254,255.255.255.0,1h", "--dhcp-lease-max=253",
                "--dhcp-authoritative", f"--dhcp-leasefile={folder}/leases-{k}",
                f"--dhcp-option=option:router,{s}.1"]

    @staticmethod
    def nat_rules(k):
        """The twelve rules of the classic (libvirt-style) NAT recipe, as iptables args."""
        s = Bench.subnet(k)
        br, net = f"mb{k}", f"{s}.0/24"
        return [
            ["-A", "INPUT", "-i", br, "-p", "udp", "--dport", "67", "-j", "ACCEPT"],
            ["-A", "INPUT", "-i", br, "-p", "udp", "--dport", "53", "-j", "ACCEPT"],
            ["-A", "INPUT", "-i", br, "-p", "tcp", "--dport", "53", "-j", "ACCEPT"],
            ["-A", "OUTPUT", "-o", br, "-p", "udp", "--dport", "68", "-j", "ACCEPT"],
            ["-A", "FORWARD", "-i", br, "-o", br, "-j", "ACCEPT"],
            ["-A", "FORWARD", "-s", net, "-i", br, "-j", "ACCEPT"],
            ["-A", "FORWARD", "-d", net, "-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
            ["-A", "FORWARD", "-i", br, "-j", "REJECT", "--reject-with", "icmp-port-unreachable"],
            ["-A", "FORWARD", "-o", br, "-j", "REJECT", "--reject-with", "icmp-port-unreachable"],
            ["-t", "nat", "-A", "POSTROUTING", "-s", net, "-d", "224.0.0.0/24", "-j", "RETURN"],
            ["-t", "nat", "-A", "POSTROUTING", "-s", net, "-d", "255.255.255.255/32", "-j", "RETURN"],
            ["-t", "nat", "-A", "POSTROUTING", "-s", net, "!", "-d", net, "-j", "MASQUERADE"],
        ]

    def recipe_script(self, n, folder):
        lines = ["set -e", "sysctl -q -w net.ipv4.ip_forward=1"]
        for k in range(n):
            lines += [f"ip link add mb{k} type bridge", f"ip addr add {self.subnet(k)}.1/24 dev mb{k}",
                      f"ip link set mb{k} up"]
            lines += ["iptables " + " ".join(r) for r in self.nat_rules(k)]
            lines.append(" ".join(self.dnsmasq_argv(k, folder)))
        path = os.path.join(folder, "recipe.sh")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    @staticmethod
    def nft_rules(k):
        """The same twelve rules as nftables rules, by chain of one `inet` table."""
        s = Bench.subnet(k)
        br, net = f'"mb{k}"', f"{s}.0/24"
        return {
            "input": [f"iifname {br} udp dport 67 accept", f"iifname {br} udp dport 53 accept",
                      f"iifname {br} tcp dport 53 accept"],
            "output": [f"oifname {br} udp dport 68 accept"],
            "forward": [f"iifname {br} oifname {br} accept", f"ip saddr {net} iifname {br} accept",
                        f"ip daddr {net} oifname {br} ct state related,established accept",
                        f"iifname {br} reject with icmp type port-unreachable",
                        f"oifname {br} reject with icmp type port-unreachable"],
            "postrouting": [f"ip saddr {net} ip daddr 224.0.0.0/24 return",
                            f"ip saddr {net} ip daddr 255.255.255.255 return",
                            f"ip saddr {net} ip daddr != {net} masquerade"],
        }

    def rules_file(self, fw, n, folder):
        """The recipe's rules for n networks, as one iptables-restore or one nft -f input;
        returns the command that loads it."""
        if fw == "nftables":
            chains = {"input": "filter hook input priority filter", "output": "filter hook output priority filter",
                      "forward": "filter hook forward priority filter", "postrouting": "nat hook postrouting priority srcnat"}
            rules = {chain: [] for chain in chains}
            for k in range(n):
                for chain, lines in self.nft_rules(k).items():
                    rules[chain] += lines
            path = os.path.join(folder, "rules.nft")
            with open(path, "w") as f:
                f.write("table inet recipe {\n")
                for chain, hook in chains.items():
                    f.write(f"  chain {chain} {{\n    type {hook}; policy accept;\n"
                            + "".join(f"    {r}\n" for r in rules[chain]) + "  }\n")
                f.write("}\n")
            return f"nft -f {path}"
        path = os.path.join(folder, "rules.restore")
        tables = {"filter": [], "nat": []}
        for k in range(n):
            for rule in self.nat_rules(k):
                table = "nat" if rule[:2] == ["-t", "nat"] else "filter"
                tables[table].append(" ".join(rule[2:] if table == "nat" else rule))
        with open(path, "w") as f:
            for table, rules in tables.items():
                f.write(f"*{table}\n" + "".join(r + "\n" for r in rules) + "COMMIT\n")
        return f"iptables-restore --noflush < {path}"

    def floor_script(self, fw, n, folder, concurrent=False):
        batch = os.path.join(folder, "links.batch")
        with open(batch, "w") as f:
            for k in range(n):
                f.write(f"link add mb{k} type bridge\naddr add {self.subnet(k)}.1/24 dev mb{k}\nlink set mb{k} up\n")
        lines = ["set -e", "echo 1 > /proc/sys/net/ipv4/ip_forward", f"ip -batch {batch}",
                 self.rules_file(fw, n, folder)]
        starts = [" ".join(self.dnsmasq_argv(k, folder)) for k in range(n)]
        if concurrent:
            # as many at once as moat starts (Executor.concurrentStarts)
            listing = os.path.join(folder, "dnsmasq.args")
            with open(listing, "w") as f:
                f.write("".join(line.removeprefix("dnsmasq ") + "\n" for line in starts))
            lines.append(f"xargs -P {2 * os.cpu_count()} -L 1 dnsmasq < {listing}")
        else:
            lines += starts
        path = os.path.join(folder, "floor.sh")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    # ---- measuring ------------------------------------------------------------------

    def moat_env(self, folder, path=None):
        env = dict(os.environ, MOAT_STATE_DIR=f"{folder}/state", MOAT_RUN_DIR=f"{folder}/run", NO_COLOR="1")
        if path:
            env["PATH"] = path
        return env

    def timed_moat(self, fw, ns, folder, n, op, argv, expect=(0,)):
        rss_file = os.path.join(folder, "rss")
        cmd = ["ip", "netns", "exec", ns, "/usr/bin/time", "-f", "%M", "-o", rss_file, self.moat] + argv
        elapsed, rc, out, err = run(cmd, env=self.moat_env(folder))
        if rc not in expect:
            self.problems.append(f"{fw} N={n} moat {' '.join(argv[:1])}: exit {rc}: {err.strip()[-600:]}")
        self.record(fw, n, op, elapsed)
        try:
            self.rss.setdefault((fw, n, op), []).append(int(open(rss_file).read().split()[-1]))
        except (OSError, ValueError, IndexError):
            pass
        return rc, out, err

    def record(self, fw, n, op, seconds):
        self.results.setdefault((fw, n, op), []).append(seconds)

    def round_moat(self, fw, n):
        ns, folder = self.new_namespace()
        path = self.moat_file(fw, n, folder)
        self.timed_moat(fw, ns, folder, n, "moat apply", ["apply", path])
        snap = "; ".join(" ".join(c) + " >/dev/null" for c in SNAPSHOT)
        elapsed, rc, _, err = run(["ip", "netns", "exec", ns, "sh", "-c", snap])
        self.record(fw, n, "snapshot commands", elapsed)
        rc, out, _ = self.timed_moat(fw, ns, folder, n, "moat plan (no-op)", ["plan", "--detailed-exitcode", path])
        if rc == 2:
            self.problems.append(f"{fw} N={n}: plan after apply is not empty:\n{out[-800:]}")
        rc, out, _ = self.timed_moat(fw, ns, folder, n, "moat apply (no-op)", ["apply", path])
        if "No changes" not in out:
            self.problems.append(f"{fw} N={n}: second apply did something:\n{out[-800:]}")
        self.timed_moat(fw, ns, folder, n, "moat destroy", ["destroy", "--all"])
        self.drop_namespace(ns, folder)

    def round_script(self, fw, n, op, make):
        ns, folder = self.new_namespace()
        script = make(n, folder)
        elapsed, rc, _, err = run(["ip", "netns", "exec", ns, "sh", script])
        if rc != 0:
            self.problems.append(f"{fw} N={n} {op}: exit {rc}: {err.strip()[-600:]}")
        self.record(fw, n, op, elapsed)
        self.drop_namespace(ns, folder)

    def count_processes(self, fw, n):
        """Untimed: what each moat operation spawns, logged by wrappers on PATH."""
        ns, folder = self.new_namespace()
        wrappers = os.path.join(folder, "bin")
        os.makedirs(wrappers)
        execlog = os.path.join(folder, "exec.log")
        for name in WRAPPED:
            real = shutil.which(name)
            if not real:
                continue
            with open(os.path.join(wrappers, name), "w") as f:
                f.write(f"#!/bin/sh\nprintf '%s\\n' \"{name} $*\" >> {execlog}\nexec {real} \"$@\"\n")
            os.chmod(os.path.join(wrappers, name), 0o755)
        env = self.moat_env(folder, path=wrappers + ":" + os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))
        path = self.moat_file(fw, n, folder)
        for op, argv in [("moat apply", ["apply", path]), ("moat plan (no-op)", ["plan", path]),
                         ("moat apply (no-op)", ["apply", path]), ("moat destroy", ["destroy", "--all"])]:
            open(execlog, "w").close()
            # `ip netns exec` by its full path, so the wrapper logs only what moat runs
            _, rc, _, err = run([shutil.which("ip"), "netns", "exec", ns, self.moat] + argv, env=env)
            if rc != 0:
                self.problems.append(f"{fw} N={n} counting {op}: exit {rc}: {err.strip()[-400:]}")
            self.procs[(fw, n, op)] = sum(1 for _ in open(execlog))
            if op == "moat apply":
                # the plan's count, by strace too (every execve, whatever its name)
                trace = os.path.join(folder, "strace")
                run(["ip", "netns", "exec", ns, "strace", "-f", "-qq", "-e", "trace=execve", "-o", trace,
                     self.moat, "plan", path], env=self.moat_env(folder))
                try:
                    lines = [l for l in open(trace) if "execve(" in l and "= 0" in l]
                    self.procs[(fw, n, "plan execve (strace)")] = len(lines) - 1  # minus moat itself
                except OSError:
                    pass
        self.procs[(fw, n, "snapshot commands")] = len(SNAPSHOT)
        self.drop_namespace(ns, folder)

    def rounds(self, n):
        return self.args.rounds if n <= 100 else self.args.large_rounds if n <= 250 else self.args.huge_rounds

    def run(self):
        wait_settled()
        for n in self.args.sizes:
            # the backends alternate round by round, so a slow spell of this VM hits both
            for fw in self.args.firewalls:
                log(f"== {fw} N={n}: counting processes")
                self.count_processes(fw, n)
            for r in range(self.rounds(n)):
                for fw in self.args.firewalls:
                    step = f"== {fw} N={n} round {r + 1}/{self.rounds(n)}"
                    log(f"{step}: moat")
                    self.round_moat(fw, n)
                    log(f"{step}: floor")
                    self.round_script(fw, n, FLOOR, lambda n, folder: self.floor_script(fw, n, folder))
                    log(f"{step}: floor, dnsmasq started concurrently")
                    self.round_script(fw, n, FLOOR_CONCURRENT,
                                      lambda n, folder: self.floor_script(fw, n, folder, concurrent=True))
                    if fw == "iptables" and n <= self.args.recipe_max:
                        log(f"{step}: hand-run recipe")
                        self.round_script(fw, n, "hand-run recipe", self.recipe_script)

    # ---- report ---------------------------------------------------------------------

    def report(self):
        ops = ["moat apply", "moat plan (no-op)", "moat apply (no-op)", "moat destroy", "snapshot commands",
               FLOOR, FLOOR_CONCURRENT, "hand-run recipe"]
        out = []
        header = (f"{'firewall':<10}{'N':>5}  {'operation':<46}{'median s':>10}{'min s':>9}{'max s':>9}"
                  f"{'rounds':>7}{'procs':>7}{'max RSS MiB':>12}")
        out.append(header)
        out.append("-" * len(header))
        for fw in self.args.firewalls:
            for n in self.args.sizes:
                for op in ops:
                    xs = self.results.get((fw, n, op))
                    if not xs:
                        continue
                    procs = self.procs.get((fw, n, op))
                    rss = self.rss.get((fw, n, op))
                    out.append(f"{fw:<10}{n:>5}  {op:<46}{statistics.median(xs):>10.3f}{min(xs):>9.3f}{max(xs):>9.3f}"
                               f"{len(xs):>7}{procs if procs is not None else '':>7}"
                               f"{(f'{max(rss) / 1024:.1f}' if rss else ''):>12}")
                out.append("")
        checks = []
        for fw in self.args.firewalls:
            med = lambda n, op: statistics.median(self.results[(fw, n, op)]) if self.results.get((fw, n, op)) else None
            n = 100
            a, f, r = med(n, "moat apply"), med(n, FLOOR), med(n, "hand-run recipe")
            p, s = med(n, "moat plan (no-op)"), med(n, "snapshot commands")
            checks.append((fw, "apply(100) <= 1.2x floor", f"{a / f:.2f}x" if a and f else "n/a",
                           bool(a and f and a <= 1.2 * f)))
            if fw == "iptables":
                checks.append((fw, "apply(100) >= 5x faster than the recipe", f"{r / a:.1f}x" if a and r else "n/a",
                               bool(a and r and r >= 5 * a)))
            checks.append((fw, "no-op plan(100) <= 3x snapshot commands", f"{p / s:.2f}x" if p and s else "n/a",
                           bool(p and s and p <= 3 * s)))
            lo, hi = min(self.args.sizes), max(self.args.sizes)
            pl, ph = self.procs.get((fw, lo, "moat plan (no-op)")), self.procs.get((fw, hi, "moat plan (no-op)"))
            checks.append((fw, f"plan spawns the same for N={lo} and N={hi}", f"{pl} vs {ph}",
                           pl is not None and pl == ph))
            noop = {m: self.procs.get((fw, m, "moat apply (no-op)")) for m in self.args.sizes}
            checks.append((fw, "no-op apply spawns only the snapshot's " + str(len(SNAPSHOT)),
                           ", ".join(f"N={m}: {c}" for m, c in noop.items()),
                           all(c is not None and c <= len(SNAPSHOT) for c in noop.values())))
        out.append("targets (issues 5 and 16):")
        for fw, name, value, ok in checks:
            out.append(f"  {'PASS' if ok else 'FAIL'}  {fw:<10}{name:<46} {value}")
        for fw in self.args.firewalls:
            a, fc = (statistics.median(self.results[(fw, 100, op)]) if self.results.get((fw, 100, op)) else None
                     for op in ("moat apply", FLOOR_CONCURRENT))
            if a and fc:
                out.append(f"  info  {fw:<10}apply(100) / floor with concurrent dnsmasq     {a / fc:.2f}x")
        out.append("  (moat loads more rules per network than the recipe, and reads the host again to verify)")
        if self.problems:
            out.append("")
            out.append("problems:")
            out += ["  " + p.replace("\n", "\n    ") for p in self.problems]
        return "\n".join(out) + "\n", checks


def run(argv, env=None, stdin=None):
    # Files, not pipes: a daemon started by the command (dnsmasq) may keep them open.
    # A blocking wait, with a timer that kills on overrun: subprocess's own timeout polls
    # with sleeps of up to 50 ms, which rounded every measurement up by as much.
    with tempfile.TemporaryFile() as in_file, tempfile.TemporaryFile() as out_file, \
            tempfile.TemporaryFile() as err_file:
        if stdin is not None:
            in_file.write(stdin.encode())
            in_file.seek(0)
        start = time.perf_counter()
        p = subprocess.Popen(argv, env=env, stdin=in_file if stdin is not None else subprocess.DEVNULL,
                             stdout=out_file, stderr=err_file)
        timer = threading.Timer(COMMAND_LIMIT, p.kill)
        timer.start()
        rc = p.wait()
        elapsed = time.perf_counter() - start
        timed_out = not timer.is_alive()
        timer.cancel()
        if timed_out:
            rc = 124
        out_file.seek(0)
        err_file.seek(0)
        out = out_file.read().decode(errors="replace")
        err = err_file.read().decode(errors="replace") + (f"\ntimed out after {COMMAND_LIMIT}s" if timed_out else "")
    return elapsed, rc, out, err


def must(argv):
    _, rc, out, err = run(argv)
    if rc != 0:
        raise SystemExit(f"bench: `{' '.join(argv)}` exited {rc}: {err}")
    return out


def wait_settled():
    """Waits until no kernel worker runs the netns cleanup workqueue (its comm then reads
    'kworker/...+netns'), then a little more for RCU callbacks."""
    deadline = time.monotonic() + SETTLE_LIMIT
    quiet = 0
    while time.monotonic() < deadline and quiet < 3:
        busy = False
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                comm = open(f"/proc/{pid}/comm").read()
            except OSError:
                continue
            if comm.startswith("kworker") and "+netns" in comm:
                busy = True
                break
        quiet = 0 if busy else quiet + 1
        time.sleep(0.1)
    time.sleep(0.3)


def filesystem(path):
    """The type of the filesystem `path` is on, from /proc/mounts (the longest mount point)."""
    best, kind = "", "?"
    path = os.path.realpath(path)
    for line in open("/proc/mounts"):
        _, point, fstype = line.split()[:3]
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
            best, kind = point, fstype
    return kind


def default_dir():
    return "/dev/shm" if os.path.isdir("/dev/shm") and filesystem("/dev/shm") == "tmpfs" else tempfile.gettempdir()


def machine():
    model = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    iptables = run(["iptables", "--version"])[2].strip()
    dnsmasq = run(["dnsmasq", "--version"])[2].splitlines()[0] if shutil.which("dnsmasq") else ""
    nft = run(["nft", "--version"])[2].strip() if shutil.which("nft") else "no nft"
    return f"{os.cpu_count()} CPUs ({model}), kernel {os.uname().release}, {iptables}, {nft}, {dnsmasq}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moat", default=os.environ.get("MOAT_BIN", os.path.join(ROOT, ".build/release/moat")))
    ap.add_argument("--sizes", default="1,10,100,250,1000", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--firewalls", default="iptables,nftables", type=lambda s: s.split(","),
                    help="the backends to measure, each in its own rounds (`firewall:` in the file)")
    ap.add_argument("--rounds", type=int, default=9, help="rounds for N <= 100 (this machine is a VM whose speed jumps between rounds: the median of 9 is steadier)")
    ap.add_argument("--large-rounds", type=int, default=3, help="rounds for N > 100")
    ap.add_argument("--huge-rounds", type=int, default=1, help="rounds for N > 250")
    ap.add_argument("--recipe-max", type=int, default=250, help="largest N the hand-run recipe runs for")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--dir", default=default_dir(),
                    help="where the state and run dirs (and the recipe's pid and lease files) go; default "
                         "/dev/shm, a tmpfs, as /run is on a real host (see README, Performance)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (it creates network namespaces)")
    needed = ["ip", "iptables", "iptables-restore", "iptables-save", "dnsmasq", "strace", "/usr/bin/time"]
    for tool in needed + (["nft"] if "nftables" in args.firewalls else []):
        if not shutil.which(tool):
            raise SystemExit(f"bench: {tool} is missing (apt-get install iproute2 iptables nftables dnsmasq-base strace time)")
    unknown = set(args.firewalls) - {"iptables", "nftables"}
    if unknown:
        raise SystemExit(f"bench: --firewalls takes iptables and nftables, not {', '.join(sorted(unknown))}")
    if not os.access(args.moat, os.X_OK):
        raise SystemExit(f"bench: no moat binary at {args.moat} (swift build -c release, or --moat PATH)")
    bench = Bench(args)
    started = time.strftime("%Y%m%d-%H%M%S")
    try:
        bench.run()
    finally:
        bench.cleanup()
    text, checks = bench.report()
    text = (f"moat benchmark {started}\nmachine: {machine()}\nmoat: {args.moat}\n"
            f"files: {args.dir} ({filesystem(args.dir)})\n\n") + text
    print(text, end="")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"bench-{started}.txt"), "w") as f:
        f.write(text)
    data = {"started": started, "machine": machine(), "files": f"{args.dir} ({filesystem(args.dir)})", "sizes": args.sizes,
            "firewalls": args.firewalls,
            "seconds": {f"{fw}|{n}|{op}": xs for (fw, n, op), xs in bench.results.items()},
            "processes": {f"{fw}|{n}|{op}": c for (fw, n, op), c in bench.procs.items()},
            "max_rss_kib": {f"{fw}|{n}|{op}": xs for (fw, n, op), xs in bench.rss.items()},
            "targets": [{"firewall": fw, "target": name, "value": v, "pass": ok} for fw, name, v, ok in checks],
            "problems": bench.problems}
    with open(os.path.join(args.out, f"bench-{started}.json"), "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
    shutil.copyfile(os.path.join(args.out, f"bench-{started}.txt"), os.path.join(args.out, "latest.txt"))
    sys.exit(0 if all(ok for *_, ok in checks) and not bench.problems else 1)


if __name__ == "__main__":
    main()
