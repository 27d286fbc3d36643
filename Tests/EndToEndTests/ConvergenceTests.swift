import Foundation
import MoatCore
import MoatHost
import MoatReconcile
import Testing

extension EndToEnd {
    /// A second apply does nothing; drift is seen and repaired, one network at a time.
    @Suite("convergence")
    struct ConvergenceTests {
        @Test("a second apply changes nothing: same dnsmasq pids, rules and addresses, and plan exits 0")
        func idempotent() async throws {
            try await withHost("idem") { host in
                let file = try host.file("moat.yaml", Files.lab)
                try #require(try host.moat(["apply", file]).status == 0)
                let pids = host.dnsmasqPids()
                let before = try host.fingerprint()
                try #require(pids.keys.sorted() == ["dmz", "lab"])

                let again = try host.moat(["apply", file])
                #expect(again.status == 0, "\(again)")
                #expect(again.stdout.contains("No changes"), "\(again)")
                #expect(host.dnsmasqPids() == pids)
                #expect(try host.fingerprint() == before)
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 0, "\(plan)")
            }
        }

        @Test("on a converged host, plan and a no-op apply run only the snapshot's four commands")
        func noOpRunsOnlyTheSnapshot() async throws {
            try await withHost("procs") { host in
                let file = try host.file("moat.yaml", Files.lab)
                try #require(try host.moat(["apply", file]).status == 0)
                // Wrappers first on PATH log every program moat runs, then exec the real one.
                let wrappers = host.folder.appendingPathComponent("bin")
                let log = host.folder.appendingPathComponent("exec.log").path
                try FileManager.default.createDirectory(at: wrappers, withIntermediateDirectories: true)
                for program in ["ip", "iptables", "iptables-save", "iptables-restore", "nft", "dnsmasq"] {
                    let real = try #require(Shell.which(program))
                    let wrapper = wrappers.appendingPathComponent(program).path
                    let script = "#!/bin/sh\nprintf '%s\\n' \"\(program) $*\" >> \(log)\nexec \(real) \"$@\"\n"
                    #expect(
                        FileManager.default.createFile(
                            atPath: wrapper, contents: Data(script.utf8), attributes: [.posixPermissions: 0o755]))
                }
                let path = wrappers.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")
                let snapshot = Snapshot.commands.map { $0.joined(separator: " ") }.sorted()
                for command in [["plan", file], ["apply", file]] {
                    _ = FileManager.default.createFile(atPath: log, contents: nil)
                    let ran = try host.moat(command, environment: ["PATH": path])
                    #expect(ran.status == 0, "\(ran)")
                    // The test's own `ip netns exec` goes through the wrapper too.
                    let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
                        .map { $0.trimmingCharacters(in: .whitespaces) }
                    #expect(lines.filter { !$0.hasPrefix("ip netns exec ") }.sorted() == snapshot, "\(command[0]): \(lines)")
                }
            }
        }

        /// One kind of drift, made by hand in the host's namespace.
        enum Drift: String, CaseIterable, CustomTestStringConvertible {
            case deletedRule = "a deleted rule in MOAT-FROM-lab"
            case killedDnsmasq = "a killed dnsmasq of lab"
            case flushedAddress = "a flushed address on virbr10"
            var testDescription: String { rawValue }
        }

        @Test("drift is seen by plan and repaired by apply, touching only the affected network", arguments: Drift.allCases)
        func driftRepaired(_ drift: Drift) async throws {
            try await withHost("drift") { host in
                let file = try host.file("moat.yaml", Files.lab)
                try #require(try host.moat(["apply", file]).status == 0)
                let pids = host.dnsmasqPids()
                let converged = try host.fingerprint()
                let dmzRules = try rules(of: "dmz", in: host)

                switch drift {
                case .deletedRule:
                    // The jump that keeps lab's guests off the LAN and the other networks.
                    if Rules.nftables {
                        try Rules.nftDelete(in: "MOAT-FROM-lab", containing: "jump MOAT-BLOCK", host: host)
                    } else {
                        try host.exec(["iptables", "-D", "MOAT-FROM-lab", "-m", "comment", "--comment", "moat:lab", "-j", "MOAT-BLOCK"])
                    }
                case .killedDnsmasq:
                    let pid = try #require(pids["lab"])
                    kill(pid, SIGKILL)
                    try #require(poll { !FileManager.default.fileExists(atPath: "/proc/\(pid)/cmdline") || isZombie(pid) })
                case .flushedAddress:
                    try host.exec(["ip", "addr", "flush", "dev", "virbr10"])
                }

                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 2, "\(plan)")
                let steps = TestHost.steps(of: plan.stdout)
                #expect(!steps.isEmpty && steps.allSatisfy { $0.network == "lab" }, "only lab's steps: \(plan.stdout)")

                let apply = try host.moat(["apply", file])
                #expect(apply.status == 0, "\(apply)")
                #expect(try host.moat(["plan", "--detailed-exitcode", file]).status == 0)
                #expect(host.dnsmasqPids()["dmz"] == pids["dmz"], "dmz's dnsmasq is not restarted")
                #expect(try rules(of: "dmz", in: host) == dmzRules)
                #expect(try host.fingerprint() == converged)
                if drift == .deletedRule {
                    #expect(host.dnsmasqPids() == pids, "a lost rule restarts no dnsmasq")
                }
                if drift == .killedDnsmasq {
                    #expect(host.dnsmasqPids()["lab"] != nil)
                }
            }
        }

        /// The rules carrying a network's mark, in order.
        func rules(of network: String, in host: TestHost) throws -> [String] {
            try Rules.text(host).split(separator: "\n").filter { $0.contains("\"moat:\(network)\"") }.map(String.init)
        }

        /// A killed daemon whose parent (init, in a container maybe none) has not reaped it.
        func isZombie(_ pid: Int32) -> Bool {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            return status.contains("State:\tZ")
        }
    }
}
