import MoatConfig

/// The nftables backend (`firewall: nftables`, issue 16; not wired into the run path yet):
/// moat's firewall model (`FirewallRule`) as one table, `inet moat`, in the text `nft -f`
/// reads and `nft list table inet moat` prints. Pure.
///
/// The table holds every chain of the iptables model under one name space: a filter
/// chain keeps its name, another table's chain gets the table as a prefix
/// (`nat-MOAT-POSTROUTING`, `raw-MOAT-SRC-lab`). The shared chains that iptables jumps to
/// from its built-in chains are base chains here, hooked where those built-in chains are,
/// at the same priorities. Dispatch to a network's chains (the jumps by device in
/// `MOAT-PREROUTING` (raw), `MOAT-INPUT` and `MOAT-FORWARD`) becomes one verdict map per
/// chain and direction, keyed by device name: one lookup whatever the number of networks.
/// Each map element carries its network's comment, as each rule does.
public enum NftablesBackend {
    public static let family = "inet"
    public static let table = "moat"

    /// The nft name of a chain of the model.
    public static func name(of chain: ChainID) -> String {
        chain.table == .filter ? chain.name : "\(chain.table.rawValue)-\(chain.name)"
    }

    /// The hook, chain type and priority of a shared chain, from the built-in chain iptables
    /// jumps to it from (`ChainName.shared`).
    static func hook(of chain: ChainID, builtin: String) -> String {
        let type = chain.table == .nat ? "nat" : "filter"
        let hook = builtin.lowercased()
        let priority: String =
            switch chain.table {
            case .raw: "raw"
            case .mangle: "mangle"
            case .filter: "filter"
            // nft names `dstnat` in prerouting only; output's nat priority is the same -100.
            case .nat: builtin == "POSTROUTING" ? "srcnat" : builtin == "OUTPUT" ? "-100" : "dstnat"
            }
        return "type \(type) hook \(hook) priority \(priority); policy accept;"
    }

    /// A dispatch map's name: the chain it serves and the direction (`iifname`/`oifname`).
    static func mapName(of chain: ChainID, outgoing: Bool) -> String {
        "\(name(of: chain))-\(outgoing ? "out" : "in")".lowercased()
    }

    /// Whether `rule` is a jump by device alone, which a verdict map holds.
    static func isDispatch(_ rule: FirewallRule) -> Bool {
        guard rule.opaque == nil, case .jump = rule.verdict, case .network = rule.owner else { return false }
        let byDevice = (rule.inInterface == nil) != (rule.outInterface == nil)
        return byDevice && !rule.outInterfaceNegated && rule.source == nil && rule.destination == nil && rule.proto == nil
            && rule.matches.isEmpty
    }

    /// The whole table for `chains` (every chain of moat's: `IptablesBackend.moatChains(of:)`),
    /// as `nft -f` reads it: maps first, then chains, each by name.
    public static func table(_ chains: [ChainID: [FirewallRule]]) -> String {
        let builtins = Dictionary(ChainName.shared.map { ($0.chain, $0.builtin) }, uniquingKeysWith: { first, _ in first })
        var maps: [String: [(device: String, rule: FirewallRule, table: FirewallTable)]] = [:]
        var bodies: [String: [String]] = [:]
        var headers: [String: String] = [:]
        for (chain, rules) in chains {
            let chainName = name(of: chain)
            if let builtin = builtins[chain] { headers[chainName] = hook(of: chain, builtin: builtin) }
            var lines: [String] = []
            var mapped: Set<String> = []
            for rule in rules {
                guard builtins[chain] != nil, isDispatch(rule) else {
                    lines.append(text(of: rule, in: chain.table))
                    continue
                }
                let outgoing = rule.outInterface != nil
                let map = mapName(of: chain, outgoing: outgoing)
                maps[map, default: []].append(((rule.inInterface ?? rule.outInterface) ?? "", rule, chain.table))
                if mapped.insert(map).inserted { lines.append("\(outgoing ? "oifname" : "iifname") vmap @\(map)") }
            }
            bodies[chainName] = lines
        }
        var out = ["table \(family) \(table) {"]
        for map in maps.keys.sorted() {
            let elements = (maps[map] ?? []).map { element in
                "\(quotedString(element.device))\(comment(element.rule.owner)) : \(text(of: element.rule.verdict, in: element.table))"
            }
            out += ["\tmap \(map) {", "\t\ttype ifname : verdict", "\t\telements = { " + elements.joined(separator: ",\n\t\t\t     ") + " }", "\t}"]
        }
        for chain in bodies.keys.sorted() {
            out.append("\tchain \(chain) {")
            if let header = headers[chain] { out.append("\t\t\(header)") }
            out += (bodies[chain] ?? []).map { "\t\t\($0)" }
            out.append("\t}")
        }
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }

