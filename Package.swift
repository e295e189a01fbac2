// swift-tools-version:6.0
import PackageDescription

// Purser takes no third-party packages: Foundation, the toolchain, the system libsqlite3, libpq and OpenSSL only.

let package = Package(
    name: "Purser",
    products: [
        .executable(name: "purser", targets: ["PurserCLI"]),
        .executable(name: "purser-bench", targets: ["PurserBenchmarks"]),
        .executable(name: "purser-interop", targets: ["PurserInterop"]),
        .executable(name: "purser-ctime", targets: ["PurserCTime"]),
        .library(name: "Cedar", targets: ["Cedar"]),
        .library(name: "MCP", targets: ["MCP"]),
        .library(name: "X402", targets: ["X402"]),
        .library(name: "Ledger", targets: ["Ledger"]),
    ],
    targets: [
        // Core libraries, one per concern.
        .target(name: "JSONCore"),
        // Detached POSIX threads for blocking work, the one place that calls pthread_create.
        .target(name: "POSIXThread"),
        .target(name: "MCP", dependencies: ["JSONCore", "POSIXThread"]),
        .target(name: "Cedar"),
        .target(name: "EVMSigning"),
        .target(name: "X402", dependencies: ["EVMSigning", "JSONCore", "COpenSSL", "POSIXThread", "CLinux"]),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // The PostgreSQL client library's header, for a ledger shared by several machines. Types only: Ledger
        // resolves libpq's functions with dlopen on the first PostgreSQL open (Ledger/LibPQ.swift).
        .systemLibrary(name: "CPostgres", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // glibc's pipe2 and accept4 (hidden from Swift without _GNU_SOURCE): descriptors close-on-exec at birth.
        .systemLibrary(name: "CLinux"),
        // The HTTP/1.1 client behind X402's `HTTPTransport` seam; TLS through the system libssl.
        .target(name: "HTTPClient", dependencies: ["COpenSSL", "X402", "POSIXThread", "CLinux"]),
        .target(name: "Ledger", dependencies: ["CSQLite", "CPostgres", "JSONCore", "EVMSigning"]),
        // Settlement evidence from an Ethereum node (JSON-RPC over the X402 module's HTTPTransport).
        .target(name: "Chain", dependencies: ["X402", "EVMSigning", "JSONCore"]),
        .target(
            name: "Purser",
            dependencies: ["JSONCore", "MCP", "Cedar", "EVMSigning", "X402", "Ledger", "HTTPClient", "Chain"]),
        // The local x402 seller and the scripted demo: for trying Purser, never on a production path.
        .target(
            name: "PurserDemo",
            dependencies: ["Purser", "JSONCore", "MCP", "EVMSigning", "X402", "Ledger", "POSIXThread", "CLinux"]),
        // The owner's signed authority (passphrase-derived key, signed requests, used nonces).
        .target(name: "OwnerSigning", dependencies: ["EVMSigning", "JSONCore"]),
        // The vault process and its socket protocol; `purser serve --vault` is its thin MCP front.
        .target(
            name: "PurserVault",
            dependencies: ["JSONCore", "MCP", "Ledger", "OwnerSigning", "EVMSigning", "POSIXThread", "CLinux"]),
        // Test support shared by the test targets and the benchmarks, never linked into `purser`: the loopback
        // HTTP server, the scripted x402 seller, the in-memory Ethereum node and the governed-call world.
        .target(name: "PurserTesting", dependencies: ["Purser", "Ledger", "MCP", "X402", "JSONCore", "CLinux"]),

        // Executables: thin wiring only.
        .executableTarget(
            name: "PurserCLI",
            dependencies: [
                "Purser", "PurserDemo", "MCP", "JSONCore", "Cedar", "Ledger", "X402", "HTTPClient", "Chain",
                "EVMSigning", "OwnerSigning", "PurserVault",
            ],
            // The Swift runtime and FoundationEssentials linked statically into `purser` only: a static
            // build maps only the pages it touches, which keeps `purser serve` under 20 MiB (VmHWM,
            // docs/benchmarks.md). Accepted because this is the root package; tests and tools stay dynamic.
            linkerSettings: [
                .unsafeFlags(["-static-stdlib"]),
                // FoundationEssentials's static archive needs these after it; the driver does not add them.
                .linkedLibrary("_FoundationCollections"), .linkedLibrary("_FoundationCShims"),
            ]),
        .executableTarget(
            name: "PurserBenchmarks",
            dependencies: [
                "Purser", "Cedar", "EVMSigning", "JSONCore", "Ledger", "MCP", "X402", "HTTPClient", "PurserTesting",
                "CLinux",
            ]),
        // Test-only operations for the interop suites in Tests/Interop; not part of the product.
        .executableTarget(
            name: "PurserInterop", dependencies: ["Purser", "EVMSigning", "JSONCore", "Ledger", "X402", "HTTPClient"]),
        // The constant-time check of the signer under valgrind (scripts/ctime-check); not part of the product.
        .target(name: "CValgrind", path: "Tests/CValgrind"),
        .executableTarget(name: "PurserCTime", dependencies: ["EVMSigning", "CValgrind"], path: "Tests/CTime"),

        // Tests, one target per library.
        .testTarget(name: "JSONCoreTests", dependencies: ["JSONCore"]),
        .testTarget(name: "POSIXThreadTests", dependencies: ["POSIXThread"]),
        .testTarget(name: "MCPTests", dependencies: ["MCP", "JSONCore"]),
        .testTarget(name: "CedarTests", dependencies: ["Cedar"], exclude: ["Fixtures"]),
        .testTarget(name: "EVMSigningTests", dependencies: ["EVMSigning"]),
        .testTarget(
            name: "X402Tests",
            dependencies: ["X402", "EVMSigning", "JSONCore", "Purser", "HTTPClient", "PurserTesting"]),
        .testTarget(name: "HTTPClientTests", dependencies: ["HTTPClient", "X402", "PurserTesting"]),
        // The test helpers call libpq directly (the product resolves it at run time, see Ledger/LibPQ.swift).
        .testTarget(
            name: "LedgerTests", dependencies: ["Ledger", "JSONCore", "EVMSigning", "CSQLite", "CPostgres"],
            linkerSettings: [.linkedLibrary("pq")]),
        .testTarget(name: "ChainTests", dependencies: ["Chain", "X402", "EVMSigning", "JSONCore", "PurserTesting"]),
        .testTarget(
            name: "PurserTests",
            dependencies: [
                "Purser", "MCP", "JSONCore", "Ledger", "X402", "HTTPClient", "CSQLite", "Chain", "PurserTesting",
                "Cedar", "EVMSigning",
            ]),
        .testTarget(
            name: "PurserDemoTests",
            dependencies: ["PurserDemo", "Purser", "JSONCore", "EVMSigning", "X402", "HTTPClient", "Ledger"]),
        .testTarget(
            name: "VaultTests",
            dependencies: ["PurserVault", "OwnerSigning", "EVMSigning", "MCP", "JSONCore", "Ledger", "PurserTesting"]),
    ]
)

// One strict settings list for every Swift target.
let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    // An import is internal unless marked `public import` (only where a public declaration needs it).
    .enableUpcomingFeature("InternalImportsByDefault"),
]
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + strictSettings
}
