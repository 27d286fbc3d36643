import Foundation
import MoatConfig

/// The live host as a `HostState`, read with a constant number of commands, whatever the
/// number of networks: `ip -j -d addr show`, `ip -j route show`, `iptables-save` and (where
/// nftables is installed) `nft -j list ruleset inet` and `nft -j list chains`, one each;
/// everything else is plain file reads (/proc, moat's state and run dirs, resolv.conf).
///
/// Ownership is decided only from marks found on the host (a bridge's ifalias `moat:<network>`,
/// a `MOAT-` chain's name or table `inet moat`, an interface record, a dnsmasq config or pid
/// file), so a network removed from the file is still found. The reading (`read`, in MoatReconcile, through the
/// host seam) is a thin shell around this pure assembly, which the tests drive directly.
public struct Snapshot {
    /// The commands a snapshot runs, in order.
    public static let commands: [[String]] = [ipAddrCommand, ipRouteCommand, iptablesSaveCommand] + nftCommands
    public static let ipAddrCommand = ["ip", "-j", "-d", "addr", "show"]
    public static let ipRouteCommand = ["ip", "-j", "route", "show"]
    public static let iptablesSaveCommand = ["iptables-save"]
    /// The rules of the `inet` tables (moat's, firewalld's), then the chains of every table,
    /// without their rules (`NftablesBackend.parseRuleset`). Not the whole ruleset: with
    /// iptables-nft it holds every iptables rule too, which `iptables-save` reads, and listing
    /// it and reading its JSON cost more than the rest of the snapshot (100 networks on
    /// iptables: 1 MB of JSON; a no-op plan took 0.39 s and 143 MiB with it, 0.17 s and 36 MiB
    /// without, `make bench`).
    public static let nftCommands = [nftRulesetCommand, nftChainsCommand]
    public static let nftRulesetCommand = ["nft", "-j", "list", "ruleset", "inet"]
    public static let nftChainsCommand = ["nft", "-j", "list", "chains"]

    /// What a network has in moat's state dir.
    public struct NetworkFiles: Hashable, Sendable {
        /// Contents of the dnsmasq config, dhcp-hosts and hosts files; nil when missing.
        public var dnsmasqConfig: String?
        public var dhcpHosts: String?
        public var hosts: String?
        /// The `interface.json` record of an `interface:` network.
        public var record: InterfaceRecord?
        /// A leases file, a write's temporary file, a folder with nothing in it, or a pid file
        /// that names no running dnsmasq: what a run killed while it wrote or removed the
        /// network's files leaves.
        public var leftover: Bool

        public init(
            dnsmasqConfig: String? = nil, dhcpHosts: String? = nil, hosts: String? = nil, record: InterfaceRecord? = nil,
            leftover: Bool = false
        ) {
            self.dnsmasqConfig = dnsmasqConfig
            self.dhcpHosts = dhcpHosts
            self.hosts = hosts
            self.record = record
            self.leftover = leftover
        }

        /// Whether any of the network's dnsmasq files is there. A run killed between two of its
        /// writes (or removals) leaves some without the config; they are moat's to remove.
        public var hasDnsmasqFiles: Bool { dnsmasqConfig != nil || dhcpHosts != nil || hosts != nil || leftover }
    }

    /// Everything read from the host, before anything is decided about ownership.
    public struct Facts: Hashable, Sendable {
        public var links: [Link]
        public var routes: [Route]
        public var firewall: FirewallDump
        /// `nft -j list ruleset inet` and `nft -j list chains`; nil where nft is not installed.
        public var nftables: NftablesDump?
        public var ipForward: Bool
        /// By network name, as found in the state dir.
        public var files: [String: NetworkFiles]
        /// dnsmasq pids whose /proc/PID/cmdline proved them moat's, by network name.
        public var pids: [String: Int32]
        /// `disable_ipv6` by device name, for every device. A device missing here has no IPv6
        /// at all (no `conf/<dev>` folder), which is as good as disabled.
        public var ipv6Disabled: [String: Bool]
        /// `arp_ignore` / `arp_announce` by device name; a device missing here has the
        /// kernel's defaults.
        public var arp: [String: ARPSettings]
        /// The `ip_forward` value moat kept before it first set it; nil when none is kept.
        public var ipForwardBefore: Bool?
        /// /etc/resolv.conf.
        public var resolvConf: String
        /// The journal in the run dir, and whether the run that wrote it is gone.
        public var journal: Journal?
        public var journalInterrupted: Bool

