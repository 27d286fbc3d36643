import Foundation
import MoatConfig
import MoatCore
import MoatReconcile
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// **For tests only; off unless a test sets one of its variables.** The host seam with
/// numbered points: every call that changes the host (a file written or removed, a sysctl, a
/// signal, a program run other than the read-only ones) is one point, numbered from 1 in the
/// order the calls are made. A test can then stop moat at each point in turn, including
/// between two of its own file writes, where no stand-in program on PATH can reach it:
///
/// - `MOAT_TEST_POINTS=FILE` appends one line per point to FILE (`N what`), so a test learns
///   how many there are and what each is;
/// - `MOAT_TEST_KILL_AT=N` sends SIGKILL to moat itself just before point N;
/// - `MOAT_TEST_FAIL_AT=N` makes point N fail (it throws, changing nothing) instead.
///
/// Instead of a number, KILL_AT and FAIL_AT take a text: the first point whose `what`
/// contains it (`sysctl`, `journal.json`). Concurrent calls (dnsmasq starts) take their
/// numbers in the order they arrive.
public struct TestPointSystem: HostSystem {
    public let base: any HostSystem
    let log: String?
    let killAt: Trigger?
    let failAt: Trigger?
    let counter = Counter()

    /// Where a kill or failure strikes: the point of that number, or the first whose
    /// description contains the text.
    enum Trigger {
        case number(Int)
        case matching(String)

        init?(_ value: String?) {
            guard let value, !value.isEmpty else { return nil }
            self = Int(value).map(Trigger.number) ?? .matching(value)
        }
    }

    /// The points passed so far, and which text triggers have struck (each strikes once).
    final class Counter: Sendable {
        let state = Mutex((count: 0, struck: Set<String>()))
        func next() -> Int { state.withLock { $0.count += 1; return $0.count } }

        func strikes(_ trigger: Trigger?, number: Int, what: String) -> Bool {
            switch trigger {
            case .number(let n)?: return n == number
            case .matching(let text)?:
                return what.contains(text) && state.withLock { $0.struck.insert(text).inserted }
            case nil: return false
            }
        }
    }

    /// The variables' names, in one place.
    public enum Variable {
        public static let log = "MOAT_TEST_POINTS"
        public static let killAt = "MOAT_TEST_KILL_AT"
        public static let failAt = "MOAT_TEST_FAIL_AT"
    }

    /// `base` with the points the environment asks for; `base` itself when it asks for none.
    public static func wrapping(_ base: any HostSystem, environment: [String: String]) -> any HostSystem {
        let log = environment[Variable.log].flatMap { $0.isEmpty ? nil : $0 }
        let killAt = Trigger(environment[Variable.killAt])
        let failAt = Trigger(environment[Variable.failAt])
        guard log != nil || killAt != nil || failAt != nil else { return base }
        return TestPointSystem(base: base, log: log, killAt: killAt, failAt: failAt)
    }

    /// Passes point `what`, or kills or fails there.
    func point(_ describe: @autoclosure () -> String) throws {
        let number = counter.next()
        let what = describe().replacingOccurrences(of: "\n", with: " ")
        if let log {
            let line = "\(number) \(what)\n"
            if let handle = FileHandle(forWritingAtPath: log) ?? Self.create(log) {
                handle.seekToEndOfFile()
                handle.write(Data(line.utf8))
                try? handle.close()
            }
        }
        if counter.strikes(killAt, number: number, what: what) { Glibc.kill(getpid(), SIGKILL) }
        if counter.strikes(failAt, number: number, what: what) { throw MoatError("injected failure at test point \(number) (\(what))") }
    }

    private static func create(_ path: String) -> FileHandle? {
        FileManager.default.createFile(atPath: path, contents: nil) ? FileHandle(forWritingAtPath: path) : nil
    }

    /// Programs that only read the host: the snapshot's and the connection listing.
    static func readsOnly(_ argv: [String]) -> Bool {
        Snapshot.commands.contains(argv) || argv == Conntrack.listCommand
    }

    public func run(_ argv: [String], input: String?) async throws -> CommandResult {
        if !Self.readsOnly(argv) { try point("run \(argv.joined(separator: " "))") }
        return try await base.run(argv, input: input)
    }

    public func write(_ path: String, _ contents: String) throws {
        try point("write \(path)")
        try base.write(path, contents)
    }

    public func remove(_ path: String) throws {
        try point("remove \(path)")
        try base.remove(path)
    }

    public func setSysctl(_ key: String, _ value: String) throws {
        try point("sysctl \(key)=\(value)")
        try base.setSysctl(key, value)
    }

    public func signal(_ pid: Int32, _ signal: ProcessSignal) throws {
        try point("signal \(signal) \(pid)")
        try base.signal(pid, signal)
    }

    public func read(_ path: String) throws -> String? { try base.read(path) }
    public func list(_ directory: String) throws -> [String] { try base.list(directory) }
    public func exists(_ path: String) -> Bool { base.exists(path) }
    public func readLink(_ path: String) throws -> String? { try base.readLink(path) }
    public func permissions(_ path: String) -> UInt32? { base.permissions(path) }
    public func lock(_ path: String, holder: String, timeout: Double) throws -> any HostLock {
        try base.lock(path, holder: holder, timeout: timeout)
    }
    public var processID: Int32 { base.processID }
    public func now() -> Date { base.now() }
}

/// **For tests only; off unless a test sets it.** `MOAT_TEST_FIREWALL=iptables|nftables`
/// stands for a file's `firewall: auto` (an explicit `firewall:` is kept), so every
/// end-to-end test runs against either backend without writing it into each of its files.
public enum TestFirewall {
    public static var forced: FirewallChoice? {
        ProcessInfo.processInfo.environment["MOAT_TEST_FIREWALL"].flatMap(FirewallChoice.init(rawValue:))
    }
}
