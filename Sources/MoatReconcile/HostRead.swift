import Foundation
import MoatConfig
import MoatCore

// Everything moat reads from the host, through the seam. The parsing and every decision
// about what is moat's stay in the pure core (`Snapshot.assemble`, the parsers); these
// functions only fetch.

extension Snapshot {
    /// Reads the host: five commands (the two of `nft` only where it is installed), every other fact a file read (/proc, moat's state and
    /// run dirs, /etc/resolv.conf). One value holds every fact that plan, apply and status
    /// decide from, so they decide alike.
    public static func read(_ system: any HostSystem, paths: Paths) async throws -> HostState {
        // The commands only read, so they run at once: a snapshot costs the slowest
        // of them, not their sum (moat reads the host twice per apply).
        async let addr = output(of: ipAddrCommand, system: system)
        async let route = output(of: ipRouteCommand, system: system)
        async let save = output(of: iptablesSaveCommand, system: system)
        async let ruleset = nftListing(nftRulesetCommand, system: system)
        async let chains = nftListing(nftChainsCommand, system: system)
        let links = try parseIPAddr(json: try await addr)
        let routes = try parseRoutes(json: try await route)
        let firewall = IptablesBackend.parseSave(try await save)
        var nftables: NftablesDump?
        if let ruleset = try await ruleset, let chains = try await chains {
            nftables = NftablesBackend.parseRuleset(json: ruleset, chains: chains)
        }

        let ipForward = try system.read("/proc/sys/net/ipv4/ip_forward").map(isOne) ?? false
        var networkFiles = try readNetworkFiles(paths: paths, system: system)
        let (pids, stalePidFiles) = try readDnsmasqPids(paths: paths, system: system)
        for network in stalePidFiles { networkFiles[network, default: NetworkFiles()].leftover = true }

        var ipv6Disabled: [String: Bool] = [:]
        var arp: [String: ARPSettings] = [:]
        for device in devicesToInspect(links: links) {
            // No conf folder: the kernel has no IPv6 on this device, so it is off.
            ipv6Disabled[device] = try system.read("/proc/sys/net/ipv6/conf/\(device)/disable_ipv6").map(isOne) ?? true
            let conf = "/proc/sys/net/ipv4/conf/\(device)"
            if let ignore = try system.read("\(conf)/arp_ignore").flatMap(number),
                let announce = try system.read("\(conf)/arp_announce").flatMap(number)
            {
                arp[device] = ARPSettings(ignore: ignore, announce: announce)
            }
        }

        var journal: Journal?
        var interrupted = false
        if let text = try system.read(paths.journal) {
            journal = Journal(parsing: text)
            // Another moat's run in progress (status or plan during an apply) is not an
            // interruption; this process's own journal is not either. A pid since taken by
            // another program is.
            if let found = journal, found.pid != system.processID {
                let cmdline = try system.read("/proc/\(found.pid)/cmdline")
                interrupted = !(system.isRunning(found.pid) && cmdline.map(isMoat) == true)
            }
        }

        return assemble(
            Facts(
                links: links, routes: routes, firewall: firewall, nftables: nftables, ipForward: ipForward, files: networkFiles, pids: pids,
                ipv6Disabled: ipv6Disabled, arp: arp,
                ipForwardBefore: try system.read(paths.ipForwardRecord).map(isOne),
                resolvConf: try system.read("/etc/resolv.conf") ?? "", journal: journal, journalInterrupted: interrupted))
    }

    /// Runs one of the snapshot's commands, turning "not found" into the package to install
    /// and any other failure into an error with its argv and stderr.
    static func output(of argv: [String], system: any HostSystem) async throws -> String {
        guard let output = try await output(ifInstalled: argv, system: system) else { throw Dependencies.missing([argv[0]]) }
        return output
    }

    /// How many times the snapshot asks nft for a listing before it gives up.
    static let nftAttempts = 5

    /// One of `nftCommands`' listings, nil where nft is not installed. nft lists in several
    /// netlink dumps, and a change between them (another program's transaction, iptables-nft's
    /// too) fails the listing ("No such file or directory"); asked again, it lists one state.
    /// A listing that fails every time is an error like any other command's.
    static func nftListing(_ argv: [String], system: any HostSystem) async throws -> String? {
        var attempt = 1
        while true {
            do {
                return try await output(ifInstalled: argv, system: system)
            } catch let error as MoatError {
                if attempt >= nftAttempts { throw error }
                attempt += 1
            }
        }
    }

    /// `output(of:system:)` of a program the host may lack: nil when it is not found.
    static func output(ifInstalled argv: [String], system: any HostSystem) async throws -> String? {
        let result: CommandResult
        do {
            result = try await system.run(argv, input: nil)
        } catch let failure as CommandFailure where failure.result.status == 127 {
            return nil
        }
        if result.status == 127 { return nil }
        guard result.status == 0 else {
            throw MoatError(.failed, "cannot read the host's state: \(CommandFailure(argv: argv, result: result))")
        }
        return result.stdout
    }

