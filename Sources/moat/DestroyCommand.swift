import ArgumentParser
import MoatCore
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
            let declared = all ? nil : Set(try options.loadConfig().networks.map(\.name))
            let holder = "destroy \(all ? "--all" : options.file)"
            let run = try await options.reconciler().run(.destroy(declared), holder: holder, lockTimeout: lockTimeout) { run in
                if !run.plan.isEmpty { print(run.plan.humanText(color: Terminal.standardOutput.color)) }
            }
            if run.plan.isEmpty {
                print("Nothing to destroy: none of \(all ? "moat's networks" : "the file's networks") is on this host.")
            } else {
                print("Destroy complete: \(run.plan.summary.destroy) destroyed.")
            }
        }
    }
}
