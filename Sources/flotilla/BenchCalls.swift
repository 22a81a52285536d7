import ArgumentParser
import Server

/// `flotilla bench-calls`: CPU per node call on the peer call channel vs one unary gRPC
/// call per request (in-process loopback, echo handler; see `CallChannelBenchmark`).
struct BenchCalls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-calls", abstract: "CPU per node call: multiplexed call stream vs unary gRPC (loopback).")
    @Option(help: "Concurrent callers.") var concurrency: Int = 64
    @Option(help: "Seconds per mode.") var seconds: Double = 5
    @Option(help: "Request payload bytes.") var payloadBytes: Int = 256
    @Option(help: "Modes to run: stream, unary or both.") var modes: String = "stream,unary"

    func run() async throws {
        for name in modes.split(separator: ",") {
            guard let mode = CallChannelBenchmark.Mode(rawValue: String(name)) else {
                throw ValidationError("unknown mode \(name)")
            }
            let report = try await CallChannelBenchmark.run(mode: mode, concurrency: concurrency, seconds: seconds,
                                                            payloadBytes: payloadBytes)
            print(report)
        }
    }
}
