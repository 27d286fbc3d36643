import ArgumentParser
import Foundation

@main
struct Moat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moat",
        abstract: "Keeps a Linux host's isolated guest networks exactly as a YAML file says.",
        version: version,
        subcommands: [
            ValidateCommand.self, RenderCommand.self, PlanCommand.self, ShowCommand.self, ApplyCommand.self, DestroyCommand.self,
            StatusCommand.self,
        ]
    )

    static let version = "0.1.0"

    /// A bare `moat` names no command: usage on stderr, exit 64 (SPEC §1).
    func run() async throws {
        FileHandle.standardError.write(Data((Self.helpMessage() + "\n").utf8))
        throw ExitCode(64)
    }
}
