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

/// The one door through which moat runs programs: an argument vector found on PATH, optional
/// standard input, never a shell. Injected at the top so tests can record and answer.
public protocol CommandRunner: Sendable {
    func run(_ argv: [String], input: String?) async throws -> CommandResult
}

extension CommandRunner {
    /// Runs and throws a `CommandFailure` (argv, status, stderr) unless it exits 0.
    @discardableResult
    public func check(_ argv: [String], input: String? = nil) async throws -> String {
        let result = try await run(argv, input: input)
        guard result.status == 0 else { throw CommandFailure(argv: argv, result: result) }
        return result.stdout
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
