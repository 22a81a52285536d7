import Base
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Node
import PeerTransport
import Synchronization

/// `flotilla bench-calls`: the CPU cost of one node call on the peer call channel (one
/// long-lived stream, calls multiplexed and coalesced) next to one unary gRPC call per
/// request, both over loopback inside this process with an echo handler. CPU is the whole
/// process (client + server side together), from getrusage. Owns nothing after it returns.
public enum CallChannelBenchmark {
    public enum Mode: String, Sendable, CaseIterable {
        case stream
        case unary
        /// The same unary echo served by `LeanHTTP2Server` (swift-nio-http2 at frame level).
        case lean
        /// `lean` with the answer produced in a Swift task (what an async backend costs on top).
        case leanTask = "lean-task"
        /// etcd KV Put (256-byte value, one key) over an in-memory `SingleStoreBackend`, served by
        /// grpc-swift-2's `KVService` registration (`kv-unary`) or `LeanKVService` (`kv-lean`).
        case kvUnary = "kv-unary"
        case kvLean = "kv-lean"
    }

    /// The figures of one run.
    public struct Report: Sendable, CustomStringConvertible {
        public var mode: Mode
        public var concurrency: Int
        public var calls: Int
        public var failed: Int
        public var seconds: Double
        public var cpuSeconds: Double
        /// Calls per gRPC message written by the caller (stream mode; 1 for unary).
        public var callsPerMessage: Double
        /// CPU of the server process alone (`--server-process`); nil when in-process.
        public var serverCPUSeconds: Double? = nil

        public var callsPerSecond: Double { Double(calls) / seconds }
        public var cpuMicrosPerCall: Double { calls == 0 ? 0 : cpuSeconds * 1e6 / Double(calls) }

        public var serverCPUMicrosPerCall: Double? {
            serverCPUSeconds.map { calls == 0 ? 0 : $0 * 1e6 / Double(calls) }
        }

        public var description: String {
            var s = String(format: "%@ concurrency=%d calls=%d failed=%d calls/s=%.0f cpu-us/call=%.1f (client+server) calls/message=%.1f",
                           mode.rawValue, concurrency, calls, failed, callsPerSecond, cpuMicrosPerCall, callsPerMessage)
            if let server = serverCPUMicrosPerCall {
                s += String(format: " server-cpu-us/call=%.1f client-cpu-us/call=%.1f", server, cpuMicrosPerCall - server)
            }
            return s
        }
    }

