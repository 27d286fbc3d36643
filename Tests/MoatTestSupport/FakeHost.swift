import Foundation
import MoatCore
import MoatReconcile

/// The host as a test wants it, behind the same seam as the real one: files and symbolic
/// links in memory (folders implied by the paths under them), programs answered by
/// `respond`, a fixed pid and clock. Records what it is asked, so a test can say what ran,
/// what was written and what was not read.
public final class FakeHost: HostSystem, @unchecked Sendable {
    private let guardian = NSLock()
    private var files: [String: String]
    private var links: [String: String]
    private var ran: [[String]] = []
    private var inputs: [String?] = []
    private var readPaths: [String] = []
    private var sysctlWrites: [String] = []
    private var signals: [(Int32, ProcessSignal)] = []
    private let respond: @Sendable ([String], String?) throws -> CommandResult

    public let processID: Int32 = 4242
    public var clock = Date(timeIntervalSince1970: 1_750_000_000)

    /// `respond` answers each program (default: exit 0, no output); it may throw, as the real
    /// host does for a program it cannot start.
    public init(
        files: [String: String] = [:], links: [String: String] = [:],
        respond: @escaping @Sendable ([String], String?) throws -> CommandResult = { _, _ in CommandResult(status: 0) }
    ) {
        self.files = files
        self.links = links
        self.respond = respond
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        guardian.lock()
        defer { guardian.unlock() }
        return try body()
    }

    // MARK: - What the test asks

    /// Every argv run, in order.
    public var commands: [[String]] { locked { ran } }
    /// The standard input of each command, in order.
    public var standardInputs: [String?] { locked { inputs } }
    /// Every path read or listed, in order.
    public var reads: [String] { locked { readPaths } }
    /// `key=value` of every sysctl written, in order.
    public var sysctls: [String] { locked { sysctlWrites } }
    public var sentSignals: [(pid: Int32, signal: ProcessSignal)] { locked { signals.map { ($0.0, $0.1) } } }
    public func file(_ path: String) -> String? { locked { files[path] } }
    public func setFile(_ path: String, _ contents: String?) { locked { files[path] = contents } }

    // MARK: - The seam

    public func run(_ argv: [String], input: String?) async throws -> CommandResult {
        locked {
            ran.append(argv)
            inputs.append(input)
        }
        return try respond(argv, input)
    }

    public func read(_ path: String) throws -> String? {
        locked {
            readPaths.append(path)
            return files[path]
        }
    }

    public func list(_ directory: String) throws -> [String] {
        locked {
            readPaths.append(directory)
            let prefix = directory.hasSuffix("/") ? directory : directory + "/"
            let names = (Array(files.keys) + Array(links.keys)).filter { $0.hasPrefix(prefix) }.compactMap {
                $0.dropFirst(prefix.count).split(separator: "/").first.map(String.init)
            }
            return Array(Set(names))
        }
    }

    public func exists(_ path: String) -> Bool {
        locked {
            let prefix = path + "/"
            return files[path] != nil || links[path] != nil || files.keys.contains { $0.hasPrefix(prefix) }
        }
    }

    public func readLink(_ path: String) throws -> String? {
        locked {
            readPaths.append(path)
            return links[path]
        }
    }

    public func permissions(_ path: String) -> UInt32? { exists(path) ? 0o755 : nil }

    public func write(_ path: String, _ contents: String) throws { locked { files[path] = contents } }

    public func remove(_ path: String) throws { _ = locked { files.removeValue(forKey: path) } }

    public func setSysctl(_ key: String, _ value: String) throws {
        locked {
            sysctlWrites.append("\(key)=\(value)")
            files["/proc/sys/\(key)"] = value + "\n"
        }
    }

    public func signal(_ pid: Int32, _ signal: ProcessSignal) throws { locked { signals.append((pid, signal)) } }

    public func lock(_ path: String, holder: String, timeout: Double) throws -> any HostLock {
        try write(path, "\(processID) \(holder)\n")
        return Held()
    }

    public func now() -> Date { clock }

    final class Held: HostLock {}
}
