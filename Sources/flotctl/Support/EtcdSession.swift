import GRPCCore
import GRPCNIOTransportHTTP2
import Proto

/// The generated etcd v3 clients over one HTTP/2 connection to one endpoint. Owns nothing:
/// the connection's lifetime is `EtcdSession.with`'s scope.
struct EtcdSession: Sendable {
    typealias Transport = HTTP2ClientTransport.Posix

    let endpoint: Endpoint
    let kv: Etcdserverpb_KV.Client<Transport>
    let watch: Etcdserverpb_Watch.Client<Transport>
    let lease: Etcdserverpb_Lease.Client<Transport>
    let cluster: Etcdserverpb_Cluster.Client<Transport>
    let maintenance: Etcdserverpb_Maintenance.Client<Transport>

    init(endpoint: Endpoint, client: GRPCClient<Transport>) {
        self.endpoint = endpoint
        kv = .init(wrapping: client)
        watch = .init(wrapping: client)
        lease = .init(wrapping: client)
        cluster = .init(wrapping: client)
        maintenance = .init(wrapping: client)
    }

    /// A plaintext HTTP/2 transport to `endpoint` (etcd's default `--insecure-transport`),
    /// with the server's PINGs answered below the HTTP/2 handler (`PingAnswerer`).
    static func transport(to endpoint: Endpoint) throws -> Transport {
        let config = Transport.Config.defaults { c in
            c.backoff = .init(initial: .milliseconds(50), max: .milliseconds(500), multiplier: 2, jitter: 0.2)
            // grpc-go servers' BDP PINGs would trip swift-nio-http2's control-frame limit.
            c.channelDebuggingCallbacks = .init(onCreateTCPConnection: installPingAnswerer, onCreateHTTP2Stream: nil)
        }
        if endpoint.isIPv4Literal {
            return try Transport(
                target: .ipv4(address: endpoint.host, port: endpoint.port), transportSecurity: .plaintext, config: config)
        }
        return try Transport(
            target: .dns(host: endpoint.host, port: endpoint.port), transportSecurity: .plaintext, config: config)
    }

    /// Runs `body` with a session to `endpoint`; the connection closes when it returns.
    /// `timeout` (dial + command, nil for long-running verbs) bounds the whole call and fails
    /// with etcdctl's "context deadline exceeded".
    static func with<R: Sendable>(
        _ endpoint: Endpoint, timeout: Duration?, _ body: @Sendable @escaping (EtcdSession) async throws -> R
    ) async throws -> R {
        let transport = try transport(to: endpoint)
        return try await withGRPCClient(transport: transport) { client in
            let session = EtcdSession(endpoint: endpoint, client: client)
            guard let timeout else { return try await body(session) }
            return try await withDeadline(timeout) { try await body(session) }
        }
    }
}

/// Runs `body`, failing with "context deadline exceeded" when it takes longer than `timeout`.
func withDeadline<R: Sendable>(_ timeout: Duration, _ body: @Sendable @escaping () async throws -> R) async throws -> R {
    try await withThrowingTaskGroup(of: R?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw CLIError("context deadline exceeded")
        }
        return result
    }
}

extension GlobalOptions {
    /// A session to the first endpoint, bounded by dial + command timeout.
    func withSession<R: Sendable>(
        longRunning: Bool = false, _ body: @Sendable @escaping (EtcdSession) async throws -> R
    ) async throws -> R {
        let endpoints = try endpointList()
        guard let first = endpoints.first else { throw CLIError("no endpoints", code: .invalidInput) }
        let timeout: Duration? = try longRunning ? nil : dialDuration() + commandDuration()
        return try await EtcdSession.with(first, timeout: timeout, body)
    }
}
