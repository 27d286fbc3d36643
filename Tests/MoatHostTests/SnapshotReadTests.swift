import Foundation
import MoatConfig
import Synchronization
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


/// The snapshot's commands answered with a captured fixture (`nft` as not installed); any
/// other command fails.
func answering(fixture: String) throws -> @Sendable ([String], String?) throws -> CommandResult {
    let addr = try Captured.ipAddr(fixture)
    let route = try Captured.ipRoute(fixture)
    let save = try Captured.iptablesSave(fixture)
    return { argv, _ in
        switch argv {
        case Snapshot.ipAddrCommand: CommandResult(status: 0, stdout: addr)
        case Snapshot.ipRouteCommand: CommandResult(status: 0, stdout: route)
        case Snapshot.iptablesSaveCommand: CommandResult(status: 0, stdout: save)
        // The fixtures were captured on hosts without nftables.
        case Snapshot.nftRulesetCommand, Snapshot.nftChainsCommand: CommandResult(status: 127, stderr: "nft: not found")
        default: CommandResult(status: 1, stderr: "unexpected command \(argv)")
        }
    }
}

@Suite("Reading the host")
struct SnapshotReadTests {
    let paths = Paths(stateDir: "/state", runDir: "/run-moat")

    /// State and run dir of `count` networks `net1`... with their dnsmasq running as pid 1000+i.
    func files(networks count: Int) -> [String: String] {
        var files = ["/proc/sys/net/ipv4/ip_forward": "1\n"]
        for i in 1...count {
            let name = "net\(i)"
            files[paths.dnsmasqConfig(name)] = "interface=mbr\(i)\n"
            files[paths.dhcpHostsFile(name)] = ""
            files[paths.hostsFile(name)] = ""
            files[paths.leaseFile(name)] = ""
            files[paths.dnsmasqPidFile(name)] = "\(1000 + i)\n"
            files["/proc/\(1000 + i)/cmdline"] = "/usr/sbin/dnsmasq\0--conf-file=\(paths.dnsmasqConfig(name))\0"
            files["/proc/sys/net/ipv6/conf/mbr\(i)/disable_ipv6"] = "1\n"
        }
        return files
    }

    @Test("four commands read one network", arguments: ["host", "duplicate-jump", "empty"])
    func threeCommandsSmall(fixture: String) async throws {
        let host = FakeHost(files: files(networks: 1), respond: try answering(fixture: fixture))
        _ = try await Snapshot.read(host, paths: paths)
        #expect(Set(host.commands) == Set(Snapshot.commands) && host.commands.count == Snapshot.commands.count)  // run side by side: any order
    }

    @Test("the same four commands read fifty networks, with every dnsmasq and file")
    func threeCommandsForFifty() async throws {
        let host = FakeHost(files: files(networks: 50), respond: try answering(fixture: "many"))
        let state = try await Snapshot.read(host, paths: paths)
        #expect(Set(host.commands) == Set(Snapshot.commands) && host.commands.count == Snapshot.commands.count)  // run side by side: any order
        #expect(state.networks.count == 50)
        #expect(state.ipForward)
        let net42 = try #require(state.networks["net42"])
        #expect(net42.device.name == "mbr42")
        #expect(net42.device.ipv6Disabled)
        #expect(net42.dnsmasq == DnsmasqInstance(config: "interface=mbr42\n", dhcpHosts: "", hosts: "", pid: 1042))
    }

    @Test("a pid file naming a process that is not that network's dnsmasq gives no pid")
    func stalePid() async throws {
        var files = files(networks: 3)
        files["/proc/1001/cmdline"] = "/usr/bin/sleep\0100\0"
        files["/proc/1002/cmdline"] = nil
        files["/proc/1003/cmdline"] = "/usr/sbin/dnsmasq\0--conf-file=\(paths.dnsmasqConfig("net1"))\0"
        let state = try await Snapshot.read(FakeHost(files: files, respond: try answering(fixture: "many")), paths: paths)
        #expect(state.networks["net1"]?.dnsmasq?.pid == nil)
        #expect(state.networks["net2"]?.dnsmasq?.pid == nil)
        #expect(state.networks["net3"]?.dnsmasq?.pid == nil)
        #expect(state.networks["net4"]?.dnsmasq == nil)
    }

