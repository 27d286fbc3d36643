import MoatConfig

/// The iptables backend: moat's firewall model (`FirewallRule`) as the text `iptables-save`
/// (1.8.x) prints after `-A <chain> `, and `iptables-restore --noflush` payloads of it. Its
/// reader, `parseSave(_:)`, is in ParseIptablesSave.swift. Pure.
///
/// The live snapshot parses that text back into rules, so the text must be canonical: the
/// option order is the one iptables-save uses (`-s -d -i -o -p`, then the matches in the order
/// they were given, then the comment, then `-j` and the target's options). Every form moat
/// emits is proved by `RenderRoundTripTests`, which loads the rendered payload into a fresh
/// network namespace and reads it back.
public enum IptablesBackend {
    /// A rule as iptables-save prints it after `-A <chain> `; an opaque rule's kept text.
    public static func text(of rule: FirewallRule) -> String {
        if let opaque = rule.opaque { return opaque }
        var parts: [String] = []
        if let source = rule.source { parts.append("-s \(source)") }
        if let destination = rule.destination { parts.append((rule.destinationNegated ? "! " : "") + "-d \(destination)") }
        if let inInterface = rule.inInterface { parts.append("-i \(inInterface)") }
        if let outInterface = rule.outInterface { parts.append((rule.outInterfaceNegated ? "! " : "") + "-o \(outInterface)") }
        if let proto = rule.proto { parts.append("-p \(proto)") }
        parts += rule.matches.map { text(of: $0, proto: rule.proto) }
        if let comment = rule.owner.comment { parts.append("-m comment --comment \(quoted(comment))") }
        parts.append("-j \(text(of: rule.verdict))")
        return parts.joined(separator: " ")
    }

    /// A match module with its options, starting `-m <module>`.
    static func text(of match: RuleMatch, proto: String?) -> String {
        switch match {
        case .port(let port): "-m \(proto ?? "") --dport \(port)"
        case .multiport(let ports): "-m multiport --dports " + ports.map(\.description).joined(separator: ",")
        case .conntrack(let states): "-m conntrack --ctstate " + states.map(\.rawValue).joined(separator: ",")
        case .localDestination: "-m addrtype --dst-type LOCAL"
        case .text(let text): text
        }
    }

    /// A target with its options, as it follows `-j `.
    static func text(of verdict: Verdict) -> String {
        switch verdict {
        case .accept: "ACCEPT"
        case .drop: "DROP"
        case .reject: "REJECT --reject-with icmp-port-unreachable"
        case .return: "RETURN"
        case .jump(let chain): chain
        case .masquerade(nil): "MASQUERADE"
        // iptables-save writes the range with a dash (`1024-65535`), one port bare.
        case .masquerade(let ports?): "MASQUERADE --to-ports " + (ports.low == ports.high ? "\(ports.low)" : "\(ports.low)-\(ports.high)")
        case .dnat(let address, let port): "DNAT --to-destination \(address):\(port)"
        case .checksumFill: "CHECKSUM --checksum-fill"
        case .text(let text): text
        }
    }

    /// Every chain moat wants in `state`, the shared ones and every network's own, by chain.
    public static func moatChains(of state: HostState) -> [ChainID: [FirewallRule]] {
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
        write: [ChainID: [FirewallRule]], delete: Set<ChainID> = [], removeJumps: [ChainID: [FirewallRule]] = [:],
        insertJumps: [ChainID: [FirewallRule]] = [:]
    ) -> String {
        var lines: [String] = []
        for table in FirewallTable.allCases {
            let written = write.keys.filter { $0.table == table }.sorted()
            let deleted = delete.filter { $0.table == table }.sorted()
            let removed = removeJumps.keys.filter { $0.table == table }.sorted()
            let inserted = insertJumps.keys.filter { $0.table == table }.sorted()
            var body = (written + deleted).map { ":\($0.name) - [0:0]" }
            for builtin in removed { body += (removeJumps[builtin] ?? []).map { "-D \(builtin.name) \(text(of: $0))" } }
            for chain in written { body += (write[chain] ?? []).map { "-A \(chain.name) \(text(of: $0))" } }
            for builtin in inserted {
                body += (insertJumps[builtin] ?? []).reversed().map { "-I \(builtin.name) 1 \(text(of: $0))" }
            }
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
