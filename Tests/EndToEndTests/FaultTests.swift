import Foundation
import MoatTestSupport
import Testing

extension EndToEnd {
    /// A failed or killed apply never leaves the host half-configured.
    @Suite("faults")
    struct FaultTests {
        /// A failure injected into one command of an apply, by a stand-in first on PATH.
        struct Fault: CustomTestStringConvertible, Sendable {
            var name: String
            var program: String
            /// Fails only when its arguments contain this (nil: always).
            var trigger: String?
            /// Whether the host starts with the lab deployed and the change file is applied.
            var deployed: Bool
            /// Whether the failure comes after the firewall transaction, on a host whose
            /// iptables tables did not exist yet.
            var afterFirewallOnFreshTables: Bool { program == "dnsmasq" && !deployed }
            var testDescription: String { name }
            var message: String { "stand-in \(program): injected failure" }
        }

        static let faults: [Fault] = [
            Fault(name: "ip -batch fails on an empty host", program: "ip", trigger: "-batch", deployed: false),
            Fault(name: "\(Rules.tool.program) fails on an empty host", program: Rules.tool.program, trigger: Rules.tool.trigger, deployed: false),
            Fault(name: "dnsmasq of dmz fails on an empty host", program: "dnsmasq", trigger: "/networks/dmz/", deployed: false),
            Fault(name: "ip -batch fails while a deployed host is changed", program: "ip", trigger: "-batch", deployed: true),
            Fault(name: "\(Rules.tool.program) fails while a deployed host is changed", program: Rules.tool.program, trigger: Rules.tool.trigger, deployed: true),
            Fault(name: "dnsmasq of a new network fails while a deployed host is changed", program: "dnsmasq", trigger: "/networks/ops/", deployed: true),
        ]

        @Test("a failed apply exits 1 with the command's stderr and leaves the host as it was", arguments: faults)
        func failedApplyRollsBack(_ fault: Fault) async throws {
            try await withHost("fault") { host in
                let lab = try host.file("lab.yaml", Files.lab)
                if fault.deployed { try #require(try host.moat(["apply", lab]).status == 0) }
                let file = fault.deployed ? try host.file("changed.yaml", Files.labChanged) : lab
                let pidsBefore = host.dnsmasqPids()
                let before = try host.fingerprint()
                let filesBefore = host.stateFiles()
                let standIns = try StandIns(in: host)
                try standIns.failing(fault.program, when: fault.trigger, message: fault.message)

                let apply = try host.moat(["apply", file], environment: standIns.environment)
                #expect(apply.status == 1, "\(apply)")
                #expect(apply.stderr.contains(fault.message), "\(apply)")
                let after = try host.fingerprint()
                if fault.afterFirewallOnFreshTables && Environment.firewall == "iptables" {
                    // The transaction made the filter, nat and mangle tables; the rollback empties
                    // them but iptables has no way to delete a table, so they stay, empty. (The
                    // nftables backend deletes its table: byte for byte as before.)
                    withKnownIssue("bug: a rolled-back apply leaves the iptables tables it created behind, empty") {
                        #expect(after == before, "\(lineDiff(expected: before, actual: after))")
                    }
                    let (trimmedBefore, trimmedAfter) = (TestHost.withoutEmptyTables(before), TestHost.withoutEmptyTables(after))
                    #expect(trimmedAfter == trimmedBefore, "\(lineDiff(expected: trimmedBefore, actual: trimmedAfter))")
                } else {
                    #expect(after == before, "\(lineDiff(expected: before, actual: after))")
                }
                #expect(host.stateFiles() == filesBefore)
                #expect(host.dnsmasqPids().keys.sorted() == pidsBefore.keys.sorted())
                if fault.deployed {
                    // Back to exactly the old file's host.
                    let plan = try host.moat(["plan", "--detailed-exitcode", lab])
                    #expect(plan.status == 0, "\(plan)")
                    #expect(host.dnsmasqPids()["dmz"] == pidsBefore["dmz"], "dmz was never part of the change")
                } else {
                    #expect(host.anyDnsmasqAlive().isEmpty)
                }
            }
        }

        @Test("after a kill -9 in the middle of apply, the next apply says so and converges")
        func killedApplyConverges() async throws {
            try await withHost("kill") { host in
                let file = try host.file("moat.yaml", Files.lab)
                // Held while it starts lab's dnsmasq: the bridges, firewall and dmz's dnsmasq are done.
                let standIns = try StandIns(in: host)
                let (_, waiting) = try standIns.gated("dnsmasq", when: "/networks/lab/")
                let apply = try host.moatInBackground(["apply", file], environment: standIns.environment)
                try #require(poll(tries: 400) { FileManager.default.fileExists(atPath: waiting) || !apply.isRunning }, "the apply reached lab's dnsmasq")
                try #require(apply.isRunning, "\(apply.wait(seconds: 1)?.description ?? "")")
                #expect(FileManager.default.fileExists(atPath: "\(host.runDir)/journal.json"))
                apply.signal(SIGKILL)
                #expect(apply.wait(seconds: 10) != nil)
                // The stand-in waiting for the gate, orphaned by the kill: ended by its pid.
                if let text = try? String(contentsOfFile: waiting, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                    kill(pid, SIGKILL)
                }

                // plan sees what apply will do: the interrupted run's dnsmasqs are restarted.
                let pending = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(pending.status == 2, "\(pending)")
                #expect(pending.stdout.contains("dmz  dnsmasq: restart (the last run was interrupted)"), "\(pending)")
                let status = try host.moat(["status", file])
                #expect(status.stdout.contains("dmz: apply would change dnsmasq: restart (the last run was interrupted)"), "\(status)")

                let recover = try host.moat(["apply", file])
                #expect(recover.status == 0, "\(recover)")
                #expect((recover.stdout + recover.stderr).contains("interrupted"), "\(recover)")
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 0, "\(plan)")
                #expect(host.dnsmasqPids().keys.sorted() == ["dmz", "lab"])
                #expect(host.anyDnsmasqAlive().count == 2, "no orphaned dnsmasq: \(host.anyDnsmasqAlive())")
            }
        }

