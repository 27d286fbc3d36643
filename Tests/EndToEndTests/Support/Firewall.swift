import Foundation
import MoatCore

/// moat's rules on a test host, in the backend the suite runs with (`Environment.firewall`):
/// what a test lists, breaks or injects a failure into.
enum Rules {
    static var nftables: Bool { Environment.firewall == "nftables" }

    /// The program a firewall fault stands in for, and the argument it fails on.
    static var tool: (program: String, trigger: String?) { nftables ? ("nft", "-f") : ("iptables-restore", nil) }

    /// moat's rules as the backend lists them: `iptables-save`, or `nft list table inet moat`.
    static func text(_ host: TestHost) throws -> String {
        nftables ? try host.nftablesTable() : try host.exec(["iptables-save"])
    }

    /// Deletes the first rule of moat's nftables chain `chain` whose listing contains `text`.
    static func nftDelete(in chain: String, containing text: String, host: TestHost) throws {
        let listing = try host.exec(["nft", "-a", "list", "chain", "inet", "moat", chain])
        guard let line = listing.split(separator: "\n").first(where: { $0.contains(text) && $0.contains("# handle ") }),
            let handle = line.components(separatedBy: "# handle ").last?.trimmingCharacters(in: .whitespaces)
        else { throw TestFailure("no rule with \(text) in \(chain):\n\(listing)") }
        try host.exec(["nft", "delete", "rule", "inet", "moat", chain, "handle", handle])
    }

    /// Empties one of moat's chains, as a hand or another tool would.
    static func flush(_ chain: String, host: TestHost) throws {
        if nftables {
            try host.exec(["nft", "flush", "chain", "inet", "moat", chain])
        } else {
            try host.exec(["iptables", "-F", chain])
        }
    }
}

extension Rules {
    /// moat's chains as nft reads back `transaction` (a rendered `nftables.nft`), loaded into
    /// a namespace of its own, made and deleted here.
    static func loaded(nft transaction: String, host: TestHost) throws -> [ChainID: [FirewallRule]] {
        let namespace = host.namespace + "-nft"
        try Shell.must(["ip", "netns", "add", namespace])
        defer { _ = try? Shell.run(["ip", "netns", "del", namespace]) }
        try Shell.must(["ip", "netns", "exec", namespace, "nft", "-f", "-"], input: transaction)
        return NftablesBackend.parseRuleset(json: try Shell.must(["ip", "netns", "exec", namespace, "nft", "-j", "list", "ruleset"])).chains
    }
}
