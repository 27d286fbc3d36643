import Foundation
import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


/// Real output captured by `Fixtures/captured/capture.sh` (iproute2 6.1, iptables 1.8.9 nft).
enum Captured {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/captured")

    /// A captured file: `fixture` is one of host, duplicate-jump, empty, many.
    static func text(_ fixture: String, _ file: String) throws -> String {
        try String(contentsOf: folder.appendingPathComponent("\(fixture)/\(file)"), encoding: .utf8)
    }
    static func ipAddr(_ fixture: String) throws -> String { try text(fixture, "ip-addr.json") }
    static func ipRoute(_ fixture: String) throws -> String { try text(fixture, "ip-route.json") }
    static func iptablesSave(_ fixture: String) throws -> String { try text(fixture, "iptables-save.txt") }
    static func cidr(_ text: String) -> IPv4CIDR? { IPv4CIDR(text) }
}

@Suite("Parsing `ip -j -d addr show` and `ip -j route show`")
struct ParseIPAddrTests {
    @Test("every link of the captured host is read with its kind, alias, UP flag and IPv4 addresses")
    func capturedHost() throws {
        let links = try parseIPAddr(json: Captured.ipAddr("host"))
        let byName = Dictionary(links.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(links.map(\.name) == ["lo", "virbr10", "docker0", "veth-guest", "veth-host", "evil0"])

        let bridge = try #require(byName["virbr10"])
        #expect(bridge.kind == "bridge")
        #expect(bridge.alias == "moat:lab")
        #expect(bridge.moatNetwork == "lab")
        #expect(bridge.up)
        #expect(bridge.addresses == [Captured.cidr("192.168.100.1/24")].compactMap { $0 })

        let docker = try #require(byName["docker0"])
        #expect(docker.kind == "bridge")
        #expect(docker.alias == nil)
        #expect(!docker.up)
        #expect(docker.addresses == [Captured.cidr("172.17.0.1/16")].compactMap { $0 })

        // IPv6 addresses are left out; both IPv4 addresses are kept, in order.
        let veth = try #require(byName["veth-host"])
        #expect(veth.kind == "veth")
        #expect(veth.addresses == [Captured.cidr("10.20.0.1/24"), Captured.cidr("10.30.0.1/24")].compactMap { $0 })
        #expect(try #require(byName["veth-guest"]).addresses.isEmpty)

        let loopback = try #require(byName["lo"])
        #expect(loopback.kind == nil)
        #expect(!loopback.up)
    }

    @Test("an empty namespace has only its loopback")
    func capturedEmpty() throws {
        let links = try parseIPAddr(json: Captured.ipAddr("empty"))
        #expect(links.map(\.name) == ["lo"])
    }

    @Test("fifty marked bridges are fifty links")
    func capturedMany() throws {
        let links = try parseIPAddr(json: Captured.ipAddr("many"))
        #expect(links.filter { $0.moatNetwork != nil }.count == 50)
        #expect(links.first { $0.name == "mbr50" }?.addresses == [Captured.cidr("10.99.50.1/24")].compactMap { $0 })
    }

    @Test("routes: default with its gateway, a subnet, and a bare address as a /32")
    func capturedRoutes() throws {
        let routes = try parseRoutes(json: Captured.ipRoute("host"))
        #expect(
            routes == [
                Route(destination: nil, device: "veth-host", gateway: "10.20.0.254"),
                Route(destination: Captured.cidr("10.20.0.0/24"), device: "veth-host"),
                Route(destination: Captured.cidr("10.30.0.0/24"), device: "veth-host"),
                Route(destination: Captured.cidr("192.168.100.0/24"), device: "virbr10"),
                Route(destination: Captured.cidr("203.0.113.10/32"), device: "veth-host"),
            ])
        #expect(try parseRoutes(json: Captured.ipRoute("empty")).isEmpty)
    }

    @Test("a route without a device and one with an unknown destination")
    func oddRoutes() throws {
        let json = #"[{"type":"unreachable","dst":"10.9.0.0/16","flags":[]},{"dst":"fe80::/64","dev":"x"}]"#
        #expect(try parseRoutes(json: json) == [Route(destination: Captured.cidr("10.9.0.0/16"), device: nil)])
    }

    @Test("empty output is an empty list", arguments: ["", "\n", "[]", " [ ]\n"])
    func emptyOutput(output: String) throws {
        #expect(try parseIPAddr(json: output).isEmpty)
        #expect(try parseRoutes(json: output).isEmpty)
    }

    @Test("output that is not ip's JSON is an error naming the command")
    func garbage() {
        #expect {
            try parseIPAddr(json: "Object \"addr\" is unknown, try \"ip help\".")
        } throws: { error in
            (error as? MoatError)?.message.contains("ip -j -d addr show") == true
        }
        #expect(throws: MoatError.self) { try parseRoutes(json: #"{"dst":"default"}"#) }
    }

    @Test("an address with an impossible prefix is skipped, not a crash")
    func badPrefix() throws {
        let json = #"[{"ifname":"x","flags":["UP"],"addr_info":[{"family":"inet","local":"10.0.0.1","prefixlen":40}]}]"#
        let links = try parseIPAddr(json: json)
        #expect(links == [Link(name: "x", up: true)])
    }
}