    @Test("a live dnsmasq whose files are gone still marks its network, an unreadable pid file is a leftover; bad file names are ignored")
    func pidOnly() async throws {
        let files = ([
            paths.dnsmasqPidFile("orphan"): "77",
            "/proc/77/cmdline": "dnsmasq\0--conf-file=\(paths.dnsmasqConfig("orphan"))\0",
            "/run-moat/dnsmasq-Bad_Name.pid": "78",
            "/proc/78/cmdline": "dnsmasq\0--conf-file=\(paths.dnsmasqConfig("Bad_Name"))\0",
            "/run-moat/dnsmasq-x.pid": "not a pid",
            "/state/networks/NOPE/dnsmasq.conf": "x",
        ])
        let state = try await Snapshot.read(FakeHost(files: files, respond: try answering(fixture: "empty")), paths: paths)
        #expect(state.networks.keys.sorted() == ["orphan", "x"])
        #expect(state.networks["orphan"]?.dnsmasq?.pid == 77)
        #expect(state.networks["x"]?.dnsmasq == DnsmasqInstance(config: "", dhcpHosts: "", hosts: "", pid: nil))
        #expect(!state.ipForward)
    }

    @Test("an interface record is read from the state dir and claims its device")
    func interfaceRecord() async throws {
        let record = InterfaceRecord(device: "veth-host", address: "10.20.0.1/24", hadAddress: true, wasUp: true, ipv6WasDisabled: false)
        let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        let files = ([
            paths.interfaceRecord("board"): json, "/proc/sys/net/ipv6/conf/veth-host/disable_ipv6": "0\n",
        ])
        let state = try await Snapshot.read(FakeHost(files: files, respond: try answering(fixture: "host")), paths: paths)
        let board = try #require(state.networks["board"])
        #expect(board.device.name == "veth-host")
        #expect(!board.device.owned)
        #expect(!board.device.ipv6Disabled)
        #expect(state.foreignLinks["veth-host"] == nil)
        #expect(state.networks["lab"]?.device.ipv6Disabled == true)
    }

    @Test("a journal is an interrupted run's unless a moat still runs under its pid")
    func journal() async throws {
        let journal = Journal(command: "apply", pid: 999, started: "2026-12-02T10:00:00Z", units: ["a", "b"], completed: 1, dnsmasqNetworks: ["lab"])
        func read(_ process: [String: String]) async throws -> MoatRecords {
            let files = [paths.journal: journal.text].merging(process) { $1 }
            return try await Snapshot.read(FakeHost(files: files, respond: try answering(fixture: "empty")), paths: paths).records
        }
        let running = ["/proc/999/stat": "999 (moat) S 1 2 3", "/proc/999/cmdline": "/usr/local/bin/moat\0apply\0"]
        #expect(try await read(running).journal == journal)
        #expect(try await read(running).journalInterrupted == false)
        #expect(try await read(running).dnsmasqRestarts.isEmpty)
        #expect(try await read([:]).journalInterrupted)
        #expect(try await read([:]).dnsmasqRestarts == ["lab"])
        let reused = ["/proc/999/stat": "999 (sleep) S 1 2 3", "/proc/999/cmdline": "sleep\0100\0"]
        #expect(try await read(reused).journalInterrupted, "the pid is another program's now")
        let zombie = ["/proc/999/stat": "999 (moat) Z 1 2 3", "/proc/999/cmdline": ""]
        #expect(try await read(zombie).journalInterrupted)
        // A forged journal's network names become paths: only valid ones are kept.
        var forged = journal
        forged.dnsmasqNetworks = ["lab", "../../etc/passwd", "Lab", ""]
        #expect(Journal(parsing: forged.text)?.dnsmasqNetworks == ["lab"])
    }

