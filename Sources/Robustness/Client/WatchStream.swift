public import GRPCCore
public import GRPCNIOTransportHTTP2Posix
public import Proto

/// Drives ONE etcd watch stream for a test client: sends the create request, then every
/// `tick` asks whether to end and (when `requestProgress`) sends a RequestProgress; hands
/// every response after the `created` one to `onResponse`. Used by the harness's `Watcher`
/// and by the server's guarantee tests, so both watch the same way. Owns nothing.
public enum WatchStream {
    /// What the caller wants after a response.
    public enum Next: Sendable { case more, stop }

    /// Returns when `onResponse` answers `.stop`, when `shouldEnd` (asked every tick) answers
    /// true, or when the server ends the stream; a broken stream throws, as does `onResponse`.
    public static func run(
        on watch: Etcdserverpb_Watch.Client<HTTP2ClientTransport.Posix>, create: Etcdserverpb_WatchCreateRequest,
        tick: Duration, requestProgress: Bool, shouldEnd: @escaping @Sendable () -> Bool,
        onResponse: @escaping @Sendable (Etcdserverpb_WatchResponse) throws -> Next
    ) async throws {
        let (requests, continuation) = AsyncStream.makeStream(of: Etcdserverpb_WatchRequest.self)
        var first = Etcdserverpb_WatchRequest()
        first.createRequest = create
        continuation.yield(first)
        let call = Task {
            try await watch.watch(
                request: StreamingClientRequest { writer in
                    for await r in requests { try await writer.write(r) }
                }
            ) { response in
                for try await m in response.messages {
                    if m.created && !m.canceled { continue }
                    if try onResponse(m) == .stop {
                        continuation.finish()
                        return
                    }
                }
            }
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                if shouldEnd() {
                    continuation.finish()
                    call.cancel()
                    return
                }
                if requestProgress {
                    var p = Etcdserverpb_WatchRequest()
                    p.progressRequest = Etcdserverpb_WatchProgressRequest()
                    continuation.yield(p)
                }
            }
        }
        defer { ticker.cancel() }
        try await call.value
    }
}
