import Foundation
import MoatConfig
import Testing

@testable import MoatCore
import MoatReconcile
import MoatHost
import MoatTestSupport

/// Every `iptables-save` captured from a real kernel in the source tree: this target's and
/// the diff cases' hosts.
enum CapturedDumps {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    static var files: [String] {
        let roots = [
            tests.appendingPathComponent("MoatHostTests/Fixtures/captured"),
            tests.appendingPathComponent("MoatReconcileTests/Fixtures/diff"),
        ]
        var found: [String] = []
        for root in roots {
            let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
            while let url = enumerator?.nextObject() as? URL {
                guard url.lastPathComponent == "iptables-save.txt" else { continue }
                found.append(url.path.replacingOccurrences(of: tests.path + "/", with: ""))
            }
        }
        return found.sorted()
    }

    /// The `-A` lines of moat's chains and of the jumps into them, as `(table, chain, rule)`.
    static func moatLines(_ text: String) -> [(FirewallTable, String, String)] {
        var table: FirewallTable?
        var lines: [(FirewallTable, String, String)] = []
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("*") { table = FirewallTable(rawValue: String(line.dropFirst())) }
            guard let table, line.hasPrefix("-A ") else { continue }
            let words = line.split(separator: " ", maxSplits: 2).map(String.init)
            let chain = words[1]
            let rule = words.count > 2 ? words[2] : ""
            if chain.hasPrefix(Mark.chainPrefix) || iptablesTarget(of: rule)?.hasPrefix(Mark.chainPrefix) == true {
                lines.append((table, chain, rule))
            }
        }
        return lines
    }
}

@Suite("The firewall model: rules as values, the iptables backend as their text")
struct FirewallModelTests {
    @Test("every captured rule of moat's parses, and renders back to its exact line", arguments: CapturedDumps.files)
    func capturedRoundTrip(_ file: String) throws {
        let text = try String(contentsOf: CapturedDumps.tests.appendingPathComponent(file), encoding: .utf8)
        let lines = CapturedDumps.moatLines(text)
        let dump = IptablesBackend.parseSave(text)
        var read: [ChainID: [FirewallRule]] = dump.chains
        read.merge(dump.jumps) { chain, _ in chain }
        // The dump holds exactly those lines, in order, each rendering to itself.
        var expected: [ChainID: [String]] = [:]
        for (table, chain, rule) in lines { expected[ChainID(table, chain), default: []].append(rule) }
        #expect(read.filter { !$0.value.isEmpty }.text == expected, "\(file)")
        for (_, _, rule) in lines {
            let parsed = IptablesBackend.parseRule(rule)
            #expect(IptablesBackend.text(of: parsed) == rule, "\(file): \(rule)")
            // moat wrote every rule of these hosts whose comment is its own: the model reads
            // each one whole, so none needs the opaque form.
            let foreign = if case .other = parsed.owner { true } else { false }
            if !foreign {
                #expect(parsed.opaque == nil, "\(file): moat's own rule read as opaque: \(rule)")
            }
        }
    }

