// swift-tools-version: 6.1
// Flotilla: a multi-Raft sharded key-value service speaking the etcd v3 API.
// Module layering (imports point downward only) is documented in docs/architecture.md.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "flotilla",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flotilla", targets: ["flotilla"]),
        .executable(name: "flotctl", targets: ["flotctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
    ],
    targets: [
        // L0: value types and codecs shared by every module.
        .target(name: "Base", swiftSettings: strict),

        // L1: pure cores and storage libraries.
        .target(name: "RaftCore", dependencies: ["Base"], swiftSettings: strict),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .target(name: "LZ4", dependencies: ["CLZ4"], swiftSettings: strict),
        .target(name: "FileIO", swiftSettings: strict),
        .target(name: "CCRC32C"),  // hardware CRC32C for PageStore's page checksums (C: SSE4.2 / ARMv8 CRC)
        // C: sets the Swift runtime's global-enqueue hook by a link-time reference (works in
        // --static-swift-stdlib binaries, where NIO's dlsym lookup does not); Server's GlobalExecutor.
        .target(name: "CExecutorHook"),
        .target(name: "PageStore", dependencies: ["Base", "FileIO", "CCRC32C"], swiftSettings: strict),
        .target(name: "MVCC", dependencies: ["Base", "PageStore"], swiftSettings: strict),
        .target(name: "WAL", dependencies: ["Base", "RaftCore", "FileIO"], swiftSettings: strict),

        // L2: the node runtime (batch system, range replicas, apply, snapshots).
        // Pure leader-placement decisions (cluster view in, leader transfers out); imports only Base.
        .target(name: "Placement", dependencies: ["Base"], swiftSettings: strict),
        .target(name: "Node", dependencies: ["Base", "RaftCore", "WAL", "MVCC", "PageStore", "LZ4", "Placement"], swiftSettings: strict),

        // Generated protobuf + gRPC code (etcd v3 API, peer protocol); Tools/generate-protos.
        .target(
            name: "Proto",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ],
            exclude: ["protos"],
            swiftSettings: strict),

        // L3: the etcd v3 gRPC services over small backend protocols, and the one-store backend.
        .target(
            name: "API",
            dependencies: [
                "Base", "MVCC", "Proto",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: strict),
        // L3: the router on every node: the etcd backends over all ranges (fan-out, merge,
        // one global revision, cross-range watch, cluster-wide leases).
        .target(name: "Router", dependencies: ["Base", "MVCC", "Node", "API"], swiftSettings: strict),
        // L3: node-to-node transports (Raft batches, snapshots, node calls): gRPC or lean (swift-nio).
        .target(
            name: "PeerTransport",
            dependencies: [
                "Base", "Node", "RaftCore",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict),
        // L4: composition root (config, wiring, lifecycle, metrics HTTP, internal propose service).
        .target(
            name: "Server",
            dependencies: [
                "Base", "Node", "Placement", "RaftCore", "MVCC", "PeerTransport", "API", "Router", "Proto", "CExecutorHook",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            swiftSettings: strict),

        // Test-only: the seeded deterministic simulator that drives the real RaftCore.
        .target(name: "Simulation", dependencies: ["Base", "RaftCore"], swiftSettings: strict),
        // Test-only: the robustness harness (real clusters over the etcd gRPC API, fault
        // injection, linearizability / watch / durability checkers). Never imports Node or Router.
        .target(
            name: "Robustness",
            dependencies: [
                "Base", "Proto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict),

        // L5: executables.
        .executableTarget(
            name: "flotilla",
            dependencies: ["Base", "Server", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        .executableTarget(
            name: "flotctl",
            dependencies: [
                "Base", "Proto", "Server",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict),

        // Developer tools run through Tools/ scripts (simulator runner, benchmarks).
        .executableTarget(
            name: "FlotillaSim",
            dependencies: ["Simulation", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        .executableTarget(
            name: "FlotillaRobustness",
            dependencies: ["Robustness", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        .executableTarget(
            name: "FlotillaBench",
            dependencies: [
                "Base", "LZ4", "Simulation", "RaftCore", "PageStore", "MVCC", "Node",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),

        // Test-only helpers shared by test targets (real etcdctl runner, loopback ports).
        .target(name: "TestThreads", path: "Tests/TestThreads", swiftSettings: strict),
        .target(name: "TestSupport", dependencies: ["API", "TestThreads"], path: "Tests/TestSupport", swiftSettings: strict),

        .testTarget(name: "BaseTests", dependencies: ["Base"], swiftSettings: strict),
        .testTarget(name: "PlacementTests", dependencies: ["Placement", "Base"], swiftSettings: strict),
        .testTarget(name: "RaftCoreTests", dependencies: ["RaftCore", "Base", "TestThreads"], exclude: ["testdata"], swiftSettings: strict),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "RaftCore", "Base", "TestThreads"], swiftSettings: strict),
        .testTarget(name: "LZ4Tests", dependencies: ["LZ4", "TestThreads"], swiftSettings: strict),
        .testTarget(name: "PageStoreTests", dependencies: ["PageStore", "Base", "TestThreads"], swiftSettings: strict),
        .testTarget(name: "MVCCTests", dependencies: ["MVCC", "PageStore", "Base", "TestThreads"], swiftSettings: strict),
        .testTarget(
            name: "ProtoTests",
            dependencies: [
                "Proto",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "APITests",
            dependencies: [
                "API", "MVCC", "Proto", "Base", "TestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: strict),
        .testTarget(name: "WALTests", dependencies: ["WAL", "RaftCore", "Base", "TestThreads"], swiftSettings: strict),
        .testTarget(
            name: "NodeTests", dependencies: ["Node", "Placement", "MVCC", "WAL", "RaftCore", "Base", "TestThreads"], swiftSettings: strict),
        .testTarget(
            name: "PeerTransportTests",
            dependencies: [
                "PeerTransport", "Node", "RaftCore", "Base", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .testTarget(name: "RouterTests", dependencies: ["Router", "API", "Node", "MVCC", "Base", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "Node", "Placement", "Base", "TestSupport", "Proto", "Robustness",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "flotctlTests",
            dependencies: [
                "flotctl", "API", "MVCC", "Proto", "Base", "TestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "RobustnessTests",
            dependencies: [
                "Robustness", "API", "MVCC", "Proto", "TestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
