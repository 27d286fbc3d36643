import Foundation
import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


/// A config to render, named like its golden folder.
struct RenderCase: CustomTestStringConvertible, Sendable {
    var name: String
    var config: Config
    var testDescription: String { name }
}

/// Configs that cover SPEC §3: the VM lab of the examples, an `interface:` network, a /30,
/// static-only DHCP, isolated mode, uplinks, forwards, DNS-only and nothing-at-all.
enum RenderCases {
    static let paths = Paths()
    /// The host's resolvers, as `DnsmasqConfig.upstream(resolvConf:)` reads them.
    static let upstream = ["192.0.2.53", "2001:db8::53"]

    static func render(_ config: Config) -> HostState {
        DesiredState.render(config, paths: paths, upstream: upstream)
    }

    static func cidr(_ text: String) -> IPv4CIDR {
        guard let value = IPv4CIDR(text) else { fatalError("bad CIDR literal \(text)") }
        return value
    }

    static func ip(_ text: String) -> IPv4Address {
        guard let value = IPv4Address(text) else { fatalError("bad address literal \(text)") }
        return value
    }

    static func range(_ first: String, _ last: String) -> AddressRange {
        AddressRange(first: ip(first), last: ip(last))
    }

    static let all: [RenderCase] = [
        RenderCase(
            name: "vm-lab",
            config: Config(networks: [
                Network(
                    name: "lab", device: .bridge("virbr10"), address: cidr("192.168.100.1/24"),
                    dhcp: DHCP(
                        range: range("192.168.100.2", "192.168.100.254"),
                        hosts: [
                            StaticHost(mac: "52:54:00:12:34:56", ip: ip("192.168.100.10"), name: "builder"),
                            StaticHost(mac: "52:54:00:12:34:57", ip: ip("192.168.100.11"), name: "runner"),
                        ]),
                    allow: [
                        AllowRule(to: .cidr(cidr("192.168.0.5/32")), proto: .tcp, ports: [PortRange(445)]),
                        AllowRule(to: .host, proto: .tcp, ports: [PortRange(22)]),
                    ],
                    forwards: [PortForward(proto: .tcp, port: 2222, toAddress: ip("192.168.100.10"), toPort: 22)]),
                Network(
                    name: "dmz", device: .bridge("virbr11"), address: cidr("192.168.101.1/24"),
                    dhcp: DHCP(range: range("192.168.101.2", "192.168.101.254"))),
            ])),
        RenderCase(
            name: "interface",
            config: Config(networks: [
                Network(
                    name: "board", device: .interface("enp6s0"), address: cidr("10.20.0.1/24"),
                    dhcp: DHCP(range: range("10.20.0.2", "10.20.0.254"), leaseTime: .seconds(43200)))
            ])),
        RenderCase(
            name: "slash30",
            config: Config(networks: [
                Network(
                    name: "p2p", device: .bridge("br-p2p"), address: cidr("10.99.0.1/30"),
                    dhcp: DHCP(range: range("10.99.0.2", "10.99.0.2"), leaseTime: .infinite))
            ])),
        RenderCase(
            name: "static-only",
            config: Config(networks: [
                Network(
                    name: "rack", device: .bridge("br-rack"), address: cidr("172.20.0.1/24"),
                    dhcp: DHCP(
                        range: nil, leaseTime: .seconds(86400),
                        hosts: [
                            StaticHost(mac: "52:54:00:aa:00:01", ip: ip("172.20.0.10"), name: "node1"),
                            StaticHost(mac: "52:54:00:aa:00:02", ip: ip("172.20.0.11")),
                        ]),
                    dns: false)
            ])),
        RenderCase(
            name: "isolated",
            config: Config(networks: [
                Network(
                    name: "sandbox", device: .bridge("br-sandbox"), address: cidr("10.66.0.1/24"), mode: .isolated,
                    dhcp: DHCP(
                        range: range("10.66.0.100", "10.66.0.199"),
                        hosts: [StaticHost(mac: "52:54:00:66:00:05", ip: ip("10.66.0.5"), name: "probe")]),
                    allow: [AllowRule(to: .host, proto: .icmp)])
            ])),
        RenderCase(
            name: "uplinks",
            config: Config(
                block: [cidr("10.0.0.0/8"), cidr("192.168.0.0/16")], uplinks: ["eth0", "wlan0"],
                networks: [
                    Network(
                        name: "ci", device: .bridge("br-ci"), address: cidr("10.50.0.1/24"),
                        dhcp: DHCP(range: range("10.50.0.2", "10.50.0.254")),
                        allow: [
                            AllowRule(to: .cidr(cidr("10.1.2.0/24"))),
                            AllowRule(
                                to: .cidr(cidr("192.168.1.53/32")), proto: .udp,
                                ports: [PortRange(53), PortRange(123), PortRange(5000, 5100)]),
                            AllowRule(to: .cidr(cidr("192.168.1.1/32")), proto: .icmp),
                            AllowRule(to: .host, proto: .udp, ports: [PortRange(69)]),
                            AllowRule(to: .host, proto: .tcp),
                        ])
                ])),
        RenderCase(
            name: "forwards",
            config: Config(networks: [
                Network(
                    name: "web", device: .bridge("br-web"), address: cidr("10.80.0.1/24"),
                    dhcp: DHCP(
                        range: range("10.80.0.100", "10.80.0.200"),
                        hosts: [StaticHost(mac: "52:54:00:80:00:10", ip: ip("10.80.0.10"), name: "www")]),
                    allow: [
                        // More than multiport's 15 slots: split over two rules.
                        AllowRule(
                            to: .host, proto: .tcp,
                            ports: (1...14).map { PortRange(8000 + $0) } + [PortRange(9000, 9100)])
                    ],
                    forwards: [
                        PortForward(proto: .tcp, port: 80, toAddress: ip("10.80.0.10"), toPort: 80),
                        PortForward(proto: .tcp, port: 8080, toAddress: ip("10.80.0.10"), toPort: 80),
                        PortForward(proto: .udp, port: 5353, toAddress: ip("10.80.0.10"), toPort: 53),
                    ]),
                Network(
                    name: "vault", device: .bridge("br-vault"), address: cidr("10.81.0.1/24"), mode: .isolated,
                    dhcp: DHCP(range: range("10.81.0.2", "10.81.0.254")),
                    forwards: [PortForward(proto: .tcp, port: 2200, toAddress: ip("10.81.0.5"), toPort: 22)]),
            ])),
        RenderCase(
            name: "dns-only",
            config: Config(networks: [
                Network(name: "quiet", device: .interface("usb0"), address: cidr("10.30.0.1/24"), dhcp: nil)
            ])),
        RenderCase(
            name: "bare",
            config: Config(
                block: [],
                networks: [
                    Network(
                        name: "raw", device: .bridge("br-raw"), address: cidr("10.40.0.1/24"), dhcp: nil, dns: false)
                ])),
    ]