    @Test("a captured converged host reads back as the very rules the file renders")
    func capturedEqualsDesired() throws {
        // The captured host of `host` is not a whole config's; the diff cases prove the rest.
        let rule = IptablesBackend.parseRule(#"-d 192.168.0.5/32 -p tcp -m tcp --dport 445 -m comment --comment "moat:lab" -j ACCEPT"#)
        let allow = AllowRule(to: .cidr(RenderCases.cidr("192.168.0.5/32")), proto: .tcp, ports: [PortRange(445)])
        let rendered = FirewallChains.allowRules(allow, destination: RenderCases.cidr("192.168.0.5/32"), owner: .network("lab"))
        #expect(rendered == [rule])
        #expect(rule.origin == nil && rendered[0].origin == .allow(allow))
        #expect(Set(rendered).contains(rule), "hashing ignores the origin too")
    }

    @Test(
        "a rule the model cannot read exactly keeps its text byte for byte",
        arguments: [
            // A foreign match module, read as text between typed parts.
            #"-s 192.168.100.10/32 -m mac --mac-source 52:54:00:12:34:56 -m comment --comment "moat:lab" -j ACCEPT"#,
            // A foreign target.
            #"-p tcp -m comment --comment "moat:lab" -j LOG --log-prefix "moat drop: " --log-level 4"#,
            // A negation the model has no field for.
            #"! -s 10.0.0.0/8 -m comment --comment "moat:lab" -j DROP"#,
            // The comment before a match: iptables keeps the order given, moat never writes it.
            #"-m comment --comment "moat:lab" -p tcp -m tcp --dport 22 -j ACCEPT"#,
            // A goto, no verdict at all, a foreign comment, two spaces.
            "-g MOAT-FORWARD", "", #"-m comment --comment "by hand" -j ACCEPT"#, "-j  ACCEPT",
            // A typed-looking option with a value moat never writes.
            #"-m conntrack --ctstate NEW,BOGUS -m comment --comment "moat:lab" -j ACCEPT"#,
            #"-p tcp -m tcp --dport 70000 -m comment --comment "moat:lab" -j ACCEPT"#,
            #"-m comment --comment "moat:lab" -j DNAT --to-destination 192.168.100.10"#,
        ])
    func unreadable(_ rule: String) {
        let parsed = IptablesBackend.parseRule(rule)
        #expect(IptablesBackend.text(of: parsed) == rule)
        let payload = IptablesBackend.restorePayload(write: [ChainID(.filter, "MOAT-FROM-lab"): [parsed]])
        #expect(payload.contains("\n-A MOAT-FROM-lab \(rule)\n"), "rollback writes it back as found")
        if rule.contains("\"moat:lab\"") { #expect(parsed.owner == .network("lab")) }
    }

    @Test("what can be read of a rule the model cannot express: its owner and verdict")
    func opaqueParts() {
        let negated = IptablesBackend.parseRule(#"! -s 10.0.0.0/8 -m comment --comment "moat:lab" -j DROP"#)
        #expect(negated.opaque != nil && negated.owner == .network("lab") && negated.verdict == .drop)
        let mac = IptablesBackend.parseRule(#"-m mac --mac-source 52:54:00:12:34:56 -m comment --comment moat -j MOAT-BLOCK"#)
        #expect(mac.opaque == nil)
        #expect(mac.matches == [.text("-m mac --mac-source 52:54:00:12:34:56")])
        #expect(mac.owner == .shared && mac.verdict == .jump("MOAT-BLOCK"))
        let log = IptablesBackend.parseRule(#"-m comment --comment "by hand" -j LOG --log-prefix "x y""#)
        #expect(log.owner == .other("by hand") && log.verdict == .text(#"LOG --log-prefix "x y""#))
        #expect(IptablesBackend.parseRule("-j MOAT-FORWARD").owner == .other(nil))
    }

    @Test("every rule moat emits parses back to an equal value, not an opaque one")
    func renderedParse() {
        for c in RenderCases.all {
            let state = RenderCases.render(c.config)
            let rules = Array(IptablesBackend.moatChains(of: state).values.joined()) + Array(state.jumps.values.joined())
            for rule in rules {
                let back = IptablesBackend.parseRule(IptablesBackend.text(of: rule))
                #expect(back == rule && back.opaque == nil, "\(c.name): \(rule)")
            }
        }
    }

    @Test("rendered rules say which part of the file they come from")
    func origins() throws {
        let lab = try #require(RenderCases.all.first { $0.name == "vm-lab" })
        let network = try #require(lab.config.networks.first { $0.name == "lab" })
        let state = RenderCases.render(lab.config)
        let chains = try #require(state.networks["lab"]?.chains)
        let forward = try #require(network.forwards.first)
        let allowNAS = network.allow[0]
        let allowSSH = network.allow[1]

        let dnat = try #require(chains[ChainName.of(.dnat, network: "lab")])
        #expect(dnat.map(\.origin) == [.forward(forward)])
        #expect(dnat.first?.verdict == .dnat(forward.toAddress, forward.toPort))
        let to = try #require(chains[ChainName.of(.to, network: "lab")])
        #expect(to.map(\.origin) == [.invalid, .replies, .forward(forward), .finalVerdict])
        let from = try #require(chains[ChainName.of(.from, network: "lab")])
        #expect(from.map(\.origin) == [.invalid, .intraNetwork, .replies, .allow(allowNAS), .blockList, .internet])
        let input = try #require(chains[ChainName.of(.input, network: "lab")])
        #expect(input.filter { $0.origin == .allow(allowSSH) }.map(\.verdict) == [.accept])
        #expect(input.filter { $0.origin == .dhcp }.count == 2 && input.filter { $0.origin == .dns }.count == 2)
        #expect(chains[ChainName.of(.masquerade, network: "lab")]?.map(\.origin) == [.keepSource, .keepSource, .masquerade, .masquerade, .masquerade])

        #expect(
            state.sharedChains[ChainName.block]?.map(\.origin)
                == lab.config.block.map { .block($0) } + [.otherNetwork("dmz"), .otherNetwork("lab")])
        #expect(state.sharedChains[ChainName.forward]?.allSatisfy { $0.origin == .dispatch } == true)
        #expect(state.sharedChains[ChainName.manglePostrouting]?.allSatisfy { $0.origin == .checksum } == true)
        #expect(state.jumps.values.joined().allSatisfy { $0.origin == .dispatch && $0.owner == .shared })
    }

    @Test("the DHCP checksum rule: every network's with iptables; with nftables, which can only zero it, bridges' only")
    func checksumRules() throws {
        let config = Config(networks: try ["vm-lab", "interface"].flatMap { name in
            try #require(RenderCases.all.first { $0.name == name }).config.networks
        })
        func checksummed(_ backend: FirewallBackend) -> [String] {
            let state = DesiredState.render(config, paths: RenderCases.paths, backend: backend)
            return (state.sharedChains[ChainName.manglePostrouting.in(backend)] ?? []).compactMap(\.outInterface)
        }
        #expect(checksummed(.iptables) == ["enp6s0", "virbr11", "virbr10"])
        #expect(checksummed(.nftables) == ["virbr11", "virbr10"])
    }

    @Test("block entries and uplinks carry their entry")
    func blockAndUplinkOrigins() throws {
        let c = try #require(RenderCases.all.first { $0.config.uplinks == ["eth0", "wlan0"] })
        let state = RenderCases.render(c.config)
        let block = try #require(state.sharedChains[ChainName.block])
        #expect(Array(block.prefix(2)).map(\.origin) == c.config.block.map { .block($0) })
        #expect(block.prefix(2).allSatisfy { $0.owner == .shared && $0.verdict == .reject })
        let uplinks = state.networks.values.flatMap { $0.chains.values.joined() }.compactMap { rule -> String? in
            if case .uplink(let device) = rule.origin { device } else { nil }
        }
        #expect(Set(uplinks) == ["eth0", "wlan0"])
    }
}
