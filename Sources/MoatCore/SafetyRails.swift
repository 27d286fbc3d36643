import MoatConfig

/// What `plan` refuses unless the file opts in, because it would take something from the host
/// itself: its uplink (an `interface:` that carries the default route or addresses the file
/// does not declare) or one of its services (a forward over a port a host process listens
/// on). Also the warnings that change no exit code. Pure: values in, messages out.
public enum SafetyRails {
    // MARK: - Rail A: an interface shared with the host

    /// Every `interface:` network, on every plan, whose device carries the host's default
    /// route or an IPv4 address other than the network's own, unless `sharedWithHost`.
    /// `records` are moat's interface records: an address moat itself added earlier (the
    /// file's previous `address`) is moat's, not the host's.
    public static func sharedInterfaces(config: Config, live: HostState, records: [String: InterfaceRecord] = [:]) -> [String] {
        var problems: [String] = []
        for network in config.networks where !network.sharedWithHost {
            guard case .interface(let device) = network.device else { continue }
            let addresses: [IPv4CIDR]
            if let link = live.foreignLinks[device] {
                addresses = link.addresses
            } else if let state = live.networks[network.name], state.device.exists, state.device.name == device {
                addresses = state.device.addresses
            } else {
                continue  // a missing device is a conflict of its own
            }
            // Every record naming the device knows what moat put on it: this network's, and
            // that of a network leaving the file whose device this one takes over (a run
            // killed halfway through the handover leaves both).
            var moats: Set<IPv4CIDR> = [network.address]
            for record in records.values where record.device == device {
                moats.formUnion(record.moatAddresses)
            }
            let undeclared = addresses.filter { !moats.contains($0) }
            let defaults = live.routes.filter { $0.destination == nil && $0.device == device }
            guard !defaults.isEmpty || !undeclared.isEmpty else { continue }

            var carried: [String] = []
            if !defaults.isEmpty {
                let via = defaults.compactMap(\.gateway)
                carried.append("the host's default route" + (via.isEmpty ? "" : " (via \(via.joined(separator: ", ")))"))
            }
            if !undeclared.isEmpty {
                carried.append(undeclared.map(\.description).joined(separator: ", ") + ", which the file does not declare")
            }
            problems.append(
                "network \(network.name): interface \(device) carries \(carried.joined(separator: " and ")): handing it to guests "
                    + "would give them the host's own uplink and cut the host off. If \(device) is meant to be shared with the host, "
                    + "set `shared-with-host: true` on network \(network.name).")
        }
        return problems
    }

    // MARK: - Rail B: a forward over a host service

    /// A `forwards[]` entry that the plan adds or changes.
    public struct NewForward: Hashable, Sendable {
        public var network: String
        public var forward: PortForward
        public var port: Listeners.Port { Listeners.Port(forward.proto, forward.port) }
    }

    /// The forwards whose DNAT rule is not in the network's live DNAT chain (new or changed),
    /// without those that opt in with `overrideHostPort`: the only ones the rail checks.
    /// Empty on a converged host, so `plan` reads no listener then.
    public static func newForwards(config: Config, live: HostState) -> [NewForward] {
        var found: [NewForward] = []
        for network in config.networks {
            let applied = Set(live.networks[network.name]?.chains.rules(of: ChainName.of(.dnat, network: network.name)) ?? [])
            for (forward, rule) in zip(network.forwards, FirewallChains.dnatRules(network))
            where !forward.overrideHostPort && !applied.contains(rule) {
                found.append(NewForward(network: network.name, forward: forward))
            }
        }
        return found
    }

    /// The new forwards that would take a port a host process listens on (non-loopback
    /// listeners only: `Listeners.read` leaves the others out). Sockets held only by moat's
    /// own dnsmasqs (`ownPids`, from the live state) do not count.
    public static func takenPorts(_ forwards: [NewForward], listeners: [HostListener], ownPids: Set<Int32>) -> [String] {
        var problems: [String] = []
        for new in forwards {
            let forward = new.forward
            let taken = listeners.filter { listener in
                listener.socket.proto == forward.proto && listener.socket.port == forward.port && !listener.socket.isLoopback
                    && !(!listener.holders.isEmpty && listener.holders.allSatisfy { ownPids.contains($0.pid) })
            }
            guard !taken.isEmpty else { continue }
            let who = taken.map { listener in
                let holders = listener.holders.filter { !ownPids.contains($0.pid) }
                let name = holders.isEmpty ? "a socket of the kernel or of a process moat cannot see" : holders.map(\.description).joined(separator: ", ")
                return "\(name) on \(listener.socket)"
            }
            let proto = forward.proto.rawValue
            problems.append(
                "network \(new.network): forward \(proto) \(forward.port) → \(forward.toAddress):\(forward.toPort): \(who.joined(separator: "; ")) "
                    + "already listens on \(proto) port \(forward.port): the forward would take that service from the host "
                    + "(connections to the host's port \(forward.port) would reach the guest instead; a forward of tcp 22 locks out ssh). "
                    + "If that is meant, set `override-host-port: true` on this forward.")
        }
        return problems
    }

    // MARK: - Warnings

    /// `allow` entries whose destination is exactly one of the host's live IPv4 addresses:
    /// traffic to the host goes through INPUT, never through the forward chains an `allow`
    /// opens, so the entry has no effect. Addresses the file gives a network are left to
    /// the file's own check (`moat validate` warns about those).
    public static func warnings(config: Config, live: HostState) -> [String] {
        let owners = live.localAddresses
        let declared = Set(config.networks.map(\.address.address))
        var warnings: [String] = []
        for network in config.networks {
            for rule in network.allow {
                guard case .cidr(let cidr) = rule.to, cidr.prefix == 32, !declared.contains(cidr.address),
                    let device = owners[cidr.address]
                else { continue }
                warnings.append(
                    "network \(network.name): the allow to \(cidr) has no effect: \(cidr.address) is the host's own address (on \(device)), "
                        + "and traffic to the host goes through INPUT, not through what an allow opens; use `to: host`")
            }
        }
        return warnings
    }
}
