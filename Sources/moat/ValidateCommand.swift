import ArgumentParser
import Foundation
import MoatConfig
import MoatHost

/// `moat validate [FILE...] [--json | --format human|json|github]`: the configuration's syntax and
/// every rule, offline. No root, nothing on the host read but the files.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the file offline: syntax, format and every rule, without root or live state.",
        discussion: """
            FILE may be a directory: its *.yaml files, in lexical order, and any other FILEs \
            are one configuration (a network is declared in one file only). Without FILE: \
            /etc/moat/moat.yaml and /etc/moat/moat.d/*.yaml. \
            Exit 0 when the configuration is valid (warnings included), 1 when it is not. Errors \
            and warnings go to stderr as FILE:LINE:COL: error|warning: PATH: message, \
            with the source line and a caret. \
            With --json, a report goes to stdout: {"diagnostics": [...], "file": ..., "files": [...], \
            "networks": [...], "valid": true|false}. \
            With --format github, one GitHub Actions annotation per diagnostic goes to \
            stdout (::error file=F,line=L,col=C::message, ::warning for a warning), then \
            the summary line.

            EXIT CODES: 0 valid (warnings included), 1 invalid, 64 usage error.

            EXAMPLES:
              moat validate /etc/moat/moat.yaml
              moat validate /etc/moat/moat.d --format github
            """
    )

    @Argument(
        help: ArgumentHelp(
            "Moat files, or directories of *.yaml files, read as one configuration; `-` reads one from standard input.", valueName: "file"),
        completion: .file(extensions: ["yaml", "yml"]))
    var files: [String] = []

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
        let check = ConfigLoader.check(paths: files)
        let format = json ? .json : (self.format ?? .human)
        if format == .github {
            print(DiagnosticPrinter.github(check.diagnostics) + check.summary)
        } else if format == .json {
            print(check.jsonReport)
        } else if check.isValid {
            if !check.warnings.isEmpty {
                Terminal.standardError.write(check.printed(check.warnings, color: Terminal.standardError.color))
            }
            print(check.summary)
        } else {
            let text = check.printed(check.diagnostics, color: Terminal.standardError.color)
            Terminal.standardError.write(text + check.summary)
        }
        do {
            _ = try check.get()
        } catch {
            throw ExitCode(error.exitCode)
        }
    }
}
