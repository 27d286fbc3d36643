import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


/// The two-network lab of examples/vm-lab.yaml, built in code.
func labConfig(range: AddressRange? = nil, hosts: [StaticHost]? = nil, withDMZ: Bool = true) -> Config {
    let labAddress = IPv4CIDR(address: IPv4Address(0xC0A8_6401), prefix: 24)  // 192.168.100.1/24
    let lab = Network(
        name: "lab", device: .bridge("virbr10"), address: labAddress,
        dhcp: DHCP(
            range: range ?? AddressRange(first: IPv4Address(0xC0A8_6402), last: IPv4Address(0xC0A8_64FE)),
            hosts: hosts ?? [StaticHost(mac: "52:54:00:12:34:56", ip: IPv4Address(0xC0A8_640A), name: "builder")]),
        allow: [AllowRule(to: .host, proto: .tcp, ports: [PortRange(22)])],
        forwards: [PortForward(proto: .tcp, port: 2222, toAddress: IPv4Address(0xC0A8_640A), toPort: 22)])
    let dmz = Network(
        name: "dmz", device: .bridge("virbr11"), address: IPv4CIDR(address: IPv4Address(0xC0A8_6501), prefix: 24),
        dhcp: DHCP(range: AddressRange(first: IPv4Address(0xC0A8_6502), last: IPv4Address(0xC0A8_65FE))))
    return Config(networks: withDMZ ? [lab, dmz] : [lab])
}

let paths = Paths(stateDir: "/var/lib/moat", runDir: "/run/moat")

/// The host as it is once `state` was applied: every dnsmasq running.
func deployed(_ state: HostState) -> HostState {
    var live = state
    for name in live.networks.keys {
        live.networks[name]?.dnsmasq?.pid = 4000 + Int32(name.count)
    }
    return live
}

@Suite("Diff: what is missing or stale, and nothing else")
struct DiffTests {
    let desired = DesiredState.render(labConfig(), paths: paths)

    @Test("a converged host gives an empty plan")
    func converged() {
        let plan = Diff.plan(desired: desired, live: deployed(desired), paths: paths)
        #expect(plan.isEmpty)
        #expect(plan.humanText(color: false) == "No changes. The host matches the file.\n")
    }

