import MoatConfig

/// One firewall rule of moat's model: who owns it, why it exists, what it matches and what
/// it does with a match. The iptables backend (`IptablesBackend`) renders it to the text
/// `iptables-save` prints and reads that text back into it.
///
/// Equality and hashing ignore `origin`: the origin is an annotation of the file's intent,
/// the kernel holds only the rest. So a rule read from the host (origin nil) equals its
/// desired twin, and a chain is "in place" when its rules are equal, in order.
///
/// A rule the model cannot express exactly (a hand-made rule in a `MOAT-` chain, an option
/// moat never writes) is kept `opaque`: its exact backend text, so a rollback can write it
/// back byte for byte. Its `owner` and `verdict` still say what could be read of it.
public struct FirewallRule: Hashable, Sendable, CustomStringConvertible {
    /// Whose rule it is, from its comment.
    public var owner: RuleOwner
    /// Why the file wants the rule (set when rendering from the config); nil for rules read
    /// from the host. Not part of equality.
    public var origin: RuleOrigin?
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
    /// Match modules, in order (the comment is not one of them: it is `owner`).
    public var matches: [RuleMatch]
    public var verdict: Verdict
    /// The exact backend text of a rule read from the host that the typed fields cannot
    /// express; nil for every rule moat renders. When set, the backend writes it verbatim.
    public var opaque: String?

    public init(
        owner: RuleOwner, origin: RuleOrigin? = nil, source: IPv4CIDR? = nil, destination: IPv4CIDR? = nil,
        destinationNegated: Bool = false, inInterface: String? = nil, outInterface: String? = nil,
        outInterfaceNegated: Bool = false, proto: String? = nil, matches: [RuleMatch] = [], verdict: Verdict
    ) {
        self.owner = owner
        self.origin = origin
        self.source = source
        self.destination = destination
        self.destinationNegated = destinationNegated
        self.inInterface = inInterface
        self.outInterface = outInterface
        self.outInterfaceNegated = outInterfaceNegated
        self.proto = proto
        self.matches = matches
        self.verdict = verdict
        self.opaque = nil
    }

    /// A rule read from the host that the model cannot express: `text` is kept as is.
    public static func opaque(_ text: String, owner: RuleOwner, verdict: Verdict) -> FirewallRule {
        var rule = FirewallRule(owner: owner, verdict: verdict)
        rule.opaque = text
        return rule
    }

    /// The iptables-save text of the rule, for messages and logs.
    public var description: String { IptablesBackend.text(of: self) }

    public static func == (a: Self, b: Self) -> Bool {
        a.owner == b.owner && a.source == b.source && a.destination == b.destination
            && a.destinationNegated == b.destinationNegated && a.inInterface == b.inInterface
            && a.outInterface == b.outInterface && a.outInterfaceNegated == b.outInterfaceNegated && a.proto == b.proto
            && a.matches == b.matches && a.verdict == b.verdict && a.opaque == b.opaque
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(owner)
        hasher.combine(source)
        hasher.combine(destination)
        hasher.combine(destinationNegated)
        hasher.combine(inInterface)
        hasher.combine(outInterface)
        hasher.combine(outInterfaceNegated)
        hasher.combine(proto)
        hasher.combine(matches)
        hasher.combine(verdict)
        hasher.combine(opaque)
    }
}

/// Whose rule it is, as its comment says.
public enum RuleOwner: Hashable, Sendable {
    /// Comment `moat:<network>`: one network's.
    case network(String)
    /// Comment `moat`: shared by every network (the jumps from built-in chains, `block:`).
    case shared
    /// Any other comment (nil: none). Found on the host only; never moat's own.
    case other(String?)

    /// The owner a comment names.
    public init(comment: String?) {
        guard let comment else {
            self = .other(nil)
            return
        }
        if comment == Mark.shared {
            self = .shared
        } else if comment.hasPrefix(Mark.prefix), comment.count > Mark.prefix.count {
            self = .network(String(comment.dropFirst(Mark.prefix.count)))
        } else {
            self = .other(comment)
        }
    }