    /// A rule as nft prints it in a chain of `table`'s (the model's table: a jump goes to a
    /// chain of the same table); an opaque rule's kept text.
    public static func text(of rule: FirewallRule, in table: FirewallTable) -> String {
        if let opaque = rule.opaque { return opaque }
        var parts: [String] = []
        if let inInterface = rule.inInterface { parts.append("iifname \(quotedString(inInterface))") }
        if let outInterface = rule.outInterface { parts.append("oifname \(rule.outInterfaceNegated ? "!= " : "")\(quotedString(outInterface))") }
        if let source = rule.source { parts.append("ip saddr \(source)") }
        if let destination = rule.destination { parts.append("ip daddr \(rule.destinationNegated ? "!= " : "")\(destination)") }
        let ports = rule.matches.contains { if case .port = $0 { true } else if case .multiport = $0 { true } else { false } }
        if let proto = rule.proto, !ports || !(proto == "tcp" || proto == "udp") {
            parts.append(proto == "icmp" ? "ip protocol icmp" : "meta l4proto \(proto)")
        }
        parts += rule.matches.map { text(of: $0, proto: rule.proto) }
        parts.append(text(of: rule.verdict, in: table))
        return parts.joined(separator: " ") + comment(rule.owner)
    }

    static func text(of match: RuleMatch, proto: String?) -> String {
        switch match {
        case .port(let port): "\(proto ?? "th") dport \(range(port))"
        case .multiport(let ports): "\(proto ?? "th") dport { " + ports.map(range).joined(separator: ", ") + " }"
        case .conntrack(let states):
            // conntrack's SNAT and DNAT are statuses in nftables, the others states.
            [
                states.filter { $0 != .snat && $0 != .dnat }.map { $0.rawValue.lowercased() }.nonEmpty.map { "ct state " + set($0) },
                states.filter { $0 == .snat || $0 == .dnat }.map { $0.rawValue.lowercased() }.nonEmpty.map { "ct status " + set($0) },
            ].compactMap { $0 }.joined(separator: " ")
        case .localDestination: "fib daddr type local"
        case .text(let text): text
        }
    }

    static func text(of verdict: Verdict, in table: FirewallTable) -> String {
        switch verdict {
        case .accept: "accept"
        case .drop: "drop"
        case .reject: "reject"
        case .return: "return"
        case .jump(let chain): "jump \(name(of: ChainID(table, chain)))"
        case .masquerade(nil): "masquerade"
        case .masquerade(let ports?): "masquerade to :\(range(ports))"
        case .dnat(let address, let port): "dnat ip to \(address):\(port)"
        // nftables has no CHECKSUM target: a UDP checksum of 0 means "none" over IPv4, which
        // a DHCP client accepts where it drops the partial checksum of an offloaded one.
        case .checksumFill: "udp checksum set 0"
        case .text(let text): text
        }
    }

    /// A port or range as nft writes it (`80-90`).
    static func range(_ port: PortRange) -> String { port.low == port.high ? "\(port.low)" : "\(port.low)-\(port.high)" }

    /// One value bare, several as an anonymous set.
    static func set(_ values: [String]) -> String { values.count == 1 ? values[0] : "{ " + values.joined(separator: ", ") + " }" }

    /// ` comment "moat:lab"`, or nothing for a rule without a comment.
    static func comment(_ owner: RuleOwner) -> String { owner.comment.map { " comment \(quotedString($0))" } ?? "" }

    /// A string in double quotes; device names and moat's comments hold no quote (both are
    /// validated), so none is escaped.
    static func quotedString(_ text: String) -> String { "\"\(text)\"" }
}

extension Array {
    fileprivate var nonEmpty: Self? { isEmpty ? nil : self }
}
