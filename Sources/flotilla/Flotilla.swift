import ArgumentParser
import Base
import Foundation
import Logging
import Server

/// The Flotilla server. `serve` runs one node; `dev` starts a local 3-node cluster.
@main
struct Flotilla: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flotilla",
        abstract: "Flotilla: a multi-Raft sharded key-value service speaking the etcd v3 API.",
        version: FlotillaVersion.string,
        subcommands: [Serve.self, Dev.self, ConfigDefaults.self, BenchClient.self, BenchCalls.self]
    )
}

/// Sets up swift-log to stderr at `level`.
func bootstrapLogging(level: String) throws {
    guard let l = Logger.Level(rawValue: level) else {
        throw ValidationError("log level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    LoggingSystem.bootstrap { label in
        var h = StreamLogHandler.standardError(label: label)
        h.logLevel = l
        return h
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one node.",
        discussion: """
            Every setting of the config file is also a flag: --<key> VALUE or --<table>.<key>=VALUE \
            (e.g. --nodeID 2, --raft.tickIntervalMs=50, --peers 1=127.0.0.1:2480,2=127.0.0.1:2481). \
            `flotilla config-defaults` lists them all.
            """)
    @Option(help: "Path to a TOML config file (see Config/).") var config: String?
    @Argument(parsing: .allUnrecognized, help: "Setting overrides: --<key> VALUE or --<key>=VALUE.")
    var overrides: [String] = []

    func run() async throws {
        // First: which threads run this process's tasks (FLOTILLA_EXECUTOR, GlobalExecutor).
        let executor = try GlobalExecutor.installFromEnvironment()
        var c = ServerConfig()
        if let path = config {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            c = try ServerConfig.load(toml: text)
        }
        try applyOverrides(&c, overrides)
        if ProcessInfo.processInfo.environment["FLOTILLA_SYNC_COMMIT_ONLY"] == "1" { c.syncCommitOnlyHardStates = true }
        if let transport = ProcessInfo.processInfo.environment[ServerConfig.clientTransportEnvironmentKey], !transport.isEmpty {
            c.clientTransport = transport
        }
        if let transport = ProcessInfo.processInfo.environment[ServerConfig.peerTransportEnvironmentKey], !transport.isEmpty {
            c.peerTransport = transport
        }
        if let policy = ProcessInfo.processInfo.environment[ServerConfig.placementEnvironmentKey], !policy.isEmpty {
            c.placementPolicy = policy
        }
        switch ProcessInfo.processInfo.environment[ServerConfig.oracleLeaseEnvironmentKey] {
        case "1": c.oracleLease = true
        case "0": c.oracleLease = false
        default: break
        }
        try bootstrapLogging(level: c.logLevel)
        let logger = Logger(label: "flotilla.node\(c.nodeID)")
        let onEventLoops = await GlobalExecutor.tasksRunOnEventLoops()
        logger.info("executor", metadata: ["executor": "\(executor.rawValue)", "tasksOnEventLoops": "\(onEventLoops)"])
        let server: FlotillaServer
        do {
            server = try FlotillaServer(config: c, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(2)
        }
        CrashPoint.installArmingSignal()  // debug builds with FLOTILLA_CRASHPOINT set (robustness harness)
        try await server.start()
        await server.runUntilSignalled()
    }
}

/// Applies `--key value` / `--key=value` pairs to `config`.
func applyOverrides(_ config: inout ServerConfig, _ args: [String]) throws {
    var i = 0
    while i < args.count {
        let arg = args[i]
        guard arg.hasPrefix("--") else { throw ValidationError("unexpected argument '\(arg)'") }
        let body = String(arg.dropFirst(2))
        if let eq = body.firstIndex(of: "=") {
            try config.set(String(body[..<eq]), text: String(body[body.index(after: eq)...]))
            i += 1
        } else {
            guard i + 1 < args.count else { throw ValidationError("missing value for \(arg)") }
            try config.set(body, text: args[i + 1])
            i += 2
        }
    }
}

struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a local 3-node cluster (child processes on 127.0.0.1); Ctrl-C stops it.")
    @Option(help: "Number of ranges the keyspace is pre-split into.") var ranges: Int = 8
    @Option(help: "Data directory (node-N/ subdirectories, node-N.toml configs, node-N.log logs).")
    var dataDir: String = "./flotilla-data"
    @Option(help: "First client port; peers use +100, metrics +200.") var basePort: Int = 2379
    @Option(help: "Log level of this supervisor.") var logLevel: String = "info"
    @Option(help: "Client port gRPC transport of every node: grpc or lean (FLOTILLA_CLIENT_TRANSPORT still overrides it).")
    var clientTransport: String?
    @Option(help: "Peer port transport of every node: grpc or lean (FLOTILLA_PEER_TRANSPORT still overrides it).")
    var peerTransport: String?
    @Option(help: "Leader placement policy of every node: with-system, spread or none (FLOTILLA_PLACEMENT still overrides it).")
    var placement: String?

    func run() async throws {
        try bootstrapLogging(level: logLevel)
        var o = DevCluster.Options(executable: try currentExecutable())
        if let clientTransport {
            guard ServerConfig.clientTransports.contains(clientTransport) else {
                throw ValidationError("--client-transport must be one of \(ServerConfig.clientTransports.joined(separator: ", "))")
            }
            o.clientTransport = clientTransport
        }
        if let peerTransport {
            guard ServerConfig.peerTransports.contains(peerTransport) else {
                throw ValidationError("--peer-transport must be one of \(ServerConfig.peerTransports.joined(separator: ", "))")
            }
            o.peerTransport = peerTransport
        }
        if let placement {
            guard ServerConfig.placementPolicies.contains(placement) else {
                throw ValidationError("--placement must be one of \(ServerConfig.placementPolicies.joined(separator: ", "))")
            }
            o.placementPolicy = placement
        }
        o.ranges = ranges
        o.dataDir = dataDir
        // Measurement hook: settings for every node, e.g. "--storage.applyCommitIntervalMs=100".
        if let extra = ProcessInfo.processInfo.environment["FLOTILLA_DEV_NODE_ARGS"] {
            o.extraArguments = extra.split(separator: " ").map(String.init)
        }
        o.basePort = basePort
        try await DevCluster(options: o, logger: Logger(label: "flotilla.dev")).run()
    }
}

func currentExecutable() throws -> String {
    if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
    return CommandLine.arguments[0]
}

struct ConfigDefaults: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config-defaults", abstract: "Print every setting with its default, as TOML.")
    func run() throws { print(ServerConfig().renderTOML(), terminator: "") }
}
