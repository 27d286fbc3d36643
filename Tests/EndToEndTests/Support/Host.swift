import Foundation
import Testing

/// Whether end-to-end tests can run here: root, with the tools moat drives.
enum Environment {
    static var ready: Bool {
        _ = firewall
        return Shell.isRoot && ["ip", "iptables-save", "iptables-restore", "dnsmasq", "busybox", "python3"].allSatisfy(Shell.exists)
    }

    /// The backend every moat these tests run puts its rules in where a file says
    /// `firewall: auto` (or nothing): `MOAT_TEST_FIREWALL` as given (`make test` runs the
    /// suites once with each), iptables when unset. Set in this process's environment once,
    /// so every moat started from here, however, inherits it.
    static let firewall: String = {
        let chosen = ProcessInfo.processInfo.environment["MOAT_TEST_FIREWALL"].flatMap { $0.isEmpty ? nil : $0 } ?? "iptables"
        setenv("MOAT_TEST_FIREWALL", chosen, 1)
        return chosen
    }()

    /// The built `moat`, next to the test bundle (`swift build --build-tests` builds both).
    static var moatBinary: String {
        if let path = ProcessInfo.processInfo.environment["MOAT_BIN"] { return path }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return bundle.appendingPathComponent("moat").path
    }

    /// The package's root, for examples and fixtures.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
}

/// A throwaway host: a network namespace where moat runs, with its own state and run
/// folders. Everything it made is undone by `close()`, last made first undone.
final class TestHost: @unchecked Sendable {
    let namespace: String
    let folder: URL
    var stateDir: String { folder.appendingPathComponent("state").path }
    var runDir: String { folder.appendingPathComponent("run").path }
    private var cleanups: [() -> Void] = []
    private var extraNamespaces: [String] = []

    init(tag: String) throws {
        namespace = "moat-t-\(tag)-\(UInt32.random(in: 0..<UInt32.max) % 100_000)"
        folder = FileManager.default.temporaryDirectory.appendingPathComponent(namespace)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try makeNamespace(namespace)
        try exec(["ip", "link", "set", "lo", "up"])
        // dnsmasq in this namespace forwards DNS only to a documentation address: never outside.
        let resolv = URL(fileURLWithPath: "/etc/netns/\(namespace)")
        try FileManager.default.createDirectory(at: resolv, withIntermediateDirectories: true)
        try "nameserver 203.0.113.53\n".write(to: resolv.appendingPathComponent("resolv.conf"), atomically: true, encoding: .utf8)
        cleanups.append { try? FileManager.default.removeItem(at: resolv) }
        cleanups.append { [folder] in try? FileManager.default.removeItem(at: folder) }
        cleanups.append { [weak self] in self?.stopDnsmasqs() }
    }

    /// Creates another namespace that `close()` deletes.
    func makeNamespace(_ name: String) throws {
        try Shell.must(["ip", "netns", "add", name])
        cleanups.append {
            // Whatever still runs in it was started by this test (or by the moat it ran):
            // end those pids, or the namespace would outlive its deletion.
            let pids = (try? Shell.run(["ip", "netns", "pids", name]))?.stdout.split(separator: "\n") ?? []
            for pid in pids.compactMap({ Int32($0.trimmingCharacters(in: .whitespaces)) }) where pid > 1 { kill(pid, SIGKILL) }
            _ = try? Shell.run(["ip", "netns", "del", name])
        }
    }

    /// Adds a cleanup that `close()` runs before everything made earlier is undone.
    func onClose(_ cleanup: @escaping () -> Void) {
        cleanups.append(cleanup)
    }

    /// Runs a command inside the host's namespace.
    @discardableResult
    func exec(_ argv: [String], input: String? = nil) throws -> String {
        try Shell.must(["ip", "netns", "exec", namespace] + argv, input: input)
    }

    /// Runs moat inside the host's namespace with this host's folders.
    @discardableResult
    func moat(_ arguments: [String], environment: [String: String] = [:]) throws -> Ran {
        try Shell.run(
            ["ip", "netns", "exec", namespace, Environment.moatBinary] + arguments,
            environment: ["MOAT_STATE_DIR": stateDir, "MOAT_RUN_DIR": runDir, "NO_COLOR": "1"].merging(environment) { $1 })
    }

    /// Starts moat in the host's namespace without waiting for it (lock and crash tests).
    func moatInBackground(_ arguments: [String], environment: [String: String] = [:]) throws -> Background {
        let background = try Background.start(
            ["ip", "netns", "exec", namespace, Environment.moatBinary] + arguments,
            environment: ["MOAT_STATE_DIR": stateDir, "MOAT_RUN_DIR": runDir, "NO_COLOR": "1"].merging(environment) { $1 })
        onClose { background.stop() }
        return background
    }

    /// `iptables-save` without its timestamp comments, moat's nftables table, and `ip -j
    /// addr`: what a change shows.
    func fingerprint() throws -> String {
        let rules = try exec(["iptables-save"]).split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        return rules + "\n" + (try nftablesTable()) + (try exec(["ip", "-j", "addr"]))
    }

    /// `nft list table inet moat`: empty when there is no such table (or no nft).
    func nftablesTable() throws -> String {
        guard Shell.exists("nft") else { return "" }
        let listed = try Shell.run(["ip", "netns", "exec", namespace, "nft", "list", "table", "inet", "moat"])
        return listed.status == 0 ? listed.stdout : ""
    }

    /// A fingerprint without tables that hold no rules and only built-in chains with
    /// ACCEPT policies: what no packet can tell from an absent table.
    static func withoutEmptyTables(_ fingerprint: String) -> String {
        var kept: [String] = []
        var table: [String] = []
        for line in fingerprint.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("*") {
                table = [line]
            } else if !table.isEmpty {
                table.append(line)
                if line == "COMMIT" {
                    let empty = table.dropFirst().dropLast().allSatisfy { $0.hasPrefix(":") && $0.contains(" ACCEPT [") }
                    if !empty { kept += table }
                    table = []
                }
            } else if !line.isEmpty {
                kept.append(line)
            }
        }
        return kept.joined(separator: "\n")
    }

    /// The dnsmasq processes moat started here, by the pid files in this host's run dir.
    func dnsmasqPids() -> [String: Int32] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: runDir)) ?? []
        var pids: [String: Int32] = [:]
        for file in files where file.hasPrefix("dnsmasq-") && file.hasSuffix(".pid") {
            let text = (try? String(contentsOfFile: "\(runDir)/\(file)", encoding: .utf8)) ?? ""
            if let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), FileManager.default.fileExists(atPath: "/proc/\(pid)") {
                pids[String(file.dropFirst("dnsmasq-".count).dropLast(".pid".count))] = pid
            }
        }
        return pids
    }

    /// Ends only the dnsmasq processes this host's moat started (by pid, never by name).
    private func stopDnsmasqs() {
        for pid in dnsmasqPids().values {
            let cmdline = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            if cmdline.contains(stateDir) { kill(pid, SIGTERM) }
        }
    }

    func close() {
        while let cleanup = cleanups.popLast() { cleanup() }
    }

    /// Writes a moat file into this host's folder.
    func file(_ name: String, _ text: String) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// Runs `body` with a fresh host, and always cleans up after it.
func withHost<T>(_ tag: String, _ body: (TestHost) async throws -> T) async throws -> T {
    let host = try TestHost(tag: tag)
    defer { host.close() }
    return try await body(host)
}
