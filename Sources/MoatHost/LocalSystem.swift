import Foundation
import MoatConfig
import MoatCore
import MoatReconcile
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The real host behind the seam: programs through swift-subprocess (`run`, in
/// SystemRunner.swift), files through plain POSIX calls, sysctls, signals, flock and the clock.
///
/// `namespace` runs every program inside that network namespace (`ip netns exec NS …`), so a
/// test can point moat's code at a namespace it made and never at the machine's own; the
/// files read are still the test process's own.
public struct LocalSystem: HostSystem {
    public let namespace: String?

    public init(namespace: String? = nil) { self.namespace = namespace }

    public var processID: Int32 { getpid() }

    public func now() -> Date { Date() }

    // MARK: - Reading

    public func read(_ path: String) throws -> String? {
        // Read until end of file rather than trusting the size: /proc files report 0 bytes.
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(FilePath(path), .readOnly)
        } catch let error as Errno where Self.meansMissing(error) {
            return nil
        }
        return try descriptor.closeAfter {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let count: Int
                do {
                    count = try buffer.withUnsafeMutableBytes { try descriptor.read(into: $0) }
                } catch let error as Errno where error == .noSuchProcess {
                    // The process whose /proc file this is exited while we read it.
                    return nil
                }
                if count == 0 { break }
                bytes.append(contentsOf: buffer[0..<count])
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    public func list(_ directory: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return []
        }
        return try FileManager.default.contentsOfDirectory(atPath: directory)
    }

    public func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    public func readLink(_ path: String) throws -> String? {
        // A process may exit, or close the descriptor, between the listing and the read.
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
    }

    public func permissions(_ path: String) -> UInt32? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return UInt32(info.st_mode & 0o7777)
    }

    private static func meansMissing(_ error: Errno) -> Bool {
        error == .noSuchFileOrDirectory || error == .notDirectory || error == .noSuchProcess
    }

    // MARK: - Changing

    public func write(_ path: String, _ contents: String) throws {
        // A temporary file beside it, then rename: readers (dnsmasq on SIGHUP, the next
        // moat) see the old file or the new one, never half of one. Plain POSIX calls:
        // Foundation's atomic write took three times as long, which counts at 300 files.
        let temporary = Paths.temporary(path)
        var fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { throw MoatError("cannot write \(path): \(String(cString: strerror(errno)))") }
        // Readable by others whatever the umask: dnsmasq drops to its own user, and
        // node_exporter reads the metrics file.
        fchmod(fd, 0o644)
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

    public func signal(_ pid: Int32, _ signal: ProcessSignal) throws {
        let number =
            switch signal {
            case .terminate: SIGTERM
            case .kill: SIGKILL
            case .hangUp: SIGHUP
            }
        guard kill(pid, number) == 0 || errno == ESRCH else {
            throw MoatError("cannot signal process \(pid): \(String(cString: strerror(errno)))")
        }
    }

    // MARK: - The lock

    /// flock on the file: the kernel drops it when its holder dies, so there is never a stale
    /// lock to clear. The file says who holds it, so a second moat can name the holder.
    public func lock(_ path: String, holder: String, timeout: Double) throws -> any HostLock {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw MoatError("cannot open the lock \(path): \(String(cString: strerror(errno)))") }
        let deadline = Date().addingTimeInterval(max(0, timeout))
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(fd)
                throw MoatError("cannot lock \(path): \(String(cString: strerror(errno)))")
            }
            if Date() >= deadline {
                let held = ((try? read(path)) ?? nil)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                close(fd)
                let who = held.isEmpty ? "another moat" : "another moat (pid \(held))"
                throw MoatError(.locked, "\(path) is held by \(who); try again when it is done, or wait with --lock-timeout SECONDS")
            }
            usleep(50_000)
        }
        let note = "\(getpid()) \(holder)\n"
        _ = ftruncate(fd, 0)
        _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
        return FileLock(descriptor: fd)
    }
}

/// A held flock: closing the descriptor releases it.
final class FileLock: HostLock {
    private let descriptor: Int32
    init(descriptor: Int32) { self.descriptor = descriptor }
    deinit { close(descriptor) }
}
