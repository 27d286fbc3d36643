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

    /// The code of the steps that remove what leaves: `not-in-file` for apply, `destroy` for destroy.
    public var code: Plan.Step.Code = .notInFile

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
        let (takingOver, handingOver) = handovers(desired: desired, live: live)
        for name in names {
            if let wanted = desired.networks[name] {
                steps += networkSteps(
                    wanted, live: live.networks[name], host: live, context: context, paths: paths, wantedDevices: wantedDevices,
                    takingOver: takingOver[name], record: desired.records.interfaces[name])
            } else if let found = live.networks[name] {
                steps += removalSteps(
                    found, host: live, context: context, paths: paths, wantedDevices: wantedDevices, handingOverKeeping: handingOver[name])
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
        for step in steps where step.network == nil && !summary.shared.contains(step.subject.description) {
            summary.shared.append(step.subject.description)
        }
        return summary
    }

    // MARK: - ip_forward

    static func ipForwardSteps(desired: HostState, live: HostState, context: DiffContext) -> [Plan.Step] {
        if desired.ipForward && !live.ipForward {
            return [
                Plan.Step(
                    network: nil, subject: .ipForward, action: .update, reason: "is 0; nat networks need 1",
                    operations: [.ipForward(true, keeping: context.ipForwardRecord == nil ? live.ipForward : nil)], code: .missing)
            ]
        }
        if desired.networks.isEmpty, let before = context.ipForwardRecord {
            var operations: [Operation] = []
            if live.ipForward != before { operations.append(.ipForward(before, keeping: nil)) }
            operations.append(.forgetIPForwardRecord)
            return [
                Plan.Step(
                    network: nil, subject: .ipForward, action: .update,
                    reason: "no moat network is left: back to \(before ? 1 : 0), its value before moat", operations: operations,
                    code: .restore)
            ]
        }
        return []
    }

    // MARK: - A network that should be there

    /// A network renamed in the file on the same device: the device (a bridge of moat's, or
    /// an interface it configured) is handed over, never deleted and made again, so a VM's
    /// port stays on its bridge and an interface keeps its record of before moat.
    /// `takingOver`: by the new network's name, the network gone from the file whose device it
    /// takes (only a network without a device of its own takes one; after a failed apply the
    /// old name's files are still there when its rollback hands the device back).
    /// `handingOver`: the networks gone from the file on a device a network of the file has
    /// (an interface whose two records both name it, halfway through, too), with the
    /// addresses that network wants on it.
    static func handovers(desired: HostState, live: HostState) -> (takingOver: [String: NetworkState], handingOver: [String: [IPv4CIDR]]) {
        let leaving = live.networks.values.filter { desired.networks[$0.name] == nil && $0.device.exists }.sorted { $0.name < $1.name }
        func same(_ a: DeviceState, _ b: DeviceState) -> Bool { a.name == b.name && a.owned == b.owned }
        var takingOver: [String: NetworkState] = [:]
        for name in desired.networks.keys.sorted() where live.networks[name]?.device.exists != true {
            guard let wanted = desired.networks[name] else { continue }
            let from = leaving.first { found in same(found.device, wanted.device) && !takingOver.values.contains { $0.name == found.name } }
            if let from { takingOver[name] = from }
        }
        var handingOver: [String: [IPv4CIDR]] = [:]
        for found in leaving {
            if let taker = desired.networks.values.first(where: { same($0.device, found.device) }) { handingOver[found.name] = taker.device.addresses }
        }
        return (takingOver, handingOver)
    }

    /// The device an interface record names, as the host has it now (absent when it is gone).
    static func recordedDevice(_ record: InterfaceRecord, network name: String, found: NetworkState?, host: HostState) -> NetworkState {
        if let found, found.device.exists, found.device.name == record.device { return found }
        guard let link = host.foreignLinks[record.device] else {
            return NetworkState(name: name, device: .absent(record.device))
        }
        return NetworkState(
            name: name,
            device: DeviceState(name: link.name, owned: false, up: link.up, addresses: link.addresses, ipv6Disabled: link.ipv6Disabled, arp: link.arp))
    }

    /// `previous`: the network gone from the file whose device this one takes over (`handovers`).
    /// `record`: the interface record the desired state holds (a rollback's: the one before).
    static func networkSteps(
        _ wanted: NetworkState, live: NetworkState?, host: HostState, context: DiffContext, paths: Paths, wantedDevices: Set<String>,
        takingOver previous: NetworkState? = nil, record wantedRecord: InterfaceRecord? = nil
    ) -> [Plan.Step] {
        let name = wanted.name
        var steps: [Plan.Step] = []
        var live = live
        if let previous { live = NetworkState(name: name, device: previous.device, chains: live?.chains ?? [:], dnsmasq: live?.dnsmasq) }
        // Of several bridges marked for the network (a rename under way), the live one is the
        // one the file names; the others go, after verification like any renamed bridge.
        if let found = live, !found.moreBridges.isEmpty {
            let marked = [found.device] + found.moreBridges
            let kept = marked.first { $0.name == wanted.device.name && wanted.device.owned } ?? found.device
            live?.device = kept
            live?.moreBridges = []
            for old in marked where old.name != kept.name {
                steps.append(
                    Plan.Step(
                        network: name, subject: .bridge(old.name), action: .delete, reason: "the network's bridge is now \(wanted.device.name)",
                        operations: [deleteBridge(old.name, wantedDevices: wantedDevices)]))
            }
        }
        if wanted.device.owned {
            if let previous {
                steps.append(
                    Plan.Step(
                        network: name, subject: .bridge(wanted.device.name), action: .update,
                        reason: "handed over from network \(previous.name), renamed in the file (its ports stay)",
                        operations: [.link(.setAlias(wanted.device.name, Mark.of(network: name)))], code: .changed))
            } else if let record = context.interfaceRecords[name] {
                // The network was on an interface: given back as it was, its record forgotten
                // (and its folder, unless dnsmasq files keep it: a rollback to a bridge network
                // without DHCP or DNS must not leave the folder the record was written into).
                steps += interfaceRestoreSteps(recordedDevice(record, network: name, found: live, host: host), record: record, paths: paths)
            }
            steps += bridgeSteps(wanted, live: live, wantedDevices: wantedDevices)
        } else {
            if let found = live, found.device.owned, found.device.exists {
                // The network was on a bridge of moat's: it goes, after verification.
                steps.append(
                    Plan.Step(
                        network: name, subject: .bridge(found.device.name), action: .delete, reason: "the network is now on interface \(wanted.device.name)",
                        operations: [deleteBridge(found.device.name, wantedDevices: wantedDevices)]))
                live?.device = DeviceState.absent(found.device.name)
            }
            steps += interfaceSteps(
                wanted, live: live, host: host, context: context, paths: paths, inherited: previous.flatMap { context.interfaceRecords[$0.name] },
                wantedRecord: wantedRecord)
        }
        if wanted.chains != live?.chains ?? [:] {
            let reshapes = live.map { Self.reshaped(wanted, $0) } ?? true
            if let firewall = chainStep(
                network: name, desired: wanted.chains, live: live?.chains ?? [:], device: wanted.device.name, liveDevice: live?.device.name,
                explained: { _ in reshapes }, extra: live.map { Self.shapeChanges(wanted, $0) } ?? [])
            {
                steps.append(firewall)
            }
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
                Plan.Step(
                    network: name, subject: .bridge(device.name), action: .create, reason: "missing" + (what.isEmpty ? "" : ", with \(what)"),
                    operations: operations, code: .missing))
            return steps
        }
        for address in device.addresses where !current.addresses.contains(address) {
            steps.append(
                Plan.Step(
                    network: name, subject: .address(address, device: device.name), action: .create, reason: "missing",
                    operations: [.link(.addAddress(device.name, address))], code: .drifted))
        }
        for address in current.addresses where !device.addresses.contains(address) {
            steps.append(
                Plan.Step(
                    network: name, subject: .address(address, device: device.name), action: .delete, reason: "not in the file",
                    operations: [.link(.deleteAddress(device.name, address))], code: .notInFile))
        }
        if device.up != current.up {
            steps.append(
                Plan.Step(
                    network: name, subject: .bridge(device.name), action: .update, reason: current.up ? "up, should be down" : "down",
                    operations: [.link(device.up ? .setUp(device.name) : .setDown(device.name))], code: .drifted))
        }
        if device.ipv6Disabled != current.ipv6Disabled {
            steps.append(ipv6Step(network: name, device: device.name, disable: device.ipv6Disabled))
        }
        if device.arp != current.arp {
            steps.append(
                Plan.Step(
                    network: name, subject: .arp(device: device.name), action: .update,
                    reason: "\(current.arp), should be \(device.arp)", operations: [.setARP(device: device.name, device.arp)], code: .drifted))
        }
        return steps
    }

    static func ipv6Step(network: String, device: String, disable: Bool) -> Plan.Step {
        Plan.Step(
            network: network, subject: .ipv6(device: device), action: .update,
            reason: disable ? "IPv6 is on; the network declares none" : "back to its value before moat",
            operations: [.disableIPv6(device: device, disable)], code: disable ? .drifted : .restore)
    }

    /// `inherited`: the record of the network this one took the interface over from.
    /// `wantedRecord`: the record the desired state holds; a rollback puts back exactly the
    /// record of before (one worked out from the device now could take moat's own address
    /// for the device's).
    static func interfaceSteps(
        _ wanted: NetworkState, live: NetworkState?, host: HostState, context: DiffContext, paths: Paths, inherited: InterfaceRecord? = nil,
        wantedRecord: InterfaceRecord? = nil
    ) -> [Plan.Step] {
        let name = wanted.name
        let device = wanted.device
        var steps: [Plan.Step] = []
        var record = context.interfaceRecords[name] ?? inherited
        var operations: [Operation] = []
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
        let fresh = record == nil
        // The addresses moat put on the device for this network, by its own record (an inherited
        // record's are the other network's to take away, see `removalSteps`): its address, and
        // the one it replaced when a run that changed it was killed before the device changed.
        let ownRecord = context.interfaceRecords[name].flatMap { $0.device == device.name ? $0 : nil }
        let own = ownRecord.flatMap { $0.hadAddress ? nil : IPv4CIDR($0.address) }
        for old in ownRecord?.moatAddresses ?? [] where !device.addresses.contains(old) && current.addresses.contains(old) {
            operations.append(.link(.deleteAddress(device.name, old)))
        }
        if let wantedRecord, wantedRecord.device == device.name {
            record = wantedRecord
        } else if var kept = record {
            // A record from a moat that left ARP alone: keep the settings found, for destroy.
            if kept.arpWas == nil, current.arp != device.arp { kept.arpWas = current.arp }
            // The file changed the address: the record names the new one.
            if let address = device.addresses.first, kept.address != address.description {
                kept.address = address.description
                kept.hadAddress = current.addresses.contains(address) && address != own
                kept.replaced = own.flatMap { current.addresses.contains($0) ? $0.description : nil }
            }
            record = kept
        } else if let address = device.addresses.first {
            record = InterfaceRecord(
                device: device.name, address: address.description, hadAddress: current.addresses.contains(address), wasUp: current.up,
                ipv6WasDisabled: current.ipv6Disabled, arpWas: current.arp)
        }
        if let record, record != context.interfaceRecords[name] { operations.insert(.writeInterfaceRecord(network: name, record), at: 0) }
        operations += device.addresses.filter { !current.addresses.contains($0) }.map { .link(.addAddress(device.name, $0)) }
        if device.up && !current.up { operations.append(.link(.setUp(device.name))) }
        if device.ipv6Disabled != current.ipv6Disabled { operations.append(.disableIPv6(device: device.name, device.ipv6Disabled)) }
        if device.arp != current.arp { operations.append(.setARP(device: device.name, device.arp)) }
        guard !operations.isEmpty else { return steps }
        steps.append(
            Plan.Step(
                network: name, subject: .interface(device.name), action: fresh ? .configure : .update,
                reason: (fresh ? "not yet configured (its state now is kept for destroy): " : "drifted: ") + describe(operations),
                operations: operations, code: fresh ? .missing : .drifted))
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

    /// The step that writes or deletes a network's chains (or, `network` nil, the shared
    /// ones): every chain that differs is rewritten whole. Its changes say what differs in the
    /// file's terms; `explained` tells which differing rules of the kind every network has a
    /// change of the file accounts for (the rest is drift).
    static func chainStep(
        network: String?, desired: [ChainID: [FirewallRule]], live: [ChainID: [FirewallRule]], device: String? = nil,
        liveDevice: String? = nil, leaving: String = "not needed", code: Plan.Step.Code = .notInFile,
        explained: (PolicyDiff.Placed) -> Bool = { _ in false }, extra: [Change] = []
    ) -> Plan.Step? {
        var operations: [Operation] = []
        for chain in Set(desired.keys).union(live.keys).sorted() {
            switch (desired[chain], live[chain]) {
            case (let want?, let have?) where want != have: operations.append(.writeChain(chain, want))
            case (let want?, nil): operations.append(.writeChain(chain, want))
            case (nil, _?): operations.append(.deleteChain(chain))
            default: break
            }
        }
        guard !operations.isEmpty else { return nil }
        // A chain set that comes or goes whole, or moves to another backend, is the file's
        // doing, whatever its rules.
        let moved = !live.isEmpty && !desired.isEmpty && live.backends != desired.backends
        let whole = live.isEmpty || desired.isEmpty || moved
        let backends = { (chains: [ChainID: [FirewallRule]]) in chains.backends.sorted().map(\.rawValue).joined(separator: " and ") }
        let changes =
            extra + (moved ? [Change(.changed, "firewall", before: backends(live), after: backends(desired))] : [])
            + PolicyDiff.changes(
                desired: desired, live: live, device: device, liveDevice: liveDevice, explained: { whole || explained($0) })
        let subject: Plan.Subject = network == nil ? .sharedFirewallChains : .firewallChains
        if live.isEmpty {
            return Plan.Step(network: network, subject: subject, action: .create, reason: "missing", operations: operations, changes: changes, code: .missing)
        }
        if desired.isEmpty {
            return Plan.Step(network: network, subject: subject, action: .delete, reason: leaving, operations: operations, changes: changes, code: code)
        }
        let outside = changes.contains(where: \.outside)
        let inFile = changes.contains { !$0.outside } || changes.isEmpty
        let reason =
            outside && inFile
            ? "differs from the file, and changed outside moat since the last apply" : outside ? "changed outside moat since the last apply" : "differs from the file"
        return Plan.Step(
            network: network, subject: subject, action: .update, reason: reason, operations: operations, changes: changes,
            code: outside && !inFile ? .drifted : .changed)
    }

    /// Whether a network's shape changes (its device, address, mode, or DHCP or DNS turned on
    /// or off): the rules every network has then change with it, by the file.
    static func reshaped(_ wanted: NetworkState, _ live: NetworkState) -> Bool {
        let masq = ChainName.of(.masquerade, network: wanted.name)
        return live.device.name != wanted.device.name || !wanted.device.addresses.allSatisfy(live.device.addresses.contains)
            || (wanted.chains.rules(of: masq) == nil) != (live.chains.rules(of: masq) == nil) || services(wanted.dnsmasq) != services(live.dnsmasq)
    }

    /// The network's mode, DHCP or DNS turned on or off, for its firewall step: the rules
    /// that go with them change with them.
    static func shapeChanges(_ wanted: NetworkState, _ live: NetworkState) -> [Change] {
        guard !live.chains.isEmpty else { return [] }
        var changes: [Change] = []
        let masq = ChainName.of(.masquerade, network: wanted.name)
        let (wantNat, haveNat) = (wanted.chains.rules(of: masq) != nil, live.chains.rules(of: masq) != nil)
        if wantNat != haveNat { changes.append(Change(.changed, "mode", before: haveNat ? "nat" : "isolated", after: wantNat ? "nat" : "isolated")) }
        let (want, have) = (services(wanted.dnsmasq), services(live.dnsmasq))
        if want.dhcp != have.dhcp { changes.append(Change(want.dhcp ? .added : .removed, "DHCP")) }
        if want.dns != have.dns { changes.append(Change(want.dns ? .added : .removed, "DNS")) }
        return changes
    }

    /// Whether a network's dnsmasq serves DHCP and DNS, from its config.
    static func services(_ dnsmasq: DnsmasqInstance?) -> (dhcp: Bool, dns: Bool) {
        guard let config = dnsmasq?.config else { return (false, false) }
        return (config.contains("\ndhcp-range="), !config.contains("\nport=0\n"))
    }

    /// A chain's name, with its table where two of moat's shared chains have that name
    /// (`nat MOAT-POSTROUTING` and `mangle MOAT-POSTROUTING`).
    static func label(_ chain: ChainID) -> String {
        let tables = Set(ChainName.shared.filter { $0.chain.name == chain.name }.map(\.chain.table))
        return tables.count > 1 ? "\(chain.table) \(chain.name)" : chain.name
    }

    /// The shared chains' step: rules of networks that come, go or change shape, and jumps
    /// into chains that come or go, change by the file; any other difference is drift.
    static func sharedChainStep(desired: HostState, live: HostState) -> Plan.Step? {
        let reshaped = Set(Set(desired.networks.keys).union(live.networks.keys).filter { name in
            guard let wanted = desired.networks[name], let found = live.networks[name] else { return true }
            return Self.reshaped(wanted, found)
        })
        // Chains of a network that come or go (a DNAT chain with the first forward): the
        // shared rules that jump to them come and go with them.
        var comingOrGoing: Set<String> = []
        for name in Set(desired.networks.keys).union(live.networks.keys) {
            let want = Set(desired.networks[name]?.chains.keys.map(\.name) ?? [])
            let have = Set(live.networks[name]?.chains.keys.map(\.name) ?? [])
            comingOrGoing.formUnion(want.symmetricDifference(have))
        }
        let explained: (PolicyDiff.Placed) -> Bool = { placed in
            if case .jump(let target) = placed.rule.verdict, comingOrGoing.contains(target) { return true }
            if case .network(let owner) = placed.rule.owner { return reshaped.contains(owner) }
            return false
        }
        return chainStep(network: nil, desired: desired.sharedChains, live: live.sharedChains, explained: explained)
    }

    static func sharedFirewallSteps(desired: HostState, live: HostState) -> [Plan.Step] {
        var steps: [Plan.Step] = []
        if desired.sharedChains != live.sharedChains, let step = sharedChainStep(desired: desired, live: live) { steps.append(step) }
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
            steps.append(
                Plan.Step(
                    network: nil, subject: .jumps, action: action, reason: reasons.joined(separator: "; "), operations: operations,
                    code: live.jumps.isEmpty ? .missing : desired.jumps.isEmpty ? .notInFile : .drifted))
        }
        return steps
    }

    // MARK: - dnsmasq

    static func dnsmasqSteps(network: String, desired: DnsmasqInstance?, live: DnsmasqInstance?, forceRestart: Bool, paths: Paths) -> [Plan.Step] {
        func step(_ action: Plan.Step.Action, _ reason: String, _ code: Plan.Step.Code, _ operations: [Operation], _ changes: [Change] = []) -> [Plan.Step] {
            [Plan.Step(network: network, subject: .dnsmasq, action: action, reason: reason, operations: operations, changes: changes, code: code)]
        }
        switch (desired, live) {
        case (nil, nil):
            return []
        case (nil, let found?):
            return step(.delete, "the network has neither DHCP nor DNS", .notInFile, stopAndForget(network: network, found, paths: paths))
        case (let want?, nil):
            return step(
                .create, "missing", .missing, [.writeDnsmasqFiles(network: network, want), .startDnsmasq(network: network)],
                PolicyDiff.created(dnsmasq: want))
        case (let want?, let found?):
            guard found.pid == nil || found.config != want.config || forceRestart || found.dhcpHosts != want.dhcpHosts || found.hosts != want.hosts
            else { return [] }
            let changes = PolicyDiff.changes(dnsmasq: want, found)
            guard let pid = found.pid else {
                return step(
                    .start, "not running", .notRunning, [.writeDnsmasqFiles(network: network, want), .startDnsmasq(network: network)],
                    [Change(.changed, "dnsmasq is not running", outside: true)] + changes)
            }
            if found.config != want.config || forceRestart {
                return step(
                    .restart, forceRestart ? "the last run was interrupted" : "config changed", forceRestart ? .interrupted : .changed,
                    [.stopDnsmasq(network: network, pid: pid), .writeDnsmasqFiles(network: network, want), .startDnsmasq(network: network)],
                    changes)
            }
            if found.dhcpHosts != want.dhcpHosts || found.hosts != want.hosts {
                return step(
                    .reload, "static hosts changed", .changed,
                    [.writeDnsmasqFiles(network: network, want), .reloadDnsmasq(network: network, pid: pid)], changes)
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

    /// `handingOverKeeping`: a network of the file takes the device over (`handovers`), with
    /// these addresses: the device is neither deleted nor given back; only the address moat
    /// put there for this network goes, unless the new one keeps it, and the record is forgotten.
    static func removalSteps(
        _ found: NetworkState, host: HostState, context: DiffContext, paths: Paths, wantedDevices: Set<String> = [],
        handingOverKeeping kept: [IPv4CIDR]? = nil
    ) -> [Plan.Step] {
        let handingOver = kept != nil
        let name = found.name
        var steps: [Plan.Step] = []
        if let instance = found.dnsmasq {
            steps.append(
                Plan.Step(
                    network: name, subject: .dnsmasq, action: .delete, reason: context.leaving,
                    operations: stopAndForget(network: name, instance, paths: paths), code: context.code))
        }
        if let chains = chainStep(network: name, desired: [:], live: found.chains, liveDevice: found.device.name, leaving: context.leaving, code: context.code) {
            steps.append(chains)
        }
        for bridge in found.moreBridges {
            steps.append(Plan.Step(network: name, subject: .bridge(bridge.name), action: .delete, reason: context.leaving,
                    operations: [deleteBridge(bridge.name, wantedDevices: wantedDevices)], code: context.code))
        }
        if found.device.owned, found.device.exists, !handingOver {
            steps.append(Plan.Step(network: name, subject: .bridge(found.device.name), action: .delete, reason: context.leaving,
                    operations: [deleteBridge(found.device.name, wantedDevices: wantedDevices)], code: context.code))
        }
        if let record = context.interfaceRecords[name] {
            if let kept, !found.device.owned {
                var operations: [Operation] = []
                for address in record.moatAddresses where !kept.contains(address) && found.device.addresses.contains(address) {
                    operations.append(.link(.deleteAddress(record.device, address)))
                }
                operations.append(.removeFiles([paths.interfaceRecord(name), paths.networkDir(name)]))
                steps.append(
                    Plan.Step(
                        network: name, subject: .interface(record.device), action: .release, reason: "handed over to the network renamed from it",
                        operations: operations, code: context.code))
            } else {
                steps += interfaceRestoreSteps(recordedDevice(record, network: name, found: found, host: host), record: record, paths: paths)
            }
        }
        return steps
    }

    /// Puts an `interface:` device back as its record says it was; `forget`: and removes the
    /// record and the network's folder (the network leaves).
    static func interfaceRestoreSteps(_ found: NetworkState, record: InterfaceRecord, paths: Paths, forget: Bool = true) -> [Plan.Step] {
        var operations: [Operation] = []
        let device = found.device
        if device.exists, device.name == record.device {
            for address in record.moatAddresses where device.addresses.contains(address) {
                operations.append(.link(.deleteAddress(record.device, address)))
            }
            if !record.wasUp && device.up { operations.append(.link(.setDown(record.device))) }
            if record.ipv6WasDisabled != device.ipv6Disabled { operations.append(.disableIPv6(device: record.device, record.ipv6WasDisabled)) }
            if let arp = record.arpWas, arp != device.arp { operations.append(.setARP(device: record.device, arp)) }
        }
        if forget { operations.append(.removeFiles([paths.interfaceRecord(found.name), paths.networkDir(found.name)])) }
        return [
            Plan.Step(
                network: found.name, subject: .interface(record.device), action: .release, reason: "given back as it was before moat",
                operations: operations, code: .restore)
        ]
    }
}