    /// The state dir's per-network folders: dnsmasq files and interface records.
    static func readNetworkFiles(paths: Paths, system: any HostSystem) throws -> [String: NetworkFiles] {
        var found: [String: NetworkFiles] = [:]
        for name in try system.list("\(paths.stateDir)/networks") where isNetworkName(name) {
            var entry = NetworkFiles(
                dnsmasqConfig: try system.read(paths.dnsmasqConfig(name)),
                dhcpHosts: try system.read(paths.dhcpHostsFile(name)),
                hosts: try system.read(paths.hostsFile(name)),
                leftover: try Self.holdsLeftovers(name, paths: paths, system: system))
            if let json = try system.read(paths.interfaceRecord(name)) {
                do {
                    entry.record = try InterfaceRecord(parsing: json)
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

    /// Whether a network's folder is empty or holds what a killed run left (see `Paths.isLeftover`).
    static func holdsLeftovers(_ network: String, paths: Paths, system: any HostSystem) throws -> Bool {
        let entries = try system.list(paths.networkDir(network))
        return entries.isEmpty || entries.contains { paths.isLeftover($0, network: network) }
    }

    /// The pids of moat's dnsmasqs: pid files `dnsmasq-<network>.pid` in the run dir, each kept
    /// only when /proc/PID/cmdline is a dnsmasq reading that network's config (a stale pid file
    /// may name a pid since reused by anything). `stale`: the networks whose pid file names
    /// no such process, a leftover for the diff to remove.
    static func readDnsmasqPids(paths: Paths, system: any HostSystem) throws -> (pids: [String: Int32], stale: [String]) {
        var pids: [String: Int32] = [:]
        var stale: [String] = []
        for entry in try system.list(paths.runDir) where entry.hasPrefix("dnsmasq-") && entry.hasSuffix(".pid") {
            let name = String(entry.dropFirst("dnsmasq-".count).dropLast(".pid".count))
            guard isNetworkName(name) else { continue }
            guard let pid = try system.read(paths.dnsmasqPidFile(name)).flatMap(parsePid),
                let cmdline = try system.read("/proc/\(pid)/cmdline"),
                isDnsmasq(cmdline: cmdline, config: paths.dnsmasqConfig(name))
            else {
                stale.append(name)
                continue
            }
            pids[name] = pid
        }
        return (pids, stale)
    }

    private static func isOne(_ text: String) -> Bool {
        text.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    private static func number(_ text: String) -> Int? {
        Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

extension Listeners {
    /// The non-loopback listeners on `ports`, with their holders. The process scan (every
    /// `/proc/PID/fd`) runs only when such a socket exists.
    public static func read(ports: Set<Port>, system: any HostSystem) throws -> [HostListener] {
        var sockets: [ListeningSocket] = []
        for table in tables {
            guard let text = try system.read(table.path) else { continue }
            sockets += parseProcNet(text, proto: table.proto, ipv6: table.ipv6).filter {
                !$0.isLoopback && ports.contains(Port($0.proto, $0.port))
            }
        }
        guard !sockets.isEmpty else { return [] }
        let holders = try readHolders(of: Set(sockets.map(\.inode)), system: system)
        return sockets.map { HostListener(socket: $0, holders: holders[$0.inode] ?? []) }
    }

    /// The processes holding each of `inodes`, by scanning `/proc/[pid]/fd/*`. Processes come
    /// and go during the scan: what cannot be read is skipped.
    static func readHolders(of inodes: Set<UInt64>, system: any HostSystem) throws -> [UInt64: [SocketHolder]] {
        var found: [UInt64: [SocketHolder]] = [:]
        for entry in try system.list("/proc") {
            guard let pid = Int32(entry), pid > 0 else { continue }
            let descriptors = (try? system.list("/proc/\(pid)/fd")) ?? []
            var comm: String?
            for descriptor in descriptors where descriptor.allSatisfy(\.isNumber) {
                guard let link = try? system.readLink("/proc/\(pid)/fd/\(descriptor)"), let inode = socketInode(link: link),
                    inodes.contains(inode)
                else { continue }
                if comm == nil { comm = parseComm((try? system.read("/proc/\(pid)/comm")) ?? nil) }
                let holder = SocketHolder(pid: pid, comm: comm ?? "?")
                if found[inode]?.contains(holder) != true { found[inode, default: []].append(holder) }
            }
        }
        return found.mapValues { $0.sorted { $0.pid < $1.pid } }
    }
}

extension Status {
    /// Each network's lease file, parsed, and the pid its pid file names (alive or not).
    public static func readFiles(networks: [String], paths: Paths, system: any HostSystem) throws -> (
        leases: [String: [Lease]], pidFiles: [String: Int32]
    ) {
        var leases: [String: [Lease]] = [:]
        var pids: [String: Int32] = [:]
        for name in networks {
            if let text = try system.read(paths.leaseFile(name)) { leases[name] = parseLeases(text) }
            if let pid = try system.read(paths.dnsmasqPidFile(name)).flatMap(Snapshot.parsePid) { pids[name] = pid }
        }
        return (leases, pids)
    }
}

extension Dependencies {
    /// Throws `missing` for every program of `programs` not found in a directory of
    /// `searchPath` (a `PATH` value; the process's own when nil). Looks, never runs.
    public static func check(_ programs: [String], searchPath: String? = nil, system: any HostSystem) throws {
        let directories = searchDirectories(searchPath)
        let absent = programs.filter { program in
            !directories.contains { system.exists("\($0)/\(program)") }
        }
        if !absent.isEmpty { throw missing(absent) }
    }

    /// The directories of `searchPath` (a `PATH` value; the process's own when nil), in order.
    public static func searchDirectories(_ searchPath: String? = nil) -> [String] {
        let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        return path.split(separator: ":").map(String.init)
    }
}

extension Journal {
    public func save(to system: any HostSystem, paths: Paths) throws {
        try system.write(paths.journal, text)
    }
}

extension SavedPlan.HostIdentity {
    /// This machine: its hostname and /etc/machine-id ("unknown" where there is none).
    public static func read(_ system: any HostSystem) throws -> Self {
        func value(_ path: String) throws -> String {
            let text = try system.read(path)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            return text.isEmpty ? "unknown" : text
        }
        return Self(hostname: try value("/proc/sys/kernel/hostname"), machineID: try value("/etc/machine-id"))
    }
}
