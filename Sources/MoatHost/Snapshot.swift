import Foundation
import MoatConfig

/// Reads the live host into a `HostState` with a constant number of commands, whatever the
/// number of networks: `ip -j -d addr show`, `ip -j route show` and `iptables-save`, one each;
/// everything else is plain file reads (/proc, moat's state and run dirs).
///
/// Ownership is decided only from marks found on the host (a bridge's ifalias `moat:<network>`,
/// a `MOAT-` chain's name, an interface record, a dnsmasq config or pid file), so a network
/// removed from the file is still found. The reading (`read`) is a thin shell around a pure
/// assembly (`assemble`) that the tests drive directly.
public struct Snapshot {
    /// The commands a snapshot runs, in order.
    public static let commands: [[String]] = [ipAddrCommand, ipRouteCommand, iptablesSaveCommand]
    static let ipAddrCommand = ["ip", "-j", "-d", "addr", "show"]
    static let ipRouteCommand = ["ip", "-j", "route", "show"]
    static let iptablesSaveCommand = ["iptables-save"]

    /// What a network has in moat's state dir.
    public struct NetworkFiles: Hashable, Sendable {
        /// Contents of the dnsmasq config, dhcp-hosts and hosts files; nil when missing.
        public var dnsmasqConfig: String?
        public var dhcpHosts: String?
        public var hosts: String?
        /// The `interface.json` record of an `interface:` network.
        public var record: InterfaceRecord?

        public init(dnsmasqConfig: String? = nil, dhcpHosts: String? = nil, hosts: String? = nil, record: InterfaceRecord? = nil) {
            self.dnsmasqConfig = dnsmasqConfig
            self.dhcpHosts = dhcpHosts
            self.hosts = hosts
            self.record = record
        }
    }

    /// Everything read from the host, before anything is decided about ownership.
    public struct Facts: Hashable, Sendable {
        public var links: [Link]
        public var routes: [Route]
        public var firewall: FirewallDump
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

        public init(
            links: [Link] = [], routes: [Route] = [], firewall: FirewallDump = FirewallDump(), ipForward: Bool = false,
            files: [String: NetworkFiles] = [:], pids: [String: Int32] = [:], ipv6Disabled: [String: Bool] = [:],
            arp: [String: ARPSettings] = [:]
        ) {
            self.links = links
            self.routes = routes
            self.firewall = firewall
            self.ipForward = ipForward
            self.files = files
            self.pids = pids
            self.ipv6Disabled = ipv6Disabled
            self.arp = arp
        }
    }

    // MARK: - Reading (I/O)

    /// Reads the host `runner` runs commands on, with the real filesystem.
    public static func read(runner: some CommandRunner, paths: Paths) async throws -> HostState {
        try await read(runner: runner, paths: paths, files: SystemFiles())
    }

    /// Reads the host: three commands through `runner`, every other fact from `files`.
    public static func read(runner: some CommandRunner, paths: Paths, files: some HostFiles) async throws -> HostState {
        // The three commands only read, so they run at once: a snapshot costs the slowest
        // of them, not their sum (moat reads the host twice per apply).
        async let addr = output(of: ipAddrCommand, runner: runner)
        async let route = output(of: ipRouteCommand, runner: runner)
        async let save = output(of: iptablesSaveCommand, runner: runner)
        let links = try parseIPAddr(json: try await addr)
        let routes = try parseRoutes(json: try await route)
        let firewall = IptablesBackend.parseSave(try await save)

        let ipForward = try files.read("/proc/sys/net/ipv4/ip_forward").map(isOne) ?? false
        let networkFiles = try readNetworkFiles(paths: paths, files: files)
        let pids = try readDnsmasqPids(paths: paths, files: files)

        var ipv6Disabled: [String: Bool] = [:]
        var arp: [String: ARPSettings] = [:]
        for device in devicesToInspect(links: links, files: networkFiles) {
            // No conf folder: the kernel has no IPv6 on this device, so it is off.
            ipv6Disabled[device] = try files.read("/proc/sys/net/ipv6/conf/\(device)/disable_ipv6").map(isOne) ?? true
            let conf = "/proc/sys/net/ipv4/conf/\(device)"
            if let ignore = try files.read("\(conf)/arp_ignore").flatMap(number),
                let announce = try files.read("\(conf)/arp_announce").flatMap(number)
            {
                arp[device] = ARPSettings(ignore: ignore, announce: announce)
            }
        }

        return assemble(
            Facts(
                links: links, routes: routes, firewall: firewall, ipForward: ipForward, files: networkFiles, pids: pids,
                ipv6Disabled: ipv6Disabled, arp: arp))
    }

    /// Runs one of the snapshot's commands, turning "not found" into the package to install
    /// and any other failure into an error with its argv and stderr.
    static func output(of argv: [String], runner: some CommandRunner) async throws -> String {
        let result: CommandResult
        do {
            result = try await runner.run(argv, input: nil)
        } catch let failure as CommandFailure where failure.result.status == 127 {
            throw Dependencies.missing([argv[0]])
        }
        if result.status == 127 { throw Dependencies.missing([argv[0]]) }
        guard result.status == 0 else {
            throw MoatError(.failed, "cannot read the host's state: \(CommandFailure(argv: argv, result: result))")
        }
        return result.stdout
    }