    /// The repository's `examples/`, found from this file's place in the source tree.
    static func examplesDir(filePath: String = #filePath) -> URL {
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples", isDirectory: true)
    }

    /// The moat files among the examples (`examples/*.yaml`; the CI workflow is not one).
    static var exampleFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: examplesDir().path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    /// An example loaded through the real loader, golden folder `example-<name>`.
    static func example(_ file: String) throws -> RenderCase {
        let config = try ConfigLoader.load(path: examplesDir().appendingPathComponent(file).path)
        return RenderCase(name: "example-" + file.dropLast(".yaml".count), config: config)
    }

    /// Everything moat would write for a config, as files: the iptables-restore payload, the
    /// nftables table (`firewall: nftables`), a summary of the non-firewall state, and each
    /// network's dnsmasq files.
    static func files(of config: Config) -> [String: String] {
        let state = render(config)
        let nftables = DesiredState.render(config, paths: paths, upstream: upstream, backend: .nftables)
        var files = [
            "firewall.rules": IptablesBackend.restorePayload(state),
            "firewall.nft": NftablesBackend.table(IptablesBackend.moatChains(of: nftables)),
            "host.txt": summary(of: state),
        ]
        for (name, network) in state.networks {
            guard let dnsmasq = network.dnsmasq else { continue }
            files["\(name).dnsmasq.conf"] = dnsmasq.config
            files["\(name).dhcp-hosts"] = dnsmasq.dhcpHosts
            files["\(name).hosts"] = dnsmasq.hosts
        }
        return files
    }

    static func summary(of state: HostState) -> String {
        var lines = ["ip_forward=\(state.ipForward ? 1 : 0)"]
        for name in state.networks.keys.sorted() {
            guard let network = state.networks[name] else { continue }
            let d = network.device
            lines.append(
                "network \(name): device=\(d.name) owned=\(d.owned) exists=\(d.exists) up=\(d.up)"
                    + " addresses=\(d.addresses.map(\.description).joined(separator: ","))"
                    + " ipv6Disabled=\(d.ipv6Disabled) dnsmasq=\(network.dnsmasq != nil)"
                    + " chains=\(network.chains.keys.sorted().map(\.description).joined(separator: ","))")
        }
        return lines.map { $0 + "\n" }.joined()
    }
}

