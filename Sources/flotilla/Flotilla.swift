import ArgumentParser
import Base

/// The Flotilla server. `serve` runs one node; `dev` starts a local 3-node cluster.
@main
struct Flotilla: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flotilla",
        abstract: "Flotilla: a multi-Raft sharded key-value service speaking the etcd v3 API.",
        version: FlotillaVersion.string,
        subcommands: [Serve.self, Dev.self]
    )
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one node (not yet available: issue #4).")
    @Option(help: "Path to a TOML config file (see Config/).") var config: String?
    func run() throws {
        throw ValidationError("`flotilla serve` arrives with the node runtime (issue #4); this build has the storage and consensus libraries only.")
    }
}

struct Dev: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start a local 3-node cluster (not yet available: issue #4).")
    @Option(help: "Data directory.") var dataDir: String = "./flotilla-data"
    func run() throws {
        throw ValidationError("`flotilla dev` arrives with the node runtime (issue #4).")
    }
}
