import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A program started without waiting for it: a listener, or a moat whose lock or crash a
/// test needs. Its pid is the program's own (`env` and `ip netns exec` exec, never fork).
final class Background: @unchecked Sendable {
    let argv: [String]
    private let process: Process
    private let out: TemporaryFile
    private let err: TemporaryFile

    private init(argv: [String], process: Process, out: TemporaryFile, err: TemporaryFile) {
        self.argv = argv
        self.process = process
        self.out = out
        self.err = err
    }

    static func start(_ argv: [String], environment: [String: String] = [:]) throws -> Background {
        let process = Process()
        (process.executableURL, process.arguments) = Shell.launcher(argv)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = try TemporaryFile(), err = try TemporaryFile()
        process.standardOutput = out.handle
        process.standardError = err.handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return Background(argv: argv, process: process, out: out, err: err)
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: String { out.contents() }

    /// Waits for the end, at most `seconds`; nil when it is still running then.
    func wait(seconds: Double = 60) -> Ran? {
        let done = poll(tries: Int(seconds * 20), every: 0.05) { !process.isRunning }
        guard done else { return nil }
        process.waitUntilExit()
        return Ran(argv: argv, status: process.terminationStatus, stdout: out.contents(), stderr: err.contents())
    }

    func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Ends it by its pid (SIGTERM, then SIGKILL) and reaps it.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        if !poll(tries: 40, every: 0.05, { !process.isRunning }) { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Asks `condition` up to `tries` times, `every` seconds apart; whether it became true.
/// Waiting for a condition, never for a time: the bound only keeps a broken world from hanging.
@discardableResult
func poll(tries: Int = 100, every seconds: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
    for attempt in 0..<max(1, tries) {
        if try condition() { return true }
        if attempt + 1 < tries { usleep(useconds_t(seconds * 1_000_000)) }
    }
    return false
}

/// What `busybox udhcpc` was given.
struct Lease: Sendable {
    var ip: String
    var router: String
    var dns: String
}

/// A guest: a namespace whose `eth0` is one end of a veth pair; the other end (`hostEnd`)
/// lives in the host's namespace, to be put on a bridge after moat made it.
struct Guest: Sendable {
    let name: String
    let namespace: String
    let hostEnd: String
    let mac: String
}

/// The test network around the host under test, all namespaces:
///
/// ```
///   internet 203.0.113.10 ── router (203.0.113.1 | bridge 192.168.0.1, ip_forward)
///                                 ├── nas 192.168.0.2 and 192.168.0.5 (a file server)
///                                 └── host's lan0 192.168.0.10, default route via the router
///   host ── moat's bridges ── guests (veth pairs)
/// ```
///
/// No route leads out of these namespaces, so no test traffic leaves them.
final class World: @unchecked Sendable {
    static let router = "192.168.0.1"
    static let nas = "192.168.0.2"
    static let fileServer = "192.168.0.5"
    static let hostLAN = "192.168.0.10"
    static let internet = "203.0.113.10"

    let host: TestHost
    let routerNamespace: String
    let nasNamespace: String
    let internetNamespace: String
    private let scripts: URL

    init(host: TestHost) throws {
        self.host = host
        routerNamespace = host.namespace + "-rt"
        nasNamespace = host.namespace + "-nas"
        internetNamespace = host.namespace + "-net"
        scripts = host.folder.appendingPathComponent("scripts")
        try FileManager.default.createDirectory(at: scripts, withIntermediateDirectories: true)
        // A copy, so the script's execute bit does not depend on how the checkout was made.
        let lease = scripts.appendingPathComponent("udhcpc.sh")
        try FileManager.default.copyItem(at: Self.support.appendingPathComponent("udhcpc.sh"), to: lease)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: lease.path)

        for namespace in [routerNamespace, nasNamespace, internetNamespace] {
            try host.makeNamespace(namespace)
            try exec(namespace, ["ip", "link", "set", "lo", "up"])
        }
        let rt = routerNamespace
        try exec(rt, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        try exec(rt, ["ip", "link", "add", "lan", "type", "bridge"])
        try exec(rt, ["ip", "addr", "add", "\(Self.router)/24", "dev", "lan"])
        try exec(rt, ["ip", "link", "set", "lan", "up"])
        // The router's legs: each veth made in the router, its peer moved straight into
        // the other namespace, so nothing is ever created in the machine's own namespace.
        try exec(rt, ["ip", "link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns", internetNamespace])
        try exec(rt, ["ip", "addr", "add", "203.0.113.1/24", "dev", "wan0"])
        try exec(rt, ["ip", "link", "set", "wan0", "up"])
        try exec(rt, ["ip", "link", "add", "to-nas", "master", "lan", "type", "veth", "peer", "name", "eth0", "netns", nasNamespace])
        try exec(rt, ["ip", "link", "set", "to-nas", "up"])
        try exec(rt, ["ip", "link", "add", "to-host", "master", "lan", "type", "veth", "peer", "name", "lan0", "netns", host.namespace])
        try exec(rt, ["ip", "link", "set", "to-host", "up"])

        try exec(internetNamespace, ["ip", "addr", "add", "\(Self.internet)/24", "dev", "eth0"])
        try exec(internetNamespace, ["ip", "link", "set", "eth0", "up"])
        try exec(internetNamespace, ["ip", "route", "add", "default", "via", "203.0.113.1"])

        try exec(nasNamespace, ["ip", "addr", "add", "\(Self.nas)/24", "dev", "eth0"])
        try exec(nasNamespace, ["ip", "addr", "add", "\(Self.fileServer)/24", "dev", "eth0"])
        try exec(nasNamespace, ["ip", "link", "set", "eth0", "up"])
        try exec(nasNamespace, ["ip", "route", "add", "default", "via", Self.router])

        try host.exec(["ip", "addr", "add", "\(Self.hostLAN)/24", "dev", "lan0"])
        try host.exec(["ip", "link", "set", "lan0", "up"])
        try host.exec(["ip", "route", "add", "default", "via", Self.router])
    }

    static var support: URL { Environment.packageRoot.appendingPathComponent("Tests/EndToEndTests/Support") }

    /// Distro python, not a version manager's shim: it starts in a few milliseconds.
    static var python: String { FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3" }

    @discardableResult
    func exec(_ namespace: String, _ argv: [String]) throws -> String {
        try Shell.must(["ip", "netns", "exec", namespace] + argv)
    }

    /// A guest namespace on a veth pair whose host end is `v<name>` in the host's namespace.
    func addGuest(_ name: String, mac: String) throws -> Guest {
        let guest = Guest(name: name, namespace: "\(host.namespace)-\(name)", hostEnd: "v\(name)", mac: mac)
        try host.makeNamespace(guest.namespace)
        try exec(guest.namespace, ["ip", "link", "set", "lo", "up"])
        try host.exec(["ip", "link", "add", guest.hostEnd, "type", "veth", "peer", "name", "eth0", "netns", guest.namespace])
        try exec(guest.namespace, ["ip", "link", "set", "eth0", "address", mac])
        try exec(guest.namespace, ["ip", "link", "set", "eth0", "up"])
        return guest
    }

    /// Plugs the guest into a bridge moat made (as libvirt plugs a VM's tap).
    func attach(_ guest: Guest, to bridge: String) throws {
        try host.exec(["ip", "link", "set", guest.hostEnd, "master", bridge])
        try host.exec(["ip", "link", "set", guest.hostEnd, "up"])
    }

    /// Asks for a lease on the guest's eth0, as a VM's DHCP client would, and applies it.
    func lease(_ guest: Guest) throws -> Lease {
        try lease(namespace: guest.namespace, device: "eth0")
    }

    func lease(namespace: String, device: String) throws -> Lease {
        let record = scripts.appendingPathComponent("lease-\(namespace)").path
        try? FileManager.default.removeItem(atPath: record)
        let ran = try Shell.run(
            [
                "ip", "netns", "exec", namespace, "timeout", "20", "busybox", "udhcpc", "-i", device, "-n", "-q", "-t", "5", "-T", "1",
                "-s", scripts.appendingPathComponent("udhcpc.sh").path,
            ],
            environment: ["MOAT_E2E_LEASE": record])
        guard ran.status == 0, let text = try? String(contentsOfFile: record, encoding: .utf8) else {
            throw TestFailure("no lease in \(namespace): \(ran)")
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return Lease(ip: values["ip"] ?? "", router: values["router"] ?? "", dns: values["dns"] ?? "")
    }

    /// Starts a TCP listener in `namespace` that answers "NAME PEER" on each port, bound to
    /// `address`, its /proc comm NAME; it is ended by its pid when the world closes.
    @discardableResult
    func serve(in namespace: String, as name: String, ports: [Int], address: String = "0.0.0.0") throws -> Int32 {
        let listener = try Background.start(
            ["ip", "netns", "exec", namespace, Self.python, Self.support.appendingPathComponent("net.py").path, "serve", name]
                + ports.map(String.init), environment: ["NET_BIND": address])
        host.onClose { listener.stop() }
        guard poll(tries: 200, every: 0.02, { listener.stdout.contains("ready") || !listener.isRunning }), listener.isRunning else {
            throw TestFailure("listener \(name) in \(namespace) did not start: \(listener.wait(seconds: 1)?.description ?? "")")
        }
        return listener.pid
    }

    /// One TCP connection from `namespace`: the listener's answer ("NAME PEER"), or nil when
    /// it was refused or timed out.
    func connect(from namespace: String, to address: String, port: Int) throws -> String? {
        let ran = try Shell.run(
            [
                "ip", "netns", "exec", namespace, "timeout", "5", Self.python, Self.support.appendingPathComponent("net.py").path, "connect",
                address, String(port),
            ])
        return ran.status == 0 ? ran.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    /// A connection that must work: a few tries, for neighbour discovery and a listener's
    /// first moments; the answer of the first that does.
    func reach(from namespace: String, to address: String, port: Int, tries: Int = 3) throws -> String? {
        var answer: String?
        try poll(tries: tries, every: 0.1) {
            answer = try connect(from: namespace, to: address, port: port)
            return answer != nil
        }
        return answer
    }

    /// One ping with a one-second wait.
    func ping(from namespace: String, to address: String) throws -> Bool {
        // `-w` too: after an ICMP error (a REJECT) busybox ping would wait for ever.
        try Shell.run(["ip", "netns", "exec", namespace, "timeout", "5", "busybox", "ping", "-c", "1", "-W", "1", "-w", "2", address]).status == 0
    }

    /// `busybox nslookup NAME SERVER` from the namespace: its output, or nil on failure.
    func lookup(_ name: String, server: String, from namespace: String) throws -> String? {
        var output: String?
        try poll(tries: 3, every: 0.1) {
            let ran = try Shell.run(["ip", "netns", "exec", namespace, "timeout", "5", "busybox", "nslookup", name, server])
            output = ran.status == 0 ? ran.stdout : nil
            return output != nil
        }
        return output
    }
}

/// Runs `body` with a fresh host inside a fresh world, and always cleans up after it.
func withWorld<T>(_ tag: String, _ body: (World) async throws -> T) async throws -> T {
    try await withHost(tag) { host in try await body(try World(host: host)) }
}

/// Programs placed first on PATH in front of the real ones: each runs the real program
/// unless its arguments contain a trigger, then fails (with a message on stderr) or waits
/// for a gate file. moat finds its commands on PATH, and `ip netns exec` keeps the env.
struct StandIns {
    let bin: URL
    let folder: URL

    init(in host: TestHost) throws {
        folder = host.folder.appendingPathComponent("standins-\(UUID().uuidString.prefix(8))")
        bin = folder.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
    }

    /// The environment that puts the stand-ins first.
    var environment: [String: String] {
        ["PATH": bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")]
    }

    /// `program` fails with exit 1 and `message` on stderr when its arguments contain
    /// `trigger` (always when nil); otherwise it is the real program.
    func failing(_ program: String, when trigger: String? = nil, message: String) throws {
        let real = try Self.real(program)
        let test = trigger.map { "case \"$*\" in *\(Self.quoted($0))*) ;; *) exec \(real) \"$@\" ;; esac\n" } ?? ""
        try write(program, test + "echo \(Self.quoted(message)) >&2\nexit 1\n")
    }

    /// `program` fails like `failing`, but only from the call after the first `passes` calls
    /// whose arguments contain `trigger` (a failure that strikes the rollback, not the apply).
    func failing(_ program: String, when trigger: String, after passes: Int, message: String) throws {
        let real = try Self.real(program)
        let counter = Self.quoted(folder.appendingPathComponent("count-\(program)").path)
        try write(
            program,
            """
            case "$*" in *\(Self.quoted(trigger))*)
                n=$(cat \(counter) 2>/dev/null || echo 0)
                echo $((n + 1)) > \(counter)
                if [ "$n" -ge \(passes) ]; then echo \(Self.quoted(message)) >&2; exit 1; fi ;;
            esac
            exec \(real) "$@"

            """)
    }

    /// `program` fails like `failing`, but only its first call whose arguments contain
    /// `trigger` (any call when nil): a fault that strikes the apply and spares its rollback.
    func failingOnce(_ program: String, when trigger: String? = nil, message: String) throws {
        let real = try Self.real(program)
        let struck = Self.quoted(folder.appendingPathComponent("struck-\(program)").path)
        let test = trigger.map { "case \"$*\" in *\(Self.quoted($0))*) ;; *) exec \(real) \"$@\" ;; esac\n" } ?? ""
        try write(program, test + "[ -e \(struck) ] && exec \(real) \"$@\"\n: > \(struck)\necho \(Self.quoted(message)) >&2\nexit 1\n")
    }

    /// `program` waits (bounded) for `gate` to exist before it runs the real one, when its
    /// arguments contain `trigger`; `waiting` gets its pid once it waits.
    func gated(_ program: String, when trigger: String) throws -> (gate: String, waiting: String) {
        let gate = folder.appendingPathComponent("gate-\(program)").path
        let waiting = folder.appendingPathComponent("waiting-\(program)").path
        let real = try Self.real(program)
        try write(
            program,
            """
            case "$*" in *\(Self.quoted(trigger))*)
                echo $$ > \(Self.quoted(waiting))
                i=0
                while [ ! -e \(Self.quoted(gate)) ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done ;;
            esac
            exec \(real) "$@"

            """)
        return (gate, waiting)
    }

    private func write(_ program: String, _ body: String) throws {
        let path = bin.appendingPathComponent(program).path
        try ("#!/bin/sh\n# moat end-to-end stand-in for \(program)\n" + body).write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }

    /// The real program's path, found on PATH now (before the stand-ins come first).
    static func real(_ program: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        for folder in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/\(program)") {
            return "\(folder)/\(program)"
        }
        throw TestFailure("\(program) is not on PATH")
    }

    /// Single-quoted for sh.
    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

extension TestHost {
    /// Every file under the state dir with its contents, leases aside (guests change them):
    /// what a rolled-back apply must leave as it found.
    func stateFiles() -> [String: String] {
        var files: [String: String] = [:]
        guard let walker = FileManager.default.enumerator(atPath: stateDir) else { return files }
        while let relative = walker.nextObject() as? String {
            let path = "\(stateDir)/\(relative)"
            var folder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &folder), !folder.boolValue else { continue }
            if relative.hasSuffix("/leases") { continue }
            files[relative] = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "<unreadable>"
        }
        return files
    }

    /// Whether a dnsmasq started with this host's state dir runs anywhere (read from /proc).
    func anyDnsmasqAlive() -> [Int32] { Self.dnsmasqs(reading: stateDir) }

    /// The dnsmasq processes reading a config under `stateDir`, whoever started them.
    static func dnsmasqs(reading stateDir: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            let cmdline = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            let program = cmdline.split(separator: "\u{0}").first.map { ($0 as Substring).split(separator: "/").last ?? "" } ?? ""
            return program == "dnsmasq" && cmdline.contains(stateDir)
        }
    }

    /// The step lines of a plan (`  + lab  bridge virbr10: create (...)`), not the changes
    /// printed under them.
    static func steps(of plan: String) -> [(network: String, line: String)] {
        plan.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
            let words = line.split(separator: " ")
            guard words.count >= 2, ["+", "~", "-"].contains(words[0]) else { return nil }
            return (String(words[1]), String(line))
        }
    }
}

