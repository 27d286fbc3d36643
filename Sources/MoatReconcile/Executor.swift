import Foundation
import MoatConfig
import MoatCore

/// One unit of work: what the journal records before it runs and progress shows.
struct Unit: Sendable {
    var title: String
    /// What the user should know when it fails after the apply was verified (nothing to
    /// roll back then), beyond the error itself.
    var ifFailed: String?
    var work: @Sendable () async throws -> Void

    init(title: String, ifFailed: String? = nil, work: @escaping @Sendable () async throws -> Void) {
        self.title = title
        self.ifFailed = ifFailed
        self.work = work
    }
}

/// Turns a plan into batched units: one `ip -batch` for every link change, one
/// `iptables-restore --noflush` for every change of iptables' chains and one `nft -f` for
/// every change of nftables' (the two only while a run switches backends), one unit that starts (or stops)
/// every dnsmasq of a phase at once.
///
/// dnsmasq is started concurrently because a start costs little CPU but ~60-80 ms of wall
/// time (the parent waits for the daemon to report that it is up): 250 networks one after
/// another took ~20 s. Rollback does not depend on units being small: it diffs the host
/// against the snapshot taken before, so any dnsmasq that did start is stopped again.
struct Executor: Sendable {
    /// How many dnsmasq starts run at once: a start is mostly CPU (dnsmasq reads every
    /// interface of the host), so twice the cores hides the waits without the crowding
    /// that 32 at once caused on two cores (measured with bench/bench.py at 100 networks).
    static let concurrentStarts = max(2, 2 * ProcessInfo.processInfo.activeProcessorCount)

    let system: any HostSystem
    let paths: Paths

    /// The units of `operations`, phase by phase. `host` is the host as last read: the
    /// connection cut, which runs after verification, decides from the verified host's addresses.
    func units(for operations: [MoatCore.Operation], host: HostState) -> [Unit] {
        let phases = Dictionary(grouping: operations, by: \.phase)
        return phases.keys.sorted().flatMap { units(phase: phases[$0] ?? [], host: host) }
    }

    /// The one unit that cuts connections for `cuts` (network and config of each
    /// `cutConnections`): lists the tracking table once, then deletes what the new rules
    /// would not admit, one entry at a time.
    func cutUnit(_ cuts: [(network: String, config: Config)], host: HostState) -> Unit? {
        guard let config = cuts.last?.config else { return nil }
        let networks = cuts.map(\.network)
        let tightened = Set(networks)
        return Unit(
            title: "cut the connections the new rules do not admit, of \(Self.names(networks))",
            ifFailed: "the connections the rules no longer admit may still be open; list them with `conntrack -L`"
        ) { [system] in
            let listing = try await system.check(Conntrack.listCommand)
            let doomed = ConnectionCut.toCut(
                Conntrack.parse(listing), config: config, tightened: tightened, local: host.localAddresses)
            for connection in doomed {
                let argv = connection.deleteArguments
                let result = try await system.run(argv, input: nil)
                // Gone already (it ended or timed out since the listing): nothing to do.
                if result.status == 1, result.stderr.contains(" 0 flow entries") { continue }
                guard result.status == 0 else { throw CommandFailure(argv: argv, result: result) }
            }
        }
    }

