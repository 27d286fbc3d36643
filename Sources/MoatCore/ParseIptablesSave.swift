import MoatConfig

/// What of an `iptables-save` dump is moat's business: its own chains and the rules elsewhere
/// that jump into them. Everything else (libvirt's, Docker's, the user's rules) is left out, so
/// nothing downstream can even try to change it.
public struct FirewallDump: Hashable, Sendable {
    /// Every chain whose name starts with `MOAT-`, in the tables moat uses, with its rules in
    /// order. A declared chain without rules is an empty list, so an emptied chain is told
    /// apart from a missing one.
    public var chains: [ChainID: [FirewallRule]]
    /// Rules of chains that are not moat's whose target (`-j`, or `-g`) is a `MOAT-` chain, by
    /// the chain they are in, in order, duplicates kept (a duplicate is drift to repair).
    public var jumps: [ChainID: [FirewallRule]]
    /// The policy of filter `FORWARD` (`ACCEPT`, `DROP`); nil when not listed.
    public var forwardPolicy: String?
    /// The filter chains named `DOCKER…` (Docker's, or one like it), by name.
    public var dockerChains: [String]

    public init(
        chains: [ChainID: [FirewallRule]] = [:], jumps: [ChainID: [FirewallRule]] = [:], forwardPolicy: String? = nil,
        dockerChains: [String] = []
    ) {
        self.chains = chains
        self.jumps = jumps
        self.forwardPolicy = forwardPolicy
        self.dockerChains = dockerChains
    }
}