/// Golden files: checked in under `Fixtures/golden/<case>/`, read through `Bundle.module`,
/// re-recorded into the source tree with `MOAT_RECORD=1`.
enum GoldenFiles {

    static func sourceDir(_ name: String, filePath: String = #filePath) -> URL {
        URL(fileURLWithPath: filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/golden/\(name)", isDirectory: true)
    }

    static func bundledDir(_ name: String) -> URL? {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)?
            .appendingPathComponent("golden/\(name)", isDirectory: true)
    }

    /// Writes `files` as the golden folder of `name`, replacing what was there.
    static func record(_ files: [String: String], as name: String) throws {
        let dir = sourceDir(name)
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (file, text) in files {
            try text.write(to: dir.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }
    }

    /// The checked-in files of `name`, by file name; empty when there is no such folder.
    static func load(_ name: String) throws -> [String: String] {
        guard let dir = bundledDir(name),
            let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path)
        else { return [:] }
        var files: [String: String] = [:]
        for file in names {
            files[file] = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
        }
        return files
    }

}

@Suite("Rendering the desired state")
struct RenderTests {
    @Test("renders each case exactly as its golden files", arguments: RenderCases.all)
    func golden(_ c: RenderCase) throws {
        try Self.expectGolden(c)
    }

    @Test("renders each example exactly as its golden files", arguments: RenderCases.exampleFiles)
    func goldenExample(_ file: String) throws {
        try Self.expectGolden(try RenderCases.example(file))
    }

    @Test("the examples are found")
    func examplesFound() {
        #expect(RenderCases.exampleFiles.contains("vm-lab.yaml"))
    }

    static func expectGolden(_ c: RenderCase) throws {
        let files = RenderCases.files(of: c.config)
        if Golden.recording {
            try GoldenFiles.record(files, as: c.name)
            return
        }
        let golden = try GoldenFiles.load(c.name)
        #expect(!golden.isEmpty, "no golden files for \(c.name): run with MOAT_RECORD=1 and rebuild")
        for file in Set(files.keys).union(golden.keys).sorted() {
            let want = golden[file]
            let got = files[file]
            if want != got {
                Issue.record(
                    """
                    \(c.name)/\(file) differs from its golden file (- golden, + rendered; MOAT_RECORD=1 re-records):
                    \(lineDiff(expected: want ?? "", actual: got ?? ""))
                    """)
            }
        }
    }

