import Foundation
import MoatConfig

extension Plan {
    /// Terraform-like lines for people: a mark, the network, the object, the action and why;
    /// with `operations` (the paths they act on), under each step every command, rule and
    /// file it writes (`plan --verbose`).
    public func humanText(color: Bool, operations paths: Paths? = nil) -> String {
        let notes = waiting.map { "Waiting: \($0)\n" }.joined()
        guard !isEmpty else { return notes + "No changes. The host matches the file.\n" }
        let lines = steps.map { step in
            Plan.Line(
                network: step.network, action: step.action, change: step.change, changes: step.changes.map(\.description),
                operations: paths.map { paths in step.operations.flatMap { $0.lines(paths: paths) } } ?? [])
        }
        let backend = firewall.map { changesFirewall ? "Firewall: \($0).\n" : "" } ?? ""
        return Self.text(of: lines, summary: summary, color: color) + backend + (notes.isEmpty ? "" : "\n" + notes)
    }

    /// One step as printed.
    struct Line {
        var network: String?
        var action: Step.Action
        var change: String
        /// In the file's terms (`Change`), under the step.
        var changes: [String]
        /// Every command, rule and file line, under those (`--verbose`, `show`).
        var operations: [String]
    }

    static func text(of lines: [Line], summary s: Summary, color: Bool) -> String {
        var out = "moat will perform these actions:\n\n"
        let width = lines.map { ($0.network ?? "*").count }.max() ?? 1
        for line in lines {
            let network = (line.network ?? "*").padding(toLength: width, withPad: " ", startingAt: 0)
            out += Self.color(of: line.action).paint("  \(line.action.symbol) \(network)  \(line.change)", enabled: color) + "\n"
            for change in line.changes { out += "        \(change)\n" }
            for operation in line.operations { out += "          $ \(operation)\n" }
        }
        out += "\n\(s.text)\n"
        return out
    }

    static func color(of action: Step.Action) -> ANSIColor {
        switch action {
        case .create, .start, .configure: .green
        case .delete, .release: .red
        default: .yellow
        }
    }

    /// Stable data for programs: `{"changes": bool, "summary": {...}, "steps": [...]}`, and
    /// `"applied": true` after an apply.
    public func json(applied: Bool = false, paths: Paths) -> String {
        let s = summary
        var object: [String: Any] = [
            "changes": !isEmpty,
            "summary": ["add": s.add, "change": s.change, "destroy": s.destroy, "shared": s.shared],
            "steps": steps.map { step -> [String: Any] in
                [
                    "network": step.network ?? NSNull(), "object": step.subject.description, "action": step.action.rawValue,
                    "reason": step.reason, "code": step.code.rawValue,
                    "changes": step.changes.map { change -> [String: Any] in
                        [
                            "kind": change.kind.rawValue, "item": change.item, "before": change.before ?? NSNull(),
                            "after": change.after ?? NSNull(), "outside": change.outside,
                        ]
                    },
                    "operations": step.operations.flatMap { $0.lines(paths: paths) },
                ]
            },
        ]
        if applied { object["applied"] = true }
        // Present only when there are warnings, so a clean plan's JSON is unchanged.
        if !warnings.isEmpty { object["warnings"] = warnings }
        if let firewall { object["firewall"] = ["backend": firewall.backend.rawValue, "reason": firewall.reason] }
        if !waiting.isEmpty { object["waiting"] = waiting.map { ["network": $0.network, "device": $0.device] } }
        return JSONText.document(object)
    }
}

extension Plan.Step {
    /// `subject: action (reason)`, as the plan and status print a step.
    public var change: String { "\(subject): \(action.rawValue) (\(reason))" }
}

extension SavedPlan {
    /// What `moat show` prints: where and from what the plan was made, then its steps with
    /// every command, rule and file line, as `plan --verbose` printed them.
    public func humanText(color: Bool) -> String {
        let from = files.map { "\($0.path) (sha256 \($0.sha256))" }.joined(separator: "\n            ")
        var out = """
            Saved plan (format \(formatVersion), moat \(moatVersion)), for `moat apply PLANFILE`:
              made on   \(host)
              from      \(from)
              for       --state-dir \(stateDir) --run-dir \(runDir)


            """
        guard !steps.isEmpty else { return out + "No changes. The host matched the file.\n" }
        let lines = steps.map { step in
            Plan.Line(
                network: step.network, action: Plan.Step.Action(rawValue: step.action) ?? .update,
                change: "\(step.object): \(step.action) (\(step.reason))", changes: step.changes, operations: step.operations)
        }
        out += Plan.text(
            of: lines, summary: Plan.Summary(add: summary.add, change: summary.change, destroy: summary.destroy), color: color)
        return out
    }
}
