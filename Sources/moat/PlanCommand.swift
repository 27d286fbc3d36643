import ArgumentParser
import MoatCore
import MoatReconcile

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Show what apply (or with --destroy, destroy) would change on this host; change nothing.",
        discussion: """
            Takes no lock and changes nothing. --destroy shows what `moat destroy FILE` would \
            remove, --destroy --all what `moat destroy --all` would.

            EXIT CODES: 0 done (with --detailed-exitcode: nothing to do), 2 with \
            --detailed-exitcode: changes pending, 1 error (invalid file, a conflict, a safety \
            rail, a missing program), 64 usage error.

            EXAMPLES:
              moat plan /etc/moat/moat.yaml --detailed-exitcode
              moat plan /etc/moat/moat.d --out lab.plan
            """)

    @OptionGroup var options: HostOptions

    @Flag(help: "Show what destroy would remove instead of what apply would change.")
    var destroy = false

    @Flag(help: "With --destroy: every network moat owns on this host, with or without a file.")
    var all = false

    @Flag(help: "Print the plan as JSON.")
    var json = false

    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 0 when there is nothing to do, 2 when there are changes.")
    var detailedExitcode = false

    @Flag(help: "Under each step, every command, rule and file it runs or writes.")
    var verbose = false

    @Option(name: .customLong("out"), help: "Save the plan to PLANFILE, for `moat show` and `moat apply PLANFILE`.", completion: .file())
    var out: String?

    func validate() throws {
        if all && !destroy { throw ValidationError("--all goes with --destroy: `moat plan --destroy --all`") }
        if destroy && out != nil { throw ValidationError("--out saves plans for `moat apply PLANFILE`; a destroy is not saved") }
        if out != nil && options.files.contains("-") {
            throw ValidationError("--out: a saved plan is checked against its files when applied; give the file's path, not `-`")
        }
    }

    func run() async throws {
        var pending = false
        try await reportingErrors(json: json) {
            let reconciler = options.reconciler()
            let paths = options.paths
            let plan: Plan
            var save: (() throws -> SavedPlan)?
            if destroy {
                try Dependencies.check(["ip", "iptables-save"], system: reconciler.system)
                let declared = all ? nil : Set(try options.loadConfig().networks.map(\.name))
                plan = try reconciler.prepare(.destroy(declared), live: try await reconciler.snapshot()).plan
            } else {
                try Dependencies.check(["ip", "iptables-save", "iptables-restore", "dnsmasq"], system: reconciler.system)
                let (config, check) = try options.loadChecked()
                let live = try await reconciler.snapshot()
                let planned = try reconciler.plan(config: config, live: live)
                plan = planned.plan
                save = {
                    SavedPlan(
                        plan: planned.plan, arguments: options.files.map(HostOptions.absolute),
                        files: check.sources.map { .init(path: HostOptions.absolute($0.file), text: $0.text) },
                        host: try .read(reconciler.system), live: live, config: planned.config, paths: paths, moatVersion: Moat.version)
                }
            }
            printWarnings(of: plan)
            if json {
                print(plan.json(paths: paths), terminator: "")
            } else if destroy && plan.isEmpty {
                print("Nothing to destroy: none of \(all ? "moat's networks" : "the file's networks") is on this host.")
            } else {
                print(plan.humanText(color: Terminal.standardOutput.color, operations: verbose ? paths : nil), terminator: "")
            }
            if let out, let save {
                try reconciler.system.write(out, try save().text)
                Terminal.standardError.write("moat: saved the plan to \(out); `moat show \(out)` prints it, `moat apply \(out)` applies exactly it")
            }
            pending = !plan.isEmpty
        }
        if detailedExitcode && pending { throw ExitCode(2) }
    }
}
