import Foundation
import MoatConfig
import MoatHost
import MoatReconcile

/// A host that records what it is asked to do, and fails the commands of one program.
final class RecordingSystem: HostSystem, @unchecked Sendable {
    private let lock = NSLock()
    private var ran: [[String]] = []
    private var files: [String: String] = ["/proc/sys/net/ipv4/ip_forward": "0\n"]
    private var written: [String] = []
    let failing: String?

    init(failing: String? = nil) { self.failing = failing }

    var runner: any CommandRunner { Runner(system: self) }

    struct Runner: CommandRunner {
        let system: RecordingSystem
        func run(_ argv: [String], input: String?) async throws -> CommandResult {
            system.locked { system.ran.append(argv) }
            if argv.first == system.failing { return CommandResult(status: 2, stderr: "\(argv[0]): failed to bind DHCP server socket: Address in use") }
            return CommandResult(status: 0)
        }
    }

    func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    func commands() -> [[String]] { locked { ran } }
    func sysctls() -> [String] { locked { written } }
    func file(_ path: String) -> String? { locked { files[path] } }

    func read(_ path: String) -> String? { file(path) }
    func write(_ path: String, _ contents: String) throws { locked { files[path] = contents } }
    func remove(_ path: String) throws { _ = locked { files.removeValue(forKey: path) } }
    func setSysctl(_ key: String, _ value: String) throws { locked { written.append("\(key)=\(value)") } }
    func signal(_ pid: Int32, _ signal: Int32) throws {}
    func isRunning(_ pid: Int32) -> Bool { false }
}