    /// The comment that marks the owner; nil for a rule without one.
    public var comment: String? {
        switch self {
        case .network(let name): Mark.of(network: name)
        case .shared: Mark.shared
        case .other(let comment): comment
        }
    }
}

/// Why a rule exists, in the file's terms, so a plan can name the entry a change comes from
/// ("forward tcp 2222 removed"). Set by `FirewallChains`; an annotation only.
public enum RuleOrigin: Hashable, Sendable {
    /// raw `SRC` chain: only guest addresses of the subnet may arrive from the device.
    case sourceCheck
    /// Packets conntrack calls INVALID are dropped.
    case invalid
    /// Replies (RELATED,ESTABLISHED) are let through.
    case replies
    /// DHCP to the host (and a DHCP client's `0.0.0.0` source in the source check).
    case dhcp
    /// DNS to the host.
    case dns
    /// An `allow` entry.
    case allow(AllowRule)
    /// A `forwards` entry (its DNAT and its accept).
    case forward(PortForward)
    /// A `block` entry.
    case block(IPv4CIDR)
    /// Another moat network's subnet, in `MOAT-BLOCK`.
    case otherNetwork(String)
    /// Guest to guest on the network's device.
    case intraNetwork
    /// An `uplinks` entry: the device through which guests may leave.
    case uplink(String)
    /// The jump to `MOAT-BLOCK`.
    case blockList
    /// The accept of what is left: the internet.
    case internet
    /// The closing reject or drop of a chain: what nothing above let through.
    case finalVerdict
    /// Masquerade of what leaves the subnet.
    case masquerade
    /// Multicast and broadcast keep their source (a RETURN in the MASQ chain).
    case keepSource
    /// A jump from a shared chain into a network's, or from a built-in chain into a shared one.
    case dispatch
    /// The DHCP checksum fix.
    case checksum
}

/// What a matching packet gets.
public enum Verdict: Hashable, Sendable {
    case accept
    case drop
    /// `REJECT --reject-with icmp-port-unreachable`.
    case reject
    case `return`
    /// `-j <chain>`: one of moat's chains.
    case jump(String)
    /// `MASQUERADE`, with `--to-ports low-high` when given.
    case masquerade(ports: PortRange?)
    /// `DNAT --to-destination address:port`.
    case dnat(IPv4Address, Int)
    /// `CHECKSUM --checksum-fill`.
    case checksumFill
    /// Any other target, as the backend prints it after `-j ` (read from the host only).
    case text(String)
}

/// A match module of a rule.
public enum RuleMatch: Hashable, Sendable {
    /// `-m <proto> --dport <port>` for the rule's `proto` (tcp or udp): one port or range.
    case port(PortRange)
    /// `-m multiport --dports a,b:c`.
    case multiport([PortRange])
    /// `-m conntrack --ctstate A,B`.
    case conntrack([ConntrackState])
    /// `-m addrtype --dst-type LOCAL`: to one of the host's own addresses.
    case localDestination
    /// Any other module, as the backend prints it (`-m mac --mac-source ...`; host only).
    case text(String)
}

/// Connection tracking states, as iptables spells them.
public enum ConntrackState: String, Hashable, Sendable, CaseIterable {
    case invalid = "INVALID", new = "NEW", established = "ESTABLISHED", related = "RELATED", untracked = "UNTRACKED"
    case snat = "SNAT", dnat = "DNAT"
}

extension RuleMatch {
    static let replies = RuleMatch.conntrack([.related, .established])
    static let invalid = RuleMatch.conntrack([.invalid])
    static let dnatted = RuleMatch.conntrack([.dnat])

    /// The port matches of one list, one list per rule: `.port` for one port or range,
    /// `.multiport` for several (iptables-save keeps them as given). multiport takes at most
    /// 15 ports, a range counting as two, so a longer list becomes several rules. No ports:
    /// one rule with no port match.
    static func ports(_ ports: [PortRange]) -> [[RuleMatch]] {
        if ports.isEmpty { return [[]] }
        if ports.count == 1 { return [[.port(ports[0])]] }
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
        return groups.map { group in group.count == 1 ? [.port(group[0])] : [.multiport(group)] }
    }
}
