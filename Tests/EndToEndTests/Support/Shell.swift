import Foundation

/// What a command did.
struct Ran: Sendable, CustomStringConvertible {
    var argv: [String]
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String { "`\(argv.joined(separator: " "))` exited \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}

/// Runs programs for the tests: argument vectors, never a shell string.
enum Shell {
    /// Runs `argv` to its end, with an optional standard input and extra environment.
    @discardableResult
    static func run(_ argv: [String], input: String? = nil, environment: [String: String] = [:]) throws -> Ran {
        let process = Process()
        (process.executableURL, process.arguments) = launcher(argv)
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let outFile = try TemporaryFile(), errFile = try TemporaryFile()
        process.standardOutput = outFile.handle
        process.standardError = errFile.handle
        // Files, not pipes: a daemon moat starts (dnsmasq) may keep inherited descriptors.
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        process.waitUntilExit()
        return Ran(argv: argv, status: process.terminationStatus, stdout: outFile.contents(), stderr: errFile.contents())
    }

    /// Runs and requires exit 0.
    @discardableResult
    static func must(_ argv: [String], input: String? = nil) throws -> String {
        let ran = try run(argv, input: input)
        guard ran.status == 0 else { throw TestFailure(ran.description) }
        return ran.stdout
    }

    /// How to start `argv` with every signal unblocked. The test runner's threads block
    /// most signals and a spawned child inherits that mask, so a `timeout`, a `ping -w` or a
    /// dnsmasq that moat starts (and later stops by SIGTERM, reloads by SIGHUP) would never
    /// see its signals. A one-line perl clears the mask and execs (PATH lookup included).
    static func launcher(_ argv: [String]) -> (URL, [String]) {
        let perl = "/usr/bin/perl"
        guard FileManager.default.isExecutableFile(atPath: perl) else { return (URL(fileURLWithPath: "/usr/bin/env"), argv) }
        let unblock = "use POSIX; sigprocmask(SIG_SETMASK, POSIX::SigSet->new); exec { $ARGV[0] } @ARGV or die \"exec $ARGV[0]: $!\\n\";"
        return (URL(fileURLWithPath: perl), ["-e", unblock] + argv)
    }

    static var isRoot: Bool { getuid() == 0 }

    static func exists(_ program: String) -> Bool { which(program) != nil }

    /// Where `program` is on PATH.
    static func which(_ program: String) -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(separator: ":")
            .map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// An unlinked temporary file that collects a process's output.
final class TemporaryFile {
    let handle: FileHandle
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "moat-out-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forUpdatingAtPath: path) else { throw TestFailure("cannot create \(path)") }
        self.handle = handle
    }
    func contents() -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text
    }
    deinit {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}
