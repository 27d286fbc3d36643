import Foundation

/// moat's one JSON writer: keys sorted and slashes left alone, so the output is stable and
/// diffs cleanly, whether it is a command's output or a file moat keeps.
public enum JSONText {
    /// The `format_version` of every JSON document moat prints. It changes only when a field
    /// is removed or changes its meaning; fields may be added within a version.
    public static let formatVersion = 1

    /// A document moat prints (plan, apply, destroy, status, validate, an error): `object`
    /// with its `format_version`, pretty-printed, keys sorted, with a final newline.
    public static func document(_ object: [String: Any]) -> String {
        write(object.merging(["format_version": formatVersion]) { $1 }, fallback: "{}") + "\n"
    }

    /// A JSON object tree (`[String: Any]`, arrays, strings, numbers, `NSNull`), pretty-printed;
    /// `fallback` when it is not one.
    public static func write(_ object: Any, fallback: String = "null") -> String {
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: options) else { return fallback }
        return String(decoding: data, as: UTF8.self)
    }

    /// An encodable value on one line (`pretty: false`) or pretty-printed, with a final newline.
    public static func write<Value: Encodable>(_ value: Value, pretty: Bool) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// moat's one ANSI colour helper: SGR codes around a text, for terminals only (the callers
/// decide: a TTY and no `NO_COLOR`).
public enum ANSIColor: String, Sendable {
    case bold = "1"
    case red = "31"
    case green = "32"
    case yellow = "33"
    case boldRed = "1;31"
    case boldGreen = "1;32"
    case boldMagenta = "1;35"

    /// `text` in this colour; unchanged when `enabled` is false or the text is empty.
    public func paint(_ text: String, enabled: Bool = true) -> String {
        enabled && !text.isEmpty ? "\u{1B}[\(rawValue)m\(text)\u{1B}[0m" : text
    }
}
