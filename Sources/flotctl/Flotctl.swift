import ArgumentParser
import Base

/// Flotilla's client and admin CLI: etcdctl's verbs over the etcd v3 gRPC API (works
/// against Flotilla or etcd), `range list` over Flotilla's Admin service, and `bench`, an
/// etcd-API load generator. Owns only argument parsing; each verb lives in its own type.
struct Flotctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flotctl",
        abstract: "Client and admin CLI for Flotilla (speaks the etcd v3 API).",
        version: FlotillaVersion.string,
        subcommands: [
            GetCommand.self, PutCommand.self, DelCommand.self, TxnCommand.self, WatchCommand.self,
            LeaseCommand.self, CompactionCommand.self, EndpointCommand.self, MemberCommand.self,
            SnapshotCommand.self, RangeCommand.self, TransferLeaderCommand.self, VersionCommand.self, BenchCommand.self,
        ]
    )
}

/// The entry point: lets the global flags come before the verb, as etcdctl allows
/// (`flotctl --endpoints=… get k`), then parses and runs the verb.
@main
enum FlotctlMain {
    static func main() async {
        await Flotctl.main(GlobalArguments.movedAfterVerb(Array(CommandLine.arguments.dropFirst())))
    }
}

/// Argument reordering for etcdctl-style global flags. Pure.
enum GlobalArguments {
    /// Global flags taking a value, by every spelling.
    static let withValue: Set<String> = ["--endpoints", "-w", "--write-out", "--dial-timeout", "--command-timeout"]

    /// Moves global flags (and their values) found before the first verb word to the end,
    /// where the verb's `GlobalOptions` group parses them.
    static func movedAfterVerb(_ args: [String]) -> [String] {
        var globals: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
            guard withValue.contains(name) else { break }
            globals.append(a)
            if !a.contains("="), i + 1 < args.count {
                globals.append(args[i + 1])
                i += 1
            }
            i += 1
        }
        return Array(args[i...]) + globals
    }
}
