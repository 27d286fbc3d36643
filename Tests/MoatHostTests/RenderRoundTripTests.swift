import Foundation
import MoatConfig
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


#if canImport(Glibc)
    import Glibc
#endif

/// Runs programs for the round trip: Foundation `Process`, an argument vector, never a shell.
enum NamespaceTool {
    /// An executable by name, on PATH or in the sbin folders a non-login PATH may lack.
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var isRoot: Bool {
        #if canImport(Glibc)
            getuid() == 0
        #else
            false
        #endif
    }

    /// Why the round trip cannot run here, or nil when it can.
    static var unavailableReason: String? {
        if !isRoot { return "needs root to create a network namespace" }
        for tool in ["ip", "iptables-restore", "iptables-save"] where find(tool) == nil {
            return "needs `\(tool)` (Debian: iproute2 / iptables)"
        }
        return nil
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `argv` with `input` on stdin; throws with its stderr unless it exits 0.
    @discardableResult
    static func run(_ argv: [String], input: String? = nil) throws -> String {
        guard let name = argv.first, let executable = find(name) else {
            throw Failure(description: "cannot find \(argv.first ?? "nothing")")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(argv.dropFirst())
        let stdin = Pipe()
        let stdout = Pipe()
        // stderr goes to a file: reading two pipes one after the other could block on a full one.
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("moat-rt-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errFile) }
        let stderr = try FileHandle(forWritingTo: errFile)
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data((input ?? "").utf8))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try stderr.close()
        guard process.terminationStatus == 0 else {
            let err = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
            throw Failure(description: "`\(argv.joined(separator: " "))` exited \(process.terminationStatus): \(err)")
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Rules by chain and the declared chains of an `iptables-save` dump. Kept here, not
    /// shared with the live snapshot's parser, so the round trip checks the renderer against
    /// the kernel and nothing else.
    static func parseSave(_ text: String) -> (rules: [ChainID: [String]], chains: Set<ChainID>) {
        var table: FirewallTable?
        var rules: [ChainID: [String]] = [:]
        var chains: Set<ChainID> = []
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("*") {
                table = FirewallTable(rawValue: String(line.dropFirst()))
            } else if let table, line.hasPrefix(":") {
                let name = line.dropFirst().split(separator: " ").first.map(String.init) ?? ""
                chains.insert(ChainID(table, name))
            } else if let table, line.hasPrefix("-A ") {
                let rest = line.dropFirst(3)
                guard let space = rest.firstIndex(of: " ") else { continue }
                rules[ChainID(table, String(rest[..<space])), default: []].append(
                    String(rest[rest.index(after: space)...]))
            }
        }
        return (rules, chains)
    }
}

@Suite("Rendered firewall round-trips through the kernel", .serialized)
struct RenderRoundTripTests {
    /// A rule of other software already in INPUT: it must stay, below moat's jump.
    static let foreignRule = "-s 203.0.113.7/32 -j ACCEPT"

    static let needsNamespaces = "needs root, ip and iptables-restore: it makes a network namespace"

    @Test(
        "iptables-save prints every rendered rule exactly as rendered",
        .enabled(if: NamespaceTool.unavailableReason == nil, Comment(rawValue: needsNamespaces)),
        arguments: RenderCases.all)
    func roundTrip(_ c: RenderCase) throws {
        try Self.expectRoundTrip(c)
    }

    @Test(
        "iptables-save prints every rule of the examples exactly as rendered",
        .enabled(if: NamespaceTool.unavailableReason == nil, Comment(rawValue: needsNamespaces)),
        arguments: RenderCases.exampleFiles)
    func roundTripExample(_ file: String) throws {
        try Self.expectRoundTrip(try RenderCases.example(file))
    }

    @Test("the round trip runs here, or says why not")
    func availability() {
        if let reason = NamespaceTool.unavailableReason {
            // Visible in the test log, so a skipped proof is never mistaken for a passed one.
            print("RenderRoundTripTests skipped: \(reason)")
        }
    }

    @Test(
        "nft loads every rendered table, and nft -j lists it back as the very rules rendered, maps as their jumps",
        .enabled(if: NamespaceTool.unavailableReason == nil && NamespaceTool.find("nft") != nil, Comment(rawValue: needsNamespaces)),
        arguments: RenderCases.all)
    func nftablesLoads(_ c: RenderCase) throws {
        let state = DesiredState.render(c.config, paths: RenderCases.paths, upstream: RenderCases.upstream, backend: .nftables)
        let want = IptablesBackend.moatChains(of: state)
        let namespace = "moat-rt-\(UInt32.random(in: 0...UInt32.max))"
        try NamespaceTool.run(["ip", "netns", "add", namespace])
        defer { _ = try? NamespaceTool.run(["ip", "netns", "del", namespace]) }
        let inNamespace = ["ip", "netns", "exec", namespace]
        // Twice: the second replaces the first whole, as every later apply does.
        for _ in 0..<2 {
            let transaction = try #require(NftablesBackend.transaction(live: want, operations: want.map { .writeChain($0.key, $0.value) }))
            try NamespaceTool.run(inNamespace + ["nft", "-f", "-"], input: transaction)
        }
        let listed = NftablesBackend.parseRuleset(json: try NamespaceTool.run(inNamespace + ["nft", "-j", "list", "ruleset"]))
        #expect(Set(listed.chains.keys) == Set(want.keys), "\(c.name): chains")
        for (chain, rules) in want {
            #expect(listed.chains[chain] == rules, "\(c.name): \(chain) reads back as rendered")
            #expect(listed.chains[chain]?.allSatisfy { $0.opaque == nil } == true, "\(c.name): \(chain) read as values")
        }
        #expect(listed.droppingChains.isEmpty)
        // A destroy's transaction leaves nothing.
        let delete = try #require(NftablesBackend.transaction(live: want, operations: want.keys.map { .deleteChain($0) }))
        try NamespaceTool.run(inNamespace + ["nft", "-f", "-"], input: delete)
        #expect(try NamespaceTool.run(inNamespace + ["nft", "list", "ruleset"]) == "")
    }

    static func expectRoundTrip(_ c: RenderCase) throws {
        let state = RenderCases.render(c.config)
        let want = IptablesBackend.moatChains(of: state)
        let namespace = "moat-rt-\(UInt32.random(in: 0...UInt32.max))"
        try NamespaceTool.run(["ip", "netns", "add", namespace])
        defer { _ = try? NamespaceTool.run(["ip", "netns", "del", namespace]) }
        let inNamespace = ["ip", "netns", "exec", namespace]

        try NamespaceTool.run(inNamespace + ["iptables", "-A", "INPUT", "-s", "203.0.113.7/32", "-j", "ACCEPT"])
        try NamespaceTool.run(
            inNamespace + ["iptables-restore", "--noflush"], input: IptablesBackend.restorePayload(state))
        let savedText = try NamespaceTool.run(inNamespace + ["iptables-save"])
        let saved = NamespaceTool.parseSave(savedText)
        // moat's own reader gives back the very rules rendered (origins aside): the snapshot
        // of a converged host equals the desired state.
        let read = IptablesBackend.parseSave(savedText)
        for chain in want.keys.sorted() {
            #expect(read.chains[chain] == want[chain], "\(c.name): \(chain) read back as other values")
            #expect(read.chains[chain]?.allSatisfy { $0.opaque == nil } == true, "\(c.name): \(chain) has an opaque rule")
        }
        #expect(read.jumps == state.jumps, "\(c.name): the jumps read back as other values")

        for chain in want.keys.sorted() {
            let got = saved.rules[chain] ?? []
            if got != want[chain]?.text {
                let diff = lineDiff(
                    expected: (want[chain]?.text ?? []).joined(separator: "\n"), actual: got.joined(separator: "\n"))
                Issue.record("\(c.name): \(chain) came back different (- rendered, + iptables-save):\n\(diff)")
            }
        }
        let moatChains = saved.chains.filter { $0.name.hasPrefix(Mark.chainPrefix) }
        #expect(moatChains == Set(want.keys), "\(c.name): exactly the rendered chains exist")
        for (builtin, jumps) in state.jumps {
            let expected = builtin == ChainID(.filter, "INPUT") ? jumps.text + [foreignRule] : jumps.text
            #expect(saved.rules[builtin] == expected, "\(c.name): \(builtin) holds moat's jump first, then the rest")
        }

        // Rewriting every chain again (no jumps) under --noflush replaces, never appends:
        // what the executor relies on to rewrite one network's chains.
        try NamespaceTool.run(
            inNamespace + ["iptables-restore", "--noflush"], input: IptablesBackend.restorePayload(write: want))
        let again = NamespaceTool.parseSave(try NamespaceTool.run(inNamespace + ["iptables-save"]))
        for chain in want.keys.sorted() {
            #expect(again.rules[chain] == want[chain]?.text, "\(c.name): \(chain) after a rewrite")
        }
    }
}
