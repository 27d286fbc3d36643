import Foundation
import MoatConfig
import MoatHost
import Testing

@Suite("Loading a file")
struct LoaderTests {
    @Test("every example is valid", arguments: Fixtures.examples)
    func example(name: String) throws {
        let path = Fixtures.repository.appendingPathComponent("examples/\(name)").path
        let check = ConfigLoader.check(path: path)
        #expect(check.diagnostics == [])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("# yaml-language-server: $schema=../schemas/moat.schema.json\n"))
    }

    @Test("the lab-fleet example directory is one valid configuration of two files")
    func labFleet() throws {
        let folder = Fixtures.repository.appendingPathComponent("examples/lab-fleet")
        let check = ConfigLoader.check(paths: [folder.path])
        #expect(check.diagnostics == [])
        let config = try check.get()
        #expect(config.networks.map(\.name) == ["vms", "board"])
        #expect(config.networks[1].device == .interfaceWithMAC("00:e0:4c:68:00:01"))
        #expect(config.networks[1].optional)
        for file in check.sources.map(\.text) {
            #expect(file.hasPrefix("# yaml-language-server: $schema=../../schemas/moat.schema.json\n"))
        }
    }

    @Test("the VM lab example reads as its comments say")
    func vmLab() throws {
        let config = try ConfigLoader.load(path: Fixtures.repository.appendingPathComponent("examples/vm-lab.yaml").path)
        #expect(config.networks.map(\.name) == ["lab", "dmz"])
        let lab = config.networks[0]
        #expect(lab.device == .bridge("virbr10"))
        #expect(lab.allow.contains(AllowRule(to: .cidr(try #require(IPv4CIDR("192.168.0.5/32"))), proto: .tcp, ports: [PortRange(445)])))
        #expect(lab.allow.contains(AllowRule(to: .host, proto: .tcp, ports: [PortRange(22)])))
        #expect(lab.forwards == [PortForward(proto: .tcp, port: 2222, toAddress: try #require(IPv4Address("192.168.100.10")), toPort: 22)])
        #expect(lab.dhcp?.hosts.count == 2)
    }

    @Test("defaults are filled in: range, lease time, dns, mode, block, dhcp")
    func defaults() throws {
        let config = try ConfigLoader.load(
            text: "version: 1\nnetworks:\n  lab:\n    bridge: virbr10\n    address: 192.168.100.1/24\n", file: "t.yaml")
        let lab = try #require(config.networks.first)
        #expect(lab.mode == .nat)
        #expect(lab.dns)
        #expect(lab.dhcp?.range?.description == "192.168.100.2-192.168.100.254")
        #expect(lab.dhcp?.leaseTime == .seconds(3600))
        #expect(lab.dhcp?.hosts == [])
        #expect(config.block == Config.privateRanges)
        #expect(config.uplinks == [])
        #expect(config.version == 1)
    }

    @Test(
        "the default range is the larger side of the host address",
        arguments: [
            ("10.0.0.1/24", "10.0.0.2-10.0.0.254"),
            ("10.0.0.254/24", "10.0.0.1-10.0.0.253"),
            ("10.0.0.100/24", "10.0.0.101-10.0.0.254"),
            ("10.0.0.200/24", "10.0.0.1-10.0.0.199"),
            ("10.0.0.1/30", "10.0.0.2-10.0.0.2"),
            ("10.0.0.2/30", "10.0.0.1-10.0.0.1"),
        ])
    func defaultRange(address: String, range: String) throws {
        let text = "version: 1\nnetworks:\n  lab:\n    bridge: b0\n    address: \(address)\n    dhcp: {lease-time: 2h}\n"
        let config = try ConfigLoader.load(text: text, file: "t.yaml")
        #expect(config.networks.first?.dhcp?.range?.description == range)
        #expect(config.networks.first?.dhcp?.leaseTime == .seconds(7200))
    }

    @Test("dhcp: false, range: static, infinite leases, isolated mode and a custom block")
    func explicitValues() throws {
        let text = """
            version: 1
            block: [private, 203.0.113.0/24, 198.51.100.7, private]
            uplinks: [eth0]
            networks:
              a:
                bridge: br-a
                address: 10.1.0.1/24
                dhcp: false
                dns: no
              b:
                interface: enp6s0
                address: 10.2.0.1/24
                mode: isolated
                dhcp:
                  range: static
                  lease-time: infinite
                  hosts: [{mac: "52:54:00:AB:CD:EF", ip: 10.2.0.9, name: Board}]
            """
        let config = try ConfigLoader.load(text: text, file: "t.yaml")
        #expect(config.block.count == Config.privateRanges.count + 2)
        #expect(config.block.suffix(2).map(\.description) == ["203.0.113.0/24", "198.51.100.7/32"])
        #expect(config.uplinks == ["eth0"])
        #expect(config.networks[0].dhcp == nil)
        #expect(config.networks[0].dns == false)
        #expect(config.networks[1].device == .interface("enp6s0"))
        #expect(config.networks[1].mode == .isolated)
        let dhcp = try #require(config.networks[1].dhcp)
        #expect(dhcp.range == nil)
        #expect(dhcp.leaseTime == .infinite)
        #expect(dhcp.hosts == [StaticHost(mac: "52:54:00:ab:cd:ef", ip: try #require(IPv4Address("10.2.0.9")), name: "Board")])
    }