        @Test("after a kill -9 as soon as the journal exists, destroy --all leaves nothing")
        func killedApplyThenDestroyLeavesNothing() async throws {
            try await withHost("killd") { host in
                let file = try host.file("moat.yaml", Files.lab)
                let before = try host.fingerprint()
                // The gate only keeps the apply from finishing before the kill lands.
                let standIns = try StandIns(in: host)
                let (_, waiting) = try standIns.gated("dnsmasq", when: "/networks/lab/")
                let journal = "\(host.runDir)/journal.json"
                let apply = try host.moatInBackground(["apply", file], environment: standIns.environment)
                try #require(poll(tries: 2000, every: 0.005) { FileManager.default.fileExists(atPath: journal) || !apply.isRunning })
                try #require(apply.isRunning, "\(apply.wait(seconds: 1)?.description ?? "")")
                apply.signal(SIGKILL)
                #expect(apply.wait(seconds: 10) != nil)
                if let text = try? String(contentsOfFile: waiting, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                    kill(pid, SIGKILL)
                }

                let destroy = try host.moat(["destroy", "--all"])
                #expect(destroy.status == 0, "\(destroy)")
                #expect((destroy.stdout + destroy.stderr).contains("interrupted"), "\(destroy)")
                let rules = try host.exec(["iptables-save"])
                #expect(!rules.contains("MOAT") && !rules.contains("moat"), "\(rules)")
                let links = try host.exec(["ip", "-d", "link"])
                #expect(!links.contains("virbr10") && !links.contains("virbr11") && !links.contains("moat:"), "\(links)")
                #expect(host.anyDnsmasqAlive().isEmpty, "dnsmasq left: \(host.anyDnsmasqAlive())")
                let addresses = try host.exec(["ip", "-j", "addr"]).trimmingCharacters(in: .newlines)
                let addressesBefore = try Self.addresses(of: before)
                #expect(addresses == addressesBefore, "\(lineDiff(expected: addressesBefore, actual: addresses))")
            }
        }

        /// The `ip -j addr` half of a fingerprint.
        static func addresses(of fingerprint: String) throws -> String {
            try #require(fingerprint.split(separator: "\n").last.map(String.init))
        }
    }
}
