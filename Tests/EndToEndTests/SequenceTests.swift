import Foundation
import MoatCore
import MoatHost
import MoatTestSupport
import Testing

extension EndToEnd {
    /// Random files applied in sequence, with faults and kills at random steps, against the
    /// model: after each apply the host is what `render` says the file is, and nothing of a
    /// network not in the file is left; after a failure it is exactly the host before that
    /// apply, guests still plugged in; after a kill the next apply converges.
    ///
    /// `MOAT_SEED=N` replays one seed; `MOAT_SOAK_SECONDS=S` (`make soak`) runs seed after
    /// seed for that long. Every failing expectation names its seed and step.
    @Suite("random sequences")
    struct SequenceTests {
        /// What a bounded run (`make test`) does: a few seeds of a dozen steps.
        static let seeds: [UInt64] = [1, 2, 3]
        static let steps = 12
        static let soakSteps = 40

        /// What one sequence did, for the closing count.
        struct Tally: CustomStringConvertible {
            var steps = 0, applies = 0, faults = 0, rolledBack = 0, failedAfterVerify = 0, kills = 0, seeds = 0
            var description: String {
                "\(seeds) seeds, \(steps) steps: \(applies) applies, \(faults) faults (\(rolledBack) rolled back, "
                    + "\(failedAfterVerify) after verification), \(kills) kills"
            }
            mutating func add(_ other: Tally) {
                (steps, applies, faults, rolledBack) = (steps + other.steps, applies + other.applies, faults + other.faults, rolledBack + other.rolledBack)
                (failedAfterVerify, kills, seeds) = (failedAfterVerify + other.failedAfterVerify, kills + other.kills, seeds + other.seeds)
            }
        }

        @Test("seeded sequences of random files, faults and kills keep the host equal to the file, or to the host before a failed apply")
        func sequences() async throws {
            let environment = ProcessInfo.processInfo.environment
            var tally = Tally()
            if let soak = environment["MOAT_SOAK_SECONDS"].flatMap(Double.init) {
                let start = Date()
                var seed = environment["MOAT_SEED"].flatMap(UInt64.init) ?? UInt64(Date().timeIntervalSince1970)
                while Date().timeIntervalSince(start) < soak {
                    tally.add(try await Self.run(seed: seed, steps: Self.soakSteps))
                    seed += 1
                }
            } else if let seed = environment["MOAT_SEED"].flatMap(UInt64.init) {
                tally.add(try await Self.run(seed: seed, steps: environment["MOAT_STEPS"].flatMap(Int.init) ?? Self.soakSteps))
            } else {
                for seed in Self.seeds { tally.add(try await Self.run(seed: seed, steps: Self.steps)) }
            }
            print("moat sequence tests: \(tally)")
            #expect(tally.steps > 0)
        }

        /// One seed's sequence on a fresh host, and the leak check after it: no namespace,
        /// process, chain, device or file of moat's outlives it.
        static func run(seed: UInt64, steps: Int) async throws -> Tally {
            var tally = Tally(seeds: 1)
            var namespace = "", folder = "", stateDir = ""
            try await withHost("seq") { host in
                (namespace, folder, stateDir) = (host.namespace, host.folder.path, host.stateDir)
                try host.exec(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
                try host.exec(["ip", "link", "add", GeneratedFile.interfaceDevice, "type", "veth", "peer", "name", "mi0-peer"])
                try host.exec(["ip", "link", "add", GeneratedFile.uplink, "type", "veth", "peer", "name", "up0-peer"])
                let empty = try host.image()
                var sequence = Sequence(host: host, seed: seed)
                for step in 1...steps {
                    sequence.step = step
                    try sequence.next()
                }
                let destroy = try host.moat(["destroy", "--all"])
                #expect(destroy.status == 0, "\(sequence.context): destroy --all: \(destroy)")
                // The guests' veths are the test's, not moat's: deleted before the comparison.
                try sequence.unplugAll()
                let end = try host.image()
                #expect(end == empty, "\(sequence.context): after destroy --all: \(empty.difference(end))")
                tally = sequence.tally
            }
            let namespaces = try Shell.must(["ip", "netns", "list"])
            #expect(!namespaces.contains(namespace), "MOAT_SEED=\(seed): namespace \(namespace) left")
            #expect(!FileManager.default.fileExists(atPath: folder), "MOAT_SEED=\(seed): \(folder) left")
            #expect(TestHost.dnsmasqs(reading: stateDir).isEmpty, "MOAT_SEED=\(seed): dnsmasq left")
            return tally
        }
    }
}

/// One seed's run: the files applied so far, what each step did, and the model checks.
struct Sequence {
    let host: TestHost
    let seed: UInt64
    var random: SeededRandom
    var step = 0
    var tally = EndToEnd.SequenceTests.Tally(seeds: 1)
    /// The file the host matches now (nil: none yet).
    var current: GeneratedFile?
    /// Each plugged guest port by the bridge it is on, with the bridge's ifindex and network.
    var plugged: [String: (port: String, bridgeIndex: String, network: String)] = [:]

