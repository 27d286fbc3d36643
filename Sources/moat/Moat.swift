import ArgumentParser

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
}
