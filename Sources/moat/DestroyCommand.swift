import ArgumentParser
import MoatCore
import MoatReconcile

struct DestroyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy", abstract: "Remove the networks the file declares, or with --all every network moat owns.",
        discussion: """
            On a terminal (standard input and output both), shows the plan and asks for 'yes' \
            before removing anything; any other answer changes nothing and exits 1. \
            --auto-approve, or no terminal (systemd, scripts, CI), acts without asking. \
            `moat plan --destroy` shows the same plan without the lock or the question.

            EXIT CODES: 0 removed (or nothing to remove), 1 error, or failed and rolled back, \
            or the answer was not 'yes', 3 the rollback failed too, 75 another moat holds the \
            lock, 64 usage error.

            EXAMPLES:
              moat destroy /etc/moat/moat.yaml
              moat destroy --all --auto-approve
            """)

    @OptionGroup var options: HostOptions

    @OptionGroup var approval: ApprovalOptions

    @Flag(help: "Remove every network moat owns on this host, with or without a file.")
    var all = false

    @Option(name: .customLong("lock-timeout"), help: "Seconds to wait for another moat to finish.")
    var lockTimeout: Double = 0

    @Flag(help: "Print the result as JSON, as apply --json does.")
    var json = false

    func run() async throws {
        try await reportingErrors(json: json) {
            let declared = all ? nil : Set(try options.loadConfig().networks.map(\.name))
            let holder = "destroy \(all ? "--all" : options.named)"
            let outcome = try await options.reconciler().run(.destroy(declared), holder: holder, lockTimeout: lockTimeout) { run in
                approval.showAndConfirm(run.plan, json: json, question: "Do you want to destroy these networks?")
            }
            guard case .done(let run) = outcome else { throw approval.declined("destroy") }
            if json {
                print(run.plan.json(applied: true, paths: options.paths))
            } else if run.plan.isEmpty {
                print("Nothing to destroy: none of \(all ? "moat's networks" : "the file's networks") is on this host.")
            } else {
                print("Destroy complete: \(run.plan.summary.destroy) destroyed.")
            }
        }
    }
}
