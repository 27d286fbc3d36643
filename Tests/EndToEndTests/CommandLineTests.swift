import Foundation
import Testing

/// The command line itself, offline (no root): usage, help, standard input.
@Suite("The command line")
struct CommandLineTests {
    func moat(_ arguments: [String], input: String? = nil) throws -> Ran {
        try Shell.run([Environment.moatBinary] + arguments, input: input)
    }

    @Test("a bare `moat` prints usage on stderr and exits 64, as an unknown option does")
    func bare() throws {
        let bare = try moat([])
        #expect(bare.status == 64, "\(bare)")
        #expect(bare.stderr.contains("USAGE: moat <subcommand>"), "\(bare)")
        #expect(try moat(["--no-such-option"]).status == 64)
    }

    @Test("every command's help names its exit codes and gives examples; --lock-timeout states its default once", arguments: [
        "validate", "render", "plan", "show", "apply", "destroy", "status",
    ])
    func help(command: String) throws {
        let help = try moat([command, "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("EXIT CODES: 0 "), "\(help)")
        #expect(help.stdout.contains("EXAMPLES:\n  moat \(command) "), "\(help)")
        #expect(!help.stdout.contains("(default 0)"))
    }

    @Test("`-` reads the configuration from standard input; its diagnostics name <stdin>")
    func standardInput() throws {
        let lab = try String(contentsOf: Environment.packageRoot.appendingPathComponent("examples/vm-lab.yaml"), encoding: .utf8)
        let valid = try moat(["validate", "-"], input: lab)
        #expect(valid.status == 0 && valid.stdout == "<stdin>: valid, 2 networks (lab, dmz).\n", "\(valid)")
        let render = try moat(["render", "-"], input: lab)
        #expect(render.status == 0 && render.stdout.hasPrefix(Rules.nftables ? "# nft -f -\n" : "# iptables-restore --noflush\n"), "\(render)")
        let invalid = try moat(["validate", "-"], input: "version: 1\nnetworks:\n  Lab: {}\n")
        #expect(invalid.status == 1)
        #expect(invalid.stderr.hasPrefix("<stdin>:3:3: error: networks.Lab: "), "\(invalid)")
        #expect(try moat(["plan", "-", "--out", "p.json"], input: lab).status == 64, "a saved plan needs a file to check at apply")
    }

    @Test("make install DESTDIR=… puts down the binary, completions, schema, units and udev rule; make uninstall leaves the folder empty",
        .enabled(if: Shell.exists("make")))
    func installAndUninstall() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("moat-dest-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let root = Environment.packageRoot.path
        let make = ["make", "-s", "-C", root, "DESTDIR=\(folder.path)", "MOAT_BIN=\(Environment.moatBinary)"]
        let install = try Shell.run(make + ["install"])
        try #require(install.status == 0, "\(install)")
        let files = try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter { path in
            var directory: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder.appendingPathComponent(path).path, isDirectory: &directory) && !directory.boolValue
        }
        #expect(
            Set(files) == [
                "usr/local/bin/moat", "usr/local/share/bash-completion/completions/moat", "usr/local/share/zsh/site-functions/_moat",
                "usr/local/share/fish/vendor_completions.d/moat.fish", "usr/local/share/moat/moat.schema.json",
                "usr/local/share/moat/moat-plan.schema.json", "usr/local/share/man/man8/moat.8",
                "usr/local/lib/systemd/system/moat.service", "usr/local/lib/systemd/system/moat-repair.service",
                "usr/local/lib/systemd/system/moat-repair.timer", "usr/local/lib/systemd/system/moat-metrics.service",
                "etc/udev/rules.d/90-moat.rules",
            ])
        let uninstall = try Shell.run(make + ["uninstall"])
        #expect(uninstall.status == 0, "\(uninstall)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == [])
    }

