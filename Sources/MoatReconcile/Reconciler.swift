import Foundation
import MoatConfig
import MoatCore

/// The one run path of `apply` and `destroy`, and the planning `plan` and `status` share:
/// lock, journal, snapshot, diff, execute, verify, and on any failure a rollback, which is a
/// plan towards the snapshot taken before. Commands read their arguments, call it and print.
public struct Reconciler: Sendable {
    public let system: any HostSystem
    public let paths: Paths
    /// One line per unit of work, for stderr.
    public let progress: @Sendable (String) -> Void

    public init(system: any HostSystem, paths: Paths, progress: @escaping @Sendable (String) -> Void) {
        self.system = system
        self.paths = paths
        self.progress = progress
    }

    /// What a run is for.
    public enum Goal: Sendable {
        /// Make the host match the file.
        case apply(Config)
        /// Remove these networks; nil: every network moat owns (`destroy --all`).
        case destroy(Set<String>?)

        var command: String {
            if case .apply = self { "apply" } else { "destroy" }
        }
    }

    /// A planned run: the host it was planned against, the plan, and what the host should be
    /// once it ran.
    public struct PreparedRun: Sendable {
        /// For apply, the file placed on the host (`Placement`): every device named, waiting
        /// networks left out.
        public var goal: Goal
        public var before: HostState
        public var plan: Plan
        /// The placed config an apply makes the host match; nil for a destroy.
        public var config: Config? {
            if case .apply(let config) = goal { config } else { nil }
        }

        /// The networks the run removes when it destroys (fixed when planned, so the
        /// verification judges the same set).
        var leaving: Set<String>

        /// The host this run makes of `live`: the file rendered with the host's resolvers in
        /// the backend chosen when planned, or the host without the networks that leave.
        func desired(_ live: HostState, paths: Paths) -> HostState {
            switch goal {
            case .apply(let config):
                DesiredState.render(config, paths: paths, upstream: live.resolvers, backend: plan.firewall?.backend ?? .iptables)
            case .destroy: live.without(networks: leaving)
            }
        }
    }

    /// Reads the host (`Snapshot.read` through the seam).
    public func snapshot() async throws -> HostState {
        try await Snapshot.read(system, paths: paths)
    }

    // MARK: - Planning (pure but for the /proc reads of the port rail)

    /// The plan that makes `live` match the file, placed on this host first (`Placement`:
    /// devices found by MAC, optional networks without their device waiting), or the
    /// conflicts and refusals of the safety rails that stand in the way; with the placed
    /// config. The plan carries the rails' warnings and what waits. After an interrupted
    /// run it restarts the dnsmasqs that run touched, as `apply` will.
    public func plan(config file: Config, live: HostState) throws -> (desired: HostState, plan: Plan, config: Config) {
        let placement = Planning.check(file, on: live)
        let problems = placement.problems + (try takenPorts(config: placement.config, live: live))
        guard problems.isEmpty else {
            throw MoatError("the host is in the way of the file:\n" + problems.map { "  - \($0)" }.joined(separator: "\n"))
        }
        let planned = Planning.plan(placement, live: live, paths: paths)
        return (planned.desired, planned.plan, placement.config)
    }

    /// The run `goal` needs on `live`.
    public func prepare(_ goal: Goal, live: HostState) throws -> PreparedRun {
        switch goal {
        case .apply(let file):
            let planned = try plan(config: file, live: live)
            return PreparedRun(goal: .apply(planned.config), before: live, plan: planned.plan, leaving: [])
        case .destroy(let declared):
            let planned = Planning.destroy(declared, live: live, paths: paths)
            return PreparedRun(goal: goal, before: live, plan: planned.plan, leaving: planned.leaving)
        }
    }

    /// Rail B: the new or changed forwards over a port a host process listens on. Reads /proc
    /// only when there is such a forward, so a converged plan costs the snapshot alone.
    func takenPorts(config: Config, live: HostState) throws -> [String] {
        let forwards = SafetyRails.newForwards(config: config, live: live)
        guard !forwards.isEmpty else { return [] }
        let listeners = try Listeners.read(ports: Set(forwards.map(\.port)), system: system)
        let ownPids = Set(live.networks.values.compactMap { $0.dnsmasq?.pid })
        return SafetyRails.takenPorts(forwards, listeners: listeners, ownPids: ownPids)
    }

