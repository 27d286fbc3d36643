import MoatConfig

/// Facts the diff needs beyond the two states: what moat recorded before changing things
/// it does not own, read by the snapshot into the live state (`DiffContext(live)`).
public struct DiffContext: Sendable {
    /// `ip_forward` as it was before moat first set it; nil when moat never did.
    public var ipForwardRecord: Bool?
    /// What each configured `interface:` device was like before moat, by network.
    public var interfaceRecords: [String: InterfaceRecord]
    /// Networks whose dnsmasq must restart whatever its files say (after an interrupted run,
    /// the files may be newer than the process).
    public var restartDnsmasq: Set<String>
    /// Why networks on the host but not desired leave: `not in the file` for apply,
    /// the command for destroy.
    public var leaving: String

    public init(
        ipForwardRecord: Bool? = nil, interfaceRecords: [String: InterfaceRecord] = [:], restartDnsmasq: Set<String> = [],
        leaving: String = "not in the file"
    ) {
        self.ipForwardRecord = ipForwardRecord
        self.interfaceRecords = interfaceRecords
        self.restartDnsmasq = restartDnsmasq
        self.leaving = leaving
    }

    /// What the live host's records say: the kept `ip_forward` value, the interface records,
    /// and the dnsmasq restarts an interrupted run left to do.
    public init(_ live: HostState, leaving: String = "not in the file") {
        self.init(
            ipForwardRecord: live.records.ipForwardBefore, interfaceRecords: live.records.interfaces,
            restartDnsmasq: live.records.dnsmasqRestarts, leaving: leaving)
    }
}

/// Compares the desired host with the live one and says what to do, object by object.
/// Pure: values in, a plan out.
public enum Diff {
    public static func plan(desired: HostState, live: HostState, context: DiffContext = .init(), paths: Paths) -> Plan {
        var steps: [Plan.Step] = []
        steps += ipForwardSteps(desired: desired, live: live, context: context)
        let names = Set(desired.networks.keys).union(live.networks.keys).sorted()
        let wantedDevices = Set(desired.networks.values.map(\.device.name))
        for name in names {
            if let wanted = desired.networks[name] {
                steps += networkSteps(wanted, live: live.networks[name], host: live, context: context, paths: paths, wantedDevices: wantedDevices)
            } else if let found = live.networks[name] {
                steps += removalSteps(found, context: context, paths: paths, wantedDevices: wantedDevices)
            }
        }
        steps += sharedFirewallSteps(desired: desired, live: live)
        return Plan(steps: steps, summary: summarize(steps, desired: desired, live: live))
    }

    static func summarize(_ steps: [Plan.Step], desired: HostState, live: HostState) -> Plan.Summary {
        var summary = Plan.Summary()
        for name in Set(steps.compactMap(\.network)) {
            switch (desired.networks[name] != nil, live.networks[name] != nil) {
            case (true, false): summary.add += 1
            case (false, true): summary.destroy += 1
            default: summary.change += 1
            }
        }
        if summary == Plan.Summary(), !steps.isEmpty { summary.change = 1 }
        return summary
    }

    // MARK: - ip_forward

    static func ipForwardSteps(desired: HostState, live: HostState, context: DiffContext) -> [Plan.Step] {
        if desired.ipForward && !live.ipForward {
            return [
                Plan.Step(
                    network: nil, subject: .ipForward, action: .update, reason: "is 0; nat networks need 1",
                    operations: [.ipForward(true, keeping: context.ipForwardRecord == nil ? live.ipForward : nil)])
            ]
        }
        if desired.networks.isEmpty, let before = context.ipForwardRecord {
            var operations: [Operation] = []
            if live.ipForward != before { operations.append(.ipForward(before, keeping: nil)) }
            operations.append(.forgetIPForwardRecord)
            return [
                Plan.Step(
                    network: nil, subject: .ipForward, action: .update,
                    reason: "no moat network is left: back to \(before ? 1 : 0), its value before moat", operations: operations)
            ]
        }
        return []
    }

    // MARK: - A network that should be there

    static func networkSteps(
        _ wanted: NetworkState, live: NetworkState?, host: HostState, context: DiffContext, paths: Paths, wantedDevices: Set<String>
    ) -> [Plan.Step] {
        let name = wanted.name
        var steps: [Plan.Step] = []
        if wanted.device.owned {
            steps += bridgeSteps(wanted, live: live, wantedDevices: wantedDevices)
        } else {
            steps += interfaceSteps(wanted, live: live, host: host, context: context, paths: paths)
        }
        if let firewall = chainStep(network: name, desired: wanted.chains, live: live?.chains ?? [:]) {
            steps.append(firewall)
        }
        steps += dnsmasqSteps(network: name, desired: wanted.dnsmasq, live: live?.dnsmasq, forceRestart: context.restartDnsmasq.contains(name), paths: paths)
        return steps
    }

