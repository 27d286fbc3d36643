import Foundation
import MoatConfig

/// One difference of a step in the file's terms: an `allow`, a `forward`, a static host, the
/// range... added, removed or changed (before → after); or something changed outside moat
/// since the last apply (drift), which the file does not explain.
public struct Change: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable { case added, removed, changed }
    public var kind: Kind
    /// What, in the file's words: `forward tcp 2222 → 192.168.100.10:22`, `lease time`.
    public var item: String
    public var before: String?
    public var after: String?
    /// Changed outside moat (a rule deleted by hand, a dead dnsmasq), not by the file.
    public var outside: Bool

    public init(_ kind: Kind, _ item: String, before: String? = nil, after: String? = nil, outside: Bool = false) {
        self.kind = kind
        self.item = item
        self.before = before
        self.after = after
        self.outside = outside
    }

    /// `+ item`, `- item`, `~ item: before → after`, `! changed outside moat: item`.
    public var description: String {
        let values = before != nil || after != nil ? ": \(before ?? "none") → \(after ?? "none")" : ""
        if outside { return "! changed outside moat: \(item)\(values)" }
        switch kind {
        case .added: return "+ \(item)\(values)"
        case .removed: return "- \(item)\(values)"
        case .changed: return "~ \(item)\(values)"
        }
    }
}

/// Reads rules back into the file's terms. A rule moat rendered knows its origin; a rule read
/// from the host is matched to the desired rule it equals, and otherwise read by its shape
/// (a DNAT in a network's DNAT chain is a forward, an accept with a destination in its FROM
/// chain an allow, ...). There is no second record of what was applied: the live rules are
/// the record, so a plan can never be told a stale story.
enum PolicyDiff {
    /// An entry of the file that rules come from.
    enum Entry: Hashable, Comparable, CustomStringConvertible {
        case allow(AllowRule)
        case forward(PortForward)
        case uplink(String)
        case block(IPv4CIDR)

        var description: String {
            switch self {
            case .allow(let allow):
                let ports = allow.ports.isEmpty ? "" : " " + allow.ports.map(\.description).joined(separator: ",")
                let to = if case .cidr(let cidr) = allow.to { "\(cidr)" } else { "host" }
                return "allow \(allow.proto.rawValue)\(ports) to \(to)"
            case .forward(let f): return "forward \(f.proto.rawValue) \(f.port) → \(f.toAddress):\(f.toPort)"
            case .uplink(let device): return "uplink \(device)"
            case .block(let cidr): return "block \(cidr)"
            }
        }

        static func < (a: Self, b: Self) -> Bool { a.description < b.description }
    }

    /// A rule in its chain.
    struct Placed: Hashable {
        var chain: ChainID
        var rule: FirewallRule
        var text: String { "\(Diff.label(chain)): \(IptablesBackend.text(of: rule))" }
    }

    /// The rules of `chains`, each under the entry it comes from, or `nil` for the rules every
    /// network has whatever its entries (the source check, replies, the final verdict...).
    /// `device`: the network's device, whose `-o` accept is guest-to-guest, not an uplink.
    /// `known`: the desired rules, whose origin a live rule takes when it equals one.
    static func entries(
        of chains: [ChainID: [FirewallRule]], device: String?, known: [ChainID: [FirewallRule]] = [:]
    ) -> [Entry?: [Placed]] {
        var found: [Entry?: [Placed]] = [:]
        // DNAT rules first, so a forward's accept in the TO chain finds its forward.
        let order = chains.keys.sorted { (kind(of: $0) == .dnat ? 0 : 1, $0) < (kind(of: $1) == .dnat ? 0 : 1, $1) }
        var forwards: [PortForward] = []
        for chain in order {
            for rule in chains[chain] ?? [] {
                let entry: Entry?
                if let origin = rule.origin {
                    entry = Self.entry(of: origin)
                } else {
                    // A forward's accept goes with the live DNAT of its target, so an accept
                    // the file keeps for another forward to the same guest port is not taken
                    // for that forward's; any other rule takes the origin of the desired rule
                    // it equals (an allow split over several multiport rules stays one entry).
                    let twin = known[chain]?.first { $0 == rule }?.origin.map(Self.entry(of:)) ?? nil
                    let shape = infer(rule, in: chain, device: device, forwards: forwards)
                    entry = kind(of: chain) == .to ? shape ?? twin : twin ?? shape
                }
                if case .forward(let forward)? = entry, kind(of: chain) == .dnat { forwards.append(forward) }
                found[entry, default: []].append(Placed(chain: chain, rule: rule))
            }
        }
        return found
    }

