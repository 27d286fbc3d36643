import Foundation
import Testing
@testable import MoatCore
@testable import MoatReconcile
import MoatHost
import MoatTestSupport


@Suite("Running real programs")
struct SystemRunnerTests {
    @Test func locatesAProgramOnPathAsAnAbsolutePath() throws {
        let found = try #require(LocalSystem.locate("sh"))
        #expect(found.hasPrefix("/") && found.hasSuffix("/sh"))
        #expect(access(found, X_OK) == 0)
        #expect(LocalSystem.locate("moat-no-such-program") == nil)
        #expect(LocalSystem.locate("/bin/sh") == "/bin/sh")
    }

    @Test func skipsWhatIsNotAnExecutableFile() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("moat-locate-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let manager = FileManager.default
        try manager.createDirectory(atPath: "\(base)/folder/tool", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: "\(base)/plain", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: "\(base)/bin", withIntermediateDirectories: true)
        #expect(manager.createFile(atPath: "\(base)/plain/tool", contents: Data(), attributes: [.posixPermissions: 0o644]))
        #expect(manager.createFile(atPath: "\(base)/bin/tool", contents: Data(), attributes: [.posixPermissions: 0o755]))
        let path = "\(base)/missing:\(base)/folder:\(base)/plain:\(base)/bin"
        #expect(LocalSystem.locate("tool", searchPath: path) == "\(base)/bin/tool")
        #expect(LocalSystem.locate("tool", searchPath: "\(base)/folder:\(base)/plain") == nil)
    }

    @Test func passesInputAndReportsTheExitStatus() async throws {
        let runner = LocalSystem()
        let echoed = try await runner.run(["cat"], input: "a line\n")
        #expect(echoed == CommandResult(status: 0, stdout: "a line\n"))
        #expect(try await runner.run(["false"], input: nil).status == 1)
    }

    @Test func aMissingProgramIsACommandFailureNamingIt() async throws {
        let failure = await #expect(throws: CommandFailure.self) {
            try await LocalSystem().run(["moat-no-such-program", "x"], input: nil)
        }
        #expect(failure?.result.status == 127)
        #expect(failure?.description.contains("moat-no-such-program") == true)
    }
}