    /// The state dir's per-network folders: dnsmasq files and interface records.
    static func readNetworkFiles(paths: Paths, files: some HostFiles) throws -> [String: NetworkFiles] {
        var found: [String: NetworkFiles] = [:]
        for name in try files.list("\(paths.stateDir)/networks") where isNetworkName(name) {
            var entry = NetworkFiles(
                dnsmasqConfig: try files.read(paths.dnsmasqConfig(name)),
                dhcpHosts: try files.read(paths.dhcpHostsFile(name)),
                hosts: try files.read(paths.hostsFile(name)))
            if let json = try files.read(paths.interfaceRecord(name)) {
                do {
                    entry.record = try JSONDecoder().decode(InterfaceRecord.self, from: Data(json.utf8))
                } catch {
                    // moat wrote it, and it is what `destroy` restores the device from: guessing
                    // would risk leaving the user's device wrong, so stop and say where.
                    throw MoatError(
                        .failed,
                        "cannot read \(paths.interfaceRecord(name)): \(error). It records how network "
                            + "'\(name)' found its device; fix or remove it (then check that device by hand).")
                }
            }
            if entry != NetworkFiles() { found[name] = entry }
        }
        return found
    }

    /// The pids of moat's dnsmasqs: pid files `dnsmasq-<network>.pid` in the run dir, each kept
    /// only when /proc/PID/cmdline is a dnsmasq reading that network's config (a stale pid file
    /// may name a pid since reused by anything).
    static func readDnsmasqPids(paths: Paths, files: some HostFiles) throws -> [String: Int32] {
        var pids: [String: Int32] = [:]
        for entry in try files.list(paths.runDir) where entry.hasPrefix("dnsmasq-") && entry.hasSuffix(".pid") {
            let name = String(entry.dropFirst("dnsmasq-".count).dropLast(".pid".count))
            guard isNetworkName(name), let text = try files.read(paths.dnsmasqPidFile(name)),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
                let cmdline = try files.read("/proc/\(pid)/cmdline"),
                isDnsmasq(cmdline: cmdline, config: paths.dnsmasqConfig(name))
            else { continue }
            pids[name] = pid
        }
        return pids
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

    /// A network name as the file allows it, `[a-z][a-z0-9-]{0,14}`. Names read from the host
    /// (ifalias, chain names, file names) can be forged, so anything else is not a network.
    static func isNetworkName(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard let first = scalars.first, (1...15).contains(scalars.count), ("a"..."z").contains(first) else { return false }
        return scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// The bridges that carry a valid moat mark, one per network. Only bridges: moat creates
    /// nothing else, and taking a marked physical device as owned would let a forged alias get
    /// it deleted. Two bridges with one mark: the first by name is the network's, the other
    /// stays foreign (never touched).
    static func ownedBridges(_ links: [Link]) -> [String: Link] {
        var bridges: [String: Link] = [:]
        for link in links.sorted(by: { $0.name < $1.name }) where link.kind == "bridge" {
            guard let network = link.moatNetwork, isNetworkName(network), bridges[network] == nil else { continue }
            bridges[network] = link
        }
        return bridges
    }

    /// The devices whose IPv6 setting the snapshot reads: every device, not only moat's, since
    /// an `interface:` network records the setting of the device it is about to claim, and
    /// `destroy` puts that record back. (File reads, not commands: the count of commands stays 3.)
    static func devicesToInspect(links: [Link], files: [String: NetworkFiles]) -> [String] {
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
        for (chain, rules) in facts.firewall.chains {
            if let network = ChainName.network(of: chain), isNetworkName(network) {
                networkChains[network, default: [:]][chain] = rules
            } else {
                // A MOAT- chain that no valid network owns is still moat's (the prefix is its
                // namespace), so it is kept visible here for the diff to remove.
                sharedChains[chain] = rules
            }
        }

        let names = Set(bridges.keys).union(networkChains.keys).union(pids.keys)
            .union(files.filter { $0.value.record != nil || $0.value.dnsmasqConfig != nil }.keys)

        var claimed = Set<String>()
        var networks: [String: NetworkState] = [:]
        for name in names {
            let device: DeviceState
            if let bridge = bridges[name] {
                claimed.insert(bridge.name)
                device = DeviceState(
                    name: bridge.name, owned: true, exists: true, up: bridge.up, addresses: bridge.addresses,
                    ipv6Disabled: facts.ipv6Disabled[bridge.name] ?? true, arp: facts.arp[bridge.name] ?? .kernelDefault)
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
            if networkFiles.dnsmasqConfig != nil || pids[name] != nil {
                dnsmasq = DnsmasqInstance(
                    config: networkFiles.dnsmasqConfig ?? "", dhcpHosts: networkFiles.dhcpHosts ?? "",
                    hosts: networkFiles.hosts ?? "", pid: pids[name])
            }
            networks[name] = NetworkState(name: name, device: device, chains: networkChains[name] ?? [:], dnsmasq: dnsmasq)
        }

        var foreignLinks: [String: Link] = [:]
        for var link in facts.links where !claimed.contains(link.name) {
            if let disabled = facts.ipv6Disabled[link.name] { link.ipv6Disabled = disabled }
            if let arp = facts.arp[link.name] { link.arp = arp }
            foreignLinks[link.name] = link
        }

        return HostState(
            ipForward: facts.ipForward, networks: networks, sharedChains: sharedChains, jumps: facts.firewall.jumps,
            foreignLinks: foreignLinks, routes: facts.routes)
    }

    private static func isOne(_ text: String) -> Bool {
        text.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    private static func number(_ text: String) -> Int? {
        Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
