import GRPCCore
import NIOCore
import NIOPosix
import Synchronization

/// The client port's gRPC `ServerTransport` on the lean HTTP/2 path (`[listen] clientTransport
/// = "lean"`). It owns the listening socket and every connection's HTTP/2 (`LeanHTTP2Server`):
/// the hot unary methods of `hot` (etcd's KV) are answered inside the transport, with no
/// per-call stream channel or task beyond the backend's; the streaming methods of `native`
/// (etcd's Watch and LeaseKeepAlive) run in the transport too, on the bridged stream's flow
/// control and cancellation (`LeanNativeStream.swift`), unless the request carries
/// `grpc-timeout`; every other stream (Lease, Cluster, Maintenance, Admin, unknown methods)
/// is handed to `GRPCServer` as an `RPCStream` (`LeanBridgedStream`), so those services run
/// unchanged on the same port.
///
/// Lifecycle: `listen` binds (the bound port is `listeningPort`), runs one child task per
/// bridged stream and returns after `beginGracefulShutdown` (GOAWAY; streams in flight
/// finish; connections close when drained) or when its task is cancelled (every connection
/// is closed; open RPCs are cancelled).
final class LeanServerTransport: ServerTransport, Sendable {
    typealias Bytes = LeanBytes

    private let host: String
    private let port: Int
    private let server: LeanHTTP2Server
    private let streams: AsyncStream<LeanBridgedStream>
    private let sink: AsyncStream<LeanBridgedStream>.Continuation
    private let bound = Mutex<BindState>(.waiting([]))
    /// Streaming methods run in the transport instead of `GRPCServer`, by `service/method`
    /// (not by `MethodDescriptor`: a generated descriptor also carries the method type).
    private let native: [String: any LeanStreamService]

    private enum BindState {
        case waiting([CheckedContinuation<Int, any Error>])
        case bound(Int)
        case failed(any Error)
    }

    init(host: String, port: Int, hot: any LeanUnaryService, native: [any LeanStreamService] = [],
         limits: LeanConnection.Limits, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.host = host
        self.port = port
        self.native = Dictionary(native.map { ($0.descriptor.fullyQualifiedMethod, $0) }, uniquingKeysWith: { first, _ in first })
        let (streams, sink) = AsyncStream.makeStream(of: LeanBridgedStream.self)
        self.streams = streams
        self.sink = sink
        server = LeanHTTP2Server(service: hot, limits: limits, group: group, onStream: { sink.yield($0) })
    }

    /// The bound port, once `listen` has bound (throws if binding failed).
    var listeningPort: Int {
        get async throws {
            try await withCheckedThrowingContinuation { c in
                let now = bound.withLock { s -> Result<Int, any Error>? in
                    switch s {
                    case .waiting(var waiters):
                        waiters.append(c)
                        s = .waiting(waiters)
                        return nil
                    case .bound(let port): return .success(port)
                    case .failed(let error): return .failure(error)
                    }
                }
                if let now { c.resume(with: now) }
            }
        }
    }

    private func resolveBind(_ result: Result<Int, any Error>) {
        let waiters = bound.withLock { s -> [CheckedContinuation<Int, any Error>] in
            guard case .waiting(let waiters) = s else { return [] }
            switch result {
            case .success(let port): s = .bound(port)
            case .failure(let error): s = .failed(error)
            }
            return waiters
        }
        for w in waiters { w.resume(with: result) }
    }

    func listen(streamHandler: @escaping @Sendable (RPCStream<Inbound, Outbound>, ServerContext) async -> Void) async throws {
        do {
            resolveBind(.success(try await server.start(host: host, port: port)))
        } catch {
            resolveBind(.failure(error))
            throw error
        }
        let server = self.server, sink = self.sink, native = self.native
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                for await stream in streams {
                    if !stream.timed, let service = native[stream.descriptor.fullyQualifiedMethod] {
                        group.addTask { await stream.run(native: service) }
                    } else {
                        group.addTask { await stream.run(streamHandler) }
                    }
                }
            }
        } onCancel: {
            server.closeAll()
            sink.finish()
        }
    }

    func beginGracefulShutdown() {
        let sink = self.sink
        server.beginGracefulShutdown { sink.finish() }
    }
}