    @Test("an empty host gets every network, ip_forward, the shared chains and the jumps")
    func emptyHost() {
        let plan = Diff.plan(desired: desired, live: HostState(), paths: paths)
        #expect(
            plan.summary
                == Plan.Summary(add: 2, change: 0, destroy: 0, shared: ["sysctl net.ipv4.ip_forward", "shared firewall chains", "jumps from built-in chains"]))
        let objects = plan.steps.map { "\($0.network ?? "*") \($0.subject) \($0.action.rawValue)" }
        #expect(
            objects == [
                "* sysctl net.ipv4.ip_forward update",
                "dmz bridge virbr11 create", "dmz firewall chains create", "dmz dnsmasq create",
                "lab bridge virbr10 create", "lab firewall chains create", "lab dnsmasq create",
                "* shared firewall chains create", "* jumps from built-in chains create",
            ])
    }

    @Test("a lost rule rewrites that network's chain only")
    func lostRule() throws {
        var live = deployed(desired)
        let chain = ChainName.of(.from, network: "lab")
        let lost = try #require(live.networks["lab"]?.chains[chain]?.first)
        live.networks["lab"]?.chains[chain]?.removeFirst()
        let plan = Diff.plan(desired: desired, live: live, paths: paths)
        let step = try #require(plan.steps.first)
        #expect(plan.steps.count == 1)
        #expect(step.network == "lab" && step.subject == .firewallChains && step.action == .update)
        // A rule every network has, gone: drift, named with its chain.
        #expect(step.code == .drifted)
        #expect(step.changes == [Change(.removed, "rule missing: MOAT-FROM-lab: \(lost)", outside: true)])
        #expect(step.operations == [.writeChain(chain, desired.networks["lab"]?.chains[chain] ?? [])])
    }

    @Test("a changed hosts list rewrites the hosts files and reloads, without a restart")
    func hostsChanged() throws {
        let live = deployed(desired)
        let changed = DesiredState.render(labConfig(hosts: [StaticHost(mac: "52:54:00:00:00:01", ip: IPv4Address(0xC0A8_640B), name: "runner")]), paths: paths)
        let plan = Diff.plan(desired: changed, live: live, paths: paths)
        let step = try #require(plan.steps.first)
        #expect(plan.steps.count == 1)
        #expect(step.action == .reload && step.network == "lab")
        #expect(step.operations.contains(.reloadDnsmasq(network: "lab", pid: live.networks["lab"]?.dnsmasq?.pid ?? 0)))
    }

    @Test("a changed range restarts that network's dnsmasq only")
    func rangeChanged() throws {
        let changed = DesiredState.render(
            labConfig(range: AddressRange(first: IPv4Address(0xC0A8_6464), last: IPv4Address(0xC0A8_64C8))), paths: paths)
        let plan = Diff.plan(desired: changed, live: deployed(desired), paths: paths)
        let steps = plan.steps.filter { "\($0.subject)" == "dnsmasq" }
        #expect(steps.count == 1)
        #expect(steps.first?.action == .restart && steps.first?.network == "lab")
        #expect(!plan.steps.contains { $0.network == "dmz" })
    }

    @Test("a dead dnsmasq is started")
    func deadDnsmasq() {
        var live = deployed(desired)
        live.networks["dmz"]?.dnsmasq?.pid = nil
        let plan = Diff.plan(desired: desired, live: live, paths: paths)
        #expect(plan.steps.map(\.action) == [.start])
        #expect(plan.steps.first?.network == "dmz")
    }

    @Test("a network gone from the file is pruned; the other is untouched")
    func prune() {
        let smaller = DesiredState.render(labConfig(withDMZ: false), paths: paths)
        let plan = Diff.plan(desired: smaller, live: deployed(desired), paths: paths)
        #expect(plan.summary == Plan.Summary(add: 0, change: 0, destroy: 1, shared: ["shared firewall chains"]))
        #expect(!plan.steps.contains { $0.network == "lab" })
        // dmz's rules leave the shared chains with it: the file's doing, not drift.
        let shared = plan.steps.first { $0.subject == .sharedFirewallChains }
        #expect(shared?.code == .changed && shared?.changes.contains(where: \.outside) == false)
        #expect(shared?.operations.contains { if case .writeChain(ChainName.block, _) = $0 { true } else { false } } == true)
        #expect(plan.steps.contains { $0.network == "dmz" && "\($0.subject)" == "bridge virbr11" && $0.action == .delete })
        #expect(plan.steps.contains { $0.network == "dmz" && $0.operations.contains(.stopDnsmasq(network: "dmz", pid: 4003)) })
    }

    @Test("a rename under way, the old and the new bridge both marked: the file's is kept, the other deleted after verification, whichever sorts first")
    func renameUnderWay() {
        for (old, new) in [("virbr10", "virbr10x"), ("virbr9", "virbr10")] {
            var renamed = labConfig(withDMZ: false)
            renamed.networks[0].device = .bridge(new)
            let wanted = DesiredState.render(renamed, paths: paths)
            var live = deployed(wanted)
            var oldBridge = wanted.networks["lab"]!.device
            oldBridge.name = old
            live.networks["lab"]?.moreBridges = [oldBridge]
            let plan = Diff.plan(desired: wanted, live: live, paths: paths)
            #expect(plan.steps.map { "\($0.subject) \($0.action.rawValue)" } == ["bridge \(old) delete"], "\(old) → \(new)")
            #expect(plan.steps.first?.operations == [.deleteBridge(old)])
            #expect(plan.steps.allSatisfy { $0.operations.allSatisfy(\.phase.runsAfterVerify) })
            let removal = Diff.plan(desired: HostState(), live: live, paths: paths)
            #expect(Set(removal.steps.flatMap(\.operations).compactMap { if case .deleteBridge(let name) = $0 { name } else { nil } }) == [old, new])
        }
    }

    @Test("a duplicated jump is replaced by one")
    func duplicatedJump() throws {
        var live = deployed(desired)
        let input = ChainID(.filter, "INPUT")
        let jump = try #require(live.jumps[input]?.first)
        live.jumps[input] = [jump, jump]
        let plan = Diff.plan(desired: desired, live: live, paths: paths)
        #expect(plan.steps.count == 1)
        #expect(plan.steps.first?.operations == [.replaceJumps(input, old: [jump, jump], new: [jump])])
    }

    @Test("ip_forward goes back to its value before moat when the last network goes")
    func ipForwardRestored() {
        let plan = Diff.plan(desired: HostState(ipForward: true), live: deployed(desired), context: DiffContext(ipForwardRecord: false), paths: paths)
        #expect(plan.steps.first?.operations == [.ipForward(false, keeping: nil), .forgetIPForwardRecord])
    }

    @Test("setting ip_forward records the value before moat, once")
    func ipForwardRecorded() {
        let first = Diff.plan(desired: desired, live: HostState(), paths: paths)
        #expect(first.steps.first?.operations == [.ipForward(true, keeping: false)])
        let again = Diff.plan(desired: desired, live: HostState(), context: DiffContext(ipForwardRecord: false), paths: paths)
        #expect(again.steps.first?.operations == [.ipForward(true, keeping: nil)])
    }

    @Test("an interface is recorded as it was before moat configures it, and given back by the record")
    func interfaceClaimAndRestore() throws {
        let board = Network(name: "board", device: .interface("enp6s0"), address: IPv4CIDR(address: IPv4Address(0x0A14_0001), prefix: 24), dhcp: DHCP(range: nil))
        let wanted = DesiredState.render(Config(networks: [board]), paths: paths)
        var live = HostState()
        live.foreignLinks["enp6s0"] = Link(name: "enp6s0", kind: "veth", up: false, addresses: [], ipv6Disabled: false)
        let plan = Diff.plan(desired: wanted, live: live, paths: paths)
        let claim = try #require(plan.steps.first { "\($0.subject)" == "interface enp6s0" })
        let record = InterfaceRecord(
            device: "enp6s0", address: "10.20.0.1/24", hadAddress: false, wasUp: false, ipv6WasDisabled: false, arpWas: .kernelDefault)
        #expect(claim.operations.first == .writeInterfaceRecord(network: "board", record))
        #expect(claim.operations.contains(.link(.setUp("enp6s0"))))
        #expect(claim.operations.contains(.setARP(device: "enp6s0", .strict)))

        // Later, the network leaves: the device goes back down, loses the address, gets IPv6
        // and its ARP settings back.
        var after = HostState()
        after.networks["board"] = NetworkState(
            name: "board", device: DeviceState(
                name: "enp6s0", owned: false, up: true, addresses: [IPv4CIDR(address: IPv4Address(0x0A14_0001), prefix: 24)], arp: .strict))
        let removal = Diff.plan(desired: HostState(), live: after, context: DiffContext(interfaceRecords: ["board": record]), paths: paths)
        let give = try #require(removal.steps.first)
        #expect(
            give.operations == [
                .link(.deleteAddress("enp6s0", IPv4CIDR(address: IPv4Address(0x0A14_0001), prefix: 24))), .link(.setDown("enp6s0")),
                .disableIPv6(device: "enp6s0", false), .setARP(device: "enp6s0", .kernelDefault), .removeFiles([paths.interfaceRecord("board"), paths.networkDir("board")]),
            ])
    }

    @Test("a network renamed on the same bridge takes the bridge over (re-marked, its ports stay); the old name's chains and dnsmasq go")
    func renamedOnItsBridge() throws {
        var renamed = labConfig(withDMZ: false)
        renamed.networks[0].name = "lab2"
        let wanted = DesiredState.render(renamed, paths: paths)
        let live = deployed(DesiredState.render(labConfig(withDMZ: false), paths: paths))
        let plan = Diff.plan(desired: wanted, live: live, paths: paths)
        let operations = plan.steps.flatMap(\.operations)
        #expect(operations.contains(.link(.setAlias("virbr10", "moat:lab2"))))
        #expect(!operations.contains { if case .deleteBridge = $0 { true } else if case .link(.delete) = $0 { true } else { false } })
        #expect(!operations.contains(.link(.addBridge("virbr10"))))
        #expect(operations.contains(.stopDnsmasq(network: "lab", pid: 4003)) && operations.contains(.startDnsmasq(network: "lab2")))
        // Back the other way (a rollback): the same handover.
        let back = Diff.plan(desired: live, live: deployed(wanted), paths: paths)
        #expect(back.steps.flatMap(\.operations).contains(.link(.setAlias("virbr10", "moat:lab"))))
    }

    @Test("a network renamed on the same interface keeps the record of before moat and touches the device not at all")
    func renamedOnItsInterface() throws {
        let address = IPv4CIDR(address: IPv4Address(0x0A14_0001), prefix: 24)
        let board = Network(name: "board2", device: .interface("enp6s0"), address: address, dhcp: DHCP(range: nil))
        let wanted = DesiredState.render(Config(networks: [board]), paths: paths)
        var live = HostState()
        live.networks["board"] = NetworkState(
            name: "board", device: DeviceState(name: "enp6s0", owned: false, up: true, addresses: [address], ipv6Disabled: true, arp: .strict))
        let record = InterfaceRecord(device: "enp6s0", address: "10.20.0.1/24", hadAddress: false, wasUp: false, ipv6WasDisabled: false, arpWas: .kernelDefault)
        let plan = Diff.plan(desired: wanted, live: live, context: DiffContext(interfaceRecords: ["board": record]), paths: paths)
        let operations = plan.steps.flatMap(\.operations)
        #expect(operations.contains(.writeInterfaceRecord(network: "board2", record)))
        #expect(operations.contains(.removeFiles([paths.interfaceRecord("board"), paths.networkDir("board")])))
        #expect(!operations.contains { if case .link = $0 { true } else if case .setARP = $0 { true } else if case .disableIPv6 = $0 { true } else { false } }, "\(operations)")
        #expect(Conflicts.find(config: Config(networks: [board]), live: live).isEmpty)
    }

    @Test("a run killed between the record of a changed interface address and the address change leaves a host the next apply converges")
    func killedAddressChange() {
        // Found by the soak (MOAT_SEED=1796311255, step 24): the record already named the new
        // address, the device still carried moat's old one, so the rail took the old one for
        // the host's own and refused, and destroy would have left it. The record now keeps
        // the address it replaces (`InterfaceRecord.replaced`).
        let old = IPv4CIDR(address: IPv4Address(0x0A4A_0101), prefix: 24)  // 10.74.1.1/24
        let new = IPv4CIDR(address: IPv4Address(0x0A4A_0001), prefix: 24)  // 10.74.0.1/24
        let config = Config(networks: [Network(name: "board", device: .interface("mi0"), address: new, dhcp: nil)])
        var live = HostState()
        live.networks["board"] = NetworkState(
            name: "board", device: DeviceState(name: "mi0", owned: false, up: true, addresses: [old], ipv6Disabled: true, arp: .strict))
        let before = InterfaceRecord(device: "mi0", address: old.description, hadAddress: false, wasUp: false, ipv6WasDisabled: false, arpWas: .kernelDefault)
        live.records.interfaces["board"] = before
        // The apply writes the record with the address it replaces before the device changes.
        let changing = Planning.plan(Planning.check(config, on: live), live: live, paths: paths).plan.steps.flatMap(\.operations)
        var written = before
        written.address = new.description
        written.replaced = old.description
        #expect(changing.first { if case .writeInterfaceRecord = $0 { true } else { false } } == .writeInterfaceRecord(network: "board", written))
        #expect(changing.contains(.link(.deleteAddress("mi0", old))) && changing.contains(.link(.addAddress("mi0", new))))

        // Killed there: the next plan is refused by nothing, and takes the old address away.
        live.records.interfaces["board"] = written
        let placement = Planning.check(config, on: live)
        #expect(placement.problems.isEmpty)
        let next = Planning.plan(placement, live: live, paths: paths).plan.steps.flatMap(\.operations)
        #expect(next.contains(.link(.deleteAddress("mi0", old))) && next.contains(.link(.addAddress("mi0", new))))
        // And destroy gives the device back without either address.
        let destroy = Planning.destroy(nil, live: live, paths: paths).plan.steps.flatMap(\.operations)
        #expect(destroy.contains(.link(.deleteAddress("mi0", old))))

        // Once the device changed, the record's replaced address is nothing to do.
        live.networks["board"]?.device.addresses = [new]
        live.networks["board"]?.device.ipv6Disabled = true
        let settled = Planning.plan(Planning.check(config, on: live), live: live, paths: paths).plan.steps
        #expect(!settled.contains { $0.subject == .interface("mi0") }, "\(settled)")
    }

    @Test("a network moved from an interface to a bridge gives the interface back; from a bridge to an interface, the bridge goes after verification")
    func interfaceAndBridge() throws {
        let address = IPv4CIDR(address: IPv4Address(0x0A14_0001), prefix: 24)
        let onInterface = DesiredState.render(Config(networks: [Network(name: "board", device: .interface("enp6s0"), address: address, dhcp: DHCP(range: nil))]), paths: paths)
        let onBridge = DesiredState.render(Config(networks: [Network(name: "board", device: .bridge("br-board"), address: address, dhcp: DHCP(range: nil))]), paths: paths)
        let record = InterfaceRecord(device: "enp6s0", address: "10.20.0.1/24", hadAddress: false, wasUp: false, ipv6WasDisabled: false, arpWas: .kernelDefault)

        var configured = HostState()
        configured.networks["board"] = NetworkState(
            name: "board", device: DeviceState(name: "enp6s0", owned: false, up: true, addresses: [address], ipv6Disabled: true, arp: .strict))
        let toBridge = Diff.plan(desired: onBridge, live: configured, context: DiffContext(interfaceRecords: ["board": record]), paths: paths)
        let forward = toBridge.steps.flatMap(\.operations)
        #expect(forward.contains(.link(.deleteAddress("enp6s0", address))) && forward.contains(.link(.setDown("enp6s0"))))
        // The folder goes too when empty: a bridge network without DHCP or DNS has none.
        #expect(forward.contains(.removeFiles([paths.interfaceRecord("board"), paths.networkDir("board")])))
        #expect(forward.contains(.link(.addBridge("br-board"))))

        var bridged = HostState()
        bridged.networks["board"] = NetworkState(name: "board", device: onBridge.networks["board"]!.device)
        bridged.foreignLinks["enp6s0"] = Link(name: "enp6s0", kind: "veth", up: false, addresses: [], ipv6Disabled: false)
        let toInterface = Diff.plan(desired: onInterface, live: bridged, paths: paths)
        let backward = toInterface.steps.flatMap(\.operations)
        #expect(backward.contains(.deleteBridge("br-board")))
        #expect(backward.contains { if case .writeInterfaceRecord(network: "board", _) = $0 { true } else { false } })
        #expect(backward.contains(.link(.addAddress("enp6s0", address))))
    }

    @Test("a network moved to another interface gives the old one back and keeps the new one's record")
    func interfaceMoved() throws {
        let address = IPv4CIDR(address: IPv4Address(0x0A14_0001), prefix: 24)
        let board = Network(name: "board", device: .interface("enp7s0"), address: address, dhcp: DHCP(range: nil))
        let wanted = DesiredState.render(Config(networks: [board]), paths: paths)
        var live = HostState()
        live.networks["board"] = NetworkState(
            name: "board", device: DeviceState(name: "enp6s0", owned: false, up: true, addresses: [address], arp: .strict))
        live.foreignLinks["enp7s0"] = Link(name: "enp7s0", kind: "veth", up: false, addresses: [], ipv6Disabled: false)
        let old = InterfaceRecord(device: "enp6s0", address: "10.20.0.1/24", hadAddress: false, wasUp: true, ipv6WasDisabled: true, arpWas: .kernelDefault)
        let plan = Diff.plan(desired: wanted, live: live, context: DiffContext(interfaceRecords: ["board": old]), paths: paths)
        let operations = plan.steps.flatMap(\.operations)
        #expect(operations.contains(.link(.deleteAddress("enp6s0", address))))
        let kept = InterfaceRecord(device: "enp7s0", address: "10.20.0.1/24", hadAddress: false, wasUp: false, ipv6WasDisabled: false, arpWas: .kernelDefault)
        #expect(operations.contains(.writeInterfaceRecord(network: "board", kept)))
        // Removed after verification, it would take the new record with it.
        let removed = operations.flatMap { operation -> [String] in if case .removeFiles(let files) = operation { files } else { [] } }
        #expect(!removed.contains(paths.interfaceRecord("board")), "\(removed)")
    }

    @Test("destroying one network keeps the other's rules in the shared chains")
    func withoutNetwork() throws {
        let live = deployed(desired)
        let left = live.without(networks: ["dmz"])
        #expect(left.networks.keys.sorted() == ["lab"])
        let forward = try #require(left.sharedChains[ChainName.forward])
        #expect(!forward.isEmpty && forward.allSatisfy { $0.owner == .network("lab") })
        let none = live.without(networks: ["dmz", "lab"])
        #expect(none.sharedChains.isEmpty && none.jumps.isEmpty)
    }
}

