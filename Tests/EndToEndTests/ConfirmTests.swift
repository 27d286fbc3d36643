import Foundation
import Testing

extension EndToEnd {
    /// `apply` and `destroy` under a pseudo-terminal, as a person runs them: they show the plan
    /// and ask for `yes`; anything else changes nothing.
    @Suite("the question on a terminal")
    struct ConfirmTests {
        static let question = "Only 'yes' will be accepted:"

        @Test("on a terminal apply asks; no and an empty answer change nothing and exit 1; yes applies")
        func applyAsks() async throws {
            try await withHost("ask") { host in
                let file = try host.file("moat.yaml", Files.lab)
                let before = try host.fingerprint()
                for answer in ["no", ""] {
                    let ran = try PseudoTerminal.run(host, ["apply", file], answer: answer)
                    #expect(ran.asked, "\(ran)")
                    #expect(ran.status == 1, "\(ran)")
                    #expect(ran.transcript.contains("Plan: "), "the plan is shown before the question: \(ran)")
                    #expect(ran.transcript.contains("nothing was changed"), "\(ran)")
                    #expect(!ran.transcript.contains("[1/"), "no step ran: \(ran)")
                    #expect(try host.fingerprint() == before, "answer \(answer.debugDescription) changed the host")
                    #expect(host.dnsmasqPids().isEmpty)
                    #expect(!FileManager.default.fileExists(atPath: "\(host.runDir)/journal.json"))
                }
                let yes = try PseudoTerminal.run(host, ["apply", file], answer: "yes")
                #expect(yes.asked && yes.status == 0, "\(yes)")
                #expect(yes.transcript.contains("Apply complete"), "\(yes)")
                #expect(Set(host.dnsmasqPids().keys) == ["lab", "dmz"])
                #expect(try host.moat(["plan", "--detailed-exitcode", file]).status == 0)

                // Converged: nothing to ask about. No answer is given, so a question would hang
                // until the time limit.
                let again = try PseudoTerminal.run(host, ["apply", file], answer: nil)
                #expect(!again.asked && again.status == 0, "\(again)")
                #expect(again.transcript.contains("No changes"), "\(again)")
            }
        }

        @Test("the lock is held while the question waits; destroy asks too, and --auto-approve does not ask")
        func destroyAsks() async throws {
            try await withHost("askd") { host in
                let file = try host.file("moat.yaml", Files.lab)
                try #require(try host.moat(["apply", file]).status == 0, "without a terminal apply acts")
                let applied = try host.fingerprint()

                let meanwhile = ["ip", "netns", "exec", host.namespace, "env", "MOAT_STATE_DIR=\(host.stateDir)", "MOAT_RUN_DIR=\(host.runDir)",
                                 Environment.moatBinary, "apply", file]
                let no = try PseudoTerminal.run(host, ["destroy", file], answer: "no", meanwhile: meanwhile)
                #expect(no.asked && no.status == 1, "\(no)")
                #expect(no.transcript.contains("- lab") || no.transcript.contains("- dmz"), "the removals are shown: \(no)")
                #expect(no.meanwhileStatus == 75, "a second moat finds the lock held while the question waits: \(no)")
                #expect(try host.fingerprint() == applied)
                #expect(Set(host.dnsmasqPids().keys) == ["lab", "dmz"])

                let auto = try PseudoTerminal.run(host, ["destroy", "--auto-approve", file], answer: nil)
                #expect(!auto.asked && auto.status == 0, "\(auto)")
                #expect(auto.transcript.contains("Destroy complete"), "\(auto)")
                #expect(host.dnsmasqPids().isEmpty)
            }
        }
    }

    /// Runs moat in the test host under a pseudo-terminal (standard input, output and error).
    enum PseudoTerminal {
        struct Ran: CustomStringConvertible {
            var status: Int32
            var transcript: String
            var asked: Bool
            var meanwhileStatus: Int32?
            var description: String { "exit \(status), asked: \(asked), meanwhile: \(meanwhileStatus.map(String.init) ?? "-")\n\(transcript)" }
        }

        /// Answers the question with `answer` (nil: never types anything), after running
        /// `meanwhile` to its end while the question waits. Every wait is bounded: the whole run
        /// is killed after `timeout` seconds (exit 124).
        static func run(
            _ host: TestHost, _ arguments: [String], answer: String?, meanwhile: [String]? = nil, timeout: Double = 60
        ) throws -> Ran {
            let job: [String: Any] = [
                "argv": ["ip", "netns", "exec", host.namespace, Environment.moatBinary] + arguments,
                "prompt": ConfirmTests.question, "answer": answer ?? NSNull(), "meanwhile": meanwhile ?? NSNull(), "timeout": timeout,
            ]
            let jobText = String(decoding: try JSONSerialization.data(withJSONObject: job), as: UTF8.self)
            let ran = try Shell.run(
                ["/usr/bin/python3", "-c", driver, jobText],
                environment: ["MOAT_STATE_DIR": host.stateDir, "MOAT_RUN_DIR": host.runDir, "NO_COLOR": "1"])
            let report = try #require(
                try JSONSerialization.jsonObject(with: Data(ran.stdout.utf8)) as? [String: Any], "the driver's report: \(ran)")
            let status = Int32(report["status"] as? Int ?? -1)
            if status == 124 { throw TestFailure("moat did not finish within \(timeout)s under the terminal: \(ran)") }
            return Ran(
                status: status, transcript: report["transcript"] as? String ?? "", asked: report["asked"] as? Bool ?? false,
                meanwhileStatus: (report["meanwhile"] as? Int).map(Int32.init))
        }

        /// Forks the command on a pseudo-terminal, reads what it writes, types the answer once the
        /// prompt appears, and prints a JSON report. Ends when the command exits (not when the
        /// terminal closes: a daemon it started could hold it) or at the deadline.
        static let driver = """
            import json, os, pty, select, subprocess, sys, time
            job = json.loads(sys.argv[1])
            deadline = time.monotonic() + job["timeout"]
            pid, fd = pty.fork()
            if pid == 0:
                os.execvp(job["argv"][0], job["argv"])
            out, asked, meanwhile, status = b"", False, None, None
            def drain(wait):
                global out
                while True:
                    ready, _, _ = select.select([fd], [], [], wait)
                    if not ready:
                        return
                    try:
                        data = os.read(fd, 65536)
                    except OSError:
                        return
                    if not data:
                        return
                    out += data
                    wait = 0
            while status is None:
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                    status = 124
                    break
                drain(0.1)
                if not asked and job["prompt"].encode() in out:
                    asked = True
                    if job["meanwhile"]:
                        meanwhile = subprocess.run(job["meanwhile"], stdin=subprocess.DEVNULL, capture_output=True,
                                                   timeout=max(1, deadline - time.monotonic())).returncode
                    if job["answer"] is not None:
                        os.write(fd, job["answer"].encode() + b"\\n")
                done, code = os.waitpid(pid, os.WNOHANG)
                if done:
                    drain(0.2)
                    status = os.waitstatus_to_exitcode(code)
            print(json.dumps({"status": status, "asked": asked, "meanwhile": meanwhile,
                              "transcript": out.decode(errors="replace").replace("\\r\\n", "\\n")}))
            """
    }
}
