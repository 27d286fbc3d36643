import Foundation
import MoatConfig
import MoatFuzzTargets
import Testing
@testable import MoatCore

/// Which backend a plan uses, what it warns of, and what the nftables reader makes of
/// other tables and of rules it cannot express.
@Suite("Firewall backends: auto's rule, the warnings, the nftables reader")
struct FirewallBackendTests {
    static func host(nft: Bool = true, policy: String? = "ACCEPT", docker: [String] = [], moatIn backends: [FirewallBackend] = []) -> HostState {
        var host = HostState(firewallHost: FirewallHost(nftables: nft, forwardPolicy: policy, dockerChains: docker))
        for backend in backends { host.sharedChains[ChainName.forward.in(backend)] = [] }
        return host
    }

    @Test("auto: where moat's rules are, else iptables without nft or next to Docker, else nftables")
    func auto() {
        let choose = { (host: HostState) in FirewallDecision.choose(.auto, host: host) }
        #expect(choose(Self.host()).backend == .nftables)
        #expect(choose(Self.host()).reason == "auto: no Docker-like iptables FORWARD on this host")
        #expect(choose(Self.host(nft: false)).backend == .iptables)
        #expect(choose(Self.host(policy: "DROP")).backend == .iptables)
        #expect(choose(Self.host(policy: "DROP")).reason.contains("FORWARD policy is DROP"))
        #expect(choose(Self.host(docker: ["DOCKER-USER"])).backend == .iptables)
        // Sticks to the live backend: Docker installed later moves nothing.
        #expect(choose(Self.host(policy: "DROP", moatIn: [.nftables])).backend == .nftables)
        #expect(choose(Self.host(moatIn: [.iptables])).backend == .iptables)
        #expect(choose(Self.host(moatIn: [.iptables])).reason == "auto: moat's rules are in iptables already")
        // Both (a switch that was interrupted): decided as on a host without moat.
        #expect(choose(Self.host(moatIn: [.iptables, .nftables])).backend == .nftables)
        // The file's word is final.
        #expect(FirewallDecision.choose(.iptables, host: Self.host(moatIn: [.nftables])).backend == .iptables)
        #expect(FirewallDecision.choose(.nftables, host: Self.host(policy: "DROP")).backend == .nftables)
    }

    static let config = Config(networks: [
        Network(name: "lab", device: .bridge("virbr10"), address: IPv4CIDR("192.168.100.1/24")!, dhcp: nil)
    ])

    @Test("warnings: nftables next to a DROP policy; another table's dropping chain, with the remedy")
    func warnings() {
        let nft = FirewallDecision(.nftables, "test")
        #expect(nft.warnings(config: Self.config, host: Self.host(policy: "DROP")).first?.contains("use `firewall: iptables`") == true)
        #expect(FirewallDecision(.iptables, "test").warnings(config: Self.config, host: Self.host(policy: "DROP")).isEmpty)
        #expect(nft.warnings(config: Config(networks: []), host: Self.host(policy: "DROP")).isEmpty)
        var host = Self.host()
        host.firewallHost.droppingChains = [
            .init(family: "inet", table: "firewalld", chain: "filter_FORWARD", hook: "forward"),
            .init(family: "inet", table: "filter", chain: "input", hook: "input"),
        ]
        let warnings = FirewallDecision(.iptables, "test").warnings(config: Self.config, host: host)
        #expect(warnings.count == 2)
        #expect(warnings[0].hasPrefix("table inet firewalld, chain filter_FORWARD (hook forward) drops"))
        #expect(warnings[0].contains("`firewall-cmd --permanent --zone=trusted --add-interface=virbr10`, then `firewall-cmd --reload`"))
        #expect(warnings[1].contains("DHCP or DNS") && warnings[1].contains("`iifname \"virbr10\" accept`"))
    }

