import Foundation
import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


@Suite("Executor: batches and one firewall transaction")
struct ExecutorTests {
    @Test("the iptables-restore payload declares chains, removes old jumps, appends, inserts jumps, deletes chains")
    func payloadOrder() {
        let jump = FirewallRule(owner: .shared, verdict: .jump("MOAT-FORWARD"))
        let payload = IptablesBackend.restorePayload(operations: [
            .deleteChain(ChainID(.filter, "MOAT-FROM-old")),
            .writeChain(
                ChainID(.filter, "MOAT-FORWARD"), [FirewallRule(owner: .network("lab"), inInterface: "virbr10", verdict: .jump("MOAT-FROM-lab"))]),
            .replaceJumps(ChainID(.filter, "FORWARD"), old: [jump], new: [jump]),
            .writeChain(ChainID(.nat, "MOAT-MASQ-lab"), [FirewallRule(owner: .network("lab"), verdict: .masquerade(ports: nil))]),
        ])
        #expect(
            payload == """
                *filter
                :MOAT-FORWARD - [0:0]
                :MOAT-FROM-old - [0:0]
                -D FORWARD -m comment --comment moat -j MOAT-FORWARD
                -A MOAT-FORWARD -i virbr10 -m comment --comment "moat:lab" -j MOAT-FROM-lab
                -I FORWARD 1 -m comment --comment moat -j MOAT-FORWARD
                -X MOAT-FROM-old
                COMMIT
                *nat
                :MOAT-MASQ-lab - [0:0]
                -A MOAT-MASQ-lab -m comment --comment "moat:lab" -j MASQUERADE
                COMMIT

                """)
    }

    @Test("an empty host's plan runs in a constant number of commands: one ip -batch, one iptables-restore, one dnsmasq each")
    func batching() async throws {
        let desired = DesiredState.render(labConfig(), paths: paths)
        let plan = Diff.plan(desired: desired, live: HostState(), paths: paths)
        let system = FakeHost(files: ["/proc/sys/net/ipv4/ip_forward": "0\n"])
        for unit in Executor(system: system, paths: paths).units(for: plan.steps.flatMap(\.operations), host: HostState()) {
            try await unit.work()
        }
        let programs = system.commands.map { $0[0] }
        #expect(programs == ["ip", "iptables-restore", "dnsmasq", "dnsmasq"])
        #expect(system.sysctls.contains("net/ipv4/ip_forward=1"))
        #expect(system.file(paths.ipForwardRecord) == "0\n")
    }

    @Test("bridges deleted together join moat's link group and go in one request; a lone bridge, or a group a staying link may be in, one request each")
    func bridgesGoInOneRequest() async throws {
        let group = LinkCommand.deletionGroup
        #expect(group == 1_836_015_988)
        let together = ["link set dev mb1 group \(group)", "link set dev mb2 group \(group)", "link del group \(group)"]
        // Foreign devices in other numbered groups, and a doomed bridge in moat's group (a killed deletion's), do not matter.
        let host = HostState(linkGroups: ["eth0": "7", "mb2": "\(group)"])
        #expect(LinkCommand.deletion(of: ["mb1", "mb2"], host: host) == together)
        #expect(LinkCommand.deletion(of: ["mb1"], host: HostState()) == ["link del dev mb1"])
        #expect(LinkCommand.deletion(of: [], host: HostState()) == [])
        // A link that stays in moat's group, or in a group ip names (a number moat cannot see).
        for staying in ["\(group)", "lab-gear"] {
            #expect(LinkCommand.deletion(of: ["mb1", "mb2"], host: HostState(linkGroups: ["keep0": staying])) == ["link del dev mb1", "link del dev mb2"])
        }

        // The destroy of two networks: their bridges go in the one batch after verification.
        let live = DesiredState.render(labConfig(), paths: paths)
        let plan = Diff.plan(desired: HostState(), live: live, paths: paths)
        let later = plan.steps.flatMap(\.operations).filter(\.phase.runsAfterVerify)
        let system = FakeHost()
        for unit in Executor(system: system, paths: paths).units(for: later, host: live) { try await unit.work() }
        let bridges = later.compactMap { if case .deleteBridge(let name) = $0 { name } else { nil } }
        #expect(Set(bridges) == Set(live.networks.values.filter(\.device.owned).map(\.device.name)) && bridges.count == 2)
        let batch = zip(system.commands, system.standardInputs).first { $0.0 == ["ip", "-batch", "-"] }?.1
        #expect(batch == (bridges.map { "link set dev \($0) group \(group)" } + ["link del group \(group)"]).joined(separator: "\n") + "\n")
    }

    @Test("forwarding goes on only after the isolation rules are in, and off before they go")
    func forwardingWaitsForTheFirewall() {
        let executor = Executor(system: FakeHost(), paths: paths)
        let deployed = DesiredState.render(labConfig(), paths: paths)
        func titles(_ plan: Plan) -> [String] {
            executor.units(for: plan.steps.flatMap(\.operations), host: HostState()).map(\.title)
        }
        let up = titles(Diff.plan(desired: deployed, live: HostState(), paths: paths))
        let down = titles(Diff.plan(desired: HostState(), live: deployed, context: DiffContext(ipForwardRecord: false), paths: paths))
        func position(_ titles: [String], _ prefix: String) -> Int {
            titles.firstIndex { $0.hasPrefix(prefix) } ?? -1
        }
        #expect(position(up, "iptables-restore") >= 0)
        #expect(position(up, "iptables-restore") < position(up, "set net.ipv4.ip_forward=1"))
        #expect(position(up, "set net.ipv4.ip_forward=1") < position(up, "write dnsmasq files and start"))
        #expect(position(down, "set net.ipv4.ip_forward=0") >= 0)
        #expect(position(down, "set net.ipv4.ip_forward=0") < position(down, "iptables-restore"))
    }

    @Test("a failing step rolls back towards the host as it was, and says what failed")
    func rollback() async throws {
        // An empty host that has every program moat runs (nftables aside), reads as empty
        // whatever is run on it, and whose dnsmasq cannot start.
        var files = ["/proc/sys/net/ipv4/ip_forward": "0\n"]
        for folder in Dependencies.searchDirectories() { for program in Dependencies.always { files["\(folder)/\(program)"] = "" } }
        let system = FakeHost(files: files) { argv, _ in
            if argv == Snapshot.ipAddrCommand || argv == Snapshot.ipRouteCommand { return CommandResult(status: 0, stdout: "[]") }
            if Snapshot.nftCommands.contains(argv) { return CommandResult(status: 127, stderr: "nft: not found") }
            if argv.first == "dnsmasq" {
                return CommandResult(status: 2, stderr: "dnsmasq: failed to bind DHCP server socket: Address in use")
            }
            return CommandResult(status: 0)
        }
        let reconciler = Reconciler(system: system, paths: paths, progress: { _ in })
        let error = await #expect(throws: MoatError.self) {
            try await reconciler.run(.apply(labConfig()), holder: "apply test", lockTimeout: 0) { _ in true }
        }
        #expect(error?.kind == .failed)
        #expect(error?.message.contains("dnsmasq: failed to bind") == true)
        #expect(error?.message.contains("rolled back") == true)
        #expect(system.file(paths.journal) == nil)
        #expect(system.commands.contains { $0.first == "dnsmasq" }, "the apply ran as far as dnsmasq")
    }

    @Test("a run whose plan is declined executes nothing, writes no journal, and says so")
    func declined() async throws {
        var files = ["/proc/sys/net/ipv4/ip_forward": "0\n"]
        for folder in Dependencies.searchDirectories() { for program in Dependencies.always { files["\(folder)/\(program)"] = "" } }
        let system = FakeHost(files: files) { argv, _ in
            if argv == Snapshot.ipAddrCommand || argv == Snapshot.ipRouteCommand { return CommandResult(status: 0, stdout: "[]") }
            if Snapshot.nftCommands.contains(argv) { return CommandResult(status: 127, stderr: "nft: not found") }
            return CommandResult(status: 0)
        }
        let reconciler = Reconciler(system: system, paths: paths, progress: { _ in })
        let before = system.commands
        var asked: Plan?
        let outcome = try await reconciler.run(.apply(labConfig()), holder: "apply test", lockTimeout: 0) { run in
            asked = run.plan
            return false
        }
        guard case .declined(let run) = outcome else {
            Issue.record("expected .declined, got \(outcome)")
            return
        }
        #expect(asked?.isEmpty == false && run.plan.steps.count == asked?.steps.count)
        // Only the snapshot's reads ran: no ip -batch, no iptables-restore, no dnsmasq, no sysctl.
        let changing = system.commands.dropFirst(before.count).filter { ["iptables-restore", "dnsmasq"].contains($0[0]) || $0.contains("-batch") }
        #expect(changing.isEmpty, "\(changing)")
        #expect(system.sysctls.isEmpty)
        #expect(system.file(paths.journal) == nil)
    }

    @Test("the lock names its holder and a second taker gets exit 75")
    func lock() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("moat-lock-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let host = LocalSystem()
        let held = try host.lock(path, holder: "apply test.yaml", timeout: 0)
        // flock is per open file description: a second open in this process conflicts too.
        let error = #expect(throws: MoatError.self) { _ = try host.lock(path, holder: "apply", timeout: 0.1) }
        #expect(error?.kind == .locked && error?.exitCode == 75)
        #expect(error?.message.contains("\(getpid()) apply test.yaml") == true)
        withExtendedLifetime(held) {}
    }

    @Test("a state dir that dnsmasq's unprivileged user cannot reach is refused, naming the folder")
    func stateDirReachable() throws {
        let top = FileManager.default.temporaryDirectory.appendingPathComponent("moat-private-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: top, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: top) }
        let reconciler = Reconciler(system: LocalSystem(), paths: paths, progress: { _ in })
        let error = #expect(throws: MoatError.self) { try reconciler.checkReachableByDnsmasq(top.appendingPathComponent("state").path) }
        #expect(error?.message.contains(top.path) == true)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: top.path)
        try reconciler.checkReachableByDnsmasq(top.appendingPathComponent("state").path)
    }
}
