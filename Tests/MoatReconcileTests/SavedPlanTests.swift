import Foundation
import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatTestSupport

@Suite("Saved plans")
struct SavedPlanTests {
    static let host = SavedPlan.HostIdentity(hostname: "lab-host", machineID: "0123456789abcdef0123456789abcdef")

    func saved(live: HostState = HostState(), host: SavedPlan.HostIdentity = Self.host) -> SavedPlan {
        let config = labConfig()
        let plan = Diff.plan(desired: DesiredState.render(config, paths: paths), live: live, paths: paths)
        return SavedPlan(
            plan: plan, arguments: [], files: [.init(path: "/etc/moat/moat.yaml", text: "version: 1\n")], host: host, live: live, config: config,
            paths: paths, moatVersion: "0.1.0")
    }

    @Test("SHA-256 gives the standard's test vectors")
    func sha256() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(String(repeating: "a", count: 1000)).count == 64)
    }

    @Test("a saved plan reads back as itself, and holds every operation's lines")
    func roundTrip() throws {
        let plan = saved()
        let back = try SavedPlan(parsing: plan.text, from: "p.json")
        #expect(back == plan)
        #expect(plan.text.contains("\"format_version\" : 2"))
        let lines = plan.steps.flatMap(\.operations)
        #expect(lines.contains("ip link add name virbr10 type bridge forward_delay 0"))
        #expect(lines.contains { $0.hasPrefix("iptables -t filter -A MOAT-IN-lab ") })
        #expect(lines.contains("dnsmasq --conf-file=\(paths.dnsmasqConfig("lab"))"))
        #expect(SavedPlan.looksLikePlan(plan.text))
        #expect(!SavedPlan.looksLikePlan("version: 1\nnetworks: {}\n"))
        #expect(!SavedPlan.looksLikePlan("{\"version\": 1, \"networks\": {}}"))
    }

    @Test(
        "a plan file of another kind or format, with unknown fields, or not as moat wrote it, is refused",
        arguments: [
            ("\"format_version\" : 2", "\"format_version\" : 1"), ("\"kind\" : \"moat-plan\"", "\"kind\" : \"moat-other\""),
            ("\"steps\" : [", "\"extra\" : 1,\n  \"steps\" : ["), ("\"steps\" : [", "\"steps\":["), ("\"command\" : \"apply\"", "\"command\" : \"destroy\""),
        ])
    func refused(_ edit: (String, String)) throws {
        let text = saved().text
        #expect(text.contains(edit.0))
        #expect(throws: MoatError.self) { try SavedPlan(parsing: text.replacingOccurrences(of: edit.0, with: edit.1), from: "p.json") }
    }

    @Test("malformed plan files are errors, never a crash", arguments: ["", "not json", "{\"kind\": \"moat-plan\"}", "[]", "{\"kind\": 1}"])
    func malformed(_ text: String) {
        #expect(throws: MoatError.self) { try SavedPlan(parsing: text, from: "p.json") }
    }

    @Test("a plan edited consistently (a device renamed, a rule changed) reads, but no longer matches planning its file")
    func editedSteps() throws {
        let plan = saved()
        for (old, new) in [("virbr10", "virbr66"), ("--dport 22", "--dport 23")] {
            let edited = try SavedPlan(parsing: plan.text.replacingOccurrences(of: old, with: new), from: "p.json")
            #expect(!edited.staleness(comparedWith: plan).isEmpty, "\(old) → \(new)")
        }
        var added = plan
        added.steps.append(.init(network: "lab", object: "bridge eth0", action: "delete", reason: "x", code: "changed", changes: [], operations: ["ip link del dev eth0"]))
        #expect(added.staleness(comparedWith: plan).contains { $0.contains("bridge eth0") })
    }

    @Test("staleness names another host, a changed network and different steps; an unchanged host has none")
    func staleness() {
        let plan = saved()
        #expect(plan.staleness(comparedWith: saved()).isEmpty)
        #expect(plan.staleness(comparedWith: saved(host: .init(hostname: "other", machineID: "x"))).first?.contains("this host is other") == true)
        let deployedHost = deployed(DesiredState.render(labConfig(), paths: paths))
        let changes = plan.staleness(comparedWith: saved(live: deployedHost))
        #expect(changes.contains("network lab appeared on the host"))
        #expect(changes.contains { $0.contains("would now be different or not needed") })
    }

    @Test("a saved plan validates against schemas/moat-plan.schema.json")
    func schema() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("moat-plan-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try saved(live: deployed(DesiredState.render(labConfig(withDMZ: false), paths: paths))).text.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", root.appendingPathComponent("Tests/MoatConfigTests/Fixtures/schema_check.py").path,
            root.appendingPathComponent("schemas/moat-plan.schema.json").path, file.path,
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0 && text.contains("\"valid\": true"), "\(text)")
    }

    @Test("the live digest leaves out a foreign device without addresses, not one with an address")
    func digestScope() {
        var live = HostState()
        let before = live.digests(devices: ["virbr10"])
        live.foreignLinks["veth1234"] = Link(name: "veth1234", kind: "veth")
        #expect(live.digests(devices: ["virbr10"]) == before, "a container's veth does not make plans stale")
        live.foreignLinks["eth9"] = Link(name: "eth9", addresses: [IPv4CIDR(address: IPv4Address(0x0A00_0001), prefix: 24)])
        #expect(live.digests(devices: ["virbr10"]) != before)
    }
}
