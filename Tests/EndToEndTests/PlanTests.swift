import Foundation
import Testing

extension EndToEnd {
    @Suite("plan")
    struct PlanTests {
        @Test("plan on an empty host reports pending changes (exit 2) and changes nothing")
        func planChangesNothing() async throws {
            try await withHost("plan") { host in
                let file = try host.file("moat.yaml", Files.lab)
                let before = try host.fingerprint()
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 2, "\(plan)")
                #expect(Set(TestHost.steps(of: plan.stdout).map(\.network)).isSuperset(of: ["lab", "dmz"]), "\(plan)")
                #expect(try host.fingerprint() == before)
                #expect(host.dnsmasqPids().isEmpty)
            }
        }

        @Test("every JSON document carries format_version, an error with --json too, on stdout")
        func jsonDocuments() async throws {
            try await withHost("pjson") { host in
                let file = try host.file("moat.yaml", Files.lab)
                let bad = try host.file("bad.yaml", "version: 1\nnetworks:\n  lab:\n    bridge: virbr10\n    address: nope\n")
                for (arguments, status) in [(["plan", "--json", file], 0), (["status", "--json", file], 0), (["plan", "--json", bad], 1), (["validate", "--json", bad], 1)] {
                    let ran = try host.moat(arguments)
                    #expect(ran.status == Int32(status), "\(arguments): \(ran)")
                    let object = try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any]
                    #expect(object?["format_version"] as? Int == 1, "\(arguments): \(ran.stdout)")
                    if arguments[0] == "plan" && status == 1 {
                        let error = object?["error"] as? [String: Any]
                        #expect(error?["exit_code"] as? Int == 1)
                        #expect((error?["diagnostics"] as? [Any])?.isEmpty == false, "the file's diagnostics: \(ran.stdout)")
                    }
                }
            }
        }

        @Test("plan --destroy lists the networks' removals, honours --json and --detailed-exitcode, and changes nothing")
        func planDestroy() async throws {
            try await withHost("pdestroy") { host in
                let file = try host.file("moat.yaml", Files.lab)
                let nothing = try host.moat(["plan", "--destroy", "--detailed-exitcode", file])
                #expect(nothing.status == 0 && nothing.stdout.contains("Nothing to destroy"), "\(nothing)")
                #expect(try host.moat(["plan", "--all", file]).status == 64, "--all needs --destroy")

                try #require(try host.moat(["apply", file]).status == 0)
                let applied = try host.fingerprint()
                let pids = host.dnsmasqPids()
                let only = try host.file("dmz.yaml", "version: 1\nnetworks:\n  dmz:\n    bridge: virbr11\n    address: 192.168.101.1/24\n")
                for (arguments, networks) in [([file], ["lab", "dmz"]), ([only], ["dmz"]), (["--all"], ["lab", "dmz"])] {
                    let plan = try host.moat(["plan", "--destroy", "--detailed-exitcode"] + arguments)
                    #expect(plan.status == 2, "\(plan)")
                    let steps = TestHost.steps(of: plan.stdout)
                    #expect(Set(steps.map(\.network)).subtracting(["*"]) == Set(networks), "\(plan)")
                    #expect(steps.filter { $0.network != "*" }.allSatisfy { $0.line.trimmingCharacters(in: .whitespaces).hasPrefix("-") }, "only removals: \(plan)")

                    let json = try host.moat(["plan", "--destroy", "--json"] + arguments)
                    #expect(json.status == 0, "\(json)")
                    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json)")
                    #expect(object["changes"] as? Bool == true && object["applied"] == nil, "\(json)")
                    let stepNetworks = (object["steps"] as? [[String: Any]] ?? []).compactMap { $0["network"] as? String }
                    #expect(Set(stepNetworks) == Set(networks), "\(json)")
                }
                #expect(try host.fingerprint() == applied)
                #expect(host.dnsmasqPids() == pids)
                #expect(!FileManager.default.fileExists(atPath: "\(host.runDir)/journal.json"))
            }
        }

        @Test("destroy --json reports like apply --json, with \"applied\": true")
        func destroyJSON() async throws {
            try await withHost("djson") { host in
                let file = try host.file("moat.yaml", Files.lab)
                try #require(try host.moat(["apply", file]).status == 0)
                let destroy = try host.moat(["destroy", "--json", file])
                #expect(destroy.status == 0, "\(destroy)")
                let object = try #require(try JSONSerialization.jsonObject(with: Data(destroy.stdout.utf8)) as? [String: Any], "\(destroy)")
                #expect(object["applied"] as? Bool == true, "\(destroy)")
                #expect(object["changes"] as? Bool == true, "\(destroy)")
                let summary = try #require(object["summary"] as? [String: Any], "\(destroy)")
                #expect(summary["destroy"] as? Int ?? 0 > 0 && summary["add"] as? Int == 0, "\(destroy)")
                #expect(host.dnsmasqPids().isEmpty)

                let again = try host.moat(["destroy", "--all", "--json"])
                #expect(again.status == 0, "\(again)")
                let empty = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any], "\(again)")
                #expect(empty["applied"] as? Bool == true && empty["changes"] as? Bool == false, "\(again)")
            }
        }

        @Test("a foreign bridge with the file's bridge name is a plan error naming it")
        func foreignBridgeIsAConflict() async throws {
            try await withHost("foreign") { host in
                try host.exec(["ip", "link", "add", "virbr10", "type", "bridge"])
                let file = try host.file("moat.yaml", Files.lab)
                let before = try host.fingerprint()
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 1, "\(plan)")
                #expect(plan.stderr.contains("virbr10"), "\(plan)")
                // Nor does apply adopt or touch it.
                let apply = try host.moat(["apply", file])
                #expect(apply.status == 1, "\(apply)")
                #expect(apply.stderr.contains("virbr10"), "\(apply)")
                #expect(try host.fingerprint() == before)
            }
        }

        @Test("an interface that does not exist is a plan error naming it")
        func missingInterfaceIsAnError() async throws {
            try await withHost("noif") { host in
                let file = try host.file(
                    "moat.yaml",
                    """
                    version: 1
                    networks:
                      board:
                        interface: usbeth9
                        address: 10.20.0.1/24

                    """)
                let plan = try host.moat(["plan", "--detailed-exitcode", file])
                #expect(plan.status == 1, "\(plan)")
                #expect(plan.stderr.contains("usbeth9"), "\(plan)")
            }
        }

        @Test("a missing dnsmasq is an error naming its Debian package, before anything is touched")
        func missingDependencyNamesPackage() async throws {
            try await withHost("nodeps") { host in
                // A PATH with every program moat runs but dnsmasq.
                let bin = host.folder.appendingPathComponent("bin")
                try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
                for program in ["ip", "iptables", "iptables-save", "iptables-restore"] {
                    let real = try #require(Shell.which(program))
                    try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent(program).path, withDestinationPath: real)
                }
                let file = try host.file("moat.yaml", Files.lab)
                let before = try host.fingerprint()
                for command in [["plan", file], ["apply", file]] {
                    let ran = try host.moat(command, environment: ["PATH": bin.path])
                    #expect(ran.status == 1, "\(ran)")
                    #expect(ran.stderr.contains("dnsmasq-base"), "\(ran)")
                }
                #expect(try host.fingerprint() == before)
            }
        }
    }
}
