import Foundation
import MoatHost

extension Plan {
    /// Terraform-like lines for people: a mark, the network, the object, the action and why.
    public func humanText(color: Bool) -> String {
        guard !isEmpty else { return "No changes. The host matches the file.\n" }
        var out = "moat will perform these actions:\n\n"
        let width = steps.map { ($0.network ?? "*").count }.max() ?? 1
        for step in steps {
            let mark = step.action.symbol
            let network = (step.network ?? "*").padding(toLength: width, withPad: " ", startingAt: 0)
            let line = "  \(mark) \(network)  \(step.object): \(step.action.rawValue) (\(step.reason))"
            out += (color ? Self.paint(line, for: step.action) : line) + "\n"
        }
        let s = summary
        out += "\nPlan: \(s.add) to add, \(s.change) to change, \(s.destroy) to destroy.\n"
        return out
    }

    static func paint(_ line: String, for action: Step.Action) -> String {
        let code =
            switch action {
            case .create, .start: "32"
            case .delete: "31"
            default: "33"
            }
        return "\u{1B}[\(code)m\(line)\u{1B}[0m"
    }

    /// Stable data for programs: `{"changes": bool, "summary": {...}, "steps": [...]}`, and
    /// `"applied": true` after an apply.
    public func json(applied: Bool = false) -> String {
        let s = summary
        var object: [String: Any] = [
            "changes": !isEmpty,
            "summary": ["add": s.add, "change": s.change, "destroy": s.destroy],
            "steps": steps.map { step -> [String: Any] in
                [
                    "network": step.network ?? NSNull(), "object": step.object, "action": step.action.rawValue,
                    "reason": step.reason,
                ]
            },
        ]
        if applied { object["applied"] = true }
        // Present only when there are warnings, so a clean plan's JSON is unchanged.
        if !warnings.isEmpty { object["warnings"] = warnings }
        return Self.encode(object)
    }

    static func encode(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]),
            let text = String(data: data, encoding: .utf8)
        else { return "{}" }
        return text + "\n"
    }
}
