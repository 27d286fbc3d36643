import Foundation
import MoatConfig
import MoatHost
import Testing

/// Several files, and directories of files, read as one configuration.
@Suite("A configuration of several files")
struct ConfigurationTests {
    static let vms = "version: 1\nnetworks:\n  lab:\n    bridge: virbr10\n    address: 192.168.100.1/24\n"
    static let team = "version: 1\nblock: [10.0.0.0/8]\nnetworks:\n  ci:\n    bridge: virbr11\n    address: 192.168.101.1/24\n"

    func check(_ files: [(String, String)]) -> ConfigCheck {
        ConfigLoader.check(files.map { ConfigSource(file: $0.0, text: $0.1) }, name: "moat.d")
    }

    @Test("the networks of every file, in file order; block from the file that gives it")
    func union() throws {
        let config = try check([("a.yaml", Self.vms), ("b.yaml", Self.team)]).get()
        #expect(config.networks.map(\.name) == ["lab", "ci"])
        #expect(config.block.map(\.description) == ["10.0.0.0/8"])
    }

    @Test("a network declared in two files is refused at the second, naming the first")
    func duplicateNetwork() {
        let check = check([("a.yaml", Self.vms), ("b.yaml", Self.vms.replacingOccurrences(of: "virbr10", with: "virbr12"))])
        #expect(!check.isValid)
        let error = check.errors.first { $0.message.contains("already declared") }
        #expect(error?.file == "b.yaml")
        #expect(error?.line == 3)
        #expect(error?.message.contains("a.yaml:3:3") == true)
    }

    @Test("block and uplinks are given in one file only")
    func sharedKeysOnce() {
        let second = "version: 1\nblock: [private]\nuplinks: [eth0]\nnetworks: {}\n"
        let check = check([("a.yaml", Self.team.replacingOccurrences(of: "block:", with: "uplinks: [eth1]\nblock:")), ("b.yaml", second)])
        #expect(check.errors.map(\.file) == ["b.yaml", "b.yaml"])
        #expect(check.errors.map(\.path).sorted() == ["block", "uplinks"])
        #expect(check.errors.allSatisfy { $0.message.contains("already given in a.yaml:") })
    }

    @Test("rules that compare networks compare across files, and point into the right one")
    func acrossFiles() {
        let clash = "version: 1\nnetworks:\n  ci:\n    bridge: virbr10\n    address: 192.168.100.129/25\n"
        let check = check([("a.yaml", Self.vms), ("b.yaml", clash)])
        #expect(check.errors.count == 2)
        #expect(check.errors.allSatisfy { $0.file == "b.yaml" && $0.message.contains("(a.yaml:") })
        let printed = check.printed(check.errors, color: false)
        #expect(printed.contains("b.yaml:4:13: error: networks.ci.bridge: device \"virbr10\" is already used by networks.lab.bridge (a.yaml:4:13)\n    bridge: virbr10\n"))
    }

    @Test("an error in each file is reported, each in its file, in file order")
    func everyFile() {
        let check = check([("b.yaml", "version: 2\nnetworks: {}\n"), ("a.yaml", "version: 1\nnetwork: {}\n")])
        #expect(check.errors.map(\.file) == ["b.yaml", "a.yaml", "a.yaml"])
    }

    @Test("a directory's *.yaml files in lexical order; other files, hidden ones and folders are not read")
    func directory() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moat-conf-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("sub.yaml"), withIntermediateDirectories: true)
        for (name, text) in [("20-team.yaml", Self.team), ("10-vms.yaml", Self.vms), ("notes.txt", "x"), (".hidden.yaml", "x"), ("old.yaml.bak", "x")] {
            try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let check = ConfigLoader.check(paths: [folder.path])
        #expect(check.sources.map { URL(fileURLWithPath: $0.file).lastPathComponent } == ["10-vms.yaml", "20-team.yaml"])
        #expect(try check.get().networks.map(\.name) == ["lab", "ci"])
        // The same file twice (itself and through its directory) is read once.
        let twice = ConfigLoader.check(paths: [folder.appendingPathComponent("10-vms.yaml").path, folder.path])
        #expect(twice.sources.count == 2)
        #expect(twice.isValid)
    }

    @Test("an empty directory is an error, not an empty configuration that would remove every network")
    func emptyDirectory() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moat-empty-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let check = ConfigLoader.check(paths: [folder.path])
        #expect(!check.isValid)
        #expect(check.errors.first?.message == "the directory holds no *.yaml file")
    }
}
