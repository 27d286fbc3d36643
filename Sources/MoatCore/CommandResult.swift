import Foundation

/// The result of one command.
public struct CommandResult: Sendable, Equatable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public init(status: Int32, stdout: String = "", stderr: String = "") {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// A command that exited non-zero: what was run, how it ended and what it said.
public struct CommandFailure: Error, Sendable, CustomStringConvertible {
    public var argv: [String]
    public var result: CommandResult
    public init(argv: [String], result: CommandResult) {
        self.argv = argv
        self.result = result
    }
    public var description: String {
        let said = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        return "`\(argv.joined(separator: " "))` exited \(result.status)" + (said.isEmpty ? "" : ": \(said)")
    }
}
