import MoatConfig

/// When an apply tightens a network's policy, the connections its new rules would not admit
/// are deleted from connection tracking: otherwise a connection opened through a removed
/// `allow` hole or `forward` lives on through the `RELATED,ESTABLISHED` rule, for days.
///
/// Exactly those: every other connection (an unrelated download of the same guest) keeps
/// its entry, since a deleted entry cannot be restored and its next packet would meet the
/// rules as a new one. Deleting runs last, once every other step has succeeded and the
/// host is verified (see `Reconciler.execute`). Pure but for the unit's commands.
public enum ConnectionCut {
    /// The plan's steps that cut connections: one per network whose policy `desired`
    /// tightens against `live`, empty when nothing tightens.
    public static func steps(config: Config, desired: HostState, live: HostState) -> [Plan.Step] {
        tightened(config: config, desired: desired, live: live).map { name in
            Plan.Step(
                network: name, subject: .trackedConnections, action: .delete,
                reason: "its rules now admit less: open connections they would not admit are cut, last",
                operations: [.cutConnections(network: name, config)], code: .tightened)
        }
    }

    /// The networks of `config` on the host whose rules admit less in `desired` than in `live`:
    /// one of their own chains, or the shared `MOAT-BLOCK` for every `nat` network, loses a
    /// rule, or gains one that does not accept. A network new to the host has no connections
    /// moat admitted, so it is not judged.
    static func tightened(config: Config, desired: HostState, live: HostState) -> [String] {
        let blockTightens = tightens(
            from: live.sharedChains.rules(of: ChainName.block) ?? [], to: desired.sharedChains.rules(of: ChainName.block) ?? [])
        return config.networks.map(\.name).sorted().filter { name in
            guard let before = live.networks[name], !before.chains.isEmpty, let after = desired.networks[name] else { return false }
            if blockTightens && config.networks.contains(where: { $0.name == name && $0.mode == .nat }) { return true }
            return Set(before.chains.keys).union(after.chains.keys).contains { chain in
                tightens(from: before.chains[chain] ?? [], to: after.chains[chain] ?? [])
            }
        }
    }

    /// Whether a chain going from `old` to `new` could refuse a connection it took before:
    /// unless every old rule stays, in order, and every added rule only accepts (or forwards).
    static func tightens(from old: [FirewallRule], to new: [FirewallRule]) -> Bool {
        var remaining = old[...]
        for rule in new {
            if rule == remaining.first {
                remaining = remaining.dropFirst()
            } else if !rule.onlyAdmits {
                return true
            }
        }
        return !remaining.isEmpty
    }

    /// The connections to delete: those of the `tightened` networks (opened by one of their
    /// guests, or forwarded to one) that the rules of `config` would not admit as new ones.
    /// `local` maps the host's addresses to their devices (from a snapshot taken after the apply).
    public static func toCut(
        _ connections: [TrackedConnection], config: Config, tightened: Set<String>, local: [IPv4Address: String]
    ) -> [TrackedConnection] {
        connections.filter { !admits($0, config: config, tightened: tightened, local: local) }
    }

    static func admits(_ c: TrackedConnection, config: Config, tightened: Set<String>, local: [IPv4Address: String]) -> Bool {
        let origin = config.networks.first { $0.subnet.contains(c.original.source) && $0.address.address != c.original.source }
        let target = c.target
        let forwardedTo = c.isDestinationNATed ? config.networks.first { $0.subnet.contains(target.address) } : nil
        guard [origin, forwardedTo].contains(where: { $0.map { tightened.contains($0.name) } ?? false }) else { return true }

        if let network = forwardedTo {
            // Through a port forward: it must still lead there, and the guest it came from (if
            // any) must still be let through to that guest.
            let stillForwarded = network.forwards.contains {
                $0.proto.rawValue == c.proto && $0.port == c.original.destinationPort && $0.toAddress == target.address
                    && $0.toPort == target.port
            }
            guard stillForwarded else { return false }
            guard let origin, origin.name != network.name else { return true }
            return forwardAdmits(c, from: origin, to: target.address, port: target.port, config: config, local: local)
        }
        guard let origin else { return true }  // neither end is a guest: not moat's to judge
        let destination = c.original.destination
        if local[destination] != nil || destination == origin.address.address || destination.value == 0xFFFF_FFFF
            || destination.value >> 28 == 0xE
        {
            return inputAdmits(c, from: origin)
        }
        if origin.subnet.contains(destination) { return true }  // stays on the network
        return forwardAdmits(c, from: origin, to: destination, port: c.original.destinationPort, config: config, local: local)
    }

    /// A guest to the host itself (`MOAT-IN-<net>`): DHCP, DNS on the host address, `allow {to: host}`.
    static func inputAdmits(_ c: TrackedConnection, from n: Network) -> Bool {
        let destination = c.original.destination
        let port = c.original.destinationPort
        if n.dhcp != nil, c.proto == "udp", port == 67, destination == n.address.address || destination.value == 0xFFFF_FFFF {
            return true
        }
        if n.dns, destination == n.address.address, port == 53, c.proto == "udp" || c.proto == "tcp" { return true }
        return n.allow.contains { $0.to == .host && matches($0, c.proto, port) }
    }

    /// A guest through the host (`MOAT-FROM-<net>`): `allow` holes, then never `block` or another
    /// moat network, then the internet, through `uplinks` when set.
    static func forwardAdmits(
        _ c: TrackedConnection, from n: Network, to destination: IPv4Address, port: Int?, config: Config, local: [IPv4Address: String]
    ) -> Bool {
        guard n.mode == .nat else { return false }
        let opened = n.allow.contains { allow in
            guard case .cidr(let cidr) = allow.to else { return false }
            return cidr.contains(destination) && matches(allow, c.proto, port)
        }
        if opened { return true }
        if config.block.contains(where: { $0.contains(destination) }) || config.networks.contains(where: { $0.subnet.contains(destination) }) {
            return false
        }
        guard !config.uplinks.isEmpty else { return true }
        // Masquerade took the address of the device the connection leaves by; unknown: kept.
        guard let device = local[c.reply.destination] else { return true }
        return config.uplinks.contains(device)
    }

    static func matches(_ allow: AllowRule, _ proto: String, _ port: Int?) -> Bool {
        switch allow.proto {
        case .all: return true
        case .icmp: return proto == "icmp"
        case .tcp, .udp:
            guard proto == allow.proto.rawValue else { return false }
            guard !allow.ports.isEmpty else { return true }
            guard let port else { return false }
            return allow.ports.contains { $0.low <= port && port <= $0.high }
        }
    }
}

extension FirewallRule {
    /// Whether the rule can only let traffic in: it accepts, or forwards (DNAT).
    fileprivate var onlyAdmits: Bool {
        switch verdict {
        case .accept, .dnat: true
        default: false
        }
    }
}
