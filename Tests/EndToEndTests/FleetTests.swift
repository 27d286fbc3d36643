import Foundation
import Testing

extension EndToEnd {
    /// One configuration for many lab machines: devices found by MAC, optional devices,
    /// a directory of files.
    @Suite("fleet: MAC matching, optional devices, a directory of files")
    struct FleetTests {
        static let mac = "02:e0:4c:68:00:01"
        static let file = """
            version: 1
            networks:
              vms:
                bridge: mbr-vms
                address: 192.168.100.1/24
              board:
                interface: { mac: "\(mac)" }
                optional: true
                address: 10.20.0.1/24

            """

        /// A USB-Ethernet adapter as a host sees it: a veth end named `name` carrying `mac`;
        /// its peer (`peer-` and the name's last four characters) carries a random one.
        func plugIn(_ host: TestHost, name: String, mac: String = Self.mac) throws {
            let peer = "peer-\(name.suffix(4))"
            try host.exec(["ip", "link", "add", name, "type", "veth", "peer", "name", peer])
            try host.exec(["ip", "link", "set", name, "address", mac])
            try host.exec(["ip", "link", "set", peer, "up"])
        }

        func addresses(_ host: TestHost, _ device: String) throws -> String {
            try host.exec(["ip", "-o", "-4", "addr", "show", "dev", device])
        }

        @Test("one file finds the board's adapter by MAC on two machines that name it differently")
        func sameFileTwoMachines() async throws {
            for (tag, name) in [("fleet-a", "enx00e04c680001"), ("fleet-b", "eth7")] {
                try await withHost(tag) { host in
                    try plugIn(host, name: name)
                    let file = try host.file("moat.yaml", Self.file)
                    let apply = try host.moat(["apply", file])
                    try #require(apply.status == 0, "\(apply)")
                    #expect(try addresses(host, name).contains("10.20.0.1/24"), "the adapter is \(name) on this machine")
                    #expect(try addresses(host, "peer-\(name.suffix(4))").isEmpty, "its peer carries another MAC and is left alone")
                    let again = try host.moat(["plan", file, "--detailed-exitcode"])
                    #expect(again.status == 0, "\(again)")
                    let destroy = try host.moat(["destroy", file])
                    #expect(destroy.status == 0, "\(destroy)")
                    #expect(!(try addresses(host, name).contains("10.20.0.1")))
                }
            }
        }

        @Test("an optional network waits for its device; plugged in, the next apply configures it; unplugged, it waits again with nothing left")
        func optionalDevice() async throws {
            try await withHost("fleet-opt") { host in
                let file = try host.file("moat.yaml", Self.file)
                let apply = try host.moat(["apply", file])
                try #require(apply.status == 0, "an absent optional device fails nothing: \(apply)")
                #expect(apply.stdout.contains("board: waiting for its device (interface with MAC \(Self.mac) is not on this host)"), "\(apply)")
                #expect(try host.exec(["ip", "-o", "link", "show", "mbr-vms"]).contains("mbr-vms"), "the other network applied")
                let plan = try host.moat(["plan", file, "--detailed-exitcode", "--json"])
                #expect(plan.status == 0, "waiting is not a pending change: \(plan)")
                #expect(plan.stdout.contains("\"waiting\""))

                // The adapter appears: what the udev rule's apply does.
                try plugIn(host, name: "enx00e04c680001")
                let pending = try host.moat(["plan", file, "--detailed-exitcode"])
                #expect(pending.status == 2, "\(pending)")
                let hotplug = try host.moat(["apply", file])
                try #require(hotplug.status == 0, "\(hotplug)")
                #expect(try addresses(host, "enx00e04c680001").contains("10.20.0.1/24"))
                #expect(try Rules.text(host).contains("MOAT-IN-board"))

                // Unplugged: the network waits again, and nothing of it stays on the host.
                try host.exec(["ip", "link", "del", "enx00e04c680001"])
                let gone = try host.moat(["plan", file])
                #expect(gone.stdout.contains("its device is gone; the network waits for it"), "\(gone)")
                let cleanup = try host.moat(["apply", file])
                try #require(cleanup.status == 0, "\(cleanup)")
                #expect(!(try Rules.text(host).contains("board")))
                #expect(host.dnsmasqPids()["board"] == nil)
                #expect(host.dnsmasqPids()["vms"] != nil)
                #expect(try host.moat(["plan", file, "--detailed-exitcode"]).status == 0)
            }
        }

        @Test("a MAC that no device has, or two devices have, is refused naming the MAC")
        func macProblems() async throws {
            try await withHost("fleet-mac") { host in
                let strict = try host.file("strict.yaml", Self.file.replacingOccurrences(of: "    optional: true\n", with: ""))
                let none = try host.moat(["plan", strict])
                #expect(none.status == 1)
                #expect(none.stderr.contains("no device has MAC \(Self.mac)"), "\(none)")
                try plugIn(host, name: "usb0")
                try plugIn(host, name: "usb1")
                let two = try host.moat(["apply", strict])
                #expect(two.status == 1)
                #expect(two.stderr.contains("MAC \(Self.mac) is on 2 devices (usb0, usb1)"), "\(two)")
                #expect(!(try host.exec(["ip", "-o", "link"]).contains("mbr-vms")), "nothing was touched")
            }
        }

        @Test("a directory of two files applies both networks; a network in two files is refused naming both")
        func directory() async throws {
            try await withHost("fleet-dir") { host in
                let folder = host.folder.appendingPathComponent("moat.d")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                let vms = "version: 1\nnetworks:\n  vms:\n    bridge: mbr-vms\n    address: 192.168.100.1/24\n"
                let team = "version: 1\nnetworks:\n  ci:\n    bridge: mbr-ci\n    address: 192.168.101.1/24\n"
                try vms.write(to: folder.appendingPathComponent("10-vms.yaml"), atomically: true, encoding: .utf8)
                try team.write(to: folder.appendingPathComponent("20-ci.yaml"), atomically: true, encoding: .utf8)
                let apply = try host.moat(["apply", folder.path])
                try #require(apply.status == 0, "\(apply)")
                #expect(Set(host.dnsmasqPids().keys) == ["vms", "ci"])

                // The other team's file alone is the whole configuration: prune is global.
                let alone = try host.moat(["plan", folder.appendingPathComponent("20-ci.yaml").path])
                #expect(alone.stdout.contains("- vms"), "\(alone)")

                let clash = team.replacingOccurrences(of: "ci:", with: "vms:").replacingOccurrences(of: "mbr-ci", with: "mbr-x")
                try clash.write(to: folder.appendingPathComponent("30-clash.yaml"), atomically: true, encoding: .utf8)
                let refused = try host.moat(["apply", folder.path])
                #expect(refused.status == 1)
                #expect(refused.stderr.contains("30-clash.yaml:3:3: error: networks.vms: network \"vms\" is already declared in"), "\(refused)")
                #expect(refused.stderr.contains("10-vms.yaml:3:3"), "\(refused)")
                #expect(Set(host.dnsmasqPids().keys) == ["vms", "ci"], "nothing was touched")
                try FileManager.default.removeItem(at: folder.appendingPathComponent("30-clash.yaml"))
                #expect(try host.moat(["destroy", folder.path]).status == 0)
            }
        }
    }
}
