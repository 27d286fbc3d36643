import Foundation
import MoatConfig
import Testing

/// Every rule of the format has an invalid fixture (with the exact place and path of its one
/// diagnostic in its first line) and a valid fixture on the right side of the line.
@Suite("Rules of the format")
struct RuleTableTests {
    @Test("an invalid file gets exactly its one diagnostic, at the right place", arguments: Fixtures.names(in: "invalid"))
    func invalidFile(name: String) throws {
        let text = try Fixtures.text("invalid", name)
        let header = try #require(text.split(separator: "\n", omittingEmptySubsequences: false).first)
        let expected = try #require(Expectation(header: header), "\(name) has no `# expect:` first line")
        let check = ConfigLoader.check(text: text, file: name)
        #expect(check.config == nil)
        #expect(check.diagnostics.count == 1, "\(check.diagnostics.map { "\($0.line):\($0.column) \($0.path): \($0.message)" })")
        let diagnostic = try #require(check.diagnostics.first)
        #expect(diagnostic.line == expected.line, "\(diagnostic.message)")
        #expect(diagnostic.column == expected.column, "\(diagnostic.message)")
        #expect(diagnostic.path == expected.path)
        #expect(diagnostic.message.contains(expected.fragment), "message: \(diagnostic.message)")
        #expect(diagnostic.severity == .error)
        #expect(diagnostic.file == name)
    }

    @Test("a valid file has no diagnostics", arguments: Fixtures.names(in: "valid"))
    func validFile(name: String) throws {
        let check = ConfigLoader.check(text: try Fixtures.text("valid", name), file: name)
        #expect(check.diagnostics == [], "\(check.diagnostics.map { "\($0.line):\($0.column) \($0.path): \($0.message)" })")
        #expect(check.config != nil)
    }

    @Test("the tables are not empty (the fixtures were bundled)")
    func fixturesExist() {
        #expect(Fixtures.names(in: "invalid").count > 50)
        #expect(Fixtures.names(in: "valid").count > 10)
    }
}
