import MoatConfig

/// What `apply` would load on an empty host, as text a pull request can diff: the
/// `iptables-restore --noflush` payload or the `nft -f` transaction (both for `firewall:
/// auto`, which picks one by the host), the `ip -batch` lines, the sysctls and each network's
/// dnsmasq files. Pure: the plan of `DesiredState.render(config)` against an empty
/// `HostState()`, batched the way the executor batches it.
///
/// An `interface:` network's device is the host's, so an empty host has none; it is
/// rendered as found bare (down, without addresses, IPv6 on, the kernel's ARP defaults),
/// which is the most an apply would do to it.
public struct Render: Hashable, Sendable {
    /// One sysctl write, in `sysctl.conf` form (`net.ipv4.ip_forward`).
    public struct Sysctl: Hashable, Sendable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
        /// A `/proc/sys` path below `/proc/sys/` (`net/ipv4/conf/eth0.10/arp_ignore`) as
        /// `sysctl.conf` writes it: dots between the parts, a dot inside one as `/`.
        public init(procPath: String, value: String) {
            let parts = procPath.split(separator: "/", omittingEmptySubsequences: false)
            self.init(key: parts.map { String($0.map { $0 == "." ? "/" : $0 }) }.joined(separator: "."), value: value)
        }
        public var line: String { "\(key) = \(value)" }
    }

    /// One network's dnsmasq files, with the paths apply writes them to.
    public struct Dnsmasq: Hashable, Sendable {
        public var network: String
        public var configPath: String
        public var dhcpHostsPath: String
        public var hostsPath: String
        public var instance: DnsmasqInstance
    }

    /// The `iptables-restore --noflush` payload; nil when the file says `firewall: nftables`.
    public var iptablesRestore: String?
    /// The `nft -f` transaction; nil when the file says `firewall: iptables`.
    public var nftables: String?
    /// The `ip -batch` lines, in the order sent.
    public var ipBatch: [String]
    /// The sysctls written, in the order written.
    public var sysctls: [Sysctl]
    /// By network name.
    public var dnsmasq: [Dnsmasq]

    /// Renders `config` (already validated). `upstream`: the resolvers `nat` networks'
    /// DNS forwards to (on a real host, its resolv.conf's).
    public init(_ config: Config, paths: Paths, upstream: [String] = []) {
        let backends: [FirewallBackend] =
            switch config.firewall {
            case .iptables: [.iptables]
            case .nftables: [.nftables]
            case .auto: [.iptables, .nftables]
            }
        /// The plan's operations from an empty host to the state `backend` renders, phase by phase.
        func operations(_ backend: FirewallBackend) -> (desired: HostState, phases: [[Operation]]) {
            let desired = DesiredState.render(config, paths: paths, upstream: upstream, backend: backend)
            var empty = HostState()
            for network in desired.networks.values where !network.device.owned {
                empty.foreignLinks[network.device.name] = Link(name: network.device.name)
            }
            let phases = Dictionary(grouping: Diff.plan(desired: desired, live: empty, paths: paths).steps.flatMap(\.operations), by: \.phase)
            return (desired, phases.keys.sorted().map { phases[$0] ?? [] })
        }
        // The backends' states differ in their firewalls only (FirewallChains.sharedChains).
        let (desired, phases) = operations(backends[0])
        var batch: [String] = []
        var sysctls: [Sysctl] = []
        for phase in phases {
            var links: [LinkCommand] = []
            for operation in phase {
                switch operation {
                case .link(let command): links.append(command)
                case .deleteBridge(let device): links.append(.delete(device))
                case .writeChain, .deleteChain, .replaceJumps: break
                case .ipForward(let on, _): sysctls.append(Sysctl(procPath: "net/ipv4/ip_forward", value: on ? "1" : "0"))
                default:
                    sysctls += Self.deviceSysctls(operation).map { Sysctl(procPath: $0.key, value: $0.value) }
                }
            }
            batch += LinkCommand.batch(links)
        }
        func firewall(_ backend: FirewallBackend) -> [Operation] {
            (backend == backends[0] ? phases : operations(backend).phases).joined().filter { $0.backend != nil }
        }
        iptablesRestore = backends.contains(.iptables) ? IptablesBackend.restorePayload(operations: firewall(.iptables)) : nil
        nftables =
            backends.contains(.nftables)
            ? NftablesBackend.transaction(live: [:], operations: firewall(.nftables)) ?? "" : nil
        ipBatch = batch
        self.sysctls = sysctls
        dnsmasq = desired.networks.keys.sorted().compactMap { name in
            desired.networks[name]?.dnsmasq.map {
                Dnsmasq(
                    network: name, configPath: paths.dnsmasqConfig(name), dhcpHostsPath: paths.dhcpHostsFile(name),
                    hostsPath: paths.hostsFile(name), instance: $0)
            }
        }
    }

    /// The `/proc/sys` writes of a device setting (below `/proc/sys/`), as the executor makes them.
    public static func deviceSysctls(_ operation: Operation) -> [(key: String, value: String)] {
        switch operation {
        case .disableIPv6(let device, let on): [("net/ipv6/conf/\(device)/disable_ipv6", on ? "1" : "0")]
        case .setARP(let device, let arp):
            [("net/ipv4/conf/\(device)/arp_ignore", "\(arp.ignore)"), ("net/ipv4/conf/\(device)/arp_announce", "\(arp.announce)")]
        default: []
        }
    }

    /// `ip -batch -` input: one line each, newline-ended.
    public var ipBatchText: String { ipBatch.map { $0 + "\n" }.joined() }
    /// `sysctl.conf` text.
    public var sysctlText: String { sysctls.map { $0.line + "\n" }.joined() }

    /// The firewall's part for each backend rendered: a section header, a file name, the text.
    var firewallFiles: [(header: String, path: String, text: String)] {
        let auto = iptablesRestore != nil && nftables != nil
        return [
            iptablesRestore.map { ("# iptables-restore --noflush" + (auto ? " (if firewall: auto picks iptables)" : ""), "iptables.rules", $0) },
            nftables.map { ("# nft -f -" + (auto ? " (if firewall: auto picks nftables)" : ""), "nftables.nft", $0) },
        ].compactMap { $0 }
    }

    /// Everything in one text, a `# ` header per section, files in a fixed order.
    public var text: String {
        var sections = firewallFiles.map { file in (file.header, file.text) }
        sections += [("# ip -batch", ipBatchText), ("# sysctl", sysctlText)]
        for files in dnsmasq {
            sections += [
                ("# dnsmasq \(files.network): \(files.configPath)", files.instance.config),
                ("# dnsmasq \(files.network): \(files.dhcpHostsPath)", files.instance.dhcpHosts),
                ("# dnsmasq \(files.network): \(files.hostsPath)", files.instance.hosts),
            ]
        }
        return sections.map { header, body in header + "\n" + body }.joined(separator: "\n")
    }

    /// The files of `--out DIR`, by path below DIR, in a fixed order.
    public var files: [(path: String, text: String)] {
        var files = firewallFiles.map { file in (file.path, file.text) }
        files += [("ip.batch", ipBatchText), ("sysctl.conf", sysctlText)]
        for each in dnsmasq {
            files += [
                ("dnsmasq/\(each.network)/dnsmasq.conf", each.instance.config),
                ("dnsmasq/\(each.network)/dhcp-hosts", each.instance.dhcpHosts),
                ("dnsmasq/\(each.network)/hosts", each.instance.hosts),
            ]
        }
        return files
    }
}