extension IptablesBackend {
    /// Reads `iptables-save` output. Tables moat never uses (raw, security) are skipped; lines
    /// it does not understand are skipped too, since they can only belong to someone else.
    /// Every rule kept is a value (`parseRule`), whatever its comment says, so nothing is lost.
    public static func parseSave(_ text: String) -> FirewallDump {
        var dump = FirewallDump()
        var table: FirewallTable?
        // Lines split on UTF-8 bytes: splitting on `Character.isNewline` walks grapheme
        // clusters, and was a quarter of a 100-network plan.
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n")) {
            let line = Substring(rawLine).trimmingLeadingSpaces()
            if line.hasPrefix("*") {
                table = FirewallTable(rawValue: String(line.dropFirst()))
                continue
            }
            guard let table else { continue }
            if line.hasPrefix(":") {
                // `:NAME POLICY [packets:bytes]`
                let name = String(line.dropFirst().prefix { $0 != " " })
                if name.hasPrefix(Mark.chainPrefix) {
                    dump.chains[ChainID(table, name), default: []] += []
                } else if table == .filter, name == "FORWARD" {
                    dump.forwardPolicy = line.split(separator: " ").dropFirst().first.map(String.init)
                } else if table == .filter, name.hasPrefix("DOCKER") {
                    dump.dockerChains.append(name)
                }
            } else if line.hasPrefix("-A ") {
                let afterA = line.dropFirst(3)
                let name = String(afterA.prefix { $0 != " " })
                let rule = String(afterA.dropFirst(name.count).drop { $0 == " " })
                let chain = ChainID(table, name)
                if name.hasPrefix(Mark.chainPrefix) {
                    dump.chains[chain, default: []].append(parseRule(rule))
                } else if rule.contains(Mark.chainPrefix), let target = iptablesTarget(of: rule),
                    target.hasPrefix(Mark.chainPrefix)
                {
                    dump.jumps[chain, default: []].append(parseRule(rule))
                }
            }
        }
        return dump
    }

    /// One rule as iptables-save prints it after `-A <chain> `. Typed when rendering the typed
    /// reading gives back exactly `text`; otherwise opaque, keeping `text` as is (with the
    /// owner its comment names and the verdict its `-j` names, for ownership decisions).
    public static func parseRule(_ text: String) -> FirewallRule {
        let tokens = iptablesTokens(text)
        if let rule = typedRule(tokens), Self.text(of: rule) == text { return rule }
        var comment: String?
        var verdict = Verdict.text("")
        var index = 0
        while index < tokens.count {
            switch tokens[index].value {
            case "--comment":
                if comment == nil, index + 1 < tokens.count { comment = tokens[index + 1].value }
                index += 2
            case "-j":
                let rest = tokens[(index + 1)...]
                verdict = typedVerdict(rest.map(\.value)) ?? .text(rest.map(\.raw).joined(separator: " "))
                index = tokens.count
            default:
                index += 1
            }
        }
        return .opaque(text, owner: RuleOwner(comment: comment), verdict: verdict)
    }

    /// The typed reading of a rule, or nil when it has a part the model has no field for (a
    /// negation moat never writes, `-g`, a second comment, an option outside a module).
    static func typedRule(_ tokens: [Token]) -> FirewallRule? {
        var rule = FirewallRule(owner: .other(nil), verdict: .text(""))
        var comment: String?
        var hasVerdict = false
        var index = 0
        while index < tokens.count {
            var negated = false
            if tokens[index].value == "!" {
                negated = true
                index += 1
            }
            guard index + 1 < tokens.count else { return nil }
            let value = tokens[index + 1].value
            switch tokens[index].value {
            case "-s":
                guard !negated, let cidr = cidr(value) else { return nil }
                rule.source = cidr
            case "-d":
                guard let cidr = cidr(value) else { return nil }
                rule.destination = cidr
                rule.destinationNegated = negated
            case "-i":
                guard !negated else { return nil }
                rule.inInterface = value
            case "-o":
                rule.outInterface = value
                rule.outInterfaceNegated = negated
            case "-p":
                guard !negated else { return nil }
                rule.proto = value
            case "-m" where value == "comment":
                // Exactly `--comment VALUE`: the value may itself read like an option.
                guard !negated, comment == nil, index + 3 < tokens.count, tokens[index + 2].value == "--comment" else {
                    return nil
                }
                comment = tokens[index + 3].value
                index += 4
                continue
            case "-m":
                guard !negated else { return nil }
                var end = index + 2
                while end < tokens.count, !Self.optionEnds.contains(tokens[end].value) { end += 1 }
                let options = tokens[(index + 2)..<end].map(\.value)
                rule.matches.append(
                    typedMatch(value, options, proto: rule.proto) ?? .text(tokens[index..<end].map(\.raw).joined(separator: " ")))
                index = end
                continue
            case "-j":
                guard !negated else { return nil }
                let rest = tokens[(index + 1)...]
                rule.verdict = typedVerdict(rest.map(\.value)) ?? .text(rest.map(\.raw).joined(separator: " "))
                hasVerdict = true
                index = tokens.count
                continue
            default:
                return nil
            }
            index += 2
        }
        guard hasVerdict else { return nil }
        rule.owner = RuleOwner(comment: comment)
        return rule
    }

    /// The words that end a match module's options.
    static let optionEnds: Set<String> = ["-m", "-j", "-g"]

    /// `a.b.c.d/n` as iptables-save prints it, read from its bytes: `IPv4CIDR.init` walks
    /// Characters and was most of the time of reading a 100-network dump. Leniency is safe
    /// here, since a rule whose typed reading renders differently is kept opaque.
    static func cidr(_ text: String) -> IPv4CIDR? {
        var octets: [UInt32] = []
        var current: UInt32 = 0
        var digits = 0
        var prefix: Int?
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                current = current * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard digits <= 3 else { return nil }
            case UInt8(ascii: "."), UInt8(ascii: "/"):
                guard digits > 0, current <= 255, octets.count < 4, prefix == nil else { return nil }
                octets.append(current)
                if byte == UInt8(ascii: "/") {
                    guard octets.count == 4 else { return nil }
                    prefix = 0
                }
                current = 0
                digits = 0
            default:
                return nil
            }
        }
        guard octets.count == 4, prefix != nil, digits > 0, current <= 32 else { return nil }
        let address = octets.reduce(UInt32(0)) { $0 << 8 | $1 }
        return IPv4CIDR(address: IPv4Address(address), prefix: Int(current))
    }

    /// A match module moat writes, from its name and option words; nil for any other.
    static func typedMatch(_ module: String, _ options: [String], proto: String?) -> RuleMatch? {
        switch (module, options.first ?? "", options.count) {
        case (proto ?? "", "--dport", 2):
            return portRange(options[1]).map(RuleMatch.port)
        case ("multiport", "--dports", 2):
            let ports = options[1].split(separator: ",", omittingEmptySubsequences: false).map { portRange($0) }
            guard ports.allSatisfy({ $0 != nil }) else { return nil }
            return .multiport(ports.compactMap { $0 })
        case ("conntrack", "--ctstate", 2):
            let states = options[1].split(separator: ",", omittingEmptySubsequences: false).map {
                ConntrackState(rawValue: String($0))
            }
            guard states.allSatisfy({ $0 != nil }) else { return nil }
            return .conntrack(states.compactMap { $0 })
        case ("addrtype", "--dst-type", 2) where options[1] == "LOCAL":
            return .localDestination
        default:
            return nil
        }
    }

    /// A target moat writes, from the words after `-j`; nil for any other.
    static func typedVerdict(_ words: [String]) -> Verdict? {
        switch words {
        case ["ACCEPT"]: return .accept
        case ["DROP"]: return .drop
        case ["RETURN"]: return .return
        case ["REJECT", "--reject-with", "icmp-port-unreachable"]: return .reject
        case ["MASQUERADE"]: return .masquerade(ports: nil)
        case ["CHECKSUM", "--checksum-fill"]: return .checksumFill
        default: break
        }
        if words.count == 3, words[0] == "MASQUERADE", words[1] == "--to-ports" {
            let bounds = words[2].split(separator: "-", omittingEmptySubsequences: false).map { port(String($0)) }
            guard bounds.count <= 2, let low = bounds.first ?? nil, let high = bounds.last ?? nil else { return nil }
            return .masquerade(ports: PortRange(low, high))
        }
        if words.count == 3, words[0] == "DNAT", words[1] == "--to-destination" {
            let parts = words[2].split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let address = IPv4Address(parts[0]), let port = port(String(parts[1])) else { return nil }
            return .dnat(address, port)
        }
        if words.count == 1, words[0].hasPrefix(Mark.chainPrefix) { return .jump(words[0]) }
        return nil
    }

    static func portRange(_ text: some StringProtocol) -> PortRange? {
        let bounds = text.split(separator: ":", omittingEmptySubsequences: false).map { port(String($0)) }
        guard bounds.count <= 2, let low = bounds.first ?? nil, let high = bounds.last ?? nil else { return nil }
        return PortRange(low, high)
    }

    static func port(_ text: String) -> Int? {
        guard let value = Int(text), (0...65535).contains(value) else { return nil }
        return value
    }
}

