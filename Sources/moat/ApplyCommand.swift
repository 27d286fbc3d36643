import ArgumentParser
import Foundation
import MoatConfig
import MoatCore
import MoatHost
import MoatReconcile

struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "Make the host match the file: only what is missing or stale; rolled back on failure.",
        discussion: """
            On a terminal (standard input and output both), shows the plan and asks for 'yes' \
            before changing anything; any other answer changes nothing and exits 1. \
            --auto-approve, or no terminal (systemd, scripts, CI), acts without asking.

            FILE may be a plan saved by `moat plan --out PLANFILE` (given alone): then exactly its \
            steps run, without a question (it was reviewed), or nothing (exit 1, "the saved plan \
            is stale") when the host, the files it was made from or the steps planning them \
            gives have changed since.

            EXIT CODES: 0 applied (or nothing to do), 1 error, or failed and rolled back, or \
            the answer was not 'yes', or a stale saved plan, 3 failed and the rollback failed \
            too (the message lists what differs), 75 another moat holds the lock, 64 usage error.

            EXAMPLES:
              moat apply /etc/moat/moat.yaml
              moat apply lab.plan
            """)

    @OptionGroup var options: HostOptions

    @OptionGroup var approval: ApprovalOptions

    @Option(name: .customLong("lock-timeout"), help: "Seconds to wait for another moat to finish.")
    var lockTimeout: Double = 0

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        try await reportingErrors(json: json) {
            let reconciler = options.reconciler()
            let saved = try savedPlan()
            let config =
                try saved.map { try HostOptions.load(ConfigLoader.check($0.sources, name: $0.files.map(\.path).joined(separator: ", "))) }
                ?? options.loadConfig()
            let outcome = try await reconciler.run(.apply(config), holder: "apply \(options.named)", lockTimeout: lockTimeout) { run in
                printWarnings(of: run.plan)
                guard let saved else { return approval.showAndConfirm(run.plan, json: json, question: "Do you want to apply this plan?") }
                try Self.check(saved, against: run, config: run.config ?? config, options: options, system: reconciler.system)
                if !json && !run.plan.isEmpty { print(run.plan.humanText(color: Terminal.standardOutput.color)) }
                return true
            }
            guard case .done(let run) = outcome else { throw approval.declined("apply") }
            let plan = run.plan
            let s = plan.summary
            if json {
                print(plan.json(applied: true, paths: options.paths))
            } else {
                // A plan with changes printed what waits with itself; an empty one was not printed.
                if plan.isEmpty { for waiting in plan.waiting { print("Waiting: \(waiting)") } }
                print(plan.isEmpty ? "No changes. The host matches the file; nothing was touched." : "Apply complete: \(s.add) added, \(s.change) changed, \(s.destroy) destroyed.")
            }
        }
    }

    /// The saved plan FILE is, told from a config by its content; nil for a configuration.
    func savedPlan() throws -> SavedPlan? {
        guard let file = options.files.first, let handle = FileHandle(forReadingAtPath: file) else { return nil }  // the loader says why
        let head = (try? handle.read(upToCount: 4096)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        try? handle.close()
        guard SavedPlan.looksLikePlan(head) else { return nil }
        guard options.files.count == 1 else {
            throw MoatError(.usage, "\(file) is a saved plan; it is applied alone, without other files")
        }
        return try SavedPlan.read(file)
    }

    /// Refuses a saved plan that no longer fits: made elsewhere, its file changed, or the host
    /// or the steps different now. Runs under the lock, before anything is touched.
    static func check(_ saved: SavedPlan, against run: Reconciler.PreparedRun, config: Config, options: HostOptions, system: any HostSystem) throws {
        var changes: [String] = []
        let files = ConfigFiles.find(saved.arguments).files
        for file in files where !saved.files.contains(where: { $0.path == file }) {
            changes.append("\(file) is a new file of the configuration")
        }
        for file in saved.files {
            let current = try system.read(file.path)
            if current == nil || !files.contains(file.path) {
                changes.append("the file it was made from, \(file.path), is gone")
            } else if current != file.text {
                changes.append("the file it was made from, \(file.path), changed since")
            }
        }
        let now = SavedPlan(
            plan: run.plan, arguments: saved.arguments, files: saved.files, host: try .read(system), live: run.before,
            config: config, paths: options.paths, moatVersion: Moat.version)
        changes += saved.staleness(comparedWith: now)
        guard changes.isEmpty else {
            throw MoatError(
                "the saved plan is stale; nothing was touched:\n" + changes.map { "  - \($0)" }.joined(separator: "\n")
                    + "\nmake a new plan (`\((["moat", "plan"] + saved.arguments + ["--out", "PLANFILE"]).joined(separator: " "))`), review it, and apply that")
        }
    }
}
