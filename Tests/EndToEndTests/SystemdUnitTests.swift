import Foundation
import Testing

/// The systemd units in `contrib/` pass `systemd-analyze verify`, and say what the README
/// promises. The units name the installed `/usr/local/bin/moat`, which a test machine need
/// not have, and verify rightly fails on a missing executable: so copies that name the built
/// binary are verified together (their Wants= and After= name each other), and the test
/// checks that each copy differs from its original only in that path.
@Suite("The systemd units and the udev rule", .enabled(if: Shell.exists("systemd-analyze")))
struct SystemdUnitTests {
    static let installed = "/usr/local/bin/moat"
    static let units = ["moat.service", "moat-repair.service", "moat-repair.timer", "moat-metrics.service"]

    static func text(_ name: String) throws -> String {
        try String(contentsOf: Environment.packageRoot.appendingPathComponent("contrib/\(name)"), encoding: .utf8)
    }

    /// The unit's lines, trimmed, comments left out.
    static func lines(_ name: String) throws -> Set<String> {
        Set(try text(name).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.hasPrefix("#") })
    }

    @Test("every unit and the timer pass systemd-analyze verify, pointed at the built moat")
    func verifies() throws {
        let binary = Environment.moatBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build moat first: \(binary)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moat-unit-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var copies: [String] = []
        for unit in Self.units {
            let original = try Self.text(unit)
            let copy = original.replacingOccurrences(of: Self.installed, with: binary)
            #expect(copy.replacingOccurrences(of: binary, with: Self.installed) == original)
            let url = folder.appendingPathComponent(unit)
            try copy.write(to: url, atomically: true, encoding: .utf8)
            copies.append(url.path)
        }
        let ran = try Shell.run(["systemd-analyze", "verify"] + copies, environment: ["SYSTEMD_UNIT_PATH": folder.path + ":"])
        #expect(ran.status == 0, "\(ran)")
        #expect(ran.stderr.isEmpty && ran.stdout.isEmpty, "verify had something to say: \(ran)")
    }

    @Test("the boot unit applies after the network and firewalld, and stopping it removes nothing")
    func boot() throws {
        let lines = try Self.lines("moat.service")
        for line in [
            "Type=oneshot", "RemainAfterExit=yes", "After=network-online.target firewalld.service", "Wants=network-online.target",
            "ExecStart=\(Self.installed) apply --auto-approve", "ExecReload=\(Self.installed) apply --auto-approve",
            "ConditionPathExists=|/etc/moat/moat.yaml", "ConditionDirectoryNotEmpty=|/etc/moat/moat.d", "WantedBy=multi-user.target",
        ] {
            #expect(lines.contains(line), "missing: \(line)")
        }
        #expect(!lines.contains { $0.hasPrefix("ExecStop") }, "stop (and so restart) must never destroy the networks")
    }

    @Test("the timer repairs every five minutes; meeting the lock is not a failure; metrics follow every run")
    func repair() throws {
        let timer = try Self.lines("moat-repair.timer")
        for line in ["OnUnitActiveSec=5min", "RandomizedDelaySec=30s", "WantedBy=timers.target"] {
            #expect(timer.contains(line), "missing: \(line)")
        }
        let service = try Self.lines("moat-repair.service")
        for line in [
            "Type=oneshot", "ExecStart=\(Self.installed) apply --auto-approve --lock-timeout 30", "SuccessExitStatus=75",
            "Wants=moat-metrics.service", "ConditionPathExists=|/etc/moat/moat.yaml", "ConditionDirectoryNotEmpty=|/etc/moat/moat.d",
        ] {
            #expect(service.contains(line), "missing: \(line)")
        }
        let metrics = try Self.lines("moat-metrics.service")
        for line in [
            "After=moat-repair.service", "ConditionPathIsDirectory=/var/lib/prometheus/node-exporter",
            "ExecStart=\(Self.installed) status --format prometheus --out /var/lib/prometheus/node-exporter/moat.prom",
        ] {
            #expect(metrics.contains(line), "missing: \(line)")
        }
    }

    @Test("the udev rule starts the repair unit when a device that is not virtual appears")
    func udevRule() throws {
        let rules = try Self.text("90-moat.rules").split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        try #require(rules.count == 1)
        // KEY, operator, "value" triples, as udev reads them.
        let pattern = try Regex(#"([A-Z_]+(?:\{[A-Z_]+\})?)\s*(==|!=|\+=|=)\s*"([^"]*)""#)
        let pairs = rules[0].matches(of: pattern).map { match in
            "\(match.output[1].substring ?? "") \(match.output[2].substring ?? "") \(match.output[3].substring ?? "")"
        }
        #expect(
            pairs == [
                "ACTION == add", "SUBSYSTEM == net", "DEVPATH != /devices/virtual/*", "TAG += systemd",
                "ENV{SYSTEMD_WANTS} += moat-repair.service",
            ])
        #expect(Self.units.contains("moat-repair.service"), "the unit it wants is in contrib")
        #expect(!rules[0].contains("RUN"), "udev kills long-running RUN programs: systemd starts the apply")
    }
}
