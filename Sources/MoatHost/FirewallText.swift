/// moat's firewall as text: iptables-restore payloads, printed the way iptables-save prints
/// the same rules. Pure.
public enum FirewallText {
    /// Where a payload puts its jumps in the built-in chains.
    public enum JumpPlacement: Sendable {
        /// `-I <builtin> 1`: before every other rule, so moat's isolation holds whatever
        /// accept rules other software keeps in the same built-in chain.
        case first
        /// `-A <builtin>`: after every other rule.
        case last
    }

    /// Every chain moat wants in `state`, the shared ones and every network's own, by chain.
    public static func moatChains(of state: HostState) -> [ChainID: [String]] {
        var chains = state.sharedChains
        for network in state.networks.values {
            chains.merge(network.chains) { shared, _ in shared }
        }
        return chains
    }

    /// An `iptables-restore --noflush` payload that creates all of moat's chains of `state`
    /// with their rules, and its jumps: the whole firewall of an empty host.
    public static func restorePayload(_ state: HostState, jumps placement: JumpPlacement = .first) -> String {
        restorePayload(chains: moatChains(of: state), jumps: state.jumps, placement: placement)
    }

    /// An `iptables-restore --noflush` payload that (re)writes `chains` and adds `jumps`.
    ///
    /// A chain declared in a `--noflush` payload is created when missing and flushed when
    /// present, so the payload writes each chain whole, whatever it held; chains it does
    /// not name are untouched. Jumps are added, never replaced: remove stale ones first.
    /// Tables come in `FirewallTable` order, chains by name, each table's jumps after its
    /// chains (a jump needs its target), one `COMMIT` per table: one atomic transaction.
    public static func restorePayload(
        chains: [ChainID: [String]], jumps: [ChainID: [String]] = [:], placement: JumpPlacement = .first
    ) -> String {
        var lines: [String] = []
        for table in FirewallTable.allCases {
            let tableChains = chains.keys.filter { $0.table == table }.sorted()
            let tableJumps = jumps.keys.filter { $0.table == table }.sorted()
            if tableChains.isEmpty && tableJumps.allSatisfy({ (jumps[$0] ?? []).isEmpty }) { continue }
            lines.append("*\(table.rawValue)")
            for chain in tableChains { lines.append(":\(chain.name) - [0:0]") }
            for chain in tableChains {
                for rule in chains[chain] ?? [] { lines.append("-A \(chain.name) \(rule)") }
            }
            for builtin in tableJumps {
                let rules = jumps[builtin] ?? []
                switch placement {
                case .first:
                    // Each insert at 1 goes above the previous one: insert in reverse so
                    // the chain ends up in the given order.
                    for rule in rules.reversed() { lines.append("-I \(builtin.name) 1 \(rule)") }
                case .last:
                    for rule in rules { lines.append("-A \(builtin.name) \(rule)") }
                }
            }
            lines.append("COMMIT")
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// A comment as iptables-save writes it (`xtables_save_string`): bare when it is only
    /// ASCII letters, digits, `-` and `_`; otherwise in double quotes with `"`, `\` and `'`
    /// escaped by a backslash (`"moat:lab"`).
    public static func quoted(_ text: String) -> String {
        let bare =
            !text.isEmpty
            && text.unicodeScalars.allSatisfy { s in
                ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s) || s == "-" || s == "_"
            }
        if bare { return text }
        var out = "\""
        for ch in text {
            if ch == "\"" || ch == "\\" || ch == "'" { out.append("\\") }
            out.append(ch)
        }
        return out + "\""
    }
}
