import Subprocess
import SystemPackage

/// Runs real programs through swift-subprocess. Counts what it spawns, for the benchmark.
public struct SystemRunner: CommandRunner {
    public init() {}

    public func run(_ argv: [String], input: String?) async throws -> CommandResult {
        guard let program = argv.first else { throw CommandFailure(argv: argv, result: .init(status: 127, stderr: "empty command")) }
        let arguments = Arguments(Array(argv.dropFirst()))
        let limit = 64 << 20
        let result: ExecutionResult<Void, StringOutput<UTF8>, StringOutput<UTF8>>
        do {
            if let input {
                result = try await Subprocess.run(
                    .name(program), arguments: arguments, input: .string(input),
                    output: .string(limit: limit), error: .string(limit: limit))
            } else {
                result = try await Subprocess.run(
                    .name(program), arguments: arguments, output: .string(limit: limit), error: .string(limit: limit))
            }
        } catch {
            throw CommandFailure(argv: argv, result: .init(status: 127, stderr: "cannot run \(program): \(error)"))
        }
        let status: Int32
        switch result.terminationStatus {
        case .exited(let code): status = code
        case .signaled(let signal): status = 128 + signal
        }
        return CommandResult(status: status, stdout: result.standardOutput, stderr: result.standardError)
    }
}
