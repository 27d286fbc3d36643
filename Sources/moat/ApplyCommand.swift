import ArgumentParser
import MoatCore
import MoatReconcile

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "Make the host match the file: only what is missing or stale; rolled back on failure.",
        discussion: """
            On a terminal (standard input and output both), shows the plan and asks for 'yes' \
            before changing anything; any other answer changes nothing and exits 1. \
            --auto-approve, or no terminal (systemd, scripts, CI), acts without asking.
            """)

    @OptionGroup var options: HostOptions

    @OptionGroup var approval: ApprovalOptions

    @Option(name: .customLong("lock-timeout"), help: "Seconds to wait for another moat to finish (default 0).")
    var lockTimeout: Double = 0

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            let config = try options.loadConfig()
            let outcome = try await options.reconciler().run(.apply(config), holder: "apply \(options.file)", lockTimeout: lockTimeout) { run in
                printWarnings(of: run.plan)
                return approval.showAndConfirm(run.plan, json: json, question: "Do you want to apply this plan?")
            }
            guard case .done(let run) = outcome else { throw approval.declined("apply") }
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