    /// The units of one phase: batched kinds become one unit, the others one unit each.
    func units(phase operations: [MoatCore.Operation], host: HostState) -> [Unit] {
        var units: [Unit] = []
        var links: [LinkCommand] = []
        var doomedBridges: [String] = []
        var cuts: [(network: String, config: Config)] = []
        var firewall: [MoatCore.Operation] = []
        var sysctls: [(device: String, key: String, value: String)] = []
        var removals: [String] = []
        var starts: [String] = []
        var files: [(network: String, instance: DnsmasqInstance)] = []
        var stops: [(network: String, pid: Int32)] = []
        for operation in operations {
            switch operation {
            case .link(let command): links.append(command)
            case .deleteBridge(let device): doomedBridges.append(device)
            case .disableIPv6(let device, let on):
                sysctls.append((device, "net/ipv6/conf/\(device)/disable_ipv6", on ? "1" : "0"))
            case .setARP(let device, let arp):
                sysctls.append((device, "net/ipv4/conf/\(device)/arp_ignore", "\(arp.ignore)"))
                sysctls.append((device, "net/ipv4/conf/\(device)/arp_announce", "\(arp.announce)"))
            case .writeChain, .deleteChain, .replaceJumps: firewall.append(operation)
            case .removeFiles(let files): removals += files
            case .forgetIPForwardRecord: removals.append(paths.ipForwardRecord)
            case .stopDnsmasq(let network, let pid): stops.append((network, pid))
            case .writeInterfaceRecord(let network, let record):
                units.append(Unit(title: "record interface \(record.device) as it is, for network \(network)") {
                    try system.write(paths.interfaceRecord(network), record.text)
                })
            case .ipForward(let on, let keeping):
                units.append(Unit(title: "set net.ipv4.ip_forward=\(on ? 1 : 0)") {
                    if let keeping { try system.write(paths.ipForwardRecord, keeping ? "1\n" : "0\n") }
                    try system.setSysctl("net/ipv4/ip_forward", on ? "1" : "0")
                })
            case .writeDnsmasqFiles(let network, let instance): files.append((network, instance))
            case .startDnsmasq(let network): starts.append(network)
            case .reloadDnsmasq(let network, let pid):
                units.append(Unit(title: "reload dnsmasq of \(network) (SIGHUP to pid \(pid))") { try system.signal(pid, .hangUp) })
            case .cutConnections(let network, let config): cuts.append((network, config))
            }
        }
        if !stops.isEmpty {
            let stops = stops
            let which = stops.count == 1 ? "\(stops[0].network) (pid \(stops[0].pid))" : Self.names(stops.map(\.network))
            units.insert(Unit(title: "stop dnsmasq of \(which)") { try await stopDnsmasqs(stops.map(\.pid)) }, at: 0)
        }
        // A network's files are written by the task that starts its dnsmasq, so the file
        // writes of one network overlap the start-up of others. Files of a network that is
        // not started (a reload) are written before its SIGHUP, in the same unit.
        let started = Set(starts)
        let notStarted = files.filter { !started.contains($0.network) }
        if !notStarted.isEmpty {
            units.insert(Unit(title: "write dnsmasq files of \(Self.names(notStarted.map(\.network)))") {
                for (network, instance) in notStarted { try writeFiles(network, instance) }
            }, at: 0)
        }
        if !starts.isEmpty {
            let starts = starts
            let instances = Dictionary(files.map { ($0.network, $0.instance) }, uniquingKeysWith: { $1 })
            let title = instances.isEmpty ? "start dnsmasq of" : "write dnsmasq files and start dnsmasq of"
            units.append(Unit(title: "\(title) \(Self.names(starts))") { try await startDnsmasqs(starts, writing: instances) })
        }
        if !links.isEmpty || !doomedBridges.isEmpty {
            let lines = LinkCommand.deletion(of: doomedBridges, host: host) + LinkCommand.batch(links)
            units.append(Unit(title: "ip -batch: \(count(links.count + doomedBridges.count, "device and address change"))") {
                try await system.check(["ip", "-batch", "-"], input: lines.joined(separator: "\n") + "\n")
            })
        }
        if !sysctls.isEmpty {
            let sysctls = sysctls
            var devices: [String] = []
            for sysctl in sysctls where !devices.contains(sysctl.device) { devices.append(sysctl.device) }
            units.append(Unit(title: "set IPv6 and ARP sysctls of \(Self.names(devices, of: "devices"))") {
                for sysctl in sysctls { try system.setSysctl(sysctl.key, sysctl.value) }
            })
        }
        var firewallUnits: [Unit] = []
        let iptables = firewall.filter { $0.backend == .iptables }
        if !iptables.isEmpty {
            let payload = IptablesBackend.restorePayload(operations: iptables)
            firewallUnits.append(Unit(title: "iptables-restore --noflush: \(count(iptables.count, "chain change"))") {
                try await system.check(["iptables-restore", "--noflush"], input: payload)
            })
        }
        if let transaction = NftablesBackend.transaction(live: IptablesBackend.moatChains(of: host), operations: firewall) {
            let changes = firewall.count - iptables.count
            let unit = Unit(title: "nft -f: table inet moat, \(count(changes, "chain change"))") {
                try await system.check(["nft", "-f", "-"], input: transaction)
            }
            // Moving to nftables, its table comes before iptables' chains go, so no packet
            // passes while neither holds moat's rules (while both do, both must admit it).
            if Self.onlyRemoves(iptables) { firewallUnits.insert(unit, at: 0) } else { firewallUnits.append(unit) }
        }
        units += firewallUnits
        if !removals.isEmpty {
            let removals = removals
            units.append(Unit(title: "remove \(count(removals.count, "file")) moat no longer needs") {
                // With each file, the temporary file a killed write of it may have left.
                for file in removals {
                    try system.remove(Paths.temporary(file))
                    try system.remove(file)
                }
            })
        }
        if let cut = cutUnit(cuts, host: host) { units.append(cut) }
        return units
    }

