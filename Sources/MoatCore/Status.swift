import Foundation
import MoatConfig

/// What `moat status` shows: every moat network found on the host and, when a file is
/// given, the file's networks that are not on it. Built by `Status.report`, pure.
public struct StatusReport: Hashable, Sendable {
    /// The file drift was judged against; nil when there was none.
    public var file: String?
    public var networks: [NetworkStatus]
    /// moat's chains that serve every network and the jumps into them.
    public var sharedFirewall: FirewallStatus
    /// `net.ipv4.ip_forward` on the host.
    public var ipForward: Bool
    /// Set when a journal is in the run dir: an apply or destroy is running, or was interrupted.
    public var journal: String?
    /// Whether that run was interrupted (killed) rather than still running.
    public var interrupted: Bool
    /// Networks of the file that cannot be placed on this host (`Placement.problems`).
    public var problems: [String]

    public init(
        file: String?, networks: [NetworkStatus], sharedFirewall: FirewallStatus, ipForward: Bool, journal: String? = nil,
        interrupted: Bool = false, problems: [String] = []
    ) {
        self.file = file
        self.networks = networks
        self.sharedFirewall = sharedFirewall
        self.ipForward = ipForward
        self.journal = journal
        self.interrupted = interrupted
        self.problems = problems
    }
}

/// One network as `moat status` sees it.
public struct NetworkStatus: Hashable, Sendable {
    public var name: String
    /// Whether the file declares it; nil when there is no file.
    public var declared: Bool?
    /// Whether anything of it is on the host (device mark, chains, dnsmasq, files).
    public var applied: Bool
    /// The device's name; nil when the host has chains or files of the network but no device.
    public var device: String?
    /// `bridge` (moat's own) or `interface` (an existing device moat configures).
    public var kind: String?
    public var exists: Bool
    public var up: Bool
    /// Every IPv4 address on the device.
    public var addresses: [IPv4CIDR]
    public var firewall: FirewallStatus
    /// nil when the network runs no dnsmasq.
    public var dnsmasq: DnsmasqStatus?
    /// Leases that have not expired, by IP.
    public var leases: [Lease]
    /// What `apply FILE` would do to this network; empty without a file.
    public var pending: [Plan.Step]
    /// An `optional` network whose device is not on the host: the device as the file gives it.
    public var waiting: String?
    /// How many addresses its DHCP hands out (the range and the static hosts outside it);
    /// nil without a file or without DHCP.
    public var poolSize: Int?

    public init(
        name: String, declared: Bool?, applied: Bool, device: String?, kind: String?, exists: Bool, up: Bool,
        addresses: [IPv4CIDR], firewall: FirewallStatus, dnsmasq: DnsmasqStatus?, leases: [Lease], pending: [Plan.Step],
        waiting: String? = nil, poolSize: Int? = nil
    ) {
        self.waiting = waiting
        self.poolSize = poolSize
        self.name = name
        self.declared = declared
        self.applied = applied
        self.device = device
        self.kind = kind
        self.exists = exists
        self.up = up
        self.addresses = addresses
        self.firewall = firewall
        self.dnsmasq = dnsmasq
        self.leases = leases
        self.pending = pending
    }
}

/// Whether moat's rules are as the file wants them.
public struct FirewallStatus: Hashable, Sendable {
    public enum State: String, Hashable, Sendable {
        /// The rules are exactly what the file renders.
        case inPlace = "in-place"
        /// Some rule is missing, extra or out of order; `apply` rewrites the chains.
        case drifted
        /// None of the chains is there.
        case missing
        /// Chains are there, but no file says what they should hold.
        case unchecked
    }

    public var state: State
    /// Why, when drifted (the first difference), missing or unchecked.
    public var reason: String?

    public init(_ state: State, reason: String? = nil) {
        self.state = state
        self.reason = reason
    }
}

/// A network's dnsmasq: the pid its pid file names, and whether that process is a dnsmasq
/// running this network's config.
public struct DnsmasqStatus: Hashable, Sendable {
    /// nil when there is no pid file (never started, or it exited and removed it).
    public var pid: Int32?
    public var running: Bool

    public init(pid: Int32?, running: Bool) {
        self.pid = pid
        self.running = running
    }
}

