import Foundation
import Testing

@testable import MoatHost

@Suite("Running real programs")
struct SystemRunnerTests {
    @Test func locatesAProgramOnPathAsAnAbsolutePath() throws {
        let found = try #require(SystemRunner.locate("sh"))
        #expect(found.hasPrefix("/") && found.hasSuffix("/sh"))
        #expect(access(found, X_OK) == 0)
        #expect(SystemRunner.locate("moat-no-such-program") == nil)
        #expect(SystemRunner.locate("/bin/sh") == "/bin/sh")
    }

    @Test func passesInputAndReportsTheExitStatus() async throws {
        let runner = SystemRunner()
        let echoed = try await runner.run(["cat"], input: "a line\n")
        #expect(echoed == CommandResult(status: 0, stdout: "a line\n"))
        #expect(try await runner.run(["false"], input: nil).status == 1)
    }

    @Test func aMissingProgramIsACommandFailureNamingIt() async throws {
        let failure = await #expect(throws: CommandFailure.self) {
            try await SystemRunner().run(["moat-no-such-program", "x"], input: nil)
        }
        #expect(failure?.result.status == 127)
        #expect(failure?.description.contains("moat-no-such-program") == true)
    }
}
