import MoatConfig

/// The nftables backend (`firewall: nftables`): moat's firewall model (`FirewallRule`) as
/// one table, `inet moat`, in the text `nft -f` reads. Its reader, `parseRuleset(json:)`, is
/// in NftablesParse.swift. Pure.
///
/// The table holds every chain of the model under one name space: a filter chain keeps its
/// name, another table's chain gets the table as a prefix (`nat-MOAT-POSTROUTING`,
/// `raw-MOAT-SRC-lab`). The shared chains that iptables jumps to from its built-in chains are
/// base chains here, hooked where those built-in chains are, at the same priorities, so there
/// are no jumps. Dispatch to a network's chains (the jumps by device in `MOAT-PREROUTING`
/// (raw), `MOAT-INPUT` and `MOAT-FORWARD`) becomes one verdict map per chain and direction,
/// keyed by device name, and the networks' subnets in `MOAT-BLOCK` become one interval set:
/// one lookup whatever the number of networks. Each element carries its network's comment,
/// as each rule does.
///
/// A change is one `nft -f` transaction that replaces the table whole (`transaction`): the
/// kernel swaps it atomically, so no packet ever sees half of it, and a destroy deletes it.
public enum NftablesBackend {
    public static let family = "inet"
    public static let table = "moat"

    /// The nft name of a chain of the model.
    public static func name(of chain: ChainID) -> String {
        chain.table == .filter ? chain.name : "\(chain.table.rawValue)-\(chain.name)"
    }

    /// A base chain's header.
    struct Hook: Hashable {
        var type: String
        var hook: String
        var priority: Int
        var policy = "accept"

        /// As `nft -f` reads it, priorities by their names where nft has one for the hook.
        var text: String {
            let named: [Int: String] =
                type == "nat" ? (hook == "prerouting" ? [-100: "dstnat"] : hook == "postrouting" ? [100: "srcnat"] : [:])
                : [-300: "raw", -150: "mangle", 0: "filter"]
            return "type \(type) hook \(hook) priority \(named[priority] ?? "\(priority)"); policy \(policy);"
        }
    }

    /// The header of a shared chain, from the built-in chain iptables jumps to it from
    /// (`ChainName.shared`), at that chain's priority; nil for every other chain.
    static func hook(of chain: ChainID) -> Hook? {
        guard let builtin = ChainName.shared.first(where: { $0.chain == chain.in(.iptables) })?.builtin else { return nil }
        let priority =
            switch chain.table {
            case .raw: -300
            case .mangle: -150
            case .filter: 0
            case .nat: builtin == "POSTROUTING" ? 100 : -100
            }
        return Hook(type: chain.table == .nat ? "nat" : "filter", hook: builtin.lowercased(), priority: priority)
    }

    /// A dispatch map's name: the chain it serves and the direction (`iifname`/`oifname`).
    static func mapName(of chain: ChainID, outgoing: Bool) -> String {
        "\(name(of: chain))-\(outgoing ? "out" : "in")".lowercased()
    }

    /// The set of the subnets MOAT-BLOCK rejects for the networks (`ChainName.block`).
    static let blockSet = "moat-block-networks"

    /// Whether `rule` rejects one network's subnet and matches nothing else, which the block
    /// set holds.
    static func isSubnetReject(_ rule: FirewallRule) -> Bool {
        guard rule.opaque == nil, rule.verdict == .reject, case .network = rule.owner, rule.destination != nil else { return false }
        return !rule.destinationNegated && rule.source == nil && rule.inInterface == nil && rule.outInterface == nil && rule.proto == nil
            && rule.matches.isEmpty
    }

    /// Whether `rule` is a jump by device alone, which a verdict map holds.
    static func isDispatch(_ rule: FirewallRule) -> Bool {
        guard rule.opaque == nil, case .jump = rule.verdict, case .network = rule.owner else { return false }
        let byDevice = (rule.inInterface == nil) != (rule.outInterface == nil)
        return byDevice && !rule.outInterfaceNegated && rule.source == nil && rule.destination == nil && rule.proto == nil
            && rule.matches.isEmpty
    }

