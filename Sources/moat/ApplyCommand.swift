import ArgumentParser
import MoatHost
import MoatReconcile

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "Make the host match the file: only what is missing or stale; rolled back on failure.")

    @OptionGroup var options: HostOptions

    @Option(name: .customLong("lock-timeout"), help: "Seconds to wait for another moat to finish (default 0).")
    var lockTimeout: Double = 0

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            try Dependencies.check(Dependencies.always)
            let config = try options.loadConfig()
            let paths = options.paths
            try Reconciler.checkReachableByDnsmasq(paths.stateDir)
            let lock = try HostLock.acquire(path: paths.lockFile, command: "apply \(options.file)", timeout: lockTimeout)
            defer { withExtendedLifetime(lock) {} }
            let reconciler = options.reconciler()
            let restart = reconciler.recoverJournal()
            let live = try await reconciler.snapshot()
            let (desired, plan) = try reconciler.plan(config: config, live: live, restart: restart)
            printWarnings(of: plan)
            if plan.isEmpty {
                try reconciler.system.remove(paths.journal)
                print(json ? plan.json(applied: true) : "No changes. The host matches the file; nothing was touched.")
                return
            }
            if plan.steps.flatMap(\.operations).contains(where: \.runsAfterVerify) { try Dependencies.check(["conntrack"]) }
            if !json { print(plan.humanText(color: Terminal.standardOutput.color)) }
            try await reconciler.execute(plan, command: "apply", before: live, desired: { _ in desired })
            let s = plan.summary
            print(json ? plan.json(applied: true) : "Apply complete: \(s.add) added, \(s.change) changed, \(s.destroy) destroyed.")
        }
    }
}
