import Foundation
import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


@Suite("Reading who listens on the host's ports (/proc/net and /proc/PID/fd)")
struct ListenersTests {
    /// Captured in a namespace with listeners on wildcard, LAN, loopback and v4-mapped
    /// addresses, an established TCP pair and a connected UDP socket.
    static func captured(_ table: String) throws -> String {
        try Captured.text("proc-net", table)
    }

    func listening(_ table: String, _ proto: PortForward.Proto, ipv6: Bool) throws -> [String] {
        try Listeners.parseProcNet(Self.captured(table), proto: proto, ipv6: ipv6).map {
            "\($0)\($0.isLoopback ? " lo" : "") #\($0.inode)"
        }
    }

    @Test("tcp: LISTEN sockets only, addresses in network order, loopback told apart")
    func tcp() throws {
        #expect(
            try listening("tcp", .tcp, ipv6: false) == [
                "127.0.0.1:5432 lo #240848", "192.168.0.10:8080 #240849", "127.0.0.53:53 lo #240850", "0.0.0.0:22 #240847",
            ])
    }

    @Test("tcp6: wildcard, global, ::1 and v4-mapped loopback")
    func tcp6() throws {
        #expect(
            try listening("tcp6", .tcp, ipv6: true) == [
                "[::ffff:127.0.0.1]:6379 lo #240853", "[::]:22 #240851", "[fd00::10]:443 #240854", "[::1]:631 lo #240852",
            ])
    }

    @Test("udp and udp6: unconnected sockets only (state 07)")
    func udp() throws {
        #expect(try listening("udp", .udp, ipv6: false) == ["192.168.0.10:53 #240857", "0.0.0.0:67 #240855", "127.0.0.1:323 lo #240856"])
        #expect(try listening("udp6", .udp, ipv6: true) == ["[::1]:323 lo #240859", "[::]:5353 #240858"])
    }

    @Test(
        "untrusted text: malformed lines are skipped, never fatal",
        arguments: [
            "", "garbage", "   0: 00000000:0016", "   0: 0000000:0016 00000000:0000 0A a b c d e 1",
            "   0: 00000000:FFFFF 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1",
            "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 -5 1",
            "   0: ZZZZZZZZ:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 7 1",
            "   0 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 7 1",
            "   0: 00000000:0016:01 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 7 1",
        ])
    func malformed(line: String) {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" + line + "\n"
        #expect(Listeners.parseProcNet(text, proto: .tcp, ipv6: false).isEmpty)
        #expect(Listeners.parseProcNet(text, proto: .tcp, ipv6: true).isEmpty)
    }

    @Test("a /proc/PID/fd link names a socket by its inode; other links name none")
    func socketLinks() {
        #expect(Listeners.socketInode(link: "socket:[240847]") == 240847)
        #expect(Listeners.socketInode(link: "pipe:[240847]") == nil)
        #expect(Listeners.socketInode(link: "/dev/null") == nil)
        #expect(Listeners.socketInode(link: "socket:[]") == nil)
        #expect(Listeners.socketInode(link: "socket:[-1]") == nil)
    }

    @Test("IPv6 text follows RFC 5952")
    func ipv6Text() {
        #expect(Listeners.formatIPv6([UInt8](repeating: 0, count: 16)) == "::")
        #expect(Listeners.formatIPv6([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]) == "fd00::10")
        #expect(Listeners.formatIPv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]) == "2001:db8:0:1::1")
    }

    func host(sshdHolds inode: String = "240847") throws -> FakeHost {
        var files: [String: String] = [:]
        for table in ["tcp", "tcp6", "udp", "udp6"] { files["/proc/net/\(table)"] = try Self.captured(table) }
        files["/proc/812/comm"] = "sshd\n"
        files["/proc/900/comm"] = "dnsmasq\n"
        files["/proc/self/comm"] = "moat\n"
        let links = [
            "/proc/812/fd/0": "/dev/null", "/proc/812/fd/3": "socket:[\(inode)]", "/proc/812/fd/4": "socket:[240851]",
            "/proc/900/fd/5": "socket:[240855]",
        ]
        return FakeHost(files: files, links: links)
    }

    @Test("the listeners on the asked ports, loopback left out, with the processes holding them")
    func read() throws {
        let found = try Listeners.read(ports: [.init(.tcp, 22), .init(.tcp, 5432), .init(.udp, 67), .init(.tcp, 8080)], system: host())
        let text = found.map { "\($0.socket.proto) \($0.socket) \($0.holders.map(\.description))" }
        #expect(
            text == [
                "tcp 192.168.0.10:8080 []", "tcp 0.0.0.0:22 [\"sshd (pid 812)\"]", "tcp [::]:22 [\"sshd (pid 812)\"]",
                "udp 0.0.0.0:67 [\"dnsmasq (pid 900)\"]",
            ])
    }

    @Test("no listener on the asked ports: no process is scanned")
    func noScan() throws {
        let recording = try host()
        #expect(try Listeners.read(ports: [.init(.tcp, 2222)], system: recording).isEmpty)
        #expect(recording.reads == ["/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"])
    }
}
