import Foundation
import MoatConfig
import MoatCore

extension Reconciler {
    /// How long a dnsmasq start that a killed run left in flight may take to finish.
    static let inFlightStartLimit: Duration = .seconds(5)

    /// A run killed while it started dnsmasq leaves those starts in flight: dnsmasq forks its
    /// daemon, which writes its pid file only once it is up, after the next run may have read
    /// the host. So, under the lock and only when an interrupted run's journal is there, this
    /// waits until every dnsmasq reading one of that run's networks' configs has either gone
    /// or is the one its pid file names. One that no pid file names then is an orphan of the
    /// dead run (moat's own config, a process nothing would ever stop): it is stopped.
    func settleInterruptedStarts() async throws {
        guard let text = try system.read(paths.journal), let journal = Journal(parsing: text),
            journal.pid != system.processID, !journal.dnsmasqNetworks.isEmpty
        else { return }
        let clock = ContinuousClock()
        let deadline = clock.now + Self.inFlightStartLimit
        var unsettled: [String: [Int32]] = [:]
        repeat {
            unsettled = try unnamedDnsmasqs(of: journal.dnsmasqNetworks)
            if unsettled.isEmpty { return }
            try await Task.sleep(for: .milliseconds(20))
        } while clock.now < deadline
        for (network, pids) in unsettled.sorted(by: { $0.key < $1.key }) {
            progress("moat: stopping dnsmasq of \(network) (pid \(pids.map(String.init).joined(separator: ", "))): started by the interrupted run, named by no pid file")
        }
        try await Executor(system: system, paths: paths).stopDnsmasqs(unsettled.values.flatMap { $0 })
    }

    /// Per network of `networks`, the running dnsmasqs that read its config but are not the
    /// one its pid file names, from /proc.
    func unnamedDnsmasqs(of networks: [String]) throws -> [String: [Int32]] {
        let configs = Dictionary(networks.map { (paths.dnsmasqConfig($0), $0) }, uniquingKeysWith: { first, _ in first })
        var found: [String: [Int32]] = [:]
        for entry in try system.list("/proc") {
            guard let pid = Int32(entry), pid > 0, pid != system.processID,
                let cmdline = try system.read("/proc/\(pid)/cmdline"),
                let network = configs.first(where: { Snapshot.isDnsmasq(cmdline: cmdline, config: $0.key) })?.value,
                system.isRunning(pid)
            else { continue }
            let named = try system.read(paths.dnsmasqPidFile(network)).flatMap(Snapshot.parsePid)
            if named != pid { found[network, default: []].append(pid) }
        }
        return found
    }
}
