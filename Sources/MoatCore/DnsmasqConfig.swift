import MoatConfig

/// The files of one network's dnsmasq: its config, its static leases and its host names. Pure.
///
/// The config is meant for `dnsmasq --conf-file=<Paths.dnsmasqConfig>` (which keeps
/// `/etc/dnsmasq.conf` out). Choices, where the spec is silent:
/// - DNS forwards to the host's resolvers in `nat` mode, so guests resolve the internet;
///   `domain-needed` and `bogus-priv` keep plain names and private reverse lookups from
///   leaking upstream. In `isolated` mode guests reach nothing beyond the network, so DNS
///   answers only the network's own names: it cannot serve as a tunnel out either.
/// - Always `no-resolv`, with the host's resolvers (`upstream`, read from
///   `/etc/resolv.conf` when moat plans) written out as `server=` lines, `nat` only. A
///   dnsmasq that follows resolv.conf holds an inotify instance for its whole life, and the
///   kernel allows 128 per user (`fs.inotify.max_user_instances`): the 129th network's
///   dnsmasq would die at start ("failed to create inotify"). Named servers need none, so
///   any number of networks works without touching a system-wide setting. When the host's
///   resolvers change, `plan` shows the dnsmasq config as stale and `apply` restarts it.
/// - Rebinding protection in `nat` mode: an answer from the host's resolvers that carries a
///   private address (`stop-dns-rebind`: RFC 1918, link-local, loopback, and the
///   documentation ranges) is refused, and one in a `block` range outside those
///   (100.64.0.0/10, the file's own CIDRs) becomes NXDOMAIN (`bogus-nxdomain`), so a guest
///   cannot map the LAN by asking the forwarder for `nas.lan`. `dns: {private-domains:
///   [...]}` lets the private answers of those domains through (`rebind-domain-ok`), for a
///   LAN server an `allow` hole reaches; it cannot lift `bogus-nxdomain`.
/// - `dns: false` → `port=0`; dnsmasq then offers no DNS server in DHCP (it offers itself
///   only when it serves DNS), so guests get none.
/// - `no-hosts`: the host's `/etc/hosts` is the host's business, not the guests'.
/// - DHCP files (`dhcp-hostsfile`, `dhcp-leasefile`) only with DHCP; `addn-hosts` only
///   with DNS. The instance carries both texts always (empty when unused).
/// - `dhcp-lease-max`: the range's size plus the static hosts outside it (they hold leases
///   too); static-only: the number of static hosts; at least 1.
/// - `nat`: the router option names the host address explicitly (dnsmasq's default, said
///   out loud); `isolated`: an empty router option, so guests get no default gateway.
public enum DnsmasqConfig {
    /// nil when the network has neither DHCP nor DNS. `upstream`: the host's resolvers, where
    /// a `nat` network's DNS forwards what it does not know.
    /// `block`: the file's block list, whose ranges DNS answers must not reveal.
    public static func instance(
        for network: Network, paths: Paths, upstream: [String] = [], block: [IPv4CIDR] = Config.privateRanges
    ) -> DnsmasqInstance? {
        guard network.dhcp != nil || network.dns else { return nil }
        return DnsmasqInstance(
            config: config(for: network, paths: paths, upstream: upstream, block: block), dhcpHosts: dhcpHosts(for: network),
            hosts: hosts(for: network))
    }

    /// The resolvers of a `resolv.conf` text (its `nameserver` lines), in order, as dnsmasq's
    /// `server=` takes them; anything that is not an address is left out.
    public static func upstream(resolvConf text: String) -> [String] {
        let allowed = Set("0123456789abcdefABCDEF.:")
        return text.split(separator: "\n").compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver" else { return nil }
            let address = words[1]
            // An IPv6 link-local resolver carries its device: `fe80::1%eth0`.
            let scope = address.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
            guard
                scope.count == 1
                    || (!scope[1].isEmpty && scope[1].allSatisfy({ $0.isLetter || $0.isNumber || "_.-".contains($0) })),
                scope[0].allSatisfy(allowed.contains), scope[0].contains(where: { $0 == "." || $0 == ":" })
            else { return nil }
            return String(address)
        }
    }

    static func config(for n: Network, paths: Paths, upstream: [String] = [], block: [IPv4CIDR] = Config.privateRanges) -> String {
        var lines = [
            "# moat: network \(n.name) (generated; edits are overwritten)",
            "interface=\(n.device.name)",
            "bind-dynamic",
            "except-interface=lo",
            "pid-file=\(paths.dnsmasqPidFile(n.name))",
        ]
        if n.dns {
            lines += [
                "domain-needed",
                "bogus-priv",
                "no-hosts",
                "addn-hosts=\(paths.hostsFile(n.name))",
                "no-resolv",
            ]
            if n.mode == .nat {
                lines += upstream.map { "server=\($0)" }
                lines.append("stop-dns-rebind")
                if !n.privateDomains.isEmpty {
                    lines.append("rebind-domain-ok=/" + n.privateDomains.map { $0 + "/" }.joined())
                }
                lines += block.filter { range in !rebindChecked.contains { $0.covers(range) } }.map { "bogus-nxdomain=\($0)" }
            }
        } else {
            lines.append("port=0")
        }
        if let dhcp = n.dhcp {
            let subnet = n.subnet
            let range: String
            if let r = dhcp.range {
                range = "\(r.first),\(r.last)"
            } else {
                range = "\(subnet.network),static"
            }
            lines += [
                "dhcp-range=\(range),\(subnet.netmask),\(dhcp.leaseTime)",
                "dhcp-lease-max=\(leaseMax(dhcp))",
                "dhcp-authoritative",
                "dhcp-hostsfile=\(paths.dhcpHostsFile(n.name))",
                "dhcp-leasefile=\(paths.leaseFile(n.name))",
            ]
            switch n.mode {
            case .nat: lines.append("dhcp-option=option:router,\(n.address.address)")
            case .isolated: lines.append("dhcp-option=option:router")
            }
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// What dnsmasq's `stop-dns-rebind` refuses of IPv4 (its `private_net`), as far as moat
    /// relies on it: loopback, "this network", RFC 1918 and link-local. (It also refuses the
    /// documentation ranges, but not 100.64.0.0/10.)
    static let rebindChecked: [IPv4CIDR] = ["0.0.0.0/8", "10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"]
        .compactMap { IPv4CIDR($0) }

    /// How many leases dnsmasq may hand out at once.
    static func leaseMax(_ dhcp: DHCP) -> Int {
        guard let range = dhcp.range else { return max(1, dhcp.hosts.count) }
        let outside = dhcp.hosts.filter { !range.contains($0.ip) }.count
        return max(1, range.count + outside)
    }

    /// `dhcp-hostsfile`: one `MAC,IP[,NAME]` per static host, in the file's order.
    static func dhcpHosts(for n: Network) -> String {
        (n.dhcp?.hosts ?? []).map { host in
            [host.mac, "\(host.ip)"] + (host.name.map { [$0] } ?? [])
        }.map { $0.joined(separator: ",") + "\n" }.joined()
    }

    /// `addn-hosts`: `IP NAME` per named static host, so guests find each other by name.
    static func hosts(for n: Network) -> String {
        (n.dhcp?.hosts ?? []).compactMap { host in host.name.map { "\(host.ip) \($0)\n" } }.joined()
    }
}
