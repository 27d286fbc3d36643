// swift-tools-version: 6.2
import PackageDescription

// libFuzzer targets for everything moat reads from the host or a file, one executable per
// parser (`fuzz-<target>`), built by `make fuzz` into .build-fuzz with `-sanitize=fuzzer`
// on the whole build, so moat's own modules are instrumented too. The flags below make a
// target a fuzzer even when built without that.
let fuzzer: [SwiftSetting] = [.swiftLanguageMode(.v6), .unsafeFlags(["-sanitize=fuzzer", "-parse-as-library"])]

let targets = [
    "config", "ip-addr", "ip-route", "iptables-save", "leases", "pid-cmdline", "listeners", "resolv-conf", "journal",
    "interface-record", "saved-plan", "conntrack",
]

let package = Package(
    name: "moat-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "moat", path: "..")],
    targets: [
        // The input as bytes and text, `keep`, `require`, and a fixed file planned on a fuzzed host.
        .target(
            name: "FuzzSupport",
            dependencies: [.product(name: "MoatConfig", package: "moat"), .product(name: "MoatCore", package: "moat")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
        + targets.map { name in
            .executableTarget(
                name: "fuzz-\(name)",
                dependencies: ["FuzzSupport", .product(name: "MoatConfig", package: "moat"), .product(name: "MoatCore", package: "moat")],
                swiftSettings: fuzzer,
                linkerSettings: [.unsafeFlags(["-sanitize=fuzzer"])]
            )
        }
)
