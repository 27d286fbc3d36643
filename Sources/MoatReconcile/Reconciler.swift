import Foundation
import MoatConfig
import MoatHost

/// Runs `apply` and `destroy`: lock, journal, snapshot, diff, execute, verify, and on any
/// failure a rollback, which is a plan towards the snapshot taken before.
public struct Reconciler: Sendable {
    public let system: any HostSystem
    public let paths: Paths
    /// Reads the live host (injected so tests can serve a recorded host).
    public let snapshot: @Sendable () async throws -> HostState
    /// One line per unit of work, for stderr.
    public let progress: @Sendable (String) -> Void
    /// The /proc files the safety rails read beyond the snapshot (who listens on a port a
    /// new forward would take); read only when the plan has such a forward.
    public let files: any HostFiles

    public init(
        system: any HostSystem, paths: Paths, snapshot: @escaping @Sendable () async throws -> HostState,
        progress: @escaping @Sendable (String) -> Void, files: any HostFiles
    ) {
        self.system = system
        self.paths = paths
        self.snapshot = snapshot
        self.progress = progress
        self.files = files
    }

    /// What moat recorded before changing what it does not own, for the networks on the host.
    public func context(for live: HostState, restart: Set<String> = []) -> DiffContext {
        var records: [String: InterfaceRecord] = [:]
        for name in live.networks.keys {
            guard let text = system.read(paths.interfaceRecord(name)),
                let record = try? JSONDecoder().decode(InterfaceRecord.self, from: Data(text.utf8))
            else { continue }
            records[name] = record
        }
        let forward = system.read(paths.ipForwardRecord)?.trimmingCharacters(in: .whitespacesAndNewlines)
        return DiffContext(ipForwardRecord: forward.map { $0 == "1" }, interfaceRecords: records, restartDnsmasq: restart)
    }

    /// dnsmasq re-reads its hosts files as an unprivileged user (and on SIGHUP), so every
    /// folder above them must let others through; otherwise it silently serves no static
    /// host. Checked before anything is touched.
    public static func checkReachableByDnsmasq(_ stateDir: String) throws {
        var folder = URL(fileURLWithPath: stateDir).standardizedFileURL
        while true {
            var info = stat()
            if stat(folder.path, &info) == 0, info.st_mode & S_IXOTH == 0 {
                throw MoatError(
                    "the state dir \(stateDir) is inside \(folder.path), which others cannot enter (mode \(String(info.st_mode & 0o777, radix: 8))); dnsmasq reads its hosts files as an unprivileged user and would serve no static host. Allow it (chmod o+x \(folder.path)) or choose another --state-dir")
            }
            if folder.path == "/" { return }
            folder.deleteLastPathComponent()
        }
    }

    /// The host's resolvers, which nat networks' dnsmasq forwards to (named in its config
    /// rather than followed in resolv.conf: see `DnsmasqConfig`).
    public func upstreamResolvers() -> [String] {
        DnsmasqConfig.upstream(resolvConf: system.read("/etc/resolv.conf") ?? "")
    }

    /// The plan that makes the host match `config`, or the conflicts and refusals of the
    /// safety rails that stand in the way. The plan carries the rails' warnings.
    public func plan(config: Config, live: HostState, restart: Set<String> = []) throws -> (desired: HostState, plan: Plan) {
        let context = context(for: live, restart: restart)
        var problems = Conflicts.find(config: config, live: live)
        problems += SafetyRails.sharedInterfaces(config: config, live: live, records: context.interfaceRecords)
        problems += try takenPorts(config: config, live: live)
        guard problems.isEmpty else {
            throw MoatError("the host is in the way of the file:\n" + problems.map { "  - \($0)" }.joined(separator: "\n"))
        }
        let desired = DesiredState.render(config, paths: paths, upstream: upstreamResolvers())
        var plan = Diff.plan(desired: desired, live: live, context: context, paths: paths)
        plan.steps += ConnectionCut.steps(config: config, desired: desired, live: live)
        plan.warnings = SafetyRails.warnings(config: config, live: live)
        return (desired, plan)
    }

    /// Rail B: the new or changed forwards over a port a host process listens on. Reads /proc
    /// only when there is such a forward, so a converged plan costs the snapshot alone.
    func takenPorts(config: Config, live: HostState) throws -> [String] {
        let forwards = SafetyRails.newForwards(config: config, live: live)
        guard !forwards.isEmpty else { return [] }
        let listeners = try Listeners.read(ports: Set(forwards.map(\.port)), files: files)
        let ownPids = Set(live.networks.values.compactMap { $0.dnsmasq?.pid })
        return SafetyRails.takenPorts(forwards, listeners: listeners, ownPids: ownPids)
    }

    /// Finds a journal left by an interrupted run: says so, and names the networks whose
    /// dnsmasq must restart to be sure it runs what its files say.
    public func recoverJournal() -> Set<String> {
        guard let journal = Journal.load(from: system, paths: paths) else { return [] }
        progress("moat: " + journal.interruptedMessage)
        return Set(journal.dnsmasqNetworks)
    }