    /// Deleting a bridge: after verification (`Operation.deleteBridge`), unless another
    /// network of the plan creates a bridge of that name, which needs it gone first.
    static func deleteBridge(_ device: String, wantedDevices: Set<String>) -> Operation {
        wantedDevices.contains(device) ? .link(.delete(device)) : .deleteBridge(device)
    }

    static func bridgeSteps(_ wanted: NetworkState, live: NetworkState?, wantedDevices: Set<String> = []) -> [Plan.Step] {
        let name = wanted.name
        let device = wanted.device
        var steps: [Plan.Step] = []
        var current = live?.device
        if let old = current, old.owned, old.exists, old.name != device.name || !device.exists {
            steps.append(
                Plan.Step(
                    network: name, subject: .bridge(old.name), action: .delete,
                    reason: device.exists ? "the network's bridge is now \(device.name)" : "was not there before",
                    operations: [deleteBridge(old.name, wantedDevices: wantedDevices)]))
            current = nil
        }
        guard device.exists else { return steps }
        guard let current, current.owned, current.exists, current.name == device.name else {
            var operations: [Operation] = [.link(.addBridge(device.name)), .link(.setAlias(device.name, Mark.of(network: name)))]
            operations += device.addresses.map { .link(.addAddress(device.name, $0)) }
            if device.up { operations.append(.link(.setUp(device.name))) }
            if device.ipv6Disabled { operations.append(.disableIPv6(device: device.name, true)) }
            operations.append(.setARP(device: device.name, device.arp))
            let what = device.addresses.map(\.description).joined(separator: ", ")
            steps.append(
                Plan.Step(network: name, subject: .bridge(device.name), action: .create, reason: "missing" + (what.isEmpty ? "" : ", with \(what)"), operations: operations))
            return steps
        }
        for address in device.addresses where !current.addresses.contains(address) {
            steps.append(
                Plan.Step(network: name, subject: .address(address, device: device.name), action: .create, reason: "missing", operations: [.link(.addAddress(device.name, address))]))
        }
        for address in current.addresses where !device.addresses.contains(address) {
            steps.append(
                Plan.Step(network: name, subject: .address(address, device: device.name), action: .delete, reason: "not in the file", operations: [.link(.deleteAddress(device.name, address))]))
        }
        if device.up != current.up {
            steps.append(
                Plan.Step(
                    network: name, subject: .bridge(device.name), action: .update, reason: current.up ? "up, should be down" : "down",
                    operations: [.link(device.up ? .setUp(device.name) : .setDown(device.name))]))
        }
        if device.ipv6Disabled != current.ipv6Disabled {
            steps.append(ipv6Step(network: name, device: device.name, disable: device.ipv6Disabled))
        }
        if device.arp != current.arp {
            steps.append(
                Plan.Step(
                    network: name, subject: .arp(device: device.name), action: .update,
                    reason: "\(current.arp), should be \(device.arp)", operations: [.setARP(device: device.name, device.arp)]))
        }
        return steps
    }

    static func ipv6Step(network: String, device: String, disable: Bool) -> Plan.Step {
        Plan.Step(
            network: network, subject: .ipv6(device: device), action: .update,
            reason: disable ? "IPv6 is on; the network declares none" : "back to its value before moat",
            operations: [.disableIPv6(device: device, disable)])
    }

