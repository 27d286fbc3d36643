// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "moat",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "moat", targets: ["moat"])
    ],
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
        // The host: its state as values, parsers of `ip -j` / `iptables-save`,
        // rendering of desired state, and the one door to side effects (CommandRunner).
        .target(
            name: "MoatHost",
            dependencies: [
                "MoatConfig",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        // Diff, plan, execution with journal, lock and rollback.
        .target(
            name: "MoatReconcile",
            dependencies: ["MoatConfig", "MoatHost"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "moat",
            dependencies: [
                "MoatConfig", "MoatHost", "MoatReconcile",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // What several test targets share (a line diff for golden comparisons).
        .target(
            name: "MoatTestSupport",
            path: "Tests/MoatTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "MoatConfigTests",
            dependencies: ["MoatConfig"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MoatHostTests",
            dependencies: ["MoatConfig", "MoatHost", "MoatTestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MoatReconcileTests",
            dependencies: ["MoatConfig", "MoatHost", "MoatReconcile", "MoatTestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["MoatConfig", "MoatHost", "MoatTestSupport"],
            // Run from their place in the source tree (Environment.packageRoot), not bundled.
            exclude: ["Support/udhcpc.sh", "Support/net.py", "Support/attack.py"],
            swiftSettings: strict
        ),
    ]
)