        public init(
            links: [Link] = [], routes: [Route] = [], firewall: FirewallDump = FirewallDump(), nftables: NftablesDump? = nil,
            ipForward: Bool = false,
            files: [String: NetworkFiles] = [:], pids: [String: Int32] = [:], ipv6Disabled: [String: Bool] = [:],
            arp: [String: ARPSettings] = [:], ipForwardBefore: Bool? = nil, resolvConf: String = "", journal: Journal? = nil,
            journalInterrupted: Bool = false
        ) {
            self.ipForwardBefore = ipForwardBefore
            self.resolvConf = resolvConf
            self.journal = journal
            self.journalInterrupted = journalInterrupted
            self.links = links
            self.routes = routes
            self.firewall = firewall
            self.nftables = nftables
            self.ipForward = ipForward
            self.files = files
            self.pids = pids
            self.ipv6Disabled = ipv6Disabled
            self.arp = arp
        }
    }

    // MARK: - Pure parts

    /// Whether a `/proc/PID/cmdline` (NUL-separated argv) is a dnsmasq started on `config`:
    /// argv[0]'s basename is `dnsmasq` and an argument is `--conf-file=<config>` (or
    /// `--conf-file <config>`).
    public static func isDnsmasq(cmdline: String, config: String) -> Bool {
        let argv = cmdline.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        guard let program = argv.first, program.split(separator: "/").last == "dnsmasq" else { return false }
        let arguments = argv.dropFirst()
        if arguments.contains("--conf-file=\(config)") { return true }
        return zip(arguments, arguments.dropFirst()).contains { $0 == "--conf-file" && $1 == config }
    }

    /// Whether a `/proc/PID/cmdline` is a moat's: argv[0]'s basename starts with `moat`. A
    /// journal whose pid runs something else was left by a run that is gone.
    public static func isMoat(cmdline: String) -> Bool {
        cmdline.split(separator: "\0").first?.split(separator: "/").last?.hasPrefix("moat") == true
    }

