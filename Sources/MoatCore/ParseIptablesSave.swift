/// What of an `iptables-save` dump is moat's business: its own chains and the rules elsewhere
/// that jump into them. Everything else (libvirt's, Docker's, the user's rules) is left out, so
/// nothing downstream can even try to change it.
public struct FirewallDump: Hashable, Sendable {
    /// Every chain whose name starts with `MOAT-`, in the tables moat uses, with its rules as
    /// iptables-save prints them after `-A <chain> `. A declared chain without rules is an
    /// empty list, so an emptied chain is told apart from a missing one.
    public var chains: [ChainID: [String]]
    /// Rules of chains that are not moat's whose target (`-j`, or `-g`) is a `MOAT-` chain, by
    /// the chain they are in, in order, duplicates kept (a duplicate is drift to repair).
    public var jumps: [ChainID: [String]]

    public init(chains: [ChainID: [String]] = [:], jumps: [ChainID: [String]] = [:]) {
        self.chains = chains
        self.jumps = jumps
    }
}

/// Reads `iptables-save` output. Tables moat never uses (raw, security) are skipped; lines it
/// does not understand are skipped too, since they can only belong to someone else.
public func parseIptablesSave(_ text: String) -> FirewallDump {
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
            }
        } else if line.hasPrefix("-A ") {
            let afterA = line.dropFirst(3)
            let name = String(afterA.prefix { $0 != " " })
            let rule = String(afterA.dropFirst(name.count).drop { $0 == " " })
            let chain = ChainID(table, name)
            if name.hasPrefix(Mark.chainPrefix) {
                dump.chains[chain, default: []].append(rule)
            } else if rule.contains(Mark.chainPrefix), let target = iptablesTarget(of: rule), target.hasPrefix(Mark.chainPrefix) {
                dump.jumps[chain, default: []].append(rule)
            }
        }
    }
    return dump
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

/// Splits a rule into words: iptables-save puts a value with spaces or special characters in
/// double quotes and escapes `"` and `\` inside them with a backslash.
func iptablesWords(_ rule: String) -> [String] {
    var words: [String] = []
    var current = ""
    var inWord = false
    var quoted = false
    var escaped = false
    for character in rule {
        if escaped {
            current.append(character)
            escaped = false
        } else if quoted {
            switch character {
            case "\\": escaped = true
            case "\"": quoted = false
            default: current.append(character)
            }
        } else if character == " " || character == "\t" {
            if inWord { words.append(current) }
            current = ""
            inWord = false
        } else if character == "\"" {
            quoted = true
            inWord = true
        } else {
            current.append(character)
            inWord = true
        }
    }
    if inWord { words.append(current) }
    return words
}

extension Substring {
    fileprivate func trimmingLeadingSpaces() -> Substring { drop { $0 == " " || $0 == "\t" } }
}
