import ArgumentParser
import Foundation
import Server

/// `flotilla bench-calls`: CPU per node call on the peer call channel vs one unary gRPC
/// call per request vs the lean HTTP/2 unary path (in-process loopback, echo handler; see
/// `CallChannelBenchmark`). `--server-process` runs the unary/lean server in a child process
/// (`--serve MODE`, an internal mode) to measure server CPU alone.
struct BenchCalls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-calls", abstract: "CPU per call: multiplexed call stream, unary gRPC, lean HTTP/2 unary (loopback).")
    @Option(help: "Concurrent callers.") var concurrency: Int = 64
    @Option(help: "Seconds per mode.") var seconds: Double = 5
    @Option(help: "Request payload bytes.") var payloadBytes: Int = 256
    @Option(help: "Modes to run: stream, unary, lean, lean-task, kv-unary, kv-lean (comma-separated).") var modes: String = "stream,unary"
    @Flag(help: "Run the unary/lean echo server in a child process and report its CPU alone.") var serverProcess = false
    @Option(help: .hidden) var serve: String?

    func run() async throws {
        if let serve {
            guard let mode = CallChannelBenchmark.Mode(rawValue: serve), mode != .stream else {
                throw ValidationError("--serve takes unary or lean")
            }
            let server = try await CallChannelBenchmark.startEchoServer(mode)
            FileHandle.standardOutput.write(Data("port \(server.port)\n".utf8))
            // Serve until the parent closes our stdin.
            _ = await onBlockingThread { FileHandle.standardInput.readDataToEndOfFile() }
            await server.stop()
            return
        }
        for name in modes.split(separator: ",") {
            guard let mode = CallChannelBenchmark.Mode(rawValue: String(name)) else {
                throw ValidationError("unknown mode \(name)")
            }
            let report: CallChannelBenchmark.Report
            if serverProcess, mode != .stream {
                report = try await CallChannelBenchmark.runWithServerProcess(
                    mode: mode, concurrency: concurrency, seconds: seconds, payloadBytes: payloadBytes,
                    executable: "/proc/self/exe")
            } else {
                report = try await CallChannelBenchmark.run(mode: mode, concurrency: concurrency, seconds: seconds,
                                                            payloadBytes: payloadBytes)
            }
            print(report)
        }
    }
}
