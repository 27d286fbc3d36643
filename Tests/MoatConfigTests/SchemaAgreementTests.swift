import Foundation
import Testing

/// `schemas/moat.schema.json` and the Swift validator judge the same files the same way,
/// through a real JSON Schema validator (Python's `jsonschema`, files read by PyYAML).
@Suite("The JSON Schema agrees with the validator")
struct SchemaAgreementTests {
    struct Verdict: Decodable {
        var file: String
        var valid: Bool
        var errors: [String]
    }

    /// Runs the checker script over `files`; never through a shell.
    static func schemaVerdicts(_ files: [URL]) throws -> [String: Verdict] {
        let script = try Fixtures.directory.appendingPathComponent("schema_check.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, Fixtures.schema.path] + files.map(\.path)
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(
            process.terminationStatus == 0,
            "schema_check.py failed (status \(process.terminationStatus)); `make test` must install python3-yaml and python3-jsonschema: \(errorText)"
        )
        var verdicts: [String: Verdict] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let verdict = try JSONDecoder().decode(Verdict.self, from: Data(line.utf8))
            verdicts[URL(fileURLWithPath: verdict.file).lastPathComponent] = verdict
        }
        try #require(verdicts.count == files.count, "the script judged \(verdicts.count) of \(files.count) files")
        return verdicts
    }

    /// Invalid fixtures the schema cannot reject, with the reason, from the marker file.
    static func cannotJudge() throws -> Set<String> {
        let text = try Fixtures.text("invalid", "schema-cannot-judge.txt")
        return Set(
            text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
                .compactMap { $0.split(separator: " ").first.map(String.init) })
    }

    @Test("valid fixtures are valid to the schema")
    func validFixtures() throws {
        let names = Fixtures.names(in: "valid")
        let verdicts = try Self.schemaVerdicts(try names.map { try Fixtures.url("valid", $0) })
        for name in names {
            let verdict = try #require(verdicts[name])
            #expect(verdict.valid, "\(name): \(verdict.errors)")
        }
    }

    @Test("invalid fixtures are invalid to the schema, except the ones it cannot judge")
    func invalidFixtures() throws {
        let names = Fixtures.names(in: "invalid")
        let unjudgeable = try Self.cannotJudge()
        #expect(unjudgeable.isSubset(of: Set(names)), "the marker names files that do not exist")
        let verdicts = try Self.schemaVerdicts(try names.map { try Fixtures.url("invalid", $0) })
        for name in names {
            let verdict = try #require(verdicts[name])
            if unjudgeable.contains(name) {
                #expect(verdict.valid, "\(name) is marked as beyond the schema, but the schema rejects it: \(verdict.errors); remove it from schema-cannot-judge.txt")
            } else {
                #expect(!verdict.valid, "the validator rejects \(name), the schema accepts it")
            }
        }
    }

    @Test("the examples are valid to the schema")
    func examples() throws {
        let files = Fixtures.examples.map { Fixtures.repository.appendingPathComponent("examples/\($0)") }
        try #require(!files.isEmpty)
        for (name, verdict) in try Self.schemaVerdicts(files) {
            #expect(verdict.valid, "\(name): \(verdict.errors)")
        }
    }
}
