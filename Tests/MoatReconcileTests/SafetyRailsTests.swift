import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


private func cidr(_ text: String) -> IPv4CIDR {
    guard let value = IPv4CIDR(text) else { fatalError("bad literal \(text)") }
    return value
}

private func address(_ text: String) -> IPv4Address { cidr(text + "/32").address }

/// A host whose lan0 carries 192.168.0.10/24 and the default route via 192.168.0.1.
private let lanHost = HostState(
    foreignLinks: ["lan0": Link(name: "lan0", up: true, addresses: [cidr("192.168.0.10/24")])],
    routes: [Route(destination: nil, device: "lan0", gateway: "192.168.0.1"), Route(destination: cidr("192.168.0.0/24"), device: "lan0")])

private func board(device: String = "lan0", address: String = "10.30.0.1/24", shared: Bool = false) -> Config {
    Config(networks: [
        Network(name: "board", device: .interface(device), address: cidr(address), dhcp: nil, sharedWithHost: shared)
    ])
}

@Suite("Safety rails: what plan refuses unless the file opts in")
struct SafetyRailsTests {
    // MARK: Rail A

    @Test("an interface with the default route and an undeclared address is refused, saying what, why and how to opt in")
    func sharedInterface() {
        #expect(
            SafetyRails.sharedInterfaces(config: board(), live: lanHost) == [
                "network board: interface lan0 carries the host's default route (via 192.168.0.1) and 192.168.0.10/24, which the file does not declare: handing it to guests would give them the host's own uplink and cut the host off. If lan0 is meant to be shared with the host, set `shared-with-host: true` on network board."
            ])
    }

    @Test("the default route alone, or an undeclared address alone, is enough")
    func eitherIsEnough() {
        var routeOnly = lanHost
        routeOnly.foreignLinks["lan0"]?.addresses = []
        #expect(SafetyRails.sharedInterfaces(config: board(), live: routeOnly).first?.contains("carries the host's default route (via 192.168.0.1): handing") == true)
        var addressOnly = lanHost
        addressOnly.routes = []
        #expect(SafetyRails.sharedInterfaces(config: board(), live: addressOnly).first?.contains("carries 192.168.0.10/24, which the file does not declare: handing") == true)
    }

    @Test("shared-with-host opts in; a device with only the network's own address, or another device, is fine")
    func allowed() {
        #expect(SafetyRails.sharedInterfaces(config: board(shared: true), live: lanHost).isEmpty)
        var quiet = lanHost
        quiet.foreignLinks["eth1"] = Link(name: "eth1", up: true, addresses: [cidr("10.30.0.1/24")])
        #expect(SafetyRails.sharedInterfaces(config: board(device: "eth1"), live: quiet).isEmpty)
        #expect(SafetyRails.sharedInterfaces(config: board(device: "missing"), live: lanHost).isEmpty)
    }

    @Test("checked on every plan: a device already claimed is judged by its addresses, moat's earlier one excepted")
    func claimed() {
        var live = HostState(routes: [])
        live.networks["board"] = NetworkState(
            name: "board",
            device: DeviceState(name: "eth1", owned: false, addresses: [cidr("10.30.0.1/24"), cidr("10.31.0.1/24")], arp: .strict))
        let record = InterfaceRecord(device: "eth1", address: "10.31.0.1/24", hadAddress: false, wasUp: true, ipv6WasDisabled: false)
        #expect(SafetyRails.sharedInterfaces(config: board(device: "eth1"), live: live, records: ["board": record]).isEmpty)
        #expect(SafetyRails.sharedInterfaces(config: board(device: "eth1"), live: live).first?.contains("10.31.0.1/24, which the file does not declare") == true)
        live.routes = [Route(destination: nil, device: "eth1", gateway: "10.30.0.254")]
        #expect(SafetyRails.sharedInterfaces(config: board(device: "eth1"), live: live, records: ["board": record]).count == 1)
    }

    @Test("a run killed while one network took over another's interface leaves both records: the leaving one's address is moat's too")
    func killedHandover() {
        // Soak MOAT_SEED=1796315747 step 5: board2 (mi0, 10.74.0.1/24) renamed to board at
        // 10.74.1.1/24, killed right after board's record was written. Every later plan
        // refused, taking board2's address for the host's.
        var live = HostState(routes: [])
        live.networks["board"] = NetworkState(
            name: "board", device: DeviceState(name: "mi0", owned: false, addresses: [cidr("10.74.0.1/24")], arp: .strict))
        let records = [
            "board2": InterfaceRecord(device: "mi0", address: "10.74.0.1/24", hadAddress: false, wasUp: false, ipv6WasDisabled: false),
            "board": InterfaceRecord(device: "mi0", address: "10.74.1.1/24", hadAddress: false, wasUp: false, ipv6WasDisabled: false),
        ]
        #expect(SafetyRails.sharedInterfaces(config: board(device: "mi0", address: "10.74.1.1/24"), live: live, records: records).isEmpty)
        // A record of another device says nothing about this one.
        let elsewhere = ["board2": InterfaceRecord(device: "mi1", address: "10.74.0.1/24", hadAddress: false, wasUp: false, ipv6WasDisabled: false)]
        #expect(SafetyRails.sharedInterfaces(config: board(device: "mi0", address: "10.74.1.1/24"), live: live, records: elsewhere).count == 1)
    }

    // MARK: Rail B

    static let guest = address("192.168.100.10")

    func listener(_ proto: PortForward.Proto, _ where: String, _ port: Int, inode: UInt64 = 7, holders: [SocketHolder]) -> HostListener {
        HostListener(
            socket: ListeningSocket(proto: proto, address: `where`, port: port, inode: inode, isLoopback: `where`.hasPrefix("127.")),
            holders: holders)
    }

    @Test("only forwards whose rule is not live yet, and without override-host-port, are checked")
    func newForwards() {
        var config = labConfig(withDMZ: false)
        let live = deployed(DesiredState.render(config, paths: paths))
        #expect(SafetyRails.newForwards(config: config, live: live).isEmpty)
        config.networks[0].forwards.append(PortForward(proto: .tcp, port: 22, toAddress: Self.guest, toPort: 22))
        config.networks[0].forwards.append(PortForward(proto: .tcp, port: 80, toAddress: Self.guest, toPort: 80, overrideHostPort: true))
        #expect(SafetyRails.newForwards(config: config, live: live).map(\.forward.port) == [22])
        // A changed target is a new rule.
        config.networks[0].forwards[0].toPort = 2022
        #expect(SafetyRails.newForwards(config: config, live: live).map(\.forward.port) == [2222, 22])
    }

    @Test("a forward over a host listener is refused, naming the process and its address")
    func takenPort() {
        let forward = SafetyRails.NewForward(network: "lab", forward: PortForward(proto: .tcp, port: 22, toAddress: Self.guest, toPort: 22))
        let problems = SafetyRails.takenPorts(
            [forward], listeners: [listener(.tcp, "0.0.0.0", 22, holders: [SocketHolder(pid: 812, comm: "sshd")])], ownPids: [])
        #expect(
            problems == [
                "network lab: forward tcp 22 → 192.168.100.10:22: sshd (pid 812) on 0.0.0.0:22 already listens on tcp port 22: the forward would take that service from the host (connections to the host's port 22 would reach the guest instead; a forward of tcp 22 locks out ssh). If that is meant, set `override-host-port: true` on this forward."
            ])
    }

    @Test("moat's own dnsmasq, another protocol and loopback do not count; a socket nobody holds does")
    func notTaken() {
        let dns = SafetyRails.NewForward(network: "lab", forward: PortForward(proto: .udp, port: 53, toAddress: Self.guest, toPort: 53))
        let dnsmasq = listener(.udp, "0.0.0.0", 53, holders: [SocketHolder(pid: 4003, comm: "dnsmasq")])
        #expect(SafetyRails.takenPorts([dns], listeners: [dnsmasq], ownPids: [4003]).isEmpty)
        #expect(SafetyRails.takenPorts([dns], listeners: [dnsmasq], ownPids: []).count == 1)
        #expect(SafetyRails.takenPorts([dns], listeners: [listener(.tcp, "0.0.0.0", 53, holders: [])], ownPids: []).isEmpty)
        #expect(SafetyRails.takenPorts([dns], listeners: [listener(.udp, "127.0.0.1", 53, holders: [])], ownPids: []).isEmpty)
        let kernel = SafetyRails.takenPorts([dns], listeners: [listener(.udp, "0.0.0.0", 53, holders: [])], ownPids: [4003])
        #expect(kernel.first?.contains("a socket of the kernel or of a process moat cannot see on 0.0.0.0:53") == true)
    }

    /// /proc with sshd (pid 812) listening on 0.0.0.0:22.
    func sshdHost() -> FakeHost {
        FakeHost(
            files: [
                "/proc/net/tcp":
                    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
                    + "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 240847 1 00000000596268ee 100 0 0 10 0\n",
                "/proc/812/comm": "sshd\n",
            ],
            links: ["/proc/812/fd/3": "socket:[240847]"])
    }

    @Test("plan: a converged host reads no /proc listener; a new forward over sshd is refused (exit 1)")
    func planReads() throws {
        var config = labConfig(withDMZ: false)
        let live = deployed(DesiredState.render(config, paths: paths))
        let files = sshdHost()
        let reconciler = Reconciler(system: files, paths: paths, progress: { _ in })
        #expect(try reconciler.plan(config: config, live: live).plan.isEmpty)
        #expect(files.reads.isEmpty)
        config.networks[0].forwards.append(PortForward(proto: .tcp, port: 22, toAddress: Self.guest, toPort: 22))
        let error = #expect(throws: MoatError.self) { try reconciler.plan(config: config, live: live) }
        #expect(error?.exitCode == 1)
        #expect(error?.message.contains("sshd (pid 812) on 0.0.0.0:22") == true)
        config.networks[0].forwards[1].overrideHostPort = true
        #expect(try reconciler.plan(config: config, live: live).plan.isEmpty == false)
    }

    // MARK: Warnings

    @Test("an allow to one of the host's own addresses warns (use `to: host`); other allows do not")
    func allowToHost() throws {
        var config = board(device: "lan0", shared: true)
        config.networks[0].allow = [
            AllowRule(to: .cidr(cidr("192.168.0.10/32"))), AllowRule(to: .cidr(cidr("192.168.0.20/32"))),
            AllowRule(to: .cidr(cidr("192.168.0.0/24"))), AllowRule(to: .cidr(cidr("10.30.0.1/32"))),
        ]
        #expect(
            SafetyRails.warnings(config: config, live: lanHost) == [
                "network board: the allow to 192.168.0.10/32 has no effect: 192.168.0.10 is the host's own address (on lan0), and traffic to the host goes through INPUT, not through what an allow opens; use `to: host`"
            ])
        let reconciler = Reconciler(system: FakeHost(), paths: paths, progress: { _ in })
        let plan = try reconciler.plan(config: config, live: lanHost).plan
        #expect(plan.warnings.count == 1)
        #expect(plan.json(paths: paths).contains("\"warnings\" : ["))
        #expect(!Plan().json(paths: paths).contains("warnings"))
    }
}
