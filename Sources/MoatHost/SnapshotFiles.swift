import Foundation
import SystemPackage

/// The plain file reads of a snapshot (/proc, /sys-like files, moat's state and run dirs),
/// behind a protocol so that tests can answer them: a test process reading
/// `/proc/sys/net/...` sees its own network namespace, not the one under test.
public protocol HostFiles: Sendable {
    /// The file's content; nil when there is no such file.
    func read(_ path: String) throws -> String?
    /// The names in a directory, unsorted; empty when there is no such directory.
    func list(_ directory: String) throws -> [String]
    func exists(_ path: String) -> Bool
    /// Where a symbolic link points (`socket:[1234]` for a /proc/PID/fd entry); nil when
    /// there is no such link.
    func readLink(_ path: String) throws -> String?
}

/// The real filesystem.
public struct SystemFiles: HostFiles {
    public init() {}

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

    private static func meansMissing(_ error: Errno) -> Bool {
        error == .noSuchFileOrDirectory || error == .notDirectory || error == .noSuchProcess
    }
}
