import Foundation
import MoatConfig

/// A socket waiting for traffic on the host: a TCP socket in LISTEN, or an unconnected UDP
/// socket, as `/proc/net/{tcp,tcp6,udp,udp6}` show it.
public struct ListeningSocket: Hashable, Sendable, CustomStringConvertible {
    public var proto: PortForward.Proto
    /// As people write it: `0.0.0.0`, `192.168.0.10`, `::`, `::ffff:127.0.0.1`.
    public var address: String
    public var port: Int
    /// The socket's inode, by which `/proc/PID/fd` links name it (`socket:[INODE]`).
    public var inode: UInt64
    /// Bound to 127.0.0.0/8, `::1` or `::ffff:127.*`: only the host's own processes reach it,
    /// and a DNAT of traffic arriving from outside leaves it alone.
    public var isLoopback: Bool

    public init(proto: PortForward.Proto, address: String, port: Int, inode: UInt64, isLoopback: Bool) {
        self.proto = proto
        self.address = address
        self.port = port
        self.inode = inode
        self.isLoopback = isLoopback
    }

    /// `0.0.0.0:22`, `[::]:22`.
    public var description: String { address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)" }
}

/// A process holding a socket: its pid and `/proc/PID/comm`.
public struct SocketHolder: Hashable, Sendable, CustomStringConvertible {
    public var pid: Int32
    public var comm: String
    public init(pid: Int32, comm: String) {
        self.pid = pid
        self.comm = comm
    }
    public var description: String { "\(comm) (pid \(pid))" }
}

/// A listening socket with the processes that hold it (none found: the kernel's own, or a
/// process moat cannot see).
public struct HostListener: Hashable, Sendable {
    public var socket: ListeningSocket
    public var holders: [SocketHolder]
    public init(socket: ListeningSocket, holders: [SocketHolder]) {
        self.socket = socket
        self.holders = holders
    }
}

/// What listens on the host's ports, read from /proc only (no command): for the safety rail
/// that keeps a port forward from taking a service away from the host.
public enum Listeners {
    /// The four tables, with the protocol each lists and whether its addresses are IPv6.
    public static let tables: [(path: String, proto: PortForward.Proto, ipv6: Bool)] = [
        ("/proc/net/tcp", .tcp, false), ("/proc/net/tcp6", .tcp, true),
        ("/proc/net/udp", .udp, false), ("/proc/net/udp6", .udp, true),
    ]

    /// A protocol and port a forward would take.
    public struct Port: Hashable, Sendable {
        public var proto: PortForward.Proto
        public var port: Int
        public init(_ proto: PortForward.Proto, _ port: Int) {
            self.proto = proto
            self.port = port
        }
    }

    // MARK: - Pure parts

    /// The listening sockets of one `/proc/net/{tcp,tcp6,udp,udp6}` table: TCP in state `0A`
    /// (LISTEN), UDP in state `07` (unconnected). The text is untrusted: a malformed line is
    /// skipped, never fatal.
    public static func parseProcNet(_ text: String, proto: PortForward.Proto, ipv6: Bool) -> [ListeningSocket] {
        let listening = proto == .tcp ? "0A" : "07"
        var sockets: [ListeningSocket] = []
        for line in text.split(separator: "\n").dropFirst() {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 10, fields[0].hasSuffix(":"), fields[3].uppercased() == listening else { continue }
            let local = fields[1].split(separator: ":", omittingEmptySubsequences: false)
            guard local.count == 2, let port = Int(local[1], radix: 16), (0...65535).contains(port),
                let inode = UInt64(fields[9])
            else { continue }
            guard let (address, loopback) = ipv6 ? decodeIPv6(local[0]) : decodeIPv4(local[0]) else { continue }
            sockets.append(ListeningSocket(proto: proto, address: address, port: port, inode: inode, isLoopback: loopback))
        }
        return sockets
    }

    /// The inode of a `/proc/PID/fd` link `socket:[12345]`; nil for any other link.
    public static func socketInode(link: String) -> UInt64? {
        guard link.hasPrefix("socket:["), link.hasSuffix("]") else { return nil }
        return UInt64(link.dropFirst("socket:[".count).dropLast())
    }

    /// `/proc/PID/comm` without its newline, printable characters only (a process names itself).
    public static func parseComm(_ text: String?) -> String? {
        guard let text else { return nil }
        let name = String(text.trimmingCharacters(in: .newlines).unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(64))
        return name.isEmpty ? nil : name
    }

    /// The kernel prints each 32-bit word of an address as `%08X` of its value in the host's
    /// byte order; these are the bytes in network order.
    private static func words(_ hex: Substring, count: Int) -> [UInt8]? {
        guard hex.count == 8 * count, hex.allSatisfy(\.isHexDigit) else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        for _ in 0..<count {
            let end = hex.index(index, offsetBy: 8)
            guard let word = UInt32(hex[index..<end], radix: 16) else { return nil }
            // `word` is the value the kernel read from memory: its in-memory bytes are the address.
            withUnsafeBytes(of: word) { bytes.append(contentsOf: $0) }
            index = end
        }
        return bytes
    }

    private static func decodeIPv4(_ hex: Substring) -> (String, Bool)? {
        guard let bytes = words(hex, count: 1) else { return nil }
        return (bytes.map(String.init).joined(separator: "."), bytes[0] == 127)
    }

    private static func decodeIPv6(_ hex: Substring) -> (String, Bool)? {
        guard let bytes = words(hex, count: 4) else { return nil }
        let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
        if mapped {
            let v4 = bytes[12...].map(String.init).joined(separator: ".")
            return ("::ffff:" + v4, bytes[12] == 127)
        }
        let loopback = bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1
        return (formatIPv6(bytes), loopback)
    }

    /// RFC 5952 text: lower-case, the longest run of two or more zero groups as `::`.
    static func formatIPv6(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > best.length { best = (index, end - index) }
            index = end
        }
        let text = groups.map { String($0, radix: 16) }
        guard best.length >= 2 else { return text.joined(separator: ":") }
        let head = text[0..<best.start].joined(separator: ":")
        let tail = text[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }
}