    // MARK: - Running

    /// What came of a run.
    public enum Outcome: Sendable {
        /// The plan was executed (or was empty), verified, and the journal cleared.
        case done(PreparedRun)
        /// `confirm` said no: nothing was executed and nothing on the host or in the run dir
        /// was changed (an interrupted run's journal stays for the next run).
        case declined(PreparedRun)

        /// The run as planned, whatever came of it.
        public var run: PreparedRun {
            switch self {
            case .done(let run), .declined(let run): run
            }
        }
    }

    /// Runs `goal`: checks the programs it needs, takes the lock (naming `holder` to a second
    /// moat), says so if the last run was interrupted, reads the host, plans, and asks
    /// `confirm` whether to go on; it prints the plan and may ask a person, all under the lock,
    /// so the host cannot change between the answer and the execution. `confirm` sees every
    /// plan, an empty one too (for its warnings). On yes it executes the plan (nothing when it
    /// is empty, but clearing a stale journal); on no it touches nothing.
    public func run(_ goal: Goal, holder: String, lockTimeout: Double, confirm: (PreparedRun) throws -> Bool) async throws -> Outcome {
        try Dependencies.check(Dependencies.always, system: system)
        if case .apply = goal { try checkReachableByDnsmasq(paths.stateDir) }
        let lock = try system.lock(paths.lockFile, holder: holder, timeout: lockTimeout)
        defer { withExtendedLifetime(lock) {} }
        try await settleInterruptedStarts()
        var live = try await snapshot()
        if let journal = live.records.journal {
            // Under the lock, a journal can only be a dead run's, whoever has its pid now.
            live.records.journalInterrupted = true
            progress("moat: " + journal.interruptedMessage)
        }
        let run = try prepare(goal, live: live)
        let operations = run.plan.steps.flatMap(\.operations)
        if operations.contains(where: { $0.phase == .cutConnections }) {
            try Dependencies.check(["conntrack"], system: system)
        }
        if operations.contains(where: { $0.backend == .nftables }) {
            try Dependencies.check(["nft"], system: system)
        }
        guard try confirm(run) else { return .declined(run) }
        var failure: (any Error)?
        do {
            if !run.plan.isEmpty { try await execute(run) }
        } catch {
            failure = error
        }
        // The journal goes once the host is as a plan left it: converged, rolled back, or
        // applied but for a last step the error names. After a failed rollback it stays, so
        // the next run says the last one was interrupted and restarts what it touched.
        if (failure as? MoatError)?.kind != .rollbackFailed {
            do {
                try system.remove(paths.journal)
            } catch {
                // After a failure, that failure is what the user needs; the journal left behind
                // only makes the next run converge.
                guard failure == nil else { throw failure ?? error }
                throw MoatError(
                    "\(run.goal.command) applied and verified the changes, but could not remove its journal \(paths.journal): \(error)"
                        + "\nthe next run will take this one for interrupted, and converge")
            }
        }
        if let failure { throw failure }
        return .done(run)
    }

