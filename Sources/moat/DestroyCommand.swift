import ArgumentParser
import MoatHost
import MoatReconcile

struct DestroyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy", abstract: "Remove the networks the file declares, or with --all every network moat owns.")

    @OptionGroup var options: HostOptions

    @Flag(help: "Remove every network moat owns on this host, with or without a file.")
    var all = false

    @Option(name: .customLong("lock-timeout"), help: "Seconds to wait for another moat to finish (default 0).")
    var lockTimeout: Double = 0

    func run() async throws {
        try await reportingErrors {
            try Dependencies.check(Dependencies.always)
            let declared = all ? nil : Set(try options.loadConfig().networks.map(\.name))
            let paths = options.paths
            let lock = try HostLock.acquire(path: paths.lockFile, command: "destroy \(all ? "--all" : options.file)", timeout: lockTimeout)
            defer { withExtendedLifetime(lock) {} }
            let reconciler = options.reconciler()
            _ = reconciler.recoverJournal()
            let live = try await reconciler.snapshot()
            let leaving = declared ?? Set(live.networks.keys)
            let desired = live.without(networks: leaving)
            var context = reconciler.context(for: live)
            context.leaving = all ? "moat destroy --all" : "moat destroy"
            let plan = Diff.plan(desired: desired, live: live, context: context, paths: paths)
            if plan.isEmpty {
                try reconciler.system.remove(paths.journal)
                print("Nothing to destroy: none of \(all ? "moat's networks" : "the file's networks") is on this host.")
                return
            }
            print(plan.humanText(color: Terminal.standardOutput.color))
            try await reconciler.execute(plan, command: "destroy", before: live, desired: { $0.without(networks: leaving) })
            print("Destroy complete: \(plan.summary.destroy) destroyed.")
        }
    }
}