    @Test("a corrupt interface record is an error naming the file")
    func corruptRecord() async throws {
        let files = ([paths.interfaceRecord("board"): "{\"device\":"])
        await #expect {
            try await Snapshot.read(FakeHost(files: files, respond: try answering(fixture: "empty")), paths: paths)
        } throws: { error in
            (error as? MoatError)?.message.contains(paths.interfaceRecord("board")) == true
        }
    }

    @Test(
        "a missing program is an error naming its Debian package",
        arguments: [("ip", "iproute2"), ("iptables-save", "iptables")])
    func missingProgram(program: String, package: String) async throws {
        // The real runner throws a CommandFailure with 127 when it cannot start a program.
        let throwing = FakeHost { argv, _ in
            if argv.first == program {
                throw CommandFailure(argv: argv, result: CommandResult(status: 127, stderr: "cannot run \(program)"))
            }
            return CommandResult(status: 0)
        }
        await #expect {
            try await Snapshot.read(throwing, paths: paths)
        } throws: { error in
            let message = (error as? MoatError)?.message ?? ""
            return message.contains("`\(program)`") && message.contains(package)
        }
        // A runner that reports 127 as a status, like a shell would.
        let reporting = FakeHost { argv, _ in
            argv.first == program ? CommandResult(status: 127, stderr: "not found") : CommandResult(status: 0)
        }
        await #expect {
            try await Snapshot.read(reporting, paths: paths)
        } throws: { error in
            (error as? MoatError)?.message.contains(package) == true
        }
    }

    @Test("a failing command is an error with its argv and stderr")
    func failingCommand() async throws {
        let host = FakeHost { argv, _ in
            argv == ["iptables-save"]
                ? CommandResult(
                    status: 1,
                    stderr: "iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)"
                )
                : CommandResult(status: 0)
        }
        await #expect {
            try await Snapshot.read(host, paths: paths)
        } throws: { error in
            let message = (error as? MoatError)?.message ?? ""
            return message.contains("`iptables-save` exited 1") && message.contains("Permission denied")
        }
    }

    @Test("a ruleset changed while nft lists it is asked for again; one that never lists is an error")
    func nftRetried() async throws {
        let answer = try answering(fixture: "host")
        let ruleset = #"{"nftables": [{"metainfo": {"json_schema_version": 1}}]}"#
        for failures in [0, 2, Snapshot.nftAttempts - 1, Snapshot.nftAttempts] {
            let calls = Mutex(0)
            let host = FakeHost { argv, input in
                if argv == Snapshot.nftChainsCommand { return CommandResult(status: 0, stdout: ruleset) }
                guard argv == Snapshot.nftRulesetCommand else { return try answer(argv, input) }
                let call = calls.withLock { count in
                    count += 1
                    return count
                }
                return call <= failures
                    ? CommandResult(status: 1, stderr: "Error: No such file or directory")
                    : CommandResult(status: 0, stdout: ruleset)
            }
            if failures < Snapshot.nftAttempts {
                let state = try await Snapshot.read(host, paths: paths)
                #expect(state.firewallHost.nftables, "\(failures) failures")
            } else {
                await #expect(throws: MoatError.self) { try await Snapshot.read(host, paths: paths) }
            }
            #expect(calls.withLock { $0 } == min(failures + 1, Snapshot.nftAttempts))
        }
    }

    @Test("dependencies are looked up on PATH, and every missing one is named with its package")
    func dependencies() throws {
        let files = (["/usr/sbin/ip": "", "/usr/sbin/iptables-save": ""])
        try Dependencies.check(["ip", "iptables-save"], searchPath: "/usr/bin:/usr/sbin", system: FakeHost(files: files))
        #expect {
            try Dependencies.check(["ip", "dnsmasq", "iptables-restore"], searchPath: "/usr/bin:/usr/sbin", system: FakeHost(files: files))
        } throws: { error in
            let message = (error as? MoatError)?.message ?? ""
            return message.contains("`dnsmasq`, `iptables-restore`") && message.contains("dnsmasq-base, iptables")
                && !message.contains("iproute2")
        }
    }

    @Test("the real files: /proc files that report no size are read whole; missing files are nil")
    func systemFiles() throws {
        let files = LocalSystem()
        let cmdline = try #require(try files.read("/proc/self/cmdline"))
        #expect(!cmdline.isEmpty)
        #expect(try files.read("/nonexistent/moat/file") == nil)
        #expect(try files.read("/proc/self/cmdline/not-a-dir") == nil)
        #expect(try files.list("/nonexistent/moat").isEmpty)
        #expect(try files.list("/proc/self").contains("cmdline"))
    }
}
