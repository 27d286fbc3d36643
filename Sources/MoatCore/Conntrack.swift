import MoatConfig

/// One entry of the kernel's connection tracking table, as `conntrack -L` prints it: the
/// tuple of the packet that opened it, and the tuple its replies carry (which differs from
/// the original, swapped, when the connection was NATed).
public struct TrackedConnection: Hashable, Sendable {
    /// `tcp`, `udp`, `icmp`, or another protocol's name as conntrack prints it.
    public var proto: String
    public var original: Tuple
    public var reply: Tuple

    public struct Tuple: Hashable, Sendable {
        public var source: IPv4Address
        public var destination: IPv4Address
        /// tcp and udp (and other protocols with ports); nil otherwise.
        public var sourcePort: Int?
        public var destinationPort: Int?
        /// icmp: `type`, `code` and `id`; nil otherwise.
        public var icmp: ICMP?

        public init(source: IPv4Address, destination: IPv4Address, sourcePort: Int? = nil, destinationPort: Int? = nil, icmp: ICMP? = nil) {
            self.source = source
            self.destination = destination
            self.sourcePort = sourcePort
            self.destinationPort = destinationPort
            self.icmp = icmp
        }
    }

    public struct ICMP: Hashable, Sendable {
        public var type: Int
        public var code: Int
        public var id: Int
        public init(type: Int, code: Int, id: Int) {
            self.type = type
            self.code = code
            self.id = id
        }
    }

    public init(proto: String, original: Tuple, reply: Tuple) {
        self.proto = proto
        self.original = original
        self.reply = reply
    }

    /// Whether the destination of the connection was rewritten (a port forward): replies come
    /// from somewhere else than the original destination.
    public var isDestinationNATed: Bool {
        reply.source != original.destination || reply.sourcePort != original.destinationPort
    }

    /// Where the connection really goes: the forward's target when destination-NATed.
    public var target: (address: IPv4Address, port: Int?) {
        isDestinationNATed ? (reply.source, reply.sourcePort) : (original.destination, original.destinationPort)
    }

    /// `conntrack -D` arguments that delete exactly this entry, by its original tuple (ports,
    /// or ICMP type, code and id, included).
    public var deleteArguments: [String] {
        var argv = ["conntrack", "-D", "-f", "ipv4", "-p", proto, "-s", "\(original.source)", "-d", "\(original.destination)"]
        if let port = original.sourcePort { argv += ["--sport", "\(port)"] }
        if let port = original.destinationPort { argv += ["--dport", "\(port)"] }
        if let icmp = original.icmp {
            argv += ["--icmp-type", "\(icmp.type)", "--icmp-code", "\(icmp.code)", "--icmp-id", "\(icmp.id)"]
        }
        return argv
    }
}

/// The commands that read and change the table.
public enum Conntrack {
    public static let listCommand = ["conntrack", "-L", "-f", "ipv4"]

    /// Reads `conntrack -L` output. Lines that are not an IPv4 entry of a known shape are
    /// skipped: the text comes from the host and is not trusted to be well formed.
    public static func parse(_ text: String) -> [TrackedConnection] {
        text.split(separator: "\n").compactMap(parseLine)
    }

    static func parseLine(_ line: Substring) -> TrackedConnection? {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let proto = words.first, !proto.isEmpty, proto.count <= 16,
            proto.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) })
        else { return nil }
        // Each tuple starts at its `src=`; the first is the original, the second the reply.
        var tuples: [[Substring: Substring]] = []
        for word in words.dropFirst() {
            guard let equals = word.firstIndex(of: "=") else { continue }
            let key = word[..<equals]
            let value = word[word.index(after: equals)...]
            if key == "src" { tuples.append([:]) }
            guard !tuples.isEmpty, tuples[tuples.count - 1][key] == nil else { continue }
            tuples[tuples.count - 1][key] = value
        }
        guard tuples.count >= 2, let original = tuple(tuples[0]), let reply = tuple(tuples[1]) else { return nil }
        return TrackedConnection(proto: String(proto), original: original, reply: reply)
    }

    static func tuple(_ fields: [Substring: Substring]) -> TrackedConnection.Tuple? {
        guard let source = fields["src"].flatMap({ IPv4Address(String($0)) }),
            let destination = fields["dst"].flatMap({ IPv4Address(String($0)) })
        else { return nil }
        func number(_ key: Substring, _ range: ClosedRange<Int>) -> Int? {
            fields[key].flatMap { Int($0) }.flatMap { range.contains($0) ? $0 : nil }
        }
        var icmp: TrackedConnection.ICMP?
        if let type = number("type", 0...255), let code = number("code", 0...255), let id = number("id", 0...65535) {
            icmp = TrackedConnection.ICMP(type: type, code: code, id: id)
        }
        return TrackedConnection.Tuple(
            source: source, destination: destination, sourcePort: number("sport", 0...65535), destinationPort: number("dport", 0...65535),
            icmp: icmp)
    }
}
