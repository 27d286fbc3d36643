import ArgumentParser
import Foundation
import MoatConfig
import MoatCore
import MoatHost
import MoatReconcile

/// `moat status [FILE...] [--json | --format text|json|prometheus] [--leases] [--check] [--out FILE]`:
/// every moat network on the host, read live; with a configuration, also its networks that
/// are not applied, and the firewall judged against it. Reads only: takes no lock and
/// changes nothing on the host.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show moat's networks on this host: device, address, firewall, dnsmasq, leases.",
        discussion: """
            Without FILE, and when the default configuration (/etc/moat/moat.yaml, \
            /etc/moat/moat.d/*.yaml) does not exist, shows the live networks only (their firewall \
            is reported as present, not compared). With a configuration, also lists the networks \
            it declares that are not on the host, and reports each firewall as in place or drifted \
            from what the file renders. Changes nothing and takes no lock.

            --check is a monitoring check with a Nagios plugin's exit codes: 0 every declared \
            network in place (one waiting for its device counts, with a note), 2 something \
            missing, drifted or its dnsmasq not running, 3 the file is invalid or the host could \
            not be read. --format prometheus prints the same facts as Prometheus metrics; --out \
            FILE writes the output to FILE atomically (for node_exporter's textfile collector).

            EXIT CODES: 0 shown; 1 error (an invalid file, the host unreadable); with --check: \
            0 OK, 2 CRITICAL, 3 UNKNOWN; 64 usage error.

            EXAMPLES:
              moat status --leases
              moat status --check
            """)

    @OptionGroup var options: HostOptions

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, prometheus
    }

    @Flag(help: "Print the report as JSON (keys sorted); the same as --format json.")
    var json = false

    @Option(help: "text: a table for people; json: the report as data; prometheus: metrics in the text format.")
    var format: Format?

    @Flag(help: "List each network's DHCP leases: MAC, IP, hostname, expiry.")
    var leases = false

    @Flag(help: "A monitoring check: exit 0 in place, 2 something missing or drifted, 3 invalid file or unreadable host.")
    var check = false

    @Option(help: ArgumentHelp("Write the output to this file, atomically, instead of printing it.", valueName: "file"))
    var out: String?

    func validate() throws {
        if json, let format, format != .json { throw ValidationError("--json and --format \(format.rawValue) contradict each other") }
    }

    func run() async throws {
        let format = json ? .json : (self.format ?? .text)
        let result: StatusReport
        do {
            result = try await report()
        } catch {
            // Metrics say the host could not be judged, so a stale OK never lingers in a
            // collector's file; under --check every error is UNKNOWN (exit 3).
            if format == .prometheus { try? write(StatusReport.unknownMetrics) }
            guard check else { return try await reportingErrors(json: format == .json) { throw error } }
            let unknown = StatusCheck.unknown((error as? MoatError)?.message ?? "\(error)")
            if format == .text { try write(unknown.text) }
            try await reportingErrors(json: format == .json) { throw MoatError(.unknown, (error as? MoatError)?.message ?? "\(error)") }
            return
        }
        try await reportingErrors(json: format == .json) { try await emit(result, format: format) }
        if check {
            if format == .text { try write(result.check.text) }
            if result.check.state != .ok { throw ExitCode(result.check.state.rawValue) }
        }
    }

    /// The host read, judged against the configuration when there is one.
    func report() async throws -> StatusReport {
        let reconciler = options.reconciler()
        try Dependencies.check(["ip", "iptables-save"], system: reconciler.system)
        // The default configuration is optional here: status is for any host moat has touched.
        let loaded = !options.files.isEmpty || ConfigFiles.defaultIsPresent ? try options.loadChecked() : nil
        let paths = options.paths
        let live = try await reconciler.snapshot()
        let placement = loaded.map { Placement.place($0.config, on: live) }
        let names = Set(live.networks.keys).union(placement?.config.networks.map(\.name) ?? [])
        let found = try Status.readFiles(networks: names.sorted(), paths: paths, system: reconciler.system)
        return Status.report(
            live: live, config: placement?.config, file: loaded?.check.file, paths: paths, leases: found.leases,
            pidFiles: found.pidFiles, now: Int(reconciler.system.now().timeIntervalSince1970), waiting: placement?.waiting ?? [],
            problems: placement?.problems ?? [])
    }

    func emit(_ report: StatusReport, format: Format) async throws {
        switch format {
        case .json: try write(report.json(leases: leases))
        case .prometheus: try write(report.prometheus)
        case .text where check:
            break  // the check's own lines, printed by `run`
        case .text:
            try write(
                report.humanText(
                    color: out == nil && Terminal.standardOutput.color, leases: leases,
                    now: Int(options.reconciler().system.now().timeIntervalSince1970), timeZone: .current))
        }
    }

    /// To stdout, or with --out to the file, replaced atomically.
    func write(_ text: String) throws {
        guard let out else { return print(text, terminator: "") }
        try options.reconciler().system.write(out, text)
    }
}