    static func entry(of origin: RuleOrigin) -> Entry? {
        switch origin {
        case .allow(let allow): .allow(allow)
        case .forward(let forward): .forward(forward)
        case .uplink(let device): .uplink(device)
        case .block(let cidr): .block(cidr)
        default: nil
        }
    }

    static func kind(of chain: ChainID) -> ChainName.Kind? {
        guard let network = ChainName.network(of: chain) else { return nil }
        return ChainName.Kind.allCases.first { ChainName.of($0, network: network).in(chain.backend) == chain }
    }

    /// The entry a live rule moat did not render this time comes from, by its shape.
    static func infer(_ rule: FirewallRule, in chain: ChainID, device: String?, forwards: [PortForward]) -> Entry? {
        guard rule.opaque == nil else { return nil }
        let proto = rule.proto.flatMap(Proto.init(rawValue:))
        let ports: [PortRange] = rule.matches.flatMap { match -> [PortRange] in
            switch match {
            case .port(let port): [port]
            case .multiport(let ports): ports
            default: []
            }
        }
        let plain = rule.matches.allSatisfy { if case .port = $0 { true } else if case .multiport = $0 { true } else { false } }
        if chain.in(.iptables) == ChainName.block, rule.owner == .shared, rule.verdict == .reject, let cidr = rule.destination {
            return .block(cidr)
        }
        switch kind(of: chain) {
        case .dnat:
            guard case .dnat(let address, let toPort) = rule.verdict, let p = rule.proto.flatMap(PortForward.Proto.init(rawValue:)),
                ports.count == 1, ports[0].low == ports[0].high
            else { return nil }
            return .forward(PortForward(proto: p, port: ports[0].low, toAddress: address, toPort: toPort))
        case .to:
            guard rule.verdict == .accept, rule.matches.contains(.dnatted), let destination = rule.destination, destination.prefix == 32,
                ports.count == 1
            else { return nil }
            return forwards.first { $0.toAddress == destination.address && $0.toPort == ports[0].low && $0.proto.rawValue == rule.proto }
                .map(Entry.forward)
        case .from:
            guard rule.verdict == .accept, plain else { return nil }
            if let out = rule.outInterface, !rule.outInterfaceNegated, rule.destination == nil, rule.matches.isEmpty {
                return out == device ? nil : .uplink(out)
            }
            guard let destination = rule.destination, !rule.destinationNegated, rule.outInterface == nil else { return nil }
            return .allow(AllowRule(to: .cidr(destination), proto: proto ?? .all, ports: ports))
        case .input:
            guard rule.verdict == .accept, plain, rule.destination == nil, rule.inInterface == nil else { return nil }
            return .allow(AllowRule(to: .host, proto: proto ?? .all, ports: ports))
        default:
            return nil
        }
    }

