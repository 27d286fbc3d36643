import MoatConfig

/// The firewall of SPEC §3 as chains of rules: each network's own chains, the shared
/// dispatch chains, and the jumps into them from the built-in chains. Pure.
///
/// How a packet is decided, for a network N on device D with subnet S:
/// - first, in raw `PREROUTING → MOAT-PREROUTING → MOAT-SRC-N`, before connection tracking
///   sees it: a packet from D whose source is not a guest address of S is dropped (DHCP's
///   `0.0.0.0 → 255.255.255.255:67` excepted). Without it a guest could spoof its way out
///   un-NATed, pass for the NAS through an `allow` hole, or forge a reply that conntrack
///   (which ignores the device a packet came in on) takes for another network's flow or the
///   host's own;
/// - packets conntrack calls INVALID are dropped first in every filter chain of N: NAT
///   skips them, so they would leave with the guest's private source;
/// - to the host from D: `INPUT → MOAT-INPUT → MOAT-IN-N`, which ends in a reject, so
///   guests reach only DHCP, DNS and what `allow {to: host}` opens;
/// - through the host from D: `FORWARD → MOAT-FORWARD → MOAT-FROM-N`, which ends in a
///   verdict (accept or reject) for every packet, after `MOAT-BLOCK` (the block list and
///   every moat subnet) has rejected what no `allow` opened. All `FROM` jumps come before all `TO`
///   jumps, so a packet from a guest is always judged by its own network's `FROM` chain
///   first: a guest of another network reaching this one through a port forward is
///   rejected there, never let in by this network's `TO` chain;
/// - through the host to D, not from D: `MOAT-TO-N` lets in replies and forwards only;
/// - nat: `MOAT-POSTROUTING → MOAT-MASQ-N` for S leaving S; `MOAT-PREROUTING` and
///   `MOAT-OUTPUT → MOAT-DNAT-N` for the host's own addresses (forwards);
/// - mangle: `MOAT-POSTROUTING` fills DHCP reply checksums on D.
public enum FirewallChains {
    /// A network's own chains, non-empty ones only (no `DNAT` chain without forwards, no
    /// `MASQ` chain in isolated mode).
    public static func chains(of network: Network, in config: Config) -> [ChainID: [String]] {
        var chains: [ChainID: [String]] = [
            ChainName.of(.source, network: network.name): sourceRules(network),
            ChainName.of(.input, network: network.name): inputRules(network),
            ChainName.of(.from, network: network.name): fromRules(network, config),
            ChainName.of(.to, network: network.name): toRules(network),
        ]
        if network.mode == .nat {
            chains[ChainName.of(.masquerade, network: network.name)] = masqueradeRules(network)
        }
        if !network.forwards.isEmpty {
            chains[ChainName.of(.dnat, network: network.name)] = dnatRules(network)
        }
        return chains
    }

    /// The shared dispatch chains, non-empty ones only; networks in name order.
    public static func sharedChains(of config: Config) -> [ChainID: [String]] {
        let networks = config.networks.sorted { $0.name < $1.name }
        var chains: [ChainID: [FirewallRule]] = [:]
        for n in networks {
            let device = n.device.name
            let comment = Mark.of(network: n.name)
            chains[ChainName.rawPrerouting, default: []].append(
                FirewallRule(inInterface: device, comment: comment, target: ChainName.of(.source, network: n.name).name))
            chains[ChainName.input, default: []].append(
                FirewallRule(inInterface: device, comment: comment, target: ChainName.of(.input, network: n.name).name))
        }
        // Every FROM jump before any TO jump: see the type's documentation.
        for n in networks {
            chains[ChainName.forward, default: []].append(
                FirewallRule(
                    inInterface: n.device.name, comment: Mark.of(network: n.name),
                    target: ChainName.of(.from, network: n.name).name))
        }
        for n in networks {
            chains[ChainName.forward, default: []].append(
                FirewallRule(
                    outInterface: n.device.name, comment: Mark.of(network: n.name),
                    target: ChainName.of(.to, network: n.name).name))
        }
        for n in networks where n.mode == .nat {
            // `! -d S` (as libvirt does) rather than `! -o D`: it says "leaving the subnet"
            // in addresses, which also holds for traffic bridged back into D.
            chains[ChainName.natPostrouting, default: []].append(
                FirewallRule(
                    source: n.subnet, destination: n.subnet, destinationNegated: true,
                    comment: Mark.of(network: n.name),
                    target: ChainName.of(.masquerade, network: n.name).name))
        }
        for n in networks where !n.forwards.isEmpty {
            let jump = FirewallRule(
                matches: [Match.localDestination], comment: Mark.of(network: n.name),
                target: ChainName.of(.dnat, network: n.name).name)
            chains[ChainName.natPrerouting, default: []].append(jump)
            chains[ChainName.natOutput, default: []].append(jump)
        }
        if networks.contains(where: { $0.mode == .nat }) {
            var block = config.block.map { FirewallRule(destination: $0, comment: Mark.shared, target: Target.reject) }
            // Another network's subnet; a network's own never gets here (its FROM chain
            // accepts traffic back out of its own device first).
            block += networks.map { FirewallRule(destination: $0.subnet, comment: Mark.of(network: $0.name), target: Target.reject) }
            chains[ChainName.block] = block
        }
        for n in networks where n.dhcp != nil {
            // Guests with offloaded checksums (virtio) drop DHCP replies whose checksum was
            // left to the hardware; libvirt keeps the same rule.
            chains[ChainName.manglePostrouting, default: []].append(
                FirewallRule(
                    outInterface: n.device.name, proto: "udp", matches: ["-m udp --dport 68"],
                    comment: Mark.of(network: n.name), target: Target.checksumFill))
        }
        return chains.mapValues { $0.map(\.description) }
    }

