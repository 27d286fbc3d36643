import ArgumentParser
import Foundation
import MoatConfig
import MoatCore

/// `moat render FILE [--out DIR]`: what `apply` would load on an empty host, as stable text
/// for pull-request diffs. No root; nothing on the host read but FILE.
struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Print what apply would load on an empty host, offline: firewall, ip -batch, sysctls, dnsmasq files.",
        discussion: """
            Validates the file like validate does (exit 1 when it is invalid) and prints, in \
            sections headed `# iptables-restore --noflush`, `# ip -batch`, `# sysctl` and \
            `# dnsmasq NETWORK: PATH`, exactly what apply would send on a host without any of \
            moat's networks. With --out DIR, writes iptables.rules, ip.batch, sysctl.conf and \
            dnsmasq/NETWORK/{dnsmasq.conf,dhcp-hosts,hosts} into DIR instead (creating it). \
            What depends on the host comes from flags: --state-dir and --run-dir (the paths \
            in the dnsmasq configs) and --resolver (where nat networks forward DNS; apply \
            takes them from /etc/resolv.conf). An interface network's device is rendered as \
            found bare: down, no address; one found by its MAC (`interface: {mac: ...}`) has \
            a name only on the host, and is left out with a note on stderr.

            EXIT CODES: 0 rendered, 1 the configuration is invalid, 64 usage error.

            EXAMPLES:
              moat render examples/vm-lab.yaml --resolver 192.0.2.53
              moat render /etc/moat --out rendered/
            """
    )

    @OptionGroup var host: HostOptions

    @Option(help: ArgumentHelp("Write one file per part into this folder (created) instead of printing.", valueName: "dir"))
    var out: String?

    @Option(
        name: .customLong("resolver"),
        help: ArgumentHelp(
            "An upstream DNS server nat networks forward to; repeat for more (default: none, so no server= lines).",
            valueName: "ip"))
    var resolvers: [String] = []

    func validate() throws {
        for resolver in resolvers where DnsmasqConfig.upstream(resolvConf: "nameserver \(resolver)\n") != [resolver] {
            throw ValidationError("--resolver \(resolver) is not an IP address")
        }
    }

    func run() async throws {
        try await reportingErrors {
            var config = try host.loadConfig()
            // A device found by its MAC has a name only on the host it is applied on.
            for network in config.networks {
                if case .interfaceWithMAC(let mac) = network.device {
                    Terminal.standardError.write(
                        "moat: note: network \(network.name) finds its device by MAC \(mac) when it is applied; it is not rendered")
                }
            }
            config.networks.removeAll { if case .interfaceWithMAC = $0.device { true } else { false } }
            let render = Render(config, paths: host.paths, upstream: resolvers)
            guard let out else {
                FileHandle.standardOutput.write(Data(render.text.utf8))
                return
            }
            try write(render, into: URL(fileURLWithPath: out, isDirectory: true))
        }
    }

    func write(_ render: Render, into folder: URL) throws {
        do {
            for (path, text) in render.files {
                let url = folder.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(text.utf8).write(to: url)
            }
        } catch {
            throw MoatError("cannot write into \(folder.path): \(error.localizedDescription)")
        }
    }
}