    /// The differences of one network's chains (or the shared ones, `device` nil), in the
    /// file's terms. `explained`: whether a change of the file accounts for a difference of
    /// the rules every network has (a network's device, address or mode changed, DHCP or DNS
    /// turned on or off, a network added or removed); those it does not are drift.
    static func changes(
        desired: [ChainID: [FirewallRule]], live: [ChainID: [FirewallRule]], device: String?, liveDevice: String?,
        explained: (Placed) -> Bool
    ) -> [Change] {
        let want = entries(of: desired, device: device)
        let have = entries(of: live, device: liveDevice, known: desired)
        var changes: [Change] = []
        let wantEntries = Set(want.keys.compactMap { $0 })
        let haveEntries = Set(have.keys.compactMap { $0 })
        var added = wantEntries.subtracting(haveEntries).sorted()
        var removed = haveEntries.subtracting(wantEntries).sorted()
        // A forward of the same port to another guest, or to the same guest from another
        // port: changed, before → after.
        for old in removed {
            guard case .forward(let before) = old else { continue }
            func forward(_ entry: Entry) -> PortForward? { if case .forward(let f) = entry { f } else { nil } }
            let samePort = added.first { forward($0).map { $0.proto == before.proto && $0.port == before.port } ?? false }
            let sameGuest = added.first {
                forward($0).map { $0.proto == before.proto && $0.toAddress == before.toAddress && $0.toPort == before.toPort } ?? false
            }
            guard let new = samePort ?? sameGuest, let after = forward(new) else { continue }
            let proto = before.proto.rawValue
            changes.append(
                samePort != nil
                    ? Change(.changed, "forward \(proto) \(before.port)", before: "\(before.toAddress):\(before.toPort)", after: "\(after.toAddress):\(after.toPort)")
                    : Change(.changed, "forward \(proto) to \(before.toAddress):\(before.toPort)", before: "port \(before.port)", after: "port \(after.port)"))
            added.removeAll { $0 == new }
            removed.removeAll { $0 == old }
        }
        changes += removed.map { Change(.removed, $0.description) }
        changes += added.map { Change(.added, $0.description) }
        for entry in wantEntries.intersection(haveEntries).sorted() where !sameRules(want[entry] ?? [], have[entry] ?? []) {
            changes.append(Change(.changed, entry.description, outside: true))
        }
        let wantBase = want[Entry?.none] ?? []
        let haveBase = have[Entry?.none] ?? []
        for rule in missing(wantBase, from: haveBase) where !explained(rule) {
            changes.append(Change(.removed, "rule missing: \(rule.text)", outside: true))
        }
        for rule in missing(haveBase, from: wantBase) where !explained(rule) {
            changes.append(Change(.added, "unexpected rule: \(rule.text)", outside: true))
        }
        if changes.isEmpty, desired != live, sameRules(wantBase, haveBase) {
            changes.append(Change(.changed, "rules out of order", outside: true))
        }
        return changes
    }

    static func sameRules(_ a: [Placed], _ b: [Placed]) -> Bool {
        a.count == b.count && missing(a, from: b).isEmpty
    }

    /// The rules of `rules` that `other` lacks, counting duplicates.
    static func missing(_ rules: [Placed], from other: [Placed]) -> [Placed] {
        var left = other
        return rules.filter { rule in
            guard let index = left.firstIndex(of: rule) else { return true }
            left.remove(at: index)
            return false
        }
    }

    // MARK: - dnsmasq

