import Foundation
import Testing

extension EndToEnd {
    /// What `systemctl restart moat` and the repair timer do, re-apply, never detaches a
    /// running guest: the bridge keeps its ifindex, the guest's port stays on it, and its
    /// lease still renews; drift (rules wiped as `firewall-cmd --reload` wipes them) is
    /// repaired the same way.
    @Suite("re-apply: restart and the repair timer keep guests plugged in")
    struct ReapplyTests {
        @Test("a re-apply, and one after the rules were wiped, keep the bridge, the guest's port and its lease")
        func keepsGuests() async throws {
            try await withWorld("reapply") { world in
                let host = world.host
                let file = try host.file("lab.yaml", Files.lab)
                try #require(try host.moat(["apply", file]).status == 0)
                let guest = try world.addGuest("g1", mac: "52:54:00:aa:00:07")
                try world.attach(guest, to: "virbr10")
                let lease = try world.lease(guest)
                let bridge = try RollbackTests.link("virbr10", in: host)["ifindex"] as? Int

                // restart = apply again.
                let again = try host.moat(["apply", file])
                #expect(again.status == 0 && again.stdout.contains("No changes"), "\(again)")
                // firewalld's reload flushes every table; the timer's apply puts moat's rules back.
                for table in ["filter", "nat", "mangle", "raw"] { try host.exec(["iptables", "-t", table, "-F"]) }
                if Rules.nftables { try host.exec(["nft", "flush", "table", "inet", "moat"]) }
                #expect(try host.moat(["plan", file, "--detailed-exitcode"]).status == 2)
                let repair = try host.moat(["apply", file])
                #expect(repair.status == 0, "\(repair)")
                #expect(try host.moat(["plan", file, "--detailed-exitcode"]).status == 0)

                #expect(try RollbackTests.link("virbr10", in: host)["ifindex"] as? Int == bridge, "the bridge was re-created")
                #expect(try RollbackTests.link(guest.hostEnd, in: host)["master"] as? String == "virbr10", "the guest was unplugged")
                #expect(try world.lease(guest).ip == lease.ip, "the guest renews its lease")
            }
        }
    }
}