    /// Executes the run's plan under the journal and verifies that nothing is left to do but
    /// what runs after verification; on failure rolls back to `before` and throws (exit 1, or
    /// 3 if the rollback failed). What cannot be undone (deleting bridges, removing files,
    /// cutting connections) runs only then, journaled too; its failure is an error (exit 1)
    /// with the verified changes left applied.
    func execute(_ run: PreparedRun) async throws {
        let command = run.goal.command
        let executor = Executor(system: system, paths: paths)
        let operations = run.plan.steps.flatMap(\.operations)
        let units = executor.units(for: operations.filter { !$0.phase.runsAfterVerify }, host: run.before)
        let later = operations.filter(\.phase.runsAfterVerify)
        let laterTitles = executor.units(for: later, host: run.before).map(\.title)
        let total = units.count + laterTitles.count
        var journal = Journal(
            command: command, pid: system.processID, started: ISO8601DateFormatter().string(from: system.now()),
            units: units.map(\.title) + laterTitles,
            dnsmasqNetworks: Array(Set(operations.compactMap(\.dnsmasqNetwork))).sorted())
        var done: [String] = []
        let verified: HostState
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
            let left = Diff.plan(desired: run.desired(after, paths: paths), live: after, context: DiffContext(after), paths: paths)
            let unfinished = left.steps.filter { step in step.operations.contains { !$0.phase.runsAfterVerify } }
            guard unfinished.isEmpty else {
                throw MoatError(
                    "verification failed: after \(command), the host still differs from the file:\n"
                        + left.humanText(color: false))
            }
            verified = after
        } catch {
            let cause = "\(error)"
            progress("moat: \(command) failed: \(cause)")
            progress("moat: rolling back \(done.count) completed step\(done.count == 1 ? "" : "s")")
            try await rollBack(to: run.before, command: command, cause: cause, done: done)
        }
        for (index, unit) in executor.units(for: later, host: verified).enumerated() {
            journal.completed = units.count + index
            progress("[\(units.count + index + 1)/\(total)] \(unit.title)")
            do {
                try journal.save(to: system, paths: paths)
                try await unit.work()
            } catch {
                throw MoatError(
                    "\(command) applied and verified the changes, but could not \(unit.title): \(error)"
                        + (unit.ifFailed.map { "\n" + $0 } ?? "")
                        + "\nrun `moat \(command)` again to finish")
            }
        }
    }

    /// Undoes a failed run: a plan from the host as it is now towards `before`, every phase
    /// at once (nothing is deferred: it is the way back). Throws exit 1 naming what was undone,
    /// or exit 3 naming what still differs from before, read from the host afresh.
    func rollBack(to before: HostState, command: String, cause: String, done: [String]) async throws -> Never {
        let executor = Executor(system: system, paths: paths)
        do {
            let now = try await snapshot()
            let back = Diff.plan(desired: before, live: now, context: DiffContext(now), paths: paths)
            for unit in executor.units(for: back.steps.flatMap(\.operations), host: now) {
                progress("[rollback] \(unit.title)")
                try await unit.work()
            }
            let after = try await snapshot()
            if !Diff.plan(desired: before, live: after, context: DiffContext(after), paths: paths).isEmpty {
                throw MoatError("the host still differs from before")
            }
        } catch {
            throw MoatError(
                .rollbackFailed,
                "\(command) failed: \(cause)\nthe rollback failed too: \(error)\nwhat differs from before the \(command):\n"
                    + (await differences(from: before))
                    + "run `moat apply` or `moat destroy --all` to converge")
        }
        let undone = done.isEmpty ? "nothing had been changed" : "undid: " + done.reversed().joined(separator: "; ")
        throw MoatError("\(command) failed: \(cause)\nrolled back (\(undone)); the host is as it was before")
    }

    /// What a fresh read of the host shows to differ from `before`, as plan lines.
    func differences(from before: HostState) async -> String {
        do {
            let now = try await snapshot()
            let back = Diff.plan(desired: before, live: now, context: DiffContext(now), paths: paths)
            return back.isEmpty ? "nothing: the host reads as it was before\n" : back.humanText(color: false)
        } catch {
            return "unknown: the host could not be read: \(error)\n"
        }
    }

    /// dnsmasq re-reads its hosts files as an unprivileged user (and on SIGHUP), so every
    /// folder above them must let others through; otherwise it silently serves no static
    /// host. Checked before anything is touched.
    func checkReachableByDnsmasq(_ stateDir: String) throws {
        var folder = URL(fileURLWithPath: stateDir).standardizedFileURL
        while true {
            if let mode = system.permissions(folder.path), mode & 0o001 == 0 {
                throw MoatError(
                    "the state dir \(stateDir) is inside \(folder.path), which others cannot enter (mode \(String(mode & 0o777, radix: 8))); dnsmasq reads its hosts files as an unprivileged user and would serve no static host. Allow it (chmod o+x \(folder.path)) or choose another --state-dir")
            }
            if folder.path == "/" { return }
            folder.deleteLastPathComponent()
        }
    }
}