    /// What differs between two dnsmasq instances of a network, in the file's terms: range,
    /// lease time, static hosts, DNS, the resolvers and domains it uses.
    static func changes(dnsmasq want: DnsmasqInstance, _ have: DnsmasqInstance) -> [Change] {
        var changes: [Change] = []
        let wantSettings = settings(want.config)
        let haveSettings = settings(have.config)
        func range(_ values: [String]) -> (range: String, lease: String)? {
            guard let value = values.first else { return nil }
            let parts = value.split(separator: ",").map(String.init)
            guard parts.count >= 2 else { return nil }
            return ("\(parts[0])-\(parts[1])", parts.count >= 4 ? parts[3] : "")
        }
        let (wr, hr) = (range(wantSettings["dhcp-range"] ?? []), range(haveSettings["dhcp-range"] ?? []))
        switch (hr, wr) {
        case (nil, _?): changes.append(Change(.added, "DHCP"))
        case (_?, nil): changes.append(Change(.removed, "DHCP"))
        case (let h?, let w?):
            if h.range != w.range { changes.append(Change(.changed, "range", before: h.range, after: w.range)) }
            if h.lease != w.lease { changes.append(Change(.changed, "lease time", before: duration(h.lease), after: duration(w.lease))) }
        default: break
        }
        let dnsOff = (haveSettings["port"] == ["0"], wantSettings["port"] == ["0"])
        if dnsOff.0 != dnsOff.1 { changes.append(Change(dnsOff.1 ? .removed : .added, "DNS")) }
        let named: [(key: String, item: String)] = [
            ("interface", "device"), ("server", "upstream DNS servers (the host's resolvers)"), ("rebind-domain-ok", "private domains"),
            ("dhcp-option", "DHCP options"), ("bogus-nxdomain", "DNS answers refused in blocked ranges"),
        ]
        // With DHCP or DNS turned on or off, the settings that go with it follow: that is
        // the change, not each of them.
        let toggled = !changes.isEmpty && (wr == nil) != (hr == nil) || dnsOff.0 != dnsOff.1
        for (key, item) in named where !toggled && (wantSettings[key] ?? []) != (haveSettings[key] ?? []) {
            changes.append(Change(.changed, item, before: list(haveSettings[key]), after: list(wantSettings[key])))
        }
        let covered = Set(named.map(\.key) + ["dhcp-range", "port", "dhcp-lease-max"])
        for key in Set(wantSettings.keys).union(haveSettings.keys).subtracting(covered).sorted()
        where !toggled && wantSettings[key] != haveSettings[key] {
            changes.append(Change(.changed, "dnsmasq setting \(key)", before: list(haveSettings[key]) ?? "unset", after: list(wantSettings[key]) ?? "unset"))
        }
        changes += staticHostChanges(want: want.dhcpHosts, have: have.dhcpHosts)
        return changes
    }

    /// dnsmasq's `3600s` as the file writes it (`1h`); anything else as it is.
    static func duration(_ text: String) -> String {
        guard text.hasSuffix("s"), let seconds = Int(text.dropLast()), seconds > 0 else { return text }
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] where seconds % size == 0 { return "\(seconds / size)\(unit)" }
        return text
    }

    static func list(_ values: [String]?) -> String? {
        guard let values, !values.isEmpty else { return nil }
        return values.allSatisfy(\.isEmpty) ? "set" : values.joined(separator: ", ")
    }

    /// What a new dnsmasq of a network serves, in the file's terms.
    static func created(dnsmasq want: DnsmasqInstance) -> [Change] {
        let settings = settings(want.config)
        var changes: [Change] = []
        if let range = settings["dhcp-range"]?.first?.split(separator: ",").map(String.init), range.count >= 4 {
            changes.append(Change(.added, "DHCP \(range[0])-\(range[1]), lease time \(duration(range[3]))"))
        }
        if settings["port"] != ["0"] { changes.append(Change(.added, "DNS")) }
        return changes + staticHostChanges(want: want.dhcpHosts, have: "")
    }

    /// `key=value` lines by key, values in order (comments and bare flags as `key` alone).
    static func settings(_ config: String) -> [String: [String]] {
        var settings: [String: [String]] = [:]
        for line in config.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            settings[parts[0], default: []].append(parts.count > 1 ? parts[1] : "")
        }
        return settings
    }

    /// Static hosts (`dhcp-hosts` lines `mac,ip[,name]`) added, removed, or moved to
    /// another address or name.
    static func staticHostChanges(want: String, have: String) -> [Change] {
        func hosts(_ text: String) -> [String: String] {
            var hosts: [String: String] = [:]
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ",", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                hosts[parts[0]] = parts[1].replacingOccurrences(of: ",", with: " ")
            }
            return hosts
        }
        let (w, h) = (hosts(want), hosts(have))
        var changes: [Change] = []
        for mac in Set(w.keys).union(h.keys).sorted() {
            switch (h[mac], w[mac]) {
            case (nil, let after?): changes.append(Change(.added, "static host \(mac) \(after)"))
            case (let before?, nil): changes.append(Change(.removed, "static host \(mac) \(before)"))
            case (let before?, let after?) where before != after:
                changes.append(Change(.changed, "static host \(mac)", before: before, after: after))
            default: break
            }
        }
        return changes
    }
}
