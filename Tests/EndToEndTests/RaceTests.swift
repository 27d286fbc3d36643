import Foundation
import MoatTestSupport
import Testing

extension EndToEnd {
    /// Applies and destroys of two different files racing, with `status` reading the host
    /// all along. The lock serializes what changes the host; nothing may crash or be left
    /// half-made, and the host ends as the last successful command left it. (prune is
    /// global: an apply of one file removes the other's networks; that is expected.)
    @Suite("racing commands")
    struct RaceTests {
        static let first = """
            version: 1
            networks:
              ra:
                bridge: mbra
                address: 10.80.0.1/24
              rb:
                bridge: mbrb
                address: 10.80.1.1/24
                dhcp: { hosts: [{ mac: "52:54:00:80:01:0a", ip: 10.80.1.10, name: racer }] }

            """
        static let second = """
            version: 1
            networks:
              rc:
                bridge: mbrc
                address: 10.81.0.1/24
                forwards: [{ proto: tcp, port: 31000, to: "10.81.0.10:22" }]

            """

        /// One command a racer ran, and when it ended.
        struct Ended: Sendable {
            var arguments: [String]
            var ran: Ran
            var at: Date
        }

        /// Runs `rounds` commands on a thread of its own (each waits on a process; the
        /// cooperative pool has one thread a core), and collects what each did.
        final class Racer: @unchecked Sendable {
            private let lock = NSLock()
            private var ended: [Ended] = []
            private let done = DispatchSemaphore(value: 0)

            init(_ commands: [[String]], host: TestHost) {
                Thread.detachNewThread { [self] in
                    for arguments in commands {
                        let ran = (try? host.moat(arguments)) ?? Ran(argv: arguments, status: -1, stdout: "", stderr: "could not run")
                        lock.withLock { ended.append(Ended(arguments: arguments, ran: ran, at: Date())) }
                    }
                    done.signal()
                }
            }

            func wait() -> [Ended] {
                done.wait()
                return lock.withLock { ended }
            }
        }

        @Test("two files applied and destroyed at once, status throughout: exit 0 or 75 each, the host as the last success left it, nothing half-made")
        func race() async throws {
            try await withHost("race") { host in
                let empty = try host.image()
                let first = try host.file("first.yaml", Self.first)
                let second = try host.file("second.yaml", Self.second)
                let rounds = 6
                // Half of the changes wait for the lock, half meet it and give up (exit 75).
                func changes(_ file: String) -> [[String]] {
                    (0..<rounds).flatMap { round in
                        let wait = round % 2 == 0 ? ["--lock-timeout", "20"] : []
                        return [["apply", file] + wait, ["destroy", file] + wait, ["apply", file] + wait]
                    }
                }
                let racers = [
                    Racer(changes(first), host: host), Racer(changes(second), host: host),
                    Racer(Array(repeating: ["status"], count: rounds * 4), host: host),
                    Racer(Array(repeating: ["plan", first], count: rounds * 2), host: host),
                ]
                let ended = racers.flatMap { $0.wait() }

                for command in ended {
                    let allowed: Set<Int32> =
                        switch command.arguments[0] {
                        case "status": [0]
                        case "plan": [0, 2]
                        default: [0, 75]
                        }
                    #expect(allowed.contains(command.ran.status), "\(command.ran)")
                    #expect(!command.ran.stderr.contains("Fatal error"), "\(command.ran)")
                }
                let changed = ended.filter { ["apply", "destroy"].contains($0.arguments[0]) }
                let succeeded = changed.filter { $0.ran.status == 0 }.sorted { $0.at < $1.at }
                #expect(changed.contains { $0.ran.status == 75 }, "some command met the lock")
                let last = try #require(succeeded.last)
                let file = last.arguments[1]
                let other = file == first ? second : first
                let mine = file == first ? ["ra", "rb"] : ["rc"]
                let status = try host.moat(["status", "--json"])
                if last.arguments[0] == "apply" {
                    let plan = try host.moat(["plan", "--detailed-exitcode", file])
                    #expect(plan.status == 0, "the host is \(file), the last file applied: \(plan)")
                    #expect(host.dnsmasqPids().keys.sorted() == mine, "\(status)")
                } else {
                    // The last success destroyed `file`'s networks; the other file's are as its
                    // last apply left them (or were pruned by an apply of this file).
                    for network in mine { #expect(!status.stdout.contains("\"\(network)\""), "\(network) destroyed: \(status)") }
                    let plan = try host.moat(["plan", "--detailed-exitcode", other])
                    let otherNetworks = other == first ? ["ra", "rb"] : ["rc"]
                    if host.dnsmasqPids().keys.sorted() == otherNetworks {
                        #expect(plan.status == 0, "\(plan)")
                    } else {
                        #expect(host.dnsmasqPids().isEmpty, "\(host.dnsmasqPids())")
                    }
                }
                #expect(!FileManager.default.fileExists(atPath: "\(host.runDir)/journal.json"), "no run left unfinished")
                #expect(host.anyDnsmasqAlive().count == host.dnsmasqPids().count, "no orphaned dnsmasq")
                #expect(try host.moat(["destroy", "--all"]).status == 0)
                let after = try host.image()
                #expect(after == empty, "\(empty.difference(after))")
            }
        }
    }
}