    /// Executes `plan` under the journal; verifies that `desired(after)` has nothing left to
    /// do; on failure rolls back to `before` and throws (exit 1, or 3 if the rollback failed).
    /// What cannot be undone (cutting connections) runs only then, journaled too; its failure
    /// is an error (exit 1) with the rules left applied.
    public func execute(_ plan: Plan, command: String, before: HostState, desired: @escaping @Sendable (HostState) -> HostState) async throws {
        let executor = Executor(system: system, paths: paths)
        let units = executor.units(for: plan)
        let last = executor.cutUnit(for: plan)
        var verified = before
        let total = units.count + (last == nil ? 0 : 1)
        var journal = Journal(
            command: command, pid: getpid(), started: ISO8601DateFormatter().string(from: Date()),
            units: units.map(\.title) + (last.map { [$0.title] } ?? []),
            dnsmasqNetworks: Array(Set(plan.steps.flatMap(\.operations).compactMap(\.dnsmasqNetwork))).sorted())
        var done: [String] = []
        do {
            for (index, unit) in units.enumerated() {
                journal.completed = index
                try journal.save(to: system, paths: paths)
                progress("[\(index + 1)/\(total)] \(unit.title)")
                try await unit.work()
                done.append(unit.title)
            }
            journal.completed = units.count
            try journal.save(to: system, paths: paths)
            let after = try await snapshot()
            let left = Diff.plan(desired: desired(after), live: after, context: context(for: after), paths: paths)
            guard left.isEmpty else {
                throw MoatError("verification failed: after \(command), the host still differs from the file:\n" + left.humanText(color: false))
            }
            verified = after
        } catch {
            let cause = "\(error)"
            progress("moat: \(command) failed: \(cause)")
            progress("moat: rolling back \(done.count) completed step\(done.count == 1 ? "" : "s")")
            try await rollBack(to: before, command: command, cause: cause, done: done)
        }
        if let last {
            progress("[\(total)/\(total)] \(last.title)")
            do {
                try await last.work(verified)
            } catch {
                try? system.remove(paths.journal)
                throw MoatError(
                    "\(command) applied and verified the new rules, but could not \(last.title): \(error)\nthe connections the rules no longer admit may still be open; list them with `conntrack -L`")
            }
            journal.completed = total
            try journal.save(to: system, paths: paths)
        }
        try system.remove(paths.journal)
    }

    func rollBack(to before: HostState, command: String, cause: String, done: [String]) async throws -> Never {
        let executor = Executor(system: system, paths: paths)
        var left = "unknown: the host could not be read"
        do {
            let now = try await snapshot()
            let back = Diff.plan(desired: before, live: now, context: context(for: now), paths: paths)
            for unit in executor.units(for: back) {
                progress("[rollback] \(unit.title)")
                try await unit.work()
            }
            let after = try await snapshot()
            let remaining = Diff.plan(desired: before, live: after, context: context(for: after), paths: paths)
            guard remaining.isEmpty else {
                left = remaining.humanText(color: false)
                throw MoatError("the host still differs from before")
            }
        } catch {
            throw MoatError(
                .rollbackFailed,
                "\(command) failed: \(cause)\nthe rollback failed too: \(error)\nstate unknown; what differs from before the \(command):\n\(left)\nrun `moat apply` or `moat destroy --all` to converge")
        }
        try? system.remove(paths.journal)
        let undone = done.isEmpty ? "nothing had been changed" : "undid: " + done.reversed().joined(separator: "; ")
        throw MoatError("\(command) failed: \(cause)\nrolled back (\(undone)); the host is as it was before")
    }
}

extension HostState {
    /// The host with `networks` gone: their chains, their rules in shared chains (known by
    /// their owner), shared chains left empty and the jumps to them.
    public func without(networks removed: Set<String>) -> HostState {
        var state = self
        state.networks = networks.filter { !removed.contains($0.key) }
        // With no network left, no shared chain serves anything, whatever its rules say.
        if state.networks.isEmpty {
            state.sharedChains = [:]
            state.jumps = [:]
            return state
        }
        var shared: [ChainID: [FirewallRule]] = [:]
        for (chain, rules) in sharedChains {
            let kept = rules.filter { rule in
                guard case .network(let owner) = rule.owner else { return true }
                return !removed.contains(owner)
            }
            if !kept.isEmpty { shared[chain] = kept }
        }
        state.sharedChains = shared
        var jumps: [ChainID: [FirewallRule]] = [:]
        for (builtin, rules) in self.jumps {
            let kept = rules.filter { rule in
                shared.keys.contains { $0.table == builtin.table && rule.verdict == .jump($0.name) }
            }
            if !kept.isEmpty { jumps[builtin] = kept }
        }
        state.jumps = jumps
        return state
    }
}