    /// One jump from each built-in chain into its non-empty shared chain, keyed by the
    /// built-in chain (`ChainID(.filter, "INPUT")`).
    public static func jumps(to sharedChains: [ChainID: [String]]) -> [ChainID: [String]] {
        var jumps: [ChainID: [String]] = [:]
        for (chain, builtin) in ChainName.shared where !(sharedChains[chain] ?? []).isEmpty {
            jumps[ChainID(chain.table, builtin), default: []].append(
                FirewallRule(comment: Mark.shared, target: chain.name).description)
        }
        return jumps
    }

    // MARK: - A network's chains

    /// What may arrive from D (raw table, before conntrack): guest sources of S, and a DHCP
    /// client that has no address yet. The host's own address and the subnet's network and
    /// broadcast addresses are no guest's.
    static func sourceRules(_ n: Network) -> [String] {
        let comment = Mark.of(network: n.name)
        let subnet = n.subnet
        var rules = [n.address.address, subnet.network, subnet.broadcast].map { address in
            FirewallRule(source: IPv4CIDR(address: address, prefix: 32), comment: comment, target: Target.drop)
        }
        rules.append(FirewallRule(source: subnet, comment: comment, target: Target.ret))
        if n.dhcp != nil {
            rules.append(
                FirewallRule(
                    source: IPv4CIDR(address: IPv4Address(0), prefix: 32), destination: Self.limitedBroadcast, proto: "udp",
                    matches: ["-m udp --dport 67"], comment: comment, target: Target.ret))
        }
        rules.append(FirewallRule(comment: comment, target: Target.drop))
        return unique(rules.map(\.description))
    }

    /// 255.255.255.255/32.
    static let limitedBroadcast = IPv4CIDR(address: IPv4Address(0xFFFF_FFFF), prefix: 32)

    /// Guests to the host itself.
    static func inputRules(_ n: Network) -> [String] {
        let comment = Mark.of(network: n.name)
        let host = IPv4CIDR(address: n.address.address, prefix: 32)
        var rules = [
            FirewallRule(matches: [Match.invalid], comment: comment, target: Target.drop),
            FirewallRule(matches: [Match.established], comment: comment, target: Target.accept),
        ]
        if n.dhcp != nil {
            // Discovery by broadcast, renewal to the host address; nothing to the host's
            // other addresses (a DHCP server or relay on its LAN side).
            for destination in [Self.limitedBroadcast, host] {
                rules.append(
                    FirewallRule(
                        destination: destination, proto: "udp", matches: ["-m udp --dport 67"], comment: comment,
                        target: Target.accept))
            }
        }
        if n.dns {
            // Only the host's address on D, where dnsmasq listens: another DNS server on
            // the host (on its LAN address, say) stays out of the guests' reach.
            for proto in ["udp", "tcp"] {
                rules.append(
                    FirewallRule(
                        destination: host, proto: proto, matches: ["-m \(proto) --dport 53"], comment: comment,
                        target: Target.accept))
            }
        }
        for allow in n.allow where allow.to == .host {
            rules += allowRules(allow, destination: nil, comment: comment)
        }
        rules.append(FirewallRule(comment: comment, target: Target.reject))
        return rules.map(\.description)
    }

