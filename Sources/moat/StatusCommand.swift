import ArgumentParser
import Foundation
import MoatConfig
import MoatCore
import MoatHost
import MoatReconcile

/// `moat status [FILE] [--json] [--leases]`: every moat network on the host, read live; with
/// a file, also the file's networks that are not applied, and the firewall judged against it.
/// Reads only: takes no lock and changes nothing.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show moat's networks on this host: device, address, firewall, dnsmasq, leases.",
        discussion: """
            Without FILE, and when the default file does not exist, shows the live networks only \
            (their firewall is reported as present, not compared). With a file, also lists the \
            networks it declares that are not on the host, and reports each firewall as in place \
            or drifted from what the file renders. Changes nothing and takes no lock.
            """)

    @OptionGroup var options: HostOptions

    @Flag(help: "Print the report as JSON (keys sorted).")
    var json = false

    @Flag(help: "List each network's DHCP leases: MAC, IP, hostname, expiry.")
    var leases = false

    func run() async throws {
        try await reportingErrors(json: json) {
            let reconciler = options.reconciler()
            try Dependencies.check(["ip", "iptables-save"], system: reconciler.system)
            // The default configuration is optional here: status is for any host moat has touched.
            let loaded = !options.files.isEmpty || ConfigFiles.defaultIsPresent ? try options.loadChecked() : nil
            let config = loaded?.config
            let paths = options.paths
            let live = try await reconciler.snapshot()
            let names = Set(live.networks.keys).union(config?.networks.map(\.name) ?? [])
            let found = try Status.readFiles(networks: names.sorted(), paths: paths, system: reconciler.system)
            let now = Int(reconciler.system.now().timeIntervalSince1970)
            let report = Status.report(
                live: live, config: config, file: loaded?.check.file, paths: paths, leases: found.leases,
                pidFiles: found.pidFiles, now: now)
            if json {
                print(report.json(leases: leases), terminator: "")
            } else {
                print(report.humanText(color: Terminal.standardOutput.color, leases: leases, now: now, timeZone: .current), terminator: "")
            }
        }
    }
}