    @Test("rendering is pure: the same config gives the same state")
    func deterministic() {
        for c in RenderCases.all {
            #expect(
                RenderCases.render(c.config)
                    == RenderCases.render(c.config))
        }
    }

    @Test("every rule carries its network's mark (the block list the shared one), and built-in chains get only jumps")
    func marks() throws {
        for c in RenderCases.all {
            let state = RenderCases.render(c.config)
            for (name, network) in state.networks {
                for (chain, rules) in network.chains {
                    #expect(ChainName.network(of: chain) == name)
                    #expect(!rules.isEmpty)
                    for rule in rules {
                        #expect(rule.owner == .network(name))
                        #expect(rule.origin != nil, "\(c.name): \(rule) says why it exists")
                    }
                }
            }
            for (chain, rules) in state.sharedChains {
                #expect(ChainName.shared.contains { $0.chain == chain } || chain == ChainName.block)
                #expect(!rules.isEmpty)
                // The block list serves every network (`moat`); the rest names its network.
                for rule in rules {
                    let ownNetwork = if case .network = rule.owner { true } else { false }
                    #expect(ownNetwork || (chain == ChainName.block && rule.owner == .shared))
                    #expect(rule.origin != nil, "\(c.name): \(rule) says why it exists")
                }
            }
            for (builtin, rules) in state.jumps {
                let shared = try #require(
                    ChainName.shared.first { $0.chain.table == builtin.table && $0.builtin == builtin.name })
                #expect(rules == [FirewallRule(owner: .shared, verdict: .jump(shared.chain.name))])
                #expect(rules.text == ["-m comment --comment moat -j \(shared.chain.name)"])
                #expect(state.sharedChains[shared.chain] != nil)
            }
        }
    }

    @Test("shared chains list networks by name, all FROM jumps before any TO jump")
    func forwardOrder() throws {
        let lab = try #require(RenderCases.all.first { $0.name == "vm-lab" })
        let state = RenderCases.render(lab.config)
        #expect(
            state.sharedChains[ChainName.forward]?.text == [
                "-i virbr11 -m comment --comment \"moat:dmz\" -j MOAT-FROM-dmz",
                "-i virbr10 -m comment --comment \"moat:lab\" -j MOAT-FROM-lab",
                "-o virbr11 -m comment --comment \"moat:dmz\" -j MOAT-TO-dmz",
                "-o virbr10 -m comment --comment \"moat:lab\" -j MOAT-TO-lab",
            ])
        #expect(state.ipForward)
        #expect(state.networks["lab"]?.chains[ChainName.of(.dnat, network: "lab")] != nil)
        #expect(state.networks["dmz"]?.chains[ChainName.of(.dnat, network: "dmz")] == nil)
    }

    @Test("isolated networks have no masquerade, no gateway and need no forwarding")
    func isolated() throws {
        let c = try #require(RenderCases.all.first { $0.name == "isolated" })
        let state = RenderCases.render(c.config)
        let sandbox = try #require(state.networks["sandbox"])
        #expect(!state.ipForward)
        #expect(sandbox.chains[ChainName.of(.masquerade, network: "sandbox")] == nil)
        #expect(state.sharedChains[ChainName.natPostrouting] == nil)
        #expect(state.jumps[ChainID(.nat, "POSTROUTING")] == nil)
        #expect(sandbox.dnsmasq?.config.contains("dhcp-option=option:router\n") == true)
        #expect(
            sandbox.chains[ChainName.of(.from, network: "sandbox")]?.last?.verdict == .reject)
    }

    @Test("nat networks forward DNS to the host's resolvers, isolated ones to nobody")
    func upstreamServers() throws {
        let lab = try #require(RenderCases.all.first { $0.name == "vm-lab" })
        let config = try #require(RenderCases.render(lab.config).networks["lab"]?.dnsmasq?.config)
        #expect(config.contains("no-resolv\nserver=192.0.2.53\nserver=2001:db8::53\n"))
        let isolated = try #require(RenderCases.all.first { $0.name == "isolated" })
        let sandbox = try #require(RenderCases.render(isolated.config).networks["sandbox"]?.dnsmasq?.config)
        #expect(sandbox.contains("no-resolv\n") && !sandbox.contains("server="))
    }

    @Test("the host's resolvers are read from resolv.conf, addresses only")
    func resolvConf() {
        let text = """
            # Generated by NetworkManager
            search example.org
            nameserver 127.0.0.53
            nameserver\t2001:db8::1
            nameserver fe80::1%enp6s0
            nameserver fe80::2%
            nameserver resolver.example.org
            nameserver 10.0.0.1; rm -rf /
            options edns0 trust-ad
            """
        #expect(DnsmasqConfig.upstream(resolvConf: text) == ["127.0.0.53", "2001:db8::1", "fe80::1%enp6s0"])
    }

    @Test("a network with neither DHCP nor DNS runs no dnsmasq")
    func noDnsmasq() throws {
        let c = try #require(RenderCases.all.first { $0.name == "bare" })
        let state = RenderCases.render(c.config)
        #expect(state.networks["raw"]?.dnsmasq == nil)
        #expect(state.sharedChains[ChainName.manglePostrouting] == nil)
    }

    @Test(
        "comments are quoted as iptables-save quotes them",
        arguments: [
            ("moat", "moat"), ("moat:lab", "\"moat:lab\""), ("a.b", "\"a.b\""), ("a_b-C9", "a_b-C9"),
            ("say \"hi\"", "\"say \\\"hi\\\"\""), ("", "\"\""),
        ])
    func quoting(_ pair: (String, String)) {
        #expect(IptablesBackend.quoted(pair.0) == pair.1)
    }

    @Test("long port lists split over multiport rules of at most 15 slots")
    func multiportSplit() {
        let ports = (1...14).map { PortRange(8000 + $0) } + [PortRange(9000, 9100)]
        let groups = RuleMatch.ports(ports)
        #expect(groups.count == 2)
        #expect(groups[1] == [.port(PortRange(9000, 9100))])
        #expect(RuleMatch.ports([]) == [[]])
        #expect(RuleMatch.ports([PortRange(53), PortRange(67, 68)]) == [[.multiport([PortRange(53), PortRange(67, 68)])]])
        let rule = FirewallRule(owner: .shared, proto: "udp", matches: [.multiport([PortRange(53), PortRange(67, 68)])], verdict: .accept)
        #expect(IptablesBackend.text(of: rule) == "-p udp -m multiport --dports 53,67:68 -m comment --comment moat -j ACCEPT")
    }

    @Test("the golden diff shows what changed")
    func diffShape() {
        #expect(lineDiff(expected: "a\nb\nc", actual: "a\nx\nc") == "  a\n- b\n+ x\n  c")
    }
}
