import Foundation
import MoatConfig

extension Plan {
    /// Terraform-like lines for people: a mark, the network, the object, the action and why.
    public func humanText(color: Bool) -> String {
        guard !isEmpty else { return "No changes. The host matches the file.\n" }
        var out = "moat will perform these actions:\n\n"
        let width = steps.map { ($0.network ?? "*").count }.max() ?? 1
        for step in steps {
            let mark = step.action.symbol
            let network = (step.network ?? "*").padding(toLength: width, withPad: " ", startingAt: 0)
            let line = "  \(mark) \(network)  \(step.change)"
            out += Self.color(of: step.action).paint(line, enabled: color) + "\n"
        }
        let s = summary
        out += "\nPlan: \(s.add) to add, \(s.change) to change, \(s.destroy) to destroy.\n"
        return out
    }

    static func color(of action: Step.Action) -> ANSIColor {
        switch action {
        case .create, .start: .green
        case .delete: .red
        default: .yellow
        }
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
                    "network": step.network ?? NSNull(), "object": step.subject.description, "action": step.action.rawValue,
                    "reason": step.reason,
                ]
            },
        ]
        if applied { object["applied"] = true }
        // Present only when there are warnings, so a clean plan's JSON is unchanged.
        if !warnings.isEmpty { object["warnings"] = warnings }
        return JSONText.write(object, fallback: "{}") + "\n"
    }
}

extension Plan.Step {
    /// `subject: action (reason)`, as the plan and status print a step.
    public var change: String { "\(subject): \(action.rawValue) (\(reason))" }
}
