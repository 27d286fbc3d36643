import Foundation
import Testing

/// The files the tests read: fixtures shipped with the test bundle, and the repository's
/// own examples and schema.
enum Fixtures {
    static var directory: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        }
    }

    /// The repository's root, found from this file's place in it.
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let schema = repository.appendingPathComponent("schemas/moat.schema.json")

    /// `*.yaml` in a fixture folder, sorted, as names (for readable test arguments).
    static func names(in folder: String) -> [String] {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil),
            let files = try? FileManager.default.contentsOfDirectory(atPath: url.appendingPathComponent(folder).path)
        else { return [] }
        return files.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    static func url(_ folder: String, _ name: String) throws -> URL {
        try directory.appendingPathComponent(folder).appendingPathComponent(name)
    }

    static func text(_ folder: String, _ name: String) throws -> String {
        try String(contentsOf: url(folder, name), encoding: .utf8)
    }

    /// The moat files under `examples/` (not the CI snippet, which is not one).
    static var examples: [String] {
        let folder = repository.appendingPathComponent("examples")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return files.filter { $0.hasSuffix(".yaml") }.sorted()
    }
}

/// What an invalid fixture's first line promises: `# expect: LINE:COL | PATH | fragment`
/// (PATH empty for problems with the document itself).
struct Expectation: Equatable {
    var line: Int
    var column: Int
    var path: String
    var fragment: String

    init?(header: Substring) {
        guard let match = header.wholeMatch(of: /# expect: (\d+):(\d+) \| (.*) \| (.+)/),
            let line = Int(match.1), let column = Int(match.2)
        else { return nil }
        self.line = line
        self.column = column
        path = String(match.3)
        fragment = String(match.4)
    }
}
