// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "moat",
    platforms: [.macOS(.v15)],
    // The fuzz targets are a product for the fuzz package (Fuzz/Package.swift) only.
    products: [.executable(name: "moat", targets: ["moat"]), .library(name: "MoatFuzzTargets", targets: ["MoatFuzzTargets"])],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // The file: model, loading from YAML nodes, validation, defaults. Pure.
        .target(
            name: "MoatConfig",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        // The pure core: the host as values (devices, the firewall model, dnsmasq
        // instances), the parsers of what the host prints, the rendering of the desired
        // state, and diff, plan and status. No process, file or clock calls
        // (CorePurityTests keeps it so).
        .target(
            name: "MoatCore",
            dependencies: ["MoatConfig"],
            swiftSettings: strict
        ),
        // The run path: the one seam to the host (HostSystem), the snapshot read through
        // it, the executor, and apply/destroy with lock, journal, verification and rollback.
        .target(
            name: "MoatReconcile",
            dependencies: ["MoatConfig", "MoatCore"],
            swiftSettings: strict
        ),
        // The real host behind the seam: programs through swift-subprocess, files,
        // sysctls, signals, flock, the clock.
        .target(
            name: "MoatHost",
            dependencies: [
                "MoatConfig", "MoatCore", "MoatReconcile",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "moat",
            dependencies: [
                "MoatConfig", "MoatCore", "MoatReconcile", "MoatHost",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Everything moat reads, each driven as moat drives it, for the fuzzer (Fuzz/) and
        // for FuzzRegressionTests, which replays what the fuzzer found.
        .target(
            name: "MoatFuzzTargets",
            dependencies: ["MoatConfig", "MoatCore"],
            swiftSettings: strict
        ),
        // What several test targets share (a line diff for golden comparisons).
        .target(
            name: "MoatTestSupport",
            dependencies: ["MoatConfig", "MoatCore", "MoatReconcile"],
            path: "Tests/MoatTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "MoatConfigTests",
            dependencies: ["MoatConfig", "MoatHost", "MoatTestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MoatHostTests",
            dependencies: ["MoatConfig", "MoatCore", "MoatReconcile", "MoatHost", "MoatTestSupport", "MoatFuzzTargets"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MoatReconcileTests",
            dependencies: ["MoatConfig", "MoatCore", "MoatReconcile", "MoatHost", "MoatTestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["MoatConfig", "MoatCore", "MoatReconcile", "MoatHost", "MoatTestSupport"],
            // Run from their place in the source tree (Environment.packageRoot), not bundled.
            exclude: ["Support/udhcpc.sh", "Support/net.py", "Support/attack.py", "Support/vm"],
            swiftSettings: strict
        ),
    ]
)
