import Foundation

/// The outcome of reading a config file: the config when it is valid, and every diagnostic.
public struct ConfigCheck: Sendable {
    /// The name diagnostics carry, as the user gave it.
    public var file: String
    /// The text that was read, for printing source lines; empty when it was not text.
    public var source: String
    /// nil exactly when there is an error; warnings leave it set.
    public var config: Config?
    /// Errors and warnings, in file order; file-level problems (line 0) first.
    public var diagnostics: [Diagnostic]

    public var isValid: Bool { config != nil }
    /// What is legal but almost certainly wrong; only ever found in a file without errors.
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
}

/// Reads moat files: size and encoding limits, YAML, every rule of the format, defaults.
///
/// Pure: the file itself is read by `check(path:)` (MoatHost), which hands the bytes here.
public enum ConfigLoader {
    /// Real files are a few KiB; anything bigger than this is refused before parsing.
    public static let maxFileSize = 1 << 20

    /// Checks raw bytes: refuses what is too big, not UTF-8, or holds NUL bytes.
    public static func check(bytes: [UInt8], file: String) -> ConfigCheck {
        if bytes.count > maxFileSize {
            return failure(
                file: file, "the file is larger than \(maxFileSize) bytes (1 MiB), the most moat reads; it is not a moat file")
        }
        var scalars = String.UnicodeScalarView()
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var line = 1
        var column = 1
        decoding: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\0" {
                    return failure(
                        file: file, line: line, column: column, "the file holds a NUL byte; it is not a text file")
                }
                scalars.append(scalar)
                if scalar == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            case .emptyInput:
                break decoding
            case .error:
                return failure(file: file, line: line, column: column, "the file is not UTF-8 text")
            }
        }
        return check(text: String(scalars), file: file)
    }

    /// Checks YAML text; `file` is only the name diagnostics carry.
    public static func check(text: String, file: String) -> ConfigCheck {
        if text.utf8.count > maxFileSize {
            return failure(file: file, "the file is larger than \(maxFileSize) bytes (1 MiB), the most moat reads")
        }
        var decoder = ConfigDecoder(file: file)
        var config: Config?
        switch YAMLComposer.compose(text) {
        case .failure(let error):
            decoder.reader.error(error.line, error.column, .root, error.message)
        case .success(nil):
            decoder.reader.error(1, 1, .root, "the file is empty; it needs at least `version: 1` and `networks:`")
        case .success(let root?):
            if let draft = decoder.decode(root) {
                decoder.checkAcrossNetworks(draft)
                if !decoder.reader.hasErrors {
                    let resolved = draft.resolved()
                    decoder.checkWarnings(draft, resolved)
                    config = resolved
                }
            }
        }
        return ConfigCheck(file: file, source: text, config: config, diagnostics: inFileOrder(decoder.reader.diagnostics))
    }

    /// The config in `text`, or a MoatError carrying every diagnostic.
    public static func load(text: String, file: String) throws(MoatError) -> Config {
        try check(text: text, file: file).get()
    }

    /// A check that failed before any YAML was read: the file is unreadable, too big, or not text.
    public static func failure(file: String, line: Int = 0, column: Int = 0, _ message: String) -> ConfigCheck {
        let diagnostic = Diagnostic(path: "", message: message, file: file, line: line, column: column)
        return ConfigCheck(file: file, source: "", config: nil, diagnostics: [diagnostic])
    }

    private static func inFileOrder(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        diagnostics.enumerated().sorted { a, b in
            (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
        }.map(\.element)
    }
}

extension ConfigCheck {
    /// The config, or a MoatError whose diagnostics say why there is none.
    public func get() throws(MoatError) -> Config {
        if let config { return config }
        let count = errors.count
        throw MoatError(.failed, "\(file) is invalid: \(count) error\(count == 1 ? "" : "s")", diagnostics: diagnostics)
    }

    /// `moat validate`'s line for a valid file: `moat.yaml: valid, 2 networks (lab, board).`,
    /// with `, 1 warning` before the full stop when there are warnings.
    public var summary: String {
        guard let config else {
            let count = errors.count
            return "\(file): invalid, \(count) error\(count == 1 ? "" : "s")."
        }
        let names = config.networks.map(\.name)
        var text = "\(file): valid, \(names.count) network\(names.count == 1 ? "" : "s")"
        if !names.isEmpty { text += " (\(names.joined(separator: ", ")))" }
        let warningCount = warnings.count
        if warningCount > 0 { text += ", \(warningCount) warning\(warningCount == 1 ? "" : "s")" }
        return text + "."
    }

    /// `moat validate --json`: `{"diagnostics": [...], "file": ..., "networks": [...], "valid": ...}`,
    /// keys sorted, so it diffs cleanly.
    public var jsonReport: String {
        let networks: [[String: Any]] = (config?.networks ?? []).map { network in
            [
                "name": network.name,
                "device": network.device.name,
                "kind": network.device.isBridge ? "bridge" : "interface",
                "address": network.address.description,
                "mode": network.mode.rawValue,
            ]
        }
        let report: [String: Any] = [
            "valid": isValid,
            "file": file,
            "diagnostics": diagnostics.map(\.jsonObject),
            "networks": networks,
        ]
        return JSONText.document(report)
    }
}