/// Builds the status report from values (pure), and reads the few files it needs besides a
/// snapshot (`readFiles`).
public enum Status {
    /// The report of `live`, judged against `config` when one is given.
    ///
    /// - Parameters:
    ///   - config: the file placed on this host (`Placement.config`).
    ///   - waiting: the file's optional networks whose device is not here.
    ///   - problems: the file's networks that cannot be placed.
    ///   - leases: each network's lease file, parsed; missing networks have none.
    ///   - pidFiles: the pid each network's pid file names, running or not.
    ///   - now: seconds since 1970, to leave expired leases out.
    public static func report(
        live: HostState, config: Config?, file: String?, paths: Paths, leases: [String: [Lease]], pidFiles: [String: Int32],
        now: Int, waiting: [Placement.Waiting] = [], problems: [String] = []
    ) -> StatusReport {
        let waitingFor = Dictionary(waiting.map { ($0.network, $0.device) }, uniquingKeysWith: { first, _ in first })
        // Judged as `plan` judges: the resolvers, records and interrupted run the snapshot found.
        let context = DiffContext(live)
        let declaredNames = Set(config?.networks.map(\.name) ?? [])
        var plan = Plan()
        var desired = HostState()
        if let config {
            // Judge only what is both declared and applied: a declared network that is not on
            // the host is reported as "not applied", not as drift of the shared chains, and a
            // network on the host that the file dropped is reported as such.
            let backend = FirewallDecision.choose(config.firewall, host: live).backend
            let rendered = DesiredState.render(config, paths: paths, upstream: live.resolvers, backend: backend)
            let notApplied = declaredNames.subtracting(live.networks.keys)
            let undeclared = Set(live.networks.keys).subtracting(declaredNames)
            desired = rendered
            plan = Diff.plan(
                desired: rendered.without(networks: notApplied), live: live.without(networks: undeclared), context: context,
                paths: paths)
        }

        var networks: [NetworkStatus] = []
        for name in declaredNames.union(live.networks.keys).union(waitingFor.keys).sorted() {
            let found = live.networks[name]
            let wanted = desired.networks[name]
            let steps = plan.steps.filter { $0.network == name }
            let declared: Bool? = config == nil ? nil : declaredNames.contains(name) || waitingFor[name] != nil
            let device = found?.device ?? wanted?.device
            let deviceName = device.flatMap { $0.name.isEmpty ? nil : $0.name }
            networks.append(
                NetworkStatus(
                    name: name, declared: declared, applied: found != nil, device: deviceName,
                    kind: deviceName == nil ? nil : (device?.owned == true ? "bridge" : "interface"),
                    exists: found?.device.exists ?? false, up: found?.device.up ?? false,
                    addresses: found?.device.addresses ?? [],
                    firewall: firewall(found: found, declared: declared ?? false, steps: steps),
                    dnsmasq: dnsmasq(found: found, wanted: wanted, pidFile: pidFiles[name]),
                    leases: (leases[name] ?? []).filter { $0.isActive(at: now) }.sorted { $0.ip < $1.ip },
                    pending: found == nil ? [] : steps, waiting: waitingFor[name],
                    poolSize: config?.networks.first { $0.name == name }.flatMap(\.dhcp).map(poolSize)))
        }

        return StatusReport(
            file: config == nil ? nil : file, networks: networks,
            sharedFirewall: sharedFirewall(live: live, judged: config != nil, steps: plan.steps.filter { $0.network == nil }),
            ipForward: live.ipForward, journal: journalNote(live.records), interrupted: live.records.journalInterrupted,
            problems: problems)
    }

    /// The addresses a DHCP hands out: its range, and the static hosts outside it.
    static func poolSize(_ dhcp: DHCP) -> Int {
        (dhcp.range?.count ?? 0) + dhcp.hosts.filter { host in dhcp.range.map { !$0.contains(host.ip) } ?? true }.count
    }

    /// What a journal left in the run dir means: a run in progress, or one that was interrupted.
    static func journalNote(_ records: MoatRecords) -> String? {
        guard let journal = records.journal else { return nil }
        let progress = "\(journal.completed) of \(journal.units.count) steps done"
        guard records.journalInterrupted else {
            return "`moat \(journal.command)` (pid \(journal.pid)) is running: \(progress); this status may show it half-way"
        }
        return "`moat \(journal.command)` (pid \(journal.pid), started \(journal.started)) was interrupted after \(progress); "
            + "the next `moat apply` or `moat destroy` converges"
    }

    static func firewall(found: NetworkState?, declared: Bool, steps: [Plan.Step]) -> FirewallStatus {
        guard let found, !found.chains.isEmpty else { return FirewallStatus(.missing) }
        guard declared else {
            return FirewallStatus(.unchecked, reason: "no file declares this network")
        }
        if let step = steps.first(where: { $0.subject == .firewallChains }) {
            return FirewallStatus(.drifted, reason: step.details)
        }
        return FirewallStatus(.inPlace)
    }

    static func sharedFirewall(live: HostState, judged: Bool, steps: [Plan.Step]) -> FirewallStatus {
        let firewallSteps = steps.filter { $0.subject != .ipForward }
        if live.sharedChains.isEmpty && live.jumps.isEmpty {
            return FirewallStatus(.missing)
        }
        guard judged else { return FirewallStatus(.unchecked, reason: "no file to compare with") }
        if firewallSteps.isEmpty { return FirewallStatus(.inPlace) }
        return FirewallStatus(.drifted, reason: firewallSteps.map(\.details).joined(separator: "; "))
    }

    static func dnsmasq(found: NetworkState?, wanted: NetworkState?, pidFile: Int32?) -> DnsmasqStatus? {
        if let pid = found?.dnsmasq?.pid { return DnsmasqStatus(pid: pid, running: true) }
        guard found?.dnsmasq != nil || wanted?.dnsmasq != nil || pidFile != nil else { return nil }
        guard found != nil else { return nil }  // not applied: nothing to say about a process
        return DnsmasqStatus(pid: pidFile, running: false)
    }
}

extension Plan.Step {
    /// What differs, in the file's terms; the reason when the step lists no change.
    var details: String { changes.isEmpty ? reason : changes.map(\.description).joined(separator: "; ") }
}