/// The target of a rule as iptables-save prints it: the word after the first `-j` or `-g`.
/// Words are split the way iptables-save quotes them, and `--comment` values are skipped, so
/// a comment that merely reads like a jump does not count as one.
func iptablesTarget(of rule: String) -> String? {
    let words = iptablesWords(rule)
    var index = 0
    while index < words.count {
        switch words[index] {
        case "--comment":
            index += 2
        case "-j", "-g", "--jump", "--goto":
            return index + 1 < words.count ? words[index + 1] : nil
        default:
            index += 1
        }
    }
    return nil
}

/// One word of a rule: as printed (`raw`, quotes and escapes kept) and as meant (`value`).
struct Token {
    var raw: Substring
    var value: String
}

/// Splits a rule into words: iptables-save puts a value with spaces or special characters in
/// double quotes and escapes `"` and `\` inside them with a backslash.
func iptablesWords(_ rule: String) -> [String] {
    iptablesTokens(rule).map(\.value)
}

func iptablesTokens(_ rule: String) -> [Token] {
    // On UTF-8 bytes, not Characters (grapheme clusters are slow to walk): every byte that
    // matters here (space, tab, quote, backslash) is ASCII, so never part of a longer one.
    var tokens: [Token] = []
    var current: [UInt8] = []
    var start: String.Index?
    var quoted = false
    var escaped = false
    let bytes = rule.utf8
    for index in bytes.indices {
        let byte = bytes[index]
        if escaped {
            current.append(byte)
            escaped = false
        } else if quoted {
            switch byte {
            case UInt8(ascii: "\\"): escaped = true
            case UInt8(ascii: "\""): quoted = false
            default: current.append(byte)
            }
        } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
            if let begun = start { tokens.append(Token(raw: rule[begun..<index], value: String(decoding: current, as: UTF8.self))) }
            current = []
            start = nil
        } else {
            if start == nil { start = index }
            if byte == UInt8(ascii: "\"") { quoted = true } else { current.append(byte) }
        }
    }
    if let begun = start { tokens.append(Token(raw: rule[begun...], value: String(decoding: current, as: UTF8.self))) }
    return tokens
}

extension Substring {
    fileprivate func trimmingLeadingSpaces() -> Substring { drop { $0 == " " || $0 == "\t" } }
}
