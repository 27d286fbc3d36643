import Foundation
import MoatCore

/// The one door to the host: every program moat runs, every file it reads or writes, every
/// sysctl, signal, lock, pid and clock reading goes through it. `MoatHost.LocalSystem` is the
/// real host; the tests' `FakeHost` (MoatTestSupport) answers from memory and records.
/// Everything above this protocol decides from values and can be tested without a host.
public protocol HostSystem: Sendable {
    /// Runs a program: an argument vector found on PATH, optional standard input, never a shell.
    func run(_ argv: [String], input: String?) async throws -> CommandResult

    /// The file's content; nil when there is no such file (or the process whose /proc file it
    /// is has gone). Any other failure throws.
    func read(_ path: String) throws -> String?
    /// The names in a directory, unsorted; empty when there is no such directory.
    func list(_ directory: String) throws -> [String]
    func exists(_ path: String) -> Bool
    /// Where a symbolic link points (`socket:[1234]` for a /proc/PID/fd entry); nil when
    /// there is no such link.
    func readLink(_ path: String) throws -> String?
    /// The permission bits of a file or folder; nil when there is none.
    func permissions(_ path: String) -> UInt32?

    /// Replaces the file atomically, creating its folder.
    func write(_ path: String, _ contents: String) throws
    /// Removes a file, or a folder only when it is empty (its other files are not moat's).
    func remove(_ path: String) throws
    /// Writes a value under /proc/sys (`net/ipv4/ip_forward`).
    func setSysctl(_ key: String, _ value: String) throws
    /// Sends a signal; a process that is gone already is not an error.
    func signal(_ pid: Int32, _ signal: ProcessSignal) throws

    /// Takes the exclusive lock on `path`, waiting up to `timeout` seconds, and writes
    /// `holder` into it; throws `.locked` (exit 75) naming the holder when it cannot. The
    /// lock is held as long as the returned value lives (and dies with the process).
    func lock(_ path: String, holder: String, timeout: Double) throws -> any HostLock

    /// This process's pid.
    var processID: Int32 { get }
    /// The wall clock.
    func now() -> Date
}

/// A held lock; released when the last reference goes.
public protocol HostLock: AnyObject, Sendable {}

/// The signals moat sends.
public enum ProcessSignal: Sendable {
    /// SIGTERM: dnsmasq exits cleanly.
    case terminate
    /// SIGKILL: for a dnsmasq that did not exit on SIGTERM.
    case kill
    /// SIGHUP: dnsmasq re-reads its hosts files.
    case hangUp
}

extension HostSystem {
    /// Runs and throws a `CommandFailure` (argv, status, stderr) unless it exits 0.
    @discardableResult
    public func check(_ argv: [String], input: String? = nil) async throws -> String {
        let result = try await run(argv, input: input)
        guard result.status == 0 else { throw CommandFailure(argv: argv, result: result) }
        return result.stdout
    }

    /// Whether the process exists and is not a zombie (from `/proc/PID/stat`).
    public func isRunning(_ pid: Int32) -> Bool {
        guard let stat = (try? read("/proc/\(pid)/stat")) ?? nil, let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }
}