    init(host: TestHost, seed: UInt64) {
        self.host = host
        self.seed = seed
        random = SeededRandom(seed: seed)
    }

    var context: String { "MOAT_SEED=\(seed) step \(step)" }

    /// A fault for one apply: a stand-in program failing once, or a test point of the binary failing.
    enum Fault: CustomStringConvertible {
        case program(String, when: String?)
        case point(String)
        var description: String {
            switch self {
            case .program(let program, let trigger): "\(program) fails\(trigger.map { " (\($0))" } ?? "")"
            case .point(let point): "test point \(point) fails"
            }
        }
    }

    mutating func next() throws {
        let file = GeneratedFile(using: &random)
        let path = try host.file("step-\(step).yaml", file.yaml)
        tally.steps += 1
        let roll = Int.random(in: 0..<20, using: &random)
        if roll < 5 {
            try fault(file, path)
        } else if roll < 8 {
            try kill(file, path)
        } else {
            try apply(file, path)
        }
    }

    /// A plain apply: exit 0, and the host is the file.
    mutating func apply(_ file: GeneratedFile, _ path: String, _ why: String = "apply") throws {
        tally.applies += 1
        let apply = try host.moat(["apply", path])
        #expect(apply.status == 0, "\(context): \(why) of\n\(file)\n\(apply)")
        guard apply.status == 0 else { return }
        try checkMatches(file, path)
        current = file
        try plugGuests(file)
    }

    mutating func fault(_ file: GeneratedFile, _ path: String) throws {
        let fault: Fault = random.pick([
            .program("ip", when: "-batch"), .program(Rules.tool.program, when: Rules.tool.trigger), .program("dnsmasq", when: nil),
            .program("conntrack", when: nil), .point("\(Int.random(in: 1...30, using: &random))"), .point("sysctl"),
            .point("journal.json"), .point("signal"), .point("write"), .point("remove"),
        ])
        let before = try host.image()
        let standIns = try StandIns(in: host)
        var environment: [String: String] = [:]
        switch fault {
        case .program(let program, let trigger):
            try standIns.failingOnce(program, when: trigger, message: "stand-in \(program): injected failure")
            environment = standIns.environment
        case .point(let point):
            environment[TestPointSystem.Variable.failAt] = point
        }
        let apply = try host.moat(["apply", path], environment: environment)
        let what = "\(context): apply with \(fault) of\n\(file)\n\(apply)"
        if apply.status == 0 {
            // The fault struck nothing this apply runs.
            tally.applies += 1
            try checkMatches(file, path)
            current = file
            try plugGuests(file)
            return
        }
        tally.faults += 1
        #expect(apply.status == 1, "\(what)")
        if apply.stderr.contains("applied and verified the changes") {
            // A step that cannot be undone (deleting a bridge, removing files, cutting
            // connections) failed after the new state was verified: the next apply finishes.
            tally.failedAfterVerify += 1
            try self.apply(file, path, "the apply after a failure past verification")
            return
        }
        tally.rolledBack += 1
        #expect(apply.stderr.contains("rolled back"), "\(what)")
        let after = try host.image().byNetwork
        #expect(after == before.byNetwork, "\(what)\nthe host differs from before the apply: \(before.byNetwork.difference(after))")
        if let current {
            let plan = try host.moat(["plan", "--detailed-exitcode", try host.file("current.yaml", current.yaml)])
            #expect(plan.status == 0, "\(what)\nthe last file no longer matches: \(plan)")
        }
    }

