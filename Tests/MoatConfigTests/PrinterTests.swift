import Foundation
import MoatConfig
import MoatTestSupport
import Testing

/// Compares `actual` with a golden file under Fixtures/golden; `MOAT_RECORD=1` (`Golden`)
/// rewrites the file in the source tree instead.
func assertGolden(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let source = Fixtures.repository.appendingPathComponent("Tests/MoatConfigTests/Fixtures/golden/\(name)")
    if Golden.recording {
        try actual.write(to: source, atomically: true, encoding: .utf8)
        return
    }
    let expected = try Fixtures.text("golden", name)
    let want = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let got = actual.split(separator: "\n", omittingEmptySubsequences: false)
    for index in 0..<max(want.count, got.count) {
        let a = index < want.count ? String(want[index]) : "<none>"
        let b = index < got.count ? String(got[index]) : "<none>"
        if a != b {
            Issue.record(
                "\(name) line \(index + 1) differs (MOAT_RECORD=1 re-records):\n- \(a)\n+ \(b)",
                sourceLocation: sourceLocation)
            return
        }
    }
}

@Suite("Printing diagnostics")
struct PrinterTests {
    static let source = """
        version: 1
        networks:
          lab:
            bridge: virbr10
            address: 192.168.100.1/24
            dhcp:
              range: nope
            allow:
              - { to: host, proto: icmp, ports: [22] }
          Lab2: {bridge: virbr11, adress: 10.0.0.1/24}
        """

    static var check: ConfigCheck { ConfigLoader.check(text: source, file: "moat.yaml") }

    @Test("human form: location, error, path, message, source line, caret")
    func human() throws {
        try assertGolden(DiagnosticPrinter.render(Self.check.diagnostics, source: Self.check.source), "human.txt")
    }

    @Test("colour only when asked")
    func colour() throws {
        let plain = DiagnosticPrinter.render(Self.check.diagnostics, source: Self.check.source, color: false)
        let coloured = DiagnosticPrinter.render(Self.check.diagnostics, source: Self.check.source, color: true)
        #expect(!plain.contains("\u{1B}["))
        #expect(coloured.contains("\u{1B}[1;31merror:\u{1B}[0m"))
        #expect(coloured.replacing(/\x1B\[[0-9;]*m/, with: "") == plain)
    }

    @Test("the caret follows tabs, and file-level problems have no source line")
    func tabsAndFileLevel() throws {
        let diagnostics = [
            Diagnostic(path: "networks", message: "after a tab", file: "t.yaml", line: 2, column: 4),
            Diagnostic(path: "", message: "cannot read the file: no such file", file: "gone.yaml", line: 0, column: 0),
            Diagnostic(path: "x", message: "past the end of its line", file: "t.yaml", line: 1, column: 12),
        ]
        try assertGolden(DiagnosticPrinter.render(diagnostics, source: "version: 1\n\t\tx: y\n"), "tabs.txt")
    }

    @Test("without the source, diagnostics are one line each")
    func withoutSource() {
        let text = DiagnosticPrinter.render(Self.check.diagnostics)
        #expect(text.split(separator: "\n").count == Self.check.diagnostics.count)
    }

    @Test("JSON: an array of objects with sorted keys, the same diagnostics as the human form")
    func json() throws {
        let diagnostics = Self.check.diagnostics
        let text = DiagnosticPrinter.json(diagnostics)
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        #expect(decoded.count == diagnostics.count)
        for (object, diagnostic) in zip(decoded, diagnostics) {
            #expect(Set(object.keys) == ["severity", "message", "path", "file", "line", "column"])
            #expect(object["severity"] as? String == "error")
            #expect(object["message"] as? String == diagnostic.message)
            #expect(object["path"] as? String == diagnostic.path)
            #expect(object["file"] as? String == "moat.yaml")
            #expect(object["line"] as? Int == diagnostic.line)
            #expect(object["column"] as? Int == diagnostic.column)
        }
        try assertGolden(text + "\n", "diagnostics.json")
    }

    @Test("validate --json report: valid and invalid")
    func report() throws {
        let invalid = Self.check.jsonReport
        let object = try #require(try JSONSerialization.jsonObject(with: Data(invalid.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == false)
        #expect(object["file"] as? String == "moat.yaml")
        #expect((object["diagnostics"] as? [Any])?.count == Self.check.diagnostics.count)
        #expect((object["networks"] as? [Any])?.count == 0)

        let valid = ConfigLoader.check(
            text: "version: 1\nnetworks:\n  lab: {bridge: virbr10, address: 192.168.100.1/24}\n  board: {interface: enp6s0, address: 10.20.0.1/24, mode: isolated}\n",
            file: "moat.yaml")
        try assertGolden(valid.jsonReport + "\n", "report-valid.json")
    }
}
