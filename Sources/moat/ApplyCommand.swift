import ArgumentParser
import MoatCore
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
            let config = try options.loadConfig()
            let run = try await options.reconciler().run(.apply(config), holder: "apply \(options.file)", lockTimeout: lockTimeout) { run in
                printWarnings(of: run.plan)
                if !json && !run.plan.isEmpty { print(run.plan.humanText(color: Terminal.standardOutput.color)) }
            }
            let plan = run.plan
            let s = plan.summary
            if json {
                print(plan.json(applied: true))
            } else {
                print(plan.isEmpty ? "No changes. The host matches the file; nothing was touched." : "Apply complete: \(s.add) added, \(s.change) changed, \(s.destroy) destroyed.")
            }
        }
    }
}
