import Foundation
import MoatConfig

/// The record of a run in progress, written before each unit of work. Left behind by a
/// crash, it tells the next run what was interrupted.
public struct Journal: Codable, Hashable, Sendable {
    public var command: String
    public var pid: Int32
    public var started: String
    /// The units of work of the run, in order.
    public var units: [String]
    /// How many units finished.
    public var completed: Int
    /// Networks whose dnsmasq files or process the run touches.
    public var dnsmasqNetworks: [String]

    public init(command: String, pid: Int32, started: String, units: [String], completed: Int = 0, dnsmasqNetworks: [String]) {
        self.command = command
        self.pid = pid
        self.started = started
        self.units = units
        self.completed = completed
        self.dnsmasqNetworks = dnsmasqNetworks
    }

    /// The journal in `text`; nil when it cannot be read (a journal half-written by a run
    /// killed at that moment says nothing more than its absence would). Only valid network
    /// names are kept of `dnsmasqNetworks`: the next run builds paths from them.
    public init?(parsing text: String) {
        guard let journal = try? JSONDecoder().decode(Journal.self, from: Data(text.utf8)) else { return nil }
        self = journal
        dnsmasqNetworks = journal.dnsmasqNetworks.filter(Snapshot.isNetworkName)
    }

    /// The journal as moat writes it.
    public var text: String { JSONText.write(self, pretty: true) }

    /// What a person reads about an interrupted run.
    public var interruptedMessage: String {
        // `completed` comes from a file: a negative one must not index the units.
        let next = units.indices.contains(completed) ? "; it stopped at: \(units[completed])" : ""
        return "the last run (\(command), pid \(pid), started \(started)) was interrupted after \(completed) of \(units.count) steps\(next). Converging."
    }
}
