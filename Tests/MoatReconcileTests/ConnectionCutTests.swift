import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


@Suite("Cutting the connections a tightened policy no longer admits")
struct ConnectionCutTests {
    /// `conntrack -L` lines as conntrack 1.4.7 prints them (captured in a namespace).
    static let listing = """
        tcp      6 431999 ESTABLISHED src=10.77.0.23 dst=192.168.0.5 sport=40112 dport=445 src=192.168.0.5 dst=192.168.0.10 sport=445 dport=40112 [ASSURED] mark=0 use=1
        tcp      6 431999 ESTABLISHED src=10.77.0.23 dst=203.0.113.10 sport=40114 dport=80 src=203.0.113.10 dst=192.168.0.10 sport=80 dport=40114 [ASSURED] mark=0 use=1
        tcp      6 431999 ESTABLISHED src=192.168.0.2 dst=192.168.0.10 sport=51000 dport=2222 src=10.77.0.10 dst=192.168.0.2 sport=22 dport=51000 [ASSURED] mark=0 use=1
        udp      17 29 src=10.77.0.23 dst=10.77.0.1 sport=43625 dport=53 src=10.77.0.1 dst=10.77.0.23 sport=53 dport=43625 mark=0 use=1
        tcp      6 431999 ESTABLISHED src=10.77.0.23 dst=10.77.0.1 sport=40116 dport=22 src=10.77.0.1 dst=10.77.0.23 sport=22 dport=40116 [ASSURED] mark=0 use=1
        icmp     1 29 src=10.77.0.23 dst=203.0.113.10 type=8 code=0 id=77 src=203.0.113.10 dst=192.168.0.10 type=0 code=0 id=77 mark=0 use=1
        tcp      6 431999 ESTABLISHED src=10.78.0.5 dst=192.168.0.5 sport=40200 dport=445 src=192.168.0.5 dst=192.168.0.10 sport=445 dport=40200 [ASSURED] mark=0 use=1
        tcp      6 431999 ESTABLISHED src=192.168.0.10 dst=203.0.113.10 sport=40300 dport=443 src=203.0.113.10 dst=192.168.0.10 sport=443 dport=40300 [ASSURED] mark=0 use=1
        this is not an entry
        tcp 6 1 ESTABLISHED src=10.77.0.999 dst=1.2.3.4 sport=1 dport=2 src=1.2.3.4 dst=10.77.0.9 sport=2 dport=1
        """

    static func network(_ name: String, _ third: UInt32, allow: [AllowRule] = [], forwards: [PortForward] = []) -> Network {
        Network(
            name: name, device: .bridge("virbr\(third)"), address: IPv4CIDR(address: IPv4Address(0x0A00_0001 | third << 16), prefix: 24),
            dhcp: DHCP(range: nil), allow: allow, forwards: forwards)
    }

    static let hole = AllowRule(to: .cidr(IPv4CIDR(address: IPv4Address(0xC0A8_0005), prefix: 32)), proto: .tcp, ports: [PortRange(445)])
    static let ssh = AllowRule(to: .host, proto: .tcp, ports: [PortRange(22)])
    static let forward = PortForward(proto: .tcp, port: 2222, toAddress: IPv4Address(0x0A4D_000A), toPort: 22)
    static let local: [IPv4Address: String] = [IPv4Address(0xC0A8_000A): "lan0", IPv4Address(0x0A4D_0001): "virbr77"]

    /// lab (10.77.0.0/24) lost its hole to the NAS and its forward; ci (10.78.0.0/24) keeps the same hole.
    static let tightened = Config(networks: [network("lab", 77, allow: [ssh]), network("ci", 78, allow: [hole])])

