import Foundation
import Testing

extension EndToEnd {
    @Suite("concurrency")
    struct LockTests {
        @Test("a second apply while one runs exits 75 naming its pid, and with --lock-timeout waits its turn")
        func secondApplyWaitsOrFails() async throws {
            try await withHost("lock") { host in
                let file = try host.file("moat.yaml", Files.lab)
                // The first apply holds the lock while it waits, in dnsmasq, for the gate.
                let standIns = try StandIns(in: host)
                let (gate, waiting) = try standIns.gated("dnsmasq", when: "/networks/")
                let first = try host.moatInBackground(["apply", file], environment: standIns.environment)
                try #require(poll(tries: 400) { FileManager.default.fileExists(atPath: waiting) || !first.isRunning })
                try #require(first.isRunning, "\(first.wait(seconds: 1)?.description ?? "")")

                let second = try host.moat(["apply", file])
                #expect(second.status == 75, "\(second)")
                #expect(second.stderr.contains("pid \(first.pid)"), "\(second)")

                let third = try host.moatInBackground(["apply", "--lock-timeout", "30", file])
                // It is waiting on the lock once it holds the lock file open (the first still runs).
                let lockFile = "\(host.runDir)/moat.lock"
                let waits = poll(tries: 400) {
                    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(third.pid)/fd")) ?? []
                    return fds.contains { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(third.pid)/fd/\($0)")) == lockFile }
                }
                #expect(waits, "the third apply reached the lock")
                #expect(first.isRunning)
                _ = FileManager.default.createFile(atPath: gate, contents: nil)

                let firstDone = try #require(first.wait(seconds: 60))
                #expect(firstDone.status == 0, "\(firstDone)")
                let thirdDone = try #require(third.wait(seconds: 60))
                #expect(thirdDone.status == 0, "\(thirdDone)")
                #expect(thirdDone.stdout.contains("No changes"), "the second in turn finds the host converged: \(thirdDone)")
                #expect(try host.moat(["plan", "--detailed-exitcode", file]).status == 0)
            }
        }
    }
}
