import ArgumentParser
import Base

/// Flotilla's client and admin CLI. Client verbs arrive with the etcd API (issue #5).
@main
struct Flotctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flotctl",
        abstract: "Client and admin CLI for Flotilla (etcd v3 API verbs arrive with issue #5).",
        version: FlotillaVersion.string
    )
}