    /// Whether firewall `operations` only take rules away (chains deleted, jumps removed).
    static func onlyRemoves(_ operations: [MoatCore.Operation]) -> Bool {
        operations.allSatisfy { operation in
            switch operation {
            case .deleteChain: true
            case .replaceJumps(_, _, let new): new.isEmpty
            default: false
            }
        }
    }

    func writeFiles(_ network: String, _ instance: DnsmasqInstance) throws {
        try system.write(paths.dhcpHostsFile(network), instance.dhcpHosts)
        try system.write(paths.hostsFile(network), instance.hosts)
        try system.write(paths.dnsmasqConfig(network), instance.config)
    }

    /// Writes each network's files (when given) and starts its dnsmasq, `concurrentStarts`
    /// at a time. Every start is waited for, so the host is settled when this returns; the
    /// first failure is then thrown.
    func startDnsmasqs(_ networks: [String], writing files: [String: DnsmasqInstance] = [:]) async throws {
        let failures = await withTaskGroup(of: String?.self) { group in
            var failures: [String] = []
            var next = networks.makeIterator()
            func launch() -> Bool {
                guard let network = next.next() else { return false }
                group.addTask { [system, paths] in
                    do {
                        if let instance = files[network] { try writeFiles(network, instance) }
                        try await system.check(["dnsmasq", "--conf-file=\(paths.dnsmasqConfig(network))"])
                        return nil
                    } catch {
                        return "dnsmasq of \(network): \(error)"
                    }
                }
                return true
            }
            for _ in 0..<Self.concurrentStarts where !launch() { break }
            while let result = await group.next() {
                if let failure = result { failures.append(failure) }
                _ = launch()
            }
            return failures
        }
        if let first = failures.first {
            let more = failures.count > 1 ? " (and \(failures.count - 1) more)" : ""
            throw MoatError("cannot start \(first)\(more)")
        }
    }

    /// SIGTERM to all, then wait for them to go; SIGKILL to those still there after five
    /// seconds.
    func stopDnsmasqs(_ pids: [Int32]) async throws {
        var left = pids.filter(system.isRunning)
        for pid in left { try system.signal(pid, .terminate) }
        for attempt in 0..<500 {
            left = left.filter(system.isRunning)
            if left.isEmpty { return }
            if attempt == 250 { for pid in left { try system.signal(pid, .kill) } }
            try await Task.sleep(for: .milliseconds(attempt < 10 ? 2 : 20))
        }
        throw MoatError("dnsmasq (pid \(left.map(String.init).joined(separator: ", "))) did not stop after SIGTERM and SIGKILL")
    }

    /// "a", "a, b, c", or "250 networks (a … z)" for a unit's title.
    static func names(_ names: [String], of noun: String = "networks") -> String {
        guard names.count > 3, let first = names.first, let last = names.last else {
            return names.joined(separator: ", ")
        }
        return "\(names.count) \(noun) (\(first) … \(last))"
    }
}

func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
