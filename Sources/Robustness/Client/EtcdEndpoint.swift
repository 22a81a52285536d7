public import GRPCCore
public import GRPCNIOTransportHTTP2
public import GRPCNIOTransportHTTP2Posix
public import Proto

/// A gRPC connection to one etcd-API endpoint ("host:port") with the generated KV, Watch,
/// Lease and Maintenance clients. Owns the client's connection task; `close()` ends it.
/// Reconnects quickly (100 ms – 1 s backoff) so a restarted node is used again at once.
public final class EtcdEndpoint: Sendable {
    public typealias Transport = HTTP2ClientTransport.Posix
    public let address: String
    public let kv: Etcdserverpb_KV.Client<Transport>
    public let watch: Etcdserverpb_Watch.Client<Transport>
    public let lease: Etcdserverpb_Lease.Client<Transport>
    public let maintenance: Etcdserverpb_Maintenance.Client<Transport>
    let client: GRPCClient<Transport>
    let runner: Task<Void, Never>

    public init(_ address: String, maxMessageBytes: Int = 4 * 1024 * 1024) throws {
        self.address = address
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else {
            throw RPCError(code: .invalidArgument, message: "endpoint \(address) is not host:port")
        }
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(address: String(parts[0]), port: port), transportSecurity: .plaintext,
            config: .defaults { c in
                c.backoff = .init(initial: .milliseconds(100), max: .seconds(1), multiplier: 1.6, jitter: 0.2)
            })
        let client = GRPCClient(transport: transport)
        self.client = client
        kv = .init(wrapping: client)
        watch = .init(wrapping: client)
        lease = .init(wrapping: client)
        maintenance = .init(wrapping: client)
        runner = Task { try? await client.runConnections() }
    }

    /// Call options with a deadline.
    public static func timeout(_ d: Duration) -> CallOptions {
        var o = CallOptions.defaults
        o.timeout = d
        return o
    }

    public func close() {
        client.beginGracefulShutdown()
        runner.cancel()
    }
}

/// How the harness classifies an error: a refusal with no effect, or an unknown outcome.
public enum ErrorClass: Sendable {
    case definite(code: String, message: String)
    case unknown(String)

    public init(_ error: any Error) {
        guard let e = error as? RPCError else {
            self = .unknown("\(type(of: error)): \(error)")
            return
        }
        // grpc-swift refuses a call up front while the channel cannot connect (the node is
        // down, wait-for-ready off): the request never left the client, so it had no effect.
        if e.code == .unavailable, Self.neverSent(e.message) {
            self = .definite(code: "notSent", message: e.message)
            return
        }
        switch e.code {
        case .unavailable, .deadlineExceeded, .cancelled, .unknown, .internalError, .aborted, .resourceExhausted:
            self = .unknown("\(e.code): \(e.message)")
        default:
            self = .definite(code: "\(e.code)", message: e.message)
        }
    }

    /// Messages of grpc-swift's refusals before sending (no connection could be established).
    static func neverSent(_ message: String) -> Bool {
        message.contains("Channel is in a transient failure state") || message.hasPrefix("Could not establish a connection")
    }
}
