import Foundation
import MoatHost

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

    public static func load(from system: any HostSystem, paths: Paths) -> Journal? {
        guard let text = system.read(paths.journal) else { return nil }
        return try? JSONDecoder().decode(Journal.self, from: Data(text.utf8))
    }

    public func save(to system: any HostSystem, paths: Paths) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(self)
        try system.write(paths.journal, String(decoding: data, as: UTF8.self) + "\n")
    }

    /// What a person reads about an interrupted run.
    public var interruptedMessage: String {
        let next = completed < units.count ? "; it stopped at: \(units[completed])" : ""
        return "the last run (\(command), pid \(pid), started \(started)) was interrupted after \(completed) of \(units.count) steps\(next). Converging."
    }
}
