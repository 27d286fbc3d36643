import Foundation
import MoatConfig

/// What nft's listings say that moat decides from: its own table's chains as rules of
/// the model, and the base chains of other tables that drop what moat lets through.
public struct NftablesDump: Hashable, Sendable {
    /// Every chain of table `inet moat`, as chains of the model (`backend: .nftables`), its
    /// verdict maps turned back into the dispatch rules they stand for.
    public var chains: [ChainID: [FirewallRule]]
    /// Base chains of other tables, at the input or forward hook, that end by dropping or
    /// rejecting (their policy, or a last rule with nothing to match): an accept of moat's is
    /// not final in nftables, so these drop guests' traffic whatever moat does.
    public var droppingChains: [ForeignChain]

    public init(chains: [ChainID: [FirewallRule]] = [:], droppingChains: [ForeignChain] = []) {
        self.chains = chains
        self.droppingChains = droppingChains
    }

    /// A base chain of another table.
    public struct ForeignChain: Hashable, Sendable, CustomStringConvertible {
        public var family: String
        public var table: String
        public var chain: String
        public var hook: String
        public init(family: String, table: String, chain: String, hook: String) {
            self.family = family
            self.table = table
            self.chain = chain
            self.hook = hook
        }
        public var description: String { "table \(family) \(table), chain \(chain) (hook \(hook))" }
    }
}

extension NftablesBackend {
    /// The tables iptables-nft keeps iptables' rules in: read through `iptables-save`, not here.
    static let iptablesTables: Set<String> = ["filter", "nat", "mangle", "raw", "security"]

    /// Reads `nft -j list ruleset` (nftables 1.0's JSON schema 1), or the snapshot's two
    /// listings: `json` the rules of the `inet` tables, `chains` every table's chains
    /// (`Snapshot.nftCommands`), so another family's base chain is known by its policy only
    /// (iptables-nft's tables are `iptables-save`'s, and firewalld's is `inet`). Anything it cannot read
    /// is left out, except in moat's own table, where a rule the model cannot express is kept
    /// opaque (so its chain differs from the file's and is rewritten). What is read goes back
    /// into an `nft -f` transaction when a rollback writes the table as it was, so a device,
    /// chain or comment that is not safe there as it is makes its rule opaque: a `#` comment
    /// of its JSON on one line, which nft skips.
    public static func parseRuleset(json: String, chains: String? = nil) -> NftablesDump {
        /// The objects of one listing; nil where it is not one.
        func objects(_ json: String) -> [[String: Any]]? {
            guard let root = JSONReader.value(json) as? [String: Any], let objects = root["nftables"] as? [Any] else { return nil }
            return objects.compactMap { $0 as? [String: Any] }
        }
        // Moat's table from the rules' listing alone, one state of it even when a transaction
        // came between the two; another table's inet chains are read twice, to the same facts.
        let otherChains = chains.flatMap(objects)?.filter { !isMoat($0["chain"] as? [String: Any] ?? [:]) } ?? []
        guard let items = objects(json).map({ $0 + otherChains }) else { return NftablesDump() }
        var dump = NftablesDump()
        var maps: [String: [(device: String, comment: String?, verdict: Any)]] = [:]
        var sets: [String: [(value: Any, comment: String?)]] = [:]
        var chainTables: [String: FirewallTable] = [:]
        var foreignRules: [String: [[String: Any]]] = [:]
        var foreignBase: [String: (NftablesDump.ForeignChain, policy: String?)] = [:]
        for item in items {
            if let map = item["map"] as? [String: Any], isMoat(map), let name = map["name"] as? String,
                map["type"] as? String == "ifname", map["map"] as? String == "verdict"
            {
                maps[name] = (map["elem"] as? [Any] ?? []).compactMap(element)
            } else if let set = item["set"] as? [String: Any], isMoat(set), let name = set["name"] as? String, set["type"] as? String == "ipv4_addr" {
                sets[name] = (set["elem"] as? [Any] ?? []).map { value in
                    let elem = (value as? [String: Any])?["elem"] as? [String: Any]
                    return (elem?["val"] ?? value, elem?["comment"] as? String)
                }
            } else if let chain = item["chain"] as? [String: Any], let name = chain["name"] as? String {
                if isMoat(chain) {
                    // A name nft text could not hold as it is never goes back into a
                    // transaction: such a chain is left out (the next table replaced drops it).
                    guard isChainName(name) else { continue }
                    let id = modelChain(name)
                    chainTables[name] = id.table
                    dump.chains[id] = header(chain, of: id).map { [$0] } ?? []
                } else if let hook = chain["hook"] as? String, hook == "input" || hook == "forward",
                    let family = chain["family"] as? String, let table = chain["table"] as? String,
                    !(["ip", "ip6"].contains(family) && iptablesTables.contains(table))
                {
                    let key = "\(family) \(table) \(name)"
                    foreignBase[key] = (.init(family: family, table: table, chain: name, hook: hook), chain["policy"] as? String)
                }
            }
        }
        for item in items {
            guard let rule = item["rule"] as? [String: Any], let chain = rule["chain"] as? String else { continue }
            if isMoat(rule) {
                guard isChainName(chain) else { continue }
                let id = modelChain(chain)
                dump.chains[id, default: []] += rules(rule, table: chainTables[chain] ?? id.table, maps: maps, sets: sets)
            } else if let family = rule["family"] as? String, let table = rule["table"] as? String {
                foreignRules["\(family) \(table) \(chain)", default: []].append(rule)
            }
        }
        for (key, (chain, policy)) in foreignBase.sorted(by: { $0.key < $1.key }) {
            let last = (foreignRules[key]?.last?["expr"] as? [Any])?.compactMap { $0 as? [String: Any] } ?? []
            let lastDrops = !last.isEmpty && last.allSatisfy { $0["counter"] != nil || $0["drop"] != nil || $0["reject"] != nil }
                && last.contains { $0["drop"] != nil || $0["reject"] != nil }
            if policy == "drop" || lastDrops { dump.droppingChains.append(chain) }
        }
        return dump
    }

