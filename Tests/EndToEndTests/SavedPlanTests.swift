import Foundation
import MoatTestSupport
import Testing

extension EndToEnd {
    /// `plan --out`, `show` and `apply PLANFILE`: what a reviewer approved is what runs, or
    /// nothing does.
    @Suite("saved plans")
    struct SavedPlanTests {
        /// A host with the lab applied and a plan of the changed lab saved.
        struct Saved {
            var lab: String
            var changed: String
            var planFile: String
            var planText: String
        }

        static func save(_ host: TestHost) throws -> Saved {
            let lab = try host.file("lab.yaml", Files.lab)
            try #require(try host.moat(["apply", lab]).status == 0)
            let changed = try host.file("changed.yaml", Files.labChanged)
            let planFile = host.folder.appendingPathComponent("reviewed.plan.json").path
            let plan = try host.moat(["plan", changed, "--out", planFile])
            try #require(plan.status == 0, "\(plan)")
            let text = try String(contentsOfFile: planFile, encoding: .utf8)
            try expectValidToSchema(planFile)
            return Saved(lab: lab, changed: changed, planFile: planFile, planText: text)
        }

        /// The host as far as a stale or refused plan must leave it.
        static func snapshot(_ host: TestHost) throws -> String {
            try host.fingerprint() + "\n" + host.dnsmasqPids().sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                + "\n" + host.stateFiles().sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.count)" }.joined(separator: "\n")
        }

        @Test("a saved plan applied later does exactly its steps; show prints it, as text and as the document")
        func appliedLater() async throws {
            try await withHost("saved") { host in
                let saved = try Self.save(host)
                let shown = try host.moat(["show", saved.planFile])
                #expect(shown.status == 0, "\(shown)")
                #expect(shown.stdout.contains("+ ops  bridge virbr12: create"), "\(shown)")
                #expect(shown.stdout.contains("ip link add name virbr12 type bridge forward_delay 0"), "\(shown)")
                let json = try host.moat(["show", saved.planFile, "--json"])
                #expect(json.stdout == saved.planText, "show --json gives back the document")

                let apply = try host.moat(["apply", saved.planFile])
                #expect(apply.status == 0, "\(apply)")
                let planned = try host.moat(["plan", "--detailed-exitcode", saved.changed])
                #expect(planned.status == 0, "the host is what the reviewed file says: \(planned)")
                // The steps it printed are the saved ones.
                let printed = apply.stdout.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                for step in try Self.objects(of: saved.planText) {
                    #expect(printed.contains(step), "\(step) missing from \(apply.stdout)")
                }
                // Applied once, the plan no longer fits: the host changed.
                let again = try host.moat(["apply", saved.planFile])
                #expect(again.status == 1 && again.stderr.contains("the saved plan is stale"), "\(again)")
            }
        }

        enum Change: String, CaseIterable, CustomTestStringConvertible, Sendable {
            case ruleDeleted, dnsmasqKilled, fileEdited
            var testDescription: String { rawValue }
        }

        @Test("a rule deleted, a dnsmasq killed or the file edited between plan and apply: stale, exit 1, nothing touched", arguments: Change.allCases)
        func stale(_ change: Change) async throws {
            try await withHost("stale") { host in
                let saved = try Self.save(host)
                switch change {
                case .ruleDeleted:
                    if Rules.nftables {
                        try Rules.nftDelete(in: "MOAT-FROM-lab", containing: "ct state invalid drop", host: host)
                    } else {
                        try host.exec(["iptables", "-D", "MOAT-FROM-lab", "1"])
                    }
                case .dnsmasqKilled:
                    let pid = try #require(host.dnsmasqPids()["dmz"])
                    kill(pid, SIGKILL)
                    #expect(poll { kill(pid, 0) != 0 })
                case .fileEdited:
                    try (Files.labChanged + "# edited after the review\n").write(toFile: saved.changed, atomically: true, encoding: .utf8)
                }
                let before = try Self.snapshot(host)
                let apply = try host.moat(["apply", saved.planFile])
                #expect(apply.status == 1, "\(apply)")
                #expect(apply.stderr.contains("the saved plan is stale; nothing was touched"), "\(apply)")
                let expected = change == .fileEdited ? "changed.yaml, changed since" : change == .ruleDeleted ? "network lab changed on the host" : "network dmz changed on the host"
                #expect(apply.stderr.contains(expected), "\(apply)")
                let after = try Self.snapshot(host)
                #expect(after == before, "\(lineDiff(expected: before, actual: after))")
            }
        }

        @Test(
            "a plan file with a rule line edited, a device renamed or a step added is refused, nothing touched",
            arguments: ["rule", "device", "step", "layout"])
        func tampered(_ edit: String) async throws {
            try await withHost("tamper") { host in
                let saved = try Self.save(host)
                var text = saved.planText
                switch edit {
                case "rule":
                    text =
                        Rules.nftables
                        ? text.replacingOccurrences(of: "ip saddr 192.168.102.0/24 ", with: "ip saddr 0.0.0.0/0 ")
                        : text.replacingOccurrences(of: "-s 192.168.102.0/24 -m comment", with: "-s 0.0.0.0/0 -m comment")
                case "device": text = text.replacingOccurrences(of: "virbr12", with: "eth0")
                case "step":
                    text = text.replacingOccurrences(
                        of: "\"steps\" : [\n", with: "\"steps\" : [\n    {\n      \"action\" : \"delete\",\n      \"changes\" : [\n\n      ],\n      \"code\" : \"changed\",\n      \"network\" : \"lab\",\n      \"object\" : \"bridge lan0\",\n      \"operations\" : [\n        \"ip link del dev lan0\"\n      ],\n      \"reason\" : \"edited\"\n    },\n")
                default: text = text.replacingOccurrences(of: "\n", with: " ")
                }
                #expect(text != saved.planText)
                try text.write(toFile: saved.planFile, atomically: true, encoding: .utf8)
                let before = try Self.snapshot(host)
                let apply = try host.moat(["apply", saved.planFile])
                #expect(apply.status == 1, "\(apply)")
                #expect(apply.stderr.contains("stale") || apply.stderr.contains("was changed after moat saved it"), "\(apply)")
                let after = try Self.snapshot(host)
                #expect(after == before, "\(lineDiff(expected: before, actual: after))")
            }
        }

        /// `network object: action` of each saved step, as the plan prints them (spaces single).
        static func objects(of planText: String) throws -> [String] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(planText.utf8)) as? [String: Any])
            let steps = try #require(object["steps"] as? [[String: Any]])
            return steps.compactMap { step in
                guard let what = step["object"] as? String, let action = step["action"] as? String else { return nil }
                return "\(step["network"] as? String ?? "*") \(what): \(action)"
            }
        }

        /// The plan file validates against schemas/moat-plan.schema.json.
        static func expectValidToSchema(_ file: String) throws {
            let root = Environment.packageRoot
            let ran = try Shell.run([
                "/usr/bin/env", "python3", root.appendingPathComponent("Tests/MoatConfigTests/Fixtures/schema_check.py").path,
                root.appendingPathComponent("schemas/moat-plan.schema.json").path, file,
            ])
            #expect(ran.status == 0 && ran.stdout.contains("\"valid\": true"), "\(ran)")
        }
    }
}