    static func interfaceSteps(_ wanted: NetworkState, live: NetworkState?, host: HostState, context: DiffContext, paths: Paths) -> [Plan.Step] {
        let name = wanted.name
        let device = wanted.device
        var steps: [Plan.Step] = []
        var record = context.interfaceRecords[name]
        // The file moved the network to another interface: give the old one back first. Its
        // record file is not removed: the new device's record takes its place (removing it,
        // after verification, would lose how the new device was before moat).
        if let old = record, old.device != device.name, let found = live {
            steps += interfaceRestoreSteps(found, record: old, paths: paths, forget: false)
            record = nil
        }
        let current: DeviceState? =
            if let found = live?.device, found.exists, found.name == device.name { found } else {
                host.foreignLinks[device.name].map {
                    DeviceState(name: $0.name, owned: false, up: $0.up, addresses: $0.addresses, ipv6Disabled: $0.ipv6Disabled, arp: $0.arp)
                }
            }
        guard let current else { return steps }  // a conflict: reported by `Conflicts`
        var operations: [Operation] = []
        if record == nil, let address = device.addresses.first {
            let kept = InterfaceRecord(
                device: device.name, address: address.description, hadAddress: current.addresses.contains(address), wasUp: current.up,
                ipv6WasDisabled: current.ipv6Disabled, arpWas: current.arp)
            operations.append(.writeInterfaceRecord(network: name, kept))
        } else if var kept = record, kept.arpWas == nil, current.arp != device.arp {
            // A record from a moat that left ARP alone: keep the settings found, for destroy.
            kept.arpWas = current.arp
            operations.append(.writeInterfaceRecord(network: name, kept))
        }
        operations += device.addresses.filter { !current.addresses.contains($0) }.map { .link(.addAddress(device.name, $0)) }
        if device.up && !current.up { operations.append(.link(.setUp(device.name))) }
        if device.ipv6Disabled != current.ipv6Disabled { operations.append(.disableIPv6(device: device.name, device.ipv6Disabled)) }
        if device.arp != current.arp { operations.append(.setARP(device: device.name, device.arp)) }
        guard !operations.isEmpty else { return steps }
        let fresh = record == nil
        steps.append(
            Plan.Step(
                network: name, subject: .interface(device.name), action: fresh ? .create : .update,
                reason: (fresh ? "not yet configured (its state now is kept for destroy): " : "drifted: ") + describe(operations),
                operations: operations))
        return steps
    }

    static func describe(_ operations: [Operation]) -> String {
        operations.compactMap { operation -> String? in
            switch operation {
            case .link(.addAddress(_, let a)): "address \(a) missing"
            case .link(.setUp): "down"
            case .disableIPv6(_, true): "IPv6 on"
            case .setARP: "ARP answered for every host address"
            default: nil
            }
        }.joined(separator: ", ")
    }

    // MARK: - Firewall

    static func chainStep(network: String?, desired: [ChainID: [FirewallRule]], live: [ChainID: [FirewallRule]]) -> Plan.Step? {
        var operations: [Operation] = []
        var reasons: [String] = []
        for chain in Set(desired.keys).union(live.keys).sorted() {
            switch (desired[chain], live[chain]) {
            case (let want?, let have?) where want != have:
                operations.append(.writeChain(chain, want))
                reasons.append("\(label(chain)): " + driftReason(want: want, have: have))
            case (let want?, nil):
                operations.append(.writeChain(chain, want))
                reasons.append("\(label(chain)): missing")
            case (nil, _?):
                operations.append(.deleteChain(chain))
                reasons.append("\(label(chain)): not needed")
            default:
                break
            }
        }
        guard !operations.isEmpty else { return nil }
        let creating = live.isEmpty
        let removing = desired.isEmpty
        return Plan.Step(
            network: network, subject: network == nil ? .sharedFirewallChains : .firewallChains,
            action: creating ? .create : removing ? .delete : .update, reason: reasons.joined(separator: "; "), operations: operations)
    }

    /// A chain's name, with its table where two of moat's shared chains have that name
    /// (`nat MOAT-POSTROUTING` and `mangle MOAT-POSTROUTING`).
    static func label(_ chain: ChainID) -> String {
        let tables = Set(ChainName.shared.filter { $0.chain.name == chain.name }.map(\.chain.table))
        return tables.count > 1 ? "\(chain.table) \(chain.name)" : chain.name
    }

    /// The first difference, in words a person can check against `iptables-save` (the
    /// rule as the backend prints it).
    static func driftReason(want: [FirewallRule], have: [FirewallRule]) -> String {
        if let lost = want.first(where: { !have.contains($0) }) { return "rule missing: \(IptablesBackend.text(of: lost))" }
        if let extra = have.first(where: { !want.contains($0) }) { return "unexpected rule: \(IptablesBackend.text(of: extra))" }
        return "rules out of order"
    }

    static func sharedFirewallSteps(desired: HostState, live: HostState) -> [Plan.Step] {
        var steps: [Plan.Step] = []
        if let step = chainStep(network: nil, desired: desired.sharedChains, live: live.sharedChains) { steps.append(step) }
        var operations: [Operation] = []
        var reasons: [String] = []
        for builtin in Set(desired.jumps.keys).union(live.jumps.keys).sorted() {
            let want = desired.jumps[builtin] ?? []
            let have = live.jumps[builtin] ?? []
            guard want != have else { continue }
            operations.append(.replaceJumps(builtin, old: have, new: want))
            reasons.append(
                "\(builtin.table) \(builtin.name): " + (have.isEmpty ? "jump missing" : want.isEmpty ? "jump not needed" : have.count > want.count ? "jump duplicated" : "jump drifted"))
        }
        if !operations.isEmpty {
            let action: Plan.Step.Action = live.jumps.isEmpty ? .create : desired.jumps.isEmpty ? .delete : .update
            steps.append(Plan.Step(network: nil, subject: .jumps, action: action, reason: reasons.joined(separator: "; "), operations: operations))
        }
        return steps
    }