    mutating func kill(_ file: GeneratedFile, _ path: String) throws {
        let point = random.chance(0.5) ? "\(Int.random(in: 1...30, using: &random))" : random.pick(["journal.json", "run dnsmasq", "sysctl", "remove", "signal", Rules.tool.program, "ip -batch"])
        let apply = try host.moat(["apply", path], environment: [TestPointSystem.Variable.killAt: point])
        if apply.status == SIGKILL {
            tally.kills += 1
            try self.apply(file, path, "the apply after a kill at point \(point)")
        } else {
            #expect(apply.status == 0, "\(context): apply to be killed at \(point) of\n\(file)\n\(apply)")
            tally.applies += 1
            try checkMatches(file, path)
            current = file
            try plugGuests(file)
        }
    }

    // MARK: - The model

    /// The host is what the file renders to, and nothing of another network is left.
    func checkMatches(_ file: GeneratedFile, _ path: String) throws {
        let what = "\(context): after applying\n\(file)"
        let plan = try host.moat(["plan", "--detailed-exitcode", path])
        #expect(plan.status == 0, "\(what)\n\(plan)")

        let rendered = host.folder.appendingPathComponent("rendered-\(step)")
        defer { try? FileManager.default.removeItem(at: rendered) }
        let render = try host.moat([
            "render", path, "--out", rendered.path, "--state-dir", host.stateDir, "--run-dir", host.runDir, "--resolver", "203.0.113.53",
        ])
        try #require(render.status == 0, "\(what)\n\(render)")
        if Rules.nftables {
            let want = try Rules.loaded(nft: try String(contentsOf: rendered.appendingPathComponent("nftables.nft"), encoding: .utf8), host: host)
            let have = NftablesBackend.parseRuleset(json: try host.exec(["nft", "-j", "list", "ruleset"])).chains
            #expect(have == want, "\(what)\nfirewall: \(have) is not \(want)")
            #expect(!(try host.exec(["iptables-save"]).contains("MOAT")), "\(what)\nno rule of moat's in iptables")
        } else {
            let want = Firewall(try String(contentsOf: rendered.appendingPathComponent("iptables.rules"), encoding: .utf8))
            let have = Firewall(try host.exec(["iptables-save"]))
            #expect(have == want, "\(what)\nfirewall: \(lineDiff(expected: want.description, actual: have.description))")
        }

        // dnsmasq: the rendered files, and a process for exactly the networks that have them.
        let dnsmasqDir = rendered.appendingPathComponent("dnsmasq")
        let withDnsmasq = ((try? FileManager.default.contentsOfDirectory(atPath: dnsmasqDir.path)) ?? []).sorted()
        #expect(host.dnsmasqPids().keys.sorted() == withDnsmasq, "\(what)\ndnsmasq of \(host.dnsmasqPids())")
        for network in withDnsmasq {
            for name in ["dnsmasq.conf", "dhcp-hosts", "hosts"] {
                let wanted = try String(contentsOf: dnsmasqDir.appendingPathComponent("\(network)/\(name)"), encoding: .utf8)
                let found = try? String(contentsOfFile: "\(host.stateDir)/networks/\(network)/\(name)", encoding: .utf8)
                #expect(found == wanted, "\(what)\n\(network)/\(name)")
            }
        }
        // moat's files: a folder per network of the file, a pid file per dnsmasq, no journal.
        let folders = ((try? FileManager.default.contentsOfDirectory(atPath: "\(host.stateDir)/networks")) ?? []).sorted()
        let names = file.networks.map(\.name).sorted()
        #expect(folders.allSatisfy(names.contains), "\(what)\nstate folders \(folders)")
        let runFiles = host.runFiles().keys.sorted()
        #expect(runFiles == withDnsmasq.map { "run/dnsmasq-\($0).pid" }, "\(what)\nrun dir \(runFiles)")
        let leftovers = host.stateFiles().keys.filter { $0.hasSuffix(".moat-new") }
        #expect(leftovers.isEmpty, "\(what)\n\(leftovers)")

        // Devices: each network's with its address; no bridge of moat's that the file lacks.
        let devices = try HostImage.devices(of: host)
        for network in file.networks {
            let device = network.bridge ?? GeneratedFile.interfaceDevice
            let line = devices.first { $0.split(separator: " ").dropFirst().first.map(String.init) == device }
            #expect(line?.contains("addresses=\(network.address)") == true, "\(what)\n\(network.name): \(line ?? "no \(device)")")
        }
        let bridges = Set(file.networks.compactMap(\.bridge))
        let owned = devices.filter { $0.contains("alias=moat:") }.compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
        #expect(Set(owned) == bridges, "\(what)\nmoat's bridges \(owned)")
        if !file.networks.contains(where: { $0.bridge == nil }) {
            let line = devices.first { $0.contains(" \(GeneratedFile.interfaceDevice) ") }
            #expect(line?.contains("addresses= ") == true || line?.hasSuffix("addresses=") == true, "\(what)\nmi0 given back: \(line ?? "gone")")
        }
        // A guest plugged into a bridge the file keeps for the same network is still on it, and
        // it is the same bridge. (A network's name is its identity: renamed, it is a new network
        // with a new bridge.)
        for (bridge, guest) in plugged where file.networks.contains(where: { $0.bridge == bridge && $0.name == guest.network }) {
            let line = devices.first { $0.contains(" \(guest.port) ") }
            #expect(line?.contains("master=\(bridge)") == true, "\(what)\nguest \(guest.port) on \(bridge): \(line ?? "gone")")
            let index = devices.first { $0.split(separator: " ").dropFirst().first.map(String.init) == bridge }?.split(separator: " ").first
            #expect(index.map(String.init) == guest.bridgeIndex, "\(what)\n\(bridge) was re-created")
        }
    }