@Suite("Conflicts: what stands in the way is named before anything is touched")
struct ConflictTests {
    @Test("a foreign device with the bridge's name")
    func foreignBridge() {
        var live = HostState()
        live.foreignLinks["virbr10"] = Link(name: "virbr10", kind: "bridge")
        let problems = Conflicts.find(config: labConfig(), live: live)
        #expect(problems.count == 1)
        #expect(problems.first?.contains("bridge virbr10 exists and is not moat's") == true)
    }

    @Test("an interface that does not exist")
    func missingInterface() {
        let board = Network(name: "board", device: .interface("enp6s0"), address: IPv4CIDR(address: IPv4Address(0x0A14_0001), prefix: 24), dhcp: nil)
        let problems = Conflicts.find(config: Config(networks: [board]), live: HostState())
        #expect(problems == ["network board: interface enp6s0 does not exist (moat configures an existing interface, it never creates one)"])
    }

    @Test("a subnet already on another device, or routed elsewhere")
    func subnetInUse() {
        var live = HostState()
        live.foreignLinks["eth1"] = Link(name: "eth1", addresses: [IPv4CIDR(address: IPv4Address(0xC0A8_6405), prefix: 24)])
        live.routes = [Route(destination: IPv4CIDR(address: IPv4Address(0xC0A8_6500), prefix: 25), device: "wg0")]
        let problems = Conflicts.find(config: labConfig(), live: live)
        #expect(problems.contains("network lab: subnet 192.168.100.0/24 overlaps 192.168.100.5/24 on eth1"))
        #expect(problems.contains("network dmz: subnet 192.168.101.0/24 is already routed: 192.168.101.0/25 via wg0"))
        #expect(problems.count == 2)
    }

    @Test("moat's own bridges and a wider LAN route are no conflict")
    func noConflict() {
        var live = deployed(DesiredState.render(labConfig(), paths: paths))
        live.routes = [Route(destination: nil, device: "eth0"), Route(destination: IPv4CIDR(address: IPv4Address(0xC0A8_0000), prefix: 16), device: "eth0")]
        #expect(Conflicts.find(config: labConfig(), live: live).isEmpty)
    }
}