    @Test("ports keep their ranges; a forward without a port keeps the same port")
    func portsAndForwards() throws {
        let text = """
            version: 1
            networks:
              lab:
                bridge: virbr10
                address: 192.168.100.1/24
                allow: [{to: host, proto: udp, ports: [53, "8000-8100", "9000"]}]
                forwards: [{proto: udp, port: 5353, to: "192.168.100.7"}]
            """
        let lab = try #require(try ConfigLoader.load(text: text, file: "t.yaml").networks.first)
        #expect(lab.allow == [AllowRule(to: .host, proto: .udp, ports: [PortRange(53), PortRange(8000, 8100), PortRange(9000)])])
        #expect(lab.forwards.first?.toPort == 5353)
    }

    @Test("every error is reported at once, in file order")
    func allErrorsAtOnce() throws {
        let text = """
            version: 2
            networks:
              lab:
                bridge: virbr10
                address: 192.168.100.1/24
                dhcp:
                  range: 192.168.100.1-192.168.100.9
                  hosts:
                    - { mac: nope, ip: 10.0.0.1 }
                forwards:
                  - { proto: tcp, port: 22, to: "192.168.100.10:22" }
              Bad:
                bridge: virbr10
                adress: 192.168.100.2/24
                forwards:
                  - { proto: tcp, port: 22, to: "192.168.100.10:22" }
            """
        let error = #expect(throws: MoatError.self) { try ConfigLoader.load(text: text, file: "moat.yaml") }
        let diagnostics = try #require(error?.diagnostics)
        let found = diagnostics.map { "\($0.line):\($0.column) \($0.path)" }
        #expect(
            found == [
                "1:10 version",
                "7:14 networks.lab.dhcp.range",
                "9:18 networks.lab.dhcp.hosts[0].mac",
                "9:28 networks.lab.dhcp.hosts[0].ip",
                "12:3 networks.Bad",
                "12:3 networks.Bad",
                "13:13 networks.Bad.bridge",
                "14:5 networks.Bad.adress",
                "16:29 networks.Bad.forwards[0].port",
            ])
        #expect(error?.exitCode == 1)
        #expect(error?.message == "moat.yaml is invalid: 9 errors")
    }

    @Test("a file that cannot be opened is a diagnostic without a line")
    func missingFile() {
        let check = ConfigLoader.check(path: "/nonexistent/moat.yaml")
        #expect(check.config == nil)
        #expect(check.diagnostics.map(\.line) == [0])
        #expect(check.diagnostics.first?.message.contains("cannot read") == true)
    }

    @Test("the summary line names the networks")
    func summary() throws {
        let one = ConfigLoader.check(text: "version: 1\nnetworks:\n  lab: {bridge: b0, address: 10.0.0.1/24}\n", file: "m.yaml")
        #expect(one.summary == "m.yaml: valid, 1 network (lab).")
        let none = ConfigLoader.check(text: "version: 1\nnetworks: {}\n", file: "m.yaml")
        #expect(none.summary == "m.yaml: valid, 0 networks.")
        let bad = ConfigLoader.check(text: "version: 3\nnetworks: []\n", file: "m.yaml")
        #expect(bad.summary == "m.yaml: invalid, 2 errors.")
    }
}

@Suite("Scalars are typed as YAML 1.1 reads them")
struct ScalarTypingTests {
    @Test(
        "plain scalars that PyYAML reads as numbers or booleans are not strings",
        arguments: [
            ("22", "a number"), ("0", "a number"), ("+5", "a number"), ("1_000", "a number"), ("017", "a number"),
            ("0x1F", "a number"), ("0b101", "a number"), ("1:30", "a number"), ("1.5", "a number"),
            (".5", "a number"), ("1e+3", "a string"), ("1.0e+3", "a number"), (".inf", "a number"),
            ("yes", "a boolean"), ("Off", "a boolean"), ("~", "nothing (null)"), ("y", "a string"),
            ("192.168.0.1", "a string"), ("8000-8100", "a string"), ("10.0.0.1:22", "a string"), ("1h", "a string"),
        ])
    func typing(scalar: String, kind: String) {
        // `bridge` wants a string, so the error (or its absence) names the scalar's type.
        let check = ConfigLoader.check(
            text: "version: 1\nnetworks:\n  lab: {bridge: \(scalar), address: 10.0.0.1/24}\n", file: "t.yaml")
        if kind == "a string" {
            #expect(!check.diagnostics.contains { $0.message.contains("found") })
        } else {
            #expect(check.diagnostics.first?.message == "expected a device name, found \(kind)")
        }
    }
}
