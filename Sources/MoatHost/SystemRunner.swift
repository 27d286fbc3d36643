import Foundation
import MoatCore
import MoatReconcile
import Subprocess
import SystemPackage

/// Runs real programs through swift-subprocess: found on PATH, never through a shell.
extension LocalSystem {
    public func run(_ argv: [String], input: String?) async throws -> CommandResult {
        guard let namespace else { return try await Self.spawn(argv, input: input) }
        var result = try await Self.spawn(["ip", "netns", "exec", namespace] + argv, input: input)
        // `ip netns exec` reports a program it cannot find with its own status; give it the
        // shell's 127 so callers see "not found" the same way with and without a namespace.
        if result.status != 0, let program = argv.first,
            result.stderr.contains("exec of \"\(program)\" failed: No such file or directory")
        {
            result.status = 127
        }
        return result
    }

    static func spawn(_ argv: [String], input: String?) async throws -> CommandResult {
        guard let program = argv.first else { throw CommandFailure(argv: argv, result: .init(status: 127, stderr: "empty command")) }
        let executable = Self.locate(program).map { Executable.path(FilePath($0)) } ?? .name(program)
        let arguments = Arguments(Array(argv.dropFirst()))
        let limit = 64 << 20
        // Bytes, decoded here in one pass: swift-subprocess's `.string` output decodes the
        // bytes one at a time through a lazy sequence, which took ~0.3 s of a 100-network
        // plan for `ip -j` and `iptables-save` output of a few hundred kilobytes.
        let result: ExecutionResult<Void, BytesOutput, BytesOutput>
        do {
            if let input {
                let file = try Self.inputFile(input)
                defer { try? file.close() }
                result = try await Subprocess.run(
                    executable, arguments: arguments, input: .fileDescriptor(file, closeAfterSpawningProcess: false),
                    output: .bytes(limit: limit), error: .bytes(limit: limit))
            } else {
                result = try await Subprocess.run(
                    executable, arguments: arguments, output: .bytes(limit: limit), error: .bytes(limit: limit))
            }
        } catch {
            throw CommandFailure(argv: argv, result: .init(status: 127, stderr: "cannot run \(program): \(error)"))
        }
        let status: Int32
        switch result.terminationStatus {
        case .exited(let code): status = code
        case .signaled(let signal): status = 128 + signal
        }
        return CommandResult(
            status: status, stdout: String(decoding: result.standardOutput, as: UTF8.self),
            stderr: String(decoding: result.standardError, as: UTF8.self))
    }

    /// The first executable file `program` in a directory of PATH, found with `stat` and
    /// `access`. Given a bare name, swift-subprocess tries to spawn it in every PATH
    /// directory in turn, one child process per miss (two per `ip` with Debian's root
    /// PATH, seven with this development machine's).
    public static func locate(_ program: String, searchPath: String? = nil) -> String? {
        guard !program.contains("/") else { return program }
        return Dependencies.searchDirectories(searchPath).lazy.map { "\($0)/\(program)" }.first { candidate in
            var info = stat()
            return stat(candidate, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(candidate, X_OK) == 0
        }
    }

    /// The input in an unlinked temporary file, read from its start. Not a pipe: a command
    /// that fails before reading all of it (`ip -batch`, `iptables-restore` on a bad line)
    /// would make the writer get SIGPIPE (killing moat mid-apply, before any rollback) or,
    /// with SIGPIPE ignored, EPIPE (on which swift-subprocess traps).
    static func inputFile(_ text: String) throws -> FileDescriptor {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("moat-input-\(UUID().uuidString)").path
        let file = try FileDescriptor.open(
            FilePath(path), .readWrite, options: [.create, .exclusiveCreate, .closeOnExec], permissions: [.ownerReadWrite])
        do {
            try FileManager.default.removeItem(atPath: path)
            _ = try file.writeAll(Array(text.utf8))
            _ = try file.seek(offset: 0, from: .start)
            return file
        } catch {
            try? file.close()
            throw error
        }
    }
}