    /// Guests through the host: to each other, to allowed places, then to the internet.
    static func fromRules(_ n: Network, _ config: Config) -> [String] {
        let comment = Mark.of(network: n.name)
        var rules = [
            FirewallRule(matches: [Match.invalid], comment: comment, target: Target.drop),
            // Guest to guest, when bridged traffic is seen by FORWARD (br_netfilter).
            FirewallRule(outInterface: n.device.name, comment: comment, target: Target.accept),
            // Replies to connections let in through a forward.
            FirewallRule(matches: [Match.established], comment: comment, target: Target.accept),
        ]
        if n.mode == .nat {
            for allow in n.allow {
                guard case .cidr(let cidr) = allow.to else { continue }
                rules += allowRules(allow, destination: cidr, comment: comment)
            }
            rules.append(FirewallRule(comment: comment, target: ChainName.block.name))
            if !config.uplinks.isEmpty {
                for uplink in config.uplinks {
                    rules.append(FirewallRule(outInterface: uplink, comment: comment, target: Target.accept))
                }
                rules.append(FirewallRule(comment: comment, target: Target.reject))
            } else {
                rules.append(FirewallRule(comment: comment, target: Target.accept))
            }
        } else {
            rules.append(FirewallRule(comment: comment, target: Target.reject))
        }
        return rules.map(\.description)
    }

    /// Through the host to the guests (not from D): replies and forwards only.
    static func toRules(_ n: Network) -> [String] {
        let comment = Mark.of(network: n.name)
        var rules = [
            FirewallRule(matches: [Match.invalid], comment: comment, target: Target.drop),
            FirewallRule(matches: [Match.established], comment: comment, target: Target.accept),
        ]
        for forward in n.forwards {
            let proto = forward.proto.rawValue
            rules.append(
                FirewallRule(
                    destination: IPv4CIDR(address: forward.toAddress, prefix: 32), proto: proto,
                    matches: ["-m \(proto) --dport \(forward.toPort)", Match.dnatted], comment: comment,
                    target: Target.accept))
        }
        rules.append(FirewallRule(comment: comment, target: Target.reject))
        return unique(rules.map(\.description))
    }

    /// Masquerade of what leaves S, except multicast and broadcast, which are not routed
    /// replies-back traffic and must keep their source.
    static func masqueradeRules(_ n: Network) -> [String] {
        let comment = Mark.of(network: n.name)
        return [
            FirewallRule(
                destination: IPv4CIDR(address: IPv4Address(0xE000_0000), prefix: 4), comment: comment,
                target: Target.ret),
            FirewallRule(
                destination: IPv4CIDR(address: IPv4Address(0xFFFF_FFFF), prefix: 32), comment: comment,
                target: Target.ret),
            FirewallRule(proto: "tcp", comment: comment, target: Target.masqueradeHighPorts),
            FirewallRule(proto: "udp", comment: comment, target: Target.masqueradeHighPorts),
            FirewallRule(comment: comment, target: Target.masquerade),
        ].map(\.description)
    }

    /// Port forwards: the host's port to the guest's.
    /// A network's DNAT rules, one per `forwards` entry, in the file's order.
    public static func dnatRules(_ n: Network) -> [String] {
        let comment = Mark.of(network: n.name)
        return n.forwards.map { forward in
            let proto = forward.proto.rawValue
            return FirewallRule(
                proto: proto, matches: ["-m \(proto) --dport \(forward.port)"], comment: comment,
                target: Target.dnat(forward.toAddress, forward.toPort)
            ).description
        }
    }

    /// The accept rules of one `allow` entry: protocol and ports, one rule per multiport group.
    static func allowRules(_ allow: AllowRule, destination: IPv4CIDR?, comment: String) -> [FirewallRule] {
        switch allow.proto {
        case .all:
            return [FirewallRule(destination: destination, comment: comment, target: Target.accept)]
        case .icmp:
            return [FirewallRule(destination: destination, proto: "icmp", comment: comment, target: Target.accept)]
        case .tcp, .udp:
            let proto = allow.proto.rawValue
            return Match.ports(proto, allow.ports).map { matches in
                FirewallRule(
                    destination: destination, proto: proto, matches: matches, comment: comment, target: Target.accept)
            }
        }
    }

    /// Drops repeated rules, keeping the first: two forwards to the same guest port need
    /// one accept, and a chain with a duplicate would never match its live copy's order.
    static func unique(_ rules: [String]) -> [String] {
        var seen: Set<String> = []
        return rules.filter { seen.insert($0).inserted }
    }
}
