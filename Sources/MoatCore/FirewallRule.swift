import MoatConfig

/// One iptables rule, built from its parts and printed exactly as `iptables-save` (1.8.x)
/// prints it after `-A <chain> `.
///
/// The live snapshot compares rules as text, so the text must be canonical: the option
/// order is the one iptables-save uses (`-s -d -i -o -p`, then the matches in the order
/// they were given, then the comment, then `-j` and the target's options). Every form moat
/// emits is proved by `RenderRoundTripTests`, which loads the rendered payload into a fresh
/// network namespace and reads it back.
public struct FirewallRule: Hashable, Sendable, CustomStringConvertible {
    public var source: IPv4CIDR?
    public var destination: IPv4CIDR?
    /// `! -d`: everything but `destination`.
    public var destinationNegated: Bool
    public var inInterface: String?
    public var outInterface: String?
    /// `! -o`: every device but `outInterface`.
    public var outInterfaceNegated: Bool
    /// `tcp`, `udp`, `icmp`; nil: every protocol (no `-p`).
    public var proto: String?
    /// Match modules with their options, in order, each starting `-m <module>`.
    public var matches: [String]
    /// The comment, unquoted: `moat:lab` or `moat`.
    public var comment: String
    /// `ACCEPT`, `REJECT --reject-with icmp-port-unreachable`, `MOAT-IN-lab`, ...
    public var target: String

    public init(
        source: IPv4CIDR? = nil, destination: IPv4CIDR? = nil, destinationNegated: Bool = false,
        inInterface: String? = nil, outInterface: String? = nil, outInterfaceNegated: Bool = false,
        proto: String? = nil, matches: [String] = [], comment: String, target: String
    ) {
        self.source = source
        self.destination = destination
        self.destinationNegated = destinationNegated
        self.inInterface = inInterface
        self.outInterface = outInterface
        self.outInterfaceNegated = outInterfaceNegated
        self.proto = proto
        self.matches = matches
        self.comment = comment
        self.target = target
    }

    public var description: String {
        var parts: [String] = []
        if let source { parts.append("-s \(source)") }
        if let destination { parts.append((destinationNegated ? "! " : "") + "-d \(destination)") }
        if let inInterface { parts.append("-i \(inInterface)") }
        if let outInterface { parts.append((outInterfaceNegated ? "! " : "") + "-o \(outInterface)") }
        if let proto { parts.append("-p \(proto)") }
        parts.append(contentsOf: matches)
        parts.append("-m comment --comment \(FirewallText.quoted(comment))")
        parts.append("-j \(target)")
        return parts.joined(separator: " ")
    }
}

/// Targets and matches moat uses, spelled as iptables-save spells them.
enum Target {
    static let accept = "ACCEPT"
    static let drop = "DROP"
    static let reject = "REJECT --reject-with icmp-port-unreachable"
    static let ret = "RETURN"
    static let masquerade = "MASQUERADE"
    /// Masqueraded source ports stay unprivileged, so guests never pass a far side's
    /// "privileged source port" check.
    static let masqueradeHighPorts = "MASQUERADE --to-ports 1024-65535"
    static let checksumFill = "CHECKSUM --checksum-fill"
    static func dnat(_ address: IPv4Address, _ port: Int) -> String { "DNAT --to-destination \(address):\(port)" }
}

enum Match {
    static let established = "-m conntrack --ctstate RELATED,ESTABLISHED"
    static let invalid = "-m conntrack --ctstate INVALID"
    static let dnatted = "-m conntrack --ctstate DNAT"
    static let localDestination = "-m addrtype --dst-type LOCAL"

    /// The port matches for `proto`, one list per rule: `-m tcp --dport 22` for one port or
    /// range, `-m multiport --dports 22,80:90` for several (iptables-save keeps them as
    /// given). multiport takes at most 15 ports, a range counting as two, so a longer list
    /// becomes several rules. No ports: one rule with no port match.
    static func ports(_ proto: String, _ ports: [PortRange]) -> [[String]] {
        if ports.isEmpty { return [[]] }
        if ports.count == 1 { return [["-m \(proto) --dport \(ports[0])"]] }
        var groups: [[PortRange]] = [[]]
        var weight = 0
        for port in ports {
            let cost = port.low == port.high ? 1 : 2
            if weight + cost > 15 {
                groups.append([])
                weight = 0
            }
            groups[groups.count - 1].append(port)
            weight += cost
        }
        return groups.map { group in
            group.count == 1
                ? ["-m \(proto) --dport \(group[0])"]
                : ["-m multiport --dports " + group.map(\.description).joined(separator: ",")]
        }
    }
}
