import Foundation
import MoatConfig
import MoatHost

#if canImport(Glibc)
    import Glibc
#endif

/// Every side effect of the executor: commands through the runner, files, sysctls and
/// signals. Injected so tests can record what would happen.
public protocol HostSystem: Sendable {
    var runner: any CommandRunner { get }
    func read(_ path: String) -> String?
    /// Replaces the file atomically, creating its folder.
    func write(_ path: String, _ contents: String) throws
    /// Removes a file, or an empty folder.
    func remove(_ path: String) throws
    /// Writes a value under /proc/sys (`net/ipv4/ip_forward`).
    func setSysctl(_ key: String, _ value: String) throws
    func signal(_ pid: Int32, _ signal: Int32) throws
    /// Whether the process exists and is not a zombie.
    func isRunning(_ pid: Int32) -> Bool
}

/// The real host.
public struct LocalSystem: HostSystem {
    public let runner: any CommandRunner

    public init(runner: any CommandRunner = SystemRunner()) { self.runner = runner }

    public func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    public func write(_ path: String, _ contents: String) throws {
        // A temporary file beside it, then rename: readers (dnsmasq on SIGHUP, the next
        // moat) see the old file or the new one, never half of one. Plain POSIX calls:
        // Foundation's atomic write took three times as long, which counts at 300 files.
        let temporary = path + ".moat-new"
        var fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { throw MoatError("cannot write \(path): \(String(cString: strerror(errno)))") }
        let bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress?.advanced(by: written), bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw MoatError("cannot write \(path): \(reason)")
            }
            written += n
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw MoatError("cannot write \(path): \(reason)")
        }
    }

    /// Removes a file, or a folder only when it is empty (a folder's other files are not
    /// moat's to remove).
    public func remove(_ path: String) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { return }
        if isFolder.boolValue {
            if (try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty == true { rmdir(path) }
            return
        }
        try FileManager.default.removeItem(atPath: path)
    }

    public func setSysctl(_ key: String, _ value: String) throws {
        let path = "/proc/sys/\(key)"
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw MoatError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        try handle.write(contentsOf: Data("\(value)\n".utf8))
    }

    public func signal(_ pid: Int32, _ signal: Int32) throws {
        guard kill(pid, signal) == 0 || errno == ESRCH else {
            throw MoatError("cannot signal process \(pid): \(String(cString: strerror(errno)))")
        }
    }

    public func isRunning(_ pid: Int32) -> Bool {
        guard let stat = read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }
}
