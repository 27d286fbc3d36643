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

    @Flag(help: "Under each step, every command, rule and file it runs or writes.")
    var verbose = false

    @Option(name: .customLong("out"), help: "Save the plan to PLANFILE, for `moat show` and `moat apply PLANFILE`.", completion: .file())
    var out: String?

    func run() async throws {
        var pending = false
        try await reportingErrors {
            let reconciler = options.reconciler()
            try Dependencies.check(["ip", "iptables-save", "iptables-restore", "dnsmasq"], system: reconciler.system)
            let (config, text) = try options.loadConfigAndText()
            let live = try await reconciler.snapshot()
            let plan = try reconciler.plan(config: config, live: live).plan
            printWarnings(of: plan)
            let paths = options.paths
            print(
                json ? plan.json() : plan.humanText(color: Terminal.standardOutput.color, operations: verbose ? paths : nil),
                terminator: "")
            if let out {
                let saved = SavedPlan(
                    plan: plan, file: .init(path: options.absoluteFile, text: text), host: try .read(reconciler.system), live: live,
                    config: config, paths: paths, moatVersion: Moat.version)
                try reconciler.system.write(out, saved.text)
                Terminal.standardError.write("moat: saved the plan to \(out); `moat show \(out)` prints it, `moat apply \(out)` applies exactly it")
            }
            pending = !plan.isEmpty
        }
        if detailedExitcode && pending { throw ExitCode(2) }
    }
}