    /// The whole table for `chains` (every chain of moat's in this backend), as `nft -f` reads
    /// it: maps, then the block set, then chains, each by name. In a base chain, each
    /// direction's first run of dispatch rules becomes its verdict map; in `MOAT-BLOCK`, the
    /// first run of rejects of networks' subnets (which never overlap) becomes the block set.
    /// The parser gives each back as that run, by network; such a rule anywhere else stays a
    /// rule.
    public static func table(_ chains: [ChainID: [FirewallRule]]) -> String {
        var maps: [String: [String]] = [:]
        var sets: [String: [String]] = [:]
        var out = ["table \(family) \(table) {"]
        var chainTexts: [String] = []
        for chain in chains.keys.sorted(by: { name(of: $0) < name(of: $1) }) {
            let header = hook(of: chain)
            var lines = header.map { [$0.text] } ?? []
            var runs: [String: Set<String>] = [:]
            var open: String?
            var subnets: [IPv4CIDR]?
            for rule in chains[chain] ?? [] {
                // MOAT-BLOCK's first run of other networks' subnets: one set, one lookup.
                if chain.in(.iptables) == ChainName.block, isSubnetReject(rule), let subnet = rule.destination,
                    subnets == nil || open == blockSet, subnets?.contains(where: { $0.overlaps(subnet) }) != true
                {
                    if subnets == nil { lines.append("ip daddr @\(blockSet) reject") }
                    subnets = (subnets ?? []) + [subnet]
                    open = blockSet
                    sets[blockSet, default: []].append("\(subnet)\(comment(rule.owner))")
                    continue
                }
                let device = rule.inInterface ?? rule.outInterface ?? ""
                let map = mapName(of: chain, outgoing: rule.outInterface != nil)
                let joins = header != nil && isDispatch(rule) && (runs[map] == nil || open == map) && runs[map]?.contains(device) != true
                guard joins else {
                    open = nil
                    lines.append(text(of: rule, in: chain.table))
                    continue
                }
                if runs[map] == nil { lines.append("\(rule.outInterface != nil ? "oifname" : "iifname") vmap @\(map)") }
                runs[map, default: []].insert(device)
                open = map
                maps[map, default: []].append(
                    "\(quotedString(device))\(comment(rule.owner)) : \(text(of: rule.verdict, in: chain.table))")
            }
            chainTexts += ["\tchain \(name(of: chain)) {"] + lines.map { "\t\t\($0)" } + ["\t}"]
        }
        for map in maps.keys.sorted() {
            let elements = (maps[map] ?? []).joined(separator: ",\n\t\t\t     ")
            out += ["\tmap \(map) {", "\t\ttype ifname : verdict", "\t\telements = { \(elements) }", "\t}"]
        }
        for set in sets.keys.sorted() {
            let elements = (sets[set] ?? []).joined(separator: ",\n\t\t\t     ")
            out += ["\tset \(set) {", "\t\ttype ipv4_addr", "\t\tflags interval", "\t\telements = { \(elements) }", "\t}"]
        }
        out += chainTexts
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }

    /// The one `nft -f` transaction that takes moat's table from `live` (its chains in this
    /// backend, as the snapshot read them) to what `operations` write and delete: the table
    /// made sure of, deleted, and made again whole, or only deleted when no chain is left.
    /// nil when no operation is this backend's.
    public static func transaction(live: [ChainID: [FirewallRule]], operations: [Operation]) -> String? {
        var chains = live.filter { $0.key.backend == .nftables }
        var touched = false
        for operation in operations {
            switch operation {
            case .writeChain(let chain, let rules) where chain.backend == .nftables:
                chains[chain] = rules
                touched = true
            case .deleteChain(let chain) where chain.backend == .nftables:
                chains[chain] = nil
                touched = true
            default: break
            }
        }
        guard touched else { return nil }
        let replace = "add table \(family) \(table)\ndelete table \(family) \(table)\n"
        return chains.isEmpty ? replace : replace + Self.table(chains)
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
        // a DHCP client accepts where it drops a partial one (FirewallChains.sharedChains).
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
