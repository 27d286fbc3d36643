extension DiagnosticPrinter {
    /// Each diagnostic as a GitHub Actions workflow command, one line each:
    /// `::error file=F,line=L,col=C::PATH: message` (`::warning` for a warning), which the
    /// pull request shows on the line. A file-level problem (line 0) names the file alone.
    /// Data and property values are escaped as the runner unescapes them.
    public static func github(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.map { diagnostic in
            var properties = ["file=\(escapeProperty(diagnostic.file))"]
            if diagnostic.line > 0 {
                properties += ["line=\(diagnostic.line)", "col=\(diagnostic.column)"]
            }
            let path = diagnostic.path.isEmpty ? "" : "\(diagnostic.path): "
            return "::\(diagnostic.severity.rawValue) \(properties.joined(separator: ","))::\(escapeData(path + diagnostic.message))\n"
        }.joined()
    }

    /// A command's message: `%`, CR and LF as `%25`, `%0D`, `%0A`.
    public static func escapeData(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "%": out += "%25"
            case "\r": out += "%0D"
            case "\n": out += "%0A"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A property value: as a message, and `:` and `,` as `%3A` and `%2C`.
    public static func escapeProperty(_ text: String) -> String {
        var out = ""
        for scalar in escapeData(text).unicodeScalars {
            switch scalar {
            case ":": out += "%3A"
            case ",": out += "%2C"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
