import ArgumentParser
import Foundation
import MoatConfig
import MoatHost

/// `moat validate [FILE] [--json | --format human|json|github]`: the file's syntax and every rule, offline. No root,
/// nothing on the host read but FILE.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the file offline: syntax, format and every rule, without root or live state.",
        discussion: """
            Exit 0 when the file is valid (warnings included), 1 when it is not. Errors \
            and warnings go to stderr as FILE:LINE:COL: error|warning: PATH: message, \
            with the source line and a caret. \
            With --json, a report goes to stdout: {"diagnostics": [...], "file": ..., \
            "networks": [...], "valid": true|false}. \
            With --format github, one GitHub Actions annotation per diagnostic goes to \
            stdout (::error file=F,line=L,col=C::message, ::warning for a warning), then \
            the summary line.
            """
    )

    @Argument(help: "The moat file.")
    var file: String = Config.defaultPath

    /// How the diagnostics are printed.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case human, json, github
    }

    @Flag(help: "Print the report as JSON on stdout (the same as --format json).")
    var json = false

    @Option(help: "human: compiler-style on stderr; json: a report on stdout; github: GitHub Actions annotations on stdout.")
    var format: Format?

    func validate() throws {
        if json, let format, format != .json { throw ValidationError("--json and --format \(format.rawValue) contradict each other") }
    }

    func run() async throws {
        let check = ConfigLoader.check(path: file)
        let format = json ? .json : (self.format ?? .human)
        if format == .github {
            print(DiagnosticPrinter.github(check.diagnostics) + check.summary)
        } else if format == .json {
            print(check.jsonReport)
        } else if check.isValid {
            if !check.warnings.isEmpty {
                Terminal.standardError.write(
                    DiagnosticPrinter.render(check.warnings, source: check.source, color: Terminal.standardError.color))
            }
            print(check.summary)
        } else {
            let text = DiagnosticPrinter.render(check.diagnostics, source: check.source, color: Terminal.standardError.color)
            Terminal.standardError.write(text + check.summary)
        }
        do {
            _ = try check.get()
        } catch {
            throw ExitCode(error.exitCode)
        }
    }
}