    /// A network name as the file allows it, `[a-z][a-z0-9-]{0,14}`. Names read from the host
    /// (ifalias, chain names, file names) can be forged, so anything else is not a network.
    public static func isNetworkName(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard let first = scalars.first, (1...15).contains(scalars.count), ("a"..."z").contains(first) else { return false }
        return scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// The bridges that carry a valid moat mark, one per network. Only bridges: moat creates
    /// nothing else, and taking a marked physical device as owned would let a forged alias get
    /// it deleted. Two bridges with one mark (a renamed bridge beside its successor): both are
    /// the network's, the first by name its device (`NetworkState.moreBridges`).
    static func ownedBridges(_ links: [Link]) -> [String: [Link]] {
        var bridges: [String: [Link]] = [:]
        for link in links.sorted(by: { $0.name < $1.name }) where link.kind == "bridge" {
            guard let network = link.moatNetwork, isNetworkName(network) else { continue }
            bridges[network, default: []].append(link)
        }
        return bridges
    }

    /// The devices whose IPv6 setting the snapshot reads: every device, not only moat's, since
    /// an `interface:` network records the setting of the device it is about to claim, and
    /// `destroy` puts that record back. (File reads, not commands: the count of commands stays
    /// the same.)
    public static func devicesToInspect(links: [Link]) -> [String] {
        // A name from `ip` output goes into a path: never one that could leave the conf folder.
        Array(Set(links.map(\.name).filter { !$0.isEmpty && !$0.contains("/") && $0 != "." && $0 != ".." })).sorted()
    }

    /// Decides what on the host is moat's, from the facts alone.
    public static func assemble(_ facts: Facts) -> HostState {
        let linksByName = Dictionary(facts.links.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let bridges = ownedBridges(facts.links)
        let files = facts.files.filter { isNetworkName($0.key) }
        let pids = facts.pids.filter { isNetworkName($0.key) }

        var networkChains: [String: [ChainID: [FirewallRule]]] = [:]
        var sharedChains: [ChainID: [FirewallRule]] = [:]
        let chains = facts.firewall.chains.merging(facts.nftables?.chains ?? [:]) { first, _ in first }
        for (chain, rules) in chains {
            if let network = ChainName.network(of: chain), isNetworkName(network) {
                networkChains[network, default: [:]][chain] = rules
            } else {
                // A MOAT- chain (or any chain of table inet moat) that no valid network owns is
                // still moat's (the prefix, the table, is its namespace), so it is kept visible
                // here for the diff to remove.
                sharedChains[chain] = rules
            }
        }

        let names = Set(bridges.keys).union(networkChains.keys).union(pids.keys)
            .union(files.filter { $0.value.record != nil || $0.value.hasDnsmasqFiles }.keys)

        var claimed = Set<String>()
        var networks: [String: NetworkState] = [:]
        for name in names {
            let device: DeviceState
            let marked = (bridges[name] ?? []).map { bridge in
                claimed.insert(bridge.name)
                return DeviceState(
                    name: bridge.name, owned: true, exists: true, up: bridge.up, addresses: bridge.addresses,
                    ipv6Disabled: facts.ipv6Disabled[bridge.name] ?? true, arp: facts.arp[bridge.name] ?? .kernelDefault)
            }
            if let bridge = marked.first {
                device = bridge
            } else if let record = files[name]?.record {
                if let link = linksByName[record.device] {
                    claimed.insert(link.name)
                    device = DeviceState(
                        name: link.name, owned: false, exists: true, up: link.up, addresses: link.addresses,
                        ipv6Disabled: facts.ipv6Disabled[link.name] ?? true, arp: facts.arp[link.name] ?? .kernelDefault)
                } else {
                    device = DeviceState(
                        name: record.device, owned: false, exists: false, up: false, addresses: [], ipv6Disabled: false,
                        arp: .kernelDefault)
                }
            } else {
                device = DeviceState(name: "", owned: false, exists: false, up: false, addresses: [], ipv6Disabled: false, arp: .kernelDefault)
            }

            var dnsmasq: DnsmasqInstance?
            let networkFiles = files[name] ?? NetworkFiles()
            if networkFiles.hasDnsmasqFiles || pids[name] != nil {
                dnsmasq = DnsmasqInstance(
                    config: networkFiles.dnsmasqConfig ?? "", dhcpHosts: networkFiles.dhcpHosts ?? "",
                    hosts: networkFiles.hosts ?? "", pid: pids[name])
            }
            networks[name] = NetworkState(
                name: name, device: device, chains: networkChains[name] ?? [:], dnsmasq: dnsmasq, moreBridges: Array(marked.dropFirst()))
        }

        var foreignLinks: [String: Link] = [:]
        for var link in facts.links where !claimed.contains(link.name) {
            if let disabled = facts.ipv6Disabled[link.name] { link.ipv6Disabled = disabled }
            if let arp = facts.arp[link.name] { link.arp = arp }
            foreignLinks[link.name] = link
        }

        let records = MoatRecords(
            ipForwardBefore: facts.ipForwardBefore,
            interfaces: files.compactMapValues(\.record).filter { networks[$0.key] != nil },
            journal: facts.journal, journalInterrupted: facts.journalInterrupted)
        return HostState(
            ipForward: facts.ipForward, networks: networks, sharedChains: sharedChains, jumps: facts.firewall.jumps,
            foreignLinks: foreignLinks, routes: facts.routes, records: records,
            resolvers: DnsmasqConfig.upstream(resolvConf: facts.resolvConf),
            physicalDevices: Dictionary(
                facts.links.compactMap { link in link.isPhysical ? link.mac.map { (link.name, $0) } : nil },
                uniquingKeysWith: { first, _ in first }),
            linkGroups: Dictionary(
                facts.links.compactMap { $0.group == "default" ? nil : ($0.name, $0.group) }, uniquingKeysWith: { first, _ in first }),
            firewallHost: FirewallHost(
                nftables: facts.nftables != nil, forwardPolicy: facts.firewall.forwardPolicy, dockerChains: facts.firewall.dockerChains,
                droppingChains: facts.nftables?.droppingChains ?? []))
    }

    /// The pid a pid file names; nil unless it is a positive number.
    public static func parsePid(_ text: String) -> Int32? {
        guard let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else { return nil }
        return pid
    }
}