    /// A guest's veth on every bridge of the file (`gh<slot>`, its peer `gp<slot>`), as a VM's tap would be.
    mutating func plugGuests(_ file: GeneratedFile) throws {
        let devices = try HostImage.devices(of: host)
        func index(_ name: String) -> String? {
            devices.first { $0.split(separator: " ").dropFirst().first.map(String.init) == name }?.split(separator: " ").first.map(String.init)
        }
        plugged = plugged.filter { bridge, _ in file.networks.contains { $0.bridge == bridge } }
        for network in file.networks {
            guard let bridge = network.bridge, let bridgeIndex = index(bridge) else { continue }
            let port = "gh\(network.slot)"
            if index(port) == nil { try host.exec(["ip", "link", "add", port, "type", "veth", "peer", "name", "gp\(network.slot)"]) }
            try host.exec(["ip", "link", "set", port, "master", bridge, "up"])
            plugged[bridge] = (port, bridgeIndex, network.name)
        }
    }

    /// Deletes the guests' veths.
    mutating func unplugAll() throws {
        let devices = try host.exec(["ip", "-o", "link"])
        for slot in 0..<GeneratedFile.names.count where devices.contains(" gh\(slot)@") {
            try host.exec(["ip", "link", "del", "gh\(slot)"])
        }
        plugged = [:]
    }
}

/// moat's part of an iptables ruleset: its chains, their rules in order, and the jumps into
/// them, per table. `render`'s `-I CHAIN 1` jumps read as the `-A` lines iptables-save prints.
struct Firewall: Equatable, CustomStringConvertible {
    var tables: [String: [String: [String]]] = [:]

    init(_ text: String) {
        var table = ""
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("*") {
                table = String(line.dropFirst())
            } else if line.hasPrefix(":MOAT-") {
                tables[table, default: [:]][":", default: []].append(String(line.split(separator: " ")[0]))
            } else if line.hasPrefix("-A ") || line.hasPrefix("-I ") {
                var words = line.split(separator: " ").map(String.init)
                if words[0] == "-I", words.count > 2, Int(words[2]) != nil { words.remove(at: 2) }
                let chain = words[1]
                let rule = words.dropFirst(2).joined(separator: " ")
                guard chain.hasPrefix("MOAT-") || rule.contains("-j MOAT-") else { continue }
                tables[table, default: [:]][chain, default: []].append(rule)
            }
        }
        for (name, chains) in tables { tables[name]?[":"] = chains[":"]?.sorted() }
    }

    var description: String {
        tables.keys.sorted().flatMap { table in
            ["*\(table)"] + (tables[table] ?? [:]).keys.sorted().flatMap { chain in (tables[table]?[chain] ?? []).map { "\(chain) \($0)" } }
        }.joined(separator: "\n")
    }
}