    /// A ruleset as `nft -j list ruleset` prints it: a firewalld-like table, an
    /// iptables-nft filter table (read through iptables-save instead), and moat's table
    /// with a rule the model cannot express and a base chain at the wrong priority.
    static let ruleset = """
        {"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "firewalld", "handle": 1}},
        {"chain": {"family": "inet", "table": "firewalld", "name": "filter_FORWARD", "handle": 1, "type": "filter", "hook": "forward", "prio": 10, "policy": "accept"}},
        {"chain": {"family": "inet", "table": "firewalld", "name": "filter_INPUT", "handle": 2, "type": "filter", "hook": "input", "prio": 10, "policy": "drop"}},
        {"chain": {"family": "inet", "table": "firewalld", "name": "filter_OUTPUT", "handle": 3, "type": "filter", "hook": "output", "prio": 10, "policy": "drop"}},
        {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_FORWARD", "handle": 4, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
        {"rule": {"family": "inet", "table": "firewalld", "chain": "filter_FORWARD", "handle": 5, "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"reject": {"type": "icmpx", "expr": "admin-prohibited"}}]}},
        {"table": {"family": "ip", "name": "filter", "handle": 2}},
        {"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
        {"table": {"family": "inet", "name": "moat", "handle": 3}},
        {"chain": {"family": "inet", "table": "moat", "name": "MOAT-INPUT", "handle": 1, "type": "filter", "hook": "input", "prio": 5, "policy": "accept"}},
        {"chain": {"family": "inet", "table": "moat", "name": "MOAT-IN-lab", "handle": 2}},
        {"rule": {"family": "inet", "table": "moat", "chain": "MOAT-IN-lab", "handle": 3, "comment": "moat:lab", "expr": [{"counter": {"packets": 1, "bytes": 2}}, {"accept": null}]}},
        {"rule": {"family": "inet", "table": "moat", "chain": "MOAT-IN-lab", "handle": 4, "comment": "moat:lab", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "192.168.100.1"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"accept": null}]}}
        ]}
        """

