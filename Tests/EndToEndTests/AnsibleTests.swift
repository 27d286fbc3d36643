import Foundation
import Testing

extension EndToEnd {
    /// The Ansible module in `contrib/ansible/`, run by ansible-core against the local host
    /// inside a namespace.
    @Suite("Ansible: the moat module", .enabled(if: Ansible.adHoc != nil))
    struct AnsibleTests {
        static let file = """
            version: 1
            networks:
              lab:
                bridge: mbr-lab
                address: 192.168.100.1/24

            """

        /// Runs the module once, ad hoc, on the namespace's local host; its result as the
        /// tree callback writes it.
        func task(_ host: TestHost, _ arguments: [String: Any], flags: [String] = []) throws -> (result: [String: Any], output: String) {
            var args = arguments
            args["binary"] = Environment.moatBinary
            let home = host.folder.appendingPathComponent("ansible").path
            let tree = home + "/tree-\(UUID().uuidString.prefix(6))"
            let python = try Shell.must(["python3", "-c", "import sys; print(sys.executable)"]).trimmingCharacters(in: .whitespacesAndNewlines)
            let ran = try Shell.run(
                ["ip", "netns", "exec", host.namespace, try #require(Ansible.adHoc), "localhost", "-i", "localhost,", "-c", "local",
                 "-e", "ansible_python_interpreter=\(python)", "-m", "moat",
                 "-a", String(decoding: try JSONSerialization.data(withJSONObject: args), as: UTF8.self), "-t", tree] + flags,
                environment: [
                    "MOAT_STATE_DIR": host.stateDir, "MOAT_RUN_DIR": host.runDir, "ANSIBLE_HOME": home, "ANSIBLE_LOCAL_TEMP": home + "/tmp",
                    "ANSIBLE_REMOTE_TEMP": home + "/tmp",
                    "ANSIBLE_LIBRARY": Environment.packageRoot.appendingPathComponent("contrib/ansible/library").path,
                    "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
                ])
            let text = (try? String(contentsOfFile: tree + "/localhost", encoding: .utf8)) ?? ""
            return (try #require(try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(ran)"), ran.stdout)
        }

        func bridgeExists(_ host: TestHost) throws -> Bool {
            try host.exec(["ip", "-o", "link"]).contains("mbr-lab")
        }

        @Test("check mode changes nothing; a run applies; a second changes nothing; absent destroys; a bad file fails with moat's message")
        func module() async throws {
            try await withHost("ansible") { host in
                let file = try host.file("moat.yaml", Self.file)
                let before = try host.exec(["iptables-save"]).split(separator: "\n").filter { !$0.hasPrefix("#") }

                let (check, shown) = try task(host, ["src": file], flags: ["--check", "--diff"])
                #expect(check["changed"] as? Bool == true, "\(check)")
                #expect(shown.contains("\n  + lab  bridge mbr-lab: create"), "--diff shows the plan's text: \(shown)")
                #expect(!(try bridgeExists(host)), "check mode touches nothing")
                #expect(try host.exec(["iptables-save"]).split(separator: "\n").filter { !$0.hasPrefix("#") } == before)

                let apply = try task(host, ["src": file]).result
                #expect(apply["changed"] as? Bool == true, "\(apply)")
                #expect(try bridgeExists(host))
                let again = try task(host, ["src": file, "lock_timeout": 5]).result
                #expect(again["changed"] as? Bool == false, "\(again)")

                let absentCheck = try task(host, ["src": file, "state": "absent"], flags: ["--check"]).result
                #expect(absentCheck["changed"] as? Bool == true)
                #expect(try bridgeExists(host))
                let absent = try task(host, ["src": file, "state": "absent"]).result
                #expect(absent["changed"] as? Bool == true, "\(absent)")
                #expect(!(try bridgeExists(host)))
                #expect(try task(host, ["src": file, "state": "absent"]).result["changed"] as? Bool == false)

                let bad = try host.file("bad.yaml", "version: 1\nnetworks:\n  Lab: {}\n")
                let failed = try task(host, ["src": bad]).result
                #expect(failed["rc"] as? Int == 1, "a failure carries moat's exit code: \(failed)")
                #expect((failed["msg"] as? String)?.contains("bad.yaml:3:3: error: networks.Lab") == true, "\(failed)")
            }
        }
    }
}

enum Ansible {
    /// `ansible` (ad hoc) of the `python3` on PATH (`make deps` installs ansible-core there).
    static var adHoc: String? {
        guard let ran = try? Shell.run(["python3", "-c", "import ansible, sysconfig; print(sysconfig.get_path('scripts'))"]),
            ran.status == 0
        else { return nil }
        let path = ran.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + "/ansible"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }
}