    /// A comment nft reads back between double quotes as it is: printable ASCII, no `"` or `\`.
    static func isSafeComment(_ text: String?) -> Bool {
        text.map { $0.utf8.count <= 128 && $0.utf8.allSatisfy { (0x20...0x7e).contains($0) && $0 != 0x22 && $0 != 0x5c } } ?? true
    }

    /// A chain name safe in nft text: letters, digits, `-`, `_`.
    static func isChainName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x41...0x5a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d || $0 == 0x5f }
    }

    static func isMoat(_ object: [String: Any]) -> Bool {
        object["family"] as? String == family && object["table"] as? String == table
    }

    /// The chain of the model an nft chain of moat's table stands for (see `name(of:)`). A
    /// name without a table prefix is a filter chain's, whatever it is.
    static func modelChain(_ name: String) -> ChainID {
        for table in [FirewallTable.raw, .nat, .mangle] where name.hasPrefix("\(table.rawValue)-") {
            return ChainID(table, String(name.dropFirst(table.rawValue.count + 1)), backend: .nftables)
        }
        return ChainID(.filter, name, backend: .nftables)
    }

    /// A rule that stands for a chain's header when it is not the one moat writes (a base
    /// chain at another hook or priority, with another policy, or a base chain where moat
    /// keeps a regular one): the chain then differs from the file's, and is written again.
    static func header(_ chain: [String: Any], of id: ChainID) -> FirewallRule? {
        let found = chain["hook"] == nil ? nil : Hook(
            type: chain["type"] as? String ?? "", hook: chain["hook"] as? String ?? "", priority: chain["prio"] as? Int ?? 0,
            policy: chain["policy"] as? String ?? "accept")
        guard found != hook(of: id) else { return nil }
        let text = found.map { "# \($0.type) hook \($0.hook) priority \($0.priority) policy \($0.policy)" } ?? "# no hook"
        // What nft listed goes into a `#` line of the next transaction: on one line, always.
        let printable = text.utf8.allSatisfy { (0x20...0x7e).contains($0) }
        return .opaque(printable ? text : "# \(compact([chain["type"], chain["hook"], chain["prio"], chain["policy"]].map { $0 ?? NSNull() }))",
            owner: .other(nil), verdict: .text(""))
    }

    /// A map element: `[{"elem": {"val": D, "comment": C}}, VERDICT]` (or a bare `D`).
    static func element(_ value: Any) -> (device: String, comment: String?, verdict: Any)? {
        guard let pair = value as? [Any], pair.count == 2 else { return nil }
        if let device = pair[0] as? String { return (device, nil, pair[1]) }
        guard let elem = (pair[0] as? [String: Any])?["elem"] as? [String: Any], let device = elem["val"] as? String else { return nil }
        return (device, elem["comment"] as? String, pair[1])
    }

    /// The rules of the model one nft rule stands for: itself, or, for a dispatch by verdict
    /// map, one jump per element (by network, then device: the order the model keeps).
    static func rules(
        _ rule: [String: Any], table: FirewallTable, maps: [String: [(device: String, comment: String?, verdict: Any)]],
        sets: [String: [(value: Any, comment: String?)]] = [:]
    ) -> [FirewallRule] {
        let owner = RuleOwner(comment: rule["comment"] as? String)
        let expressions = (rule["expr"] as? [Any])?.compactMap { $0 as? [String: Any] } ?? []
        // `ip daddr @moat-block-networks reject`: one reject per subnet, by network.
        if expressions.count == 2, rule["comment"] == nil, verdict(expressions[1], table: table) == .reject,
            let match = expressions[0]["match"] as? [String: Any], match["op"] as? String == "==",
            let payload = (match["left"] as? [String: Any])?["payload"] as? [String: Any], payload["protocol"] as? String == "ip",
            payload["field"] as? String == "daddr", let data = match["right"] as? String, data == "@\(blockSet)", let elements = sets[blockSet]
        {
            return elements.map { element -> FirewallRule in
                guard isSafeComment(element.comment), let subnet = cidr(element.value) else {
                    return .opaque("# \(compact(element.value))", owner: RuleOwner(comment: element.comment), verdict: .text(""))
                }
                return FirewallRule(owner: RuleOwner(comment: element.comment), destination: subnet, verdict: .reject)
            }.sorted { ($0.owner.comment ?? "", $0.destination?.description ?? "") < ($1.owner.comment ?? "", $1.destination?.description ?? "") }
        }
        if expressions.count == 1, let vmap = expressions[0]["vmap"] as? [String: Any],
            let key = ((vmap["key"] as? [String: Any])?["meta"] as? [String: Any])?["key"] as? String,
            key == "iifname" || key == "oifname", let data = vmap["data"] as? String, data.hasPrefix("@"),
            let elements = maps[String(data.dropFirst())], rule["comment"] == nil
        {
            let jumps = elements.map { element -> FirewallRule in
                guard isValidDeviceName(element.device), isSafeComment(element.comment), let verdict = verdict(element.verdict, table: table)
                else {
                    return .opaque("# \(compact(element.verdict))", owner: RuleOwner(comment: element.comment), verdict: .text(""))
                }
                return FirewallRule(
                    owner: RuleOwner(comment: element.comment), inInterface: key == "iifname" ? element.device : nil,
                    outInterface: key == "oifname" ? element.device : nil, verdict: verdict)
            }
            return jumps.sorted { a, b in
                (a.owner.comment ?? "", a.inInterface ?? a.outInterface ?? "") < (b.owner.comment ?? "", b.inInterface ?? b.outInterface ?? "")
            }
        }
        let typed = isSafeComment(rule["comment"] as? String) ? parse(expressions, owner: owner, table: table) : nil
        return [typed ?? .opaque("# \(compact(rule["expr"] ?? []))", owner: owner, verdict: .text(""))]
    }

    /// One rule of the model from its expressions; nil when the model cannot express it.
    static func parse(_ expressions: [[String: Any]], owner: RuleOwner, table: FirewallTable) -> FirewallRule? {
        var rule = FirewallRule(owner: owner, verdict: .accept)
        var verdict: Verdict?
        for expression in expressions {
            guard verdict == nil else { return nil }
            if let match = expression["match"] as? [String: Any] {
                guard apply(match, to: &rule) else { return nil }
            } else if let mangle = expression["mangle"] as? [String: Any] {
                let key = (mangle["key"] as? [String: Any])?["payload"] as? [String: Any]
                guard key?["protocol"] as? String == "udp", key?["field"] as? String == "checksum", mangle["value"] as? Int == 0
                else { return nil }
                verdict = .checksumFill
            } else if let found = Self.verdict(expression, table: table) {
                verdict = found
            } else {
                return nil
            }
        }
        guard let verdict else { return nil }
        rule.verdict = verdict
        return rule
    }

    /// A verdict or a statement that ends a rule of the model.
    static func verdict(_ value: Any, table: FirewallTable) -> Verdict? {
        guard let expression = value as? [String: Any], expression.count == 1, let (key, body) = expression.first else { return nil }
        switch key {
        case "accept": return .accept
        case "drop": return .drop
        case "return": return .return
        case "reject":
            // `reject` prints as icmp or icmpx port-unreachable by the family of what it follows.
            guard let body = body as? [String: Any] else { return body is NSNull ? .reject : nil }
            let type = body["type"] as? String
            return (type == "icmp" || type == "icmpx") && body["expr"] as? String == "port-unreachable" ? .reject : nil
        case "jump":
            guard let target = (body as? [String: Any])?["target"] as? String, isChainName(target) else { return nil }
            let chain = modelChain(target)
            return chain.table == table ? .jump(chain.name) : .text("jump \(target)")
        case "masquerade":
            if body is NSNull { return .masquerade(ports: nil) }
            guard let body = body as? [String: Any], body.count == 1, let ports = portRange(body["port"] as Any) else { return nil }
            return .masquerade(ports: ports)
        case "dnat":
            guard let body = body as? [String: Any], body.count == 3, body["family"] as? String == "ip",
                let address = (body["addr"] as? String).flatMap(IPv4Address.init), let port = body["port"] as? Int, (1...65535).contains(port)
            else { return nil }
            return .dnat(address, port)
        default:
            return nil
        }
    }

    /// Folds one match into `rule`; false when the model has no field for it (or it is set).
    static func apply(_ match: [String: Any], to rule: inout FirewallRule) -> Bool {
        guard let op = match["op"] as? String, let left = match["left"] as? [String: Any], let right = match["right"] else { return false }
        let equal = op == "=="
        if let meta = (left["meta"] as? [String: Any])?["key"] as? String {
            guard let value = right as? String, meta == "l4proto" ? ["tcp", "udp", "icmp"].contains(value) : isValidDeviceName(value)
            else { return false }
            switch meta {
            case "iifname" where equal && rule.inInterface == nil: rule.inInterface = value
            case "oifname" where (equal || op == "!=") && rule.outInterface == nil:
                rule.outInterface = value
                rule.outInterfaceNegated = !equal
            case "l4proto" where equal && rule.proto == nil: rule.proto = value
            default: return false
            }
            return true
        }
        if let payload = left["payload"] as? [String: Any], let proto = payload["protocol"] as? String, let field = payload["field"] as? String {
            switch (proto, field) {
            case ("ip", "saddr") where equal && rule.source == nil:
                guard let cidr = cidr(right) else { return false }
                rule.source = cidr
            case ("ip", "daddr") where (equal || op == "!=") && rule.destination == nil:
                guard let cidr = cidr(right) else { return false }
                rule.destination = cidr
                rule.destinationNegated = !equal
            case ("ip", "protocol") where equal && rule.proto == nil:
                guard let value = right as? String, ["tcp", "udp", "icmp"].contains(value) else { return false }
                rule.proto = value
            case ("tcp", "dport"), ("udp", "dport"):
                guard equal, rule.proto == nil || rule.proto == proto else { return false }
                rule.proto = proto
                if let port = portRange(right) {
                    rule.matches.append(.port(port))
                } else if let set = (right as? [String: Any])?["set"] as? [Any] {
                    let ports = set.compactMap(portRange)
                    guard ports.count == set.count, ports.count > 1 else { return false }
                    rule.matches.append(.multiport(ports))
                } else {
                    return false
                }
            default: return false
            }
            return true
        }
        if let ct = (left["ct"] as? [String: Any])?["key"] as? String, ct == "state" || ct == "status", op == "in" || equal {
            let words = (right as? String).map { [$0] } ?? (right as? [Any]) ?? ((right as? [String: Any])?["set"] as? [Any]) ?? []
            let states = words.compactMap { ($0 as? String).flatMap { ConntrackState(rawValue: $0.uppercased()) } }
            guard !states.isEmpty, states.count == words.count else { return false }
            let order = ct == "state" ? ConntrackState.stateOrder : ConntrackState.statusOrder
            guard states.allSatisfy(order.contains) else { return false }
            rule.matches.append(.conntrack(order.filter(states.contains)))
            return true
        }
        if let fib = left["fib"] as? [String: Any], fib["result"] as? String == "type",
            (fib["flags"] as? [String]) == ["daddr"], equal, right as? String == "local"
        {
            rule.matches.append(.localDestination)
            return true
        }
        return false
    }

    /// `"10.0.0.1"` (a /32) or `{"prefix": {"addr": "10.0.0.0", "len": 8}}`.
    static func cidr(_ value: Any) -> IPv4CIDR? {
        if let text = value as? String { return IPv4Address(text).map { IPv4CIDR(address: $0, prefix: 32) } }
        guard let prefix = (value as? [String: Any])?["prefix"] as? [String: Any], let address = (prefix["addr"] as? String).flatMap(IPv4Address.init),
            let length = prefix["len"] as? Int, (0...32).contains(length)
        else { return nil }
        let cidr = IPv4CIDR(address: address, prefix: length)
        return cidr.network == address ? cidr : nil
    }

    /// `80` or `{"range": [80, 90]}`, ports 0-65535, low ≤ high.
    static func portRange(_ value: Any) -> PortRange? {
        if let port = value as? Int { return (0...65535).contains(port) ? PortRange(port) : nil }
        guard let range = (value as? [String: Any])?["range"] as? [Any], range.count == 2, let low = range[0] as? Int, let high = range[1] as? Int,
            (0...65535).contains(low), (low...65535).contains(high)
        else { return nil }
        return PortRange(low, high)
    }

    /// A JSON value on one line, for an opaque rule's comment.
    static func compact(_ value: Any) -> String {
        guard JSONSerialization.isValidJSONObject([value]), let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        else { return "?" }
        return String(text.dropFirst().dropLast())
    }
}

extension ConntrackState {
    /// The order the model keeps states in (iptables-save's: `RELATED,ESTABLISHED`).
    static let stateOrder: [ConntrackState] = [.invalid, .new, .related, .established, .untracked]
    /// nftables' conntrack statuses the model has.
    static let statusOrder: [ConntrackState] = [.snat, .dnat]
}