    /// The release binary of `make release`, and the toolchain folder it must not need.
    static let releaseBinary = Environment.packageRoot.appendingPathComponent(".build-static/moat").path
    static var toolchain: String? {
        guard let swift = Shell.which("swift") else { return nil }
        // …/usr/bin/swift, through any symlink: the toolchain is three levels up.
        return URL(fileURLWithPath: swift).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// Runs `argv` with the toolchain folder hidden under an empty tmpfs, in a private mount
    /// namespace (the script is fixed; the paths are its arguments).
    func withoutToolchain(_ argv: [String]) throws -> Ran {
        let toolchain = try #require(Self.toolchain)
        return try Shell.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs none \"$1\" && shift && exec \"$@\"", "sh", toolchain] + argv)
    }

    @Test("the release binary runs with the toolchain hidden; a debug build does not",
        .enabled(if: Shell.isRoot && FileManager.default.isExecutableFile(atPath: CommandLineTests.releaseBinary)))
    func releaseNeedsNoToolchain() throws {
        let libraries = try Shell.must(["ldd", Self.releaseBinary])
        #expect(!libraries.contains("libswift"), "\(libraries)")
        let version = try withoutToolchain([Self.releaseBinary, "--version"])
        #expect(version.status == 0 && version.stdout == "0.1.0\n", "\(version)")
        let example = Environment.packageRoot.appendingPathComponent("examples/vm-lab.yaml").path
        let validate = try withoutToolchain([Self.releaseBinary, "validate", example])
        #expect(validate.status == 0, "\(validate)")
        let debug = try withoutToolchain([Environment.moatBinary, "--version"])
        #expect(debug.status == 127, "the toolchain really is hidden: \(debug)")
    }

    /// The package `make deb` leaves (named by moat's own version).
    static let package = Environment.packageRoot.appendingPathComponent(".build-static/moat_0.1.0_amd64.deb").path

    @Test("the .deb: its Depends, its files, lintian clean of errors and warnings; unpacked, its moat runs with the toolchain hidden and its man page names every command",
        .enabled(if: Shell.isRoot && FileManager.default.fileExists(atPath: CommandLineTests.package) && Shell.exists("lintian")))
    func debianPackage() throws {
        let control = try Shell.must(["dpkg-deb", "-f", Self.package, "Package", "Version", "Depends"])
        #expect(control.contains("Package: moat\nVersion: 0.1.0\n"), "\(control)")
        for dependency in ["iproute2", "iptables", "dnsmasq-base", "conntrack", "libc6"] {
            #expect(control.contains(", \(dependency)") || control.contains(": \(dependency)"), "\(dependency): \(control)")
        }
        let files = try Shell.must(["dpkg-deb", "-c", Self.package])
        for file in [
            "./usr/bin/moat", "./usr/lib/systemd/system/moat.service", "./usr/lib/systemd/system/moat-repair.timer",
            "./usr/lib/udev/rules.d/90-moat.rules", "./usr/share/bash-completion/completions/moat", "./usr/share/moat/moat.schema.json",
            "./usr/share/man/man8/moat.8.gz", "./usr/share/doc/moat/copyright", "./usr/share/doc/moat/changelog.gz",
            "./usr/share/doc/moat/README.md",
        ] {
            #expect(files.contains(" \(file)\n"), "\(file) in the package")
        }
        let lintian = try Shell.run(["lintian", "--fail-on", "error,warning", Self.package])
        #expect(lintian.status == 0 && !lintian.stdout.contains("E: ") && !lintian.stdout.contains("W: "), "\(lintian)")

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("moat-deb-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try Shell.must(["dpkg-deb", "-x", Self.package, root.path])
        let moat = root.appendingPathComponent("usr/bin/moat").path
        let version = try withoutToolchain([moat, "--version"])
        #expect(version.status == 0 && version.stdout == "0.1.0\n", "\(version)")
        let example = root.appendingPathComponent("usr/share/doc/moat/examples/vm-lab.yaml").path
        let validate = try withoutToolchain([moat, "validate", example])
        #expect(validate.status == 0, "\(validate)")

        let page = try Shell.run(["man", "-l", root.appendingPathComponent("usr/share/man/man8/moat.8.gz").path])
        #expect(page.status == 0, "\(page)")
        // Every command --help lists, so a new one cannot be left out of the page.
        let help = try Shell.must([moat, "--help"])
        let commands = help.components(separatedBy: "SUBCOMMANDS:").last!.split(separator: "\n")
            .filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") }.compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0.allSatisfy { $0.isLowercase } }
        #expect(commands.count >= 7, "\(help)")
        for command in commands {
            #expect(page.stdout.contains("moat \(command) "), "the synopsis names \(command)")
        }
        for section in ["SYNOPSIS", "FILE FORMAT", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"] {
            #expect(page.stdout.contains("\n\(section)\n"), "the page has \(section)")
        }
        #expect(page.stdout.contains("/var/lib/moat") && page.stdout.contains("/run/moat") && page.stdout.contains("/etc/moat"))
    }
}