    public static func run(mode: Mode, concurrency: Int, seconds: Double, payloadBytes: Int) async throws -> Report {
        let payload = [UInt8](repeating: 0x5A, count: payloadBytes)
        switch mode {
        case .stream: return try await runStream(concurrency: concurrency, seconds: seconds, payload: payload)
        case .unary: return try await runUnary(concurrency: concurrency, seconds: seconds, payload: payload)
        case .lean, .leanTask, .kvUnary, .kvLean: return try await runLean(mode, concurrency: concurrency, seconds: seconds, payload: payload)
        }
    }

    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    /// Runs `concurrency` loops of `call` for `seconds`; returns (calls, failed, wall, cpu).
    static func load(concurrency: Int, seconds: Double,
                     _ call: @escaping @Sendable () async -> Bool) async -> (Int, Int, Double, Double) {
        let cpu0 = cpuSeconds()
        let start = ContinuousClock.now
        let end = start + .milliseconds(Int(seconds * 1000))
        let (ok, failed) = await withTaskGroup(of: (Int, Int).self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var ok = 0, failed = 0
                    while ContinuousClock.now < end {
                        if await call() { ok += 1 } else { failed += 1 }
                    }
                    return (ok, failed)
                }
            }
            var total = (0, 0)
            for await r in group { total = (total.0 + r.0, total.1 + r.1) }
            return total
        }
        let wall = ContinuousClock.now - start
        let wallSeconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        return (ok, failed, wallSeconds, cpuSeconds() - cpu0)
    }

    static func runStream(concurrency: Int, seconds: Double, payload: [UInt8]) async throws -> Report {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let server = try GRPCPeerTransport(
            config: PeerTransportConfig(nodeID: NodeID(2), listen: .init(host: "127.0.0.1", port: 0), peers: [:]),
            logger: logger)
        let port = try await server.start(handler: EchoHandler())
        let client = try GRPCPeerTransport(
            config: PeerTransportConfig(nodeID: NodeID(1), listen: .init(host: "127.0.0.1", port: 0),
                                        peers: [NodeID(2): .init(host: "127.0.0.1", port: port)]),
            logger: logger)
        try await client.start(handler: EchoHandler())
        while !client.isCallStreamConnected(to: NodeID(2)) { try await Task.sleep(for: .milliseconds(10)) }
        // Warm up, then measure.
        _ = await load(concurrency: concurrency, seconds: 0.5) { (try? await client.call(NodeID(2), payload, timeoutMs: 10_000)) != nil }
        let before = client.stats
        let (ok, failed, wall, cpu) = await load(concurrency: concurrency, seconds: seconds) {
            (try? await client.call(NodeID(2), payload, timeoutMs: 10_000)) != nil
        }
        let after = client.stats
        await client.stop()
        await server.stop()
        let messages = Double(after.callMessagesSent - before.callMessagesSent)
        return Report(mode: .stream, concurrency: concurrency, calls: ok, failed: failed, seconds: wall, cpuSeconds: cpu,
                      callsPerMessage: messages > 0 ? Double(after.callsSent - before.callsSent) / messages : 0)
    }

    static let unaryEcho = MethodDescriptor(fullyQualifiedService: "flotilla.bench.Echo", method: "Unary")

    struct UnaryEchoService: RegistrableRPCService {
        func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
            router.registerHandler(forMethod: CallChannelBenchmark.unaryEcho, deserializer: RawBytesDeserializer(),
                                   serializer: RawBytesSerializer()) { request, _ in
                let message = try await request.messages.reduce(into: [UInt8]()) { $0 += $1 }
                return StreamingServerResponse(single: ServerResponse(message: message))
            }
        }
    }

    static func runUnary(concurrency: Int, seconds: Double, payload: [UInt8]) async throws -> Report {
        let serverTransport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0),
                                                         transportSecurity: .plaintext)
        let server = GRPCServer(transport: serverTransport, services: [UnaryEchoService()])
        let serveTask = Task { try? await server.serve() }
        let port = try await serverTransport.listeningAddress.ipv4?.port ?? 0
        let client = GRPCClient(transport: try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext))
        let clientTask = Task { try? await client.runConnections() }
        let call: @Sendable () async -> Bool = {
            do {
                let answer = try await client.unary(
                    request: ClientRequest(message: payload), descriptor: unaryEcho, serializer: RawBytesSerializer(),
                    deserializer: RawBytesDeserializer(), options: .defaults) { try $0.message }
                return answer.count == payload.count
            } catch {
                return false
            }
        }
        _ = await load(concurrency: concurrency, seconds: 0.5, call)
        let (ok, failed, wall, cpu) = await load(concurrency: concurrency, seconds: seconds, call)
        client.beginGracefulShutdown()
        server.beginGracefulShutdown()
        clientTask.cancel()
        serveTask.cancel()
        _ = await (clientTask.value, serveTask.value)
        return Report(mode: .unary, concurrency: concurrency, calls: ok, failed: failed, seconds: wall, cpuSeconds: cpu,
                      callsPerMessage: 1)
    }

    /// Answers every node call with its request.
    final class EchoHandler: RaftTransportHandler, NodeCallHandler {
        func deliver(from node: NodeID, messages: [RangeMessage]) {}
        func peerUnreachable(_ node: NodeID) {}
        func receiveSnapshot(from node: NodeID, header: SnapshotHeader,
                             chunks: AsyncThrowingStream<[UInt8], any Error>) async throws {}
        func handleCall(from node: NodeID, _ request: [UInt8]) async -> [UInt8] { request }
    }
}
