import Foundation
import MoatConfig

#if canImport(Glibc)
    import Glibc
#endif

/// The exclusive lock of `apply` and `destroy`: flock on `RUN_DIR/moat.lock`. The kernel
/// drops it when its holder dies, so there is never a stale lock to clear. The file says who
/// holds it, so a second moat can name the holder.
public final class HostLock: Sendable {
    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close(descriptor) }

    /// Takes the lock, waiting up to `timeout` seconds; throws `.locked` (exit 75) naming
    /// the holder when it cannot.
    public static func acquire(path: String, command: String, timeout: Double) throws -> HostLock {
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
                let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                close(fd)
                let who = holder.isEmpty ? "another moat" : "another moat (pid \(holder))"
                throw MoatError(.locked, "\(path) is held by \(who); try again when it is done, or wait with --lock-timeout SECONDS")
            }
            usleep(50_000)
        }
        let note = "\(getpid()) \(command)\n"
        _ = ftruncate(fd, 0)
        _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
        return HostLock(descriptor: fd)
    }
}
