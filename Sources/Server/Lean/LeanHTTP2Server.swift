import NIOCore
import NIOHTTP2
import NIOPosix
import Synchronization

/// A listener serving unary gRPC calls of one `LeanUnaryService` over HTTP/2 (prior knowledge,
/// plaintext) straight on swift-nio-http2: `NIOHTTP2Handler` at frame level followed by a
/// `LeanGRPCHandler`, no per-stream channel and no Swift task per call. With `onStream`, the
/// streams of other paths are bridged (`LeanServerTransport`). Owns the listening channel and
/// the open connections until `stop()`.
final class LeanHTTP2Server: Sendable {
    private let service: any LeanUnaryService
    private let limits: LeanConnection.Limits
    private let group: any EventLoopGroup
    private let onStream: (@Sendable (LeanBridgedStream) -> Void)?
    private let state = Mutex<State>(State())

    private struct State {
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var stopped = false
        var onDrained: (@Sendable () -> Void)?
    }

    init(service: any LeanUnaryService, limits: LeanConnection.Limits = .init(),
         group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
         onStream: (@Sendable (LeanBridgedStream) -> Void)? = nil) {
        self.service = service
        self.limits = limits
        self.group = group
        self.onStream = onStream
    }

    /// Binds and starts accepting; returns the bound port.
    func start(host: String, port: Int) async throws -> Int {
        let service = self.service, limits = self.limits, onStream = self.onStream
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [weak self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOHTTP2Handler(mode: .server, initialSettings: LeanConnection.initialSettings(limits)))
                    try sync.addHandler(LeanGRPCHandler(service: service, limits: limits, onStream: onStream))
                    self?.track(channel)
                }
            }
        let listener = try await bootstrap.bind(host: host, port: port).get()
        state.withLock { $0.listener = listener }
        return listener.localAddress?.port ?? port
    }

    private func track(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        let stopped = state.withLock { s -> Bool in
            if !s.stopped { s.connections[key] = channel }
            return s.stopped
        }
        if stopped {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [weak self] _ in
            let drained = self?.state.withLock { s -> (@Sendable () -> Void)? in
                s.connections.removeValue(forKey: key)
                guard s.stopped, s.connections.isEmpty else { return nil }
                defer { s.onDrained = nil }
                return s.onDrained
            }
            drained?()
        }
    }

    /// Stops accepting and sends GOAWAY on every connection; each closes once its streams are
    /// done. `onDrained` runs once no connection is left.
    func beginGracefulShutdown(onDrained: @escaping @Sendable () -> Void) {
        let (listener, connections, drainedNow) = state.withLock { s in
            s.stopped = true
            s.onDrained = s.connections.isEmpty ? nil : onDrained
            return (s.listener, Array(s.connections.values), s.connections.isEmpty)
        }
        listener?.close(promise: nil)
        for c in connections {
            c.pipeline.fireUserInboundEventTriggered(LeanGRPCHandler.GracefulShutdown())
        }
        if drainedNow { onDrained() }
    }

    /// Closes the listener and every connection now (open streams are cancelled).
    func closeAll() {
        let (listener, connections) = state.withLock { s in
            s.stopped = true
            return (s.listener, Array(s.connections.values))
        }
        listener?.close(promise: nil)
        for c in connections { c.close(promise: nil) }
    }

    /// Stops accepting, sends GOAWAY on every connection, lets calls in flight finish (up to
    /// `grace`), then closes what is left.
    func stop(grace: Duration = .seconds(2)) async {
        let (listener, connections) = state.withLock { s in
            s.stopped = true
            return (s.listener, Array(s.connections.values))
        }
        try? await listener?.close()
        for c in connections {
            c.pipeline.fireUserInboundEventTriggered(LeanGRPCHandler.GracefulShutdown())
        }
        let deadline = ContinuousClock.now + grace
        for c in connections {
            let closed = c.closeFuture
            while c.isActive, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
            if c.isActive { try? await c.close() }
            try? await closed.get()
        }
    }
}

/// The echo service of `flotilla bench-calls --modes lean`: answers `/flotilla.bench.Echo/Unary`
/// with its request message, inline on the event loop or (`answerInTask`) from a Swift task,
/// as an async backend would.
struct LeanEchoService: LeanUnaryService {
    static let path = "/flotilla.bench.Echo/Unary"
    var answerInTask = false
    func serves(_ path: Substring) -> Bool { path == Self.path }
    func handle(_ call: LeanCall, respond: @escaping @Sendable (Result<ByteBuffer, LeanStatus>) -> Void) {
        if answerInTask {
            let message = call.message
            Task { respond(.success(message)) }
        } else {
            respond(.success(call.message))
        }
    }
}
