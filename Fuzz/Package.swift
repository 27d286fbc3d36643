// swift-tools-version: 6.2
import PackageDescription

// The libFuzzer driver of moat's fuzz targets (Sources/MoatFuzzTargets in moat's package),
// one executable for them all, built by `make fuzz` into .build-fuzz with `-sanitize=fuzzer`
// on the whole build, so moat's own modules are instrumented too. The flags below make it a
// fuzzer even when built without that.
let package = Package(
    name: "moat-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "moat", path: "..")],
    targets: [
        .executableTarget(
            name: "moat-fuzz",
            dependencies: [.product(name: "MoatFuzzTargets", package: "moat")],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-sanitize=fuzzer", "-parse-as-library"])],
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer"])]
        )
    ]
)