    @Test("conntrack's listing is read into tuples; lines of another shape are skipped")
    func parse() throws {
        let connections = Conntrack.parse(Self.listing)
        #expect(connections.count == 8)
        let forwarded = connections[2]
        #expect(forwarded.isDestinationNATed)
        #expect(forwarded.target.address.description == "10.77.0.10" && forwarded.target.port == 22)
        #expect(!connections[1].isDestinationNATed, "masquerade rewrites the source only")
        #expect(connections[5].original.icmp == TrackedConnection.ICMP(type: 8, code: 0, id: 77))
        #expect(
            connections[0].deleteArguments == [
                "conntrack", "-D", "-f", "ipv4", "-p", "tcp", "-s", "10.77.0.23", "-d", "192.168.0.5", "--sport", "40112", "--dport", "445",
            ])
        #expect(connections[5].deleteArguments.suffix(6) == ["--icmp-type", "8", "--icmp-code", "0", "--icmp-id", "77"])
    }

    @Test("exactly the connections through the removed hole and the removed forward are cut")
    func cut() {
        let doomed = ConnectionCut.toCut(
            Conntrack.parse(Self.listing), config: Self.tightened, tightened: ["lab"], local: Self.local)
        #expect(
            doomed.map { "\($0.original.source):\($0.original.sourcePort ?? 0)" }.sorted() == ["10.77.0.23:40112", "192.168.0.2:51000"])
    }

    @Test("a network whose rules did not tighten keeps every connection")
    func untouched() {
        let doomed = ConnectionCut.toCut(Conntrack.parse(Self.listing), config: Self.tightened, tightened: [], local: Self.local)
        #expect(doomed.isEmpty)
    }

    @Test("dns turned off, isolated mode and uplinks each cut what they no longer admit")
    func otherTightenings() {
        let connections = Conntrack.parse(Self.listing)
        var quiet = Self.tightened
        quiet.networks[0].dns = false
        let noDNS = ConnectionCut.toCut(connections, config: quiet, tightened: ["lab"], local: Self.local)
        #expect(noDNS.contains { $0.original.destinationPort == 53 })

        var isolated = Self.tightened
        isolated.networks[0].mode = .isolated
        let cut = ConnectionCut.toCut(connections, config: isolated, tightened: ["lab"], local: Self.local)
        #expect(cut.contains { $0.original.destination.description == "203.0.113.10" && $0.proto == "tcp" })
        #expect(cut.contains { $0.proto == "icmp" })
        #expect(!cut.contains { $0.original.destinationPort == 22 }, "ssh to the host is still allowed")

        var uplinked = Self.tightened
        uplinked.uplinks = ["wan0"]
        let leaving = ConnectionCut.toCut(connections, config: uplinked, tightened: ["lab"], local: Self.local)
        #expect(leaving.contains { $0.original.destinationPort == 80 }, "it left by lan0, not an uplink")
        uplinked.uplinks = ["lan0"]
        let kept = ConnectionCut.toCut(connections, config: uplinked, tightened: ["lab"], local: Self.local)
        #expect(!kept.contains { $0.original.destinationPort == 80 })
    }

    @Test("a chain tightens unless it keeps every rule in order and only adds accepts")
    func tightens() {
        let reject = FirewallRule(owner: .network("lab"), verdict: .reject)
        let accept = FirewallRule(owner: .network("lab"), destination: IPv4CIDR("192.168.0.5/32"), verdict: .accept)
        let other = FirewallRule(owner: .network("lab"), destination: IPv4CIDR("192.168.0.6/32"), verdict: .accept)
        #expect(!ConnectionCut.tightens(from: [reject], to: [accept, reject]))
        #expect(!ConnectionCut.tightens(from: [accept, reject], to: [accept, reject]))
        #expect(ConnectionCut.tightens(from: [accept, reject], to: [reject]))
        #expect(ConnectionCut.tightens(from: [accept], to: [accept, reject]))
        #expect(ConnectionCut.tightens(from: [accept, reject], to: [reject, accept]))
        #expect(ConnectionCut.tightens(from: [accept], to: [other]))
    }
}
