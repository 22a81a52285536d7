import API
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import PeerTransport
import Proto
import SwiftProtobuf

/// `flotilla bench-calls --modes lean` and `--server-process`: the unary echo served by
/// grpc-swift-2 (`unary`) or by `LeanHTTP2Server` (`lean`), always called by the same
/// grpc-swift-2 client; with `--server-process` the server runs in a child process
/// (`flotilla bench-calls --serve MODE`) so its CPU is measured alone from /proc. Owns the
/// servers and the child process only while a run lasts.
extension CallChannelBenchmark {
    /// A running echo server: its port and how to stop it.
    public struct EchoServer: Sendable {
        public var port: Int
        public var stop: @Sendable () async -> Void
    }

    /// Starts the echo server of `mode` (`unary` or `lean`) on 127.0.0.1.
    public static func startEchoServer(_ mode: Mode, port: Int = 0) async throws -> EchoServer {
        switch mode {
        case .lean, .leanTask:
            let server = LeanHTTP2Server(service: LeanEchoService(answerInTask: mode == .leanTask))
            let bound = try await server.start(host: "127.0.0.1", port: port)
            return EchoServer(port: bound) { await server.stop() }
        case .kvUnary, .kvLean:
            let backend = try SingleStoreBackend.inMemory()
            let run = Task { await backend.run() }
            let kv = KVService(backend: backend, cluster: backend)
            let inner: EchoServer
            if mode == .kvLean {
                var limits = LeanConnection.Limits()
                limits.maxRequestMessageBytes = EtcdLimits().maxReceiveMessageBytes
                let server = LeanHTTP2Server(service: LeanKVService(kv: kv), limits: limits)
                let bound = try await server.start(host: "127.0.0.1", port: port)
                inner = EchoServer(port: bound) { await server.stop() }
            } else {
                let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: port),
                                                           transportSecurity: .plaintext)
                let server = GRPCServer(transport: transport, services: [kv])
                let serveTask = Task { try? await server.serve() }
                let bound = try await transport.listeningAddress.ipv4?.port ?? 0
                inner = EchoServer(port: bound) {
                    server.beginGracefulShutdown()
                    serveTask.cancel()
                    await serveTask.value
                }
            }
            return EchoServer(port: inner.port) {
                await inner.stop()
                run.cancel()
            }
        case .unary, .stream:
            let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: port),
                                                       transportSecurity: .plaintext)
            let server = GRPCServer(transport: transport, services: [UnaryEchoService()])
            let serveTask = Task { try? await server.serve() }
            let bound = try await transport.listeningAddress.ipv4?.port ?? 0
            return EchoServer(port: bound) {
                server.beginGracefulShutdown()
                serveTask.cancel()
                await serveTask.value
            }
        }
    }

    static func runLean(_ mode: Mode, concurrency: Int, seconds: Double, payload: [UInt8]) async throws -> Report {
        let server = try await startEchoServer(mode)
        let report = try await runEchoClient(mode: mode, port: server.port, concurrency: concurrency,
                                             seconds: seconds, payload: payload, serverCPU: nil)
        await server.stop()
        return report
    }

    /// Loads the echo server on `port` with the grpc-swift-2 client. `serverCPU` reads the
    /// server's CPU seconds when it runs in another process.
    static func runEchoClient(mode: Mode, port: Int, concurrency: Int, seconds: Double, payload: [UInt8],
                              serverCPU: (@Sendable () -> Double)?) async throws -> Report {
        let client = GRPCClient(transport: try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext))
        let clientTask = Task { try? await client.runConnections() }
        let isKV = mode == .kvUnary || mode == .kvLean
        let descriptor = isKV ? MethodDescriptor(fullyQualifiedService: "etcdserverpb.KV", method: "Put") : unaryEcho
        let request: [UInt8]
        if isKV {
            var put = Etcdserverpb_PutRequest()
            put.key = Data("bench-key".utf8)
            put.value = Data(payload)
            request = try put.serializedBytes()
        } else {
            request = payload
        }
        let call: @Sendable () async -> Bool = {
            do {
                let answer = try await client.unary(
                    request: ClientRequest(message: request), descriptor: descriptor, serializer: RawBytesSerializer(),
                    deserializer: RawBytesDeserializer(), options: .defaults) { try $0.message }
                return isKV ? !answer.isEmpty : answer == payload
            } catch {
                return false
            }
        }
        _ = await load(concurrency: concurrency, seconds: 0.5, call)
        let server0 = serverCPU?() ?? 0
        let (ok, failed, wall, cpu) = await load(concurrency: concurrency, seconds: seconds, call)
        let serverCPUSeconds = serverCPU.map { $0() - server0 }
        client.beginGracefulShutdown()
        clientTask.cancel()
        await clientTask.value
        return Report(mode: mode, concurrency: concurrency, calls: ok, failed: failed, seconds: wall,
                      cpuSeconds: cpu + (serverCPUSeconds ?? 0), callsPerMessage: 1, serverCPUSeconds: serverCPUSeconds)
    }

    /// Runs the echo server of `mode` in a child process (`executable bench-calls --serve MODE`)
    /// and the client here; the report separates server and client CPU.
    public static func runWithServerProcess(mode: Mode, concurrency: Int, seconds: Double, payloadBytes: Int,
                                            executable: String) async throws -> Report {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = ["bench-calls", "--serve", mode.rawValue]
        let input = Pipe(), output = Pipe()
        child.standardInput = input
        child.standardOutput = output
        try child.run()
        let pid = child.processIdentifier
        let childOutput = output.fileHandleForReading
        let line = await onBlockingThread { () -> String in
            var bytes = Data()
            while !bytes.contains(UInt8(ascii: "\n")) {
                let chunk = childOutput.availableData
                if chunk.isEmpty { break }
                bytes += chunk
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        defer {
            try? input.fileHandleForWriting.close()
            child.terminate()
        }
        guard line.hasPrefix("port "), let port = Int(line.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchError(message: "server process said: \(line)")
        }
        let report = try await runEchoClient(mode: mode, port: port, concurrency: concurrency, seconds: seconds,
                                             payload: [UInt8](repeating: 0x5A, count: payloadBytes),
                                             serverCPU: { processCPUSeconds(pid) })
        return report
    }

    struct BenchError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// utime + stime of process `pid` from /proc/PID/stat (clock-tick resolution).
    static func processCPUSeconds(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After "pid (comm)": state is field 3, utime 14, stime 15 → indices 11 and 12 here.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
