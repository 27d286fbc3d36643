import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


/// The pure half of the snapshot: facts in, ownership decided, `HostState` out.
@Suite("Assembling a snapshot from facts")
struct SnapshotAssemblyTests {
    func facts(_ fixture: String) throws -> Snapshot.Facts {
        Snapshot.Facts(
            links: try parseIPAddr(json: Captured.ipAddr(fixture)),
            routes: try parseRoutes(json: Captured.ipRoute(fixture)),
            firewall: IptablesBackend.parseSave(try Captured.iptablesSave(fixture)),
            ipForward: true)
    }

    @Test("the captured host has one network of moat's, and nothing foreign is taken as moat's")
    func capturedHost() throws {
        var input = try facts("host")
        input.ipv6Disabled = ["virbr10": true]
        input.arp = ["virbr10": .strict]
        let state = Snapshot.assemble(input)

        #expect(state.ipForward)
        #expect(Array(state.networks.keys) == ["lab"])
        let lab = try #require(state.networks["lab"])
        #expect(
            lab.device
                == DeviceState(
                    name: "virbr10", owned: true, exists: true, up: true, addresses: [Captured.cidr("192.168.100.1/24")].compactMap { $0 },
                    ipv6Disabled: true, arp: .strict))
        #expect(
            Set(lab.chains.keys)
                == [
                    ChainID(.filter, "MOAT-FROM-lab"), ChainID(.filter, "MOAT-TO-lab"), ChainID(.filter, "MOAT-IN-lab"),
                    ChainID(.nat, "MOAT-MASQ-lab"),
                ])
        #expect(lab.chains[ChainID(.filter, "MOAT-IN-lab")] == [])
        #expect(lab.dnsmasq == nil)

        // Shared chains, plus the MOAT- chain whose name carries no valid network.
        #expect(
            Set(state.sharedChains.keys)
                == [
                    ChainID(.filter, "MOAT-FORWARD"), ChainID(.nat, "MOAT-POSTROUTING"), ChainID(.mangle, "MOAT-POSTROUTING"),
                    ChainID(.filter, "MOAT-FROM-Bad_Name"),
                ])
        #expect(state.jumps.count == 3)

        // docker0, the veths and the forged bridge are foreign; the forged non-bridge mark
        // `moat:ghost` does not make a network.
        #expect(Set(state.foreignLinks.keys) == ["lo", "docker0", "veth-guest", "veth-host", "evil0"])
        #expect(state.routes.count == 5)

        let allRules = (Array(state.sharedChains.values.joined()) + state.networks.values.flatMap { $0.chains.values.joined() }).text
        #expect(!allRules.contains { $0.contains("docker0") || $0.contains("virbr0 ") || $0.contains("NAS") })
    }

    @Test("duplicate jumps reach the state as found")
    func duplicateJumps() throws {
        let state = Snapshot.assemble(try facts("duplicate-jump"))
        #expect(state.jumps[ChainID(.filter, "FORWARD")]?.count == 2)
    }

    @Test("an empty host is an empty state")
    func emptyHost() throws {
        let state = Snapshot.assemble(try facts("empty"))
        #expect(state.networks.isEmpty)
        #expect(state.sharedChains.isEmpty)
        #expect(state.jumps.isEmpty)
        #expect(Array(state.foreignLinks.keys) == ["lo"])
    }

    @Test("the links outside the default group are known by name, moat's and foreign, as ip prints the group")
    func linkGroups() throws {
        #expect(Snapshot.assemble(try facts("many")).linkGroups.isEmpty)
        let json = #"[{"ifname":"virbr10","group":"1836019060","ifalias":"moat:lab","linkinfo":{"info_kind":"bridge"}},"#
            + #"{"ifname":"eth0","group":"default"},{"ifname":"gear0","group":"lab-gear"}]"#
        let state = Snapshot.assemble(Snapshot.Facts(links: try parseIPAddr(json: json)))
        #expect(state.networks["lab"] != nil)
        #expect(state.linkGroups == ["virbr10": "1836019060", "gear0": "lab-gear"])
    }

    @Test("fifty networks from the captured host with fifty bridges")
    func many() throws {
        let state = Snapshot.assemble(try facts("many"))
        #expect(state.networks.count == 50)
        #expect(state.networks["net7"]?.device.name == "mbr7")
        #expect(state.networks["net7"]?.chains.text == [ChainID(.filter, "MOAT-FROM-net7"): [#"-m comment --comment "moat:net7" -j ACCEPT"#]])
    }

    @Test("a network whose bridge is gone is still found by its chain alone")
    func foundByChainOnly() {
        let accept = IptablesBackend.parseRule("-j ACCEPT")
        let state = Snapshot.assemble(
            Snapshot.Facts(firewall: FirewallDump(chains: [ChainID(.nat, "MOAT-DNAT-old"): [accept]])))
        #expect(
            state.networks["old"]
                == NetworkState(
                    name: "old", device: DeviceState(
                        name: "", owned: false, exists: false, up: false, addresses: [], ipv6Disabled: false, arp: .kernelDefault),
                    chains: [ChainID(.nat, "MOAT-DNAT-old"): [accept]]))
        #expect(state.sharedChains.isEmpty)
    }

    @Test("a network found by its dnsmasq config alone, and one by a live pid alone")
    func foundByDnsmasq() {
        let state = Snapshot.assemble(
            Snapshot.Facts(
                files: ["conf": .init(dnsmasqConfig: "interface=x\n", hosts: "10.0.0.2 a\n")], pids: ["running": 4242]))
        #expect(state.networks["conf"]?.dnsmasq == DnsmasqInstance(config: "interface=x\n", dhcpHosts: "", hosts: "10.0.0.2 a\n", pid: nil))
        #expect(state.networks["running"]?.dnsmasq == DnsmasqInstance(config: "", dhcpHosts: "", hosts: "", pid: 4242))
        #expect(state.networks["running"]?.device.exists == false)
    }

    @Test("a state folder a killed run left with some of the dnsmasq files, only leases or nothing is moat's, for prune to remove")
    func leftovers() {
        let state = Snapshot.assemble(
            Snapshot.Facts(files: [
                "half": .init(dhcpHosts: "52:54:00:00:00:01,10.0.0.2\n"), "leases": .init(leftover: true),
            ]))
        #expect(state.networks["half"]?.dnsmasq == DnsmasqInstance(config: "", dhcpHosts: "52:54:00:00:00:01,10.0.0.2\n", hosts: "", pid: nil))
        #expect(state.networks["leases"]?.dnsmasq == DnsmasqInstance(config: "", dhcpHosts: "", hosts: "", pid: nil))
        #expect(state.networks.values.allSatisfy { !$0.device.exists })
    }

    let record = InterfaceRecord(device: "veth-host", address: "10.20.0.1/24", hadAddress: false, wasUp: true, ipv6WasDisabled: false)

    @Test("an interface record claims its device, with every IPv4 address on it, not owned")
    func recordWithLink() throws {
        var input = try facts("host")
        input.files = ["board": .init(record: record)]
        input.ipv6Disabled = ["veth-host": false]
        input.arp = ["veth-host": ARPSettings(ignore: 2, announce: 1)]
        let state = Snapshot.assemble(input)
        #expect(
            state.networks["board"]?.device
                == DeviceState(
                    name: "veth-host", owned: false, exists: true, up: true,
                    addresses: [Captured.cidr("10.20.0.1/24"), Captured.cidr("10.30.0.1/24")].compactMap { $0 }, ipv6Disabled: false,
                    arp: ARPSettings(ignore: 2, announce: 1)))
        #expect(state.foreignLinks["veth-host"] == nil)
    }

    @Test("an interface record whose device vanished gives a device that does not exist")
    func recordWithVanishedLink() throws {
        var input = try facts("empty")
        input.files = ["board": .init(record: record)]
        let state = Snapshot.assemble(input)
        #expect(
            state.networks["board"]?.device
                == DeviceState(
                    name: "veth-host", owned: false, exists: false, up: false, addresses: [], ipv6Disabled: false, arp: .kernelDefault))
    }

    @Test("a moat device with no IPv6 setting at all counts as IPv6 disabled")
    func ipv6Missing() throws {
        let state = Snapshot.assemble(try facts("host"))
        #expect(state.networks["lab"]?.device.ipv6Disabled == true)
    }

    @Test(
        "forged marks with names no network can have are ignored",
        arguments: ["moat:Bad_Name!", "moat:", "moat:-x", "moat:1lab", "moat:abcdefghijklmnop", "moat:lab\nx", "moat:läb"])
    func forgedAlias(alias: String) {
        let link = Link(name: "br0", kind: "bridge", alias: alias, up: true)
        let state = Snapshot.assemble(
            Snapshot.Facts(
                links: [link], firewall: FirewallDump(chains: [ChainID(.filter, "MOAT-IN-\(alias.dropFirst(5))"): []]),
                files: [String(alias.dropFirst(5)): .init(dnsmasqConfig: "x")], pids: [String(alias.dropFirst(5)): 1]))
        #expect(state.networks.isEmpty)
        #expect(state.foreignLinks["br0"] == link)
    }

    @Test("a moat mark on a device that is not a bridge does not make it moat's")
    func markedNonBridge() {
        let link = Link(name: "eth0", kind: nil, alias: "moat:lab", up: true)
        let state = Snapshot.assemble(Snapshot.Facts(links: [link]))
        #expect(state.networks.isEmpty)
        #expect(state.foreignLinks["eth0"] == link)
    }

    @Test("two bridges with one mark (a rename under way): both are the network's, the first by name its device, the other for the diff to keep or delete")
    func twoBridgesOneMark() {
        let links = [
            Link(name: "br1", kind: "bridge", alias: "moat:lab"), Link(name: "br0", kind: "bridge", alias: "moat:lab"),
        ]
        let state = Snapshot.assemble(Snapshot.Facts(links: links))
        #expect(state.networks["lab"]?.device.name == "br0")
        #expect(state.networks["lab"]?.moreBridges.map(\.name) == ["br1"])
        #expect(state.foreignLinks.isEmpty)
    }

    @Test(
        "network names",
        arguments: [
            ("lab", true), ("a", true), ("a-1", true), ("abcdefghijklmno", true), ("abcdefghijklmnop", false), ("", false),
            ("Lab", false), ("1lab", false), ("-lab", false), ("la_b", false), ("la b", false), ("läb", false),
        ])
    func networkNames(name: String, valid: Bool) {
        #expect(Snapshot.isNetworkName(name) == valid)
    }

    @Test(
        "a pid is moat's dnsmasq only when its cmdline says so",
        arguments: [
            ("/usr/sbin/dnsmasq\0--conf-file=/s/networks/lab/dnsmasq.conf\0--pid-file=/r/x.pid\0", true),
            ("dnsmasq\0--keep-in-foreground\0--conf-file=/s/networks/lab/dnsmasq.conf\0", true),
            ("dnsmasq\0--conf-file\0/s/networks/lab/dnsmasq.conf\0", true),
            ("/usr/sbin/dnsmasq\0--conf-file=/s/networks/other/dnsmasq.conf\0", false),
            ("/usr/sbin/dnsmasq\0--conf-file=/etc/libvirt/default.conf\0", false),
            ("/bin/sleep\0--conf-file=/s/networks/lab/dnsmasq.conf\0", false),
            ("/usr/sbin/notdnsmasq\0--conf-file=/s/networks/lab/dnsmasq.conf\0", false),
            ("", false),
        ])
    func dnsmasqCmdline(cmdline: String, ours: Bool) {
        #expect(Snapshot.isDnsmasq(cmdline: cmdline, config: "/s/networks/lab/dnsmasq.conf") == ours)
    }
}
