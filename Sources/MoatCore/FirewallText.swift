/// moat's firewall as text: iptables-restore payloads, printed the way iptables-save prints
/// the same rules. Pure.
public enum FirewallText {
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
    public static func restorePayload(_ state: HostState) -> String {
        restorePayload(write: moatChains(of: state), insertJumps: state.jumps)
    }

    /// The one `iptables-restore --noflush` transaction moat sends: per table (in
    /// `FirewallTable` order, chains by name), every written or deleted chain declared first
    /// (a declared chain is created when missing and flushed when present, so a chain is
    /// always written whole and one being deleted is emptied first), then the stale jumps
    /// removed (`-D`), the rules appended, the new jumps inserted at the top of their
    /// built-in chain (in reverse, so they end up in the given order, before every other
    /// software's rules), and the deleted chains removed (`-X`) once nothing jumps to them.
    /// Chains it does not name are untouched; one `COMMIT` per table.
    public static func restorePayload(
        write: [ChainID: [String]], delete: Set<ChainID> = [], removeJumps: [ChainID: [String]] = [:],
        insertJumps: [ChainID: [String]] = [:]
    ) -> String {
        var lines: [String] = []
        for table in FirewallTable.allCases {
            let written = write.keys.filter { $0.table == table }.sorted()
            let deleted = delete.filter { $0.table == table }.sorted()
            let removed = removeJumps.keys.filter { $0.table == table }.sorted()
            let inserted = insertJumps.keys.filter { $0.table == table }.sorted()
            var body = (written + deleted).map { ":\($0.name) - [0:0]" }
            for builtin in removed { body += (removeJumps[builtin] ?? []).map { "-D \(builtin.name) \($0)" } }
            for chain in written { body += (write[chain] ?? []).map { "-A \(chain.name) \($0)" } }
            for builtin in inserted { body += (insertJumps[builtin] ?? []).reversed().map { "-I \(builtin.name) 1 \($0)" } }
            body += deleted.map { "-X \($0.name)" }
            guard !body.isEmpty else { continue }
            lines += ["*\(table.rawValue)"] + body + ["COMMIT"]
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
