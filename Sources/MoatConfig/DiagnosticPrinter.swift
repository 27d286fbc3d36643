import Foundation

/// Prints diagnostics the way compilers do, or as JSON. Pure: the caller decides on colour
/// (a TTY and no `NO_COLOR`) and where the text goes.
public enum DiagnosticPrinter {
    /// Each diagnostic as `FILE:LINE:COL: error: PATH: message`, then its source line and a
    /// caret under the column (when `source` holds the text). File-level problems (line 0)
    /// get `FILE: error: message` alone.
    public static func render(_ diagnostics: [Diagnostic], source: String = "", color: Bool = false) -> String {
        render(diagnostics, sourceOf: { _ in source }, color: color)
    }

    /// The same, for a configuration of several files: each source line comes from the
    /// text of the diagnostic's own file (`sources` by file name).
    public static func render(_ diagnostics: [Diagnostic], sources: [String: String], color: Bool = false) -> String {
        render(diagnostics, sourceOf: { sources[$0] ?? "" }, color: color)
    }

    private static func render(_ diagnostics: [Diagnostic], sourceOf: (String) -> String, color: Bool) -> String {
        var split: [String: [Substring]] = [:]
        var out = ""
        for diagnostic in diagnostics {
            let source = sourceOf(diagnostic.file)
            let lines = split[diagnostic.file] ?? source.split(separator: "\n", omittingEmptySubsequences: false)
            split[diagnostic.file] = lines
            let style = Style(enabled: color)
            let location =
                diagnostic.line > 0 ? "\(diagnostic.file):\(diagnostic.line):\(diagnostic.column):" : "\(diagnostic.file):"
            let label = diagnostic.severity == .error ? style.red("error:") : style.magenta("warning:")
            let path = diagnostic.path.isEmpty ? "" : "\(diagnostic.path): "
            out += "\(style.bold(location)) \(label) \(style.bold(path + diagnostic.message))\n"
            if !source.isEmpty, diagnostic.line > 0, diagnostic.line <= lines.count {
                let (text, caret) = excerpt(lines[diagnostic.line - 1], column: diagnostic.column)
                out += text + "\n" + caret.dropLast() + style.green("^") + "\n"
            }
        }
        return out
    }

    /// The diagnostics as a JSON array of `{column, file, line, message, path, severity}`.
    public static func json(_ diagnostics: [Diagnostic]) -> String {
        JSONText.write(diagnostics.map(\.jsonObject))
    }

    /// The source line made safe to print (control characters would drive the terminal;
    /// a 1 MiB line would flood it) and the caret line under it, ending in one spare cell.
    private static func excerpt(_ line: Substring, column: Int) -> (text: String, caret: String) {
        var scalars = Array(line.unicodeScalars)
        if scalars.last == "\r" { scalars.removeLast() }
        var caretIndex = max(0, column - 1)
        let window = 120
        var prefix = ""
        if scalars.count > window {
            let start = max(0, min(caretIndex - window / 2, scalars.count - window))
            scalars = Array(scalars[start..<min(scalars.count, start + window)])
            caretIndex -= start
            if start > 0 { prefix = "…" }
            if start + window < line.unicodeScalars.count { scalars.append("…") }
        }
        var text = prefix
        var caret = prefix.isEmpty ? "" : " "
        for (index, scalar) in scalars.enumerated() {
            let printable: Unicode.Scalar =
                scalar == "\t" || (scalar.value >= 0x20 && scalar.value != 0x7f && !(0x80..<0xa0).contains(scalar.value))
                ? scalar : "\u{FFFD}"
            text.unicodeScalars.append(printable)
            // Tabs stay tabs so the caret lines up however wide the terminal draws them.
            if index < caretIndex { caret.unicodeScalars.append(scalar == "\t" ? "\t" : " ") }
        }
        if caretIndex > scalars.count { caret += String(repeating: " ", count: caretIndex - scalars.count) }
        return (text, caret + " ")
    }

    private struct Style {
        var enabled: Bool
        func bold(_ text: String) -> String { ANSIColor.bold.paint(text, enabled: enabled) }
        func red(_ text: String) -> String { ANSIColor.boldRed.paint(text, enabled: enabled) }
        func magenta(_ text: String) -> String { ANSIColor.boldMagenta.paint(text, enabled: enabled) }
        func green(_ text: String) -> String { ANSIColor.boldGreen.paint(text, enabled: enabled) }
    }
}

extension Diagnostic {
    /// The JSON form: severity, message, path, file, line, column.
    public var jsonObject: [String: Any] {
        [
            "severity": severity.rawValue, "message": message, "path": path, "file": file, "line": line,
            "column": column,
        ]
    }
}