    @Test("the reader: other tables' dropping input and forward chains, never iptables-nft's; moat's table as values, or opaque")
    func reader() {
        let dump = NftablesBackend.parseRuleset(json: Self.ruleset)
        #expect(dump.droppingChains.map(\.description) == [
            "table inet firewalld, chain filter_FORWARD (hook forward)", "table inet firewalld, chain filter_INPUT (hook input)",
        ])
        let rules = dump.chains[ChainID(.filter, "MOAT-IN-lab", backend: .nftables)] ?? []
        #expect(rules.count == 2)
        #expect(rules.first?.opaque?.hasPrefix("# ") == true)
        #expect(rules.first?.owner == .network("lab"))
        #expect(
            rules.last
                == FirewallRule(
                    owner: .network("lab"), destination: IPv4CIDR("192.168.100.1/32"), proto: "udp", matches: [.port(PortRange(53))],
                    verdict: .accept))
        // A base chain at another priority than moat writes: the chain differs, and is written again.
        #expect(dump.chains[ChainName.input.in(.nftables)]?.first?.opaque == "# filter hook input priority 5 policy accept")
        #expect(NftablesBackend.parseRuleset(json: "not json") == NftablesDump())
        #expect(NftablesBackend.parseRuleset(json: "{\"nftables\": [{\"rule\": 7}, 3, null]}") == NftablesDump())
    }

    @Test("the snapshot's two listings (the inet tables' rules, every table's chains) read as the whole ruleset does; another family's base chain by its policy")
    func twoListings() throws {
        let objects = try #require(
            (try JSONSerialization.jsonObject(with: Data(Self.ruleset.utf8)) as? [String: Any])?["nftables"] as? [[String: Any]])
        func listing(_ keep: ([String: Any]) -> Bool) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: ["nftables": objects.filter(keep)]), as: UTF8.self)
        }
        func family(_ object: [String: Any]) -> String? {
            object.values.compactMap { ($0 as? [String: Any])?["family"] as? String }.first
        }
        // A Docker-like nftables table of the ip family, whose forward chain drops by policy.
        let docker = #"{"chain": {"family": "ip", "table": "docker-bridges", "name": "filter-FORWARD", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}}"#
        let inet = try listing { family($0) == "inet" || $0["metainfo"] != nil }
        // A chain of moat's table made between the two listings: moat's table is the rules' listing's.
        let made = #"{"chain": {"family": "inet", "table": "moat", "name": "MOAT-IN-new", "handle": 9}}"#
        let chains = try listing { $0["chain"] != nil || $0["metainfo"] != nil }.replacingOccurrences(of: "]}", with: ", \(docker), \(made)]}")
        let two = NftablesBackend.parseRuleset(json: inet, chains: chains)
        #expect(two.chains == NftablesBackend.parseRuleset(json: Self.ruleset).chains)
        #expect(two.droppingChains.map(\.description) == [
            "table inet firewalld, chain filter_FORWARD (hook forward)", "table inet firewalld, chain filter_INPUT (hook input)",
            "table ip docker-bridges, chain filter-FORWARD (hook forward)",
        ])
    }

    @Test("what the host lists could break out of the transaction a rollback writes: kept as a comment of its JSON")
    func hostile() throws {
        func ruleset(_ expr: [[String: Any]], comment: String = "moat:lab") throws -> String {
            let rule: [String: Any] = ["family": "inet", "table": "moat", "chain": "MOAT-IN-lab", "comment": comment, "expr": expr]
            let root: [String: Any] = ["nftables": [["chain": ["family": "inet", "table": "moat", "name": "MOAT-IN-lab"]], ["rule": rule]]]
            return String(decoding: try JSONSerialization.data(withJSONObject: root), as: UTF8.self)
        }
        func match(_ key: String, _ value: String) -> [String: Any] {
            ["match": ["op": "==", "left": ["meta": ["key": key]], "right": value]]
        }
        let accept: [String: Any] = ["accept": NSNull()]
        let inputs = [
            try ruleset([match("iifname", "x\" accept; flush ruleset #"), accept]),
            try ruleset([accept], comment: "moat\"; flush ruleset; #"),
            try ruleset([["jump": ["target": "MOAT-IN-lab; flush ruleset"]]]),
            try ruleset([match("l4proto", "tcp accept; flush ruleset"), accept]),
            try ruleset([accept], comment: "moat:lab\nflush ruleset"),
        ]
        // A chain whose name nft text could not hold is left out, its rules with it.
        let chainName: [String: Any] = ["nftables": [
            ["chain": ["family": "inet", "table": "moat", "name": "x { } ; flush ruleset"]],
            ["rule": ["family": "inet", "table": "moat", "chain": "x { } ; flush ruleset", "expr": [accept]]],
        ]]
        #expect(NftablesBackend.parseRuleset(json: String(decoding: try JSONSerialization.data(withJSONObject: chainName), as: UTF8.self)).chains.isEmpty)
        for input in inputs {
            let rules = NftablesBackend.parseRuleset(json: input).chains[ChainID(.filter, "MOAT-IN-lab", backend: .nftables)] ?? []
            #expect(rules.count == 1 && rules.allSatisfy { $0.opaque?.hasPrefix("# ") == true }, "\(input) → \(rules)")
            let line = rules.first.map { NftablesBackend.text(of: $0, in: .filter) } ?? ""
            #expect(!line.contains("\n"), "\(line)")
            try FuzzTarget.all["nft-ruleset"]?.run(Array(input.utf8))
        }
        // The seeds the fuzzer starts from go through its target cleanly.
        let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/seeds/nft-ruleset")
        let files = try FileManager.default.contentsOfDirectory(atPath: seeds.path)
        #expect(files.count >= 3)
        for file in files { try FuzzTarget.all["nft-ruleset"]?.run([UInt8](try Data(contentsOf: seeds.appendingPathComponent(file)))) }
    }

    @Test("the transaction: the table replaced whole, or deleted once its last chain goes; nil when nothing is nftables'")
    func transaction() {
        let chain = ChainID(.filter, "MOAT-IN-lab", backend: .nftables)
        let rule = FirewallRule(owner: .network("lab"), verdict: .reject)
        #expect(NftablesBackend.transaction(live: [:], operations: [.writeChain(chain.in(.iptables), [rule])]) == nil)
        let write = NftablesBackend.transaction(live: [:], operations: [.writeChain(chain, [rule])])
        #expect(write == "add table inet moat\ndelete table inet moat\ntable inet moat {\n\tchain MOAT-IN-lab {\n\t\treject comment \"moat:lab\"\n\t}\n}\n")
        #expect(NftablesBackend.transaction(live: [chain: [rule]], operations: [.deleteChain(chain)]) == "add table inet moat\ndelete table inet moat\n")
    }
}
