import Foundation
import MoatConfig
import MoatHost
import MoatTestSupport
import Testing

/// Files built to hurt a parser: each must come back as an error diagnostic, without a
/// crash, a hang or unbounded memory. (No timing asserts: returning at all is the test.)
@Suite("Hostile input")
struct HostileInputTests {
    /// The one error a hostile file must produce, and a fragment of its message.
    func expectError(_ check: ConfigCheck, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(check.config == nil, sourceLocation: sourceLocation)
        #expect(!check.diagnostics.isEmpty, sourceLocation: sourceLocation)
        #expect(check.diagnostics.allSatisfy { $0.severity == .error }, sourceLocation: sourceLocation)
        #expect(
            check.diagnostics.contains { $0.message.contains(fragment) },
            "\(check.diagnostics.map(\.message))", sourceLocation: sourceLocation)
        // Printing must be safe too: bounded and free of control characters but newlines.
        let printed = DiagnosticPrinter.render(check.diagnostics, source: check.source)
        #expect(printed.count < 10_000, sourceLocation: sourceLocation)
        #expect(
            !printed.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" && $0 != "\t" },
            sourceLocation: sourceLocation)
    }

    @Test("an alias bomb (billion laughs) is refused by the expansion budget")
    func billionLaughs() throws {
        let check = ConfigLoader.check(text: try Fixtures.text("hostile", "billion-laughs.yaml"), file: "bomb.yaml")
        expectError(check, "expands to more than")
    }

    @Test("an alias bomb used as mapping keys is refused before any key is compared")
    func keyBomb() throws {
        let check = ConfigLoader.check(text: try Fixtures.text("hostile", "key-bomb.yaml"), file: "bomb.yaml")
        expectError(check, "expands to more than")
    }

    @Test("an alias to the node that holds it is an error, not a cycle")
    func recursiveAlias() throws {
        let check = ConfigLoader.check(text: try Fixtures.text("hostile", "recursive-alias.yaml"), file: "r.yaml")
        expectError(check, "refers to no anchor")
    }

    @Test(
        "5,000 levels of nesting stop at the depth limit",
        arguments: [
            String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000),
            String(repeating: "{a: ", count: 5000) + "1" + String(repeating: "}", count: 5000),
            String(repeating: "- ", count: 5000) + "x\n",
            "version: 1\nnetworks: " + String(repeating: "[", count: 5000),
        ])
    func deepNesting(text: String) {
        expectError(ConfigLoader.check(text: text, file: "deep.yaml"), "nesting deeper than")
    }

    @Test("deep block indentation stops at the depth limit")
    func deepIndentation() {
        var text = ""
        for level in 0..<1000 { text += String(repeating: " ", count: level) + "k\(level):\n" }
        expectError(ConfigLoader.check(text: text, file: "deep.yaml"), "nesting deeper than")
    }

    @Test("3 KB of random bytes are refused", arguments: 1...20)
    func randomBytes(seed: UInt64) {
        var generator = SeededRandom(seed: seed)
        let bytes = (0..<3072).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let check = ConfigLoader.check(bytes: bytes, file: "random.bin")
        #expect(check.config == nil)
        #expect(!check.diagnostics.isEmpty)
    }

    @Test("3 KB of random printable text is refused", arguments: 1...20)
    func randomText(seed: UInt64) {
        var generator = SeededRandom(seed: seed)
        let alphabet = Array(" \n\n\n  :-[]{},&*!|>'\"#%@`?abcdefxyz0123456789.")
        let text = String((0..<3072).map { _ in alphabet.randomElement(using: &generator) ?? " " })
        let check = ConfigLoader.check(text: text, file: "random.yaml")
        #expect(check.config == nil)
        #expect(!check.diagnostics.isEmpty)
        _ = DiagnosticPrinter.render(check.diagnostics, source: check.source, color: true)
    }

    @Test("a 10 MB file is refused before it is parsed, from bytes and from disk")
    func hugeFile() throws {
        let line = Array("# padding padding padding padding padding padding padding padding\n".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(10 << 20)
        while bytes.count < 10 << 20 { bytes += line }
        expectError(ConfigLoader.check(bytes: bytes, file: "huge.yaml"), "larger than 1048576 bytes")

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("moat-huge-\(UUID().uuidString).yaml")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        expectError(ConfigLoader.check(path: url.path), "larger than 1048576 bytes")
    }

    @Test("an endless file (/dev/zero) is read only up to the limit")
    func endlessFile() {
        expectError(ConfigLoader.check(path: "/dev/zero"), "larger than")
    }

    @Test("a file of one 1 MiB line prints a bounded excerpt")
    func longLine() {
        let text = "version: 1\nnetworks: {lab: " + String(repeating: "x", count: 1_000_000) + "}\n"
        let check = ConfigLoader.check(text: text, file: "long.yaml")
        expectError(check, "expected a mapping")
    }

    @Test("a file near the size limit full of scalars is read in one pass")
    func manyScalars() {
        let ports = (0..<90_000).map { String(1 + $0 % 65535) }.joined(separator: ",")
        let text = "version: 1\nnetworks:\n  lab:\n    bridge: b0\n    address: 10.0.0.1/24\n"
            + "    allow: [{to: host, proto: tcp, ports: [\(ports)]}]\n"
        let check = ConfigLoader.check(text: text, file: "big.yaml")
        #expect(check.config?.networks.first?.allow.first?.ports.count == 90_000)
    }

    @Test("an empty file is an error at 1:1")
    func emptyFile() {
        let check = ConfigLoader.check(bytes: [], file: "empty.yaml")
        expectError(check, "the file is empty")
        #expect(check.diagnostics.first.map { ($0.line, $0.column) } ?? (0, 0) == (1, 1))
    }

    @Test("a NUL byte is refused with its place")
    func nulByte() {
        let check = ConfigLoader.check(bytes: Array("version: 1\nnet\0works: {}\n".utf8), file: "nul.yaml")
        expectError(check, "NUL byte")
        #expect(check.diagnostics.first.map { ($0.line, $0.column) } ?? (0, 0) == (2, 4))
    }

    @Test("invalid UTF-8 is refused with its place")
    func invalidUTF8() {
        let check = ConfigLoader.check(bytes: Array("version: 1\n".utf8) + [0x6e, 0xff, 0xfe], file: "latin.yaml")
        expectError(check, "not UTF-8")
        #expect(check.diagnostics.first.map { ($0.line, $0.column) } ?? (0, 0) == (2, 2))
    }

    @Test("control characters are refused by the YAML reader")
    func controlCharacters() {
        let check = ConfigLoader.check(text: "version: 1\nnetworks: {a\u{1B}[31m: 1}\n", file: "ctl.yaml")
        #expect(check.config == nil)
        let printed = DiagnosticPrinter.render(check.diagnostics, source: check.source)
        #expect(!printed.contains("\u{1B}"))
    }

    @Test(
        "names that are shell or terminal tricks are refused, and printed escaped",
        arguments: [
            ("\"lab;reboot\"", "lab;reboot"), ("\"$(reboot)\"", "$(reboot)"), ("\"`id`\"", "`id`"),
            ("\"a\\nb\"", "a\\nb"), ("\"my lab\"", "my lab"), ("\"lab\\u001b[2J\"", "lab\\u{1b}[2J"),
        ])
    func hostileNames(yamlName: String, shown: String) {
        let text = "version: 1\nnetworks:\n  \(yamlName):\n    bridge: b0\n    address: 10.0.0.1/24\n"
        let check = ConfigLoader.check(text: text, file: "names.yaml")
        expectError(check, "network name \"\(shown)\"")
        #expect(check.diagnostics.first?.path == "networks[\"\(shown)\"]")
    }

    @Test("a tab in the indentation gets its own message")
    func tabIndentation() {
        let check = ConfigLoader.check(text: "version: 1\nnetworks:\n\tlab: {}\n", file: "tab.yaml")
        expectError(check, "indent with spaces")
    }
}
