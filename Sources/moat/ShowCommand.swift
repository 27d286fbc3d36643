import ArgumentParser
import Foundation
import MoatConfig
import MoatCore

/// `moat show PLANFILE [--json]`: a saved plan, read as untrusted input and printed. Reads
/// nothing of the host, needs no root.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Print a plan saved by `moat plan --out PLANFILE`: where it was made, its steps, every command.",
        discussion: """
            Reads the plan as untrusted input (a plan edited in any way is refused) and nothing of \
            the host; needs no root.

            EXIT CODES: 0 shown, 1 not a moat plan, or edited, 64 usage error.

            EXAMPLES:
              moat show lab.plan
              moat show lab.plan --json
            """)

    @Argument(help: "The saved plan.", completion: .file(extensions: ["json"]))
    var planFile: String

    @Flag(help: "Print the plan document itself (JSON).")
    var json = false

    func run() async throws {
        try await reportingErrors(json: json) {
            let plan = try SavedPlan.read(planFile)
            print(json ? plan.text : plan.humanText(color: Terminal.standardOutput.color), terminator: "")
        }
    }
}

extension SavedPlan {
    /// The plan file at `path`, validated (`SavedPlan(parsing:from:)`).
    static func read(_ path: String) throws -> SavedPlan {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw MoatError("cannot read \(path)") }
        defer { try? handle.close() }
        let data = try handle.read(upToCount: maxSize + 1) ?? Data()
        guard let text = String(data: data, encoding: .utf8) else { throw MoatError("\(path) is not a moat plan: not UTF-8 text") }
        return try SavedPlan(parsing: text, from: path)
    }
}
