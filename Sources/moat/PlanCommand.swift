import ArgumentParser
import MoatCore
import MoatReconcile

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Show what apply would change on this host; change nothing.")

    @OptionGroup var options: HostOptions

    @Flag(help: "Print the plan as JSON.")
    var json = false

    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 0 when there is nothing to do, 2 when there are changes.")
    var detailedExitcode = false

    func run() async throws {
        var pending = false
        try await reportingErrors {
            let reconciler = options.reconciler()
            try Dependencies.check(["ip", "iptables-save", "iptables-restore", "dnsmasq"], system: reconciler.system)
            let config = try options.loadConfig()
            let live = try await reconciler.snapshot()
            let plan = try reconciler.plan(config: config, live: live).plan
            printWarnings(of: plan)
            print(json ? plan.json() : plan.humanText(color: Terminal.standardOutput.color), terminator: "")
            pending = !plan.isEmpty
        }
        if detailedExitcode && pending { throw ExitCode(2) }
    }
}
