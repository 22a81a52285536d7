import ArgumentParser

/// Release-mode benchmarks, one subcommand per area; Tools/bench-* scripts run them.
@main
struct FlotillaBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flotilla-bench",
        abstract: "Flotilla benchmarks (run through Tools/bench-*, release builds).",
        subcommands: [LZ4Bench.self, RaftBench.self, PageStoreBench.self, StorageBench.self, NodeBench.self]
    )
}
