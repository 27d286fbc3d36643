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
    /// `MASQ` chain in isolated mode). Every rule carries its origin.
    public static func chains(of network: Network, in config: Config) -> [ChainID: [FirewallRule]] {
        var chains: [ChainID: [FirewallRule]] = [
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

    /// The shared dispatch chains, non-empty ones only; networks in name order. `backend`
    /// decides only the DHCP checksum rules (see there).
    public static func sharedChains(of config: Config, backend: FirewallBackend) -> [ChainID: [FirewallRule]] {
        let networks = config.networks.sorted { $0.name < $1.name }
        var chains: [ChainID: [FirewallRule]] = [:]
        /// A jump from a shared chain into one of network `n`'s own chains.
        func dispatch(_ n: Network, _ kind: ChainName.Kind, inInterface: String? = nil, outInterface: String? = nil) -> FirewallRule {
            FirewallRule(
                owner: .network(n.name), origin: .dispatch, inInterface: inInterface, outInterface: outInterface,
                verdict: .jump(ChainName.of(kind, network: n.name).name))
        }
        for n in networks {
            chains[ChainName.rawPrerouting, default: []].append(dispatch(n, .source, inInterface: n.device.name))
            chains[ChainName.input, default: []].append(dispatch(n, .input, inInterface: n.device.name))
        }
        // Every FROM jump before any TO jump: see the type's documentation.
        for n in networks {
            chains[ChainName.forward, default: []].append(dispatch(n, .from, inInterface: n.device.name))
        }
        for n in networks {
            chains[ChainName.forward, default: []].append(dispatch(n, .to, outInterface: n.device.name))
        }
        for n in networks where n.mode == .nat {
            // `! -d S` (as libvirt does) rather than `! -o D`: it says "leaving the subnet"
            // in addresses, which also holds for traffic bridged back into D.
            var jump = dispatch(n, .masquerade)
            jump.source = n.subnet
            jump.destination = n.subnet
            jump.destinationNegated = true
            chains[ChainName.natPostrouting, default: []].append(jump)
        }
        for n in networks where !n.forwards.isEmpty {
            var jump = dispatch(n, .dnat)
            jump.matches = [.localDestination]
            chains[ChainName.natPrerouting, default: []].append(jump)
            chains[ChainName.natOutput, default: []].append(jump)
        }
        if networks.contains(where: { $0.mode == .nat }) {
            var block = config.block.map {
                FirewallRule(owner: .shared, origin: .block($0), destination: $0, verdict: .reject)
            }
            // Another network's subnet; a network's own never gets here (its FROM chain
            // accepts traffic back out of its own device first).
            block += networks.map {
                FirewallRule(owner: .network($0.name), origin: .otherNetwork($0.name), destination: $0.subnet, verdict: .reject)
            }
            chains[ChainName.block] = block
        }
        // dnsmasq's DHCP replies leave with a partial checksum, for the device to finish; a
        // virtio guest behind vhost-net gets them so, and clients that check raw frames drop
        // them. iptables finishes the checksum (libvirt's rule). nftables can only zero it
        // ("none" over IPv4), and the packet stays partial: where the kernel or a NIC then
        // finishes it, it starts from that 0 without the pseudo-header and the checksum comes
        // out wrong. So nftables zeroes only on moat's bridges, whose ports are taps and veths
        // (a tap without offload, QEMU's e1000, is the case it loses: README), never on an
        // `interface:` network's device, a NIC that finishes checksums itself.
        for n in networks where n.dhcp != nil && (backend == .iptables || n.device.isBridge) {
            chains[ChainName.manglePostrouting, default: []].append(
                FirewallRule(
                    owner: .network(n.name), origin: .checksum, outInterface: n.device.name, proto: "udp",
                    matches: [.port(PortRange(68))], verdict: .checksumFill))
        }
        return chains
    }

    /// One jump from each built-in chain into its non-empty shared chain, keyed by the
    /// built-in chain (`ChainID(.filter, "INPUT")`).
    public static func jumps(to sharedChains: [ChainID: [FirewallRule]]) -> [ChainID: [FirewallRule]] {
        var jumps: [ChainID: [FirewallRule]] = [:]
        for (chain, builtin) in ChainName.shared where !(sharedChains[chain] ?? []).isEmpty {
            jumps[ChainID(chain.table, builtin), default: []].append(
                FirewallRule(owner: .shared, origin: .dispatch, verdict: .jump(chain.name)))
        }
        return jumps
    }

    // MARK: - A network's chains

    /// What may arrive from D (raw table, before conntrack): guest sources of S, and a DHCP
    /// client that has no address yet. The host's own address and the subnet's network and
    /// broadcast addresses are no guest's.
    static func sourceRules(_ n: Network) -> [FirewallRule] {
        let owner = RuleOwner.network(n.name)
        let subnet = n.subnet
        var rules = [n.address.address, subnet.network, subnet.broadcast].map { address in
            FirewallRule(owner: owner, origin: .sourceCheck, source: IPv4CIDR(address: address, prefix: 32), verdict: .drop)
        }
        rules.append(FirewallRule(owner: owner, origin: .sourceCheck, source: subnet, verdict: .return))
        if n.dhcp != nil {
            rules.append(
                FirewallRule(
                    owner: owner, origin: .dhcp, source: IPv4CIDR(address: IPv4Address(0), prefix: 32),
                    destination: Self.limitedBroadcast, proto: "udp", matches: [.port(PortRange(67))], verdict: .return))
        }
        rules.append(FirewallRule(owner: owner, origin: .finalVerdict, verdict: .drop))
        return unique(rules)
    }

    /// 255.255.255.255/32.
    static let limitedBroadcast = IPv4CIDR(address: IPv4Address(0xFFFF_FFFF), prefix: 32)

    /// The first rules of every filter chain of a network: INVALID dropped, replies let through.
    static func stateRules(_ owner: RuleOwner) -> [FirewallRule] {
        [
            FirewallRule(owner: owner, origin: .invalid, matches: [.invalid], verdict: .drop),
            FirewallRule(owner: owner, origin: .replies, matches: [.replies], verdict: .accept),
        ]
    }

    /// Guests to the host itself.
    static func inputRules(_ n: Network) -> [FirewallRule] {
        let owner = RuleOwner.network(n.name)
        let host = IPv4CIDR(address: n.address.address, prefix: 32)
        var rules = stateRules(owner)
        if n.dhcp != nil {
            // Discovery by broadcast, renewal to the host address; nothing to the host's
            // other addresses (a DHCP server or relay on its LAN side).
            for destination in [Self.limitedBroadcast, host] {
                rules.append(
                    FirewallRule(
                        owner: owner, origin: .dhcp, destination: destination, proto: "udp", matches: [.port(PortRange(67))],
                        verdict: .accept))
            }
        }
        if n.dns {
            // Only the host's address on D, where dnsmasq listens: another DNS server on
            // the host (on its LAN address, say) stays out of the guests' reach.
            for proto in ["udp", "tcp"] {
                rules.append(
                    FirewallRule(
                        owner: owner, origin: .dns, destination: host, proto: proto, matches: [.port(PortRange(53))],
                        verdict: .accept))
            }
        }
        for allow in n.allow where allow.to == .host {
            rules += allowRules(allow, destination: nil, owner: owner)
        }
        rules.append(FirewallRule(owner: owner, origin: .finalVerdict, verdict: .reject))
        return rules
    }

    /// Guests through the host: to each other, to allowed places, then to the internet.
    static func fromRules(_ n: Network, _ config: Config) -> [FirewallRule] {
        let owner = RuleOwner.network(n.name)
        var rules = [
            FirewallRule(owner: owner, origin: .invalid, matches: [.invalid], verdict: .drop),
            // Guest to guest, when bridged traffic is seen by FORWARD (br_netfilter).
            FirewallRule(owner: owner, origin: .intraNetwork, outInterface: n.device.name, verdict: .accept),
            // Replies to connections let in through a forward.
            FirewallRule(owner: owner, origin: .replies, matches: [.replies], verdict: .accept),
        ]
        if n.mode == .nat {
            for allow in n.allow {
                guard case .cidr(let cidr) = allow.to else { continue }
                rules += allowRules(allow, destination: cidr, owner: owner)
            }
            rules.append(FirewallRule(owner: owner, origin: .blockList, verdict: .jump(ChainName.block.name)))
            if !config.uplinks.isEmpty {
                for uplink in config.uplinks {
                    rules.append(FirewallRule(owner: owner, origin: .uplink(uplink), outInterface: uplink, verdict: .accept))
                }
                rules.append(FirewallRule(owner: owner, origin: .finalVerdict, verdict: .reject))
            } else {
                rules.append(FirewallRule(owner: owner, origin: .internet, verdict: .accept))
            }
        } else {
            rules.append(FirewallRule(owner: owner, origin: .finalVerdict, verdict: .reject))
        }
        return rules
    }

    /// Through the host to the guests (not from D): replies and forwards only.
    static func toRules(_ n: Network) -> [FirewallRule] {
        let owner = RuleOwner.network(n.name)
        var rules = stateRules(owner)
        for forward in n.forwards {
            rules.append(
                FirewallRule(
                    owner: owner, origin: .forward(forward), destination: IPv4CIDR(address: forward.toAddress, prefix: 32),
                    proto: forward.proto.rawValue, matches: [.port(PortRange(forward.toPort)), .dnatted], verdict: .accept))
        }
        rules.append(FirewallRule(owner: owner, origin: .finalVerdict, verdict: .reject))
        return unique(rules)
    }

    /// Masquerade of what leaves S, except multicast and broadcast, which are not routed
    /// replies-back traffic and must keep their source.
    static func masqueradeRules(_ n: Network) -> [FirewallRule] {
        let owner = RuleOwner.network(n.name)
        // Masqueraded source ports stay unprivileged, so guests never pass a far side's
        // "privileged source port" check.
        let highPorts = Verdict.masquerade(ports: PortRange(1024, 65535))
        return [
            FirewallRule(
                owner: owner, origin: .keepSource, destination: IPv4CIDR(address: IPv4Address(0xE000_0000), prefix: 4),
                verdict: .return),
            FirewallRule(owner: owner, origin: .keepSource, destination: Self.limitedBroadcast, verdict: .return),
            FirewallRule(owner: owner, origin: .masquerade, proto: "tcp", verdict: highPorts),
            FirewallRule(owner: owner, origin: .masquerade, proto: "udp", verdict: highPorts),
            FirewallRule(owner: owner, origin: .masquerade, verdict: .masquerade(ports: nil)),
        ]
    }

    /// Port forwards: the host's port to the guest's.
    /// A network's DNAT rules, one per `forwards` entry, in the file's order.
    public static func dnatRules(_ n: Network) -> [FirewallRule] {
        n.forwards.map { forward in
            FirewallRule(
                owner: .network(n.name), origin: .forward(forward), proto: forward.proto.rawValue,
                matches: [.port(PortRange(forward.port))], verdict: .dnat(forward.toAddress, forward.toPort))
        }
    }

    /// The accept rules of one `allow` entry: protocol and ports, one rule per multiport group.
    static func allowRules(_ allow: AllowRule, destination: IPv4CIDR?, owner: RuleOwner) -> [FirewallRule] {
        switch allow.proto {
        case .all:
            return [FirewallRule(owner: owner, origin: .allow(allow), destination: destination, verdict: .accept)]
        case .icmp:
            return [FirewallRule(owner: owner, origin: .allow(allow), destination: destination, proto: "icmp", verdict: .accept)]
        case .tcp, .udp:
            return RuleMatch.ports(allow.ports).map { matches in
                FirewallRule(
                    owner: owner, origin: .allow(allow), destination: destination, proto: allow.proto.rawValue,
                    matches: matches, verdict: .accept)
            }
        }
    }

    /// Drops repeated rules, keeping the first (and its origin): two forwards to the same
    /// guest port need one accept, and a chain with a duplicate would never match its live
    /// copy's order. Rules are compared as the kernel sees them (origin aside).
    static func unique(_ rules: [FirewallRule]) -> [FirewallRule] {
        var seen: Set<FirewallRule> = []
        return rules.filter { seen.insert($0).inserted }
    }
}