    // MARK: - dnsmasq

    static func dnsmasqSteps(network: String, desired: DnsmasqInstance?, live: DnsmasqInstance?, forceRestart: Bool, paths: Paths) -> [Plan.Step] {
        func step(_ action: Plan.Step.Action, _ reason: String, _ operations: [Operation]) -> [Plan.Step] {
            [Plan.Step(network: network, subject: .dnsmasq, action: action, reason: reason, operations: operations)]
        }
        switch (desired, live) {
        case (nil, nil):
            return []
        case (nil, let found?):
            return step(.delete, "the network has neither DHCP nor DNS", stopAndForget(network: network, found, paths: paths))
        case (let want?, nil):
            return step(.create, "missing", [.writeDnsmasqFiles(network: network, want), .startDnsmasq(network: network)])
        case (let want?, let found?):
            guard let pid = found.pid else {
                return step(.start, "not running", [.writeDnsmasqFiles(network: network, want), .startDnsmasq(network: network)])
            }
            if found.config != want.config || forceRestart {
                return step(
                    .restart, forceRestart ? "the last run was interrupted" : "config changed",
                    [.stopDnsmasq(network: network, pid: pid), .writeDnsmasqFiles(network: network, want), .startDnsmasq(network: network)])
            }
            if found.dhcpHosts != want.dhcpHosts || found.hosts != want.hosts {
                return step(.reload, "static hosts changed", [.writeDnsmasqFiles(network: network, want), .reloadDnsmasq(network: network, pid: pid)])
            }
            return []
        }
    }

    static func stopAndForget(network: String, _ found: DnsmasqInstance, paths: Paths) -> [Operation] {
        var operations: [Operation] = []
        if let pid = found.pid { operations.append(.stopDnsmasq(network: network, pid: pid)) }
        operations.append(
            .removeFiles([
                paths.dnsmasqConfig(network), paths.dhcpHostsFile(network), paths.hostsFile(network), paths.leaseFile(network),
                paths.dnsmasqPidFile(network), paths.networkDir(network),
            ]))
        return operations
    }

    // MARK: - A network that leaves

    static func removalSteps(_ found: NetworkState, context: DiffContext, paths: Paths, wantedDevices: Set<String> = []) -> [Plan.Step] {
        let name = found.name
        var steps: [Plan.Step] = []
        if let instance = found.dnsmasq {
            steps.append(Plan.Step(network: name, subject: .dnsmasq, action: .delete, reason: context.leaving, operations: stopAndForget(network: name, instance, paths: paths)))
        }
        if let chains = chainStep(network: name, desired: [:], live: found.chains) {
            steps.append(chains)
        }
        if found.device.owned, found.device.exists {
            steps.append(Plan.Step(network: name, subject: .bridge(found.device.name), action: .delete, reason: context.leaving,
                    operations: [deleteBridge(found.device.name, wantedDevices: wantedDevices)]))
        } else if let record = context.interfaceRecords[name] {
            steps += interfaceRestoreSteps(found, record: record, paths: paths)
        }
        return steps
    }

    /// Puts an `interface:` device back as its record says it was; `forget`: and removes the
    /// record and the network's folder (the network leaves).
    static func interfaceRestoreSteps(_ found: NetworkState, record: InterfaceRecord, paths: Paths, forget: Bool = true) -> [Plan.Step] {
        var operations: [Operation] = []
        let device = found.device
        if device.exists, device.name == record.device {
            if !record.hadAddress, let address = IPv4CIDR(record.address), device.addresses.contains(address) {
                operations.append(.link(.deleteAddress(record.device, address)))
            }
            if !record.wasUp && device.up { operations.append(.link(.setDown(record.device))) }
            if record.ipv6WasDisabled != device.ipv6Disabled { operations.append(.disableIPv6(device: record.device, record.ipv6WasDisabled)) }
            if let arp = record.arpWas, arp != device.arp { operations.append(.setARP(device: record.device, arp)) }
        }
        if forget { operations.append(.removeFiles([paths.interfaceRecord(found.name), paths.networkDir(found.name)])) }
        return [
            Plan.Step(
                network: found.name, subject: .interface(record.device), action: .delete, reason: "given back as it was before moat", operations: operations)
        ]
    }
}
